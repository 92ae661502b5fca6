//! Fuzz the whole reading of a stick, as the loaders and `bootshelf list` do it:
//! `shelf::discover` (partition layout, exFAT data volume, both index slots, the ISO scan,
//! each ISO's El Torito catalog). No input may panic or hang, and what it lists must be
//! readable: every extent of every entry lies inside the data partition and its first
//! sector reads through the device, and an entry without a problem is covered by its
//! extents (at least its size, as the index format asks).
//!
//! The template (`templates/stick.sparse`, made by `make_seeds.sh`): a 50 MiB stick made by
//! `bootshelf install` with one tiny BIOS+UEFI ISO added by `bootshelf add`, as a sparse
//! disk keeping the non-zero sectors of the partition tables (both GPT copies) and of the
//! exFAT data partition (boot region, FAT, bitmap, up-case table, folders, both index
//! slots, the ISO). The ESP and the BIOS boot partition, which discovery never reads, are
//! left out (they read as zeros).
//!
//! Input: byte 0 is the mode, the rest 4-byte patches (3-byte offset into the stored
//! sectors taken in LBA order, 1-byte value) applied to the template. Mode bit 0: then
//! recompute both GPT copies' CRCs; bit 1: then recompute the CRC of every index slot, so
//! patches reach the table's and the index's structural checks.
#![no_main]

use blockdev::BlockDevice;
use bootshelf_fuzz::{repair_gpt, repair_index, SparseDisk};
use libfuzzer_sys::fuzz_target;
use shelf::{Firmware, Limits};
use std::sync::OnceLock;

static TEMPLATE: &[u8] = include_bytes!("../templates/stick.sparse");

fn template() -> &'static (SparseDisk, Vec<u64>) {
    static T: OnceLock<(SparseDisk, Vec<u64>)> = OnceLock::new();
    T.get_or_init(|| {
        let d = SparseDisk::parse(512, TEMPLATE).expect("template");
        let keys = d.keys();
        (d, keys)
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (t, keys) = template();
    let mut dev = t.clone();
    for p in rest.chunks_exact(4) {
        let off = usize::from(p[0]) | usize::from(p[1]) << 8 | usize::from(p[2]) << 16;
        dev.patch_stored(off, p[3], keys);
    }
    if mode & 1 != 0 {
        repair_gpt(&mut dev);
    }
    if mode & 2 != 0 {
        repair_index(&mut dev);
    }
    let ss = u64::from(dev.sector_size());
    let found = shelf::discover(&mut dev, &Limits::default());
    if rest.is_empty() {
        // The unpatched template: the one ISO, indexed, bootable both ways.
        let d = found.as_ref().expect("template discovers");
        assert_eq!(d.entries.len(), 1, "{:?}", d.entries);
        assert!(d.entries[0].uefi() && d.entries[0].bios());
    }
    let Ok(d) = found else {
        return;
    };
    let (first, last) = (
        d.layout.data.first_lba * ss,
        (d.layout.data.last_lba + 1) * ss,
    );
    for e in &d.entries {
        let _ = (
            e.blocked(Firmware::Uefi),
            e.blocked(Firmware::Bios),
            e.is_contiguous(),
        );
        let mut total = 0u64;
        for x in &e.extents {
            let end = x.start.checked_add(x.len).expect("extent end overflows");
            assert!(
                x.start >= first && end <= last,
                "{}: extent {x:?} outside the data partition {first}..{last}",
                e.path
            );
            if x.len > 0 {
                let mut buf = vec![0u8; ss as usize];
                dev.read_sectors(x.start / ss, &mut buf)
                    .expect("first sector of a listed extent reads");
            }
            total += x.len;
        }
        if e.problem.is_none() {
            assert!(total >= e.size, "{}: extents do not cover the file", e.path);
        }
    }
});
