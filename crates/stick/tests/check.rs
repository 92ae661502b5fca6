//! `check`: index against file system against partition table, and `remove`. Each
//! finding is provoked on purpose: bytes changed under the index (--hash), an index entry
//! whose extents disagree with the file system, a torn index slot, an unindexed file.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use stick::add::AddOptions;
use stick::check::{check, CheckOptions, CheckReport, Finding, Severity};
use stick::index_io::{open_volume, IndexStore, OpError};
use stick::Stick;
use testkit::stick::*;
use testkit::TempDir;

fn run_check(img: &std::path::Path, hash: bool) -> CheckReport {
    let mut s = Stick::open(img, false).unwrap();
    let layout = *s.layout();
    let mut vol = open_volume(&mut s).unwrap();
    check(&mut vol, Some(&layout), CheckOptions { hash }, &mut |_| {}).unwrap()
}

fn problems(r: &CheckReport) -> Vec<String> {
    r.findings
        .iter()
        .filter(|f| f.severity() == Severity::Problem)
        .map(|f| format!("{}: {f}", f.subject()))
        .collect()
}

#[test]
fn check_finds_what_disagrees_and_remove_cleans_up() {
    let t = TempDir::new("check");
    let img = t.path("stick.img");
    new_stick(&img, 64 << 20, 512);
    let a = iso_copy(&fixtures::iso::bios_only().unwrap(), t.dir(), "a.iso", None);
    let b = iso_copy(&fixtures::iso::uefi_only().unwrap(), t.dir(), "b.iso", None);
    let ea = add_one(&img, &a, &AddOptions::default()).unwrap();
    add_one(&img, &b, &AddOptions::default()).unwrap();

    let r = run_check(&img, true);
    assert!(!r.has_problems(), "{:?}", r.findings);
    assert_eq!((r.isos_checked, r.hashes_checked, r.generation), (2, 2, 2));

    // One byte of a.iso changes behind the index's back.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&img)
        .unwrap();
    let at = ea.entry.extents[0].start + 40_000;
    let mut old = [0u8; 1];
    f.read_exact_at(&mut old, at).unwrap();
    f.write_all_at(&[old[0] ^ 0xFF], at).unwrap();
    let r = run_check(&img, false);
    assert!(!r.has_problems(), "without --hash the bytes are not read");
    let r = run_check(&img, true);
    let p = problems(&r);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("/a.iso: SHA-256"), "{p:?}");
    assert!(
        r.findings.iter().any(|f| matches!(
            f,
            Finding::HashMismatch { path, indexed, on_stick }
                if path == "/a.iso" && Some(*indexed) == ea.entry.sha256 && indexed != on_stick
        )),
        "{:?}",
        r.findings
    );
    f.write_all_at(&old, at).unwrap();

    // An index entry whose extents are not where the file system has the file.
    {
        let mut s = Stick::open(&img, true).unwrap();
        let mut vol = open_volume(&mut s).unwrap();
        let mut store = IndexStore::load(&mut vol).unwrap();
        let mut idx = store.index();
        idx.isos[1].extents[0].start += 4096;
        store.write(&mut vol, idx).unwrap();
    }
    let r = run_check(&img, false);
    let p = problems(&r);
    assert!(p.iter().any(|m| m.starts_with("/b.iso: extents")), "{p:?}");
    assert!(
        r.findings.iter().any(|f| matches!(
            f,
            Finding::ExtentsMismatch { path, indexed, on_file_system }
                if path == "/b.iso" && indexed[0].start == on_file_system[0].start + 4096
        )),
        "{:?}",
        r.findings
    );

    // Tear the current slot (generation 3, slot A): the previous generation (slot B,
    // correct extents) is used, and check says so.
    let (start, _, _) = data_partition(&img);
    {
        let mut s = Stick::open(&img, false).unwrap();
        let mut vol = open_volume(&mut s).unwrap();
        let de = vol.stat("/bootshelf/index.a").unwrap();
        let x = vol.extents(&de).unwrap()[0];
        assert!(x.start > start);
        f.write_all_at(&[0xEE; 16], x.start + 70).unwrap();
    }
    let r = run_check(&img, true);
    assert!(!r.has_problems(), "{:?}", r.findings);
    assert_eq!(r.generation, 2);
    assert!(
        r.findings
            .iter()
            .any(|f| f.severity() == Severity::Warning && f.subject() == "/bootshelf/index.a"),
        "{:?}",
        r.findings
    );
    assert_consistent(
        &img,
        &[
            ("/a.iso".to_string(), a.clone()),
            ("/b.iso".to_string(), b.clone()),
        ]
        .into_iter()
        .collect(),
        "after tearing slot A",
    );

    // remove by file name: index first, then the file; the torn slot is rewritten.
    {
        let mut s = Stick::open(&img, true).unwrap();
        let mut vol = open_volume(&mut s).unwrap();
        let mut store = IndexStore::load(&mut vol).unwrap();
        let r =
            stick::remove::remove_isos(&mut vol, &mut store, &["A.ISO".to_string()], true).unwrap();
        assert_eq!(r.len(), 1);
        assert!(r[0].was_indexed && r[0].file_deleted);
        let e = stick::remove::remove_isos(&mut vol, &mut store, &["nope".to_string()], true);
        assert!(e.is_err());
    }
    let r = run_check(&img, true);
    assert!(!r.has_problems(), "{:?}", r.findings);
    assert_eq!(r.generation, 3);
    assert!(
        !r.findings.iter().any(|f| f.severity() == Severity::Warning),
        "both slots valid again: {:?}",
        r.findings
    );
    let files = assert_consistent(
        &img,
        &[("/b.iso".to_string(), b.clone())]
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
        "after remove",
    );
    assert!(!files.contains_key("/a.iso"));
}

/// A folder where an index slot file belongs is not "missing, written at the next change":
/// check warns that the slot cannot be written until it is moved away, and the next change
/// refuses without touching the stick.
#[test]
fn a_folder_in_place_of_an_index_slot_is_reported_and_blocks_changes() {
    let t = TempDir::new("check-slot-folder");
    let img = t.path("s.img");
    new_stick(&img, 96 << 20, 512);
    let iso = iso_copy(&fixtures::iso::bios_only().unwrap(), t.dir(), "a.iso", None);
    add_one(&img, &iso, &AddOptions::default()).unwrap();
    let r = run_check(&img, false);
    let missing = r
        .findings
        .iter()
        .find(|f| matches!(f, Finding::SlotMissing { .. }))
        .expect("one slot is missing after the first add")
        .subject()
        .to_string();
    {
        let mut s = Stick::open(&img, true).unwrap();
        let mut vol = open_volume(&mut s).unwrap();
        vol.mkdir(&missing).unwrap();
    }
    let r = run_check(&img, false);
    let f = r
        .findings
        .iter()
        .find(|f| f.subject() == missing)
        .expect("a finding on the slot");
    assert_eq!(f.kind(), "slot_unreadable");
    assert_eq!(f.severity(), Severity::Warning);
    assert!(f.to_string().contains("is a folder"), "{f}");
    assert!(f.to_string().contains("rename or delete"), "{f}");
    assert!(!r.has_problems(), "{:?}", r.findings);
    let second = iso_copy(&fixtures::iso::bios_only().unwrap(), t.dir(), "b.iso", None);
    let before = std::fs::read(&img).unwrap();
    let e = add_one(&img, &second, &AddOptions::default());
    let e = e.expect_err("add into a blocked slot");
    assert!(matches!(e, OpError::IndexSlotBlocked(_)), "{e:?}");
    assert!(e.to_string().contains("rename or delete it"), "{e}");
    assert!(
        std::fs::read(&img).unwrap() == before,
        "the refused add wrote"
    );
}
