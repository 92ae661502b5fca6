//! Errors: each names the structure, where it is (LBA, slot, entry) and the value that
//! was wrong.

use alloc::boxed::Box;
use blockdev::IoError;
use core::fmt;

use crate::Guid;

/// Which of the two GPT copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GptCopy {
    /// Header at LBA 1 and its entry array.
    Primary,
    /// Header at the last LBA and its entry array.
    Backup,
}

impl fmt::Display for GptCopy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GptCopy::Primary => "primary GPT",
            GptCopy::Backup => "backup GPT",
        })
    }
}

/// Why a partition table could not be read, is not bootshelf's, or a window could not be
/// written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The device reports a sector size this crate cannot handle.
    SectorSize {
        /// Reported size in bytes.
        found: u32,
    },
    /// The device is too small to hold the table.
    DiskTooSmall {
        /// Sectors on the device.
        sectors: u64,
    },
    /// Reading or writing failed.
    Io {
        /// What was being read or written ("MBR", "backup GPT header", ...).
        what: &'static str,
        /// Its LBA.
        lba: u64,
        /// The device's error.
        error: IoError,
    },
    /// LBA 0 has no 0x55AA signature at byte 510.
    MbrSignature {
        /// The u16 found there (little-endian).
        found: u16,
    },
    /// An MBR partition record has a boot indicator other than 0x00 / 0x80.
    MbrBootIndicator {
        /// Slot 1-4.
        slot: u8,
        /// Byte offset of the record in LBA 0.
        offset: usize,
        /// The value found.
        found: u8,
    },
    /// An MBR partition record has zero sectors or reaches past the disk.
    MbrRecordRange {
        /// Slot 1-4.
        slot: u8,
        /// First LBA.
        starting_lba: u32,
        /// Number of sectors.
        size_in_lba: u32,
        /// Sectors on the disk.
        disk_sectors: u64,
    },
    /// A GPT header field is invalid.
    GptHeader {
        /// Which copy.
        copy: GptCopy,
        /// LBA of the header.
        lba: u64,
        /// The field, as the UEFI specification names it.
        field: &'static str,
        /// Byte offset of the field in the header.
        offset: usize,
        /// The value found.
        found: u64,
        /// What it must be.
        expected: &'static str,
    },
    /// A GPT header's CRC-32 is wrong.
    GptHeaderCrc {
        /// Which copy.
        copy: GptCopy,
        /// LBA of the header.
        lba: u64,
        /// CRC stored in the header.
        stored: u32,
        /// CRC computed over the header.
        computed: u32,
    },
    /// A GPT partition entry array's CRC-32 is wrong.
    GptEntriesCrc {
        /// Which copy.
        copy: GptCopy,
        /// LBA of the array.
        lba: u64,
        /// CRC stored in the header.
        stored: u32,
        /// CRC computed over the array.
        computed: u32,
    },
    /// A GPT partition entry's range is empty, reversed, or outside the usable LBAs.
    GptEntryRange {
        /// Which copy.
        copy: GptCopy,
        /// Partition number (1-based).
        number: u32,
        /// StartingLBA.
        first: u64,
        /// EndingLBA.
        last: u64,
    },
    /// Neither GPT copy is valid.
    NoValidGpt {
        /// Why the primary copy is invalid.
        primary: Box<Error>,
        /// Why the backup copy is invalid.
        backup: Box<Error>,
    },
    /// The table is valid but not the layout bootshelf writes; nothing is written to it.
    NotBootshelf {
        /// Partition number (1-based) that does not match.
        number: u32,
        /// What was expected there.
        expected: &'static str,
        /// What is there (type GUID or MBR type, as text).
        found: FoundType,
    },
    /// The ISO is stored in more than one extent, so no single partition can cover it.
    NotContiguous {
        /// Number of extents.
        extents: usize,
    },
    /// The ISO has no data.
    EmptyExtent,
    /// The ISO's extent does not start on a sector boundary.
    Misaligned {
        /// Device byte offset of the extent.
        offset: u64,
        /// The sector size.
        sector_size: u32,
    },
    /// The persistence file cannot have a window (the inner error says why).
    Persistence(alloc::boxed::Box<Error>),
    /// The persistence file's range overlaps the ISO's.
    PersistenceOverlapsIso {
        /// First LBA of the persistence file.
        first: u64,
        /// Last LBA of the persistence file.
        last: u64,
    },
    /// The ISO's extent is not inside the data partition.
    OutsideDataPartition {
        /// First LBA of the extent.
        first: u64,
        /// Last LBA of the extent.
        last: u64,
        /// First LBA of the data partition.
        data_first: u64,
        /// Last LBA of the data partition.
        data_last: u64,
    },
    /// An MBR entry cannot address the range (32-bit LBAs).
    BeyondMbrLimit {
        /// Last LBA of the range.
        last: u64,
    },
    /// A new table ([`crate::write`]) has more entries than its entry array holds.
    TooManyEntries {
        /// Entries asked for.
        count: usize,
        /// Entries the array holds.
        max: u32,
    },
    /// Two partitions of a new table ([`crate::write`]) share sectors.
    PartitionsOverlap {
        /// The lower partition number (1-based).
        first: u32,
        /// The higher one.
        second: u32,
    },
}

/// A partition type as found on disk, for error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FoundType {
    /// A GPT type GUID.
    Gpt(Guid),
    /// An MBR type byte.
    Mbr(u8),
    /// A GPT entry with the window's type but another name.
    ForeignName(Guid),
    /// An MBR window entry outside the data partition.
    MbrWindowOutside(u8),
}

impl fmt::Display for FoundType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FoundType::Gpt(g) if g.is_zero() => f.write_str("an unused entry"),
            FoundType::Gpt(g) => write!(f, "type {g}"),
            FoundType::Mbr(0) => f.write_str("an unused entry"),
            FoundType::Mbr(t) => write!(f, "type {t:#04x}"),
            FoundType::ForeignName(g) => write!(f, "type {g} with a name that is not bootshelf's"),
            FoundType::MbrWindowOutside(t) => {
                write!(f, "type {t:#04x} outside the data partition")
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SectorSize { found } => write!(
                f,
                "unsupported logical sector size {found} (must be a power of two from 512 to 4096)"
            ),
            Error::DiskTooSmall { sectors } => {
                write!(f, "the disk has only {sectors} sectors: too small for a partition table")
            }
            Error::Io { what, lba, error } => write!(f, "{what} at LBA {lba}: {error}"),
            Error::MbrSignature { found } => write!(
                f,
                "no partition table: LBA 0 byte 510 holds {found:#06x}, not the MBR signature 0xaa55"
            ),
            Error::MbrBootIndicator {
                slot,
                offset,
                found,
            } => write!(
                f,
                "MBR partition {slot} (byte {offset}): boot indicator {found:#04x} is neither 0x00 nor 0x80"
            ),
            Error::MbrRecordRange {
                slot,
                starting_lba,
                size_in_lba,
                disk_sectors,
            } => write!(
                f,
                "MBR partition {slot}: {size_in_lba} sectors from LBA {starting_lba} do not fit a disk of {disk_sectors} sectors"
            ),
            Error::GptHeader {
                copy,
                lba,
                field,
                offset,
                found,
                expected,
            } => write!(
                f,
                "{copy} header at LBA {lba}: {field} (byte {offset}) is {found:#x}, expected {expected}"
            ),
            Error::GptHeaderCrc {
                copy,
                lba,
                stored,
                computed,
            } => write!(
                f,
                "{copy} header at LBA {lba}: CRC-32 is {stored:#010x}, computed {computed:#010x}"
            ),
            Error::GptEntriesCrc {
                copy,
                lba,
                stored,
                computed,
            } => write!(
                f,
                "{copy} partition entries at LBA {lba}: CRC-32 in the header is {stored:#010x}, computed {computed:#010x}"
            ),
            Error::GptEntryRange {
                copy,
                number,
                first,
                last,
            } => write!(
                f,
                "{copy} partition {number}: LBAs {first}..={last} are reversed or outside the usable range"
            ),
            Error::NoValidGpt { primary, backup } => {
                write!(f, "no valid GPT: {primary}; {backup}")
            }
            Error::NotBootshelf {
                number: crate::layout::WINDOW_NUMBER,
                expected: crate::layout::WINDOW_SLOT_EXPECTED,
                found,
            } => write!(
                f,
                "partition 4 is not bootshelf's (it is {found}): the ISO window can't be written"
            ),
            Error::NotBootshelf {
                number,
                expected,
                found,
            } => write!(
                f,
                "not a bootshelf partition table: partition {number} should be {expected} but is {found}"
            ),
            Error::NotContiguous { extents } => write!(
                f,
                "the ISO is stored in {extents} pieces; an ISO window needs one contiguous extent"
            ),
            Error::EmptyExtent => f.write_str("the ISO is empty"),
            Error::Misaligned {
                offset,
                sector_size,
            } => write!(
                f,
                "the ISO starts at byte {offset}, not on a {sector_size}-byte sector boundary"
            ),
            Error::Persistence(inner) => {
                write!(f, "the persistence file gets no window: {inner}")
            }
            Error::PersistenceOverlapsIso { first, last } => write!(
                f,
                "the persistence file at LBAs {first}..={last} overlaps the ISO; `bootshelf check` shows the stick's files"
            ),
            Error::OutsideDataPartition {
                first,
                last,
                data_first,
                data_last,
            } => write!(
                f,
                "the file at LBAs {first}..={last} is not inside the data partition (LBAs {data_first}..={data_last})"
            ),
            Error::BeyondMbrLimit { last } => write!(
                f,
                "the ISO ends at LBA {last}, beyond what an MBR entry can address (2^32 sectors)"
            ),
            Error::TooManyEntries { count, max } => write!(
                f,
                "a new partition table with {count} entries: the entry array holds {max}"
            ),
            Error::PartitionsOverlap { first, second } => write!(
                f,
                "a new partition table where partitions {first} and {second} overlap"
            ),
        }
    }
}
