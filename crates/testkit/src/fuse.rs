//! An exfat-fuse mount: the independent exFAT implementation the suites compare bootshelf's
//! with, and the way "a file manager" copies files onto a stick. exfat-fuse run as root
//! wants a block device, so the mount owns the loop device it was made from; dropping the
//! mount unmounts it (retrying while the file system is busy), then detaches the device.

use crate::loopdev::LoopDev;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A mounted exFAT file system; unmounted on drop.
#[derive(Debug)]
pub struct FuseMount {
    dir: PathBuf,
    mounted: bool,
    // Dropped after `Drop::drop` has unmounted.
    _device: LoopDev,
}

impl FuseMount {
    /// `mount.exfat-fuse [-o ro] device dir`, creating `dir` if needed.
    pub fn exfat(device: LoopDev, dir: &Path, read_only: bool) -> Result<FuseMount> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut cmd = Command::new("mount.exfat-fuse");
        if read_only {
            cmd.args(["-o", "ro"]);
        }
        let out = cmd
            .arg(device.path())
            .arg(dir)
            .output()
            .with_context(|| format!("running {cmd:?} (is exfat-fuse installed?)"))?;
        if !out.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(FuseMount {
            dir: dir.to_path_buf(),
            mounted: true,
            _device: device,
        })
    }

    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unmount now, reporting failure (dropping unmounts too, silently).
    pub fn unmount(mut self) -> Result<()> {
        self.mounted = false;
        if !fusermount_u(&self.dir) {
            bail!("fusermount -u {} kept failing", self.dir.display());
        }
        Ok(())
    }
}

/// `fusermount -u dir`, retried for up to 10 s while the file system is busy.
fn fusermount_u(dir: &Path) -> bool {
    for _ in 0..100 {
        let st = Command::new("fusermount").arg("-u").arg(dir).status();
        if matches!(st, Ok(s) if s.success()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        if self.mounted {
            fusermount_u(&self.dir);
        }
    }
}
