//! The platform-free parts of bootshelf's BIOS loader, shared by the stage 2 binary and
//! tested on the host (`cargo test --lib`): the BIOS boot image of an ISO in the shared El
//! Torito types, read with the shared parser (crates/index, crates/iso9660) ([`boot`]);
//! how an ISO and its boot image map onto the resident emulation's tables ([`layout`]:
//! 512-byte unit extents, emulated disk geometry); the plan of the resident INT 13h
//! emulation, decided apart from the memory writes that apply it ([`resident`]); the boot
//! plan record ([`plan`]); and little-endian field access ([`le`]).
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod boot;
pub mod layout;
pub mod le;
pub mod plan;
pub mod resident;
