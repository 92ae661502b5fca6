//! Crash safety of add, replace, remove, sync and persistence at the library level: a device that
//! stops writing after N writes (power cut between two writes) is given to each command
//! for every N up to the number of writes the command does. After each cut: fsck.exfat -n
//! is clean, the index decodes, lists only complete ISOs whose bytes match their hash (as
//! exfat-fuse reads them), and the stick takes the same command again.
//!
//! The kill-the-process variant (SIGKILL of the real binary) is crates/cli/tests/crash.rs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use stick::add::{add_prepared, check_space, prepare, AddOptions};
use stick::index_io::IndexStore;
use stick::Stick;
use testkit::cutdev::{Count, CutAfter};
use testkit::image::copy_sparse;
use testkit::stick::*;
use testkit::TempDir;

#[derive(Clone, Copy, Debug)]
enum Op<'a> {
    Add(&'a Path, bool),
    Remove(&'a str),
    Sync,
}

/// Run `op` on `img` with writes cut after `cut`; returns (succeeded, writes done).
fn run_cut(img: &Path, op: Op<'_>, cut: u64) -> (bool, u64) {
    let mut s = Stick::open(img, true).unwrap();
    let data = s.layout().data;
    let dev = CutAfter::new(s.device(), cut, Count::Writes).failing_flush_after_cut();
    let mut vol = exfat::Volume::open(dev, data.first_lba(), data.sectors()).unwrap();
    let mut store = IndexStore::load(&mut vol).unwrap();
    let ok = match op {
        Op::Add(src, force) => {
            let opts = AddOptions {
                force,
                ..AddOptions::default()
            };
            let p = prepare(&mut vol, src, &opts).unwrap();
            check_space(&mut vol, std::slice::from_ref(&p)).unwrap();
            add_prepared(&mut vol, &mut store, &p, &opts, &mut |_| {}).is_ok()
        }
        Op::Remove(name) => {
            stick::remove::remove_isos(&mut vol, &mut store, &[name.to_string()], true).is_ok()
        }
        Op::Sync => {
            stick::sync::sync(&mut vol, &mut store, Default::default(), &mut |_| {}).is_ok()
        }
    };
    let done = vol.device().done();
    (ok, done)
}

/// Cut `op` after every possible number of writes on copies of `base`; `expect` maps
/// paths to sources. Returns how many cuts were tried.
fn cut_everywhere(base: &Path, work: &Path, op: Op<'_>, expect: &BTreeMap<String, PathBuf>) -> u64 {
    copy_sparse(base, work);
    let (ok, total) = run_cut(work, op, u64::MAX);
    assert!(ok, "{op:?} fails without a cut");
    assert!(total > 0);
    eprintln!("{op:?}: {total} writes");
    for cut in 0..total {
        copy_sparse(base, work);
        let (ok, _) = run_cut(work, op, cut);
        assert!(
            !ok,
            "{op:?} reported success with writes cut after {cut} of {total}"
        );
        let when = format!("after {op:?} cut at write {cut}/{total}");
        assert_consistent(work, expect, &when);
        // The stick takes the command again: `add --force` over what the cut left, or
        // `sync` to index what an interrupted remove left behind.
        let again = match op {
            Op::Add(p, _) => Op::Add(p, true),
            Op::Remove(_) | Op::Sync => Op::Sync,
        };
        let (ok, _) = run_cut(work, again, u64::MAX);
        assert!(ok, "{again:?} fails on the stick left by a cut at {cut}");
        assert_consistent(work, expect, &format!("{when} and a rerun"));
    }
    total
}

#[test]
fn add_replace_remove_sync_survive_a_power_cut_at_every_write() {
    let t = TempDir::new("crash-lib");
    let base = t.path("base.img");
    new_stick(&base, 128 << 20, 512);
    let first = iso_copy(
        &fixtures::iso::bios_only().unwrap(),
        t.dir(),
        "first.iso",
        None,
    );
    add_one(&base, &first, &AddOptions::default()).unwrap();
    // 24 MiB: several 8 MiB data writes before the metadata writes.
    let second = iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        "second.iso",
        Some(24 << 20),
    );
    let work = t.path("work.img");
    let expect: BTreeMap<String, PathBuf> = [
        ("/first.iso".to_string(), first.clone()),
        ("/second.iso".to_string(), second.clone()),
    ]
    .into_iter()
    .collect();

    let mut tried = cut_everywhere(&base, &work, Op::Add(&second, false), &expect);

    // Replace: the base now has both; the replacement has other bytes.
    add_one(&base, &second, &AddOptions::default()).unwrap();
    let replacement = iso_copy(
        &fixtures::iso::uefi_only().unwrap(),
        t.dir(),
        "replacement.iso",
        Some(20 << 20),
    );
    std::fs::copy(&replacement, &second).unwrap();
    // Either the old or the new bytes may be indexed after a cut: hashes are checked
    // against the index itself, sizes and presence against exfat-fuse.
    let loose: BTreeMap<String, PathBuf> = [("/first.iso".to_string(), first.clone())]
        .into_iter()
        .collect();
    tried += cut_everywhere(&base, &work, Op::Add(&second, true), &loose);
    tried += cut_everywhere(&base, &work, Op::Remove("second.iso"), &loose);
    // Sync with something to do: an ISO copied in by another exFAT implementation.
    let extra = iso_copy(
        &fixtures::iso::bios_only().unwrap(),
        t.dir(),
        "extra.iso",
        None,
    );
    {
        let m = mount_data(&base, &t.path("mnt"), false);
        std::fs::copy(&extra, m.dir().join("extra.iso")).unwrap();
    }
    let mut loose = loose;
    loose.insert("/extra.iso".to_string(), extra.clone());
    tried += cut_everywhere(&base, &work, Op::Sync, &loose);
    eprintln!("power cuts tried: {tried}");
    assert!(tried >= 20, "only {tried} cut points");
}

/// Make a 16 MiB live-boot persistence file for `/first.iso` on `img` with writes cut
/// after `cut`; returns (succeeded, writes done).
fn persistence_cut(img: &Path, cut: u64) -> (bool, u64) {
    use stick::persistence::{create, plan, CreateOptions, Family};
    let mut s = Stick::open(img, true).unwrap();
    let data = s.layout().data;
    let dev = CutAfter::new(s.device(), cut, Count::Writes).failing_flush_after_cut();
    let mut vol = exfat::Volume::open(dev, data.first_lba(), data.sectors()).unwrap();
    let mut store = IndexStore::load(&mut vol).unwrap();
    let opts = CreateOptions {
        size: 16 << 20,
        family: Some(Family::LiveBoot),
    };
    let ok = match plan(&mut vol, &store, "first.iso", &opts) {
        Ok(p) => create(&mut vol, &mut store, &p, &mut |_| {}).is_ok(),
        Err(e) => panic!("planning after a cut: {e}"),
    };
    (ok, vol.device().done())
}

/// The persistence link of `/first.iso` and the orphans, read without a cut.
fn persistence_state(img: &Path) -> (Option<stick::index_io::Persistence>, Vec<String>) {
    let mut s = Stick::open(img, false).unwrap();
    let mut vol = stick::index_io::open_volume(&mut s).unwrap();
    let store = IndexStore::load(&mut vol).unwrap();
    let link = store
        .index()
        .find("/first.iso")
        .and_then(|e| e.extensions.persistence.clone());
    if let Some(l) = &link {
        assert!(
            stick::persistence::on_volume(&mut vol, l),
            "the index links a persistence file that is not on the volume: {l:?}"
        );
    }
    let orphans = stick::persistence::orphans(&mut vol, &store).unwrap();
    (link, orphans)
}

/// `bootshelf persistence` cut after every write: the index never links a file before it
/// is complete (the link is the last write), fsck.exfat -n stays clean, what a cut leaves is at
/// most one orphan, and after deleting it the command succeeds.
#[test]
fn persistence_survives_a_power_cut_at_every_write() {
    let t = TempDir::new("crash-persist");
    let base = t.path("base.img");
    new_stick(&base, 96 << 20, 512);
    let first = iso_copy(
        &fixtures::iso::bios_only().unwrap(),
        t.dir(),
        "first.iso",
        None,
    );
    add_one(&base, &first, &AddOptions::default()).unwrap();
    let expect: BTreeMap<String, PathBuf> = [("/first.iso".to_string(), first.clone())]
        .into_iter()
        .collect();
    let work = t.path("work.img");
    copy_sparse(&base, &work);
    let (ok, total) = persistence_cut(&work, u64::MAX);
    assert!(ok && total > 0);
    eprintln!("persistence: {total} writes");
    for cut in 0..total {
        copy_sparse(&base, &work);
        let (ok, _) = persistence_cut(&work, cut);
        assert!(
            !ok,
            "reported success with writes cut after {cut} of {total}"
        );
        let when = format!("persistence cut at write {cut}/{total}");
        assert_consistent(&work, &expect, &when);
        let (link, orphans) = persistence_state(&work);
        assert!(link.is_none(), "{when}: the link was written: {link:?}");
        assert!(orphans.len() <= 1, "{when}: {orphans:?}");
        // What the cut left is an orphan at most; without it, the command works again.
        if let Some(o) = orphans.first() {
            let mut s = Stick::open(&work, true).unwrap();
            let mut vol = stick::index_io::open_volume(&mut s).unwrap();
            stick::persistence::delete_file(&mut vol, o).unwrap();
        }
        let (ok, _) = persistence_cut(&work, u64::MAX);
        assert!(ok, "{when}: the rerun failed");
        let (link, orphans) = persistence_state(&work);
        assert!(link.is_some() && orphans.is_empty(), "{when}: {orphans:?}");
        assert_consistent(&work, &expect, &format!("{when} and a rerun"));
    }
}
