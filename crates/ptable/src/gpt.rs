//! The GUID Partition Table: both headers and both entry arrays, validated (signature,
//! revision, sizes, locations, header CRC-32, entry array CRC-32, entry ranges), and
//! written back with both copies consistent.
//!
//! Reading keeps going when one copy is damaged (the other is used, and [`GptHealth`]
//! says which was bad); writing always rewrites both copies from the one in use, backup
//! first, so that a crash at any point leaves at least one valid copy.

use alloc::vec;
use alloc::vec::Vec;
use blockdev::BlockDevice;

use crate::error::{Error, GptCopy};
use crate::raw::{
    gpt_header_crc32, GptHeader, GptPartitionEntry, GPT_ENTRY_SIZE, GPT_HEADER_CRC32_OFFSET,
    GPT_HEADER_SIZE, GPT_REVISION_1_0,
};
use crate::read_sector;
use crate::Guid;
use crc32::crc32;

/// The largest partition entry array this crate reads (bounds allocations on hostile
/// input): 1 MiB, 8192 entries of 128 bytes.
pub const MAX_ENTRY_ARRAY_BYTES: u64 = 1 << 20;

/// Well-known GPT partition type GUIDs (open-ended: any GUID is a valid type).
pub mod types {
    use crate::Guid;

    /// EFI System Partition.
    pub const EFI_SYSTEM: Guid = Guid::from_fields(
        0xC12A_7328,
        0xF81F,
        0x11D2,
        [0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B],
    );
    /// Microsoft basic data: bootshelf's exFAT data partition.
    pub const MICROSOFT_BASIC_DATA: Guid = Guid::from_fields(
        0xEBD0_A0A2,
        0xB9E5,
        0x4433,
        [0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26, 0x99, 0xC7],
    );
    /// BIOS boot partition (GRUB's, and bootshelf's stage 2).
    pub const BIOS_BOOT: Guid = Guid::from_fields(
        0x2168_6148,
        0x6449,
        0x6E6F,
        [0x74, 0x4E, 0x65, 0x65, 0x64, 0x45, 0x46, 0x49],
    );
    /// Windows Recovery Environment: bootshelf's ISO window (see docs/window.md).
    pub const WINDOWS_RECOVERY: Guid = Guid::from_fields(
        0xDE94_BBA4,
        0x06D1,
        0x4D40,
        [0xA1, 0x6A, 0xBF, 0xD5, 0x01, 0x79, 0xD6, 0xAC],
    );
}

/// GPT attribute bits.
pub mod attributes {
    /// Bit 0: required by the platform.
    pub const REQUIRED_PARTITION: u64 = 1 << 0;
    /// Bit 1: firmware must not produce a Block I/O protocol for the partition.
    pub const NO_BLOCK_IO_PROTOCOL: u64 = 1 << 1;
    /// Bit 2: legacy BIOS bootable.
    pub const LEGACY_BIOS_BOOTABLE: u64 = 1 << 2;
    /// Bit 60 (Microsoft): read-only.
    pub const MS_READ_ONLY: u64 = 1 << 60;
    /// Bit 62 (Microsoft): hidden.
    pub const MS_HIDDEN: u64 = 1 << 62;
    /// Bit 63 (Microsoft): do not assign a drive letter.
    pub const MS_NO_DRIVE_LETTER: u64 = 1 << 63;
}

/// The state of the two copies after reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GptHealth {
    /// Both copies valid and identical.
    Clean,
    /// The primary copy is invalid; the backup is in use.
    PrimaryInvalid(Error),
    /// The backup copy is invalid; the primary is in use.
    BackupInvalid(Error),
    /// Both are valid but describe different partitions (a write was interrupted); the
    /// primary is in use, as the UEFI specification asks.
    CopiesDiffer,
}

/// One valid copy as read.
#[derive(Clone, Debug)]
struct CopyRead {
    header: GptHeader,
    /// The whole header sector, so bytes past the 92 defined ones survive a rewrite.
    sector: Vec<u8>,
    /// The entry array in whole sectors.
    entries: Vec<u8>,
}

/// A validated GPT.
#[derive(Clone, Debug)]
pub struct Gpt {
    sector_size: u32,
    header: GptHeader,
    header_sector: Vec<u8>,
    entries: Vec<u8>,
    primary_entries_lba: u64,
    backup_lba: u64,
    backup_entries_lba: u64,
    health: GptHealth,
}

impl Gpt {
    /// Read both copies from `dev` and validate them.
    pub fn read<D: BlockDevice>(dev: &mut D) -> Result<Gpt, Error> {
        let ss = crate::check_sector_size(dev.sector_size())?;
        let disk = dev.sector_count();
        if disk < 3 {
            return Err(Error::DiskTooSmall { sectors: disk });
        }
        let primary = read_copy(dev, GptCopy::Primary, 1);
        let backup_lba = match &primary {
            Ok(p) => p.header.alternate_lba,
            Err(_) => disk - 1,
        };
        let backup = read_copy(dev, GptCopy::Backup, backup_lba);
        let (chosen, health, primary_entries_lba, backup_entries_lba) = match (primary, backup) {
            (Ok(p), Ok(b)) => {
                let health = if same_table(&p, &b) {
                    GptHealth::Clean
                } else {
                    GptHealth::CopiesDiffer
                };
                let (pe, be) = (p.header.partition_entry_lba, b.header.partition_entry_lba);
                (p, health, pe, be)
            }
            (Ok(p), Err(e)) => {
                let n = entry_sectors(&p.header, ss);
                let pe = p.header.partition_entry_lba;
                let be = backup_lba.saturating_sub(n);
                (p, GptHealth::BackupInvalid(e), pe, be)
            }
            (Err(e), Ok(b)) => {
                let be = b.header.partition_entry_lba;
                (b, GptHealth::PrimaryInvalid(e), 2, be)
            }
            (Err(p), Err(b)) => {
                return Err(Error::NoValidGpt {
                    primary: alloc::boxed::Box::new(p),
                    backup: alloc::boxed::Box::new(b),
                })
            }
        };
        Ok(Gpt {
            sector_size: ss as u32,
            header: chosen.header,
            header_sector: chosen.sector,
            entries: chosen.entries,
            primary_entries_lba,
            backup_lba,
            backup_entries_lba,
            health,
        })
    }

    /// A GPT that is not on the disk yet, for [`crate::write`]: `header` as the primary
    /// copy (its CRCs and the other copy's locations are filled in by [`Gpt::write`]),
    /// the entry array in whole sectors, and the backup header and entry array LBAs.
    pub(crate) fn new_unwritten(
        sector_size: u32,
        header: GptHeader,
        entries: Vec<u8>,
        backup_lba: u64,
        backup_entries_lba: u64,
    ) -> Gpt {
        Gpt {
            sector_size,
            header,
            header_sector: vec![0; sector_size as usize],
            entries,
            primary_entries_lba: header.partition_entry_lba,
            backup_lba,
            backup_entries_lba,
            health: GptHealth::Clean,
        }
    }

    /// The header of the copy in use.
    pub fn header(&self) -> &GptHeader {
        &self.header
    }

    /// The disk GUID.
    pub fn disk_guid(&self) -> Guid {
        self.header.disk_guid
    }

    /// What reading found about the two copies.
    pub fn health(&self) -> &GptHealth {
        &self.health
    }

    /// LBA of the backup header.
    pub fn backup_lba(&self) -> u64 {
        self.backup_lba
    }

    /// Number of entries in the array.
    pub fn entry_count(&self) -> u32 {
        self.header.number_of_partition_entries
    }

    /// Entry `index` (0-based), if the array has it.
    pub fn entry(&self, index: u32) -> Option<GptPartitionEntry> {
        if index >= self.entry_count() {
            return None;
        }
        let size = self.header.size_of_partition_entry as usize;
        let off = index as usize * size;
        let b: &[u8; GPT_ENTRY_SIZE] = self
            .entries
            .get(off..off + GPT_ENTRY_SIZE)?
            .try_into()
            .ok()?;
        Some(GptPartitionEntry::from_bytes(b))
    }

    /// Replace entry `index` in memory (the 128 defined bytes; the rest of a larger entry
    /// is kept). Returns false when the array has no such entry.
    pub fn set_entry(&mut self, index: u32, e: &GptPartitionEntry) -> bool {
        if index >= self.entry_count() {
            return false;
        }
        let size = self.header.size_of_partition_entry as usize;
        let off = index as usize * size;
        match self.entries.get_mut(off..off + GPT_ENTRY_SIZE) {
            Some(d) => {
                d.copy_from_slice(&e.to_bytes());
                true
            }
            None => false,
        }
    }

    /// Logical sector size the table was read with.
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }

    /// The first usable LBA.
    pub fn first_usable_lba(&self) -> u64 {
        self.header.first_usable_lba
    }

    /// The last usable LBA.
    pub fn last_usable_lba(&self) -> u64 {
        self.header.last_usable_lba
    }

    /// Write both copies: backup entries, backup header, flush, primary entries, primary
    /// header, flush. After a crash at any point one copy is valid, and it is either the
    /// old table or the new one.
    pub fn write<D: BlockDevice>(&mut self, dev: &mut D) -> Result<(), Error> {
        let n = self.entry_count() as usize * self.header.size_of_partition_entry as usize;
        let entries_crc = crc32(self.entries.get(..n).unwrap_or(&[]));
        let backup = self.header_bytes(GptCopy::Backup, entries_crc);
        let primary = self.header_bytes(GptCopy::Primary, entries_crc);
        let io = |what: &'static str, lba: u64| move |error| Error::Io { what, lba, error };
        dev.write_sectors(self.backup_entries_lba, &self.entries)
            .map_err(io("backup GPT entries", self.backup_entries_lba))?;
        dev.write_sectors(self.backup_lba, &backup)
            .map_err(io("backup GPT header", self.backup_lba))?;
        dev.flush()
            .map_err(io("backup GPT (flush)", self.backup_lba))?;
        dev.write_sectors(self.primary_entries_lba, &self.entries)
            .map_err(io("primary GPT entries", self.primary_entries_lba))?;
        dev.write_sectors(1, &primary)
            .map_err(io("primary GPT header", 1))?;
        dev.flush().map_err(io("primary GPT (flush)", 1))?;
        self.header.partition_entry_array_crc32 = entries_crc;
        self.health = GptHealth::Clean;
        Ok(())
    }

    /// The header sector for `copy`, built from the header in use.
    fn header_bytes(&self, copy: GptCopy, entries_crc: u32) -> Vec<u8> {
        let mut h = self.header;
        match copy {
            GptCopy::Primary => {
                h.my_lba = 1;
                h.alternate_lba = self.backup_lba;
                h.partition_entry_lba = self.primary_entries_lba;
            }
            GptCopy::Backup => {
                h.my_lba = self.backup_lba;
                h.alternate_lba = 1;
                h.partition_entry_lba = self.backup_entries_lba;
            }
        }
        h.partition_entry_array_crc32 = entries_crc;
        let mut sector = self.header_sector.clone();
        if let Some(d) = sector.get_mut(..GPT_HEADER_SIZE) {
            d.copy_from_slice(&h.to_bytes());
        }
        let crc = gpt_header_crc32(sector.get(..h.header_size as usize).unwrap_or(&[]));
        let field = GPT_HEADER_CRC32_OFFSET..GPT_HEADER_CRC32_OFFSET + 4;
        if let Some(d) = sector.get_mut(field) {
            d.copy_from_slice(&crc.to_le_bytes());
        }
        sector
    }
}

fn entry_sectors(h: &GptHeader, ss: usize) -> u64 {
    let bytes = u64::from(h.number_of_partition_entries) * u64::from(h.size_of_partition_entry);
    bytes.div_ceil(ss as u64)
}

fn same_table(p: &CopyRead, b: &CopyRead) -> bool {
    let (ph, bh) = (&p.header, &b.header);
    let n = ph.number_of_partition_entries as usize * ph.size_of_partition_entry as usize;
    ph.disk_guid == bh.disk_guid
        && ph.first_usable_lba == bh.first_usable_lba
        && ph.last_usable_lba == bh.last_usable_lba
        && ph.number_of_partition_entries == bh.number_of_partition_entries
        && ph.size_of_partition_entry == bh.size_of_partition_entry
        && ph.partition_entry_array_crc32 == bh.partition_entry_array_crc32
        && bh.alternate_lba == 1
        && p.entries.get(..n) == b.entries.get(..n)
}

fn read_copy<D: BlockDevice>(dev: &mut D, copy: GptCopy, lba: u64) -> Result<CopyRead, Error> {
    let disk = dev.sector_count();
    let ss = dev.sector_size() as usize;
    if lba >= disk {
        return Err(Error::GptHeader {
            copy,
            lba,
            field: "AlternateLBA",
            offset: 32,
            found: lba,
            expected: "an LBA on the disk",
        });
    }
    let what = match copy {
        GptCopy::Primary => "primary GPT header",
        GptCopy::Backup => "backup GPT header",
    };
    let sector = read_sector(dev, lba, what)?;
    let mut raw = [0u8; GPT_HEADER_SIZE];
    raw.copy_from_slice(
        sector
            .get(..GPT_HEADER_SIZE)
            .ok_or(Error::SectorSize { found: ss as u32 })?,
    );
    let h = GptHeader::from_bytes(&raw);
    let ctx = Ctx { copy, lba };
    validate_signature(ctx, &h)?;
    validate_revision(ctx, &h)?;
    validate_header_size(ctx, &h, ss)?;
    validate_header_crc(ctx, &h, &sector)?;
    validate_my_lba(ctx, &h)?;
    validate_alternate_lba(ctx, &h, disk)?;
    validate_usable_range(ctx, &h, disk)?;
    validate_entry_size(ctx, &h)?;
    validate_entry_count(ctx, &h)?;
    validate_entries_location(ctx, &h, ss, disk)?;
    let n = entry_sectors(&h, ss);
    let mut entries = vec![0u8; (n as usize) * ss];
    let entries_what = match copy {
        GptCopy::Primary => "primary GPT entries",
        GptCopy::Backup => "backup GPT entries",
    };
    dev.read_sectors(h.partition_entry_lba, &mut entries)
        .map_err(|error| Error::Io {
            what: entries_what,
            lba: h.partition_entry_lba,
            error,
        })?;
    validate_entries_crc(ctx, &h, &entries)?;
    validate_entry_ranges(ctx, &h, &entries)?;
    Ok(CopyRead {
        header: h,
        sector,
        entries,
    })
}

#[derive(Clone, Copy)]
struct Ctx {
    copy: GptCopy,
    lba: u64,
}

impl Ctx {
    fn field(
        self,
        field: &'static str,
        offset: usize,
        found: u64,
        expected: &'static str,
    ) -> Error {
        Error::GptHeader {
            copy: self.copy,
            lba: self.lba,
            field,
            offset,
            found,
            expected,
        }
    }
}

fn validate_signature(c: Ctx, h: &GptHeader) -> Result<(), Error> {
    if !h.has_signature() {
        return Err(c.field(
            "Signature",
            0,
            u64::from_le_bytes(h.signature),
            "\"EFI PART\"",
        ));
    }
    Ok(())
}

fn validate_revision(c: Ctx, h: &GptHeader) -> Result<(), Error> {
    // Same major version; a later minor revision keeps the layout.
    if h.revision >> 16 != GPT_REVISION_1_0 >> 16 {
        return Err(c.field("Revision", 8, u64::from(h.revision), "0x00010000"));
    }
    Ok(())
}

fn validate_header_size(c: Ctx, h: &GptHeader, ss: usize) -> Result<(), Error> {
    let hs = h.header_size as usize;
    if hs < GPT_HEADER_SIZE || hs > ss {
        return Err(c.field(
            "HeaderSize",
            12,
            u64::from(h.header_size),
            "92 up to the sector size",
        ));
    }
    Ok(())
}

fn validate_header_crc(c: Ctx, h: &GptHeader, sector: &[u8]) -> Result<(), Error> {
    let computed = gpt_header_crc32(sector.get(..h.header_size as usize).unwrap_or(&[]));
    if computed != h.header_crc32 {
        return Err(Error::GptHeaderCrc {
            copy: c.copy,
            lba: c.lba,
            stored: h.header_crc32,
            computed,
        });
    }
    Ok(())
}

fn validate_my_lba(c: Ctx, h: &GptHeader) -> Result<(), Error> {
    if h.my_lba != c.lba {
        return Err(c.field("MyLBA", 24, h.my_lba, "the LBA the header was read from"));
    }
    Ok(())
}

fn validate_alternate_lba(c: Ctx, h: &GptHeader, disk: u64) -> Result<(), Error> {
    let ok = match c.copy {
        GptCopy::Primary => h.alternate_lba > 1 && h.alternate_lba < disk,
        GptCopy::Backup => h.alternate_lba == 1,
    };
    if !ok {
        return Err(c.field(
            "AlternateLBA",
            32,
            h.alternate_lba,
            match c.copy {
                GptCopy::Primary => "the LBA of the backup header, on the disk",
                GptCopy::Backup => "1",
            },
        ));
    }
    Ok(())
}

fn validate_usable_range(c: Ctx, h: &GptHeader, disk: u64) -> Result<(), Error> {
    if h.first_usable_lba < 2 || h.first_usable_lba >= disk {
        return Err(c.field(
            "FirstUsableLBA",
            40,
            h.first_usable_lba,
            "after the primary header, on the disk",
        ));
    }
    let backup = match c.copy {
        GptCopy::Primary => h.alternate_lba,
        GptCopy::Backup => h.my_lba,
    };
    if h.last_usable_lba < h.first_usable_lba || h.last_usable_lba >= backup {
        return Err(c.field(
            "LastUsableLBA",
            48,
            h.last_usable_lba,
            "at least FirstUsableLBA and before the backup header",
        ));
    }
    Ok(())
}

fn validate_entry_size(c: Ctx, h: &GptHeader) -> Result<(), Error> {
    let s = h.size_of_partition_entry;
    if s < GPT_ENTRY_SIZE as u32 || !s.is_power_of_two() {
        return Err(c.field(
            "SizeOfPartitionEntry",
            84,
            u64::from(s),
            "128 times a power of two",
        ));
    }
    Ok(())
}

fn validate_entry_count(c: Ctx, h: &GptHeader) -> Result<(), Error> {
    let bytes = u64::from(h.number_of_partition_entries) * u64::from(h.size_of_partition_entry);
    if bytes > MAX_ENTRY_ARRAY_BYTES {
        return Err(c.field(
            "NumberOfPartitionEntries",
            80,
            u64::from(h.number_of_partition_entries),
            "an entry array of at most 1 MiB",
        ));
    }
    Ok(())
}

fn validate_entries_location(c: Ctx, h: &GptHeader, ss: usize, disk: u64) -> Result<(), Error> {
    let n = entry_sectors(h, ss);
    let start = h.partition_entry_lba;
    let end = start.saturating_add(n); // exclusive
    let ok = match c.copy {
        // Between the primary header and the first usable LBA.
        GptCopy::Primary => start >= 2 && end <= h.first_usable_lba,
        // Between the last usable LBA and the backup header.
        GptCopy::Backup => start > h.last_usable_lba && end <= h.my_lba,
    };
    if !ok || end > disk {
        return Err(c.field(
            "PartitionEntryLBA",
            72,
            start,
            "an entry array outside the usable LBAs and clear of the header",
        ));
    }
    Ok(())
}

fn validate_entries_crc(c: Ctx, h: &GptHeader, entries: &[u8]) -> Result<(), Error> {
    let n = h.number_of_partition_entries as usize * h.size_of_partition_entry as usize;
    let computed = crc32(entries.get(..n).unwrap_or(&[]));
    if computed != h.partition_entry_array_crc32 {
        return Err(Error::GptEntriesCrc {
            copy: c.copy,
            lba: h.partition_entry_lba,
            stored: h.partition_entry_array_crc32,
            computed,
        });
    }
    Ok(())
}

fn validate_entry_ranges(c: Ctx, h: &GptHeader, entries: &[u8]) -> Result<(), Error> {
    let size = h.size_of_partition_entry as usize;
    for i in 0..h.number_of_partition_entries as usize {
        let Some(raw) = entries.get(i * size..i * size + GPT_ENTRY_SIZE) else {
            break;
        };
        let Ok(raw) = <&[u8; GPT_ENTRY_SIZE]>::try_from(raw) else {
            break;
        };
        let e = GptPartitionEntry::from_bytes(raw);
        if e.is_unused() {
            continue;
        }
        if e.starting_lba > e.ending_lba
            || e.starting_lba < h.first_usable_lba
            || e.ending_lba > h.last_usable_lba
        {
            return Err(Error::GptEntryRange {
                copy: c.copy,
                number: i as u32 + 1,
                first: e.starting_lba,
                last: e.ending_lba,
            });
        }
    }
    Ok(())
}

/// Encode a partition name as UTF-16 for an entry (truncated to 36 code units).
pub fn encode_name(name: &str) -> [u16; crate::raw::GPT_NAME_UNITS] {
    let mut out = [0u16; crate::raw::GPT_NAME_UNITS];
    for (d, u) in out.iter_mut().zip(name.encode_utf16()) {
        *d = u;
    }
    out
}
