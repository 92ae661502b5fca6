//! bootshelf's own exFAT: format, contiguous (NoFatChain) files, nested directories,
//! read, delete, rename, extents of contiguous and FAT-chained files, free space.
//!
//! The core is `no_std` + `alloc` over [`blockdev::BlockDevice`] (512- and 4096-byte
//! logical sectors; a volume is given as a range of device sectors). Feature `std` adds
//! the system clock for timestamps and `std::error::Error`.
//!
//! Crash safety (see docs/exfat.md): every change is ordered so that a process killed
//! between two device writes leaves a volume that `fsck.exfat -n` accepts and that never
//! shows a partially written file.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(missing_docs)]

extern crate alloc;

mod checksum;
mod dir;
mod error;
mod format;
pub mod raw;
mod time;
mod upcase;
mod volume;
mod write;

pub use blockdev::Extent;
pub use dir::DirEntry;
pub use error::Error;
pub use format::{default_cluster_size, format, layout, FormatOptions, Layout};
pub use time::DateTime;
pub use volume::Volume;
pub use write::Pending;
