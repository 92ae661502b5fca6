//! Stick layout and operations: partitioning, ESP, install, update, add, remove, sync, check,
//! persistence.
//!
//! [`Stick`] (in [`layout`]) is the opened stick every command works on: its device and
//! its [`Layout`]. See docs/stick-layout.md for the layout and docs/safety.md for what is
//! refused on real disks.

pub mod add;
pub mod boot_check;
pub mod bootcode;
pub mod check;
pub mod contents;
pub mod copy;
pub mod defrag;
pub mod device;
pub mod devices;
pub mod esp;
pub mod index_io;
pub mod install;
pub mod kernel;
pub mod layout;
pub mod list;
pub mod options;
pub mod partition_write;
pub mod persistence;
pub mod remove;
pub mod secure_boot;
pub mod sync;
pub mod update;
pub mod window;

pub use bootcode::{BootCode, SecureEsp};
pub use install::{install, InstallOptions};
pub use layout::{Error, Layout, Result, Scheme, SectorRange, Stick, TableDamage};
