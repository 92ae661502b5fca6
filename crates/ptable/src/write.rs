//! Writing a whole new partition table, as `bootshelf install` does: a GPT behind a
//! protective MBR, or an MBR partition table; LBA 0 gets the MBR boot code with it.
//!
//! The GPT goes through [`Gpt::write`], the writer the ISO window uses too: backup entry
//! array and header, flush, primary entry array and header, flush. LBA 0 comes last, in
//! one sector write, then a flush. Over an older GPT a crash leaves the old table or the
//! new one (the copy in use is always a complete one); `install` wipes LBA 0 first, so a
//! crash before the last write leaves no partition table at all (docs/stick-layout.md).
//!
//! Everything is validated before the first write: entries inside the usable LBAs, no
//! two partitions sharing a sector, MBR records addressable with 32-bit LBAs. Nothing is
//! written when a check fails. Only the structures of [`crate::raw`] are encoded here.

use alloc::vec;
use alloc::vec::Vec;
use blockdev::BlockDevice;

use crate::error::{Error, GptCopy};
use crate::gpt::Gpt;
use crate::layout::LbaRange;
use crate::mbr::{chs, Mbr, MbrType};
use crate::raw::{
    GptHeader, GptPartitionEntry, MbrPartitionRecord, MbrSector, GPT_ENTRY_SIZE, GPT_HEADER_SIZE,
    GPT_REVISION_1_0, GPT_SIGNATURE, MBR_DISK_SIGNATURE_OFFSET, MBR_SIGNATURE,
};
use crate::Guid;

/// Bytes of boot code in LBA 0 (0..440, up to the disk signature).
pub const BOOT_CODE_BYTES: usize = MBR_DISK_SIGNATURE_OFFSET;
/// Entries in a new GPT's entry array: the specification's minimum, as sgdisk makes it.
pub const NEW_GPT_ENTRIES: u32 = 128;
/// Bytes of a new GPT's entry array (128 entries of 128 bytes: 16 KiB).
pub const NEW_GPT_ENTRY_ARRAY_BYTES: u64 = NEW_GPT_ENTRIES as u64 * GPT_ENTRY_SIZE as u64;

/// Where a new GPT lies on a disk: primary header at LBA 1 and its entry array from LBA 2,
/// backup entry array and header in the last sectors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GptGeometry {
    sector_size: u32,
    disk_sectors: u64,
}

impl GptGeometry {
    /// The geometry on a disk of `disk_sectors` sectors of `sector_size` bytes; fails
    /// for a sector size this crate cannot handle, or a disk with no usable LBA left.
    pub fn new(sector_size: u32, disk_sectors: u64) -> Result<GptGeometry, Error> {
        let ss = crate::check_sector_size(sector_size)? as u64;
        let table = 1 + NEW_GPT_ENTRY_ARRAY_BYTES.div_ceil(ss);
        // LBA 0, both tables and at least one usable sector.
        if disk_sectors < 1 + 2 * table + 1 {
            return Err(Error::DiskTooSmall {
                sectors: disk_sectors,
            });
        }
        Ok(GptGeometry {
            sector_size,
            disk_sectors,
        })
    }

    /// Sectors of one entry array.
    pub fn entry_array_sectors(&self) -> u64 {
        NEW_GPT_ENTRY_ARRAY_BYTES.div_ceil(u64::from(self.sector_size))
    }

    /// LBA of the primary entry array (2).
    pub fn primary_entries_lba(&self) -> u64 {
        2
    }

    /// The first LBA a partition may use: right after the primary entry array (34 at
    /// 512-byte sectors, 6 at 4096).
    pub fn first_usable_lba(&self) -> u64 {
        self.primary_entries_lba() + self.entry_array_sectors()
    }

    /// The last LBA a partition may use: right before the backup entry array.
    pub fn last_usable_lba(&self) -> u64 {
        self.backup_entries_lba() - 1
    }

    /// LBA of the backup entry array.
    pub fn backup_entries_lba(&self) -> u64 {
        self.backup_header_lba() - self.entry_array_sectors()
    }

    /// LBA of the backup header: the disk's last sector.
    pub fn backup_header_lba(&self) -> u64 {
        self.disk_sectors - 1
    }
}

/// Write a new GPT on `dev`: `entries[i]` is partition `i + 1`
/// ([`GptPartitionEntry::UNUSED`] keeps a number free; the rest of the
/// [`NEW_GPT_ENTRIES`] are unused), behind a protective MBR carrying `boot_code`.
/// Order: backup GPT, flush, primary GPT, flush, LBA 0, flush.
pub fn write_gpt<D: BlockDevice>(
    dev: &mut D,
    disk_guid: Guid,
    entries: &[GptPartitionEntry],
    boot_code: &[u8; BOOT_CODE_BYTES],
) -> Result<(), Error> {
    let geometry = GptGeometry::new(dev.sector_size(), dev.sector_count())?;
    check_gpt_entries(&geometry, entries)?;
    let ss = geometry.sector_size as usize;
    let mut array = vec![0u8; geometry.entry_array_sectors() as usize * ss];
    for (slot, e) in array.chunks_exact_mut(GPT_ENTRY_SIZE).zip(entries) {
        slot.copy_from_slice(&e.to_bytes());
    }
    let header = GptHeader {
        signature: GPT_SIGNATURE,
        revision: GPT_REVISION_1_0,
        header_size: GPT_HEADER_SIZE as u32,
        header_crc32: 0,
        reserved: 0,
        my_lba: 1,
        alternate_lba: geometry.backup_header_lba(),
        first_usable_lba: geometry.first_usable_lba(),
        last_usable_lba: geometry.last_usable_lba(),
        disk_guid,
        partition_entry_lba: geometry.primary_entries_lba(),
        number_of_partition_entries: NEW_GPT_ENTRIES,
        size_of_partition_entry: GPT_ENTRY_SIZE as u32,
        partition_entry_array_crc32: 0,
    };
    let lba0 = protective_mbr_sector(geometry.disk_sectors, boot_code);
    Gpt::new_unwritten(
        geometry.sector_size,
        header,
        array,
        geometry.backup_header_lba(),
        geometry.backup_entries_lba(),
    )
    .write(dev)?;
    write_lba0(dev, &lba0)
}

/// Write a new MBR partition table on `dev` (LBA 0: `boot_code`, `disk_signature`, the
/// four `records`, 0x55AA; the rest of a larger sector zero), then flush. Records are
/// checked as [`Mbr::parse`] checks them, and must not cover LBA 0 nor overlap.
pub fn write_mbr<D: BlockDevice>(
    dev: &mut D,
    disk_signature: u32,
    records: [MbrPartitionRecord; 4],
    boot_code: &[u8; BOOT_CODE_BYTES],
) -> Result<(), Error> {
    crate::check_sector_size(dev.sector_size())?;
    let disk_sectors = dev.sector_count();
    let lba0 = mbr_sector(disk_signature, records, boot_code);
    Mbr::parse(&lba0, disk_sectors)?;
    let mut ranges = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if r.is_unused() {
            continue;
        }
        // Mbr::parse checked the size is not zero and the end is on the disk.
        let first = u64::from(r.starting_lba);
        if first == 0 {
            return Err(Error::MbrRecordRange {
                slot: i as u8 + 1,
                starting_lba: r.starting_lba,
                size_in_lba: r.size_in_lba,
                disk_sectors,
            });
        }
        ranges.push((i as u32 + 1, first, first + u64::from(r.size_in_lba) - 1));
    }
    check_no_overlap(&ranges)?;
    write_lba0(dev, &lba0)
}

/// LBA 0 of a GPT disk of `disk_sectors` sectors as [`write_gpt`] writes it: `boot_code`,
/// disk signature 0, one protective 0xEE record over the rest of the disk, 0x55AA. For
/// rewriting a lost LBA 0 in front of a GPT that survived (`bootshelf update`).
pub fn protective_mbr_sector(disk_sectors: u64, boot_code: &[u8; BOOT_CODE_BYTES]) -> [u8; 512] {
    mbr_sector(0, protective_records(disk_sectors), boot_code)
}

/// An MBR partition record over `range`: 32-bit LBA and size, CHS in the 255 x 63
/// translation (saturated as [`chs`] does), boot indicator 0x80 when `bootable`.
pub fn mbr_record(
    range: LbaRange,
    os_type: MbrType,
    bootable: bool,
) -> Result<MbrPartitionRecord, Error> {
    let beyond = || Error::BeyondMbrLimit { last: range.last() };
    if range.last() > u64::from(u32::MAX) {
        return Err(beyond());
    }
    Ok(MbrPartitionRecord {
        boot_indicator: if bootable { 0x80 } else { 0x00 },
        starting_chs: chs(range.first()),
        os_type: os_type.0,
        ending_chs: chs(range.last()),
        starting_lba: u32::try_from(range.first()).map_err(|_| beyond())?,
        size_in_lba: u32::try_from(range.sectors()).map_err(|_| beyond())?,
    })
}

/// The records of a protective MBR: one 0xEE record from LBA 1 over the rest of the disk
/// (0xFFFFFFFF sectors when that does not fit 32 bits), CHS 0/0/2 to the "beyond CHS"
/// marker.
fn protective_records(disk_sectors: u64) -> [MbrPartitionRecord; 4] {
    let protective = MbrPartitionRecord {
        boot_indicator: 0,
        starting_chs: [0x00, 0x02, 0x00],
        os_type: MbrType::GPT_PROTECTIVE.0,
        ending_chs: [0xFF, 0xFF, 0xFF],
        starting_lba: 1,
        size_in_lba: u32::try_from(disk_sectors - 1).unwrap_or(u32::MAX),
    };
    [
        protective,
        MbrPartitionRecord::default(),
        MbrPartitionRecord::default(),
        MbrPartitionRecord::default(),
    ]
}

/// The 512 bytes of an MBR.
fn mbr_sector(
    disk_signature: u32,
    records: [MbrPartitionRecord; 4],
    boot_code: &[u8; BOOT_CODE_BYTES],
) -> [u8; 512] {
    MbrSector {
        boot_code: *boot_code,
        unique_mbr_disk_signature: disk_signature,
        unknown: 0,
        partition_record: records,
        signature: MBR_SIGNATURE,
    }
    .to_bytes()
}

/// Write `mbr` as LBA 0 (zero-padded to the sector size) and flush.
fn write_lba0<D: BlockDevice>(dev: &mut D, mbr: &[u8; 512]) -> Result<(), Error> {
    let mut sector = vec![0u8; crate::check_sector_size(dev.sector_size())?];
    if let Some(d) = sector.get_mut(..512) {
        d.copy_from_slice(mbr);
    }
    let io = |what: &'static str| {
        move |error| Error::Io {
            what,
            lba: 0,
            error,
        }
    };
    dev.write_sectors(0, &sector).map_err(io("MBR"))?;
    dev.flush().map_err(io("MBR (flush)"))
}

/// Every used entry inside the usable LBAs, not reversed, and no two overlapping.
fn check_gpt_entries(g: &GptGeometry, entries: &[GptPartitionEntry]) -> Result<(), Error> {
    if entries.len() > NEW_GPT_ENTRIES as usize {
        return Err(Error::TooManyEntries {
            count: entries.len(),
            max: NEW_GPT_ENTRIES,
        });
    }
    let mut ranges = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        if e.is_unused() {
            continue;
        }
        let number = i as u32 + 1;
        if e.starting_lba > e.ending_lba
            || e.starting_lba < g.first_usable_lba()
            || e.ending_lba > g.last_usable_lba()
        {
            return Err(Error::GptEntryRange {
                copy: GptCopy::Primary,
                number,
                first: e.starting_lba,
                last: e.ending_lba,
            });
        }
        ranges.push((number, e.starting_lba, e.ending_lba));
    }
    check_no_overlap(&ranges)
}

/// `(number, first, last)` ranges, in number order, share no sector.
fn check_no_overlap(ranges: &[(u32, u64, u64)]) -> Result<(), Error> {
    for (i, &(a, a_first, a_last)) in ranges.iter().enumerate() {
        for &(b, b_first, b_last) in &ranges[i + 1..] {
            if a_first <= b_last && b_first <= a_last {
                return Err(Error::PartitionsOverlap {
                    first: a,
                    second: b,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpt::{encode_name, types, GptHealth};
    use crate::table::Table;
    use blockdev::MemDevice;

    fn entry(ty: Guid, first: u64, last: u64, name: &str) -> GptPartitionEntry {
        GptPartitionEntry {
            partition_type_guid: ty,
            unique_partition_guid: Guid([first as u8 | 1; 16]),
            starting_lba: first,
            ending_lba: last,
            attributes: 0,
            partition_name: encode_name(name),
        }
    }

    const DISK_GUID: Guid = Guid([0x42; 16]);

    /// Data at 1 MiB, ESP after it, BIOS boot before it, slot 4 unused.
    fn stick_entries(ss: u32, disk: u64) -> Vec<GptPartitionEntry> {
        let mib = (1 << 20) / u64::from(ss);
        let g = GptGeometry::new(ss, disk).unwrap();
        vec![
            entry(types::MICROSOFT_BASIC_DATA, mib, 3 * mib - 1, "BOOTSHELF"),
            entry(types::EFI_SYSTEM, 3 * mib, 4 * mib - 1, "BOOTSHELF EFI"),
            entry(
                types::BIOS_BOOT,
                g.first_usable_lba(),
                mib - 1,
                "BOOTSHELF BIOS",
            ),
        ]
    }

    #[test]
    fn geometry_matches_what_sgdisk_makes() {
        let g = GptGeometry::new(512, 100_000).unwrap();
        assert_eq!(
            (g.first_usable_lba(), g.last_usable_lba()),
            (34, 100_000 - 34)
        );
        assert_eq!(
            (g.backup_entries_lba(), g.backup_header_lba()),
            (99_967, 99_999)
        );
        let g = GptGeometry::new(4096, 10_000).unwrap();
        assert_eq!((g.first_usable_lba(), g.last_usable_lba()), (6, 10_000 - 6));
        assert_eq!(
            GptGeometry::new(512, 67),
            Err(Error::DiskTooSmall { sectors: 67 })
        );
        assert!(GptGeometry::new(512, 68).is_ok());
        assert_eq!(
            GptGeometry::new(1000, 1 << 20),
            Err(Error::SectorSize { found: 1000 })
        );
    }

    #[test]
    fn a_new_gpt_reads_back_clean_on_512_and_4096() {
        for ss in [512u32, 4096] {
            let disk = (8 << 20) / u64::from(ss);
            let mut dev = MemDevice::new(ss, disk);
            let entries = stick_entries(ss, disk);
            write_gpt(&mut dev, DISK_GUID, &entries, &[0xB0; BOOT_CODE_BYTES]).unwrap();
            let Table::Gpt {
                protective: mbr,
                gpt,
            } = Table::read(&mut dev).unwrap()
            else {
                panic!("{ss}: not read as a GPT");
            };
            assert_eq!(*gpt.health(), GptHealth::Clean, "{ss}");
            assert_eq!(gpt.disk_guid(), DISK_GUID);
            assert_eq!(gpt.entry_count(), NEW_GPT_ENTRIES);
            for (i, e) in entries.iter().enumerate() {
                assert_eq!(gpt.entry(i as u32), Some(*e), "{ss}: entry {}", i + 1);
            }
            for i in entries.len() as u32..NEW_GPT_ENTRIES {
                assert_eq!(gpt.entry(i), Some(GptPartitionEntry::UNUSED));
            }
            let g = GptGeometry::new(ss, disk).unwrap();
            assert_eq!(gpt.first_usable_lba(), g.first_usable_lba());
            assert_eq!(gpt.last_usable_lba(), g.last_usable_lba());
            assert_eq!(gpt.backup_lba(), disk - 1);
            assert!(mbr.is_protective());
            let sector = mbr.sector();
            assert_eq!(sector.boot_code, [0xB0; BOOT_CODE_BYTES]);
            assert_eq!(sector.unique_mbr_disk_signature, 0);
            assert_eq!(
                sector.partition_record[0],
                MbrPartitionRecord {
                    boot_indicator: 0,
                    starting_chs: [0, 2, 0],
                    os_type: 0xEE,
                    ending_chs: [0xFF; 3],
                    starting_lba: 1,
                    size_in_lba: (disk - 1) as u32,
                }
            );
            assert!(sector.partition_record[1..].iter().all(|r| r.is_unused()));
            // The rest of a 4096-byte LBA 0 is zero.
            assert!(dev.data[512..ss as usize].iter().all(|&b| b == 0));
            let layout = crate::Layout::of(&Table::read(&mut dev).unwrap()).unwrap();
            assert_eq!(layout.window, None);
        }
    }

    #[test]
    fn protective_record_saturates_beyond_32_bits() {
        let r = protective_records(1 << 33)[0];
        assert_eq!(r.size_in_lba, u32::MAX);
    }

    #[test]
    fn bad_new_tables_are_refused_and_nothing_is_written() {
        let disk = 20_000;
        let mut dev = MemDevice::new(512, disk);
        let good = stick_entries(512, disk);
        let code = [0; BOOT_CODE_BYTES];
        let mut overlap = good.clone();
        overlap[1].starting_lba = overlap[0].ending_lba;
        assert_eq!(
            write_gpt(&mut dev, DISK_GUID, &overlap, &code),
            Err(Error::PartitionsOverlap {
                first: 1,
                second: 2
            })
        );
        let mut outside = good.clone();
        outside[1].ending_lba = disk - 33;
        assert!(matches!(
            write_gpt(&mut dev, DISK_GUID, &outside, &code),
            Err(Error::GptEntryRange { number: 2, .. })
        ));
        let mut reversed = good.clone();
        reversed[2].starting_lba = reversed[2].ending_lba + 1;
        assert!(matches!(
            write_gpt(&mut dev, DISK_GUID, &reversed, &code),
            Err(Error::GptEntryRange { number: 3, .. })
        ));
        let many = vec![GptPartitionEntry::UNUSED; 129];
        assert_eq!(
            write_gpt(&mut dev, DISK_GUID, &many, &code),
            Err(Error::TooManyEntries {
                count: 129,
                max: 128
            })
        );
        let r = |first: u64, sectors: u64| {
            mbr_record(
                LbaRange::new(first, first + sectors - 1).unwrap(),
                MbrType::EXFAT,
                false,
            )
            .unwrap()
        };
        let unused = MbrPartitionRecord::default();
        assert_eq!(
            write_mbr(
                &mut dev,
                1,
                [r(2048, 100), r(2100, 10), unused, unused],
                &code
            ),
            Err(Error::PartitionsOverlap {
                first: 1,
                second: 2
            })
        );
        assert!(matches!(
            write_mbr(&mut dev, 1, [r(0, 100), unused, unused, unused], &code),
            Err(Error::MbrRecordRange { slot: 1, .. })
        ));
        assert!(matches!(
            write_mbr(
                &mut dev,
                1,
                [unused, r(disk - 10, 11), unused, unused],
                &code
            ),
            Err(Error::MbrRecordRange { slot: 2, .. })
        ));
        assert!(dev.data.iter().all(|&b| b == 0));
    }

    #[test]
    fn a_new_mbr_reads_back_with_its_records_and_boot_code() {
        for ss in [512u32, 4096] {
            let disk = (64 << 20) / u64::from(ss);
            let mib = (1 << 20) / u64::from(ss);
            let mut dev = MemDevice::new(ss, disk);
            dev.data[..ss as usize].fill(0x77);
            let data = mbr_record(
                LbaRange::new(mib, disk - 33 * mib - 1).unwrap(),
                MbrType::EXFAT,
                true,
            )
            .unwrap();
            let esp = mbr_record(
                LbaRange::new(disk - 33 * mib, disk - mib - 1).unwrap(),
                MbrType::EFI_SYSTEM,
                false,
            )
            .unwrap();
            let unused = MbrPartitionRecord::default();
            write_mbr(
                &mut dev,
                0xDEAD_BEEF,
                [data, esp, unused, unused],
                &[0xC3; BOOT_CODE_BYTES],
            )
            .unwrap();
            let Table::Mbr(mbr) = Table::read(&mut dev).unwrap() else {
                panic!("{ss}: not read as an MBR");
            };
            assert_eq!(mbr.records(), &[data, esp, unused, unused]);
            assert_eq!(mbr.sector().unique_mbr_disk_signature, 0xDEAD_BEEF);
            assert_eq!(mbr.sector().boot_code, [0xC3; BOOT_CODE_BYTES]);
            assert!(dev.data[512..ss as usize].iter().all(|&b| b == 0));
            let layout = crate::Layout::of(&Table::read(&mut dev).unwrap()).unwrap();
            assert_eq!(layout.data.first_lba, mib);
        }
    }

    #[test]
    fn mbr_records_have_chs_and_32_bit_limits() {
        let r = mbr_record(LbaRange::new(2048, 4095).unwrap(), MbrType::EXFAT, true).unwrap();
        assert_eq!(
            r,
            MbrPartitionRecord {
                boot_indicator: 0x80,
                starting_chs: [32, 33, 0],
                os_type: 0x07,
                ending_chs: chs(4095),
                starting_lba: 2048,
                size_in_lba: 2048,
            }
        );
        let top = u64::from(u32::MAX);
        assert!(mbr_record(LbaRange::new(top - 9, top).unwrap(), MbrType::EXFAT, false).is_ok());
        assert_eq!(
            mbr_record(
                LbaRange::new(top - 9, top + 1).unwrap(),
                MbrType::EXFAT,
                false
            ),
            Err(Error::BeyondMbrLimit { last: top + 1 })
        );
        // 2^32 sectors from LBA 0 do not fit the 32-bit size either.
        assert_eq!(
            mbr_record(LbaRange::new(0, top).unwrap(), MbrType::EXFAT, false),
            Err(Error::BeyondMbrLimit { last: top })
        );
    }
}
