//! Volumes made by mkfs.exfat and written by exfat-fuse (an independent implementation),
//! read by `Volume`: listings, sizes, bytes and extents must agree, for contiguous and
//! FAT-chained (fragmented) files, on 512- and 4096-byte sectors.

mod common;

use blockdev::MemDevice;
use common::*;
use exfat::{DirEntry, Volume};
use std::collections::BTreeMap;
use std::path::Path;
use testkit::check::fsck_exfat;
use testkit::rng::pattern;
use testkit::TempDir;

/// The same, through our reader.
fn our_tree(
    v: &mut Volume<MemDevice>,
    rel: &str,
    out: &mut BTreeMap<String, Option<Vec<u8>>>,
    entries: &mut Vec<(String, DirEntry)>,
) {
    let dir = if rel.is_empty() { "/" } else { rel };
    for e in v.read_dir(dir).unwrap() {
        let p = format!("{rel}/{}", e.name);
        entries.push((p.clone(), e.clone()));
        if e.is_dir {
            out.insert(p.clone(), None);
            our_tree(v, &p, out, entries);
        } else {
            let mut buf = vec![0u8; e.size as usize];
            v.read_at(&e, 0, &mut buf).unwrap();
            // The extents cover exactly the file and give the same bytes.
            let ext = v.extents(&e).unwrap();
            assert_eq!(ext.iter().map(|x| x.len).sum::<u64>(), e.size, "{p}");
            let mut via = Vec::new();
            for x in &ext {
                let d = &v.device().data;
                via.extend_from_slice(&d[x.start as usize..(x.start + x.len) as usize]);
            }
            assert_eq!(via, buf, "{p}: extents and read_at disagree");
            if e.contiguous {
                assert!(ext.len() <= 1);
            }
            // An unaligned read from the middle.
            if e.size > 10_000 {
                let mut part = vec![0u8; 5000];
                v.read_at(&e, 3333, &mut part).unwrap();
                assert_eq!(&part[..], &buf[3333..8333]);
            }
            out.insert(p, Some(buf));
        }
    }
}

fn check_image(img: &Path, ss: u32) -> Vec<(String, DirEntry)> {
    let t = TempDir::new("mnt");
    let mut host = BTreeMap::new();
    {
        let m = mount(img, &t.path("m"), ss);
        host_tree(m.dir(), "", &mut host);
    }
    let data = std::fs::read(img).unwrap();
    let sectors = data.len() as u64 / u64::from(ss);
    let mut v = Volume::open(MemDevice::from_bytes(ss, data), 0, sectors).unwrap();
    let mut ours = BTreeMap::new();
    let mut entries = Vec::new();
    our_tree(&mut v, "", &mut ours, &mut entries);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        host.keys().collect::<Vec<_>>()
    );
    for (k, b) in &host {
        assert!(ours[k] == *b, "{k}: bytes differ");
    }
    entries
}

/// Fill a mounted volume so that the next big file must be fragmented, and a tree of
/// files and directories.
fn populate(m: &Path) {
    std::fs::create_dir_all(m.join("Dir One/Sub dir")).unwrap();
    std::fs::write(m.join("Dir One/Sub dir/Ünïcödé name.txt"), b"hello").unwrap();
    std::fs::write(m.join("empty"), b"").unwrap();
    let long: String = "long-name-".repeat(20);
    std::fs::write(m.join(&long), pattern(70_000, 1)).unwrap();
    // Small files until the volume is full, then free every other one.
    let mut n = 0;
    loop {
        let r = std::fs::write(m.join(format!("fill{n:04}")), pattern(65536, n as u64));
        if r.is_err() {
            let _ = std::fs::remove_file(m.join(format!("fill{n:04}")));
            break;
        }
        n += 1;
    }
    for i in (0..n).step_by(2) {
        std::fs::remove_file(m.join(format!("fill{i:04}"))).unwrap();
    }
    std::fs::write(m.join("Dir One/fragmented.bin"), pattern(600_000, 99)).unwrap();
}

#[test]
fn reads_mkfs_exfat_volumes_written_by_exfat_fuse_512_and_4096() {
    for ss in [512u32, 4096] {
        let t = TempDir::new(&format!("foreign{ss}"));
        let img = t.path("x.img");
        mkfs_image(&img, 8 << 20, ss, &["-L", "Foreign"]);
        {
            let m = mount(&img, &t.path("m"), ss);
            populate(m.dir());
        }
        let fsck = fsck_exfat(&img);
        let (ok, text) = (fsck.clean, fsck.report);
        assert!(ok, "{text}");
        let entries = check_image(&img, ss);
        let frag = entries
            .iter()
            .find(|(p, _)| p == "/Dir One/fragmented.bin")
            .unwrap();
        assert!(!frag.1.contiguous, "exfat-fuse wrote it with a FAT chain");
        let data = std::fs::read(&img).unwrap();
        let mut v = Volume::open(
            MemDevice::from_bytes(ss, data),
            0,
            (8u64 << 20) / u64::from(ss),
        )
        .unwrap();
        assert_eq!(v.label(), "Foreign");
        let e = v.stat("/dir one/FRAGMENTED.BIN").unwrap();
        let ext = v.extents(&e).unwrap();
        assert!(ext.len() > 1, "fragmented file has {} extents", ext.len());
        assert!(v.stat("/Dir One/sub DIR/ÜNÏCÖDÉ NAME.TXT").is_ok());
    }
}

/// We write on volumes made by mkfs.exfat and filled by exfat-fuse (FAT-chained root and
/// files, its up-case table): fsck stays clean and exfat-fuse reads what we wrote.
#[test]
fn writes_on_mkfs_exfat_volumes_512_and_4096() {
    for ss in [512u32, 4096] {
        let t = TempDir::new(&format!("foreignw{ss}"));
        let img = t.path("x.img");
        mkfs_image(&img, 16 << 20, ss, &["-L", "Theirs"]);
        {
            let m = mount(&img, &t.path("m"), ss);
            std::fs::create_dir_all(m.dir().join("their dir")).unwrap();
            std::fs::write(m.dir().join("their dir/a.txt"), pattern(10_000, 1)).unwrap();
            // Interleaved so that "their dir" cannot grow contiguously: exfat-fuse then
            // gives it a FAT chain.
            for i in 0..60 {
                std::fs::write(m.dir().join(format!("root file {i}")), pattern(100, i)).unwrap();
                std::fs::write(m.dir().join(format!("their dir/t{i}")), b"t").unwrap();
            }
        }
        let data = std::fs::read(&img).unwrap();
        let sectors = data.len() as u64 / u64::from(ss);
        let mut v = Volume::open(MemDevice::from_bytes(ss, data), 0, sectors).unwrap();
        assert!(
            !v.stat("/their dir").unwrap().contiguous,
            "exfat-fuse chains directories"
        );
        v.mkdir("/Their Dir/ours").unwrap();
        v.write_file("/their dir/ours/index.a", &pattern(5000, 2))
            .unwrap();
        let p = v.reserve_contiguous("/big.iso", 3_000_000).unwrap();
        let x = p.extent();
        let mut d = pattern(3_000_000, 3);
        d.resize(3_000_000usize.div_ceil(ss as usize) * ss as usize, 0);
        blockdev::BlockDevice::write_sectors(v.device(), x.start / u64::from(ss), &d).unwrap();
        v.commit(p).unwrap();
        v.write_file("/their dir/a.txt", &pattern(20_000, 4))
            .unwrap();
        v.rename("/root file 3", "/their dir/moved").unwrap();
        v.delete("/root file 4").unwrap();
        for i in 0..60 {
            v.write_file(&format!("/ours {i}"), &pattern(10, i + 100))
                .unwrap();
            // exfat-fuse made "their dir" FAT-chained: growing it converts it (copy-on-write).
            v.write_file(&format!("/their dir/in theirs {i}"), &pattern(10, i + 200))
                .unwrap();
        }
        let theirs = v.stat("/their dir").unwrap();
        assert!(theirs.contiguous && theirs.size > u64::from(v.cluster_size()));
        std::fs::write(&img, &v.into_inner().data).unwrap();
        let fsck = fsck_exfat(&img);
        let (ok, text) = (fsck.clean, fsck.report);
        assert!(ok, "{ss}: {text}");
        let m = mount(&img, &t.path("m2"), ss);
        let read = |p: &str| std::fs::read(m.dir().join(p)).unwrap();
        assert!(read("their dir/ours/index.a") == pattern(5000, 2));
        assert!(read("big.iso") == pattern(3_000_000, 3));
        assert!(read("their dir/a.txt") == pattern(20_000, 4));
        assert!(read("their dir/moved") == pattern(100, 3));
        assert!(!m.dir().join("root file 4").exists());
        assert!(read("ours 59") == pattern(10, 159));
        assert!(read("their dir/in theirs 59") == pattern(10, 259));
        assert_eq!(
            std::fs::read_dir(m.dir().join("their dir"))
                .unwrap()
                .count(),
            123
        );
    }
}
