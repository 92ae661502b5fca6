//! `sync`: ISOs written by another exFAT (exfat-fuse, as a file manager would) are
//! indexed through their extents, fragmented and unbootable ones are reported with the
//! reason, entries whose files are gone are dropped, and unchanged entries keep their
//! hash and title. After every command: fsck.exfat -n clean, exfat-fuse agrees.

use std::collections::BTreeMap;
use stick::add::AddOptions;
use stick::index_io::{open_volume, IndexStore, PlatformId};
use stick::sync::{sync, SyncOptions, SyncReport};
use stick::Stick;
use testkit::fuse::scatter_free_space;
use testkit::rng::pattern;
use testkit::stick::*;
use testkit::TempDir;

fn run_sync(img: &std::path::Path, opts: SyncOptions) -> SyncReport {
    let mut s = Stick::open(img, true).unwrap();
    let mut vol = open_volume(&mut s).unwrap();
    let mut store = IndexStore::load(&mut vol).unwrap();
    sync(&mut vol, &mut store, opts, &mut |_| {}).unwrap()
}

#[test]
fn sync_indexes_foreign_copies_reports_fragments_and_drops_the_gone() {
    let t = TempDir::new("sync");
    let img = t.path("stick.img");
    new_stick(&img, 64 << 20, 512);
    let hybrid = iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        "hybrid.iso",
        None,
    );
    let bios = iso_copy(
        &fixtures::iso::bios_only().unwrap(),
        t.dir(),
        "bios.iso",
        None,
    );
    let plain = fixtures::iso::plain().unwrap();
    let kept = add_one(
        &img,
        &bios,
        &AddOptions {
            title: Some("Kept title".into()),
            ..AddOptions::default()
        },
    )
    .unwrap();
    let doomed = iso_copy(
        &fixtures::iso::uefi_only().unwrap(),
        t.dir(),
        "doomed.iso",
        None,
    );
    add_one(&img, &doomed, &AddOptions::default()).unwrap();

    {
        let m = mount_data(&img, &t.path("mnt"), false);
        // Scatter the free space, then copy: exfat-fuse stores the copy FAT-chained.
        scatter_free_space(m.dir());
        std::fs::create_dir_all(m.dir().join("more")).unwrap();
        std::fs::copy(&hybrid, m.dir().join("more/frag.iso")).unwrap();
        std::fs::copy(&plain, m.dir().join("plain.iso")).unwrap();
        std::fs::remove_file(m.dir().join("doomed.iso")).unwrap();
    }
    let before = indexed(&img);
    assert!(before.contains_key("/doomed.iso"));

    let r = run_sync(&img, SyncOptions::default());
    assert_eq!(r.added, vec!["/more/frag.iso".to_string()], "{r:?}");
    assert_eq!(r.kept, vec!["/bios.iso".to_string()], "{r:?}");
    assert_eq!(r.dropped.len(), 1, "{r:?}");
    assert_eq!(r.dropped[0].0, "/doomed.iso");
    assert!(r.dropped[0].1.contains("gone"));
    assert_eq!(r.skipped.len(), 1, "{r:?}");
    assert_eq!(r.skipped[0].0, "/plain.iso");
    assert!(
        r.skipped[0].1.contains("no El Torito boot catalog"),
        "{r:?}"
    );
    assert_eq!(r.fragmented.len(), 1, "{r:?}");
    assert!(r.fragmented[0].1 > 1);
    assert!(r.generation.is_some());

    let expect: BTreeMap<_, _> = [
        ("/bios.iso".to_string(), bios.clone()),
        ("/more/frag.iso".to_string(), hybrid.clone()),
    ]
    .into_iter()
    .collect();
    assert_consistent(&img, &expect, "after sync");
    // Closed again before the next sync: a reader's shared lock keeps writers out.
    let index = {
        let mut s = Stick::open(&img, false).unwrap();
        let mut vol = open_volume(&mut s).unwrap();
        IndexStore::load(&mut vol).unwrap().index()
    };
    let frag = index.find("/more/frag.iso").unwrap();
    assert!(!frag.is_contiguous());
    assert!(frag.boots_on(PlatformId::X86) && frag.boots_on(PlatformId::EFI));
    assert_eq!(
        frag.sha256, None,
        "sync without --hash does not read whole ISOs"
    );
    let b = index.find("/bios.iso").unwrap();
    assert_eq!(b.title.as_deref(), Some("Kept title"));
    assert_eq!(b.sha256, kept.entry.sha256);

    // A second sync changes nothing; --hash fills in the missing hash.
    let r = run_sync(&img, SyncOptions::default());
    assert!(r.generation.is_none() && r.added.is_empty(), "{r:?}");
    let r = run_sync(
        &img,
        SyncOptions {
            hash: true,
            dry_run: false,
        },
    );
    assert!(
        r.generation.is_none(),
        "unchanged entries keep their state: {r:?}"
    );
    // Hashes are computed for entries that are (re)indexed: drop and re-sync.
    {
        let m = mount_data(&img, &t.path("mnt"), false);
        std::fs::remove_file(m.dir().join("more/frag.iso")).unwrap();
        std::fs::copy(&hybrid, m.dir().join("more/frag.iso")).unwrap();
    }
    let r = run_sync(
        &img,
        SyncOptions {
            hash: true,
            dry_run: false,
        },
    );
    assert!(
        r.updated.contains(&"/more/frag.iso".to_string())
            || r.kept.contains(&"/more/frag.iso".to_string()),
        "{r:?}"
    );
    let idx = indexed(&img);
    if r.updated.contains(&"/more/frag.iso".to_string()) {
        assert_eq!(
            idx["/more/frag.iso"].1.as_deref(),
            Some(sha256_file(&hybrid).as_str())
        );
    }
    assert_consistent(&img, &expect, "after sync --hash");
}

#[test]
fn sync_on_a_fresh_stick_writes_an_empty_index() {
    let t = TempDir::new("sync-empty");
    let img = t.path("stick.img");
    new_stick(&img, 64 << 20, 4096);
    let r = run_sync(&img, SyncOptions::default());
    assert_eq!(r.generation, Some(1));
    assert!(indexed(&img).is_empty());
    assert_consistent(&img, &BTreeMap::new(), "after sync of an empty stick");

    // The leftover of an interrupted `add --force`: check warns, sync deletes it.
    {
        let m = mount_data(&img, &t.path("mnt"), false);
        std::fs::write(m.dir().join("x.iso.bootshelf-partial"), pattern(70_000, 9)).unwrap();
    }
    let report = {
        let mut s = Stick::open(&img, false).unwrap();
        let mut vol = open_volume(&mut s).unwrap();
        stick::check::check(&mut vol, None, Default::default(), &mut |_| {}).unwrap()
    };
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.subject() == "/x.iso.bootshelf-partial" && f.to_string().contains("sync")),
        "{:?}",
        report.findings
    );
    let r = run_sync(&img, SyncOptions::default());
    assert_eq!(
        r.leftovers_deleted,
        vec!["/x.iso.bootshelf-partial".to_string()]
    );
    let files = assert_consistent(&img, &BTreeMap::new(), "after sync deleted a leftover");
    assert!(files.is_empty(), "{files:?}");
}
