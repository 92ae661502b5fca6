//! `bootshelf install` writes nothing before every check has passed (docs/safety.md),
//! through the built binary: bad `--size` values, an image file that holds a stick with
//! ISOs, a downloaded ISO or a foreign partition table (described and asked about like a
//! disk; `--yes` for scripts), a disk (loop device) holding a stick, whose question names
//! its ISOs, and paths under /dev that are not devices (never created).

use std::path::{Path, PathBuf};
use std::time::SystemTime;
use testkit::cli::Bootshelf;
use testkit::loopdev::{LoopDev, LoopOptions};
use testkit::stick::{iso_copy, sha256_file};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Everything a refused command must leave as it was: length, content, mtime.
fn snapshot(p: &Path) -> (u64, String, SystemTime) {
    let m = std::fs::metadata(p).unwrap();
    (m.len(), sha256_file(p), m.modified().unwrap())
}

/// A 100 MiB stick image `s.img` with two fixture ISOs on it.
fn stick_with_isos(t: &Bootshelf) -> PathBuf {
    let img = t.path("s.img");
    t.ok(&["install", s(&img), "--size", "100M"]);
    let a = iso_copy(&fixtures::iso::bios_only().unwrap(), t.dir(), "a.iso", None);
    let b = iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        "b.iso",
        None,
    );
    t.ok(&["add", s(&img), s(&a), s(&b), "--quiet"]);
    img
}

#[test]
fn bad_sizes_leave_an_existing_stick_byte_identical() {
    let t = Bootshelf::new("install-safety");
    let img = stick_with_isos(&t);
    let before = snapshot(&img);
    for (size, says) in [("10M", "at least"), ("0", "at least"), ("1T", "2 ISOs")] {
        for yes in [false, true] {
            let mut args = vec!["install", s(&img), "--size", size];
            if yes {
                args.push("--yes");
                if size == "1T" {
                    // With --yes only the size checks remain; 1 TiB may fit this file
                    // system, so it is not tried here (it would be written).
                    continue;
                }
            }
            let o = t.run(&args).assert_code(2);
            assert!(
                o.stderr.contains(says) || o.stderr.contains("larger than the whole file system"),
                "--size {size}: {}",
                o.stderr
            );
            assert_eq!(snapshot(&img), before, "--size {size} changed the image");
        }
    }
    // The stick still opens with both ISOs.
    let out = t.ok(&["list", s(&img)]);
    assert!(out.contains("/a.iso") && out.contains("/b.iso"), "{out}");
}

#[test]
fn a_stick_with_isos_is_described_and_not_erased_without_yes() {
    let t = Bootshelf::new("install-safety");
    let img = stick_with_isos(&t);
    let before = snapshot(&img);
    for extra in [&[][..], &["--size", "120M"][..], &["--mbr"][..]] {
        let mut args = vec!["install", s(&img)];
        args.extend_from_slice(extra);
        let o = t.run(&args).assert_code(2);
        let err = &o.stderr;
        assert!(
            err.contains("--yes")
                && err.contains("bootshelf stick")
                && err.contains("2 ISOs")
                && err.contains("a.iso")
                && err.contains(fixtures::iso::LABEL)
                && err.contains("Nothing was written"),
            "{extra:?}: {err}"
        );
        assert_eq!(snapshot(&img), before, "{extra:?} changed the image");
    }

    // On a terminal the same question is asked; anything but "yes" writes nothing.
    let o =
        testkit::cli::answer_on_terminal(t.dir(), &["install", s(&img), "--size", "120M"], "no\n");
    let err = o.stderr;
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("2 ISOs")
            && err.contains("resized from 104857600 to 125829120 bytes")
            && err.contains("Type 'yes' to continue")
            && err.contains("not confirmed"),
        "{err}"
    );
    assert_eq!(
        snapshot(&img),
        before,
        "a declined install changed the image"
    );

    // --yes: erased, resized and reinstalled, with no ISOs left.
    let out = t.ok(&["install", s(&img), "--size", "120M", "--yes"]);
    assert!(out.contains("bootshelf stick"), "{out}");
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 120 << 20);
    let out = t.ok(&["list", s(&img), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["isos"].as_array().unwrap().len(), 0, "{out}");
}

#[test]
fn a_downloaded_iso_is_named_by_its_label_and_not_erased_without_yes() {
    let t = Bootshelf::new("install-safety");
    // Large enough for a stick, so that only its contents stop the install.
    let iso = iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        "download.iso",
        Some(64 << 20),
    );
    let before = snapshot(&iso);
    let o = t.run(&["install", s(&iso)]).assert_code(2);
    assert!(
        o.stderr.contains("ISO 9660 image")
            && o.stderr.contains(fixtures::iso::LABEL)
            && o.stderr.contains("--yes"),
        "{}",
        o.stderr
    );
    assert_eq!(snapshot(&iso), before);
    // Foreign data that is neither: its size is named.
    let junk = t.path("junk.img");
    std::fs::write(&junk, testkit::rng::pattern(1 << 20, 7)).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&junk)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let junk_before = snapshot(&junk);
    let o = t.run(&["install", s(&junk)]).assert_code(2);
    assert!(o.stderr.contains("67108864 bytes of data"), "{}", o.stderr);
    assert_eq!(snapshot(&junk), junk_before);

    t.ok(&["install", s(&iso), "--yes"]);
    assert_eq!(std::fs::metadata(&iso).unwrap().len(), 64 << 20);
    t.ok(&["list", s(&iso)]);
}

#[test]
fn new_and_empty_image_files_need_no_question() {
    let t = Bootshelf::new("install-safety");
    // A new file with --size, as before.
    let new = t.path("new.img");
    let out = t.ok(&["install", s(&new), "--size", "64M"]);
    assert!(out.contains("bootshelf stick"), "{out}");
    assert_eq!(std::fs::metadata(&new).unwrap().len(), 64 << 20);
    // An existing sparse file of zeros (truncate -s): nothing to lose, resized as asked.
    let empty = t.path("empty.img");
    std::fs::File::create(&empty)
        .unwrap()
        .set_len(80 << 20)
        .unwrap();
    t.ok(&["install", s(&empty), "--size", "72M"]);
    assert_eq!(std::fs::metadata(&empty).unwrap().len(), 72 << 20);
    // A refused new file is not created.
    let small = t.path("small.img");
    t.run(&["install", s(&small), "--size", "10M"])
        .assert_code(2);
    assert!(
        !small.exists(),
        "a refused install created {}",
        small.display()
    );
}

#[test]
fn paths_under_dev_are_never_created() {
    let t = Bootshelf::new("install-safety");
    let dev = "/dev/bootshelf-absent";
    for extra in [
        &[][..],
        &["--size", "100M"][..],
        &["--size", "100M", "--yes"][..],
    ] {
        let mut args = vec!["install", dev];
        args.extend_from_slice(extra);
        let o = t.run(&args).assert_code(2);
        assert!(
            o.stderr.contains(dev) && o.stderr.contains("bootshelf devices"),
            "{extra:?}: {}",
            o.stderr
        );
        assert!(
            std::fs::symlink_metadata(dev).is_err(),
            "{extra:?} created {dev}"
        );
    }
}

#[test]
fn a_foreign_partition_table_is_described_with_its_partitions() {
    let t = Bootshelf::new("install-safety");
    let img = t.path("foreign.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    testkit::cmd::ok(
        std::process::Command::new("sgdisk")
            .args(["-n", "1:2048:+20M", "-t", "1:8300", "-c", "1:root"])
            .arg(&img),
    );
    let before = snapshot(&img);
    let o = t.run(&["install", s(&img)]).assert_code(2);
    assert!(
        o.stderr.contains("a GPT with 1: Linux filesystem \"root\""),
        "{}",
        o.stderr
    );
    assert_eq!(snapshot(&img), before);
}

#[test]
fn a_disk_holding_a_stick_shows_its_isos_in_the_question() {
    let t = Bootshelf::new("install-safety");
    let img = stick_with_isos(&t);
    let lp = LoopDev::attach(&img, LoopOptions::sector_size(512)).unwrap();
    let before = sha256_file(&img);
    let o = t.run(&["install", lp.name(), "--force"]).assert_code(2);
    assert!(
        o.stderr.contains(lp.name()) && o.stderr.contains("2 ISOs") && o.stderr.contains("--yes"),
        "{}",
        o.stderr
    );
    // --size is refused for a disk, before anything is written.
    let o = t
        .run(&["install", lp.name(), "--force", "--yes", "--size", "64M"])
        .assert_code(2);
    assert!(
        o.stderr.contains("--size is for image files"),
        "{}",
        o.stderr
    );
    drop(lp);
    assert_eq!(
        sha256_file(&img),
        before,
        "a refused install wrote to the disk"
    );
}
