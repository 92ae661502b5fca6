//! The platform-free parts of bootshelf's BIOS loader, shared by the stage 2 binary and
//! tested on the host (`cargo test --lib`): the El Torito BIOS entry of an ISO
//! ([`eltorito`]), how an ISO and its boot image map onto the resident emulation's tables
//! ([`layout`]: 512-byte unit extents, emulated disk geometry), and the boot plan record
//! ([`plan`]).
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod eltorito;
pub mod layout;
pub mod plan;
