//! Test support shared by the workspace's test suites, in the manner of ripgrep's
//! `tests/util.rs`: what several suites would otherwise each write again. It is a
//! dev-dependency only (the e2e package, itself nothing but tests, is the one exception);
//! no product crate depends on it.
//!
//! - [`tempdir`]: a fresh scratch directory per test, on a real disk, removed on drop.
//! - [`cmd`]: run an external program and collect its exit status and output.
//! - [`loopdev`]: a loop device over an image file (sector size, offset, size limit),
//!   detached on drop.
//! - [`fuse`]: an exfat-fuse mount (the independent exFAT reader and writer); unmounting
//!   or dropping it waits for exfat-fuse to write back before the loop device goes.
//! - [`rng`]: one small deterministic random number generator.
//! - [`image`]: sparse image files, byte ranges of images, block devices over them.
//! - [`table`]: bootshelf-shaped partition tables made by the real tools (sgdisk, fdisk,
//!   sfdisk).
//! - [`cutdev`]: a block device that stops writing after N writes (a power cut).
//! - [`check`]: the external checkers (fsck.exfat, fsck.fat, sgdisk -v, sfdisk --verify).
//! - [`cli`]: the `bootshelf` binary, run in a fresh directory per test.
//! - [`stick`] (feature `stick`): stick images made and checked through the stick crate.
//!
//! Helpers panic with the failing command's output: they run inside tests, where a panic
//! is the failure report. Guards that the e2e library also needs ([`loopdev::LoopDev`],
//! [`fuse::FuseMount`]) return errors instead.

pub mod check;
pub mod cli;
pub mod cmd;
pub mod cutdev;
pub mod fuse;
pub mod image;
pub mod loopdev;
pub mod rng;
#[cfg(feature = "stick")]
pub mod stick;
pub mod table;
pub mod tempdir;

pub use rng::Rng;
pub use tempdir::TempDir;
