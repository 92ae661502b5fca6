//! The ISO window: partition slot 4 set to exactly the chosen ISO's extent just before
//! chain-booting, so that the booted OS sees the ISO as a partition of its own (by label,
//! or by scanning partitions for its files), and cleared again afterwards. With it, when
//! the ISO has a persistence file, the writable persistence window (GPT entry 5, MBR slot
//! 3) over that file (docs/persistence.md); both are written and cleared together.
//!
//! On MBR the data partition's record is emptied (type 0x00, LBAs kept) in the same
//! sector write that sets a window, and given back its type 0x07 in the one that clears
//! it: EDK2-based UEFI firmware ignores a whole MBR whose used records overlap, and the
//! windows lie inside the data partition (docs/window.md, "MBR sticks").
//!
//! Every function reads and validates the table first, checks that it is bootshelf's
//! ([`Layout::of`]) and writes nothing otherwise. GPT writes go backup first, then primary
//! ([`Gpt::write`]); an MBR write is one sector.

use blockdev::{BlockDevice, Extent};

use crate::error::Error;
use crate::gpt::{encode_name, GptHealth};
use crate::layout::{
    persistence_number, Layout, LbaRange, DATA_MBR_TYPE, DATA_NUMBER, PERSISTENCE_GPT_ATTRIBUTES,
    PERSISTENCE_GPT_NUMBER, PERSISTENCE_NAME, WINDOW_GPT_ATTRIBUTES, WINDOW_GPT_TYPE,
    WINDOW_MBR_TYPE, WINDOW_NAME, WINDOW_NUMBER,
};
use crate::mbr::MbrType;
use crate::raw::{GptPartitionEntry, MbrPartitionRecord};
use crate::table::Table;
use crate::write::mbr_record;
use crate::Guid;
use crc32::crc32;

/// The LBAs a window over a file stored in `extents` (device bytes, in file order) must
/// cover: one run after merging adjacent extents, starting on a sector boundary. The
/// end is rounded up to a whole sector: the rest of that sector is inside the file's last
/// cluster (clusters are whole sectors), so the window never covers another file.
pub fn window_range(extents: &[Extent], sector_size: u32) -> Result<LbaRange, Error> {
    let mut merged: Option<Extent> = None;
    let mut runs = 0usize;
    for e in extents.iter().filter(|e| e.len > 0) {
        match merged.as_mut() {
            Some(m) if m.start.checked_add(m.len) == Some(e.start) => m.len += e.len,
            Some(_) => runs += 1,
            None => {
                merged = Some(*e);
                runs = 1;
            }
        }
    }
    if runs > 1 {
        return Err(Error::NotContiguous { extents: runs });
    }
    let Some(e) = merged else {
        return Err(Error::EmptyExtent);
    };
    let ss = u64::from(crate::check_sector_size(sector_size)? as u32);
    if e.start % ss != 0 {
        return Err(Error::Misaligned {
            offset: e.start,
            sector_size,
        });
    }
    let first = e.start / ss;
    let sectors = e.len.div_ceil(ss);
    LbaRange::new(first, first + sectors - 1).ok_or(Error::EmptyExtent)
}

/// The table and bootshelf's layout on `dev`, read-only.
pub fn read_layout<D: BlockDevice>(dev: &mut D) -> Result<(Table, Layout), Error> {
    let table = Table::read(dev)?;
    let layout = Layout::of(&table)?;
    Ok((table, layout))
}

/// The windows one boot writes: the ISO's, and its persistence file's when it has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// The ISO window (slot 4).
    pub iso: LbaRange,
    /// The persistence window (GPT entry 5 / MBR slot 3).
    pub persistence: Option<LbaRange>,
}

/// Write the window over the ISO stored in `extents` (and clear a persistence window).
/// Refuses (and writes nothing) when the table is not bootshelf's, the ISO is not one
/// sector-aligned extent inside the data partition, or (MBR) it lies beyond 2^32 sectors.
/// Also repairs a damaged GPT copy.
pub fn set_window<D: BlockDevice>(dev: &mut D, extents: &[Extent]) -> Result<LbaRange, Error> {
    set_windows(dev, extents, None).map(|w| w.iso)
}

/// Write the ISO window over `iso` and, when given, the writable persistence window over
/// `persistence` (both in one table write). The persistence file must meet the ISO's
/// rules too, must not overlap the ISO, and its slot must not hold a foreign partition;
/// otherwise nothing is written ([`Error::Persistence`]).
pub fn set_windows<D: BlockDevice>(
    dev: &mut D,
    iso: &[Extent],
    persistence: Option<&[Extent]>,
) -> Result<Windows, Error> {
    let (table, layout) = read_layout(dev)?;
    if let Some(e) = layout.foreign_slot_error() {
        return Err(e);
    }
    let data = layout.data_range();
    let range = checked_range(iso, dev.sector_size(), &data)?;
    let pers = match persistence {
        None => None,
        Some(ext) => {
            let boxed = |e: Error| Error::Persistence(alloc::boxed::Box::new(e));
            if let Some(e) = layout.foreign_persistence_error() {
                return Err(boxed(e));
            }
            let p = checked_range(ext, dev.sector_size(), &data).map_err(boxed)?;
            if p.overlaps(&range) {
                return Err(Error::PersistenceOverlapsIso {
                    first: p.first(),
                    last: p.last(),
                });
            }
            Some(p)
        }
    };
    let windows = Windows {
        iso: range,
        persistence: pers,
    };
    write_slots(dev, table, &layout, Some(range), pers)?;
    Ok(windows)
}

/// The LBAs of a file stored in `extents`, refused unless inside the data partition.
fn checked_range(extents: &[Extent], ss: u32, data: &LbaRange) -> Result<LbaRange, Error> {
    let range = window_range(extents, ss)?;
    if !range.within(data) {
        return Err(Error::OutsideDataPartition {
            first: range.first(),
            last: range.last(),
            data_first: data.first(),
            data_last: data.last(),
        });
    }
    Ok(range)
}

/// Clear a window left in slot 4, and a persistence window left in its slot (on MBR,
/// restoring the data partition's type in the same sector); returns the range the ISO
/// window covered, or `None` when there was none (then nothing is written unless a
/// damaged GPT copy needed repair or a persistence window was left). A foreign
/// partition 4 is never cleared: that is an error and nothing is written. A foreign
/// partition in the persistence slot is left as it is.
pub fn clear_window<D: BlockDevice>(dev: &mut D) -> Result<Option<LbaRange>, Error> {
    let (table, layout) = read_layout(dev)?;
    if let Some(e) = layout.foreign_slot_error() {
        return Err(e);
    }
    let old = layout.window;
    write_slots(dev, table, &layout, None, None)?;
    Ok(old)
}

fn write_slots<D: BlockDevice>(
    dev: &mut D,
    table: Table,
    layout: &Layout,
    range: Option<LbaRange>,
    persistence: Option<LbaRange>,
) -> Result<(), Error> {
    // Never overwrite a partition that is not bootshelf's (callers check too).
    if let Some(e) = layout.foreign_slot_error() {
        return Err(e);
    }
    // A foreign persistence slot is never touched (set_windows refuses persistence then).
    let touch_persistence = layout.foreign_persistence_slot.is_none();
    let unchanged =
        layout.window == range && (!touch_persistence || layout.persistence == persistence);
    let slot = WINDOW_NUMBER - 1;
    let pslot = persistence_number(layout.scheme) - 1;
    match table {
        Table::Gpt { mut gpt, .. } => {
            if unchanged && *gpt.health() == GptHealth::Clean {
                return Ok(());
            }
            let entry = match range {
                Some(r) => GptPartitionEntry {
                    partition_type_guid: WINDOW_GPT_TYPE,
                    unique_partition_guid: window_guid(gpt.disk_guid(), r),
                    starting_lba: r.first(),
                    ending_lba: r.last(),
                    attributes: WINDOW_GPT_ATTRIBUTES,
                    partition_name: encode_name(WINDOW_NAME),
                },
                None => GptPartitionEntry::UNUSED,
            };
            if !gpt.set_entry(slot, &entry) {
                return Err(Error::NotBootshelf {
                    number: WINDOW_NUMBER,
                    expected: "a GPT entry array with at least 4 entries",
                    found: crate::error::FoundType::Gpt(Guid::ZERO),
                });
            }
            if touch_persistence {
                let entry = match persistence {
                    Some(r) => GptPartitionEntry {
                        partition_type_guid: WINDOW_GPT_TYPE,
                        unique_partition_guid: window_guid(gpt.disk_guid(), r),
                        starting_lba: r.first(),
                        ending_lba: r.last(),
                        attributes: PERSISTENCE_GPT_ATTRIBUTES,
                        partition_name: encode_name(PERSISTENCE_NAME),
                    },
                    None => GptPartitionEntry::UNUSED,
                };
                // A table too short for entry 5 has no persistence window to clear.
                if !gpt.set_entry(pslot, &entry) && persistence.is_some() {
                    return Err(Error::Persistence(alloc::boxed::Box::new(
                        Error::NotBootshelf {
                            number: PERSISTENCE_GPT_NUMBER,
                            expected: "a GPT entry array with at least 5 entries",
                            found: crate::error::FoundType::Gpt(Guid::ZERO),
                        },
                    )));
                }
            }
            gpt.write(dev)
        }
        Table::Mbr(mut mbr) => {
            // The data partition's record is emptied exactly while a window is set
            // (docs/window.md, "MBR sticks"): hidden with the window, restored with the clear.
            let hide_data = range.is_some();
            if unchanged && layout.data_hidden == hide_data {
                return Ok(());
            }
            let record = match range {
                Some(r) => mbr_record(r, WINDOW_MBR_TYPE, false)?,
                None => MbrPartitionRecord::default(),
            };
            let precord = match persistence {
                Some(r) => mbr_record(r, WINDOW_MBR_TYPE, false)
                    .map_err(|e| Error::Persistence(alloc::boxed::Box::new(e)))?,
                None => MbrPartitionRecord::default(),
            };
            mbr.set_record(slot as usize, record);
            if touch_persistence {
                mbr.set_record(pslot as usize, precord);
            }
            let data_type = if hide_data {
                MbrType::UNUSED
            } else {
                DATA_MBR_TYPE
            };
            mbr.set_record_type(DATA_NUMBER as usize - 1, data_type);
            // One sector: the windows and the data record change together.
            mbr.write(dev)
        }
    }
}

/// A unique partition GUID for the window, derived from the disk GUID and the range (the
/// loaders have no random source): a version-4-shaped GUID that is the same for the same
/// ISO on the same stick, and differs between ISOs and sticks.
pub fn window_guid(disk: Guid, r: LbaRange) -> Guid {
    let mut seed = [0u8; 33];
    seed[..16].copy_from_slice(&disk.0);
    seed[16..24].copy_from_slice(&r.first().to_le_bytes());
    seed[24..32].copy_from_slice(&r.last().to_le_bytes());
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(4).enumerate() {
        seed[32] = i as u8;
        chunk.copy_from_slice(&crc32(&seed).to_le_bytes());
    }
    out[7] = (out[7] & 0x0F) | 0x40; // version 4 (d3's high nibble, little-endian)
    out[8] = (out[8] & 0x3F) | 0x80; // RFC 4122 variant
    Guid(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(start: u64, len: u64) -> Extent {
        Extent { start, len }
    }

    #[test]
    fn range_from_extents() {
        let r = window_range(&[ext(1 << 20, 4096), ext((1 << 20) + 4096, 2048)], 512).unwrap();
        assert_eq!((r.first(), r.last()), (2048, 2048 + 11));
        let r = window_range(&[ext(1 << 20, 6144)], 4096).unwrap();
        assert_eq!((r.first(), r.last()), (256, 257));
        assert_eq!(
            window_range(&[ext(0, 512), ext(4096, 512)], 512),
            Err(Error::NotContiguous { extents: 2 })
        );
        assert_eq!(window_range(&[], 512), Err(Error::EmptyExtent));
        assert_eq!(
            window_range(&[ext(2048, 4096)], 4096),
            Err(Error::Misaligned {
                offset: 2048,
                sector_size: 4096
            })
        );
    }

    /// A bootshelf-shaped MBR stick of 64 MiB in memory: data (0x07, active) 2048..=83967,
    /// ESP (0xEF) 83968..=100351, slots 3 and 4 unused.
    fn mbr_stick() -> blockdev::MemDevice {
        use crate::mbr::MbrType;
        let mut dev = blockdev::MemDevice::new(512, 131_072);
        let rec = |first, last, t, active| {
            crate::write::mbr_record(LbaRange::new(first, last).unwrap(), t, active).unwrap()
        };
        let records = [
            rec(2048, 83_967, MbrType::EXFAT, true),
            rec(83_968, 100_351, MbrType::EFI_SYSTEM, false),
            MbrPartitionRecord::default(),
            MbrPartitionRecord::default(),
        ];
        let code = [0x90u8; crate::write::BOOT_CODE_BYTES];
        crate::write::write_mbr(&mut dev, 0x1234_5678, records, &code).unwrap();
        dev
    }

    fn lba0(dev: &blockdev::MemDevice) -> crate::raw::MbrSector {
        let mut b = [0u8; 512];
        b.copy_from_slice(&dev.data[..512]);
        crate::raw::MbrSector::from_bytes(&b)
    }

    /// EDK2's `PartitionValidMbr` rule: no two used records (type != 0, size != 0) share a
    /// sector.
    fn used_records_overlap(s: &crate::raw::MbrSector) -> bool {
        let used: Vec<(u64, u64)> = s
            .partition_record
            .iter()
            .filter(|r| r.os_type != 0 && r.size_in_lba != 0)
            .map(|r| {
                let first = u64::from(r.starting_lba);
                (first, first + u64::from(r.size_in_lba) - 1)
            })
            .collect();
        used.iter()
            .enumerate()
            .any(|(i, a)| used.iter().skip(i + 1).any(|b| a.0 <= b.1 && b.0 <= a.1))
    }

    #[test]
    fn mbr_windows_empty_the_data_record_and_the_clear_restores_it() {
        let mut dev = mbr_stick();
        let installed = dev.data[..512].to_vec();
        let before = lba0(&dev);
        assert!(!used_records_overlap(&before));

        let w = set_windows(
            &mut dev,
            &[ext(20 << 20, 3 << 20)],
            Some(&[ext(30 << 20, 2 << 20)]),
        )
        .unwrap();
        let set = lba0(&dev);
        // Only the type byte of record 1 changed: LBAs, CHS, boot indicator are kept.
        let data = set.partition_record[0];
        assert_eq!(data.os_type, 0x00);
        assert_eq!(
            MbrPartitionRecord {
                os_type: 0x07,
                ..data
            },
            before.partition_record[0]
        );
        assert_eq!(set.partition_record[1], before.partition_record[1]);
        assert_eq!(set.partition_record[3].os_type, 0x17);
        assert_eq!(set.partition_record[2].os_type, 0x17);
        assert_eq!(set.boot_code, before.boot_code);
        assert_eq!(set.unique_mbr_disk_signature, 0x1234_5678);
        assert!(!used_records_overlap(&set), "firmware would ignore the MBR");

        // Every reader still finds the data partition, and sees it hidden.
        let (table, lay) = read_layout(&mut dev).unwrap();
        assert!(lay.data_hidden);
        assert_eq!((lay.data.first_lba, lay.data.last_lba), (2048, 83_967));
        assert_eq!(lay.window, Some(w.iso));
        assert_eq!(lay.persistence, w.persistence);
        assert_eq!(lay.esp.first_lba, 83_968);
        assert!(
            table.partition(1).is_none(),
            "the table lists no partition 1"
        );

        // Setting the same windows again writes nothing; another ISO keeps it hidden.
        let snapshot = dev.data[..512].to_vec();
        set_windows(
            &mut dev,
            &[ext(20 << 20, 3 << 20)],
            Some(&[ext(30 << 20, 2 << 20)]),
        )
        .unwrap();
        assert_eq!(dev.data[..512], snapshot[..]);
        let r = set_window(&mut dev, &[ext(40 << 20, 1 << 20)]).unwrap();
        let (_, lay) = read_layout(&mut dev).unwrap();
        assert!(lay.data_hidden);
        assert_eq!((lay.window, lay.persistence), (Some(r), None));

        // The clear gives back exactly the sector install wrote.
        assert_eq!(clear_window(&mut dev).unwrap(), Some(r));
        assert_eq!(dev.data[..512], installed[..]);
        let (_, lay) = read_layout(&mut dev).unwrap();
        assert!(!lay.data_hidden);
        assert_eq!((lay.window, lay.persistence), (None, None));
        assert_eq!(clear_window(&mut dev).unwrap(), None);
        assert_eq!(dev.data[..512], installed[..]);
    }

    #[test]
    fn a_window_left_by_an_older_loader_is_cleared_and_rewritten_with_the_data_hidden() {
        let mut dev = mbr_stick();
        let installed = dev.data[..512].to_vec();
        // An older loader wrote slot 4 and left record 1 as it was (0x07).
        let mut s = lba0(&dev);
        let r = LbaRange::new(40_960, 43_007).unwrap();
        s.partition_record[3] = mbr_record(r, WINDOW_MBR_TYPE, false).unwrap();
        dev.data[..512].copy_from_slice(&s.to_bytes());
        let (_, lay) = read_layout(&mut dev).unwrap();
        assert_eq!((lay.window, lay.data_hidden), (Some(r), false));
        // The same window set again now hides the data record.
        set_window(&mut dev, &[ext(20 << 20, 1 << 20)]).unwrap();
        assert!(read_layout(&mut dev).unwrap().1.data_hidden);
        assert_eq!(lba0(&dev).partition_record[0].os_type, 0);
        clear_window(&mut dev).unwrap();
        assert_eq!(dev.data[..512], installed[..]);
    }

    /// Found by fuzzing (ptable_parse, 600 s): a data record of type 0x07 starting at LBA
    /// 0 was taken as the data partition, the window writer emptied it, and the emptied
    /// record (which must start at LBA 1 or later) no longer read as bootshelf's: the
    /// writer wrote a table it could not read back. Such a record is not bootshelf's at
    /// all now, and nothing is written.
    #[test]
    fn a_data_record_at_lba_0_is_not_bootshelfs_and_gets_no_window() {
        let mut dev = mbr_stick();
        let mut s = lba0(&dev);
        s.partition_record[0].starting_lba = 0;
        dev.data[..512].copy_from_slice(&s.to_bytes());
        let before = dev.data.clone();
        assert!(matches!(
            read_layout(&mut dev),
            Err(Error::NotBootshelf { number: 1, .. })
        ));
        assert!(set_window(&mut dev, &[ext(20 << 20, 1 << 20)]).is_err());
        assert!(clear_window(&mut dev).is_err());
        assert!(
            dev.data == before,
            "a table not read as bootshelf's was written"
        );
    }

    #[test]
    fn an_emptied_data_record_is_bootshelfs_only_with_its_window() {
        let hidden = |edit: &dyn Fn(&mut crate::raw::MbrSector)| {
            let mut dev = mbr_stick();
            set_window(&mut dev, &[ext(20 << 20, 1 << 20)]).unwrap();
            let mut s = lba0(&dev);
            edit(&mut s);
            dev.data[..512].copy_from_slice(&s.to_bytes());
            read_layout(&mut dev).map(|(_, l)| l)
        };
        assert!(hidden(&|_| {}).unwrap().data_hidden);
        let not_data = |e: Result<Layout, Error>| {
            matches!(
                e,
                Err(Error::NotBootshelf {
                    number: 1,
                    found: crate::error::FoundType::Mbr(0),
                    ..
                })
            )
        };
        // No window: an empty record 1 with LBAs left in it is not our data partition.
        assert!(not_data(hidden(&|s| {
            s.partition_record[3] = MbrPartitionRecord::default()
        })));
        // Its LBAs past the disk's end, or a zero size: not a data partition either.
        assert!(not_data(hidden(&|s| {
            s.partition_record[0].size_in_lba = 200_000
        })));
        assert!(not_data(hidden(&|s| s.partition_record[0].size_in_lba = 0)));
        // A 0x17 record outside the emptied range is foreign, not a window.
        let l = hidden(&|s| {
            s.partition_record[0].starting_lba = 50_000;
            s.partition_record[0].size_in_lba = 1000;
        });
        assert!(not_data(l));
    }

    #[test]
    fn guid_is_stable_and_distinct() {
        let d = Guid([9; 16]);
        let a = LbaRange::new(100, 200).unwrap();
        let b = LbaRange::new(100, 201).unwrap();
        assert_eq!(window_guid(d, a), window_guid(d, a));
        assert_ne!(window_guid(d, a), window_guid(d, b));
        assert_eq!(window_guid(d, a).0[7] >> 4, 4);
    }
}
