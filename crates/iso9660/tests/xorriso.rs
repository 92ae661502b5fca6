//! Field-by-field agreement with xorriso's own reports (`-report_el_torito plain`,
//! `-pvd_info`, `-find ... -exec report_lba` in each of its read modes,
//! `-report_system_area plain`) on every fixture ISO: made at test time by xorriso,
//! grub-mkrescue and isolinux, and shipped by Debian.

mod common;

use common::*;
use iso9660::{Iso, Namespace};

#[test]
fn boot_catalog_agrees_with_xorriso() {
    for (name, path, bytes) in all_isos() {
        let mut iso = Iso::open(&bytes[..]).unwrap();
        let (xcat, ximgs) = xorriso_el_torito(&path);
        let cat = iso.boot_catalog().unwrap();
        assert_eq!(cat.map(|c| c.lba), xcat, "{name}: catalog LBA");
        let Some(cat) = cat else {
            assert!(ximgs.is_empty(), "{name}");
            continue;
        };
        let ours: Vec<_> = cat.entries(iso.reader()).collect::<Result<_, _>>().unwrap();
        assert_eq!(ours.len(), ximgs.len(), "{name}: number of boot images");
        for (o, x) in ours.iter().zip(&ximgs) {
            let ctx = format!("{name} entry {}", o.index);
            assert_eq!(o.platform.0, x.platform_id, "{ctx}: platform");
            assert_eq!(o.bootable, x.bootable, "{ctx}: bootable");
            assert_eq!(o.emulation().0, x.emulation, "{ctx}: emulation");
            assert_eq!(o.load_segment, x.load_segment, "{ctx}: load segment");
            assert_eq!(o.system_type, x.system_type, "{ctx}: system type");
            assert_eq!(o.sector_count, x.sector_count, "{ctx}: sector count");
            assert_eq!(o.load_rba, x.load_rba, "{ctx}: load RBA");
            // Image sizes: against xorriso's block count for images outside the tree,
            // its hard-disk size, and the file size for images in the tree.
            let size = iso.image_size(o).unwrap();
            if let Some(blocks) = x.blocks {
                assert_eq!(size.bytes.div_ceil(2048), blocks, "{ctx}: image blocks");
            }
            if let Some(hd) = x.hd_size_512 {
                assert_eq!(size.bytes / 512, hd, "{ctx}: hard disk size");
            }
            if let Some(p) = &x.path {
                let file = iso.lookup(p).unwrap();
                assert_eq!(file.lba, o.load_rba, "{ctx}: {p} is the image");
                if o.platform == iso9660::PlatformId::EFI {
                    assert_eq!(size.bytes, u64::from(file.size), "{ctx}: EFI image size");
                }
            }
        }
    }
}

#[test]
fn volume_descriptor_agrees_with_xorriso() {
    for (name, path, bytes) in all_isos() {
        let iso = Iso::open(&bytes[..]).unwrap();
        let pvd = xorriso_pvd(&path);
        let v = iso.volume();
        assert_eq!(v.label(), pvd["Volume Id"], "{name}: label");
        let digits = |d: Option<iso9660::DecDateTime>| {
            d.map_or("0000000000000000".to_string(), |d| {
                String::from_utf8(d.digits.to_vec()).unwrap()
            })
        };
        assert_eq!(
            digits(v.creation()),
            pvd["Creation Time"],
            "{name}: creation"
        );
        assert_eq!(
            digits(v.modification()),
            pvd["Modif. Time"],
            "{name}: modification"
        );
        assert_eq!(
            iso9660::descriptor::trimmed_str(&v.primary.data_preparer_identifier),
            pvd["Preparer Id"].trim_end(),
            "{name}: preparer"
        );
    }
}

#[test]
fn every_file_agrees_with_xorriso_in_every_namespace() {
    for (name, path, bytes) in all_isos() {
        let mut iso = Iso::open(&bytes[..]).unwrap();
        let mut checked = 0;
        for (ns, mode) in [
            (Namespace::RockRidge, "any"),
            (Namespace::Joliet, "norock"),
            (Namespace::Plain, "ecma119"),
        ] {
            if iso.root(ns).is_none() {
                continue;
            }
            let theirs = xorriso_files(&path, mode);
            let mut ours = walk_files(&mut iso, ns);
            // xorriso lists the boot catalog as a special file, not in -type f: drop
            // the record (if the catalog is not hidden) whose extent is the catalog.
            if xorriso_catalog_path(&path).is_some() {
                let catalog_lba = iso.volume().boot_catalog;
                ours.retain(|_, (lba, _)| Some(*lba) != catalog_lba);
            }
            assert_eq!(
                ours.keys().collect::<Vec<_>>(),
                theirs.keys().collect::<Vec<_>>(),
                "{name} {ns:?}: file names"
            );
            assert_eq!(ours, theirs, "{name} {ns:?}: extents and sizes");
            for (p, (lba, size)) in &theirs {
                let e = iso.lookup_in(ns, p).unwrap();
                assert_eq!((e.lba, e.size), (*lba, *size), "{name} {ns:?} lookup {p}");
                let upper = p.to_ascii_uppercase();
                let e = iso.lookup_in(ns, &upper).unwrap();
                assert_eq!(e.lba, *lba, "{name} {ns:?} lookup {upper} ignores case");
                checked += 1;
            }
        }
        assert!(checked > 0, "{name}: no files compared");
    }
}

#[test]
fn namespaces_are_detected() {
    let cases = [
        ("joliet-rr", true, Some(3)),
        ("rr-only", true, None),
        ("joliet-only", false, Some(3)),
        ("plain", false, None),
        ("grub-mkrescue", true, None),
    ];
    let all = all_isos();
    for (want, rr, joliet) in cases {
        let (_, _, bytes) = all.iter().find(|(n, _, _)| *n == want).unwrap();
        let iso = Iso::open(&bytes[..]).unwrap();
        assert_eq!(iso.has_rock_ridge(), rr, "{want}: Rock Ridge");
        assert_eq!(iso.joliet_level(), joliet, "{want}: Joliet");
    }
}

#[test]
fn long_names_resolve_in_rock_ridge_and_joliet() {
    let all = all_isos();
    for want in ["joliet-rr", "rr-only", "joliet-only"] {
        let (_, _, bytes) = all.iter().find(|(n, _, _)| *n == want).unwrap();
        let mut iso = Iso::open(&bytes[..]).unwrap();
        for n in fixtures::iso::LONG_NAMES {
            let path = format!("/{n}");
            let e = iso
                .lookup(&path)
                .unwrap_or_else(|e| panic!("{want} {path}: {e}"));
            let mut buf = vec![0; e.size as usize];
            iso.read_file(&e, 0, &mut buf).unwrap();
            assert_eq!(buf, n.as_bytes(), "{want} {path}: contents");
        }
    }
}

#[test]
fn system_area_agrees_with_xorriso() {
    for (name, path, bytes) in all_isos() {
        let mut iso = Iso::open(&bytes[..]).unwrap();
        let h = iso.hybrid().unwrap();
        let sa = xorriso_system_area(&path);
        let theirs_mbr: Vec<Vec<String>> = sa
            .iter()
            .filter(|(k, _)| k == "MBR partition")
            .map(|(_, f)| f.clone())
            .collect();
        let ours_mbr: Vec<Vec<String>> = h
            .mbr
            .map(|m| {
                m.iter()
                    .map(|p| {
                        vec![
                            p.number.to_string(),
                            format!("0x{:02x}", p.entry.boot_indicator),
                            format!("0x{:02x}", p.entry.os_type),
                            p.entry.starting_lba.to_string(),
                            p.entry.size_in_lba.to_string(),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(ours_mbr, theirs_mbr, "{name}: MBR partitions");

        let theirs_gpt: Vec<(String, String)> = sa
            .iter()
            .filter(|(k, _)| k == "GPT type GUID" || k == "GPT start and size")
            .map(|(k, f)| (k.clone(), f[1..].join(" ")))
            .collect();
        let mut ours_gpt = Vec::new();
        if let Some(gpt) = h.gpt {
            assert!(gpt.header_crc_ok, "{name}: GPT header CRC");
            gpt.partitions(iso.reader(), |_, e| {
                let hex: String = e
                    .partition_type_guid
                    .0
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                ours_gpt.push(("GPT type GUID".to_string(), hex));
                ours_gpt.push((
                    "GPT start and size".to_string(),
                    format!("{} {}", e.starting_lba, e.ending_lba - e.starting_lba + 1),
                ));
            })
            .unwrap();
        }
        assert_eq!(ours_gpt, theirs_gpt, "{name}: GPT partitions");
        let summary = sa
            .iter()
            .find(|(k, _)| k == "System area summary")
            .map(|(_, f)| f.clone())
            .unwrap_or_default();
        assert_eq!(
            h.gpt.is_some(),
            summary.contains(&"GPT".to_string()),
            "{name}: GPT"
        );
        assert_eq!(h.apple, summary.contains(&"APM".to_string()), "{name}: APM");
    }
}

#[test]
fn hints_name_what_the_iso_holds() {
    let all = all_isos();
    let hints = |want: &str| {
        let (_, _, bytes) = all.iter().find(|(n, _, _)| *n == want).unwrap();
        let mut iso = Iso::open(&bytes[..]).unwrap();
        let h = iso.hints().unwrap();
        h.iter().map(|h| h.name).collect::<Vec<_>>()
    };
    // grub-mkrescue keeps /EFI/BOOT inside efi.img only.
    assert_eq!(hints("grub-mkrescue"), ["grub"]);
    assert_eq!(hints("grub-rescue"), ["grub"]);
    assert_eq!(hints("isolinux"), ["debian-live", "isolinux"]);
    assert_eq!(hints("ipxe"), ["isolinux", "ipxe"]);
    assert_eq!(hints("memtest"), ["efi-boot"]);
    assert_eq!(hints("joliet-rr"), ["casper", "efi-boot"]);
    assert_eq!(hints("plain"), ["isolinux"]);
    assert_eq!(hints("bios-only"), Vec::<&str>::new());
    assert_eq!(hints("windows-like"), ["windows"]);
}

#[test]
fn rock_ridge_relocated_directories() {
    let all = all_isos();
    let (_, path, bytes) = all.iter().find(|(n, _, _)| *n == "rr-relocated").unwrap();
    let mut iso = Iso::open(&bytes[..]).unwrap();
    assert!(iso.has_rock_ridge());
    // Plain names: the relocated directory sits in /RR_MOVED.
    let plain = walk_files(&mut iso, Namespace::Plain);
    assert!(
        plain.keys().any(|p| p.starts_with("/RR_MOVED/")),
        "{plain:?}"
    );
    // Rock Ridge names: the tree as it was, RR_MOVED hidden, through the CL link.
    let rr = walk_files(&mut iso, Namespace::RockRidge);
    assert_eq!(rr, xorriso_files(path, "any"));
    let leaf = iso.lookup("/a/b/c/d/e/f/g/h/i/j/leaf.txt").unwrap();
    let mut buf = [0u8; 4];
    iso.read_file(&leaf, 0, &mut buf).unwrap();
    assert_eq!(&buf, b"leaf");
    // xorriso moved /a/b/c/d/e/f/g/h (the ninth level) away; g holds a CL placeholder.
    let h = iso.lookup("/a/b/c/d/e/f/g/h").unwrap();
    assert!(h.is_dir() && h.child_link && !h.flags.is_dir(), "{h:?}");
    assert_eq!(plain["/A/B/C/D/E/F/G/H"].1, 0, "an empty placeholder file");
    let moved = iso.lookup_in(Namespace::Plain, "/RR_MOVED/H").unwrap();
    assert_eq!(moved.lba, h.lba, "CL points at the moved directory");
}
