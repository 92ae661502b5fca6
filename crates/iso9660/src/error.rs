//! The one error type of this crate. Every variant that comes from the image names the
//! byte offset in the image where the bad structure sits and the value found there.

use blockdev::IoError;
use core::fmt;

/// Why an ISO could not be read. Offsets are byte offsets from the start of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Reading `len` bytes at `offset` failed.
    Io {
        /// Byte offset of the read.
        offset: u64,
        /// Length of the read.
        len: u64,
        /// What the reader said.
        error: IoError,
    },
    /// The image is too short to hold the system area and a volume descriptor.
    TooSmall {
        /// Size of the image in bytes.
        size: u64,
    },
    /// No "CD001" at the first volume descriptor: not an ISO 9660 image.
    NotIso {
        /// Offset of the descriptor (32768).
        offset: u64,
        /// The five bytes found instead.
        found: [u8; 5],
    },
    /// A volume descriptor in the set lacks "CD001".
    BadDescriptorId {
        /// Offset of the descriptor.
        offset: u64,
        /// The five bytes found.
        found: [u8; 5],
    },
    /// No volume descriptor set terminator within the allowed number of descriptors.
    NoTerminator {
        /// Offset just past the last descriptor examined.
        offset: u64,
    },
    /// The descriptor set has no primary volume descriptor.
    NoPrimaryDescriptor,
    /// The logical block size is not 2048.
    BadLogicalBlockSize {
        /// Offset of the field.
        offset: u64,
        /// The size found.
        value: u16,
    },
    /// The two halves of a both-byte-order field disagree.
    EndianMismatch {
        /// Offset of the field.
        offset: u64,
        /// Little-endian half.
        le: u32,
        /// Big-endian half.
        be: u32,
    },
    /// An extent (file, directory, catalog, boot image) reaches past the end of the image.
    ExtentPastEnd {
        /// Offset of the structure that points at the extent.
        offset: u64,
        /// First logical block of the extent.
        lba: u32,
        /// Length of the extent in bytes.
        len: u64,
        /// Size of the image in bytes.
        image_size: u64,
    },
    /// A directory record is malformed (length too small, past its sector, name
    /// longer than the record).
    BadDirectoryRecord {
        /// Offset of the record.
        offset: u64,
        /// Its length byte.
        len: u8,
    },
    /// A size field holds a value no sane image has (a directory of gigabytes, a boot
    /// catalog of thousands of entries).
    AbsurdSize {
        /// Offset of the field.
        offset: u64,
        /// The value found.
        value: u64,
        /// The largest value accepted.
        limit: u64,
    },
    /// A directory contains itself (directly or through its descendants).
    DirectoryLoop {
        /// Offset of the record that points back.
        offset: u64,
        /// The directory's first logical block.
        lba: u32,
    },
    /// A directory tree nests deeper than this crate follows.
    TooDeep {
        /// Offset of the record one level too deep.
        offset: u64,
        /// The limit.
        limit: u32,
    },
    /// A directory tree has more directories than this crate visits in one walk.
    TooManyDirectories {
        /// The limit.
        limit: u32,
    },
    /// A file name (Joliet or Rock Ridge) is longer than this crate's name buffer.
    NameTooLong {
        /// Offset of the record.
        offset: u64,
        /// Length in bytes so far.
        len: usize,
    },
    /// A SUSP / Rock Ridge system use entry is malformed.
    BadSystemUseEntry {
        /// Offset of the entry.
        offset: u64,
        /// Its signature.
        signature: [u8; 2],
        /// Its length byte.
        len: u8,
    },
    /// The boot record does not say "EL TORITO SPECIFICATION".
    NotElTorito {
        /// Offset of the boot record.
        offset: u64,
    },
    /// The boot catalog's validation entry has a wrong header ID.
    BadValidationHeader {
        /// Offset of the entry.
        offset: u64,
        /// The byte found (0x01 expected).
        value: u8,
    },
    /// The validation entry's key bytes are not 0x55 0xAA.
    BadValidationKey {
        /// Offset of the entry.
        offset: u64,
        /// The two bytes found.
        value: [u8; 2],
    },
    /// The validation entry's words do not sum to zero.
    BadValidationChecksum {
        /// Offset of the entry.
        offset: u64,
        /// The checksum field as stored.
        stored: u16,
        /// The sum of all sixteen words (0 when valid).
        sum: u16,
    },
    /// A boot entry's boot indicator is neither 0x88 nor 0x00.
    BadBootIndicator {
        /// Offset of the entry.
        offset: u64,
        /// The byte found.
        value: u8,
    },
    /// An entry where a section header (0x90/0x91) or the end of the catalog belongs.
    BadSectionHeader {
        /// Offset of the entry.
        offset: u64,
        /// The header indicator found.
        value: u8,
    },
    /// An extension entry announced by the previous entry is missing (no 0x44).
    BadExtension {
        /// Offset of the entry.
        offset: u64,
        /// The indicator found.
        value: u8,
    },
    /// The size of an EFI boot image cannot be determined (the catalog says 0 or 1
    /// sectors, no FAT boot sector, no directory record points at it).
    UnknownImageSize {
        /// Offset of the catalog entry.
        offset: u64,
        /// Load RBA of the image.
        lba: u32,
    },
    /// A path to look up is not absolute or has an empty or over-long component.
    BadPath,
    /// Nothing at that path.
    NotFound,
    /// A path component that must be a directory is a file.
    NotADirectory {
        /// Offset of the file's record.
        offset: u64,
    },
    /// A GPT header in the system area is malformed.
    BadGpt {
        /// Offset of the field.
        offset: u64,
        /// The value found.
        value: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match *self {
            Io { offset, len, error } => {
                write!(f, "reading {len} bytes at offset {offset}: {error}")
            }
            TooSmall { size } => write!(
                f,
                "the image is {size} bytes, too small for an ISO 9660 volume (at least 34816)"
            ),
            NotIso { offset, found } => write!(
                f,
                "not an ISO 9660 image: no \"CD001\" at offset {offset} (found {})",
                Bytes(&found)
            ),
            BadDescriptorId { offset, found } => write!(
                f,
                "volume descriptor at offset {offset} lacks \"CD001\" (found {})",
                Bytes(&found)
            ),
            NoTerminator { offset } => write!(
                f,
                "no volume descriptor set terminator up to offset {offset}"
            ),
            NoPrimaryDescriptor => f.write_str("no primary volume descriptor"),
            BadLogicalBlockSize { offset, value } => write!(
                f,
                "logical block size {value} at offset {offset} is not 2048"
            ),
            EndianMismatch { offset, le, be } => write!(
                f,
                "both-endian field at offset {offset} disagrees: {le} (LE) vs {be} (BE)"
            ),
            ExtentPastEnd {
                offset,
                lba,
                len,
                image_size,
            } => write!(
                f,
                "extent at block {lba} ({len} bytes) named at offset {offset} reaches past the end of the image ({image_size} bytes)"
            ),
            BadDirectoryRecord { offset, len } => write!(
                f,
                "malformed directory record of length {len} at offset {offset}"
            ),
            AbsurdSize {
                offset,
                value,
                limit,
            } => write!(
                f,
                "absurd size {value} at offset {offset} (at most {limit} accepted)"
            ),
            DirectoryLoop { offset, lba } => write!(
                f,
                "directory loop: the record at offset {offset} points back to directory block {lba}"
            ),
            TooDeep { offset, limit } => write!(
                f,
                "directories nest deeper than {limit} levels at offset {offset}"
            ),
            TooManyDirectories { limit } => {
                write!(f, "more than {limit} directories in one walk")
            }
            NameTooLong { offset, len } => write!(
                f,
                "file name of the record at offset {offset} is longer than {len} bytes"
            ),
            BadSystemUseEntry {
                offset,
                signature,
                len,
            } => write!(
                f,
                "malformed system use entry {} of length {len} at offset {offset}",
                Bytes(&signature)
            ),
            NotElTorito { offset } => write!(
                f,
                "boot record at offset {offset} is not \"EL TORITO SPECIFICATION\""
            ),
            BadValidationHeader { offset, value } => write!(
                f,
                "boot catalog validation entry at offset {offset}: header ID {value:#04x}, expected 0x01"
            ),
            BadValidationKey { offset, value } => write!(
                f,
                "boot catalog validation entry at offset {offset}: key bytes {:#04x} {:#04x}, expected 0x55 0xaa",
                value[0], value[1]
            ),
            BadValidationChecksum { offset, stored, sum } => write!(
                f,
                "boot catalog validation entry at offset {offset}: bad checksum {stored:#06x} (words sum to {sum:#06x}, not 0)"
            ),
            BadBootIndicator { offset, value } => write!(
                f,
                "boot catalog entry at offset {offset}: boot indicator {value:#04x}, expected 0x88 or 0x00"
            ),
            BadSectionHeader { offset, value } => write!(
                f,
                "boot catalog entry at offset {offset}: {value:#04x} where a section header (0x90/0x91) belongs"
            ),
            BadExtension { offset, value } => write!(
                f,
                "boot catalog entry at offset {offset}: {value:#04x} where an extension entry (0x44) belongs"
            ),
            UnknownImageSize { offset, lba } => write!(
                f,
                "cannot size the boot image at block {lba} (catalog entry at offset {offset}): no sector count, no FAT boot sector, no file"
            ),
            BadPath => f.write_str("bad path: must be absolute with components of 1..=255 bytes"),
            NotFound => f.write_str("no such file or directory"),
            NotADirectory { offset } => write!(
                f,
                "the record at offset {offset} is a file, not a directory"
            ),
            BadGpt { offset, value } => {
                write!(f, "malformed GPT: value {value:#x} at offset {offset}")
            }
        }
    }
}

/// Shows bytes as text when printable, else as hex.
struct Bytes<'a>(&'a [u8]);

impl fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            f.write_str("\"")?;
            for &b in self.0 {
                write!(f, "{}", b as char)?;
            }
            f.write_str("\"")
        } else {
            f.write_str("0x")?;
            for &b in self.0 {
                write!(f, "{b:02x}")?;
            }
            Ok(())
        }
    }
}

impl core::error::Error for Error {}

/// Result of this crate.
pub type Result<T> = core::result::Result<T, Error>;

/// Read `buf.len()` bytes at `offset`, mapping the I/O error with its place.
pub(crate) fn read_at<R: blockdev::ReadAt + ?Sized>(
    r: &mut R,
    offset: u64,
    buf: &mut [u8],
) -> Result<()> {
    r.read_exact_at(offset, buf).map_err(|error| Error::Io {
        offset,
        len: buf.len() as u64,
        error,
    })
}
