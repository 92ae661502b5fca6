//! The MBR in LBA 0: a real partition table (bootshelf's `--mbr` layout) or the protective
//! MBR in front of a GPT. Validation checks one rule per function.

use blockdev::BlockDevice;

use crate::error::Error;
use crate::raw::{Chs, MbrPartitionRecord, MbrSector, MBR_PARTITION_RECORDS_OFFSET};
use crate::read_sector;

/// An MBR partition type byte. Open-ended: the constants are the ones bootshelf uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MbrType(pub u8);

impl MbrType {
    /// Unused record.
    pub const UNUSED: MbrType = MbrType(0x00);
    /// NTFS / exFAT / IFS: bootshelf's data partition.
    pub const EXFAT: MbrType = MbrType(0x07);
    /// Hidden NTFS / exFAT (0x07 with the "hidden" bit 0x10): bootshelf's ISO window. See
    /// docs/window.md.
    pub const HIDDEN_EXFAT: MbrType = MbrType(0x17);
    /// GPT protective partition.
    pub const GPT_PROTECTIVE: MbrType = MbrType(0xEE);
    /// EFI System Partition.
    pub const EFI_SYSTEM: MbrType = MbrType(0xEF);
}

/// A validated MBR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mbr {
    sector: MbrSector,
    disk_sectors: u64,
}

impl Mbr {
    /// Read and validate LBA 0 of `dev`.
    pub fn read<D: BlockDevice>(dev: &mut D) -> Result<Mbr, Error> {
        let buf = read_sector(dev, 0, "MBR")?;
        Mbr::parse(&buf, dev.sector_count())
    }

    /// Validate the first 512 bytes of LBA 0 (`lba0` may be a whole 4096-byte sector) of
    /// a disk of `disk_sectors` sectors.
    pub fn parse(lba0: &[u8], disk_sectors: u64) -> Result<Mbr, Error> {
        let mut b = [0u8; 512];
        match lba0.get(..512) {
            Some(s) => b.copy_from_slice(s),
            None => {
                return Err(Error::DiskTooSmall {
                    sectors: disk_sectors,
                })
            }
        }
        let sector = MbrSector::from_bytes(&b);
        validate_signature(&sector)?;
        for (i, r) in sector.partition_record.iter().enumerate() {
            let slot = i as u8 + 1;
            validate_boot_indicator(slot, r)?;
            validate_record_range(slot, r, disk_sectors)?;
        }
        Ok(Mbr {
            sector,
            disk_sectors,
        })
    }

    /// The decoded sector.
    pub fn sector(&self) -> &MbrSector {
        &self.sector
    }

    /// The four records.
    pub fn records(&self) -> &[MbrPartitionRecord; 4] {
        &self.sector.partition_record
    }

    /// The first and last LBA record `slot` (0-based) still holds although its type is
    /// 0x00 (unused): a non-empty range from LBA 1 on, ending on the disk. This is how
    /// bootshelf's data partition entry looks while a window is set on an MBR stick
    /// (docs/window.md, "MBR sticks: the data entry while a window is set"). `None` for a
    /// used record or an unused one without such a range.
    pub fn unused_record_range(&self, slot: usize) -> Option<(u64, u64)> {
        let r = self.sector.partition_record.get(slot)?;
        if !r.is_unused() || r.starting_lba == 0 || r.size_in_lba == 0 {
            return None;
        }
        let first = u64::from(r.starting_lba);
        let last = first + u64::from(r.size_in_lba) - 1;
        (last < self.disk_sectors).then_some((first, last))
    }

    /// Whether this is the protective MBR of a GPT disk (a record of type 0xEE).
    pub fn is_protective(&self) -> bool {
        self.records()
            .iter()
            .any(|r| MbrType(r.os_type) == MbrType::GPT_PROTECTIVE)
    }

    /// Replace record `slot` (0-based) in memory.
    pub(crate) fn set_record(&mut self, slot: usize, r: MbrPartitionRecord) {
        if let Some(rec) = self.sector.partition_record.get_mut(slot) {
            *rec = r;
        }
    }

    /// Set the type byte of record `slot` (0-based) in memory, keeping its other fields.
    pub(crate) fn set_record_type(&mut self, slot: usize, os_type: MbrType) {
        if let Some(rec) = self.sector.partition_record.get_mut(slot) {
            rec.os_type = os_type.0;
        }
    }

    /// Write the partition records and signature back to LBA 0, keeping every other byte
    /// of the sector (boot code, and the rest of a 4096-byte sector) as it is on disk.
    pub fn write<D: BlockDevice>(&self, dev: &mut D) -> Result<(), Error> {
        let mut buf = read_sector(dev, 0, "MBR")?;
        let new = self.sector.to_bytes();
        if let (Some(dst), Some(src)) = (
            buf.get_mut(MBR_PARTITION_RECORDS_OFFSET..512),
            new.get(MBR_PARTITION_RECORDS_OFFSET..512),
        ) {
            dst.copy_from_slice(src);
        }
        dev.write_sectors(0, &buf).map_err(|error| Error::Io {
            what: "MBR",
            lba: 0,
            error,
        })?;
        dev.flush().map_err(|error| Error::Io {
            what: "MBR (flush)",
            lba: 0,
            error,
        })
    }
}

fn validate_signature(s: &MbrSector) -> Result<(), Error> {
    if !s.has_signature() {
        return Err(Error::MbrSignature { found: s.signature });
    }
    Ok(())
}

fn validate_boot_indicator(slot: u8, r: &MbrPartitionRecord) -> Result<(), Error> {
    if r.boot_indicator != 0 && r.boot_indicator != 0x80 {
        return Err(Error::MbrBootIndicator {
            slot,
            offset: MBR_PARTITION_RECORDS_OFFSET + (usize::from(slot) - 1) * 16,
            found: r.boot_indicator,
        });
    }
    Ok(())
}

fn validate_record_range(slot: u8, r: &MbrPartitionRecord, disk_sectors: u64) -> Result<(), Error> {
    // An unused record's other fields mean nothing; a protective record may claim more
    // than the disk (0xFFFFFFFF on disks over 2 TiB, or a GPT image copied to a bigger
    // stick), and its extent is the GPT's business.
    if r.is_unused() || MbrType(r.os_type) == MbrType::GPT_PROTECTIVE {
        return Ok(());
    }
    // A record starting at LBA 0 is odd but real: isohybrid ISOs written to a stick
    // have their ISO partition there.
    let end = u64::from(r.starting_lba) + u64::from(r.size_in_lba);
    if r.size_in_lba == 0 || end > disk_sectors {
        return Err(Error::MbrRecordRange {
            slot,
            starting_lba: r.starting_lba,
            size_in_lba: r.size_in_lba,
            disk_sectors,
        });
    }
    Ok(())
}

/// The CHS triple for `lba` on the conventional 255-head, 63-sector geometry, or the
/// "beyond CHS" marker FE FF FF when the cylinder exceeds 1023.
pub fn chs(lba: u64) -> [u8; 3] {
    const HEADS: u64 = 255;
    const SECTORS: u64 = 63;
    let cyl = lba / (HEADS * SECTORS);
    if cyl > 1023 {
        return Chs::BEYOND_1024_CYLINDERS.to_bytes();
    }
    Chs {
        cylinder: cyl as u16,
        head: ((lba / SECTORS) % HEADS) as u8,
        sector: (lba % SECTORS + 1) as u8,
    }
    .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::MBR_SIGNATURE;

    fn sector_with(records: &[(usize, MbrPartitionRecord)]) -> [u8; 512] {
        let mut s = MbrSector::from_bytes(&[0; 512]);
        s.signature = MBR_SIGNATURE;
        for (i, r) in records {
            s.partition_record[*i] = *r;
        }
        s.to_bytes()
    }

    #[test]
    fn rejects_missing_signature() {
        assert_eq!(
            Mbr::parse(&[0u8; 512], 100),
            Err(Error::MbrSignature { found: 0 })
        );
    }

    #[test]
    fn rejects_bad_boot_indicator_and_range() {
        let r = MbrPartitionRecord {
            boot_indicator: 0x12,
            os_type: 7,
            starting_lba: 1,
            size_in_lba: 1,
            ..Default::default()
        };
        assert_eq!(
            Mbr::parse(&sector_with(&[(1, r)]), 100),
            Err(Error::MbrBootIndicator {
                slot: 2,
                offset: 462,
                found: 0x12
            })
        );
        let r = MbrPartitionRecord {
            os_type: 7,
            starting_lba: 50,
            size_in_lba: 51,
            ..Default::default()
        };
        assert!(matches!(
            Mbr::parse(&sector_with(&[(0, r)]), 100),
            Err(Error::MbrRecordRange { slot: 1, .. })
        ));
        let ok = MbrPartitionRecord {
            size_in_lba: 50,
            ..r
        };
        let m = Mbr::parse(&sector_with(&[(0, ok)]), 100).unwrap();
        assert!(!m.is_protective());
    }

    #[test]
    fn chs_values() {
        assert_eq!(chs(0), [0, 1, 0]);
        assert_eq!(chs(2048), [32, 33, 0]);
        assert_eq!(chs(16_450_559), [254, 0xFF, 0xFF]);
        assert_eq!(chs(16_450_560), [0xFE, 0xFF, 0xFF]);
    }
}
