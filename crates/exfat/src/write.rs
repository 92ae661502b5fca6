//! The write side: mkdir, reserve + commit of contiguous files, small-file writes,
//! delete and rename, each ordered for crash safety (docs/exfat.md).

use crate::volume::Run;
use alloc::string::String;
use blockdev::Extent;

/// A file reserved by `reserve_contiguous`: its clusters are chosen but nothing is
/// written; the caller writes the data to [`Pending::extent`], then `commit` makes the
/// file visible.
#[derive(Debug)]
pub struct Pending {
    pub(crate) path: String,
    pub(crate) size: u64,
    pub(crate) run: Run,
    pub(crate) extent: Extent,
}

impl Pending {
    /// Device bytes where the data goes (`len` = the file size).
    pub fn extent(&self) -> Extent {
        self.extent
    }
    /// The path the file will have.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The file size.
    pub fn size(&self) -> u64 {
        self.size
    }
}
