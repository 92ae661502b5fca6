//! One bootshelf command at a time per stick, through the built binary: while a command
//! that writes holds the stick's lock, a second `add` exits 2 at once naming the holder
//! (pid and command line) and writes nothing; commands that only read share the lock
//! with each other, not with a writer (docs/safety.md, "One command at a time").

use nix::fcntl::{Flock, FlockArg};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};
use testkit::cli::Bootshelf;
use testkit::stick::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A stick with one ISO on it, and another ISO to add.
fn stick(t: &Bootshelf, size: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let img = t.path("stick.img");
    t.ok(&["install", s(&img), "--size", size, "--yes"]);
    let first = iso_copy(
        &fixtures::iso::bios_only().unwrap(),
        t.dir(),
        "first.iso",
        None,
    );
    t.ok(&["add", s(&img), s(&first), "--quiet"]);
    let next = iso_copy(
        &fixtures::iso::uefi_only().unwrap(),
        t.dir(),
        "next.iso",
        None,
    );
    (img, next)
}

fn lock(img: &Path, arg: FlockArg) -> Flock<std::fs::File> {
    let f = std::fs::File::open(img).unwrap();
    Flock::lock(f, arg).map_err(|(_, e)| e).unwrap()
}

#[test]
fn a_held_lock_refuses_a_second_command_at_once_and_names_the_holder() {
    let t = Bootshelf::new("cli-lock-held");
    let (img, next) = stick(&t, "64M");
    let before = std::fs::read(&img).unwrap();
    let me = format!("pid {}", std::process::id());

    // Held exclusively (as `add` holds it): writers and readers are refused, at once.
    let held = lock(&img, FlockArg::LockExclusiveNonblock);
    for args in [
        vec!["add", s(&img), s(&next), "--quiet"],
        vec!["sync", s(&img)],
        vec!["list", s(&img)],
        vec!["check", s(&img)],
    ] {
        let start = Instant::now();
        let err = t.run(&args).assert_code(2).stderr;
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{args:?} waited for the lock"
        );
        assert!(
            err.contains(&me)
                && err.contains(&format!(
                    "is using {}; wait for it to finish",
                    img.display()
                )),
            "{args:?}: {err}"
        );
    }
    assert!(
        std::fs::read(&img).unwrap() == before,
        "a refused command changed the stick"
    );
    drop(held);

    // Held shared (as `list` and `check` hold it): readers go on, writers are refused.
    let shared = lock(&img, FlockArg::LockSharedNonblock);
    t.ok(&["list", s(&img)]);
    t.ok(&["check", s(&img)]);
    let err = t
        .run(&["add", s(&img), s(&next), "--quiet"])
        .assert_code(2)
        .stderr;
    assert!(err.contains(&me), "{err}");
    assert!(std::fs::read(&img).unwrap() == before);
    drop(shared);

    // Released: the same add runs.
    let out = t.ok(&["add", s(&img), s(&next), "--quiet"]);
    assert!(out.contains("added /next.iso"), "{out}");
}

#[test]
fn two_concurrent_adds_the_second_exits_2_at_once_naming_the_first() {
    let t = Bootshelf::new("cli-lock-adds");
    let (img, next) = stick(&t, "1G");
    // Big enough (sparse past its volume, still a valid ISO) that the first add is still
    // copying and verifying when the second starts.
    let big = iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        "big.iso",
        Some(640 << 20),
    );
    let mut first = t
        .command()
        .args(["add", s(&img), s(&big), "--verify", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = first.id();
    // Wait until it holds the lock (it opens the stick first thing).
    let start = Instant::now();
    loop {
        match stick::device::lock_holder(&img) {
            Some(h) if h.pid == pid => break,
            _ => {}
        }
        if let Some(status) = first.try_wait().unwrap() {
            panic!("the first add ended ({status}) before its lock was seen");
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no lock seen");
        std::thread::sleep(Duration::from_millis(5));
    }

    let start = Instant::now();
    let err = t
        .run(&["add", s(&img), s(&next), "--quiet"])
        .assert_code(2)
        .stderr;
    let took = start.elapsed();
    let still_running = first.try_wait().unwrap().is_none();
    assert!(
        err.contains(&format!("another bootshelf command (pid {pid}, `"))
            && err.contains(&format!("add {} {}", img.display(), big.display()))
            && err.contains("wait for it to finish"),
        "{err}"
    );
    assert!(
        took < Duration::from_secs(10),
        "the second add waited {took:?}"
    );
    assert!(
        still_running,
        "the first add finished before the second was refused"
    );

    let out = first.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the first add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let idx = indexed(&img);
    assert!(
        idx.contains_key("/big.iso") && !idx.contains_key("/next.iso"),
        "{idx:?}"
    );
    assert_fsck_clean(&img, "after the two adds");
}
