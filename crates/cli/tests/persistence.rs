//! `bootshelf persistence` and `remove`'s question about persistence files, through the
//! built binary on a stick image made by `bootshelf install` (docs/persistence.md):
//! refusals write nothing, the file holds a clean ext4 laid out for the detected family,
//! `list`/`--json`/`check` report it, removal and orphans work. After every write
//! fsck.exfat -n is clean.

use std::path::Path;
use std::process::Command;
use testkit::cli::Bootshelf;
use testkit::stick::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn listing(t: &Bootshelf, img: &Path) -> serde_json::Value {
    serde_json::from_str(&t.ok(&["persistence", s(img), "--json"])).unwrap()
}

/// Cut the persistence file described by `f` (a `--json` row) out of `img`; e2fsck -fn
/// must be clean. Returns the cut file.
fn cut_clean_ext4(t: &Bootshelf, img: &Path, f: &serde_json::Value) -> std::path::PathBuf {
    let out = t.path("p.ext4");
    testkit::image::cut(
        img,
        f["start"].as_u64().unwrap(),
        f["size"].as_u64().unwrap(),
        &out,
    );
    let ran = testkit::cmd::run(Command::new("e2fsck").arg("-fn").arg(&out));
    assert!(ran.success, "e2fsck -fn:\n{}", ran.text());
    out
}

/// What `debugfs -R request` prints on standard output (its banner goes to stderr).
fn debugfs(file: &Path, request: &str) -> String {
    let ran = testkit::cmd::run(Command::new("debugfs").args(["-R", request]).arg(file));
    assert!(ran.success, "debugfs {request}: {}", ran.text());
    ran.stdout
}

#[test]
fn persistence_is_made_listed_checked_and_removed() {
    let t = Bootshelf::new("cli-persist");
    let img = t.path("stick.img");
    t.ok(&["install", s(&img), "--size", "128M", "--yes"]);
    let live = fixtures::live::live_iso("one", fixtures::live::FindBy::Probe).unwrap();
    let bios = iso_copy(
        &fixtures::iso::bios_only().unwrap(),
        t.dir(),
        "bios.iso",
        None,
    );
    t.ok(&["add", "--quiet", s(&img), s(&live), s(&bios)]);
    let live_name = "live-one-probe-v1.iso";

    // Refusals: nothing written.
    let before = std::fs::read(&img).unwrap();
    for (args, says) in [
        (
            vec!["bios.iso", "--size", "32M"],
            "cannot tell which live system",
        ),
        (vec![live_name, "--size", "1M"], "too small"),
        (vec![live_name, "--size", "2G"], "largest free run"),
        (vec!["nope.iso", "--size", "32M"], "no ISO matches"),
    ] {
        let mut a = vec!["persistence", s(&img)];
        a.extend(args.iter().copied());
        let err = t.fails(&a);
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(std::fs::read(&img).unwrap() == before, "{args:?} wrote");
    }

    // Live-boot, detected from /live.
    let out = t.ok(&["persistence", s(&img), live_name, "--size", "20M"]);
    assert!(
        out.contains("labelled \"persistence\" for live-boot, detected"),
        "{out}"
    );
    assert_fsck_clean(&img, "after persistence");
    let l = listing(&t, &img);
    let f = &l["files"][0];
    assert_eq!(f["iso"], format!("/{live_name}"));
    assert_eq!(f["path"], "/bootshelf/persistence/live-one-probe-v1.ext4");
    assert_eq!(f["family"], "live-boot");
    assert_eq!(f["kernel_argument"], "persistence");
    assert_eq!(f["size"], 20 << 20);
    assert_eq!(f["present"], true);
    let list: serde_json::Value =
        serde_json::from_str(&t.ok(&["list", s(&img), "--json"])).unwrap();
    assert_eq!(
        list["isos"][0]["persistence"],
        "/bootshelf/persistence/live-one-probe-v1.ext4"
    );
    let ext4 = cut_clean_ext4(&t, &img, f);
    assert_eq!(debugfs(&ext4, "cat /persistence.conf"), "/ union\n");
    assert!(
        testkit::cmd::ok(Command::new("dumpe2fs").arg("-h").arg(&ext4))
            .contains("Filesystem volume name:   persistence")
    );
    // A second one for the same ISO is refused.
    let before = std::fs::read(&img).unwrap();
    let err = t.fails(&["persistence", s(&img), live_name, "--size", "20M"]);
    assert!(err.contains("already has a persistence file"), "{err}");
    assert!(std::fs::read(&img).unwrap() == before);

    // --family overrides detection: casper on the BIOS ISO.
    t.ok(&[
        "persistence",
        s(&img),
        "bios.iso",
        "--size",
        "16M",
        "--family",
        "casper",
    ]);
    let l = listing(&t, &img);
    let f = l["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["iso"] == "/bios.iso")
        .unwrap()
        .clone();
    assert_eq!(f["family"], "casper");
    let ext4 = cut_clean_ext4(&t, &img, &f);
    assert!(
        testkit::cmd::ok(Command::new("dumpe2fs").arg("-h").arg(&ext4))
            .contains("Filesystem volume name:   casper-rw")
    );
    let check = t.ok(&["check", s(&img)]);
    assert!(!check.contains("persistence"), "{check}");

    // `remove` of an ISO with a persistence file asks; without a terminal it refuses.
    let before = std::fs::read(&img).unwrap();
    let err = t.fails(&["remove", s(&img), "bios.iso"]);
    assert!(err.contains("--keep-persistence"), "{err}");
    assert!(std::fs::read(&img).unwrap() == before);
    let out = t.ok(&["remove", s(&img), "bios.iso", "--keep-persistence"]);
    assert!(out.contains("kept its persistence file"), "{out}");
    let check = t.ok(&["check", s(&img)]);
    assert!(
        check.contains("warning: /bootshelf/persistence/bios.ext4: persistence file"),
        "{check}"
    );
    assert_eq!(
        listing(&t, &img)["orphans"],
        serde_json::json!(["/bootshelf/persistence/bios.ext4"])
    );
    let err = t.fails(&["persistence", s(&img), "--remove-orphans"]);
    assert!(err.contains("add --yes"), "{err}");
    t.ok(&["persistence", s(&img), "--remove-orphans", "--yes"]);
    assert_eq!(listing(&t, &img)["orphans"], serde_json::json!([]));
    assert_fsck_clean(&img, "after removing the orphan");

    // `persistence --remove` asks too; --yes removes file and link.
    let err = t.fails(&["persistence", s(&img), live_name, "--remove"]);
    assert!(err.contains("add --yes"), "{err}");
    t.ok(&["persistence", s(&img), live_name, "--remove", "--yes"]);
    assert_eq!(listing(&t, &img)["files"], serde_json::json!([]));
    assert_fsck_clean(&img, "after persistence --remove");

    // dracut's layout: the overlayfs upper and work directories under /LiveOS.
    t.ok(&[
        "persistence",
        s(&img),
        live_name,
        "--size",
        "16M",
        "--family",
        "dracut",
    ]);
    let l = listing(&t, &img);
    let f = &l["files"][0];
    assert_eq!(
        f["kernel_argument"],
        "rd.live.overlay=LABEL=bootshelf-rw:/LiveOS/overlay rd.live.overlay.overlayfs"
    );
    let ext4 = cut_clean_ext4(&t, &img, f);
    let ls = debugfs(&ext4, "ls /LiveOS");
    assert!(ls.contains("overlay") && ls.contains("ovlwork"), "{ls}");
    assert!(
        testkit::cmd::ok(Command::new("dumpe2fs").arg("-h").arg(&ext4))
            .contains("Filesystem volume name:   bootshelf-rw")
    );

    // `remove --yes` deletes the ISO's persistence file with it.
    let out = t.ok(&["remove", s(&img), live_name, "--yes"]);
    assert!(out.contains("removed its persistence file"), "{out}");
    let l = listing(&t, &img);
    assert_eq!(l["files"], serde_json::json!([]));
    assert_eq!(l["orphans"], serde_json::json!([]));
    assert_fsck_clean(&img, "after remove --yes");
}
