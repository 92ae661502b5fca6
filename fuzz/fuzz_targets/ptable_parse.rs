//! Fuzz the partition table parser and the window writer on arbitrary disks: no input may
//! panic, and a table that does not read as bootshelf's is never written to. On MBR the
//! window writer empties the data partition's record while a window is set: the layout
//! read back keeps the same data partition, and a clear gives back the disk as it was.
//!
//! Byte 0 chooses the sector size (bit 0: 512 or 4096) and where the fake ISO lies (the
//! other bits); the rest is a disk in the sparse format of `bootshelf_fuzz` (sector count,
//! then (LBA, sectors) records), so a disk's head and its backup GPT at the far end fit in
//! a few KiB. Each input is tried as it is and again with the CRCs of both GPT copies
//! (header and entry array) recomputed, so mutations get past the checksums and reach the
//! structural checks. Seeds: `make_seeds.sh` (sgdisk, sfdisk, `bootshelf install`).
#![no_main]

use blockdev::{BlockDevice, Extent};
use bootshelf_fuzz::{repair_gpt, SparseDisk};
use libfuzzer_sys::fuzz_target;

fn check(mut dev: SparseDisk, mode: u8) {
    let ss = dev.sector_size();
    if let Ok(t) = ptable::Table::read(&mut dev) {
        for p in t.partitions() {
            assert!(p.first_lba <= p.last_lba);
        }
        let _ = ptable::Layout::of(&t);
    }
    let found = ptable::read_layout(&mut dev).ok().map(|(_, l)| l);
    let readable = found.is_some();
    let before = dev.clone();
    let start = u64::from(mode >> 1) * u64::from(ss) * 4;
    let r = ptable::set_window(&mut dev, &[Extent { start, len: 4096 }]);
    if !readable {
        assert!(r.is_err());
        assert!(dev == before, "an unreadable table was written to");
    } else if r.is_ok() {
        // What was written reads back with the window in place, and clears.
        let (_, lay) = ptable::read_layout(&mut dev).expect("own write unreadable");
        assert!(lay.window.is_some());
        let was = found.expect("readable");
        assert_eq!(lay.data_hidden, lay.scheme == ptable::Scheme::Mbr);
        assert_eq!(
            (lay.data.first_lba, lay.data.last_lba),
            (was.data.first_lba, was.data.last_lba),
            "the data partition moved"
        );
        assert!(ptable::clear_window(&mut dev).is_ok());
        let (_, lay) = ptable::read_layout(&mut dev).expect("own clear unreadable");
        assert!(lay.window.is_none());
        assert!(!lay.data_hidden);
        // Slots 3 and 4 all zero (a clear writes them so) and the data record in use.
        let untouched = !was.data_hidden
            && match ptable::Table::read(&mut before.clone()) {
                Ok(ptable::Table::Mbr(mbr)) => mbr.records()[2..]
                    .iter()
                    .all(|r| *r == ptable::raw::MbrPartitionRecord::default()),
                _ => false,
            };
        if untouched {
            assert!(dev == before, "set + clear did not give back the MBR");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, disk)) = data.split_first() else {
        return;
    };
    let ss: u32 = if mode & 1 == 0 { 512 } else { 4096 };
    let Some(dev) = SparseDisk::parse(ss, disk) else {
        return;
    };
    if dev.sector_count() == 0 {
        return;
    }
    let mut fixed = dev.clone();
    repair_gpt(&mut fixed);
    let differs = fixed != dev;
    check(dev, mode);
    if differs {
        check(fixed, mode);
    }
});
