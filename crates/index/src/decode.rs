//! Reading an [`Index`] from the bytes of one slot file, validating one rule per function.
//! Every error names the byte offset (from the start of the file) and the offending value.

use crate::crc32::Crc32;
use crate::encode::extents_cover;
use crate::model::{
    ArchSet, BootEntry, EfiLoaders, Emulation, Extensions, Index, IsoEntry, KernelOptions,
    PlatformId, Settings, Timeout,
};
use crate::raw::{self, boot, ext, header, record};
use alloc::string::String;
use alloc::vec::Vec;
use blockdev::Extent;
use core::fmt;

/// Why bytes are not a valid index.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The file is shorter than what a field at `offset` needs.
    Truncated {
        /// Offset where `need` bytes were expected.
        offset: usize,
        /// Bytes needed there.
        need: usize,
        /// Bytes the file (or the checksummed part of it) has.
        have: usize,
    },
    /// The first 8 bytes are not the magic `BSHLFIDX`.
    BadMagic {
        /// What was found.
        found: [u8; 8],
    },
    /// A version this crate cannot read.
    UnsupportedVersion {
        /// The version found at offset 8.
        version: u16,
    },
    /// `header_len` (offset 10) is smaller than 64 or larger than `total_len`.
    BadHeaderLen {
        /// The value.
        value: u16,
    },
    /// `total_len` (offset 24) is smaller than the header or larger than the file.
    BadTotalLen {
        /// The value.
        value: u32,
        /// The file size.
        file_len: usize,
    },
    /// The CRC-32 does not match.
    BadChecksum {
        /// Stored at offset 12.
        stored: u32,
        /// Computed over the file.
        computed: u32,
    },
    /// A length field at `offset` does not fit what contains it.
    BadLength {
        /// Offset of the length field.
        offset: usize,
        /// Its value.
        value: u64,
    },
    /// A string at `offset` is not UTF-8.
    BadUtf8 {
        /// Offset of the string.
        offset: usize,
    },
    /// A path at `offset` is empty or not absolute.
    BadPath {
        /// Offset of the path.
        offset: usize,
    },
    /// The extents of the record at `offset` are empty, overflow, or do not cover its size.
    BadExtents {
        /// Offset of the record.
        offset: usize,
        /// The ISO's size.
        size: u64,
    },
    /// Bytes remain after the last record.
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { offset, need, have } => write!(
                f,
                "index truncated: {need} bytes needed at offset {offset}, only {have} bytes"
            ),
            DecodeError::BadMagic { found } => {
                write!(f, "not a bootshelf index: magic {found:02x?} at offset 0")
            }
            DecodeError::UnsupportedVersion { version } => {
                write!(f, "index version {version} (offset 8) is not supported")
            }
            DecodeError::BadHeaderLen { value } => {
                write!(f, "bad header_len {value} at offset 10")
            }
            DecodeError::BadTotalLen { value, file_len } => write!(
                f,
                "bad total_len {value} at offset 24 (file is {file_len} bytes)"
            ),
            DecodeError::BadChecksum { stored, computed } => write!(
                f,
                "index checksum mismatch: stored {stored:#010x} at offset 12, computed {computed:#010x}"
            ),
            DecodeError::BadLength { offset, value } => {
                write!(f, "length {value} at offset {offset} does not fit")
            }
            DecodeError::BadUtf8 { offset } => write!(f, "string at offset {offset} is not UTF-8"),
            DecodeError::BadPath { offset } => {
                write!(f, "path at offset {offset} is not absolute")
            }
            DecodeError::BadExtents { offset, size } => write!(
                f,
                "record at offset {offset}: extents do not cover its {size} bytes"
            ),
            DecodeError::TrailingBytes { offset } => {
                write!(f, "unexpected bytes after the last record at offset {offset}")
            }
        }
    }
}

/// A bounds-checked little-endian reader over `buf[..end]` that knows its offset.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|e| self.buf.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(DecodeError::Truncated {
                offset: self.pos,
                need: n,
                have: self.buf.len(),
            }),
        }
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64_at(self.take(8)?, 0))
    }
    fn string(&mut self, len: usize) -> Result<String, DecodeError> {
        let at = self.pos;
        let b = self.take(len)?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| DecodeError::BadUtf8 { offset: at })
    }
    fn path(&mut self, len: usize) -> Result<String, DecodeError> {
        let at = self.pos;
        let s = self.string(len)?;
        if s.starts_with('/') {
            Ok(s)
        } else {
            Err(DecodeError::BadPath { offset: at })
        }
    }
}

// The helpers below read from slices whose length the caller has already checked
// (`Cursor::take` or a fixed-size array); `get` keeps them panic-free regardless.
fn u16_at(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

fn validate_magic(h: &[u8]) -> Result<(), DecodeError> {
    let mut found = [0u8; 8];
    if let Some(m) = h.get(header::MAGIC..header::MAGIC + 8) {
        found.copy_from_slice(m);
    }
    if found == raw::MAGIC {
        Ok(())
    } else {
        Err(DecodeError::BadMagic { found })
    }
}

fn validate_version(h: &[u8]) -> Result<(), DecodeError> {
    let version = u16_at(h, header::VERSION);
    if version == raw::VERSION {
        Ok(())
    } else {
        Err(DecodeError::UnsupportedVersion { version })
    }
}

fn validate_total_len(h: &[u8], file_len: usize) -> Result<usize, DecodeError> {
    let value = u32_at(h, header::TOTAL_LEN);
    let total = value as usize;
    if total < header::SIZE || total > file_len {
        Err(DecodeError::BadTotalLen { value, file_len })
    } else {
        Ok(total)
    }
}

fn validate_header_len(h: &[u8], total: usize) -> Result<usize, DecodeError> {
    let value = u16_at(h, header::HEADER_LEN);
    let len = usize::from(value);
    if len < header::SIZE || len > total {
        Err(DecodeError::BadHeaderLen { value })
    } else {
        Ok(len)
    }
}

fn validate_checksum(data: &[u8]) -> Result<(), DecodeError> {
    let stored = u32_at(data, header::CRC32);
    let mut c = Crc32::new();
    c.update(data.get(..header::CRC32).unwrap_or(&[]));
    c.update(&[0; 4]);
    c.update(data.get(header::CRC32 + 4..).unwrap_or(&[]));
    let computed = c.finish();
    if stored == computed {
        Ok(())
    } else {
        Err(DecodeError::BadChecksum { stored, computed })
    }
}

/// Check the header and the checksum; returns `(header_len, total_len)`.
fn validate_header(bytes: &[u8]) -> Result<(usize, usize), DecodeError> {
    if bytes.len() < header::SIZE {
        return Err(DecodeError::Truncated {
            offset: 0,
            need: header::SIZE,
            have: bytes.len(),
        });
    }
    let h = bytes.get(..header::SIZE).unwrap_or(&[]);
    validate_magic(h)?;
    validate_version(h)?;
    let total = validate_total_len(h, bytes.len())?;
    let header_len = validate_header_len(h, total)?;
    validate_checksum(bytes.get(..total).unwrap_or(&[]))?;
    Ok((header_len, total))
}

fn optional_path(c: &mut Cursor<'_>) -> Result<Option<String>, DecodeError> {
    let len = c.u16()?;
    if len == 0 {
        Ok(None)
    } else {
        c.path(usize::from(len)).map(Some)
    }
}

fn decode_settings(c: &mut Cursor<'_>, h: &[u8]) -> Result<Settings, DecodeError> {
    let start = c.pos;
    let settings_len = u32_at(h, header::SETTINGS_LEN) as usize;
    let default = optional_path(c)?;
    let boot_next = optional_path(c)?;
    let used = c.pos - start;
    if settings_len < used
        || start
            .checked_add(settings_len)
            .is_none_or(|e| e > c.buf.len())
    {
        return Err(DecodeError::BadLength {
            offset: header::SETTINGS_LEN,
            value: settings_len as u64,
        });
    }
    // A later minor revision may append settings; skip what we do not know.
    c.pos = start + settings_len;
    Ok(Settings {
        timeout: Timeout::from_raw(u16_at(h, header::TIMEOUT)),
        default,
        boot_next,
    })
}

fn decode_boot(b: &[u8]) -> BootEntry {
    let byte = |at: usize| b.get(at).copied().unwrap_or(0);
    BootEntry {
        platform: PlatformId(byte(boot::PLATFORM)),
        emulation: Emulation(byte(boot::EMULATION)),
        system_type: byte(boot::SYSTEM_TYPE),
        bootable: byte(boot::FLAGS) & boot::FLAG_BOOTABLE != 0,
        load_segment: u16_at(b, boot::LOAD_SEGMENT),
        sector_count: u16_at(b, boot::SECTOR_COUNT),
        load_rba: u32_at(b, boot::LOAD_RBA),
        image_size: u64_at(b, boot::IMAGE_SIZE),
        efi: {
            let valid = byte(boot::EFI_VALID);
            let set = |at, bit| (valid & bit != 0).then(|| ArchSet::from_bits(byte(at)));
            EfiLoaders {
                arches: set(boot::EFI_ARCHES, boot::VALID_ARCHES),
                signed: set(boot::EFI_SIGNED, boot::VALID_SIGNED),
            }
        },
    }
}

fn decode_record(c: &mut Cursor<'_>) -> Result<IsoEntry, DecodeError> {
    let start = c.pos;
    let fixed = c.take(record::FIXED_SIZE)?;
    let record_len = u32_at(fixed, record::RECORD_LEN) as usize;
    let flags = u32_at(fixed, record::FLAGS);
    let size = u64_at(fixed, record::SIZE);
    let path_len = usize::from(u16_at(fixed, record::PATH_LEN));
    let label_len = usize::from(u16_at(fixed, record::LABEL_LEN));
    let title_len = usize::from(u16_at(fixed, record::TITLE_LEN));
    let boot_count = usize::from(u16_at(fixed, record::BOOT_COUNT));
    let extent_count = u32_at(fixed, record::EXTENT_COUNT) as usize;

    // The record must hold everything its counts promise, and fit in the file. Checked
    // before any allocation so that hostile counts cannot make us allocate much.
    let need = (record::FIXED_SIZE as u64)
        + path_len as u64
        + label_len as u64
        + title_len as u64
        + extent_count as u64 * record::EXTENT_SIZE as u64
        + boot_count as u64 * boot::SIZE as u64;
    let end = start as u64 + record_len as u64;
    if (record_len as u64) < need || end > c.buf.len() as u64 {
        return Err(DecodeError::BadLength {
            offset: start + record::RECORD_LEN,
            value: record_len as u64,
        });
    }
    let sha256 = if flags & record::FLAG_SHA256 != 0 {
        let mut h = [0u8; 32];
        if let Some(s) = fixed.get(record::SHA256..record::SHA256 + 32) {
            h.copy_from_slice(s);
        }
        Some(h)
    } else {
        None
    };
    let path = c.path(path_len)?;
    let label = c.string(label_len)?;
    let title = if title_len == 0 {
        None
    } else {
        Some(c.string(title_len)?)
    };
    let mut extents = Vec::with_capacity(extent_count);
    for _ in 0..extent_count {
        let start = c.u64()?;
        let len = c.u64()?;
        extents.push(Extent { start, len });
    }
    if !extents_cover(&extents, size) {
        return Err(DecodeError::BadExtents {
            offset: start,
            size,
        });
    }
    let mut boots = Vec::with_capacity(boot_count);
    for _ in 0..boot_count {
        boots.push(decode_boot(c.take(boot::SIZE)?));
    }
    let extensions = decode_extensions(c, end as usize)?;
    c.pos = end as usize;
    Ok(IsoEntry {
        path,
        size,
        sha256,
        label,
        title,
        extents,
        boot: boots,
        extensions,
    })
}

/// The TLV extension area from the cursor to `end` (the record's end): known types
/// decoded, unknown ones kept.
fn decode_extensions(c: &mut Cursor<'_>, end: usize) -> Result<Extensions, DecodeError> {
    let mut out = Extensions::default();
    let mut area = Cursor {
        buf: c.buf.get(..end).unwrap_or(&[]),
        pos: c.pos,
    };
    while area.pos < end {
        let at = area.pos;
        let ty = area.u16()?;
        let len_bytes = area.take(4)?;
        let len = u32_at(len_bytes, 0) as usize;
        let bytes = area.take(len).map_err(|_| DecodeError::BadLength {
            offset: at + 2,
            value: len as u64,
        })?;
        match ty {
            ext::KERNEL_OPTIONS => {
                let mut v = Cursor { buf: bytes, pos: 0 };
                let bad = |_| DecodeError::BadLength {
                    offset: at + 2,
                    value: len as u64,
                };
                let mut sha256 = [0u8; 32];
                sha256.copy_from_slice(v.take(32).map_err(bad)?);
                let append_len = usize::from(v.u16().map_err(bad)?);
                let append = v
                    .string(append_len)
                    .map_err(|_| DecodeError::BadUtf8 { offset: at })?;
                let count = usize::from(v.u16().map_err(bad)?);
                let mut remove = Vec::new();
                for _ in 0..count {
                    let n = usize::from(v.u16().map_err(bad)?);
                    remove.push(
                        v.string(n)
                            .map_err(|_| DecodeError::BadUtf8 { offset: at })?,
                    );
                }
                out.kernel_options = Some(KernelOptions {
                    sha256,
                    append,
                    remove,
                });
            }
            // Lenient: a malformed link is dropped (the ISO boots without persistence).
            crate::extension::TYPE_PERSISTENCE => {
                out.persistence = crate::extension::decode_persistence(bytes);
            }
            _ => out.unknown.push((ty, bytes.to_vec())),
        }
    }
    Ok(out)
}

/// Decode one slot file. Bytes after `total_len` are ignored (a reader may hand in whole
/// clusters); everything up to it must be valid.
pub fn decode(bytes: &[u8]) -> Result<Index, DecodeError> {
    let (header_len, total) = validate_header(bytes)?;
    let data = bytes.get(..total).unwrap_or(&[]);
    let h = data.get(..header::SIZE).unwrap_or(&[]);
    let iso_count = u32_at(h, header::ISO_COUNT) as usize;
    let mut c = Cursor {
        buf: data,
        pos: header_len,
    };
    let settings = decode_settings(&mut c, h)?;
    // Each record takes at least FIXED_SIZE bytes: bound the count before allocating.
    let room = (total - c.pos) / record::FIXED_SIZE;
    if iso_count > room {
        return Err(DecodeError::BadLength {
            offset: header::ISO_COUNT,
            value: iso_count as u64,
        });
    }
    let mut isos = Vec::with_capacity(iso_count);
    for _ in 0..iso_count {
        isos.push(decode_record(&mut c)?);
    }
    if c.pos != total {
        return Err(DecodeError::TrailingBytes { offset: c.pos });
    }
    Ok(Index {
        generation: u64_at(h, header::GENERATION),
        settings,
        isos,
    })
}
