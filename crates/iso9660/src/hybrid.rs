//! Hybrid images: what the 32 KiB system area holds besides nothing. An MBR partition
//! table (isohybrid, xorriso's `-isohybrid-mbr` / `-append_partition`, GRUB's
//! protective label), a GPT (`-isohybrid-gpt-basdat`), an Apple partition map, and
//! which partitions lie beyond the ISO 9660 volume (appended partitions).
//!
//! The MBR and GPT structures are the workspace's one definition, crate `partition-raw`
//! (re-exported here), as ptable and the BIOS loader read them.

use crate::error::{read_at, Error, Result};
use blockdev::ReadAt;
use partition_raw::{gpt_header_crc32, MbrSector, GPT_ENTRY_SIZE, GPT_HEADER_SIZE};
/// The structures this module's types hold (crate `partition-raw`).
pub use partition_raw::{GptHeader, GptPartitionEntry, Guid, MbrPartitionRecord};

/// Most GPT partition entries read.
pub const MAX_GPT_ENTRIES: u32 = 1024;

/// One used MBR partition entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MbrPartition {
    /// Entry number, 1..=4.
    pub number: u8,
    /// The record as stored.
    pub entry: MbrPartitionRecord,
}

/// The MBR in sector 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mbr {
    /// Used entries (type or size not zero), in table order.
    pub partitions: [Option<MbrPartition>; 4],
    /// Whether the first 440 bytes hold code (not all zero).
    pub has_boot_code: bool,
}

impl Mbr {
    /// The used partitions.
    pub fn iter(&self) -> impl Iterator<Item = &MbrPartition> {
        self.partitions.iter().flatten()
    }

    /// Whether this is a protective MBR for a GPT (one entry of type 0xEE).
    pub fn is_protective(&self) -> bool {
        self.iter().any(|p| p.entry.os_type == 0xEE)
    }
}

/// A GPT header found at byte 512.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gpt {
    /// The header as stored.
    pub header: GptHeader,
    /// Whether its CRC32 is right.
    pub header_crc_ok: bool,
}

/// What the system area says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hybrid {
    /// MBR, when sector 0 ends with 0x55 0xAA.
    pub mbr: Option<Mbr>,
    /// GPT, when "EFI PART" is at byte 512.
    pub gpt: Option<Gpt>,
    /// Apple partition map ("ER" at 0, "PM" at 2048).
    pub apple: bool,
}

impl Hybrid {
    /// Whether the image can also be written raw to a disk and booted from it
    /// (it has an MBR partition table or a GPT).
    pub fn is_hybrid(&self) -> bool {
        self.mbr.is_some_and(|m| m.iter().next().is_some()) || self.gpt.is_some()
    }

    /// Read the system area of `r`.
    pub fn read<R: ReadAt + ?Sized>(r: &mut R) -> Result<Self> {
        let mut s = [0u8; 1024];
        read_at(r, 0, &mut s)?;
        let sector = MbrSector::from_bytes(&crate::raw::array(&s, 0));
        let mbr = sector.has_signature().then(|| {
            let mut partitions = [None; 4];
            for ((i, slot), e) in partitions
                .iter_mut()
                .enumerate()
                .zip(sector.partition_record)
            {
                if e.os_type != 0 || e.size_in_lba != 0 {
                    *slot = Some(MbrPartition {
                        number: i as u8 + 1,
                        entry: e,
                    });
                }
            }
            Mbr {
                partitions,
                has_boot_code: sector.boot_code.iter().any(|&b| b != 0),
            }
        });
        let header = GptHeader::from_bytes(&crate::raw::array(&s, 512));
        let gpt = header.has_signature().then(|| {
            let hs = (header.header_size as usize).clamp(GPT_HEADER_SIZE, 512);
            Gpt {
                header_crc_ok: gpt_header_crc32(&s[512..512 + hs]) == header.header_crc32,
                header,
            }
        });
        let mut pm = [0u8; 2];
        let apple = &s[0..2] == b"ER" && {
            read_at(r, 2048, &mut pm)?;
            &pm == b"PM"
        };
        Ok(Hybrid { mbr, gpt, apple })
    }
}

impl Gpt {
    /// Call `f(number, entry)` for every used partition entry (type GUID not zero);
    /// numbers start at 1.
    pub fn partitions<R: ReadAt + ?Sized>(
        &self,
        r: &mut R,
        mut f: impl FnMut(u32, &GptPartitionEntry),
    ) -> Result<()> {
        let h = &self.header;
        if h.number_of_partition_entries > MAX_GPT_ENTRIES {
            return Err(Error::AbsurdSize {
                offset: 512 + 80,
                value: u64::from(h.number_of_partition_entries),
                limit: u64::from(MAX_GPT_ENTRIES),
            });
        }
        let size = h.size_of_partition_entry;
        if !(GPT_ENTRY_SIZE as u32..=4096).contains(&size) || !size.is_power_of_two() {
            return Err(Error::BadGpt {
                offset: 512 + 84,
                value: u64::from(size),
            });
        }
        let start = h
            .partition_entry_lba
            .checked_mul(512)
            .ok_or(Error::BadGpt {
                offset: 512 + 72,
                value: h.partition_entry_lba,
            })?;
        // Entries are read 2 KiB at a time (16 of the usual 128-byte ones per read).
        let mut chunk = [0u8; 2048];
        let mut loaded: Option<u64> = None;
        for i in 0..h.number_of_partition_entries {
            let off = start.saturating_add(u64::from(i) * u64::from(size));
            let base = off - off % chunk.len() as u64;
            if loaded != Some(base) {
                let n = (r.len().saturating_sub(base)).min(chunk.len() as u64) as usize;
                if n < ((off - base) as usize + GPT_ENTRY_SIZE) {
                    // Past the end of the image: let the read report where.
                    let mut e = [0u8; GPT_ENTRY_SIZE];
                    read_at(r, off, &mut e)?;
                }
                read_at(r, base, &mut chunk[..n])?;
                loaded = Some(base);
            }
            let within = (off - base) as usize;
            let entry = GptPartitionEntry::from_bytes(&crate::raw::array(&chunk, within));
            if !entry.is_unused() {
                f(i + 1, &entry);
            }
        }
        Ok(())
    }
}
