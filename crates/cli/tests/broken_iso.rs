//! Broken ISOs through the built binary: a truncated download (`head -c 1M` of a 4 MiB
//! ISO) is refused by `add` with both sizes and exit 2, leaving the stick byte-identical,
//! and `--force` adds it; `sync` lists a truncated copy put on by a file manager as broken
//! without indexing it, and `list` shows it blocked with the reason; `inspect` warns, says
//! so in its JSON (`broken`) and exits 1.

use std::path::{Path, PathBuf};
use testkit::cli::Bootshelf;
use testkit::stick::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The first MiB of the BIOS+UEFI hybrid fixture (a 4 MiB ISO 9660 volume), as a
/// truncated download would leave it.
fn truncated(t: &Bootshelf) -> PathBuf {
    let full = fixtures::iso::bios_uefi_hybrid().unwrap();
    let bytes = std::fs::read(&full).unwrap();
    assert!(
        bytes.len() >= 3 << 20,
        "the fixture is {} bytes",
        bytes.len()
    );
    let p = t.path("cut.iso");
    std::fs::write(&p, &bytes[..1 << 20]).unwrap();
    p
}

const TRUNCATED: &str = "truncated: the ISO says 4.0 MiB, the file has 1.0 MiB";

#[test]
fn add_refuses_a_truncated_iso_and_force_adds_it() {
    let t = Bootshelf::new("cli-broken-add");
    let img = t.path("stick.img");
    t.ok(&["install", s(&img), "--size", "64M", "--yes"]);
    let cut = truncated(&t);
    let before = std::fs::read(&img).unwrap();

    let err = t
        .run(&["add", s(&img), s(&cut), "--quiet"])
        .assert_code(2)
        .stderr;
    assert!(err.contains(TRUNCATED), "{err}");
    assert!(err.contains("--force"), "{err}");
    assert!(
        std::fs::read(&img).unwrap() == before,
        "a refused add changed the stick"
    );

    let run = t
        .run(&["add", s(&img), s(&cut), "--quiet", "--force"])
        .assert_ok();
    assert!(run.stdout.contains("added /cut.iso"), "{}", run.text());
    assert!(
        run.stderr.contains(TRUNCATED) && run.stderr.contains("copied anyway (--force)"),
        "{}",
        run.stderr
    );
    let l: serde_json::Value = serde_json::from_str(&t.ok(&["list", s(&img), "--json"])).unwrap();
    assert_eq!(l["isos"][0]["path"], "/cut.iso");
    assert_eq!(l["isos"][0]["bios"], false);
    assert_eq!(l["isos"][0]["uefi"], false);
}

#[test]
fn sync_lists_a_truncated_copy_as_broken_and_the_menu_blocks_it() {
    let t = Bootshelf::new("cli-broken-sync");
    let img = t.path("stick.img");
    t.ok(&["install", s(&img), "--size", "64M", "--yes"]);
    let good = iso_copy(
        &fixtures::iso::bios_only().unwrap(),
        t.dir(),
        "good.iso",
        None,
    );
    let cut = truncated(&t);
    // Both copied by a file manager (exfat-fuse), not by bootshelf.
    let mnt = t.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let fuse = mount_data(&img, &mnt, false);
    std::fs::copy(&good, mnt.join("good.iso")).unwrap();
    std::fs::copy(&cut, mnt.join("cut.iso")).unwrap();
    fuse.unmount().unwrap();

    // The menu (list shows its entries) blocks it with the reason.
    let l: serde_json::Value = serde_json::from_str(&t.ok(&["list", s(&img), "--json"])).unwrap();
    let row = l["isos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["path"] == "/cut.iso")
        .unwrap_or_else(|| panic!("{l}"))
        .clone();
    assert_eq!(row["bios"], false, "{row}");
    assert_eq!(row["uefi"], false, "{row}");
    assert!(
        row["problem"]
            .as_str()
            .unwrap_or_default()
            .contains(TRUNCATED),
        "{row}"
    );
    let text = t.ok(&["list", s(&img)]);
    assert!(
        text.contains(&format!("/cut.iso: cannot be booted: {TRUNCATED}")),
        "{text}"
    );

    let out = t.ok(&["sync", s(&img)]);
    assert!(out.contains("indexed /good.iso"), "{out}");
    assert!(
        out.contains(&format!("broken /cut.iso: {TRUNCATED}")) && out.contains("not indexed"),
        "{out}"
    );
    assert!(!out.contains("indexed /cut.iso"), "{out}");
    let idx = indexed(&img);
    assert!(idx.contains_key("/good.iso"), "{idx:?}");
    assert!(!idx.contains_key("/cut.iso"), "{idx:?}");
}

#[test]
fn inspect_warns_about_a_truncated_iso_and_exits_1() {
    let t = Bootshelf::new("cli-broken-inspect");
    let cut = truncated(&t);
    let run = t.run(&["inspect", s(&cut)]).assert_code(1);
    let warning = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("warning"))
        .unwrap_or_else(|| panic!("no warning line:\n{}", run.stdout));
    assert!(warning.contains(TRUNCATED), "{warning}");

    let run = t.run(&["inspect", "--json", s(&cut)]).assert_code(1);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let b = doc["isos"][0]["broken"].as_str().unwrap_or_default();
    assert!(b.starts_with(TRUNCATED), "{doc}");

    // The whole ISO: no warning, `broken` is null.
    let full = fixtures::iso::bios_uefi_hybrid().unwrap();
    let run = t.run(&["inspect", "--json", s(&full)]).assert_ok();
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(doc["isos"][0]["broken"].is_null(), "{doc}");
}
