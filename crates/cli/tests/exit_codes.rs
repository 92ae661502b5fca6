//! The exit status through the built binary, a test per code (decided in
//! crates/cli/src/exit.rs): 0 success, 1 the command ran and found problems, 2 error
//! (bad arguments, a missing file, a refusal). And README.md lists what `--help` lists.

use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use stick::index_io::{open_volume, IndexStore};
use testkit::image::read_range;
use testkit::loopdev::{LoopDev, LoopOptions};

/// Run `bootshelf args` in `cwd`, assert the exit status, return (stdout, stderr).
fn expect(code: i32, args: &[&str], cwd: &Path) -> (String, String) {
    let mut c = testkit::cli::command();
    c.current_dir(cwd).stdin(Stdio::null());
    let o = testkit::cli::finish(c, args).assert_code(code);
    (o.stdout, o.stderr)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A 64 MiB stick image `s.img` in `dir` with the BIOS-only fixture ISO as `/a.iso`.
fn stick_with_one_iso(dir: &Path) -> std::path::PathBuf {
    expect(0, &["install", "s.img", "--size", "64M"], dir);
    let a = dir.join("a.iso");
    std::fs::copy(fixtures::iso::bios_only().unwrap(), &a).unwrap();
    expect(0, &["add", "s.img", s(&a), "--quiet"], dir);
    dir.join("s.img")
}

/// Change the current index behind the file system's back.
fn edit_index(img: &Path, edit: impl FnOnce(&mut stick::index_io::Index)) {
    let mut st = stick::Stick::open(img, true).unwrap();
    let mut vol = open_volume(&mut st).unwrap();
    let mut store = IndexStore::load(&mut vol).unwrap();
    let mut idx = store.index();
    edit(&mut idx);
    store.write(&mut vol, idx).unwrap();
}

#[test]
fn success_is_0() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    stick_with_one_iso(d);
    let (out, _) = expect(0, &["list", "s.img"], d);
    assert!(out.contains("/a.iso"), "{out}");
    let (out, _) = expect(0, &["list", "s.img", "--json"], d);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["isos"][0]["path"], "/a.iso");
    let (out, _) = expect(0, &["check", "s.img", "--hash"], d);
    assert!(out.contains("1 hashes match): no problems"), "{out}");
    let iso = fixtures::iso::bios_uefi_hybrid().unwrap();
    expect(0, &["inspect", s(&iso)], d);
    // Help and version are success, on stdout; the help lists the exit status.
    let (out, _) = expect(0, &["--help"], d);
    assert!(out.contains("Exit status:"), "{out}");
    expect(0, &["check", "--help"], d);
    let (out, _) = expect(0, &["--version"], d);
    assert!(out.starts_with("bootshelf "), "{out}");
}

#[test]
fn problems_found_are_1() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = stick_with_one_iso(d);

    // Warnings do not count: boot-next naming an ISO that is not indexed.
    edit_index(&img, |idx| {
        idx.settings.boot_next = Some("/gone.iso".into())
    });
    let (out, _) = expect(0, &["check", "s.img"], d);
    assert!(
        out.contains("warning: boot-next: names /gone.iso, which is not indexed"),
        "{out}"
    );

    // A problem: the index has the ISO 4 KiB further on than the file system has it.
    edit_index(&img, |idx| idx.isos[0].extents[0].start += 4096);
    let (out, _) = expect(1, &["check", "s.img"], d);
    assert!(
        out.contains("PROBLEM: /a.iso: extents [Extent { start: ")
            && out.contains(": 1 problem(s)"),
        "{out}"
    );
    // The same through --json: every finding, with its stable kind.
    let (out, _) = expect(1, &["check", "s.img", "--json"], d);
    let v: Value = serde_json::from_str(&out).unwrap();
    let findings = v.as_array().unwrap();
    let kinds: Vec<(&str, &str, &str)> = findings
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
                f["subject"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("current_index", "note", "/bootshelf/index.a"))
            || kinds.contains(&("current_index", "note", "/bootshelf/index.b")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("setting_not_indexed", "warning", "boot-next")),
        "{kinds:?}"
    );
    let problem: Vec<&Value> = findings
        .iter()
        .filter(|f| f["severity"] == "problem")
        .collect();
    assert_eq!(problem.len(), 1, "{out}");
    assert_eq!(problem[0]["kind"], "extents_mismatch");
    assert_eq!(problem[0]["subject"], "/a.iso");
    let message = problem[0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("extents [") && message.ends_with("on the file system"),
        "{message}"
    );

    // inspect: an ISO 9660 image without a boot catalog, and a file that is no ISO.
    let plain = fixtures::iso::plain().unwrap();
    let (out, _) = expect(1, &["inspect", "--json", s(&plain)], d);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["isos"][0]["error"], Value::Null);
    assert_eq!(v["isos"][0]["bios_bootable"], false);
    assert_eq!(v["isos"][0]["uefi_bootable"], false);
    let junk = d.join("junk.iso");
    std::fs::write(&junk, vec![0x41u8; 40_000]).unwrap();
    let (out, _) = expect(1, &["inspect", s(&junk)], d);
    assert!(out.contains("not an ISO 9660 image"), "{out}");
}

#[test]
fn errors_are_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Bad arguments: clap's usage errors, and the ones the commands find.
    for args in [
        &[][..],
        &["check"][..],
        &["list", "--bogus", "s.img"][..],
        &["frobnicate"][..],
        &["install", "t.img", "--size", "12Q"][..],
        &["boot-next", "s.img", "x.iso", "--clear"][..],
    ] {
        let (_, err) = expect(2, args, d);
        assert!(
            err.contains("Usage:") || err.starts_with("error: invalid value"),
            "{args:?}: {err}"
        );
    }
    let img = stick_with_one_iso(d);
    let a = d.join("a.iso");
    let (_, err) = expect(2, &["add", "s.img", s(&a), s(&a), "--title", "T"], d);
    assert!(err.contains("--title needs exactly one ISO"), "{err}");

    // A missing file.
    for args in [
        &["list", "missing.img"][..],
        &["check", "missing.img"][..],
        &["inspect", "missing.iso"][..],
        &["add", "s.img", "missing.iso"][..],
    ] {
        let (_, err) = expect(2, args, d);
        assert!(
            err.contains("bootshelf: error:") && err.contains("missing."),
            "{args:?}: {err}"
        );
    }
    // An unreadable file outranks ISOs found wanting: all are still reported.
    let plain = fixtures::iso::plain().unwrap();
    let (out, err) = expect(2, &["inspect", "--json", s(&plain), "missing.iso"], d);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["isos"].as_array().unwrap().len(), 2);
    assert!(err.contains("could not read missing.iso"), "{err}");

    // Refusals: a file that is not an ISO, without --force; nothing is written.
    let before = std::fs::read(&img).unwrap();
    let text = d.join("notes.iso");
    std::fs::write(&text, vec![b'x'; 100_000]).unwrap();
    let (_, err) = expect(2, &["add", "s.img", s(&text)], d);
    assert!(err.contains("--force"), "{err}");
    assert!(std::fs::read(&img).unwrap() == before, "refused add wrote");
    // Something that is not a stick.
    std::fs::File::create(d.join("blank.img"))
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let (_, err) = expect(2, &["check", "blank.img"], d);
    assert!(err.contains("not a bootshelf stick"), "{err}");
}

#[test]
fn refusing_a_disk_is_2_and_so_is_answering_no() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("backing.img");
    std::fs::File::create(&file)
        .unwrap()
        .set_len(80 << 20)
        .unwrap();
    let lp = LoopDev::attach(&file, LoopOptions::sector_size(512)).unwrap();
    let dev = lp.name();
    // Not removable, no --force.
    let (_, err) = expect(2, &["install", dev, "--yes"], d);
    assert!(err.contains("--force"), "{err}");
    // No terminal to ask on.
    let (_, err) = expect(2, &["install", dev, "--force"], d);
    assert!(err.contains("--yes"), "{err}");
    // Asked on a terminal, answered "no".
    let o = testkit::cli::answer_on_terminal(d, &["install", dev, "--force"], "no\n");
    let err = o.stderr;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("Type 'yes' to continue") && err.contains("not confirmed"),
        "{err}"
    );
    drop(lp);
    assert!(
        read_range(&file, 0, 1 << 20).iter().all(|&b| b == 0),
        "a declined install wrote"
    );
}

#[test]
fn readme_lists_the_exit_status_of_help() {
    let dir = tempfile::tempdir().unwrap();
    let (help, _) = expect(0, &["--help"], dir.path());
    let section = help
        .split("Exit status:")
        .nth(1)
        .expect("an Exit status section");
    // "  0  meaning\n     continued" -> (0, "meaning continued")
    let mut codes: Vec<(String, String)> = Vec::new();
    for line in section.lines().filter(|l| !l.trim().is_empty()) {
        let t = line.trim();
        match t.split_once("  ") {
            Some((code, text)) if code.parse::<u8>().is_ok() => {
                codes.push((code.into(), text.trim().into()))
            }
            _ => {
                let last = codes.last_mut().expect("a code first");
                last.1.push(' ');
                last.1.push_str(t);
            }
        }
    }
    let got: Vec<&str> = codes.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(got, ["0", "1", "2"]);
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let flat = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("## Exit status"),
        "README has no Exit status section"
    );
    for (code, text) in &codes {
        assert!(
            flat.contains(&format!("| {code} | {text} |")),
            "README.md lacks `| {code} | {text} |`"
        );
    }
}
