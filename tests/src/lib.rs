//! End-to-end tests: build sticks with bootshelf and boot them under QEMU. This library
//! holds what the test files share; the tests are in `tests/` (`uefi_*.rs` for the UEFI
//! loader, `bios_*.rs` for the BIOS loader).

use std::path::{Path, PathBuf};

/// A scratch file removed when dropped (stick images of one test).
pub struct TempImage(pub PathBuf);

impl TempImage {
    /// The image's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
