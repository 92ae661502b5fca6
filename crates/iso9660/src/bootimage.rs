//! The real size of a boot image. The catalog's sector count is what the BIOS loads
//! (often 4 sectors of a larger loader), and EFI entries often say 0 or 1 because the
//! image does not fit 16 bits of 512-byte sectors; then the size comes from the image's
//! own FAT boot sector, or from the directory record that points at it.

use crate::descriptor::validate_extent;
use crate::dir::{self, Dir};
use crate::eltorito::{BootEntry, Emulation};
use crate::error::{read_at, Error, Result};
use crate::raw::FatBootSector;
use blockdev::ReadAt;
use partition_raw::MbrSector;

/// Where an image size was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SizeSource {
    /// The catalog's sector count (times 512).
    Catalog,
    /// The size of the emulated diskette.
    Floppy,
    /// The end of the last partition of a hard-disk image's own MBR.
    PartitionTable,
    /// Total sectors times bytes per sector of the image's FAT boot sector.
    FatBootSector,
    /// The size in the directory record whose extent starts at the load RBA.
    DirectoryRecord,
}

impl SizeSource {
    /// Short name for reports: `catalog`, `floppy`, `partition-table`, `fat`, `file`.
    pub fn name(self) -> &'static str {
        match self {
            SizeSource::Catalog => "catalog",
            SizeSource::Floppy => "floppy",
            SizeSource::PartitionTable => "partition-table",
            SizeSource::FatBootSector => "fat",
            SizeSource::DirectoryRecord => "file",
        }
    }
}

/// The size of a boot image and where it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageSize {
    /// Size in bytes.
    pub bytes: u64,
    /// Its source.
    pub source: SizeSource,
}

/// Size the image of `entry`; `root` is the plain ISO 9660 root, searched last.
pub fn image_size<R: ReadAt + ?Sized>(
    r: &mut R,
    root: Dir,
    entry: &BootEntry,
) -> Result<ImageSize> {
    let emu = entry.emulation();
    if let Some(bytes) = emu.floppy_bytes() {
        return Ok(ImageSize {
            bytes,
            source: SizeSource::Floppy,
        });
    }
    validate_extent(entry.offset + 8, entry.load_rba, 512, r.len())?;
    let mut boot = [0u8; 512];
    read_at(r, entry.image_offset(), &mut boot)?;
    if emu == Emulation::HARD_DISK {
        if let Some(bytes) = mbr_end(&boot) {
            return Ok(ImageSize {
                bytes,
                source: SizeSource::PartitionTable,
            });
        }
    }
    if entry.sector_count > 1 {
        return Ok(ImageSize {
            bytes: u64::from(entry.sector_count) * 512,
            source: SizeSource::Catalog,
        });
    }
    if let Some(bytes) = fat_size(&boot) {
        let end = entry.image_offset().saturating_add(bytes);
        if end <= r.len() {
            return Ok(ImageSize {
                bytes,
                source: SizeSource::FatBootSector,
            });
        }
    }
    let lba = entry.load_rba;
    if let Some(file) = dir::find(r, root, |e| e.lba == lba && e.size > 0)? {
        return Ok(ImageSize {
            bytes: u64::from(file.size),
            source: SizeSource::DirectoryRecord,
        });
    }
    Err(Error::UnknownImageSize {
        offset: entry.offset,
        lba,
    })
}

/// Size of a FAT file system from its boot sector, if `b` is one.
pub fn fat_size(b: &[u8; 512]) -> Option<u64> {
    let bs = FatBootSector::parse(b);
    let jump_ok =
        (bs.bs_jmp_boot[0] == 0xEB && bs.bs_jmp_boot[2] == 0x90) || bs.bs_jmp_boot[0] == 0xE9;
    let bps = bs.bpb_bytes_per_sec;
    let bps_ok = matches!(bps, 512 | 1024 | 2048 | 4096);
    let spc_ok = bs.bpb_sec_per_clus.is_power_of_two();
    if !(jump_ok && bps_ok && spc_ok && bs.signature_word == [0x55, 0xAA]) {
        return None;
    }
    let total = if bs.bpb_tot_sec16 != 0 {
        u32::from(bs.bpb_tot_sec16)
    } else {
        bs.bpb_tot_sec32
    };
    (total != 0).then(|| u64::from(total) * u64::from(bps))
}

/// End (bytes) of the furthest partition of an MBR, if `b` is one with a partition.
fn mbr_end(b: &[u8; 512]) -> Option<u64> {
    let mbr = MbrSector::from_bytes(b);
    if !mbr.has_signature() {
        return None;
    }
    mbr.partition_record
        .iter()
        .filter(|p| p.os_type != 0 && p.size_in_lba != 0)
        .map(|p| (u64::from(p.starting_lba) + u64::from(p.size_in_lba)) * 512)
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fat_size_needs_a_real_boot_sector() {
        let mut b = [0u8; 512];
        assert_eq!(fat_size(&b), None);
        b[0] = 0xEB;
        b[2] = 0x90;
        b[11..13].copy_from_slice(&512u16.to_le_bytes());
        b[13] = 4;
        b[19..21].copy_from_slice(&2880u16.to_le_bytes());
        b[510] = 0x55;
        b[511] = 0xAA;
        assert_eq!(fat_size(&b), Some(2880 * 512));
        b[19] = 0;
        b[20] = 0;
        b[32..36].copy_from_slice(&100_000u32.to_le_bytes());
        assert_eq!(fat_size(&b), Some(100_000 * 512));
        b[11..13].copy_from_slice(&513u16.to_le_bytes());
        assert_eq!(fat_size(&b), None);
    }
}
