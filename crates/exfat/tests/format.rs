//! `format` output checked by fsck.exfat and dump.exfat, then read back by `Volume`.

mod common;

use blockdev::MemDevice;
use common::*;
use exfat::{format, FormatOptions, Volume};
use testkit::TempDir;

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

/// Our layout equals mkfs.exfat's (exfatprogs 1.2.0) for volumes of 32 MiB and more:
/// same cluster size, FAT offset and length, cluster heap offset and cluster count.
#[test]
fn layout_matches_mkfs_exfat() {
    let t = TempDir::new("mkfs-layout");
    for bytes in [40u64 << 20, 300 << 20, 1 << 30, 40 << 30, 700 << 30] {
        let img = t.path("m.img");
        let f = std::fs::File::create(&img).unwrap();
        f.set_len(bytes).unwrap();
        drop(f);
        let st = std::process::Command::new("mkfs.exfat")
            .arg(&img)
            .output()
            .unwrap();
        assert!(st.status.success());
        let out = std::process::Command::new("dump.exfat")
            .arg(&img)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let field = |name: &str| -> u64 {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap();
            line.rsplit(|c: char| c.is_whitespace())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let cs = exfat::default_cluster_size(bytes);
        let l = exfat::layout(512, bytes / 512, cs).unwrap();
        assert_eq!(u64::from(cs), field("Cluster size:"), "{bytes}");
        assert_eq!(u64::from(l.fat_offset), field("FAT Offset"), "{bytes}");
        assert_eq!(u64::from(l.fat_length), field("FAT Length"), "{bytes}");
        assert_eq!(
            u64::from(l.heap_offset),
            field("Cluster Heap Offset"),
            "{bytes}"
        );
        assert_eq!(
            u64::from(l.cluster_count),
            field("Cluster Count"),
            "{bytes}"
        );
        std::fs::remove_file(&img).unwrap();
    }
}

/// exfatlabel (exfatprogs) reads the label and serial we write.
#[test]
fn exfatlabel_reads_our_label_and_serial() {
    let dev = formatted(512, 40 << 20, 0, "Bööt Shelf");
    let t = TempDir::new("label");
    let img = t.path("l.img");
    std::fs::write(&img, &dev.data).unwrap();
    let out = std::process::Command::new("exfatlabel")
        .arg(&img)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Bööt Shelf"), "{text}");
    let out = std::process::Command::new("exfatlabel")
        .arg("-i")
        .arg(&img)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.contains("0x1234abcd"), "{text}");
}

/// Empty and full-length labels, and a label that is too long.
#[test]
fn labels_empty_and_eleven_units() {
    for label in ["", "ABCDEFGHIJK", "ÄÖÜäöüßéèêë"] {
        let dev = formatted(512, 8 << 20, 0, label);
        assert_fsck_clean(&dev, 0, 8 << 20, "labels");
        let v = Volume::open(dev, 0, (8 << 20) / 512).unwrap();
        assert_eq!(v.label(), label);
    }
    let mut dev = MemDevice::new(512, (8 << 20) / 512);
    let r = format(
        &mut dev,
        0,
        (8 << 20) / 512,
        &FormatOptions {
            label: "TWELVE CHARS",
            cluster_size: None,
            volume_serial: 1,
        },
    );
    assert!(matches!(r, Err(exfat::Error::InvalidName { .. })));
    assert!(dev.data.iter().all(|&b| b == 0), "nothing written");
}
