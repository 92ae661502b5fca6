//! Fuzz exfat's read side (what the bootloaders run on a stick): `Volume::open`, then
//! `read_dir` of every directory, `read_dir_tolerant` of the root, `stat`, `extents` and `read_at` of every entry, and the
//! free-space scans. Hostile bytes must give an error, never a panic or a hang.
//!
//! Input: first byte selects the mode. Even: the rest is a list of 4-byte patches
//! (3-byte offset, 1 byte value) applied to a small valid volume with a directory tree,
//! which reaches deep code quickly. Odd: the rest is an image (bit 1: 4096-byte sectors,
//! else 512), raw, or with bit 2 in the sparse format of `bootshelf_fuzz` (how the
//! mkfs.exfat seeds of `make_seeds.sh` fit in a few KiB).
#![no_main]

use blockdev::{BlockDevice, MemDevice};
use bootshelf_fuzz::SparseDisk;
use exfat::{format, FormatOptions, Volume};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn template() -> &'static Vec<u8> {
    static T: OnceLock<Vec<u8>> = OnceLock::new();
    T.get_or_init(|| {
        let sectors = 2 * 1024 * 1024 / 512;
        let mut dev = MemDevice::new(512, sectors as u64);
        let opts = FormatOptions {
            label: "FUZZ",
            cluster_size: Some(512),
            volume_serial: 1,
        };
        format(&mut dev, 0, sectors as u64, &opts).expect("format");
        let mut v = Volume::open(dev, 0, sectors as u64).expect("open");
        v.mkdir("/d").expect("mkdir");
        v.mkdir("/d/e").expect("mkdir");
        v.write_file("/d/e/f.txt", &[7u8; 3000]).expect("write");
        v.write_file("/a.iso", &[1u8; 5000]).expect("write");
        for i in 0..20 {
            v.write_file(&format!("/d/n{i}"), &[i as u8; 100])
                .expect("write");
        }
        v.write_file(&format!("/d/{}", "long".repeat(60)), b"x")
            .expect("write");
        let fc = v.stat("/a.iso").expect("stat").first_cluster;
        let mut data = v.into_inner().data;
        fragment(&mut data, fc, 10);
        data
    })
}

/// Turn the contiguous file whose stream entry names `first` (and `n` clusters) into a
/// FAT-chained, fragmented one: FAT links in the order first, first+2, ..., first+1,
/// first+3, ..., NoFatChain cleared, set checksum fixed. So the template also has a chain.
fn fragment(data: &mut [u8], first: u32, n: u32) {
    let le32 = |d: &[u8], o: usize| u32::from_le_bytes([d[o], d[o + 1], d[o + 2], d[o + 3]]);
    let fat = le32(data, 80) as usize * 512;
    let heap = le32(data, 88) as usize * 512;
    let order: Vec<u32> = (0..n)
        .step_by(2)
        .chain((1..n).step_by(2))
        .map(|k| first + k)
        .collect();
    for w in order.windows(2) {
        data[fat + w[0] as usize * 4..][..4].copy_from_slice(&w[1].to_le_bytes());
    }
    if let Some(&last) = order.last() {
        data[fat + last as usize * 4..][..4].copy_from_slice(&u32::MAX.to_le_bytes());
    }
    let mut off = heap;
    while off + 64 <= data.len() {
        if data[off] == 0x85 && data[off + 32] == 0xC0 && le32(data, off + 52) == first {
            data[off + 33] &= !0x02;
            let count = usize::from(data[off + 1]) + 1;
            let mut sum = 0u16;
            for (i, &b) in data[off..off + 32 * count].iter().enumerate() {
                if i != 2 && i != 3 {
                    sum = sum.rotate_right(1).wrapping_add(u16::from(b));
                }
            }
            data[off + 2..off + 4].copy_from_slice(&sum.to_le_bytes());
            return;
        }
        off += 32;
    }
}

fn walk<D: BlockDevice>(v: &mut Volume<D>, path: &str, depth: u32, budget: &mut u32) {
    let Ok(entries) = v.read_dir(if path.is_empty() { "/" } else { path }) else {
        return;
    };
    for e in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let p = format!("{path}/{}", e.name);
        let Ok(s) = v.stat(&p) else { continue };
        if let Ok(ext) = v.extents(&s) {
            assert_eq!(ext.iter().map(|x| x.len).sum::<u64>(), s.size);
        }
        let mut buf = vec![0u8; s.size.min(4096) as usize];
        let _ = v.read_at(&s, 0, &mut buf);
        if s.is_dir && depth < 4 {
            walk(v, &p, depth + 1, budget);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let mut img = template().clone();
        for p in rest.chunks_exact(4) {
            let off =
                (usize::from(p[0]) | usize::from(p[1]) << 8 | usize::from(p[2]) << 16) % img.len();
            img[off] = p[3];
        }
        exercise(MemDevice::from_bytes(512, img), rest.is_empty());
        return;
    }
    let ss = if mode & 2 != 0 { 4096 } else { 512 };
    if mode & 4 != 0 {
        if let Some(d) = SparseDisk::parse(ss, rest) {
            exercise(d, false);
        }
    } else {
        let mut img = rest.to_vec();
        img.resize(img.len().div_ceil(ss as usize) * ss as usize, 0);
        exercise(MemDevice::from_bytes(ss, img), false);
    }
});

fn exercise<D: BlockDevice>(dev: D, pristine_template: bool) {
    let sectors = dev.sector_count();
    if let Ok(mut v) = Volume::open(dev, 0, sectors) {
        let mut budget = 200;
        walk(&mut v, "", 0, &mut budget);
        let _ = v.read_dir_tolerant("/");
        if pristine_template {
            // The unpatched template: everything reads, including the FAT chain.
            let e = v.stat("/A.ISO").expect("template file");
            assert!(!e.contiguous);
            assert_eq!(v.extents(&e).expect("chain").len(), 10);
        }
        let _ = v.free_bytes();
        let _ = v.largest_free_run();
    }
}
