//! Hostile input: every malformed structure gives an error that names the problem and
//! its offset; nothing panics, loops forever or allocates without bound. Images are
//! fixture ISOs with single structures broken on purpose, truncated at every sector,
//! or flipped at random.

mod common;

use iso9660::{dir, Error, Iso, Namespace};
use testkit::Rng;

fn fixture(name: &str) -> Vec<u8> {
    let (_, p) = fixtures::iso::all()
        .unwrap()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap();
    std::fs::read(p).unwrap()
}

fn catalog_offset(img: &[u8]) -> usize {
    let iso = Iso::open(img).unwrap();
    iso.volume().boot_catalog.unwrap() as usize * 2048
}

fn boot_record_offset(img: &[u8]) -> usize {
    Iso::open(img).unwrap().volume().boot_record_offset.unwrap() as usize
}

/// Recompute the validation entry checksum after editing it.
fn fix_checksum(img: &mut [u8], cat: usize) {
    img[cat + 28] = 0;
    img[cat + 29] = 0;
    let sum = img[cat..cat + 32].chunks(2).fold(0u16, |s, w| {
        s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    });
    img[cat + 28..cat + 30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
}

fn entries(img: &[u8]) -> Vec<Result<iso9660::BootEntry, Error>> {
    let mut iso = Iso::open(img).unwrap();
    let cat = iso.boot_catalog().unwrap().unwrap();
    cat.entries(iso.reader()).collect()
}

/// Run every reader entry point; return whether anything failed. Must not panic.
fn exercise(img: &[u8]) -> bool {
    let mut failed = false;
    let mut iso = match Iso::open(img) {
        Ok(i) => i,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return true;
        }
    };
    failed |= iso.hybrid().is_err();
    match iso.boot_catalog() {
        Ok(Some(cat)) => {
            let es: Vec<_> = cat.entries(iso.reader()).collect();
            assert!(es.len() <= 2048);
            for e in es {
                match e {
                    Ok(e) => failed |= iso.image_size(&e).is_err(),
                    Err(_) => failed = true,
                }
            }
        }
        Ok(None) => {}
        Err(_) => failed = true,
    }
    failed |= iso.hints().is_err();
    for ns in [Namespace::Plain, Namespace::Joliet, Namespace::RockRidge] {
        if let Some(root) = iso.root(ns) {
            failed |= dir::find(iso.reader(), root, |_| false).is_err();
        }
    }
    failed
}

#[test]
fn not_an_iso() {
    let zeros = vec![0u8; 64 * 1024];
    assert_eq!(
        Iso::open(&zeros[..]).err(),
        Some(Error::NotIso {
            offset: 32768,
            found: [0; 5]
        })
    );
    let text = b"this is a text file, not an ISO image\n".repeat(2000);
    let e = Iso::open(&text[..]).err().unwrap();
    assert!(matches!(e, Error::NotIso { offset: 32768, .. }), "{e}");
    assert!(e.to_string().contains("32768"), "{e}");
    let tiny = [0u8; 100];
    assert_eq!(
        Iso::open(&tiny[..]).err(),
        Some(Error::TooSmall { size: 100 })
    );
}

#[test]
fn bad_validation_checksum() {
    let mut img = fixture("bios-uefi-hybrid");
    let cat = catalog_offset(&img);
    img[cat + 4] ^= 0x5A; // the ID string, covered by the checksum
    let mut iso = Iso::open(&img[..]).unwrap();
    let e = iso.boot_catalog().unwrap_err();
    assert!(
        matches!(e, Error::BadValidationChecksum { offset, sum, .. } if offset == cat as u64 && sum != 0),
        "{e}"
    );
    assert!(e.to_string().contains(&cat.to_string()), "{e}");
}

#[test]
fn bad_validation_key_and_header() {
    let mut img = fixture("bios-uefi-hybrid");
    let cat = catalog_offset(&img);
    img[cat + 31] = 0xAB;
    let mut iso = Iso::open(&img[..]).unwrap();
    assert_eq!(
        iso.boot_catalog().unwrap_err(),
        Error::BadValidationKey {
            offset: cat as u64,
            value: [0x55, 0xAB]
        }
    );
    let mut img = fixture("bios-uefi-hybrid");
    img[cat] = 0x02;
    fix_checksum(&mut img, cat);
    let mut iso = Iso::open(&img[..]).unwrap();
    assert_eq!(
        iso.boot_catalog().unwrap_err(),
        Error::BadValidationHeader {
            offset: cat as u64,
            value: 2
        }
    );
}

#[test]
fn catalog_past_the_end() {
    let mut img = fixture("bios-only");
    let br = boot_record_offset(&img);
    img[br + 71..br + 75].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
    let e = Iso::open(&img[..]).err().unwrap();
    assert_eq!(
        e,
        Error::ExtentPastEnd {
            offset: br as u64 + 71,
            lba: 0x00FF_FFFF,
            len: 2048,
            image_size: img.len() as u64
        }
    );
    assert!(e.to_string().contains("past the end"), "{e}");
}

#[test]
fn boot_image_past_the_end() {
    let mut img = fixture("bios-uefi-hybrid");
    let cat = catalog_offset(&img);
    img[cat + 32 + 8..cat + 32 + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let es = entries(&img);
    let e0 = es[0].unwrap();
    assert_eq!(e0.load_rba, u32::MAX);
    let mut iso = Iso::open(&img[..]).unwrap();
    let e = iso.image_size(&e0).unwrap_err();
    assert!(
        matches!(e, Error::ExtentPastEnd { offset, lba: u32::MAX, .. } if offset == (cat + 40) as u64),
        "{e}"
    );
}

#[test]
fn bad_boot_indicator_and_section_header() {
    let mut img = fixture("multi-section");
    let cat = catalog_offset(&img);
    img[cat + 32] = 0x12;
    let es = entries(&img);
    assert_eq!(es.len(), 1);
    assert_eq!(
        es[0].unwrap_err(),
        Error::BadBootIndicator {
            offset: cat as u64 + 32,
            value: 0x12
        }
    );
    let mut img = fixture("multi-section");
    img[cat + 64] = 0x42;
    let es = entries(&img);
    assert_eq!(es.len(), 2, "initial entry, then the error");
    assert_eq!(
        es[1].unwrap_err(),
        Error::BadSectionHeader {
            offset: cat as u64 + 64,
            value: 0x42
        }
    );
}

#[test]
fn absurd_section_entry_count_is_bounded() {
    let mut img = fixture("multi-section");
    let cat = catalog_offset(&img);
    // The first section header announces 65535 entries; zero entries are "not bootable".
    assert_eq!(img[cat + 64], 0x90);
    img[cat + 66..cat + 68].copy_from_slice(&u16::MAX.to_le_bytes());
    let es = entries(&img);
    assert!(es.len() <= 2048, "{} entries", es.len());
    let last = (*es.last().unwrap()).unwrap_err();
    assert!(
        matches!(
            last,
            Error::AbsurdSize { .. } | Error::BadBootIndicator { .. }
        ),
        "{last}"
    );
}

#[test]
fn extension_entries_carry_selection_criteria() {
    let mut img = fixture("multi-section");
    let cat = catalog_offset(&img);
    // Rewrite the catalog: validation, initial, one final section with one entry and
    // two extension entries.
    let first_section_entry: [u8; 32] = img[cat + 96..cat + 128].try_into().unwrap();
    img[cat + 64..cat + 2048].fill(0);
    img[cat + 64] = 0x91;
    img[cat + 65] = 0xEF;
    img[cat + 66] = 1;
    img[cat + 68..cat + 71].copy_from_slice(b"EXT");
    let mut e = first_section_entry;
    e[1] |= 0x20; // an extension follows
    e[12] = 1;
    e[13..32].copy_from_slice(&[0xA1; 19]);
    img[cat + 96..cat + 128].copy_from_slice(&e);
    img[cat + 128] = 0x44;
    img[cat + 129] = 0x20; // another extension follows
    img[cat + 130..cat + 160].copy_from_slice(&[0xB2; 30]);
    img[cat + 160] = 0x44;
    img[cat + 161] = 0;
    img[cat + 162..cat + 192].copy_from_slice(&[0xC3; 30]);
    let es: Vec<_> = entries(&img).into_iter().map(Result::unwrap).collect();
    assert_eq!(es.len(), 2);
    let s = &es[1];
    assert_eq!(s.platform, iso9660::PlatformId::EFI);
    assert_eq!(s.section.unwrap().id_str(), "EXT");
    assert!(s.section.unwrap().is_final);
    assert_eq!(s.selection.kind, 1);
    assert_eq!(s.selection.extensions, 2);
    let want: Vec<u8> = [vec![0xA1; 19], vec![0xB2; 30], vec![0xC3; 30]].concat();
    assert_eq!(s.selection.bytes(), &want[..]);

    // The promised extension is missing.
    img[cat + 161] = 0x20;
    let es = entries(&img);
    assert_eq!(
        (*es.last().unwrap()).unwrap_err(),
        Error::BadExtension {
            offset: cat as u64 + 192,
            value: 0
        }
    );
}

#[test]
fn directory_loop_is_detected() {
    let mut img = fixture("joliet-rr");
    let mut iso = Iso::open(&img[..]).unwrap();
    let root = iso.volume().root;
    let docs = iso.lookup_in(Namespace::Plain, "/docs").unwrap();
    let r = docs.record_offset as usize;
    // /docs now points back at the root directory.
    img[r + 2..r + 6].copy_from_slice(&root.lba.to_le_bytes());
    img[r + 6..r + 10].copy_from_slice(&root.lba.to_be_bytes());
    img[r + 10..r + 14].copy_from_slice(&root.size.to_le_bytes());
    img[r + 14..r + 18].copy_from_slice(&root.size.to_be_bytes());
    let mut iso = Iso::open(&img[..]).unwrap();
    for ns in [Namespace::Plain, Namespace::RockRidge] {
        let root_dir = iso.root(ns).unwrap();
        let e = dir::find(iso.reader(), root_dir, |_| false).unwrap_err();
        assert_eq!(
            e,
            Error::DirectoryLoop {
                offset: r as u64,
                lba: root.lba
            },
            "{ns:?}"
        );
        assert!(e.to_string().contains(&r.to_string()));
    }
    // A path lookup through the loop is bounded by the path.
    let e = iso.lookup("/docs/docs/docs/docs/README.TXT").unwrap();
    assert_eq!(e.name.as_str(), Some("README.TXT"));
}

#[test]
fn absurd_directory_size() {
    let mut img = fixture("bios-only");
    let pvd = 16 * 2048;
    img[pvd + 156 + 10..pvd + 156 + 14].copy_from_slice(&0xFFFF_F000u32.to_le_bytes());
    let e = Iso::open(&img[..]).err().unwrap();
    assert_eq!(
        e,
        Error::AbsurdSize {
            offset: (pvd + 166) as u64,
            value: 0xFFFF_F000,
            limit: 64 << 20
        }
    );
}

#[test]
fn short_directory_record() {
    let mut img = fixture("bios-only");
    let mut iso = Iso::open(&img[..]).unwrap();
    let readme = iso.lookup("/README.TXT").unwrap();
    let r = readme.record_offset as usize;
    let root = iso.root(iso.best_namespace()).unwrap();
    let before: Vec<_> = iso
        .entries(root)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(!before.is_empty());
    img[r] = 20;
    let mut iso = Iso::open(&img[..]).unwrap();
    let root = iso.root(Namespace::Plain).unwrap();
    let got: Vec<_> = iso.entries(root).unwrap().collect();
    assert_eq!(
        got.last().unwrap().clone().unwrap_err(),
        Error::BadDirectoryRecord {
            offset: r as u64,
            len: 20
        }
    );
    assert!(iso.lookup("/README.TXT").is_err());
}

#[test]
fn continuation_area_loop_is_bounded() {
    let mut img = fixture("rr-only");
    let mut iso = Iso::open(&img[..]).unwrap();
    let e = iso.lookup_in(Namespace::Plain, "/README.TXT").unwrap();
    let r = e.record_offset as usize;
    let name_len = img[r + 32] as usize;
    let su = r + 33 + name_len + (1 - name_len % 2);
    assert!(img[r] as usize - (su - r) >= 28, "room for a CE entry");
    // A CE entry that continues at itself.
    let mut ce = [0u8; 28];
    ce[..4].copy_from_slice(&[b'C', b'E', 28, 1]);
    let lba = (su / 2048) as u32;
    let off = (su % 2048) as u32;
    ce[4..8].copy_from_slice(&lba.to_le_bytes());
    ce[8..12].copy_from_slice(&lba.to_be_bytes());
    ce[12..16].copy_from_slice(&off.to_le_bytes());
    ce[16..20].copy_from_slice(&off.to_be_bytes());
    ce[20..24].copy_from_slice(&28u32.to_le_bytes());
    ce[24..28].copy_from_slice(&28u32.to_be_bytes());
    img[su..su + 28].copy_from_slice(&ce);
    let mut iso = Iso::open(&img[..]).unwrap();
    let e = iso.lookup("/README.TXT").unwrap_err();
    assert!(
        matches!(e, Error::AbsurdSize { offset, value: 17, limit: 16 } if offset == su as u64),
        "{e}"
    );
}

#[test]
fn malformed_system_use_entry() {
    let mut img = fixture("rr-only");
    let mut iso = Iso::open(&img[..]).unwrap();
    let e = iso.lookup_in(Namespace::Plain, "/README.TXT").unwrap();
    let r = e.record_offset as usize;
    let name_len = img[r + 32] as usize;
    let su = r + 33 + name_len + (1 - name_len % 2);
    img[su + 2] = 250; // entry length past the record
    let mut iso = Iso::open(&img[..]).unwrap();
    let e = iso.lookup("/README.TXT").unwrap_err();
    assert!(
        matches!(e, Error::BadSystemUseEntry { offset, len: 250, .. } if offset == su as u64),
        "{e}"
    );
}

#[test]
fn absurd_gpt_entry_count() {
    let mut img = fixture("bios-uefi-hybrid");
    img[512 + 80..512 + 84].copy_from_slice(&0x10_0000u32.to_le_bytes());
    let mut iso = Iso::open(&img[..]).unwrap();
    let gpt = iso.hybrid().unwrap().gpt.unwrap();
    assert!(!gpt.header_crc_ok);
    let e = gpt.partitions(iso.reader(), |_, _| {}).unwrap_err();
    assert_eq!(
        e,
        Error::AbsurdSize {
            offset: 592,
            value: 0x10_0000,
            limit: 1024
        }
    );
}

#[test]
fn descriptor_set_without_terminator() {
    let mut img = fixture("bios-only");
    // Turn every descriptor after the primary one into another supplementary one.
    let mut s = 17;
    while img[s * 2048] != 255 {
        s += 1;
    }
    img[s * 2048] = 2;
    for k in s + 1..s + 80 {
        img[k * 2048..k * 2048 + 6].copy_from_slice(&[2, b'C', b'D', b'0', b'0', b'1']);
    }
    let e = Iso::open(&img[..]).err().unwrap();
    assert_eq!(
        e,
        Error::NoTerminator {
            offset: (16 + 64) * 2048
        }
    );
}

#[test]
fn truncated_at_every_sector_never_panics() {
    for name in ["multi-section", "joliet-rr", "bios-uefi-hybrid", "ipxe"] {
        let img = fixture(name);
        let upto = img.len().min(600 * 2048);
        let mut failures = 0;
        for cut in (0..upto).step_by(2048).chain([33000, 34817, 40000]) {
            if exercise(&img[..cut]) {
                failures += 1;
            }
        }
        assert!(failures > 0, "{name}: truncation must be noticed");
        assert!(!exercise(&img), "{name}: the whole image reads cleanly");
    }
}

#[test]
fn random_corruption_never_panics() {
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut next = move || rng.next_u64();
    for name in ["multi-section", "joliet-rr", "bios-uefi-hybrid"] {
        let base = fixture(name);
        // Corrupt only the interesting head of the image (descriptors, tables, dirs).
        let hot = base.len().min(140 * 2048);
        for _ in 0..300 {
            let mut img = base.clone();
            for _ in 0..1 + next() % 16 {
                let at = (next() % hot as u64) as usize;
                img[at] = next() as u8;
            }
            exercise(&img);
        }
    }
}

#[test]
fn walk_of_huge_shared_directories_is_bounded() {
    // Every directory record under the root points at one 60 MiB "directory" made of
    // the image itself: within MAX_DIR_SIZE, but a walk must stop after MAX_WALK_BYTES.
    let mut img = fixture("joliet-rr");
    img.resize(64 << 20, 0);
    let mut iso = Iso::open(&img[..]).unwrap();
    let big_lba = 16u32; // the descriptors onwards: parses as records, then zero padding
    let big_size = 60u32 << 20;
    let root = iso.root(Namespace::Plain).unwrap();
    let dirs: Vec<u64> = iso
        .entries(root)
        .unwrap()
        .map(Result::unwrap)
        .filter(|e| e.is_dir())
        .map(|e| e.record_offset)
        .collect();
    assert!(dirs.len() >= 3);
    for r in dirs {
        let r = r as usize;
        img[r + 2..r + 6].copy_from_slice(&big_lba.to_le_bytes());
        img[r + 10..r + 14].copy_from_slice(&big_size.to_le_bytes());
    }
    let mut iso = Iso::open(&img[..]).unwrap();
    let root = iso.root(Namespace::Plain).unwrap();
    let t = std::time::Instant::now();
    let e = dir::find(iso.reader(), root, |_| false).unwrap_err();
    assert!(
        matches!(e, Error::AbsurdSize { limit, .. } if limit == dir::MAX_WALK_BYTES),
        "{e}"
    );
    assert!(t.elapsed().as_secs() < 10, "{:?}", t.elapsed());
}
