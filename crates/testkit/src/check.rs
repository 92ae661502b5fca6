//! The external checkers the suites trust over bootshelf's own code: `fsck.exfat -n`
//! (exfatprogs), `fsck.fat -n` (dosfstools), `sgdisk -v` (gdisk) and `sfdisk --verify`
//! (util-linux). Each runs read-only on an image file, a partition cut out of one or a
//! loop device.

use crate::cmd;
use std::path::Path;
use std::process::Command;

/// A checker's verdict and everything it printed.
#[derive(Debug)]
pub struct Verdict {
    /// The checker found nothing wrong.
    pub clean: bool,
    /// Its standard output followed by standard error.
    pub report: String,
}

impl Verdict {
    /// Panic with the report unless clean; `what` says what was checked and when.
    pub fn assert_clean(&self, what: &str) {
        assert!(self.clean, "not clean: {what}:\n{}", self.report);
    }
}

fn check(cmd: &mut Command, says_clean: Option<&str>) -> Verdict {
    let ran = cmd::run(cmd);
    let report = ran.text();
    let clean = ran.success && says_clean.is_none_or(|s| report.contains(s));
    Verdict { clean, report }
}

/// `fsck.exfat -n target`: clean when it exits 0 and says "clean".
pub fn fsck_exfat(target: &Path) -> Verdict {
    check(
        Command::new("fsck.exfat").arg("-n").arg(target),
        Some("clean"),
    )
}

/// `fsck.fat -n target`: clean when it exits 0.
pub fn fsck_fat(target: &Path) -> Verdict {
    check(Command::new("fsck.fat").arg("-n").arg(target), None)
}

/// `sgdisk -v target`: clean when it exits 0 and says "No problems found".
pub fn sgdisk_verify(target: &Path) -> Verdict {
    check(
        Command::new("sgdisk").arg("-v").arg(target),
        Some("No problems found"),
    )
}

/// `sfdisk --verify target`: clean when it exits 0.
pub fn sfdisk_verify(target: &Path) -> Verdict {
    check(Command::new("sfdisk").arg("--verify").arg(target), None)
}
