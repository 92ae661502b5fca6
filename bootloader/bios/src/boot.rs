//! The boot image stage 2 chain-boots, in the shared El Torito types: the x86 BIOS entry
//! of an ISO's boot catalog as `bootshelf_index::BootEntry` (what the index stores, and
//! what bootloader-core's `discovery::parse_iso` reads with crates/iso9660), and the one
//! place where an El Torito emulation code becomes what the resident INT 13h code
//! presents: a CD, a floppy of fixed geometry, or a hard disk.
//!
//! This crate parses no boot catalog of its own.

use crate::layout::Geometry;
use blockdev::{IoError, ReadAt};
use bootloader_core::discovery::{self, Firmware};
use bootshelf_index::{BootEntry, Emulation};

/// What the resident code presents the boot image as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Emulated {
    /// No emulation: the image sees the ISO as a CD with 2048-byte sectors.
    Cd,
    /// A floppy (drive 00h) of this fixed geometry (El Torito: 80x2x15, 80x2x18, 80x2x36).
    Floppy(Geometry),
    /// A hard disk (drive 80h); its geometry comes from the image's partition table.
    HardDisk,
}

impl Emulated {
    /// The BIOS side of El Torito emulation code `e`; `None` for codes El Torito does
    /// not define.
    pub fn of(e: Emulation) -> Option<Emulated> {
        match e {
            Emulation::NONE => Some(Emulated::Cd),
            Emulation::HARD_DISK => Some(Emulated::HardDisk),
            other => Geometry::floppy(other).map(Emulated::Floppy),
        }
    }
}

/// A bootable x86 BIOS entry whose emulation type the resident code can serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootImage {
    entry: BootEntry,
    emulated: Emulated,
}

impl BootImage {
    /// Check that `entry` has an emulation type El Torito defines.
    pub fn new(entry: &BootEntry) -> Result<BootImage, Error> {
        let emulated = Emulated::of(entry.emulation).ok_or(Error::BadMedia {
            value: entry.emulation.0,
        })?;
        Ok(BootImage {
            entry: *entry,
            emulated,
        })
    }

    /// The catalog entry (load segment as recorded, 0 meaning 0x7C0; 512-byte sectors
    /// to load; the image's 2048-byte sector in the ISO; the El Torito media code).
    pub fn entry(&self) -> &BootEntry {
        &self.entry
    }

    /// How the resident code presents the image.
    pub fn emulated(&self) -> Emulated {
        self.emulated
    }
}

/// Why no BIOS boot image could be taken from an ISO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// Setting up the reader of the ISO failed (its extents do not cover it).
    Io(IoError),
    /// crates/iso9660 could not read the ISO or its boot catalog.
    Iso(iso9660::Error),
    /// The ISO has no El Torito boot record (so no boot catalog).
    NoBootRecord,
    /// The catalog has no bootable entry for platform 0 (x86 BIOS).
    NoBiosEntry,
    /// The BIOS entry names a media type El Torito does not define.
    BadMedia {
        /// The emulation code (low nibble of the entry's media byte).
        value: u8,
    },
}

impl From<IoError> for Error {
    fn from(e: IoError) -> Self {
        Error::Io(e)
    }
}

impl From<iso9660::Error> for Error {
    fn from(e: iso9660::Error) -> Self {
        Error::Iso(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Error::Io(e) => write!(f, "reading the ISO: {e}"),
            Error::Iso(e) => write!(f, "reading the ISO: {e}"),
            Error::NoBootRecord => f.write_str("the ISO has no El Torito boot record"),
            Error::NoBiosEntry => f.write_str("the ISO has no bootable x86 BIOS entry"),
            Error::BadMedia { value } => write!(f, "unknown El Torito media type {value:#04x}"),
        }
    }
}

/// The BIOS boot image among an ISO's catalog entries (in catalog order): the first
/// bootable entry for platform x86, the same rule bootloader-core's menu applies.
pub fn bios_image(entries: &[BootEntry]) -> Result<BootImage, Error> {
    if entries.is_empty() {
        // A catalog always has its initial entry: no entries means no catalog.
        return Err(Error::NoBootRecord);
    }
    let entry = entries
        .iter()
        .find(|b| b.bootable && b.platform == Firmware::Bios.platform())
        .ok_or(Error::NoBiosEntry)?;
    BootImage::new(entry)
}

/// Read the ISO's boot catalog with crates/iso9660 (through bootloader-core's
/// `discovery::parse_iso`, as discovery does for ISOs the index lacks) and take its BIOS
/// boot image.
pub fn read_bios_image<R: ReadAt>(iso: R) -> Result<BootImage, Error> {
    let (_label, entries) = discovery::parse_iso(iso)?;
    bios_image(&entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &std::path::Path) -> Vec<u8> {
        std::fs::read(path).unwrap()
    }

    fn image_of(iso: &[u8]) -> Result<BootImage, Error> {
        read_bios_image(iso)
    }

    #[test]
    fn no_emulation_entry_of_grub_mkrescue() {
        let iso = read(&fixtures::iso::grub_mkrescue().unwrap());
        let b = image_of(&iso).unwrap();
        assert_eq!(b.emulated(), Emulated::Cd);
        let e = b.entry();
        assert_eq!(e.emulation, Emulation::NONE);
        assert_eq!(e.load_segment, 0);
        assert_eq!(e.sector_count, 4);
        // The image is GRUB's cdboot: it starts within the ISO.
        assert!(u64::from(e.load_rba) * 2048 < iso.len() as u64);
    }

    #[test]
    fn floppy_entry_of_memtest() {
        let iso = read(&fixtures::iso::memtest().unwrap());
        let b = image_of(&iso).unwrap();
        assert_eq!(b.entry().emulation, Emulation::FLOPPY_1_44M);
        assert_eq!(
            b.emulated(),
            Emulated::Floppy(Geometry {
                cyls: 80,
                heads: 2,
                spt: 18
            })
        );
        assert_eq!(b.entry().sector_count, 1);
    }

    #[test]
    fn hard_disk_entry_and_its_geometry() {
        let iso = read(&fixtures::bios::hd_emulation_iso().unwrap());
        let b = image_of(&iso).unwrap();
        assert_eq!(b.emulated(), Emulated::HardDisk);
        let at = b.entry().load_rba as usize * 2048;
        let mbr: [u8; 512] = iso[at..at + 512].try_into().unwrap();
        let g = Geometry::hard_disk(&mbr).unwrap();
        assert_eq!((g.cyls, g.heads, g.spt), (2, 16, 63));
    }

    #[test]
    fn bios_entry_found_in_a_section_after_an_efi_initial_entry() {
        // xorriso's multi-section fixture: whatever order, the BIOS entry is platform 0.
        let iso = read(&fixtures::iso::bios_uefi_hybrid().unwrap());
        assert_eq!(image_of(&iso).unwrap().emulated(), Emulated::Cd);
        let uefi_only = read(&fixtures::iso::uefi_only().unwrap());
        assert_eq!(image_of(&uefi_only), Err(Error::NoBiosEntry));
    }

    #[test]
    fn emulation_codes_map_to_what_the_resident_code_serves() {
        let floppy = |spt| {
            Some(Emulated::Floppy(Geometry {
                cyls: 80,
                heads: 2,
                spt,
            }))
        };
        assert_eq!(Emulated::of(Emulation::NONE), Some(Emulated::Cd));
        assert_eq!(Emulated::of(Emulation::FLOPPY_1_2M), floppy(15));
        assert_eq!(Emulated::of(Emulation::FLOPPY_1_44M), floppy(18));
        assert_eq!(Emulated::of(Emulation::FLOPPY_2_88M), floppy(36));
        assert_eq!(Emulated::of(Emulation::HARD_DISK), Some(Emulated::HardDisk));
        for code in 5..=15 {
            assert_eq!(Emulated::of(Emulation(code)), None);
        }
    }

    #[test]
    fn the_first_bootable_x86_entry_is_taken() {
        use bootshelf_index::PlatformId;
        let e = |platform, bootable, emulation, load_rba| BootEntry {
            platform,
            emulation,
            bootable,
            system_type: 0,
            load_segment: 0,
            sector_count: 4,
            load_rba,
            image_size: 2048,
            efi: Default::default(),
        };
        let entries = [
            e(PlatformId::EFI, true, Emulation::NONE, 10),
            e(PlatformId::X86, false, Emulation::NONE, 11),
            e(PlatformId::X86, true, Emulation::HARD_DISK, 12),
            e(PlatformId::X86, true, Emulation::NONE, 13),
        ];
        assert_eq!(bios_image(&entries).unwrap().entry().load_rba, 12);
        assert_eq!(bios_image(&entries[..2]), Err(Error::NoBiosEntry));
        assert_eq!(bios_image(&[]), Err(Error::NoBootRecord));
        let bad = [e(PlatformId::X86, true, Emulation(9), 10)];
        assert_eq!(bios_image(&bad), Err(Error::BadMedia { value: 9 }));
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
            image_of(&bad_sum),
            Err(Error::Iso(iso9660::Error::BadValidationChecksum { offset, .. }))
                if offset == catalog as u64
        ));
        let mut bad_media = iso.clone();
        bad_media[catalog + 33] = 0x07;
        assert_eq!(image_of(&bad_media), Err(Error::BadMedia { value: 7 }));
        let mut not_el_torito = iso.clone();
        not_el_torito[17 * 2048 + 7] = b'X';
        assert_eq!(image_of(&not_el_torito), Err(Error::NoBootRecord));
        iso[17 * 2048 + 1] = b'X';
        assert!(matches!(
            image_of(&iso),
            Err(Error::Iso(iso9660::Error::BadDescriptorId { offset, .. })) if offset == 17 * 2048
        ));
        assert!(matches!(
            image_of(&iso[..4096]),
            Err(Error::Iso(iso9660::Error::TooSmall { size: 4096 }))
        ));
    }
}
