//! Discovery on sticks made by the CLI's own code (crates/stick): `install` writes the
//! table, ESP and exFAT, `add` copies ISOs and writes the index, `boot-next` sets the
//! one-shot default. The loader side must recognise all of it, on GPT (512 and 4096-byte
//! sectors) and MBR, and its ISO window must leave the table as `sgdisk -v` wants it.

use bootloader_core::discovery::{self, consume_boot_next, Firmware, Limits, Source};
use bootloader_core::window;
use std::path::Path;
use stick::add::AddOptions;
use stick::index_io::{open_volume, set_boot_next, IndexStore};
use stick::{InstallOptions, Scheme, Stick};
use testkit::image::open_device;
use testkit::stick::add_one;

fn add(img: &Path, src: &Path, title: Option<&str>) -> bootshelf_index::IsoEntry {
    let opts = AddOptions {
        title: title.map(Into::into),
        ..AddOptions::default()
    };
    add_one(img, src, &opts).unwrap().entry
}

fn check(scheme: Scheme, ss: u32) {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("stick.img");
    let opts = InstallOptions {
        scheme,
        create_size: Some(128 << 20),
        image_sector_size: Some(ss),
        ..InstallOptions::default()
    };
    stick::install(&img, &opts, &stick::BootCode::placeholder()).unwrap();
    let hybrid = add(
        &img,
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        Some("Hybrid"),
    );
    let uefi = add(&img, &fixtures::iso::uefi_only().unwrap(), None);
    {
        let mut s = Stick::open(&img, true).unwrap();
        let mut vol = open_volume(&mut s).unwrap();
        let mut store = IndexStore::load(&mut vol).unwrap();
        set_boot_next(&mut vol, &mut store, &uefi.path).unwrap();
    }

    let mut dev = open_device(&img, ss);
    let mut d = discovery::discover(&mut dev, &Limits::default()).unwrap();
    assert!(d.notes.is_empty(), "{:?}", d.notes);
    assert_eq!(d.entries.len(), 2);
    let (h, u) = (&d.entries[0], &d.entries[1]);
    assert_eq!(
        (h.path.as_str(), u.path.as_str()),
        (hybrid.path.as_str(), uefi.path.as_str())
    );
    assert!(d
        .entries
        .iter()
        .all(|e| e.source == Source::Indexed && !e.changed));
    assert_eq!(h.title, "Hybrid");
    assert_eq!(h.extents, hybrid.extents);
    assert_eq!(h.boot, hybrid.boot);
    assert!(h.uefi() && h.bios() && u.uefi() && !u.bios());
    assert_eq!(
        u.blocked(Firmware::Bios).as_deref(),
        Some("no BIOS boot entry in this ISO")
    );
    assert_eq!((d.preselect, d.boot_next), (Some(1), true));

    // What both parsers agree on for a freshly scanned copy of the same ISO.
    let scanned = discovery::parse_iso(
        std::fs::read(fixtures::iso::bios_uefi_hybrid().unwrap())
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(scanned.1, hybrid.boot);

    let h = h.clone();
    consume_boot_next(&mut dev, &mut d).unwrap();
    let r = window::open(&mut dev, &h).unwrap().iso;
    assert_eq!(r.first() * u64::from(ss), hybrid.extents[0].start);
    drop(dev);
    // The CLI's own reader sees the window too.
    let s = Stick::open(&img, false).unwrap();
    let w = s.layout().window.expect("stick sees the window");
    assert_eq!((w.first_lba(), w.last_lba()), (r.first(), r.last()));
    drop(s);
    let mut dev = open_device(&img, ss);
    let d = discovery::discover(&mut dev, &Limits::default()).unwrap();
    assert_eq!((d.preselect, d.boot_next), (Some(0), false));
    assert_eq!(d.layout.window, Some(r));
    assert_eq!(window::clear_stale(&mut dev).unwrap(), Some(r));
    drop(dev);
    if scheme == Scheme::Gpt && ss == 512 {
        testkit::check::sgdisk_verify(&img).assert_clean("sgdisk -v after the window is cleared");
    }
    assert!(Stick::open(&img, false).unwrap().layout().window.is_none());
}

#[test]
fn installed_gpt_512_stick() {
    check(Scheme::Gpt, 512);
}

#[test]
fn installed_gpt_4096_stick() {
    check(Scheme::Gpt, 4096);
}

#[test]
fn installed_mbr_stick() {
    check(Scheme::Mbr, 512);
}
