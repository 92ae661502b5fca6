//! The volume descriptor set (ECMA-119 8): primary, supplementary (Joliet), El Torito
//! boot record and terminator, read from sector 16 on and validated one rule per
//! function.
//!
//! Both-byte-order fields: extents and sizes of files are taken from the little-endian
//! half, as Linux and GRUB do, so that images whose mastering tool botched the
//! big-endian half still read; the volume space size and the logical block size must
//! agree in both halves (a disagreement there means the descriptor is not what it seems).

use crate::error::{read_at, Error, Result};
use crate::raw::{
    self, descriptor_type, BootRecordVolumeDescriptor, PrimaryVolumeDescriptor,
    VolumeDescriptorHeader, FIRST_DESCRIPTOR_SECTOR, SECTOR_SIZE, STANDARD_ID,
};
use blockdev::ReadAt;

/// At most this many volume descriptors are read before the terminator must appear
/// (real images have 3 to 6).
pub const MAX_DESCRIPTORS: u64 = 64;

/// A date and time in the 17-byte volume descriptor format (ECMA-119 8.4.26.1):
/// sixteen ASCII digits and a signed offset from GMT in 15-minute units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecDateTime {
    /// Year, 1..=9999.
    pub year: u16,
    /// Month, 1..=12.
    pub month: u8,
    /// Day of month, 1..=31.
    pub day: u8,
    /// Hour, 0..=23.
    pub hour: u8,
    /// Minute, 0..=59.
    pub minute: u8,
    /// Second, 0..=59.
    pub second: u8,
    /// Hundredths of a second, 0..=99.
    pub hundredths: u8,
    /// Offset from GMT in 15-minute intervals, -48..=52.
    pub gmt_offset: i8,
    /// The sixteen digits as stored (e.g. for GRUB's UUID).
    pub digits: [u8; 16],
}

impl DecDateTime {
    /// Decode; `None` when unset (all digits zero) or not sixteen digits.
    pub fn parse(b: &[u8; 17]) -> Option<Self> {
        let mut digits = [0u8; 16];
        digits.copy_from_slice(&b[..16]);
        if !digits.iter().all(u8::is_ascii_digit) || digits.iter().all(|&d| d == b'0') {
            return None;
        }
        let num = |from: usize, to: usize| -> u16 {
            digits[from..to]
                .iter()
                .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
        };
        Some(DecDateTime {
            year: num(0, 4),
            month: num(4, 6) as u8,
            day: num(6, 8) as u8,
            hour: num(8, 10) as u8,
            minute: num(10, 12) as u8,
            second: num(12, 14) as u8,
            hundredths: num(14, 16) as u8,
            gmt_offset: b[16] as i8,
            digits,
        })
    }

    /// The UUID GRUB gives an ISO 9660 file system (`search --fs-uuid`, `$root`
    /// probing): `YYYY-MM-DD-HH-MM-SS-HH` from these digits. GRUB takes it from the
    /// volume *modification* date ([`Volume::modification`]).
    pub fn grub_uuid(&self) -> [u8; 22] {
        let d = &self.digits;
        let mut u = [b'-'; 22];
        let groups: [(usize, usize, usize); 7] = [
            (0, 0, 4),
            (5, 4, 2),
            (8, 6, 2),
            (11, 8, 2),
            (14, 10, 2),
            (17, 12, 2),
            (20, 14, 2),
        ];
        for (to, from, n) in groups {
            u[to..to + n].copy_from_slice(&d[from..from + n]);
        }
        u
    }
}

/// Where a directory's extent is: its first logical block and its length in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirExtent {
    /// First logical block.
    pub lba: u32,
    /// Length in bytes.
    pub size: u32,
    /// Byte offset of the directory record that points at it.
    pub record_offset: u64,
}

/// The Joliet supplementary volume descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Joliet {
    /// Joliet level 1, 2 or 3 (from the escape sequence `%/@`, `%/C`, `%/E`).
    pub level: u8,
    /// Root directory of the Joliet tree.
    pub root: DirExtent,
    /// Volume identifier, UCS-2 big-endian.
    pub volume_identifier: [u8; 32],
    /// Byte offset of the descriptor.
    pub offset: u64,
}

/// The validated volume descriptor set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Volume {
    /// The primary volume descriptor as stored.
    pub primary: PrimaryVolumeDescriptor,
    /// Byte offset of the primary volume descriptor.
    pub primary_offset: u64,
    /// Volume space size in 2048-byte blocks (the ISO 9660 file system; appended
    /// partitions lie beyond it).
    pub volume_space_size: u32,
    /// Root directory of the ISO 9660 (and Rock Ridge) tree.
    pub root: DirExtent,
    /// The Joliet descriptor, if any.
    pub joliet: Option<Joliet>,
    /// Absolute sector of the El Torito boot catalog, if there is a boot record.
    pub boot_catalog: Option<u32>,
    /// Byte offset of the El Torito boot record.
    pub boot_record_offset: Option<u64>,
    /// Number of descriptors up to and including the terminator.
    pub descriptor_count: u32,
    /// Size of the whole image in bytes (what the reader says).
    pub image_size: u64,
}

fn trim(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != 0)
        .map_or(0, |p| p + 1);
    &b[..end]
}

/// `b` trimmed of trailing spaces and NULs, as text: the longest valid UTF-8 prefix.
pub fn trimmed_str(b: &[u8]) -> &str {
    let t = trim(b);
    match core::str::from_utf8(t) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&t[..e.valid_up_to()]).unwrap_or(""),
    }
}

impl Volume {
    /// The volume identifier (label) of the primary descriptor, trailing spaces trimmed.
    pub fn label(&self) -> &str {
        trimmed_str(&self.primary.volume_identifier)
    }

    /// Volume creation date, if set.
    pub fn creation(&self) -> Option<DecDateTime> {
        DecDateTime::parse(&self.primary.volume_creation_date)
    }

    /// Volume modification date, if set (GRUB's UUID comes from this one).
    pub fn modification(&self) -> Option<DecDateTime> {
        DecDateTime::parse(&self.primary.volume_modification_date)
    }

    /// Read and validate the descriptor set of `r`.
    pub fn read<R: ReadAt + ?Sized>(r: &mut R) -> Result<Self> {
        let image_size = r.len();
        let first = FIRST_DESCRIPTOR_SECTOR * SECTOR_SIZE as u64;
        if image_size < first + SECTOR_SIZE as u64 {
            return Err(Error::TooSmall { size: image_size });
        }
        let mut sector = [0u8; SECTOR_SIZE];
        let mut primary: Option<(PrimaryVolumeDescriptor, u64)> = None;
        let mut joliet = None;
        let mut boot = None;
        for i in 0..MAX_DESCRIPTORS {
            let offset = first + i * SECTOR_SIZE as u64;
            if offset + SECTOR_SIZE as u64 > image_size {
                return Err(Error::NoTerminator { offset });
            }
            read_at(r, offset, &mut sector)?;
            let header = VolumeDescriptorHeader::parse(&sector);
            validate_standard_id(&header, offset, i == 0)?;
            match header.volume_descriptor_type {
                descriptor_type::TERMINATOR => {
                    let (primary, primary_offset) = primary.ok_or(Error::NoPrimaryDescriptor)?;
                    return finish(
                        primary,
                        primary_offset,
                        joliet,
                        boot,
                        i as u32 + 1,
                        image_size,
                    );
                }
                descriptor_type::PRIMARY if primary.is_none() => {
                    primary = Some((PrimaryVolumeDescriptor::parse(&sector), offset));
                }
                descriptor_type::SUPPLEMENTARY if joliet.is_none() => {
                    let d = PrimaryVolumeDescriptor::parse(&sector);
                    if let Some(level) = joliet_level(&d) {
                        let root = root_extent(&d, offset, image_size)?;
                        validate_block_size(&d, offset)?;
                        joliet = Some(Joliet {
                            level,
                            root,
                            volume_identifier: d.volume_identifier,
                            offset,
                        });
                    }
                }
                descriptor_type::BOOT_RECORD if boot.is_none() => {
                    let b = BootRecordVolumeDescriptor::parse(&sector);
                    // Other boot systems may use a boot record too: only El Torito's counts.
                    if b.boot_system_identifier.starts_with(raw::EL_TORITO_ID) {
                        boot = Some((b.boot_catalog_pointer, offset));
                    }
                }
                _ => {}
            }
        }
        Err(Error::NoTerminator {
            offset: first + MAX_DESCRIPTORS * SECTOR_SIZE as u64,
        })
    }
}

fn finish(
    primary: PrimaryVolumeDescriptor,
    primary_offset: u64,
    joliet: Option<Joliet>,
    boot: Option<(u32, u64)>,
    descriptor_count: u32,
    image_size: u64,
) -> Result<Volume> {
    validate_block_size(&primary, primary_offset)?;
    let vss = primary.volume_space_size;
    validate_both_endian(vss.le, vss.be, primary_offset + 80)?;
    let root = root_extent(&primary, primary_offset, image_size)?;
    if let Some((lba, offset)) = boot {
        validate_extent(offset + 71, lba, SECTOR_SIZE as u64, image_size)?;
    }
    Ok(Volume {
        primary,
        primary_offset,
        volume_space_size: vss.le,
        root,
        joliet,
        boot_catalog: boot.map(|b| b.0),
        boot_record_offset: boot.map(|b| b.1),
        descriptor_count,
        image_size,
    })
}

fn validate_standard_id(h: &VolumeDescriptorHeader, offset: u64, first: bool) -> Result<()> {
    if h.standard_identifier == STANDARD_ID {
        Ok(())
    } else if first {
        Err(Error::NotIso {
            offset,
            found: h.standard_identifier,
        })
    } else {
        Err(Error::BadDescriptorId {
            offset,
            found: h.standard_identifier,
        })
    }
}

fn validate_block_size(d: &PrimaryVolumeDescriptor, offset: u64) -> Result<()> {
    let bs = d.logical_block_size;
    validate_both_endian(u32::from(bs.le), u32::from(bs.be), offset + 128)?;
    if usize::from(bs.le) != SECTOR_SIZE {
        return Err(Error::BadLogicalBlockSize {
            offset: offset + 128,
            value: bs.le,
        });
    }
    Ok(())
}

fn validate_both_endian(le: u32, be: u32, offset: u64) -> Result<()> {
    if le == be {
        Ok(())
    } else {
        Err(Error::EndianMismatch { offset, le, be })
    }
}

/// An extent of `len` bytes at block `lba`, named at `offset`, must lie in the image.
pub(crate) fn validate_extent(offset: u64, lba: u32, len: u64, image_size: u64) -> Result<()> {
    let start = u64::from(lba) * SECTOR_SIZE as u64;
    match start.checked_add(len) {
        Some(end) if end <= image_size => Ok(()),
        _ => Err(Error::ExtentPastEnd {
            offset,
            lba,
            len,
            image_size,
        }),
    }
}

fn root_extent(d: &PrimaryVolumeDescriptor, offset: u64, image_size: u64) -> Result<DirExtent> {
    let rec = raw::DirectoryRecord::parse(&raw::array(&d.root_directory_record, 0));
    let record_offset = offset + 156;
    if rec.length_of_directory_record < 34 {
        return Err(Error::BadDirectoryRecord {
            offset: record_offset,
            len: rec.length_of_directory_record,
        });
    }
    let lba = rec.location_of_extent.le;
    let size = rec.data_length.le;
    crate::dir::validate_dir_size(record_offset + 10, size)?;
    validate_extent(record_offset, lba, u64::from(size), image_size)?;
    Ok(DirExtent {
        lba,
        size,
        record_offset,
    })
}

/// Joliet level from the escape sequences of a supplementary descriptor.
fn joliet_level(d: &PrimaryVolumeDescriptor) -> Option<u8> {
    if d.header.volume_descriptor_version != 1 {
        return None; // an ISO 9660:1999 enhanced descriptor
    }
    let e = &d.escape_sequences;
    [(b'@', 1u8), (b'C', 2), (b'E', 3)]
        .into_iter()
        .find(|&(c, _)| e.windows(3).any(|w| w == [b'%', b'/', c]))
        .map(|(_, l)| l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dec_datetime_and_grub_uuid() {
        let mut b = [0u8; 17];
        b[..16].copy_from_slice(b"2024010203040506");
        b[16] = (-4i8) as u8;
        let d = DecDateTime::parse(&b).unwrap();
        assert_eq!((d.year, d.month, d.day), (2024, 1, 2));
        assert_eq!((d.hour, d.minute, d.second, d.hundredths), (3, 4, 5, 6));
        assert_eq!(d.gmt_offset, -4);
        assert_eq!(&d.grub_uuid(), b"2024-01-02-03-04-05-06");
        let mut unset = [b'0'; 17];
        unset[16] = 0;
        assert_eq!(DecDateTime::parse(&unset), None);
        let mut junk = b;
        junk[3] = b'x';
        assert_eq!(DecDateTime::parse(&junk), None);
    }

    #[test]
    fn trims_labels() {
        assert_eq!(trimmed_str(b"ABC   \0\0"), "ABC");
        assert_eq!(trimmed_str(b"AB\xffC  "), "AB");
        assert_eq!(trimmed_str(b"     "), "");
    }
}
