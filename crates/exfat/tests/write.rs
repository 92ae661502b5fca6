//! The write side on MemDevice disks (512- and 4096-byte sectors, volumes at a partition
//! offset): after every operation the volume must pass `fsck.exfat -n` and list the same
//! tree as a model; at checkpoints exfat-fuse (an independent implementation) must list
//! the same files with the same bytes.

mod common;

use blockdev::{BlockDevice, MemDevice};
use common::*;
use exfat::{format, DateTime, Error, FormatOptions, Volume};
use testkit::check::fsck_exfat;
use testkit::rng::pattern;
use testkit::TempDir;

struct Rig {
    v: Option<Volume<MemDevice>>,
    start: u64,
    sectors: u64,
    ss: u32,
    model: Model,
    tag: String,
    step: usize,
}

fn clock() -> DateTime {
    DateTime {
        year: 2026,
        month: 11,
        day: 21,
        hour: 9,
        minute: 30,
        second: 17,
    }
}

impl Rig {
    fn new(ss: u32, bytes: u64, cluster_size: Option<u32>, tag: &str) -> Self {
        let start = (1u64 << 20) / u64::from(ss);
        let sectors = bytes / u64::from(ss);
        let mut dev = MemDevice::new(ss, start + sectors + 3);
        format(
            &mut dev,
            start,
            sectors,
            &FormatOptions {
                label: "BOOTSHELF",
                cluster_size,
                volume_serial: 7,
            },
        )
        .unwrap();
        let mut v = Volume::open(dev, start, sectors).unwrap();
        v.set_clock(clock);
        Rig {
            v: Some(v),
            start,
            sectors,
            ss,
            model: Model::new(),
            tag: tag.into(),
            step: 0,
        }
    }

    fn v(&mut self) -> &mut Volume<MemDevice> {
        self.v.as_mut().unwrap()
    }

    fn part_bytes(&mut self) -> Vec<u8> {
        let s = (self.start * u64::from(self.ss)) as usize;
        let n = (self.sectors * u64::from(self.ss)) as usize;
        self.v().device().data[s..s + n].to_vec()
    }

    /// fsck, a fresh open (no cached state), and the tree against the model.
    fn check(&mut self) {
        self.step += 1;
        let t = TempDir::new(&format!("{}-{}", self.tag, self.step));
        let img = t.path("p.img");
        std::fs::write(&img, self.part_bytes()).unwrap();
        let fsck = fsck_exfat(&img);
        let (ok, text) = (fsck.clean, fsck.report);
        assert!(
            ok,
            "{} step {}: fsck.exfat -n:\n{text}",
            self.tag, self.step
        );
        let dev = self.v.take().unwrap().into_inner();
        let mut v = Volume::open(dev, self.start, self.sectors).unwrap();
        v.set_clock(clock);
        let mut ours = Model::new();
        tree(&mut v, "", &mut ours);
        self.v = Some(v);
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            self.model.keys().collect::<Vec<_>>(),
            "{} step {}",
            self.tag,
            self.step
        );
        for (k, b) in &self.model {
            assert!(
                ours[k] == *b,
                "{} step {}: {k} differs",
                self.tag,
                self.step
            );
        }
    }

    /// exfat-fuse must see the model.
    fn fuse_check(&mut self) {
        let t = TempDir::new(&format!("{}-fuse-{}", self.tag, self.step));
        let img = t.path("p.img");
        std::fs::write(&img, self.part_bytes()).unwrap();
        let m = mount(&img, &t.path("m"), self.ss);
        let mut host = Model::new();
        host_tree(m.dir(), "", &mut host);
        // Timestamps as exfat-fuse decodes them: the test clock, 2026-11-21 09:30:17 UTC.
        for (k, v) in &self.model {
            if v.is_some() {
                let mtime = std::fs::metadata(m.dir().join(k.trim_start_matches('/')))
                    .unwrap()
                    .modified()
                    .unwrap()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs();
                assert!(
                    (1_795_253_416..=1_795_253_417).contains(&mtime),
                    "{k}: mtime {mtime}"
                );
            }
        }
        drop(m);
        assert_eq!(
            host.keys().collect::<Vec<_>>(),
            self.model.keys().collect::<Vec<_>>(),
            "{}: exfat-fuse listing",
            self.tag
        );
        for (k, b) in &self.model {
            assert!(
                host[k] == *b,
                "{}: exfat-fuse reads {k} differently",
                self.tag
            );
        }
    }

    fn write(&mut self, path: &str, data: &[u8]) {
        self.v().write_file(path, data).unwrap();
        self.model.insert(path.into(), Some(data.to_vec()));
    }

    fn mkdir(&mut self, path: &str) {
        self.v().mkdir(path).unwrap();
        self.model.insert(path.into(), None);
    }

    /// reserve + the caller's own device writes + commit.
    fn add_big(&mut self, path: &str, data: &[u8]) {
        let ss = self.ss as usize;
        let p = self
            .v()
            .reserve_contiguous(path, data.len() as u64)
            .unwrap();
        let x = p.extent();
        assert_eq!(x.len, data.len() as u64);
        let mut padded = data.to_vec();
        padded.resize(data.len().div_ceil(ss) * ss, 0);
        if !padded.is_empty() {
            self.v()
                .device()
                .write_sectors(x.start / ss as u64, &padded)
                .unwrap();
        }
        let e = self.v().commit(p).unwrap();
        assert!(e.contiguous || data.is_empty());
        assert_eq!(e.size, data.len() as u64);
        self.model.insert(path.into(), Some(data.to_vec()));
    }

    fn delete(&mut self, path: &str) {
        self.v().delete(path).unwrap();
        self.model.remove(path);
    }

    fn rename(&mut self, from: &str, to: &str) {
        self.v().rename(from, to).unwrap();
        let moved: Vec<(String, Option<Vec<u8>>)> = self
            .model
            .iter()
            .filter(|(k, _)| *k == from || k.starts_with(&format!("{from}/")))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, b) in moved {
            self.model.remove(&k);
            self.model.insert(format!("{to}{}", &k[from.len()..]), b);
        }
    }
}

fn scenario(ss: u32) {
    let mut r = Rig::new(ss, 48 << 20, None, &format!("scn{ss}"));
    r.check();
    r.mkdir("/bootshelf");
    r.write("/bootshelf/index.a", &pattern(3000, 1));
    r.check();
    r.add_big("/Debian Live.iso", &pattern(3 << 20, 2));
    r.add_big("/empty.iso", &[]);
    r.mkdir("/isos");
    r.mkdir("/isos/linux");
    r.add_big(
        "/isos/linux/ä long name that needs several name entries.iso",
        &pattern(777_777, 3),
    );
    r.check();
    r.fuse_check();
    // Overwrite in place (same cluster count) and copy-on-write (more clusters).
    r.write("/bootshelf/index.a", &pattern(3500, 4));
    r.write("/bootshelf/index.b", &pattern(10, 5));
    r.check();
    r.write("/bootshelf/index.a", &pattern(70_000, 6));
    r.write("/bootshelf/index.b", &[]);
    r.check();
    // mkdir of an existing directory is fine, of an existing file is not.
    r.v().mkdir("/ISOS").unwrap();
    assert!(matches!(
        r.v().mkdir("/empty.iso"),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        r.v().reserve_contiguous("/EMPTY.ISO", 5),
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        r.v().mkdir("/nope/sub"),
        Err(Error::NotFound { .. })
    ));
    // Case-insensitive lookup.
    let e = r
        .v()
        .stat("/ISOS/LINUX/Ä LONG NAME THAT NEEDS SEVERAL NAME ENTRIES.ISO")
        .unwrap();
    assert_eq!(e.size, 777_777);
    assert_eq!(e.modified, clock().to_dos());
    // Renames: same directory shorter and longer, across directories, replacing a file.
    r.rename("/Debian Live.iso", "/d.iso");
    r.check();
    r.rename(
        "/d.iso",
        "/a much longer name for the debian live image.iso",
    );
    r.check();
    r.rename(
        "/a much longer name for the debian live image.iso",
        "/isos/linux/debian.iso",
    );
    r.check();
    r.write("/bootshelf/index.tmp", &pattern(4000, 7));
    r.v()
        .rename("/bootshelf/index.tmp", "/bootshelf/index.a")
        .unwrap();
    r.model.remove("/bootshelf/index.tmp");
    r.model
        .insert("/bootshelf/index.a".into(), Some(pattern(4000, 7)));
    r.check();
    r.rename("/isos", "/Images");
    r.check();
    assert!(r.v().rename("/Images", "/Images/linux/x").is_err());
    assert!(matches!(
        r.v().delete("/Images"),
        Err(Error::DirectoryNotEmpty { .. })
    ));
    r.delete("/Images/linux/debian.iso");
    r.delete("/empty.iso");
    r.check();
    r.fuse_check();
}

#[test]
fn write_scenario_512() {
    scenario(512);
}

#[test]
fn write_scenario_4096() {
    scenario(4096);
}

/// Directories grow: the root through its FAT chain, subdirectories in place or by
/// copy-on-write to a longer contiguous run.
#[test]
fn directories_grow() {
    for ss in [512u32, 4096] {
        let mut r = Rig::new(ss, 24 << 20, Some(4096), &format!("grow{ss}"));
        r.mkdir("/a");
        r.mkdir("/b");
        // Keep the cluster after /a busy so that /a must move (copy-on-write).
        r.write("/block", &pattern(100, 9));
        for i in 0..70 {
            r.write(
                &format!("/a/file number {i:03}.txt"),
                &pattern(i * 10, i as u64),
            );
            r.write(&format!("/root file {i:03}"), &pattern(i, i as u64 + 1000));
            if i % 20 == 0 {
                r.check();
            }
        }
        for i in 0..50 {
            r.add_big(&format!("/b/{i}"), &pattern(5000, i as u64));
        }
        r.check();
        let a = r.v().stat("/a").unwrap();
        assert!(a.size > 4096 && a.contiguous);
        let root = r.v().stat("/").unwrap();
        assert!(root.size > 4096);
        for i in (0..70).step_by(3) {
            r.delete(&format!("/a/file number {i:03}.txt"));
        }
        r.check();
        r.fuse_check();
    }
}

#[test]
fn full_volume_is_refused_before_anything_is_written() {
    let mut r = Rig::new(512, 8 << 20, None, "full");
    let free = r.v().free_bytes().unwrap();
    let largest = r.v().largest_free_run().unwrap();
    assert_eq!(free, largest);
    let before = r.part_bytes();
    match r.v().reserve_contiguous("/big.iso", free + 1) {
        Err(Error::NoSpace {
            needed,
            largest_free_run,
        }) => {
            assert!(needed > free);
            assert_eq!(largest_free_run, largest);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        r.part_bytes() == before,
        "a refused reserve wrote something"
    );
    // Exactly the free space works (the root directory has room for the set).
    r.add_big("/big.iso", &pattern(free as usize, 1));
    assert_eq!(r.v().free_bytes().unwrap(), 0);
    r.check();
    assert!(matches!(
        r.v().write_file("/x", b"1"),
        Err(Error::NoSpace { .. })
    ));
    r.delete("/big.iso");
    assert_eq!(r.v().free_bytes().unwrap(), free);
    r.check();
}

/// With no room for a copy, write_file overwrites in place when the cluster count does
/// not change, and refuses a bigger file.
#[test]
fn overwrite_in_place_on_a_full_volume() {
    let mut r = Rig::new(512, 8 << 20, None, "inplace");
    r.write("/bootshelf.idx", &pattern(3000, 1));
    let before = r.v().stat("/bootshelf.idx").unwrap();
    let free = r.v().free_bytes().unwrap();
    r.add_big("/fill.iso", &pattern(free as usize, 2));
    r.write("/bootshelf.idx", &pattern(3500, 3));
    let after = r.v().stat("/bootshelf.idx").unwrap();
    assert_eq!(
        after.first_cluster, before.first_cluster,
        "overwritten in place"
    );
    r.check();
    assert!(matches!(
        r.v().write_file("/bootshelf.idx", &pattern(9000, 4)),
        Err(Error::NoSpace { .. })
    ));
    r.check();
    // With room again, the overwrite is copy-on-write: the data moves.
    r.delete("/fill.iso");
    r.write("/bootshelf.idx", &pattern(3600, 5));
    let moved = r.v().stat("/bootshelf.idx").unwrap();
    assert_ne!(moved.first_cluster, before.first_cluster);
    r.check();
}

#[test]
fn reservations_are_respected_and_a_foreign_taker_is_detected() {
    let mut r = Rig::new(512, 8 << 20, None, "lost");
    // Two outstanding reservations and a write in between never overlap.
    let a = r.v().reserve_contiguous("/a.iso", 100_000).unwrap();
    let b = r.v().reserve_contiguous("/b.iso", 100_000).unwrap();
    let (xa, xb) = (a.extent(), b.extent());
    assert!(xa.start + xa.len <= xb.start || xb.start + xb.len <= xa.start);
    r.write("/between", &pattern(50_000, 3));
    let e = r.v().stat("/between").unwrap();
    let xe = r.v().extents(&e).unwrap()[0];
    for x in [xa, xb] {
        assert!(xe.start + xe.len <= x.start || x.start + x.len <= xe.start);
    }
    r.v().cancel(b);
    r.v().commit(a).unwrap();
    r.model.insert("/a.iso".into(), Some(vec![0; 100_000]));
    r.check();
    // Another writer (another process, its own Volume) takes the clusters before commit.
    let p = r.v().reserve_contiguous("/c.iso", 100_000).unwrap();
    let (start, sectors) = (r.start, r.sectors);
    let mut other = Volume::open(r.v().device().clone(), start, sectors).unwrap();
    other.write_file("/other", &pattern(100_000, 4)).unwrap();
    let taken = other.into_inner();
    *r.v().device() = taken;
    r.model.insert("/other".into(), Some(pattern(100_000, 4)));
    assert!(matches!(
        r.v().commit(p),
        Err(Error::ReservationLost { .. })
    ));
    r.check();
}

#[test]
fn bad_names_are_refused() {
    let mut r = Rig::new(512, 8 << 20, None, "names");
    for bad in ["a:b", "x?", "..", "tab\there", &"n".repeat(256)] {
        assert!(
            matches!(
                r.v().write_file(&format!("/{bad}"), b"x"),
                Err(Error::InvalidName { .. })
            ),
            "{bad:?}"
        );
    }
    let longest = "n".repeat(255);
    r.write(&format!("/{longest}"), b"ok");
    r.check();
}

/// free_bytes and largest_free_run against a bit-by-bit count of the raw bitmap, with
/// holes of every size.
#[test]
fn free_space_matches_a_bitwise_count() {
    let mut r = Rig::new(512, 8 << 20, Some(4096), "freecount");
    for i in 0..60 {
        r.write(
            &format!("/f{i}"),
            &pattern(4096 * (i % 7 + 1) - 100, i as u64),
        );
    }
    for i in (0..60).filter(|i| i % 3 != 0) {
        r.delete(&format!("/f{i}"));
    }
    let data = r.part_bytes();
    let heap = u32::from_le_bytes(data[88..92].try_into().unwrap()) as usize;
    let count = u32::from_le_bytes(data[92..96].try_into().unwrap()) as usize;
    let bitmap = &data[heap * 512..];
    let (mut free, mut run, mut longest) = (0u64, 0u64, 0u64);
    for c in 0..count {
        if bitmap[c / 8] & (1 << (c % 8)) == 0 {
            free += 1;
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    assert_eq!(r.v().free_bytes().unwrap(), free * 4096);
    assert_eq!(r.v().largest_free_run().unwrap(), longest * 4096);
    r.check();
}
