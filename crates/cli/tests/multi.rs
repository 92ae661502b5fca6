//! Several sticks in one run and the progress of long work, through the built binary
//! (docs/multi.md): `install A B` and `add --to A --to B ISO...` write every stick, one
//! stick's failure does not stop the others, each gets its summary, and the exit status
//! is 2 when any failed; `add`'s progress on a terminal goes through its stages (copy,
//! flush, verify) in binary units, without an ETA where none is known, and ends with a
//! summary line.

use std::path::{Path, PathBuf};
use testkit::cli::{on_terminal, Bootshelf};
use testkit::loopdev::{LoopDev, LoopOptions};
use testkit::stick::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn list_json(t: &Bootshelf, img: &Path) -> serde_json::Value {
    serde_json::from_str(&t.ok(&["list", s(img), "--json"])).unwrap()
}

fn hybrid(t: &Bootshelf, name: &str) -> PathBuf {
    iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        name,
        None,
    )
}

#[test]
fn install_and_add_write_several_sticks_in_one_run() {
    let t = Bootshelf::new("multi-ok");
    let (a, b) = (t.path("a.img"), t.path("b.img"));
    let out = t.ok(&["install", s(&a), s(&b), "--size", "100M", "--yes"]);
    assert!(
        out.contains("a.img: bootshelf stick")
            && out.contains("b.img: bootshelf stick")
            && out.contains("2 of 2 sticks done"),
        "{out}"
    );
    let iso = hybrid(&t, "hybrid.iso");
    let iso2 = iso_copy(
        &fixtures::iso::bios_only().unwrap(),
        t.dir(),
        "bios.iso",
        None,
    );
    let out = t.ok(&[
        "add",
        "--to",
        s(&a),
        "--to",
        s(&b),
        s(&iso),
        s(&iso2),
        "--verify",
    ]);
    for stick in ["a.img", "b.img"] {
        assert!(
            out.contains(&format!("{stick}: added /hybrid.iso"))
                && out.contains(&format!("{stick}: added /bios.iso"))
                && out.contains(&format!("{stick}: done: 2 ISOs copied and verified, ")),
            "{out}"
        );
    }
    assert!(out.contains("2 of 2 sticks done"), "{out}");
    // Both sticks hold both ISOs, byte for byte, and are consistent.
    let mut expect = std::collections::BTreeMap::new();
    expect.insert("/hybrid.iso".to_string(), iso.clone());
    expect.insert("/bios.iso".to_string(), iso2.clone());
    for img in [&a, &b] {
        assert_consistent(img, &expect, "after add --to both");
        let l = list_json(&t, img);
        assert_eq!(l["isos"][0]["sha256"], sha256_file(&iso));
        assert_eq!(l["isos"][1]["sha256"], sha256_file(&iso2));
    }
}

#[test]
fn one_stick_failing_does_not_stop_the_others_and_the_run_exits_2() {
    let t = Bootshelf::new("multi-mixed");
    let (a, b) = (t.path("a.img"), t.path("b.img"));
    // install: a path under /dev that is no disk is refused; the image files are made.
    let absent = "/dev/bootshelf-multi-absent";
    let r = t
        .run(&["install", s(&a), absent, s(&b), "--size", "100M", "--yes"])
        .assert_code(2);
    assert!(
        r.stdout.contains("a.img: bootshelf stick") && r.stdout.contains("b.img: bootshelf stick"),
        "{}",
        r.text()
    );
    assert!(
        r.stderr.contains(&format!("bootshelf: error: {absent}: "))
            && r.stderr.contains(&format!(
                "1 of 3 sticks failed ({absent}); the other 2 are done"
            )),
        "{}",
        r.text()
    );
    assert!(!Path::new(absent).exists());
    t.ok(&["check", s(&a)]);
    t.ok(&["check", s(&b)]);

    // add: the ISO is on a already, so a refuses (writing nothing), b still gets it.
    let iso = hybrid(&t, "hybrid.iso");
    t.ok(&["add", s(&a), s(&iso), "--quiet"]);
    let before = std::fs::read(&a).unwrap();
    let r = t
        .run(&["add", "--to", s(&a), "--to", s(&b), s(&iso)])
        .assert_code(2);
    assert!(
        r.stdout.contains("b.img: added /hybrid.iso") && r.stdout.contains("b.img: done: 1 ISO"),
        "{}",
        r.text()
    );
    assert!(
        r.stderr
            .contains("a.img: /hybrid.iso is already on the stick")
            && r.stderr.contains("1 of 2 sticks failed (")
            && r.stderr.contains("the other stick is done"),
        "{}",
        r.text()
    );
    assert!(
        std::fs::read(&a).unwrap() == before,
        "a refused stick was written"
    );
    assert_eq!(list_json(&t, &b)["isos"][0]["sha256"], sha256_file(&iso));

    // The same stick twice is refused before anything is written.
    let e = t.fails(&[
        "add",
        "--to",
        s(&a),
        "--to",
        &format!("./{}", "a.img"),
        s(&iso),
    ]);
    assert!(e.contains("are the same stick"), "{e}");
    // Without --to the first path is the stick and at least one ISO must follow.
    let e = t.fails(&["add", s(&a)]);
    assert!(e.contains("add needs a stick and at least one ISO"), "{e}");
}

/// The stages drawn on a terminal while `add --verify` copies an ISO onto a loop device
/// whose writes are held to 20 MB/s: the copy and the read-back as bars with sizes and
/// speeds in binary units, the flush without an ETA; then the summary line.
#[test]
fn add_shows_copy_flush_and_verify_stages_in_binary_units() {
    let t = Bootshelf::new("multi-stages");
    let img = t.path("stick.img");
    t.ok(&["install", s(&img), "--size", "200M", "--yes"]);
    let lo = LoopDev::attach(&img, LoopOptions::default()).unwrap();
    let _slow = lo.limit_writes(20_000_000).unwrap();
    // 48 MiB: below the write-behind window, so all of it is flushed at the end (2.5 s).
    let iso = iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        "big.iso",
        Some(48 << 20),
    );
    let (run, screen) = on_terminal(t.dir(), &["add", lo.name(), s(&iso), "--verify"], 160);
    let run = run.assert_ok();
    let drawn: Vec<&str> = screen
        .split(['\r', '\n'])
        .map(|l| {
            l.trim_start_matches(|c: char| {
                c == '\x1b' || c == '[' || c.is_ascii_digit() || c == 'K' || c == 'A'
            })
        })
        .filter(|l| !l.is_empty())
        .collect();
    let has = |stage: &str| {
        drawn
            .iter()
            .any(|l| l.contains(&format!("{stage} /big.iso")))
    };
    assert!(has("copy") && has("flush") && has("verify"), "{screen:?}");
    for l in drawn
        .iter()
        .filter(|l| l.contains("copy /big.iso") || l.contains("verify /big.iso"))
    {
        assert!(l.contains("/48.00 MiB") && l.contains("B/s ETA "), "{l:?}");
        // No estimate before the first bytes: "?", not "0s".
        assert!(
            !l.contains(" 0 B/48.00 MiB") || l.contains("ETA ?"),
            "{l:?}"
        );
    }
    for l in drawn.iter().filter(|l| l.contains("flush /big.iso")) {
        assert!(!l.contains("ETA"), "{l:?}");
    }
    assert!(
        !screen.contains("MB/s") && !run.stdout.contains("MB/s"),
        "{screen:?}"
    );
    let out = &run.stdout;
    assert!(
        out.contains("added /big.iso (48.0 MiB in ")
            && out.contains("MiB/s), verified")
            && out.contains("done: 1 ISO copied and verified, 48.0 MiB in "),
        "{out}"
    );
    // Held to 20 MB/s (19.1 MiB/s), 48 MiB take at least 2.4 s, and the summary says so.
    let secs: f64 = out
        .split("done: 1 ISO copied and verified, 48.0 MiB in ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(secs >= 2.3, "{out}");
}

/// `install A B` on image files that hold sticks with ISOs: one question lists both;
/// anything but `yes` leaves both byte-identical, `yes` erases both.
#[test]
fn install_on_several_asks_once_for_all() {
    let t = Bootshelf::new("multi-ask");
    let (a, b) = (t.path("a.img"), t.path("b.img"));
    t.ok(&["install", s(&a), s(&b), "--size", "100M", "--yes"]);
    let iso = hybrid(&t, "hybrid.iso");
    t.ok(&["add", "--to", s(&a), "--to", s(&b), s(&iso), "--quiet"]);
    let (before_a, before_b) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());

    let no = testkit::cli::answer_on_terminal(t.dir(), &["install", s(&a), s(&b)], "no\n")
        .assert_code(2);
    let question = no
        .stderr
        .split("Type 'yes'")
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        question.contains("This ERASES everything on:")
            && question.contains(&format!("the image file {}", a.display()))
            && question.contains(&format!("the image file {}", b.display()))
            && question.matches("1 ISO").count() == 2,
        "{}",
        no.text()
    );
    assert_eq!(
        no.stderr.matches("Type 'yes' to continue").count(),
        1,
        "{}",
        no.text()
    );
    assert!(
        no.stderr.contains("not confirmed; nothing was written"),
        "{}",
        no.text()
    );
    assert!(std::fs::read(&a).unwrap() == before_a && std::fs::read(&b).unwrap() == before_b);

    // No terminal and no --yes: refused for both, naming both.
    let e = t.fails(&["install", s(&a), s(&b)]);
    assert!(
        e.contains("add --yes") && e.contains("a.img") && e.contains("b.img"),
        "{e}"
    );
    assert!(std::fs::read(&a).unwrap() == before_a && std::fs::read(&b).unwrap() == before_b);

    let yes =
        testkit::cli::answer_on_terminal(t.dir(), &["install", s(&a), s(&b)], "yes\n").assert_ok();
    assert!(yes.stdout.contains("2 of 2 sticks done"), "{}", yes.text());
    for img in [&a, &b] {
        assert_eq!(list_json(&t, img)["isos"].as_array().unwrap().len(), 0);
    }
}

/// `check --hash` and `sync --hash` read every ISO back: on a terminal they show the
/// bytes read and the speed in binary units (no total is known before: no ETA).
#[test]
fn check_and_sync_hash_show_their_progress() {
    let t = Bootshelf::new("multi-hash");
    let img = t.path("stick.img");
    t.ok(&["install", s(&img), "--size", "400M", "--yes"]);
    let iso = iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        "big.iso",
        Some(256 << 20),
    );
    t.ok(&["add", s(&img), s(&iso), "--quiet"]);
    for cmd in ["check", "sync"] {
        let (run, screen) = on_terminal(t.dir(), &[cmd, s(&img), "--hash"], 120);
        run.assert_ok();
        let lines: Vec<&str> = screen
            .split(['\r', '\n'])
            .filter(|l| l.contains("hashing the ISOs"))
            .collect();
        assert!(!lines.is_empty(), "{cmd}: {screen:?}");
        for l in lines {
            assert!(
                l.contains("B/s") && !l.contains("MB/s") && !l.contains("ETA"),
                "{l:?}"
            );
        }
    }
    // Without a terminal nothing of it is printed.
    let out = t.run(&["check", s(&img), "--hash"]).assert_ok();
    assert!(!out.text().contains("hashing the ISOs"), "{}", out.text());
}
