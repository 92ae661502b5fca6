//! `add` on stick images: contiguous copy, hash, El Torito pre-index, refusals, replace,
//! verify, 4Kn sectors and an ISO over 4 GiB. After every command: fsck.exfat -n clean and
//! exfat-fuse (an independent exFAT) reads the same files and bytes.

use std::collections::BTreeMap;
use stick::add::{AddOptions, Verify};
use stick::index_io::{open_volume, IndexStore, OpError, PlatformId};
use stick::Stick;
use testkit::rng::pattern;
use testkit::stick::*;
use testkit::TempDir;

fn expect(pairs: &[(&str, &std::path::Path)]) -> BTreeMap<String, std::path::PathBuf> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_path_buf()))
        .collect()
}

#[test]
fn add_indexes_el_torito_entries_and_copies_byte_identical() {
    let t = TempDir::new("add-basic");
    let img = t.path("stick.img");
    new_stick(&img, 96 << 20, 512);
    let hybrid = fixtures::iso::bios_uefi_hybrid().unwrap();
    let bios = fixtures::iso::bios_only().unwrap();
    let uefi = fixtures::iso::uefi_only().unwrap();

    let a = add_one(&img, &hybrid, &AddOptions::default()).unwrap();
    assert_eq!(
        a.entry.path,
        format!("/{}", hybrid.file_name().unwrap().to_str().unwrap())
    );
    assert_eq!(a.entry.size, std::fs::metadata(&hybrid).unwrap().len());
    assert_eq!(
        stick::copy::hex(&a.entry.sha256.unwrap()),
        sha256_file(&hybrid)
    );
    assert_eq!(a.entry.label, fixtures::iso::LABEL);
    assert!(a.entry.boots_on(PlatformId::X86) && a.entry.boots_on(PlatformId::EFI));
    assert!(a.entry.is_contiguous());
    // The EFI image's real size: the fixture's 2880 KiB FAT image.
    let efi = a
        .entry
        .boot
        .iter()
        .find(|b| b.platform == PlatformId::EFI)
        .unwrap();
    assert_eq!(efi.image_size, 2880 * 1024, "{efi:?}");
    let e1 = expect(&[(a.entry.path.as_str(), &hybrid)]);
    assert_consistent(&img, &e1, "after adding the hybrid ISO");

    let b = add_one(
        &img,
        &bios,
        &AddOptions {
            title: Some("BIOS thing".into()),
            ..AddOptions::default()
        },
    )
    .unwrap();
    assert!(b.entry.boots_on(PlatformId::X86) && !b.entry.boots_on(PlatformId::EFI));
    assert_eq!(b.entry.display_title(), "BIOS thing");
    let c = add_one(&img, &uefi, &AddOptions::default()).unwrap();
    assert!(!c.entry.boots_on(PlatformId::X86) && c.entry.boots_on(PlatformId::EFI));
    assert_eq!(c.generation, 3);

    let all = expect(&[
        (a.entry.path.as_str(), &hybrid),
        (b.entry.path.as_str(), &bios),
        (c.entry.path.as_str(), &uefi),
    ]);
    assert_consistent(&img, &all, "after adding three ISOs");
    let idx = indexed(&img);
    assert_eq!(idx.len(), 3);
    // The extents recorded are where the bytes are: read them raw from the image.
    let mut s = Stick::open(&img, false).unwrap();
    let mut vol = open_volume(&mut s).unwrap();
    let index = IndexStore::load(&mut vol).unwrap().index();
    drop(vol);
    let raw = std::fs::read(&img).unwrap();
    for e in &index.isos {
        let x = e.extents[0];
        let src = std::fs::read(&all[&e.path]).unwrap();
        assert_eq!(
            &raw[x.start as usize..x.start as usize + src.len()],
            &src[..],
            "{}",
            e.path
        );
    }
}

#[test]
fn refuses_non_iso_unbootable_and_duplicates_unless_forced() {
    let t = TempDir::new("add-refuse");
    let img = t.path("stick.img");
    new_stick(&img, 64 << 20, 512);
    let junk = t.path("junk.iso");
    std::fs::write(&junk, pattern(100_000, 1)).unwrap();
    let plain = iso_copy(&fixtures::iso::plain().unwrap(), t.dir(), "plain.iso", None);
    let before = sha256_file(&img);

    let e = add_one(&img, &junk, &AddOptions::default()).unwrap_err();
    assert!(matches!(e, OpError::NotIso { .. }), "{e}");
    assert!(e.to_string().contains("--force"), "{e}");
    let e = add_one(&img, &plain, &AddOptions::default()).unwrap_err();
    assert!(matches!(e, OpError::NotBootable { .. }), "{e}");
    assert!(e.to_string().contains("no El Torito boot catalog"), "{e}");
    assert_eq!(sha256_file(&img), before, "a refused add wrote something");

    let forced = AddOptions {
        force: true,
        ..AddOptions::default()
    };
    let a = add_one(&img, &junk, &forced).unwrap();
    assert!(a.forced_because.unwrap().contains("not an ISO"));
    assert!(a.entry.boot.is_empty());
    let hybrid = iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        "x.iso",
        None,
    );
    add_one(&img, &hybrid, &AddOptions::default()).unwrap();
    let e = add_one(&img, &hybrid, &AddOptions::default()).unwrap_err();
    assert!(matches!(e, OpError::AlreadyThere { .. }), "{e}");

    // --force replaces: the new bytes under the old name, old clusters freed.
    let other = iso_copy(
        &fixtures::iso::uefi_only().unwrap(),
        t.dir(),
        "src-uefi.iso",
        None,
    );
    std::fs::copy(&other, &hybrid).unwrap();
    let r = add_one(&img, &hybrid, &forced).unwrap();
    assert!(r.replaced);
    assert_eq!(
        stick::copy::hex(&r.entry.sha256.unwrap()),
        sha256_file(&other)
    );
    let files = assert_consistent(
        &img,
        &expect(&[("/x.iso", &other), ("/junk.iso", &junk)]),
        "after a forced replace",
    );
    assert!(!files.keys().any(|k| k.contains("partial")), "{files:?}");
    assert_eq!(indexed(&img).len(), 2);
}

#[test]
fn a_full_stick_is_refused_before_anything_is_written() {
    let t = TempDir::new("add-full");
    let img = t.path("stick.img");
    new_stick(&img, 64 << 20, 512);
    let (_, data_len, _) = data_partition(&img);
    let big = iso_copy(
        &fixtures::iso::bios_only().unwrap(),
        t.dir(),
        "big.iso",
        Some(data_len),
    );
    let before = sha256_file(&img);
    let e = add_one(&img, &big, &AddOptions::default()).unwrap_err();
    match &e {
        OpError::StickFull {
            needed,
            largest_free_run,
            ..
        } => assert!(needed > largest_free_run),
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("nothing was written"), "{e}");
    assert_eq!(sha256_file(&img), before);
    assert_fsck_clean(&img, "after a refused add");
}

#[test]
fn verify_reads_back_uncached_on_4096_byte_sectors() {
    let t = TempDir::new("add-4k");
    let img = t.path("stick.img");
    new_stick(&img, 64 << 20, 4096);
    let iso = fixtures::iso::bios_uefi_hybrid().unwrap();
    let opts = AddOptions {
        verify: Verify::Uncached(img.clone()),
        ..AddOptions::default()
    };
    let a = add_one(&img, &iso, &opts).unwrap();
    assert!(a.verified);
    assert_eq!(a.entry.extents[0].start % 4096, 0);
    assert_consistent(
        &img,
        &expect(&[(a.entry.path.as_str(), &iso)]),
        "4Kn add --verify",
    );
}

#[test]
fn iso_over_4_gib_on_a_sparse_image_reads_back_identical() {
    let t = TempDir::new("add-4g");
    let img = t.path("stick.img");
    new_stick(&img, 6 << 30, 512);
    // A real bootable ISO extended with a sparse tail to 4.5 GiB.
    let big = iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        "big.iso",
        Some(9 << 29),
    );
    // Put something non-zero past 4 GiB so a 32-bit truncation would show.
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&big).unwrap();
        f.write_all_at(b"past four gibibytes", (4 << 30) + 12345)
            .unwrap();
    }
    let a = add_one(&img, &big, &AddOptions::default()).unwrap();
    assert_eq!(a.entry.size, 9 << 29);
    assert!(a.entry.is_contiguous());
    assert_eq!(
        stick::copy::hex(&a.entry.sha256.unwrap()),
        sha256_file(&big)
    );
    assert_consistent(
        &img,
        &expect(&[("/big.iso", &big)]),
        "after adding a 4.5 GiB ISO",
    );
}

/// Flips one byte of every large (data) write: a stick that silently corrupts.
struct CorruptData<D> {
    inner: D,
}

impl<D: blockdev::BlockDevice> blockdev::BlockDevice for CorruptData<D> {
    fn sector_size(&self) -> u32 {
        self.inner.sector_size()
    }
    fn sector_count(&self) -> u64 {
        self.inner.sector_count()
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), blockdev::IoError> {
        self.inner.read_sectors(lba, buf)
    }
    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), blockdev::IoError> {
        if buf.len() > 64 * 1024 {
            let mut bad = buf.to_vec();
            bad[1000] ^= 0x40;
            self.inner.write_sectors(lba, &bad)
        } else {
            self.inner.write_sectors(lba, buf)
        }
    }
    fn flush(&mut self) -> Result<(), blockdev::IoError> {
        self.inner.flush()
    }
}

#[test]
fn verify_catches_a_corrupting_device_and_keeps_nothing() {
    let t = TempDir::new("add-corrupt");
    let img = t.path("stick.img");
    new_stick(&img, 64 << 20, 512);
    let iso = fixtures::iso::bios_uefi_hybrid().unwrap();
    let mut s = Stick::open(&img, true).unwrap();
    let data = s.layout().data;
    let dev = CorruptData { inner: s.device() };
    let mut vol = exfat::Volume::open(dev, data.first_lba(), data.sectors()).unwrap();
    let mut store = IndexStore::load(&mut vol).unwrap();
    let opts = AddOptions {
        verify: Verify::Device,
        ..AddOptions::default()
    };
    let p = stick::add::prepare(&mut vol, &iso, &opts).unwrap();
    let e = stick::add::add_prepared(&mut vol, &mut store, &p, &opts, &mut |_| {}).unwrap_err();
    assert!(matches!(e, OpError::VerifyFailed { .. }), "{e}");
    assert!(e.to_string().contains("was not kept"), "{e}");
    drop(vol);
    drop(s);
    let files = assert_consistent(&img, &BTreeMap::new(), "after a failed verify");
    assert!(files.is_empty(), "{files:?}");
    assert!(indexed(&img).is_empty());
}
