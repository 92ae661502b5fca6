//! The on-stick index of ISOs and menu settings, shared by the CLI and the bootloaders.
//!
//! The index lives in two files on the data partition, [`SLOT_PATHS`]
//! (`/bootshelf/index.a` and `/bootshelf/index.b`). Each holds a complete, checksummed
//! [`Index`] with a generation counter. A writer encodes generation `g + 1` into the slot
//! that does not hold the newest valid copy ([`Selection::slot_to_write`]), so a crash while
//! writing destroys at most the older copy; readers take the valid slot with the higher
//! generation ([`select`]).
//!
//! The byte format is documented field by field in `docs/index-format.md`; the offsets
//! live in [`raw`]. Encoding and decoding are written by hand (little-endian, no serde), are
//! `no_std` + `alloc`, run in time linear in the file's size, and decoding hostile bytes
//! returns a [`DecodeError`] naming the offset and the value that was wrong, never panics.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

extern crate alloc;

/// CRC-32 of the slot format: the workspace's one implementation (`crates/crc32`).
pub use crc32;
mod decode;
mod encode;
mod extension;
mod model;
pub mod raw;
mod slots;

pub use blockdev::Extent;
pub use decode::{decode, DecodeError};
pub use encode::{encode, EncodeError};
pub use extension::{Persistence, PersistenceFamily, TYPE_PERSISTENCE};
pub use model::{
    ArchSet, BootEntry, EfiArch, EfiLoaders, Emulation, Extensions, Index, IsoEntry, KernelOptions,
    PlatformId, Settings, Timeout,
};
pub use slots::{select, Selection, Slot, SlotError, SLOT_DIR, SLOT_PATHS};
