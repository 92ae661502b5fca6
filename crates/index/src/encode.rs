//! Writing an [`Index`] into its byte format (`docs/index-format.md`).

use crate::crc32::crc32;
use crate::model::{BootEntry, Index, IsoEntry};
use crate::raw::{self, boot, ext, header, record};
use alloc::vec::Vec;
use core::fmt;

/// The largest index this crate writes: far above a thousand ISOs (about 200 bytes each),
/// small enough for a loader to read in one go.
pub const MAX_INDEX_LEN: usize = 16 << 20;

/// Why an index could not be encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A string is longer than the format allows (65535 bytes).
    StringTooLong {
        /// Which field.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// A path is not absolute (it must start with `/`) or is empty.
    BadPath {
        /// Index of the ISO in [`Index::isos`], or `None` for a setting.
        iso: Option<usize>,
    },
    /// An ISO has more boot entries than the format allows (65535).
    TooManyBootEntries {
        /// Index of the ISO.
        iso: usize,
        /// How many it has.
        count: usize,
    },
    /// An ISO's extents do not cover its size, or an extent is empty or overflows.
    BadExtents {
        /// Index of the ISO.
        iso: usize,
    },
    /// The encoded index would exceed [`MAX_INDEX_LEN`].
    TooLarge {
        /// Bytes it would take.
        len: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::StringTooLong { field, len } => {
                write!(f, "{field} is {len} bytes long, at most 65535 fit")
            }
            EncodeError::BadPath { iso: Some(i) } => {
                write!(f, "ISO #{i}: path must be absolute")
            }
            EncodeError::BadPath { iso: None } => {
                f.write_str("menu setting: path must be absolute")
            }
            EncodeError::TooManyBootEntries { iso, count } => {
                write!(f, "ISO #{iso}: {count} boot entries, at most 65535 fit")
            }
            EncodeError::BadExtents { iso } => {
                write!(
                    f,
                    "ISO #{iso}: extents are empty, overflow or do not cover the size"
                )
            }
            EncodeError::TooLarge { len } => {
                write!(f, "index would be {len} bytes, more than {MAX_INDEX_LEN}")
            }
        }
    }
}

fn str_len(field: &'static str, s: &str) -> Result<u16, EncodeError> {
    u16::try_from(s.len()).map_err(|_| EncodeError::StringTooLong {
        field,
        len: s.len(),
    })
}

fn check_path(p: &str, iso: Option<usize>) -> Result<(), EncodeError> {
    if p.starts_with('/') {
        Ok(())
    } else {
        Err(EncodeError::BadPath { iso })
    }
}

/// Whether extents are non-empty, do not overflow, and cover `size`.
pub(crate) fn extents_cover(extents: &[blockdev::Extent], size: u64) -> bool {
    let mut total: u64 = 0;
    for e in extents {
        if e.len == 0 || e.start.checked_add(e.len).is_none() {
            return false;
        }
        total = match total.checked_add(e.len) {
            Some(t) => t,
            None => return false,
        };
    }
    total >= size
}

fn put_u16(out: &mut [u8], at: usize, v: u16) {
    if let Some(d) = out.get_mut(at..at + 2) {
        d.copy_from_slice(&v.to_le_bytes());
    }
}
fn put_u32(out: &mut [u8], at: usize, v: u32) {
    if let Some(d) = out.get_mut(at..at + 4) {
        d.copy_from_slice(&v.to_le_bytes());
    }
}
fn put_u64(out: &mut [u8], at: usize, v: u64) {
    if let Some(d) = out.get_mut(at..at + 8) {
        d.copy_from_slice(&v.to_le_bytes());
    }
}

fn encode_boot(b: &BootEntry) -> [u8; boot::SIZE] {
    let mut o = [0u8; boot::SIZE];
    o[boot::PLATFORM] = b.platform.0;
    o[boot::EMULATION] = b.emulation.0;
    o[boot::SYSTEM_TYPE] = b.system_type;
    o[boot::FLAGS] = if b.bootable { boot::FLAG_BOOTABLE } else { 0 };
    put_u16(&mut o, boot::LOAD_SEGMENT, b.load_segment);
    put_u16(&mut o, boot::SECTOR_COUNT, b.sector_count);
    put_u32(&mut o, boot::LOAD_RBA, b.load_rba);
    put_u64(&mut o, boot::IMAGE_SIZE, b.image_size);
    if let Some(a) = b.efi.arches {
        o[boot::EFI_ARCHES] = a.bits();
        o[boot::EFI_VALID] |= boot::VALID_ARCHES;
    }
    if let Some(s) = b.efi.signed {
        o[boot::EFI_SIGNED] = s.bits();
        o[boot::EFI_VALID] |= boot::VALID_SIGNED;
    }
    o
}

fn encode_record(out: &mut Vec<u8>, i: usize, e: &IsoEntry) -> Result<(), EncodeError> {
    check_path(&e.path, Some(i))?;
    let path_len = str_len("ISO path", &e.path)?;
    let label_len = str_len("volume label", &e.label)?;
    let title = e.title.as_deref().unwrap_or("");
    let title_len = str_len("title", title)?;
    let boot_count = u16::try_from(e.boot.len()).map_err(|_| EncodeError::TooManyBootEntries {
        iso: i,
        count: e.boot.len(),
    })?;
    if !extents_cover(&e.extents, e.size) {
        return Err(EncodeError::BadExtents { iso: i });
    }
    let extent_count =
        u32::try_from(e.extents.len()).map_err(|_| EncodeError::BadExtents { iso: i })?;
    let extensions = encode_extensions(i, e)?;
    let len = record::FIXED_SIZE
        + extensions.len()
        + e.path.len()
        + e.label.len()
        + title.len()
        + e.extents.len().saturating_mul(record::EXTENT_SIZE)
        + e.boot.len() * boot::SIZE;
    if len > MAX_INDEX_LEN {
        return Err(EncodeError::TooLarge { len });
    }
    let mut fixed = [0u8; record::FIXED_SIZE];
    put_u32(&mut fixed, record::RECORD_LEN, len as u32);
    let flags = if e.sha256.is_some() {
        record::FLAG_SHA256
    } else {
        0
    };
    put_u32(&mut fixed, record::FLAGS, flags);
    put_u64(&mut fixed, record::SIZE, e.size);
    if let (Some(h), Some(d)) = (e.sha256, fixed.get_mut(record::SHA256..record::SHA256 + 32)) {
        d.copy_from_slice(&h);
    }
    put_u16(&mut fixed, record::PATH_LEN, path_len);
    put_u16(&mut fixed, record::LABEL_LEN, label_len);
    put_u16(&mut fixed, record::TITLE_LEN, title_len);
    put_u16(&mut fixed, record::BOOT_COUNT, boot_count);
    put_u32(&mut fixed, record::EXTENT_COUNT, extent_count);
    out.extend_from_slice(&fixed);
    out.extend_from_slice(e.path.as_bytes());
    out.extend_from_slice(e.label.as_bytes());
    out.extend_from_slice(title.as_bytes());
    for x in &e.extents {
        out.extend_from_slice(&x.start.to_le_bytes());
        out.extend_from_slice(&x.len.to_le_bytes());
    }
    for b in &e.boot {
        out.extend_from_slice(&encode_boot(b));
    }
    out.extend_from_slice(&extensions);
    Ok(())
}

/// The record's TLV extension area: kernel options, the persistence link, then the
/// unknown types as read.
fn encode_extensions(i: usize, e: &IsoEntry) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    let mut tlv = |ty: u16, bytes: &[u8]| -> Result<(), EncodeError> {
        let len =
            u32::try_from(bytes.len()).map_err(|_| EncodeError::TooLarge { len: bytes.len() })?;
        out.extend_from_slice(&ty.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(bytes);
        Ok(())
    };
    if let Some(o) = &e.extensions.kernel_options {
        let mut v = Vec::with_capacity(64 + o.append.len());
        v.extend_from_slice(&o.sha256);
        v.extend_from_slice(&str_len("kernel options", &o.append)?.to_le_bytes());
        v.extend_from_slice(o.append.as_bytes());
        let count = u16::try_from(o.remove.len()).map_err(|_| EncodeError::StringTooLong {
            field: "removed kernel arguments",
            len: o.remove.len(),
        })?;
        v.extend_from_slice(&count.to_le_bytes());
        for r in &o.remove {
            v.extend_from_slice(&str_len("removed kernel argument", r)?.to_le_bytes());
            v.extend_from_slice(r.as_bytes());
        }
        tlv(ext::KERNEL_OPTIONS, &v)?;
    }
    if let Some(p) = &e.extensions.persistence {
        let v =
            crate::extension::encode_persistence(p).ok_or(EncodeError::BadPath { iso: Some(i) })?;
        tlv(crate::extension::TYPE_PERSISTENCE, &v)?;
    }
    for (ty, bytes) in &e.extensions.unknown {
        tlv(*ty, bytes)?;
    }
    Ok(out)
}

/// Encode `index` (with its own `generation`) into the bytes of one slot file.
pub fn encode(index: &Index) -> Result<Vec<u8>, EncodeError> {
    let s = &index.settings;
    let default = s.default.as_deref().unwrap_or("");
    let boot_next = s.boot_next.as_deref().unwrap_or("");
    if let Some(p) = &s.default {
        check_path(p, None)?;
    }
    if let Some(p) = &s.boot_next {
        check_path(p, None)?;
    }
    let default_len = str_len("default path", default)?;
    let boot_next_len = str_len("boot-next path", boot_next)?;
    let iso_count =
        u32::try_from(index.isos.len()).map_err(|_| EncodeError::TooLarge { len: usize::MAX })?;

    let mut out = Vec::with_capacity(header::SIZE + 4 + index.isos.len() * 200);
    out.resize(header::SIZE, 0);
    // Settings block.
    out.extend_from_slice(&default_len.to_le_bytes());
    out.extend_from_slice(default.as_bytes());
    out.extend_from_slice(&boot_next_len.to_le_bytes());
    out.extend_from_slice(boot_next.as_bytes());
    let settings_len = out.len() - header::SIZE;
    for (i, e) in index.isos.iter().enumerate() {
        encode_record(&mut out, i, e)?;
        if out.len() > MAX_INDEX_LEN {
            return Err(EncodeError::TooLarge { len: out.len() });
        }
    }
    let total = out.len();
    let h = &mut out[..header::SIZE];
    h[header::MAGIC..header::MAGIC + 8].copy_from_slice(&raw::MAGIC);
    put_u16(h, header::VERSION, raw::VERSION);
    put_u16(h, header::HEADER_LEN, header::SIZE as u16);
    put_u64(h, header::GENERATION, index.generation);
    put_u32(h, header::TOTAL_LEN, total as u32);
    put_u32(h, header::ISO_COUNT, iso_count);
    put_u16(h, header::TIMEOUT, s.timeout.to_raw());
    put_u16(h, header::FLAGS, 0);
    put_u32(h, header::SETTINGS_LEN, settings_len as u32);
    // The checksum field is still zero here, which is how the checksum treats it.
    let crc = crc32(&out);
    put_u32(&mut out, header::CRC32, crc);
    Ok(out)
}
