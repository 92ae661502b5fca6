//! The BIOS (platform 0) entry of an ISO's El Torito boot catalog, read through any
//! [`ReadAt`] view of the ISO. Small on purpose: the index already records every entry;
//! this reads the one the BIOS path needs from the ISO itself.

use blockdev::{IoError, ReadAt};

/// El Torito media type of a boot entry (low nibble of byte 1 of the entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Media {
    /// No emulation: the image is loaded as is and sees a CD with 2048-byte sectors.
    NoEmulation,
    /// 1.2 MB floppy (80 cylinders, 2 heads, 15 sectors per track).
    Floppy1200,
    /// 1.44 MB floppy (80/2/18).
    Floppy1440,
    /// 2.88 MB floppy (80/2/36).
    Floppy2880,
    /// Hard-disk image; geometry from its partition table.
    HardDisk,
}

impl Media {
    /// The El Torito code of the media type.
    pub fn code(self) -> u8 {
        match self {
            Media::NoEmulation => 0,
            Media::Floppy1200 => 1,
            Media::Floppy1440 => 2,
            Media::Floppy2880 => 3,
            Media::HardDisk => 4,
        }
    }
}

/// A bootable x86 BIOS entry.
#[derive(Clone, Copy, Debug)]
pub struct BootEntry {
    /// Emulation type.
    pub media: Media,
    /// Load segment as recorded (0 means the default 0x7C0).
    pub load_segment: u16,
    /// 512-byte virtual sectors to load.
    pub sector_count: u16,
    /// 2048-byte sector of the image in the ISO.
    pub load_rba: u32,
}

/// Why no BIOS boot entry could be read.
#[derive(Debug, Clone, Copy)]
pub enum Error {
    /// Reading the ISO failed.
    Io(IoError),
    /// Sector 17 is not an El Torito boot record volume descriptor.
    NoBootRecord,
    /// The catalog's validation entry is bad (header id, key bytes or checksum).
    BadValidationEntry {
        /// Byte offset of the catalog in the ISO.
        offset: u64,
    },
    /// No bootable entry for platform 0 (x86 BIOS).
    NoBiosEntry,
    /// An entry names a media type El Torito does not define.
    BadMedia {
        /// The media byte.
        value: u8,
    },
}

impl From<IoError> for Error {
    fn from(e: IoError) -> Self {
        Error::Io(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Error::Io(e) => write!(f, "reading the ISO: {e}"),
            Error::NoBootRecord => f.write_str("no El Torito boot record at sector 17"),
            Error::BadValidationEntry { offset } => {
                write!(f, "bad El Torito validation entry at byte {offset}")
            }
            Error::NoBiosEntry => f.write_str("the ISO has no bootable x86 BIOS entry"),
            Error::BadMedia { value } => write!(f, "unknown El Torito media type {value:#04x}"),
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    match b.get(at..at + 2) {
        Some(s) => u16::from_le_bytes([s[0], s[1]]),
        None => 0,
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(s) => u32::from_le_bytes([s[0], s[1], s[2], s[3]]),
        None => 0,
    }
}

fn entry(e: &[u8]) -> Result<Option<BootEntry>, Error> {
    if e.first() != Some(&0x88) {
        return Ok(None);
    }
    let m = e.get(1).copied().unwrap_or(0xFF) & 0x0F;
    let media = match m {
        0 => Media::NoEmulation,
        1 => Media::Floppy1200,
        2 => Media::Floppy1440,
        3 => Media::Floppy2880,
        4 => Media::HardDisk,
        value => return Err(Error::BadMedia { value }),
    };
    Ok(Some(BootEntry {
        media,
        load_segment: u16_at(e, 2),
        sector_count: u16_at(e, 6),
        load_rba: u32_at(e, 8),
    }))
}

/// The first bootable x86 BIOS entry of the ISO's boot catalog.
pub fn bios_entry<R: ReadAt>(iso: &mut R) -> Result<BootEntry, Error> {
    let mut brvd = [0u8; 2048];
    iso.read_exact_at(17 * 2048, &mut brvd)?;
    if brvd[0] != 0 || &brvd[1..6] != b"CD001" || !brvd[7..].starts_with(b"EL TORITO SPECIFICATION")
    {
        return Err(Error::NoBootRecord);
    }
    let catalog = u64::from(u32_at(&brvd, 0x47)) * 2048;
    let mut cat = [0u8; 2048];
    iso.read_exact_at(catalog, &mut cat)?;
    let sum = (0..16).fold(0u16, |s, i| s.wrapping_add(u16_at(&cat, 2 * i)));
    if cat[0] != 1 || cat[30] != 0x55 || cat[31] != 0xAA || sum != 0 {
        return Err(Error::BadValidationEntry { offset: catalog });
    }
    if cat[1] == 0 {
        if let Some(e) = entry(&cat[32..64])? {
            return Ok(e);
        }
    }
    // Section headers (0x90 more follow, 0x91 last), each followed by its entries.
    let mut at = 64;
    while at + 32 <= cat.len() {
        let header = cat[at];
        if header != 0x90 && header != 0x91 {
            break;
        }
        let platform = cat[at + 1];
        let count = usize::from(u16_at(&cat, at + 2));
        at += 32;
        for _ in 0..count {
            let Some(e) = cat.get(at..at + 32) else {
                return Err(Error::NoBiosEntry);
            };
            if platform == 0 {
                if let Some(e) = entry(e)? {
                    return Ok(e);
                }
            }
            at += 32;
            // Extension entries (0x44) belong to the entry before them.
            while cat.get(at) == Some(&0x44) {
                at += 32;
            }
        }
        if header == 0x91 {
            break;
        }
    }
    Err(Error::NoBiosEntry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &std::path::Path) -> Vec<u8> {
        std::fs::read(path).unwrap()
    }

    fn entry_of(iso: &[u8]) -> Result<BootEntry, Error> {
        let mut r: &[u8] = iso;
        bios_entry(&mut r)
    }

    #[test]
    fn no_emulation_entry_of_grub_mkrescue() {
        let iso = read(&fixtures::iso::grub_mkrescue().unwrap());
        let e = entry_of(&iso).unwrap();
        assert_eq!(e.media, Media::NoEmulation);
        assert_eq!(e.load_segment, 0);
        assert_eq!(e.sector_count, 4);
        // The image is GRUB's cdboot: it starts within the ISO.
        assert!(u64::from(e.load_rba) * 2048 < iso.len() as u64);
    }

    #[test]
    fn floppy_entry_of_memtest() {
        let iso = read(&fixtures::iso::memtest().unwrap());
        let e = entry_of(&iso).unwrap();
        assert_eq!(e.media, Media::Floppy1440);
        assert_eq!(e.sector_count, 1);
    }

    #[test]
    fn hard_disk_entry_and_its_geometry() {
        let iso = read(&fixtures::bios::hd_emulation_iso().unwrap());
        let e = entry_of(&iso).unwrap();
        assert_eq!(e.media, Media::HardDisk);
        let at = e.load_rba as usize * 2048;
        let mbr: [u8; 512] = iso[at..at + 512].try_into().unwrap();
        let g = crate::layout::Geometry::hard_disk(&mbr).unwrap();
        assert_eq!((g.cyls, g.heads, g.spt), (2, 16, 63));
    }

    #[test]
    fn bios_entry_found_in_a_section_after_an_efi_initial_entry() {
        // xorriso's multi-section fixture: whatever order, the BIOS entry is platform 0.
        let iso = read(&fixtures::iso::bios_uefi_hybrid().unwrap());
        assert_eq!(entry_of(&iso).unwrap().media, Media::NoEmulation);
        let uefi_only = read(&fixtures::iso::uefi_only().unwrap());
        assert!(matches!(entry_of(&uefi_only), Err(Error::NoBiosEntry)));
    }

    #[test]
    fn damaged_catalogs_are_errors() {
        let mut iso = read(&fixtures::iso::grub_mkrescue().unwrap());
        let catalog =
            u32::from_le_bytes(iso[17 * 2048 + 0x47..17 * 2048 + 0x4B].try_into().unwrap())
                as usize
                * 2048;
        let mut bad_sum = iso.clone();
        bad_sum[catalog + 4] ^= 1;
        assert!(matches!(
            entry_of(&bad_sum),
            Err(Error::BadValidationEntry { .. })
        ));
        let mut bad_media = iso.clone();
        bad_media[catalog + 33] = 0x07;
        assert!(matches!(
            entry_of(&bad_media),
            Err(Error::BadMedia { value: 7 })
        ));
        iso[17 * 2048 + 1] = b'X';
        assert!(matches!(entry_of(&iso), Err(Error::NoBootRecord)));
        assert!(matches!(entry_of(&iso[..4096]), Err(Error::Io(_))));
    }
}
