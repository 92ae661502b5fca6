//! `format` output checked by fsck.exfat and dump.exfat, then read back by `Volume`.

mod common;

use blockdev::MemDevice;
use common::*;
use exfat::{format, FormatOptions, Volume};

fn formatted(ss: u32, bytes: u64, start: u64, label: &str) -> MemDevice {
    let sectors = bytes / u64::from(ss);
    let mut dev = MemDevice::new(ss, start + sectors + 7);
    // Garbage everywhere first: format must not depend on a zeroed device.
    let junk: Vec<u8> = (0..4096).map(|i| (i * 31 % 251) as u8).collect();
    for chunk in dev.data.chunks_mut(4096) {
        chunk.copy_from_slice(&junk[..chunk.len()]);
    }
    format(
        &mut dev,
        start,
        sectors,
        &FormatOptions {
            label,
            cluster_size: None,
            volume_serial: 0x1234_ABCD,
        },
    )
    .unwrap();
    dev
}

#[test]
fn format_passes_fsck_and_opens_512_and_4096() {
    for ss in [512u32, 4096] {
        for mib in [4u64, 33, 300] {
            let start = 2048 * 512 / u64::from(ss);
            let bytes = mib << 20;
            let dev = formatted(ss, bytes, start, "BOOTSHELF");
            let s = (start * u64::from(ss)) as usize;
            assert_fsck_clean(&dev, s, bytes as usize, &format!("fmt-{ss}-{mib}"));
            let sectors = bytes / u64::from(ss);
            let mut v = Volume::open(dev, start, sectors).unwrap();
            assert_eq!(v.label(), "BOOTSHELF");
            assert_eq!(v.serial(), 0x1234_ABCD);
            assert_eq!(
                v.cluster_size(),
                if mib < 256 { 4096 } else { 32768 },
                "{ss} {mib}"
            );
            assert!(v.read_dir("/").unwrap().is_empty());
            let free = v.free_bytes().unwrap();
            assert_eq!(free, v.largest_free_run().unwrap());
            assert!(free > bytes * 8 / 10 || mib < 8, "{free} of {bytes}");
            assert!(v.stat("/").unwrap().is_dir);
        }
    }
}
