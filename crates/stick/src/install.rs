//! `bootshelf install`: make a disk or image file a stick (work in progress).

use crate::bootcode::BootCode;
use crate::device::SafetyOverrides;
use crate::layout::{Error, Result, Scheme};
use std::path::Path;

/// How to install.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    /// GPT (default) or MBR.
    pub scheme: Scheme,
    /// For image files: create (or extend) the file sparse to this many bytes.
    pub create_size: Option<u64>,
    /// For image files: the logical sector size (512 or 4096). Block devices use BLKSSZGET.
    pub image_sector_size: Option<u32>,
    /// Safety overrides (`--force`).
    pub safety: SafetyOverrides,
}

/// Install a stick on `target` (no confirmation asked; the CLI asks before calling).
pub fn install(target: &Path, opts: &InstallOptions, boot: &BootCode) -> Result<()> {
    let _ = (target, opts, boot);
    Err(Error::Internal("install is not written yet"))
}
