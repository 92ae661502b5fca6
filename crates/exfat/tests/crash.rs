//! Crash safety: every device write of an operation is recorded; for every prefix of
//! those writes (a process killed between two writes) the volume must pass
//! `fsck.exfat -n` and show either the tree before the operation or the tree after it,
//! never a partially written file.

mod common;

use blockdev::{BlockDevice, IoError, MemDevice};
use common::*;
use exfat::{format, DateTime, FormatOptions, Volume};
use testkit::check::fsck_exfat;
use testkit::rng::pattern;
use testkit::TempDir;

/// A MemDevice that records its writes.
struct Rec {
    mem: MemDevice,
    log: Vec<(u64, Vec<u8>)>,
}

impl BlockDevice for Rec {
    fn sector_size(&self) -> u32 {
        self.mem.sector_size()
    }
    fn sector_count(&self) -> u64 {
        self.mem.sector_count()
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.mem.read_sectors(lba, buf)
    }
    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        self.log.push((lba, buf.to_vec()));
        self.mem.write_sectors(lba, buf)
    }
}

fn clock() -> DateTime {
    DateTime {
        year: 2030,
        month: 1,
        day: 2,
        hour: 3,
        minute: 4,
        second: 6,
    }
}

struct Crash {
    v: Volume<Rec>,
    start: u64,
    sectors: u64,
    ss: u32,
    prefixes_checked: usize,
}

impl Crash {
    fn new(ss: u32) -> Self {
        let start = 2048 * 512 / u64::from(ss);
        let sectors = (12u64 << 20) / u64::from(ss);
        let mut mem = MemDevice::new(ss, start + sectors);
        format(
            &mut mem,
            start,
            sectors,
            &FormatOptions {
                label: "CRASH",
                cluster_size: Some(4096),
                volume_serial: 1,
            },
        )
        .unwrap();
        let mut v = Volume::open(
            Rec {
                mem,
                log: Vec::new(),
            },
            start,
            sectors,
        )
        .unwrap();
        v.set_clock(clock);
        Crash {
            v,
            start,
            sectors,
            ss,
            prefixes_checked: 0,
        }
    }

    fn model(&mut self) -> Model {
        let mut m = Model::new();
        tree(&mut self.v, "", &mut m);
        m
    }

    /// Run `op`, then replay every prefix of its writes onto the image from before it.
    fn op(&mut self, name: &str, op: impl FnOnce(&mut Volume<Rec>)) {
        let before_model = self.model();
        let before = self.v.device().mem.data.clone();
        self.v.device().log.clear();
        op(&mut self.v);
        let log = std::mem::take(&mut self.v.device().log);
        let after_model = self.model();
        assert!(!log.is_empty(), "{name}: no writes");
        let ss = self.ss as usize;
        let t = TempDir::new(&format!("crash-{}", self.ss));
        let img = t.path("p.img");
        let s = (self.start as usize) * ss;
        let n = (self.sectors as usize) * ss;
        let mut data = before;
        for k in 0..=log.len() {
            if k > 0 {
                let (lba, buf) = &log[k - 1];
                let o = *lba as usize * ss;
                data[o..o + buf.len()].copy_from_slice(buf);
            }
            std::fs::write(&img, &data[s..s + n]).unwrap();
            let fsck = fsck_exfat(&img);
            let (ok, text) = (fsck.clean, fsck.report);
            assert!(
                ok,
                "{name}: killed after {k} of {} writes: fsck.exfat -n:\n{text}",
                log.len()
            );
            let mut v = Volume::open(
                MemDevice::from_bytes(self.ss, data.clone()),
                self.start,
                self.sectors,
            )
            .unwrap();
            let mut m = Model::new();
            tree(&mut v, "", &mut m);
            // A move of a small file may show both complete copies for a moment; a move
            // of a big file or a directory may lose the moved entry (never a partial one).
            let both = {
                let mut u = before_model.clone();
                u.extend(after_model.clone());
                u
            };
            let common: Model = before_model
                .iter()
                .filter(|(k, v)| after_model.get(*k) == Some(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert!(
                m == before_model
                    || m == after_model
                    || (name.starts_with("move") && m == both)
                    || (name.starts_with("lossy move") && m == common),
                "{name}: killed after {k} of {} writes the tree is neither before nor after: {:?}",
                log.len(),
                m.keys().collect::<Vec<_>>()
            );
            self.prefixes_checked += 1;
        }
    }
}

fn add(v: &mut Volume<Rec>, path: &str, data: &[u8]) {
    let p = v.reserve_contiguous(path, data.len() as u64).unwrap();
    let ss = v.device().sector_size() as usize;
    let mut padded = data.to_vec();
    padded.resize(data.len().div_ceil(ss) * ss, 0);
    let x = p.extent();
    // The caller's data writes, in several pieces.
    for (i, chunk) in padded.chunks(16 * ss).enumerate() {
        v.device()
            .write_sectors(x.start / ss as u64 + (i * 16) as u64, chunk)
            .unwrap();
    }
    v.commit(p).unwrap();
}

fn run(ss: u32) {
    let mut c = Crash::new(ss);
    c.op("mkdir", |v| v.mkdir("/bootshelf").unwrap());
    c.op("write new", |v| {
        v.write_file("/bootshelf/index.a", &pattern(5000, 1))
            .unwrap()
    });
    c.op("overwrite", |v| {
        v.write_file("/bootshelf/index.a", &pattern(6000, 2))
            .unwrap()
    });
    c.op("add", |v| {
        add(v, "/Some Distro 1.0 amd64.iso", &pattern(300_000, 3))
    });
    c.op("add empty", |v| add(v, "/empty.iso", &[]));
    c.op("delete", |v| v.delete("/empty.iso").unwrap());
    c.op("rename in place", |v| {
        v.rename("/Some Distro 1.0 amd64.iso", "/distro.iso")
            .unwrap()
    });
    c.v.write_file("/bootshelf/index.tmp", &pattern(100, 4))
        .unwrap();
    c.op("rename replacing", |v| {
        v.rename("/bootshelf/index.tmp", "/bootshelf/index.a")
            .unwrap()
    });
    // Fill the root directory until the next set makes it grow (FAT chain): try the
    // operation on a copy, add a small file while the copy does not grow.
    let root_size = c.v.stat("/").unwrap().size;
    let grows = |c: &mut Crash| {
        let copy = MemDevice::from_bytes(c.ss, c.v.device().mem.data.clone());
        let mut t = Volume::open(copy, c.start, c.sectors).unwrap();
        t.write_file("/a file whose set makes the root grow.iso", b"t")
            .unwrap();
        t.stat("/").unwrap().size > root_size
    };
    let mut i = 0;
    while !grows(&mut c) {
        c.v.write_file(&format!("/f{i:03}"), b"x").unwrap();
        i += 1;
        assert!(i < 300);
    }
    c.op("add growing the root", |v| {
        add(
            v,
            "/a file whose set makes the root grow.iso",
            &pattern(10_000, 5),
        )
    });
    assert!(c.v.stat("/").unwrap().size > root_size, "the root grew");
    // Fill /bootshelf until the next set makes it grow (in place: the cluster after it
    // is free by now? either way the growth happens inside the operation).
    let dir_size = c.v.stat("/bootshelf").unwrap().size;
    let grows = |c: &mut Crash| {
        let copy = MemDevice::from_bytes(c.ss, c.v.device().mem.data.clone());
        let mut t = Volume::open(copy, c.start, c.sectors).unwrap();
        t.write_file("/bootshelf/index.b", b"t").unwrap();
        t.stat("/bootshelf").unwrap().size > dir_size
    };
    let mut i = 0;
    while !grows(&mut c) {
        c.v.write_file(&format!("/bootshelf/g{i:03}"), b"y")
            .unwrap();
        i += 1;
        assert!(i < 300);
    }
    c.op("write growing a subdirectory", |v| {
        v.write_file("/bootshelf/index.b", &pattern(100, 6))
            .unwrap()
    });
    assert!(
        c.v.stat("/bootshelf").unwrap().size > dir_size,
        "/bootshelf grew"
    );
    // A directory whose next cluster is taken must move to grow (copy-on-write).
    c.v.mkdir("/cow").unwrap();
    c.v.write_file("/after cow", &pattern(5000, 9)).unwrap();
    // 3-entry sets per 4 KiB cluster (a set never straddles a sector).
    let per_cluster = (4096 / ss as usize) * (ss as usize / 32 / 3);
    for i in 0..per_cluster {
        c.v.write_file(&format!("/cow/{i:02}"), b"z").unwrap();
    }
    let before = c.v.stat("/cow").unwrap();
    c.op("write moving a full subdirectory", |v| {
        v.write_file("/cow/the one that moves it", b"m").unwrap()
    });
    let after = c.v.stat("/cow").unwrap();
    assert_ne!(
        after.first_cluster, before.first_cluster,
        "the directory moved"
    );
    assert_eq!(after.size, 2 * 4096);
    c.op("mkdir at the end", |v| v.mkdir("/tmpdir").unwrap());
    c.op("move across directories", |v| {
        v.rename("/distro.iso", "/tmpdir/distro.iso").unwrap()
    });
    c.op("move back", |v| {
        v.rename("/tmpdir/distro.iso", "/distro.iso").unwrap()
    });
    c.op("delete empty dir", |v| v.delete("/tmpdir").unwrap());
    c.op("add big", |v| add(v, "/big.iso", &pattern(1_500_000, 8)));
    c.v.mkdir("/sub").unwrap();
    c.op("lossy move of a big file", |v| {
        v.rename("/big.iso", "/sub/big.iso").unwrap()
    });
    c.op("lossy move of a directory", |v| {
        v.rename("/sub", "/bootshelf/sub").unwrap()
    });
    let e = c.v.stat("/bootshelf/sub/big.iso").unwrap();
    assert!(e.contiguous);
    assert!(c.prefixes_checked > 40, "{}", c.prefixes_checked);
    eprintln!("{ss}: {} crash points checked", c.prefixes_checked);
}

#[test]
fn killed_between_any_two_writes_512() {
    run(512);
}

#[test]
fn killed_between_any_two_writes_4096() {
    run(4096);
}

/// Why the bitmap is written before the entry set: a file over clusters that are free in
/// the bitmap is an error for fsck.exfat, while clusters marked but owned by no file (a
/// commit cut between its two steps) are accepted.
#[test]
fn fsck_rejects_a_file_over_free_clusters_and_accepts_leaked_clusters() {
    let mut c = Crash::new(512);
    add(&mut c.v, "/a.iso", &pattern(40_000, 1));
    let e = c.v.stat("/a.iso").unwrap();
    let ss = 512usize;
    let t = TempDir::new("order");
    let img = t.path("p.img");
    let s = c.start as usize * ss;
    let n = c.sectors as usize * ss;
    // Find the bitmap: cluster 2, at the cluster heap offset of the boot sector.
    let data = c.v.device().mem.data.clone();
    let heap = u32::from_le_bytes(data[s + 88..s + 92].try_into().unwrap()) as usize;
    let bitmap = s + heap * ss;
    let bit = (e.first_cluster - 2) as usize;
    let mut freed = data.clone();
    freed[bitmap + bit / 8] &= !(1 << (bit % 8));
    std::fs::write(&img, &freed[s..s + n]).unwrap();
    let fsck = fsck_exfat(&img);
    let (ok, text) = (fsck.clean, fsck.report);
    assert!(!ok, "fsck accepted a file over free clusters:\n{text}");
    eprintln!("file over free clusters: {text}");
    let mut leaked = data.clone();
    let far = 2000usize;
    leaked[bitmap + far / 8] |= 1 << (far % 8);
    std::fs::write(&img, &leaked[s..s + n]).unwrap();
    let fsck = fsck_exfat(&img);
    let (ok, text) = (fsck.clean, fsck.report);
    assert!(ok, "fsck rejected a leaked cluster:\n{text}");
}
