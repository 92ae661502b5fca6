//! `bootshelf options` through the built binary: saving, showing, `--json`, `list`'s
//! view, options tied to the ISO's SHA-256, and refusals that write nothing.

use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use stick::index_io::{open_volume, IndexStore};

/// Run `bootshelf args` in `cwd`, assert the exit status, return (stdout, stderr).
fn expect(code: i32, args: &[&str], cwd: &Path) -> (String, String) {
    let mut c = testkit::cli::command();
    c.current_dir(cwd).stdin(Stdio::null());
    let o = testkit::cli::finish(c, args).assert_code(code);
    (o.stdout, o.stderr)
}

/// A 64 MiB stick image `s.img` in `dir` with the isolinux fixture as `/a.iso`.
fn stick(dir: &Path) {
    expect(0, &["install", "s.img", "--size", "64M"], dir);
    let a = dir.join("a.iso");
    std::fs::copy(fixtures::options::live_build_isolinux_iso().unwrap(), &a).unwrap();
    expect(0, &["add", "s.img", a.to_str().unwrap(), "--quiet"], dir);
}

fn edit_index(img: &Path, edit: impl FnOnce(&mut stick::index_io::Index)) {
    let mut st = stick::Stick::open(img, true).unwrap();
    let mut vol = open_volume(&mut st).unwrap();
    let mut store = IndexStore::load(&mut vol).unwrap();
    let mut idx = store.index();
    edit(&mut idx);
    store.write(&mut vol, idx).unwrap();
}

fn listed(d: &Path) -> Value {
    let (out, _) = expect(0, &["list", "s.img", "--json"], d);
    let v: Value = serde_json::from_str(&out).unwrap();
    v["isos"][0].clone()
}

#[test]
fn options_are_saved_shown_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stick(d);
    let (out, _) = expect(0, &["options", "s.img", "a.iso"], d);
    assert!(out.contains("/a.iso: no kernel options"), "{out}");
    assert_eq!(listed(d)["options"], Value::Null);
    let (out, _) = expect(
        0,
        &[
            "options",
            "s.img",
            "a.iso",
            "--append",
            "nomodeset toram",
            "--remove",
            "quiet",
        ],
        d,
    );
    assert_eq!(
        out.trim(),
        "/a.iso: kernel options: append \"nomodeset toram\"; remove quiet"
    );
    // Appending again adds only what is new; removing a saved argument drops it.
    let (out, _) = expect(
        0,
        &[
            "options",
            "s.img",
            "/a.iso",
            "--append",
            "toram console=ttyS0",
            "--remove",
            "nomodeset",
            "--json",
        ],
        d,
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["options"]["append"], "toram console=ttyS0");
    assert_eq!(
        v["options"]["remove"],
        serde_json::json!(["quiet", "nomodeset"])
    );
    let row = listed(d);
    assert_eq!(row["options"]["append"], "toram console=ttyS0");
    assert_eq!(row["options_stale"], false);
    let (out, _) = expect(0, &["list", "s.img"], d);
    assert!(
        out.contains(
            "/a.iso: kernel options: append \"toram console=ttyS0\"; remove quiet nomodeset"
        ),
        "{out}"
    );
    // --clear alone: nothing saved.
    expect(0, &["options", "s.img", "a.iso", "--clear"], d);
    assert_eq!(listed(d)["options"], Value::Null);
}

#[test]
fn options_follow_the_iso_hash_not_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stick(d);
    expect(
        0,
        &["options", "s.img", "a.iso", "--append", "nomodeset"],
        d,
    );
    // The file's recorded SHA-256 changes (as `sync --hash` of a replaced file does).
    edit_index(&d.join("s.img"), |idx| idx.isos[0].sha256 = Some([7; 32]));
    let row = listed(d);
    assert_eq!(row["options"], Value::Null);
    assert_eq!(row["options_stale"], true);
    let (out, _) = expect(0, &["list", "s.img"], d);
    assert!(
        out.contains("saved for a different file (not applied"),
        "{out}"
    );
    // Setting them again starts from nothing, for the new hash.
    let (out, _) = expect(0, &["options", "s.img", "a.iso", "--append", "toram"], d);
    assert!(out.contains("append \"toram\""), "{out}");
    // `add --force` of the same name is another ISO: no options carried over.
    let a = d.join("a.iso");
    expect(
        0,
        &["add", "s.img", a.to_str().unwrap(), "--quiet", "--force"],
        d,
    );
    assert_eq!(listed(d)["options"], Value::Null);
}

#[test]
fn refusals_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stick(d);
    edit_index(&d.join("s.img"), |idx| idx.isos[0].sha256 = None);
    let before = std::fs::read(d.join("s.img")).unwrap();
    let (_, err) = expect(2, &["options", "s.img", "a.iso", "--append", "x"], d);
    assert!(err.contains("has no SHA-256 in the index"), "{err}");
    assert!(err.contains("bootshelf sync STICK --hash"), "{err}");
    let (_, err) = expect(2, &["options", "s.img", "nothere.iso", "--append", "x"], d);
    assert!(err.contains("no ISO matches \"nothere.iso\""), "{err}");
    assert!(std::fs::read(d.join("s.img")).unwrap() == before);
}
