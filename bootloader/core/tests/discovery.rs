//! Discovery on real stick images: a GPT (sgdisk, 512-byte sectors; fdisk, 4096) or MBR
//! (sfdisk) table, an exFAT data partition made by crates/exfat, ISOs built by xorriso
//! (qemu/fixtures) written into it, and an index written by crates/index.

use blockdev::{BlockDevice, BlockReader, Extent, ExtentReader, FileDevice};
use bootloader_core::discovery::{
    self, consume_boot_next, parse_iso, DiscoveryMenu, EntryMenu, Firmware, Limits, Source,
};
use bootloader_core::{menu, window, Key};
use bootshelf_index::{Index, IsoEntry, Settings, Slot, Timeout};
use std::path::{Path, PathBuf};
use std::time::Instant;
use testkit::fuse::{scatter_free_space, FuseMount};
use testkit::image::open_device;
use testkit::loopdev::{LoopDev, LoopOptions};
use testkit::table::{self, TableKind, TableSpec};
use testkit::Rng;

const MIB: u64 = 1 << 20;

/// A bootshelf-shaped table on a fresh image: data from 1 MiB, ESP 16 MiB after it (and
/// the BIOS boot partition on a 512-byte-sector GPT).
fn stick(dir: &Path, kind: TableKind, bytes: u64) -> (PathBuf, u32) {
    let p = dir.join(format!("{kind:?}.img"));
    let spec = TableSpec {
        kind,
        data_mib: bytes / MIB - 1 - 16 - 1,
        esp_mib: 16,
        bios_boot: kind == TableKind::Gpt512,
    };
    let ss = table::make(&p, bytes, spec);
    (p, ss)
}

type Vol<'a> = exfat::Volume<&'a mut FileDevice>;

fn format(dev: &mut FileDevice) -> ptable::Layout {
    let (_, lay) = ptable::read_layout(dev).unwrap();
    exfat::format(
        dev,
        lay.data.first_lba,
        lay.data.sectors(),
        &exfat::FormatOptions {
            label: "BOOTSHELF",
            cluster_size: None,
            volume_serial: 0x1234_5678,
        },
    )
    .unwrap();
    lay
}

fn volume<'a>(dev: &'a mut FileDevice, lay: &ptable::Layout) -> Vol<'a> {
    exfat::Volume::open(dev, lay.data.first_lba, lay.data.sectors()).unwrap()
}

/// Copy a file into the volume contiguously, as `bootshelf add` does.
fn put(vol: &mut Vol<'_>, path: &str, data: &[u8]) -> Vec<Extent> {
    let pending = vol.reserve_contiguous(path, data.len() as u64).unwrap();
    let x = pending.extent();
    let ss = vol.device().sector_size() as usize;
    let mut padded = data.to_vec();
    padded.resize(data.len().div_ceil(ss) * ss, 0);
    vol.device()
        .write_sectors(x.start / ss as u64, &padded)
        .unwrap();
    let de = vol.commit(pending).unwrap();
    vol.extents(&de).unwrap()
}

/// An index entry for an ISO as `add` would make it (parsed with the same crates).
fn index_entry(vol: &mut Vol<'_>, path: &str, title: Option<&str>) -> IsoEntry {
    let de = vol.stat(path).unwrap();
    let extents = vol.extents(&de).unwrap();
    let r = ExtentReader::new(BlockReader::new(vol.device()), &extents, de.size).unwrap();
    let (label, boot) = parse_iso(r).unwrap();
    IsoEntry {
        path: path.into(),
        size: de.size,
        sha256: None,
        label,
        title: title.map(Into::into),
        extents,
        boot,
        extensions: Default::default(),
    }
}

fn write_index(vol: &mut Vol<'_>, slot: Slot, index: &Index) {
    let _ = vol.mkdir("/bootshelf");
    vol.write_file(slot.path(), &bootshelf_index::encode(index).unwrap())
        .unwrap();
}

fn labelled_iso(dir: &Path, label: &str, payload_kib: usize) -> Vec<u8> {
    let src = dir.join(format!("src-{label}"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("DATA.BIN"), vec![0x5Au8; payload_kib * 1024]).unwrap();
    let out = dir.join(format!("{label}.iso"));
    fixtures::xorriso([
        "-as",
        "mkisofs",
        "-V",
        label,
        "-o",
        out.to_str().unwrap(),
        src.to_str().unwrap(),
    ])
    .unwrap();
    std::fs::read(out).unwrap()
}

fn discover_and_check(kind: TableKind) {
    let dir = tempfile::tempdir().unwrap();
    let (img, ss) = stick(dir.path(), kind, 128 * MIB);
    let mut dev = open_device(&img, ss);
    let lay = format(&mut dev);
    let uefi = std::fs::read(fixtures::iso::uefi_only().unwrap()).unwrap();
    let bios = std::fs::read(fixtures::iso::bios_only().unwrap()).unwrap();
    let hybrid = std::fs::read(fixtures::iso::bios_uefi_hybrid().unwrap()).unwrap();
    let plain = labelled_iso(dir.path(), "PLAIN_DATA", 64);
    let mut vol = volume(&mut dev, &lay);
    vol.mkdir("/linux").unwrap();
    vol.mkdir("/linux/deep").unwrap();
    vol.mkdir("/linux/deep/deeper").unwrap();
    vol.mkdir("/linux/deep/deeper/deepest").unwrap();
    put(&mut vol, "/uefi.iso", &uefi);
    let hybrid_extents = put(&mut vol, "/linux/Hybrid.ISO", &hybrid);
    put(&mut vol, "/bios.iso", &bios);
    put(&mut vol, "/plain.iso", &plain);
    put(&mut vol, "/linux/deep/deeper/deepest/too-deep.iso", &plain);
    put(&mut vol, "/._resource.iso", &plain[..4096]);
    put(&mut vol, "/notes.txt", b"not an iso");
    let index = Index {
        generation: 4,
        settings: Settings {
            timeout: Timeout::Seconds(7),
            default: Some("/LINUX/hybrid.iso".into()),
            boot_next: None,
        },
        isos: vec![
            index_entry(&mut vol, "/uefi.iso", None),
            index_entry(&mut vol, "/linux/Hybrid.ISO", Some("Hybrid Linux")),
            IsoEntry {
                path: "/gone.iso".into(),
                size: 2048,
                sha256: None,
                label: String::new(),
                title: None,
                extents: vec![Extent {
                    start: 4 * MIB,
                    len: 2048,
                }],
                boot: Vec::new(),
                extensions: Default::default(),
            },
        ],
    };
    write_index(&mut vol, Slot::A, &index);
    // An older, different index in slot B is ignored.
    let mut old = index.clone();
    old.generation = 3;
    old.isos.clear();
    write_index(&mut vol, Slot::B, &old);
    drop(vol);

    let d = discovery::discover(&mut dev, &Limits::default()).unwrap();
    let paths: Vec<&str> = d.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        ["/uefi.iso", "/linux/Hybrid.ISO", "/bios.iso", "/plain.iso"],
        "{kind:?}"
    );
    assert_eq!(d.index_slot(), Some(Slot::A));
    assert_eq!(d.index().generation, 4);
    assert!(
        d.notes.iter().any(|n| n.contains("/gone.iso")),
        "{:?}",
        d.notes
    );
    let e = &d.entries;
    assert_eq!(e[0].source, Source::Indexed);
    assert_eq!(e[1].source, Source::Indexed);
    assert_eq!(e[2].source, Source::Scanned);
    assert_eq!(e[1].title, "Hybrid Linux");
    assert_eq!(e[2].title, "bios.iso");
    assert_eq!(e[1].extents, hybrid_extents);
    assert!(e[1].is_contiguous());
    assert_eq!((e[0].uefi(), e[0].bios()), (true, false));
    assert_eq!((e[1].uefi(), e[1].bios()), (true, true));
    assert_eq!((e[2].uefi(), e[2].bios()), (false, true));
    assert_eq!((e[3].uefi(), e[3].bios()), (false, false));
    assert_eq!(e[3].label, "PLAIN_DATA");
    assert!(e.iter().all(|x| x.problem.is_none() && !x.changed));
    // The index path and the scan path agree on what an ISO holds.
    let mut vol = volume(&mut dev, &lay);
    let rescanned = index_entry(&mut vol, "/uefi.iso", None);
    drop(vol);
    assert_eq!(rescanned.boot, e[0].boot);
    let efi = e[0].boot_entry(Firmware::Uefi).unwrap();
    assert_eq!(efi.image_size, 2880 * 1024);
    // Preselection: the default (case-insensitive path), timeout from the settings.
    assert_eq!((d.preselect, d.boot_next), (Some(1), false));
    let cfg = d.menu_config("bootshelf");
    assert_eq!(cfg.timeout_secs, Some(7));
    let items = d.items(Firmware::Uefi);
    assert_eq!(
        items[2].blocked.as_deref(),
        Some("no UEFI boot entry in this ISO")
    );
    assert_eq!(
        d.items(Firmware::Bios)[0].blocked.as_deref(),
        Some("no BIOS boot entry in this ISO")
    );
    assert!(items[2].detail.contains("(not indexed)"));
    // The menu over them: Down from the default, Enter boots /bios.iso under BIOS.
    let mut m = menu::Menu::new(d.items(Firmware::Bios), 10, &cfg);
    m.key(Key::Down);
    assert_eq!(m.key(Key::Enter), menu::Action::Boot(2));

    // The window for the hybrid ISO covers exactly its extent; the next start clears it.
    let r = window::open(&mut dev, &e[1]).unwrap().iso;
    assert_eq!(r.first() * u64::from(ss), hybrid_extents[0].start);
    let d2 = discovery::discover(&mut dev, &Limits::default()).unwrap();
    assert_eq!(d2.layout.window, Some(r));
    assert_eq!(window::clear_stale(&mut dev).unwrap(), Some(r));
    assert_eq!(window::clear_stale(&mut dev).unwrap(), None);
}

#[test]
fn discovers_indexed_and_scanned_isos_gpt_512() {
    discover_and_check(TableKind::Gpt512);
}

#[test]
fn discovers_indexed_and_scanned_isos_gpt_4096() {
    discover_and_check(TableKind::Gpt4096);
}

#[test]
fn discovers_indexed_and_scanned_isos_mbr() {
    discover_and_check(TableKind::Mbr512);
}

#[test]
fn changed_files_are_rescanned_and_boot_next_is_consumed() {
    let dir = tempfile::tempdir().unwrap();
    let (img, ss) = stick(dir.path(), TableKind::Gpt512, 96 * MIB);
    let mut dev = open_device(&img, ss);
    let lay = format(&mut dev);
    let one = labelled_iso(dir.path(), "FIRST", 32);
    let two = labelled_iso(dir.path(), "SECOND", 300);
    let mut vol = volume(&mut dev, &lay);
    put(&mut vol, "/a.iso", &one);
    put(&mut vol, "/b.iso", &one);
    let a = index_entry(&mut vol, "/a.iso", Some("Custom A"));
    let b = index_entry(&mut vol, "/b.iso", None);
    let index = Index {
        generation: 1,
        settings: Settings {
            timeout: Timeout::Never,
            default: None,
            boot_next: Some("/b.iso".into()),
        },
        isos: vec![a, b],
    };
    write_index(&mut vol, Slot::A, &index);
    // A file manager replaces /a.iso with another ISO.
    vol.delete("/a.iso").unwrap();
    put(&mut vol, "/a.iso", &two);
    drop(vol);

    let mut d = discovery::discover(&mut dev, &Limits::default()).unwrap();
    assert!(d.entries[0].changed);
    assert_eq!(d.entries[0].source, Source::Scanned);
    assert_eq!(d.entries[0].label, "SECOND");
    assert_eq!(d.entries[0].title, "Custom A");
    assert!(d.entries[0]
        .item(Firmware::Uefi)
        .detail
        .contains("changed since indexed"));
    assert!(!d.entries[1].changed);
    assert_eq!((d.preselect, d.boot_next), (Some(1), true));
    let cfg = d.menu_config("t");
    assert_eq!(cfg.timeout_secs, None);
    let m = menu::Menu::new(d.items(Firmware::Uefi), 10, &cfg);
    assert_eq!(
        m.countdown_ms(),
        Some(u64::from(menu::BOOT_NEXT_SECS) * 1000)
    );

    consume_boot_next(&mut dev, &mut d).unwrap();
    let d = discovery::discover(&mut dev, &Limits::default()).unwrap();
    assert_eq!(d.index_slot(), Some(Slot::B));
    assert_eq!(d.index().generation, 2);
    assert_eq!(d.index().settings.boot_next, None);
    assert_eq!((d.preselect, d.boot_next), (Some(0), false));
}

#[test]
fn window_refusals_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let (img, ss) = stick(dir.path(), TableKind::Gpt512, 64 * MIB);
    let mut dev = open_device(&img, ss);
    let lay = format(&mut dev);
    let iso = labelled_iso(dir.path(), "W", 16);
    let mut vol = volume(&mut dev, &lay);
    put(&mut vol, "/w.iso", &iso);
    drop(vol);
    let d = discovery::discover(&mut dev, &Limits::default()).unwrap();
    let mut e = d.entries[0].clone();
    let x = e.extents[0];
    e.extents = vec![
        Extent {
            start: x.start,
            len: 4096,
        },
        Extent {
            start: x.start + 8192,
            len: x.len - 4096,
        },
    ];
    let before = std::fs::read(&img).unwrap();
    let r = window::open(&mut dev, &e).unwrap_err();
    assert_eq!(r, window::Refusal::Fragmented { pieces: 2 });
    assert!(r.to_string().contains("stored in 2 pieces"));
    assert!(std::fs::read(&img).unwrap() == before);
    // A write-protected stick: refused with that reason, nothing written.
    struct ReadOnly<'a>(&'a mut FileDevice);
    impl BlockDevice for ReadOnly<'_> {
        fn sector_size(&self) -> u32 {
            self.0.sector_size()
        }
        fn sector_count(&self) -> u64 {
            self.0.sector_count()
        }
        fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), blockdev::IoError> {
            self.0.read_sectors(lba, buf)
        }
        fn write_sectors(&mut self, _: u64, _: &[u8]) -> Result<(), blockdev::IoError> {
            Err(blockdev::IoError::WriteProtected)
        }
    }
    let r2 = window::open(&mut ReadOnly(&mut dev), &d.entries[0]).unwrap_err();
    assert_eq!(r2, window::Refusal::WriteProtected);
    assert_eq!(
        r2.to_string(),
        "no ISO window: the stick is write-protected"
    );
    assert!(std::fs::read(&img).unwrap() == before);
    let mut m = menu::Menu::new(d.items(Firmware::Uefi), 10, &d.menu_config("t"));
    m.ask_boot_without_window(0, &r.to_string());
    assert_eq!(m.key(Key::Enter), menu::Action::BootWithoutWindow(0));
}

#[test]
fn a_thousand_indexed_isos_are_listed_without_opening_them() {
    let dir = tempfile::tempdir().unwrap();
    let (img, ss) = stick(dir.path(), TableKind::Gpt512, 256 * MIB);
    let mut dev = open_device(&img, ss);
    let lay = format(&mut dev);
    let hybrid = std::fs::read(fixtures::iso::bios_uefi_hybrid().unwrap()).unwrap();
    let mut vol = volume(&mut dev, &lay);
    put(&mut vol, "/template.iso", &hybrid);
    let template = index_entry(&mut vol, "/template.iso", None);
    vol.delete("/template.iso").unwrap();
    let mut isos = Vec::new();
    let t0 = Instant::now();
    for i in 0..1000 {
        // Reserved and committed but never written: only the index describes them, so
        // discovery must not read them.
        let path = format!("/iso-{i:04}.iso");
        let p = vol.reserve_contiguous(&path, 64 * 1024).unwrap();
        let de = vol.commit(p).unwrap();
        let mut e = template.clone();
        e.path = path;
        e.size = de.size;
        e.extents = vol.extents(&de).unwrap();
        isos.push(e);
    }
    eprintln!("made 1000 files in {:?}", t0.elapsed());
    let index = Index {
        generation: 1,
        settings: Settings::default(),
        isos,
    };
    write_index(&mut vol, Slot::A, &index);
    drop(vol);

    struct Counting<'a> {
        inner: &'a mut FileDevice,
        reads: u64,
        bytes: u64,
    }
    impl BlockDevice for Counting<'_> {
        fn sector_size(&self) -> u32 {
            self.inner.sector_size()
        }
        fn sector_count(&self) -> u64 {
            self.inner.sector_count()
        }
        fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), blockdev::IoError> {
            self.reads += 1;
            self.bytes += buf.len() as u64;
            self.inner.read_sectors(lba, buf)
        }
        fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), blockdev::IoError> {
            self.inner.write_sectors(lba, buf)
        }
    }
    let mut c = Counting {
        inner: &mut dev,
        reads: 0,
        bytes: 0,
    };
    let t = Instant::now();
    let d = discovery::discover(&mut c, &Limits::default()).unwrap();
    let took = t.elapsed();
    eprintln!(
        "discover: {} entries in {took:?}, {} reads, {} KiB read",
        d.entries.len(),
        c.reads,
        c.bytes / 1024
    );
    assert_eq!(d.entries.len(), 1000);
    assert!(d
        .entries
        .iter()
        .all(|e| e.source == Source::Indexed && !e.changed));
    assert!(d.entries.iter().all(|e| e.uefi() && e.bios()));
    // Opening each ISO would take at least 1000 reads of its descriptors; the index path
    // reads the table, the volume's metadata, the root folder and the index, a few
    // windows of sectors at a time (cache.rs).
    assert!(
        c.reads < 200 && c.bytes < 4 * 1024 * 1024,
        "read {} bytes in {} reads",
        c.bytes,
        c.reads
    );
    let menu = menu::Menu::new(d.items(Firmware::Uefi), 19, &d.menu_config("bootshelf"));
    let t = Instant::now();
    let screen = menu.render(80, 25);
    eprintln!("render: {:?}", t.elapsed());
    assert!(screen.lines[2].text.contains("iso-0000.iso"));
}

/// An ISO copied by a file manager (exfat-fuse, the Linux FUSE driver) onto a volume with
/// only scattered free space: stored FAT-chained in several pieces. It is listed, parsed
/// through its extents, boots in both modes, and gets no window (with the reason).
#[test]
fn a_fragmented_copy_from_a_file_manager_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let (img, ss) = stick(dir.path(), TableKind::Gpt512, 48 * MIB);
    let mut dev = open_device(&img, ss);
    let lay = format(&mut dev);
    drop(dev);
    let hybrid = std::fs::read(fixtures::iso::bios_uefi_hybrid().unwrap()).unwrap();
    {
        let lo = LoopDev::attach(
            &img,
            LoopOptions::range(lay.data.first_lba * 512, lay.data.sectors() * 512),
        )
        .unwrap();
        let m = FuseMount::exfat(lo, &dir.path().join("mnt"), false).unwrap();
        // Fill the volume with 512 KiB files, then free every other one.
        scatter_free_space(m.dir());
        std::fs::write(m.dir().join("frag.iso"), &hybrid).unwrap();
    }
    let mut dev = open_device(&img, ss);
    let d = discovery::discover(&mut dev, &Limits::default()).unwrap();
    assert_eq!(d.entries.len(), 1, "{:?}", d.notes);
    let e = &d.entries[0];
    assert_eq!(e.path, "/frag.iso");
    assert_eq!(e.source, Source::Scanned);
    assert!(e.extents.len() > 1, "{:?}", e.extents);
    assert!(!e.is_contiguous());
    assert!(e.uefi() && e.bios() && e.problem.is_none());
    // The bytes through the extents are the ISO's.
    let mut r = ExtentReader::new(BlockReader::new(&mut dev), &e.extents, e.size).unwrap();
    let mut back = vec![0u8; hybrid.len()];
    blockdev::ReadAt::read_exact_at(&mut r, 0, &mut back).unwrap();
    assert!(back == hybrid);
    let refusal = window::open(&mut dev, e).unwrap_err();
    assert_eq!(
        refusal,
        window::Refusal::Fragmented {
            pieces: e.extents.len()
        }
    );
}

/// Damage a real stick image at random places (partition table, exFAT metadata and
/// folders, index, ISO descriptors and catalogs) and run discovery on each copy: it must
/// return entries or an error, never panic, and whatever it lists must lie on the disk.
#[test]
fn discovery_survives_random_damage() {
    let dir = tempfile::tempdir().unwrap();
    let (img, ss) = stick(dir.path(), TableKind::Gpt512, 24 * MIB);
    let mut dev = open_device(&img, ss);
    let lay = format(&mut dev);
    let uefi = std::fs::read(fixtures::iso::uefi_only().unwrap()).unwrap();
    let small = labelled_iso(dir.path(), "SMALL", 8);
    let mut vol = volume(&mut dev, &lay);
    vol.mkdir("/sub").unwrap();
    put(&mut vol, "/uefi.iso", &uefi);
    put(&mut vol, "/sub/small.iso", &small);
    put(&mut vol, "/other.iso", &small);
    let index = Index {
        generation: 1,
        settings: Settings::default(),
        isos: vec![
            index_entry(&mut vol, "/uefi.iso", Some("U")),
            index_entry(&mut vol, "/sub/small.iso", None),
        ],
    };
    write_index(&mut vol, Slot::A, &index);
    drop(vol);
    drop(dev);
    let pristine = std::fs::read(&img).unwrap();
    // Where the interesting bytes are: the tables, and every sector that is not zero in
    // the first part of the data partition (boot region, FAT, bitmap, folders, index,
    // ISO headers).
    let mut hot: Vec<usize> = vec![0, 512, 1024, pristine.len() - 512];
    let data_start = (lay.data.first_lba * 512) as usize;
    for s in (data_start..pristine.len()).step_by(512) {
        if pristine[s..s + 512].iter().any(|&b| b != 0) {
            hot.push(s);
        }
    }
    let mut rng = Rng::new(0xD15C_0F3E_5EED_0001);
    let mut next = move || rng.next_u64();
    let (mut ok, mut err) = (0, 0);
    for _ in 0..300 {
        let mut bytes = pristine.clone();
        for _ in 0..1 + next() % 8 {
            let sector = hot[(next() % hot.len() as u64) as usize];
            let at = sector + (next() % 512) as usize;
            bytes[at] = match next() % 3 {
                0 => bytes[at] ^ (1 << (next() % 8)),
                1 => 0xFF,
                _ => next() as u8,
            };
        }
        let len = bytes.len() as u64;
        let mut mem = blockdev::MemDevice::from_bytes(512, bytes);
        match discovery::discover(&mut mem, &Limits::default()) {
            Ok(d) => {
                ok += 1;
                for e in &d.entries {
                    for x in &e.extents {
                        assert!(x.start.checked_add(x.len).is_some_and(|end| end <= len));
                    }
                    let _ = e.item(Firmware::Uefi);
                }
                let _ = d.items(Firmware::Bios);
            }
            Err(e) => {
                err += 1;
                assert!(!e.to_string().is_empty());
            }
        }
    }
    eprintln!("random damage: {ok} discovered, {err} refused");
    assert!(ok > 0 && err > 0, "{ok} ok, {err} errors");
}

/// The loaders' discovery reads which architectures an ISO's EFI image serves, for an
/// indexed ISO from the index (as `add` recorded it) and for one a file manager copied
/// from the image itself, and the UEFI menu (here an x86_64 one, the host's) dims both
/// ISOs made for other machines with the reason.
#[test]
fn efi_architectures_of_indexed_and_scanned_isos_dim_the_menu() {
    use fixtures::arch::{marker_iso, EfiArch};
    let dir = tempfile::tempdir().unwrap();
    let (img, ss) = stick(dir.path(), TableKind::Gpt512, 64 * MIB);
    let mut dev = open_device(&img, ss);
    let lay = format(&mut dev);
    let mut vol = volume(&mut dev, &lay);
    put(
        &mut vol,
        "/ia32.iso",
        &std::fs::read(marker_iso(EfiArch::Ia32).unwrap()).unwrap(),
    );
    put(
        &mut vol,
        "/arm.iso",
        &std::fs::read(marker_iso(EfiArch::Aa64).unwrap()).unwrap(),
    );
    put(
        &mut vol,
        "/x64.iso",
        &std::fs::read(marker_iso(EfiArch::X64).unwrap()).unwrap(),
    );
    let index = Index {
        isos: vec![index_entry(&mut vol, "/ia32.iso", None)],
        ..Index::default()
    };
    write_index(&mut vol, Slot::A, &index);
    drop(vol);
    let d = discovery::discover(&mut dev, &Limits::default()).unwrap();
    let paths: Vec<&str> = d.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/ia32.iso", "/arm.iso", "/x64.iso"]);
    let one = |a: EfiArch| Some(bootshelf_index::ArchSet::from_bits(a.bit()));
    assert_eq!(d.entries[0].source, Source::Indexed);
    assert_eq!(d.entries[0].efi_arches(), one(EfiArch::Ia32));
    assert_eq!(d.entries[1].source, Source::Scanned);
    assert_eq!(d.entries[1].efi_arches(), one(EfiArch::Aa64));
    assert_eq!(d.entries[2].efi_arches(), one(EfiArch::X64));
    let items = d.items(Firmware::Uefi);
    assert_eq!(
        items[0].blocked.as_deref(),
        Some("no x86_64 loader (BOOTX64.EFI) in this ISO; it boots on ia32")
    );
    assert_eq!(
        items[1].blocked.as_deref(),
        Some("no x86_64 loader (BOOTX64.EFI) in this ISO; it boots on aarch64")
    );
    assert_eq!(items[2].blocked, None);
}

/// Whether each ISO's EFI loader carries an Authenticode signature (index byte 13) is read
/// like its architectures: for an indexed ISO from the index, for one a file manager copied
/// from the ISO itself. Under Secure Boot the UEFI menu dims the unsigned grub-mkrescue ISO
/// with the message LoadImage's refusal gives, never the ISO signed as Debian ships them,
/// nor an ISO indexed before signatures were recorded; with Secure Boot off nothing is
/// dimmed.
#[test]
fn unsigned_efi_loaders_of_indexed_and_scanned_isos_are_dimmed_under_secure_boot() {
    use bootloader_core::discovery::{Machine, NOT_SIGNED_MESSAGE};
    use bootshelf_index::{ArchSet, EfiArch};
    let dir = tempfile::tempdir().unwrap();
    let (img, ss) = stick(dir.path(), TableKind::Gpt512, 128 * MIB);
    let mut dev = open_device(&img, ss);
    let lay = format(&mut dev);
    let mut vol = volume(&mut dev, &lay);
    let unsigned = std::fs::read(fixtures::uefi::marker_iso("sb-unsigned").unwrap()).unwrap();
    let signed = std::fs::read(fixtures::uefi::debian_signed_iso().unwrap()).unwrap();
    put(&mut vol, "/unsigned.iso", &unsigned);
    put(&mut vol, "/signed.iso", &signed);
    put(&mut vol, "/old-index.iso", &unsigned);
    put(&mut vol, "/scanned-unsigned.iso", &unsigned);
    put(&mut vol, "/scanned-signed.iso", &signed);
    let mut old = index_entry(&mut vol, "/old-index.iso", None);
    for b in &mut old.boot {
        b.efi.signed = None; // as an index written before byte 13 existed
    }
    let index = Index {
        isos: vec![
            index_entry(&mut vol, "/unsigned.iso", None),
            index_entry(&mut vol, "/signed.iso", None),
            old,
        ],
        ..Index::default()
    };
    write_index(&mut vol, Slot::A, &index);
    drop(vol);

    let d = discovery::discover(&mut dev, &Limits::default()).unwrap();
    let paths: Vec<&str> = d.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/unsigned.iso",
            "/signed.iso",
            "/old-index.iso",
            "/scanned-signed.iso",
            "/scanned-unsigned.iso"
        ]
    );
    let x64 = Some(ArchSet::from_bits(EfiArch::X64.bit()));
    let signed_sets: Vec<_> = d.entries.iter().map(|e| e.efi_signed()).collect();
    assert_eq!(
        signed_sets,
        [Some(ArchSet::EMPTY), x64, None, x64, Some(ArchSet::EMPTY)]
    );
    assert_eq!(d.entries[3].source, Source::Scanned);
    let on = Machine {
        firmware: Firmware::Uefi,
        secure_boot: true,
    };
    let blocked: Vec<_> = d.items(on).into_iter().map(|i| i.blocked).collect();
    let not_signed = Some(NOT_SIGNED_MESSAGE.to_string());
    assert_eq!(
        blocked,
        [not_signed.clone(), None, None, None, not_signed.clone()]
    );
    assert!(d.items(Firmware::Uefi).iter().all(|i| i.blocked.is_none()));
    // Enter on the dimmed row says why instead of booting.
    let cfg = d.menu_config("t");
    let mut m = menu::Menu::new(d.items(on), 10, &cfg);
    m.key(Key::Home);
    assert_eq!(m.key(Key::Enter), menu::Action::Redraw);
    assert_eq!(m.message(), Some(NOT_SIGNED_MESSAGE));
}
