//! GPT and MBR partition tables for bootshelf, shared by the CLI and both bootloaders
//! (`no_std` + `alloc`, over [`blockdev::BlockDevice`]).
//!
//! * [`Table::read`] parses and validates LBA 0 and, behind a protective MBR, both GPT
//!   copies (headers, CRC-32s, entry arrays), on 512- and 4096-byte sectors.
//! * [`Layout::of`] finds bootshelf's partitions: data (1), ESP (2) and the ISO window
//!   slot (4), or says why the table is not bootshelf's. A foreign partition 4 does not
//!   fail it ([`Slot4::Foreign`]); it only rules out the window.
//! * [`set_window`] / [`clear_window`] write the ISO window (see docs/window.md); on MBR
//!   they also empty and restore the data partition's record type, so that no two used
//!   records overlap while a window is set ([`Layout::data_hidden`]).
//! * [`write::write_gpt`] / [`write::write_mbr`] write a whole new table (`install`),
//!   through the same ordered GPT writer (backup first, primary last, LBA 0 after both).
//!
//! Module [`raw`] holds the on-disk structures as the UEFI specification names them (crate
//! `partition-raw`, re-exported).
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

extern crate alloc;

/// CRC-32 as GPT uses it (the workspace's shared implementation).
pub use crc32;
pub mod describe;
mod error;
pub mod gpt;
pub mod layout;
pub mod mbr;
pub mod raw;
mod table;
mod window;
pub mod write;

pub use error::{Error, FoundType, GptCopy};
pub use gpt::{Gpt, GptHealth};
pub use layout::{Layout, LbaRange, Slot4};
pub use mbr::{Mbr, MbrType};
pub use partition_raw::Guid;
pub use table::{Partition, PartitionType, Scheme, Table};
pub use window::{
    clear_window, read_layout, set_window, set_windows, window_guid, window_range, Windows,
};

use alloc::vec;
use alloc::vec::Vec;
use blockdev::{BlockDevice, MAX_SECTOR_SIZE};

/// Check a device's logical sector size: a power of two from 512 to 4096.
pub(crate) fn check_sector_size(ss: u32) -> Result<usize, Error> {
    if !ss.is_power_of_two() || ss < 512 || ss as usize > MAX_SECTOR_SIZE {
        return Err(Error::SectorSize { found: ss });
    }
    Ok(ss as usize)
}

/// Read one sector.
pub(crate) fn read_sector<D: BlockDevice>(
    dev: &mut D,
    lba: u64,
    what: &'static str,
) -> Result<Vec<u8>, Error> {
    let ss = check_sector_size(dev.sector_size())?;
    if lba >= dev.sector_count() {
        return Err(Error::DiskTooSmall {
            sectors: dev.sector_count(),
        });
    }
    let mut buf = vec![0u8; ss];
    dev.read_sectors(lba, &mut buf)
        .map_err(|error| Error::Io { what, lba, error })?;
    Ok(buf)
}
