//! `bootshelf devices`: the disks in /sys/block that could become a stick, with what the
//! user needs to pick the right one (model, vendor, size, removable/USB, mounted, system
//! disk) and whether install would accept it.

use crate::device::{check_safe_to_erase, disk_info, DiskInfo, SafetyOverrides};
use std::fs;

/// A candidate disk and the verdict of the safety rules.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Facts about the disk.
    pub info: DiskInfo,
    /// `None` when `install` would accept it without `--force`; else why not.
    pub refusal: Option<String>,
}

/// Kernel names that are never sticks: RAM disks, compressed swap, optical drives,
/// device-mapper and RAID volumes (their members are listed instead).
fn skipped(name: &str) -> bool {
    ["ram", "zram", "sr", "dm-", "md", "fd", "nbd"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// Every whole disk in /sys/block with a non-zero size, sorted by name.
pub fn list() -> Vec<Candidate> {
    let mut names: Vec<String> = fs::read_dir("/sys/block")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
        .into_iter()
        .filter(|n| !skipped(n))
        .filter_map(|n| disk_info(&n))
        .filter(|i| i.size > 0)
        .map(|info| {
            let refusal = match check_safe_to_erase(&info, SafetyOverrides::default()) {
                Ok(()) => None,
                Err(crate::Error::Refused { reason, .. }) => Some(reason),
                Err(e) => Some(e.to_string()),
            };
            Candidate { info, refusal }
        })
        .collect()
}
