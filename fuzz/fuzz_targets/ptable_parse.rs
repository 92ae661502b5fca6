//! Fuzz the partition table parser and the window writer on arbitrary disks: no input may
//! panic, and a table that does not read as bootshelf's is never written to.
//!
//! Byte 0 chooses the sector size (bit 0: 512 or 4096) and where the fake ISO lies (the
//! other bits); the rest is the disk. Seeds (not committed): a tiny bootshelf-shaped GPT,
//! `truncate -s 64K d && sgdisk -n 1:40:80 -t 1:0700 -n 2:81:90 -t 2:ef00 d`, and an MBR,
//! `printf 'label: dos\nstart=8,size=60,type=7\nstart=70,size=20,type=ef\n' | sfdisk d`,
//! each prefixed with one mode byte: `(printf '\x18'; cat d) > corpus/ptable_parse/gpt`.
#![no_main]

use blockdev::{Extent, MemDevice};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, disk)) = data.split_first() else {
        return;
    };
    let ss: u32 = if mode & 1 == 0 { 512 } else { 4096 };
    let mut bytes = disk.to_vec();
    bytes.truncate(bytes.len() - bytes.len() % ss as usize);
    if bytes.is_empty() {
        return;
    }
    let mut dev = MemDevice::from_bytes(ss, bytes);
    if let Ok(t) = ptable::Table::read(&mut dev) {
        for p in t.partitions() {
            assert!(p.first_lba <= p.last_lba);
        }
        let _ = ptable::Layout::of(&t);
    }
    let readable = ptable::read_layout(&mut dev).is_ok();
    let before = dev.data.clone();
    let start = u64::from(mode >> 1) * u64::from(ss) * 4;
    let r = ptable::set_window(&mut dev, &[Extent { start, len: 4096 }]);
    if !readable {
        assert!(r.is_err());
        assert!(dev.data == before, "an unreadable table was written to");
    } else if r.is_ok() {
        // What was written reads back with the window in place, and clears.
        let (_, lay) = ptable::read_layout(&mut dev).expect("own write unreadable");
        assert!(lay.window.is_some());
        assert!(ptable::clear_window(&mut dev).is_ok());
        let (_, lay) = ptable::read_layout(&mut dev).expect("own clear unreadable");
        assert!(lay.window.is_none());
    }
});
