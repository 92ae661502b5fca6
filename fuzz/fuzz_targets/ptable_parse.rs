//! Fuzz the partition table parser and the window writer on arbitrary disks: no input may
//! panic, and a table that does not read as bootshelf's is never written to.
#![no_main]

use blockdev::{BlockDevice, Extent, MemDevice};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, disk)) = data.split_first() else {
        return;
    };
    let ss = if mode & 1 == 0 { 512 } else { 4096 };
    let mut dev = MemDevice::from_bytes(ss, disk.to_vec());
    if dev.sector_count() == 0 {
        return;
    }
    let table = ptable::Table::read(&mut dev);
    if let Ok(t) = &table {
        for p in t.partitions() {
            assert!(p.first_lba <= p.last_lba);
        }
        let _ = ptable::Layout::of(t);
    }
    let readable = ptable::read_layout(&mut dev).is_ok();
    let before = dev.data.clone();
    let start = u64::from(mode >> 1) * u64::from(ss) * 8;
    let r = ptable::set_window(&mut dev, &[Extent { start, len: 4096 }]);
    if !readable {
        assert!(r.is_err());
        assert!(dev.data == before, "an unreadable table was written to");
    } else if r.is_ok() {
        // What was written reads back with the window in place, and clears.
        let (_, lay) = ptable::read_layout(&mut dev).expect("own write unreadable");
        assert!(lay.window.is_some());
        assert!(ptable::clear_window(&mut dev).is_ok());
    }
});
