//! One name-matching rule for every command that takes a NAME (`shelf::names`), through
//! the built binary: `boot-next`, `config --default`, `rename` and `remove` select the
//! same ISO for the same name (exact path, exact file name or title, then a unique part;
//! Unicode case-insensitive), refuse an ambiguous name listing the candidates, suggest the
//! closest name for a typo, and write nothing when they refuse. `list` shows the settings,
//! free space and a legend.

use std::path::Path;
use testkit::cli::Bootshelf;
use testkit::stick::{iso_copy, mount_data, sha256_file};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn list(t: &Bootshelf, img: &Path) -> serde_json::Value {
    serde_json::from_str(&t.ok(&["list", s(img), "--json"])).unwrap()
}

/// A stick with memtest86+x64.iso, debian-12.iso (titled "Debian 12 Netinst"),
/// debian-11.iso and Straße.iso.
fn stick(t: &Bootshelf) -> std::path::PathBuf {
    let img = t.path("stick.img");
    t.ok(&["install", s(&img), "--size", "128M", "--yes"]);
    let src = fixtures::iso::bios_only().unwrap();
    let isos: Vec<String> = [
        "memtest86+x64.iso",
        "debian-12.iso",
        "debian-11.iso",
        "Straße.iso",
    ]
    .iter()
    .map(|n| s(&iso_copy(&src, t.dir(), n, None)).to_string())
    .collect();
    let mut args = vec!["add", s(&img)];
    args.extend(isos.iter().map(String::as_str));
    t.ok(&args);
    t.ok(&["rename", s(&img), "debian-12.iso", "Debian 12 Netinst"]);
    img
}

#[test]
fn every_command_selects_by_the_same_rule() {
    let t = Bootshelf::new("cli-names");
    let img = stick(&t);

    // A part of a file name (what boot-test --select always took).
    let out = t.ok(&["boot-next", s(&img), "memtest"]);
    assert!(out.contains("/memtest86+x64.iso"), "{out}");
    // A title, in another case.
    let out = t.ok(&["config", s(&img), "--default", "DEBIAN 12 NETINST"]);
    assert!(out.contains("default: /debian-12.iso"), "{out}");
    // Unicode case folding: ß is SS, É is é.
    t.ok(&["rename", s(&img), "STRASSE", "Éclair Rescue"]);
    let out = t.ok(&["boot-next", s(&img), "éCLAIR"]);
    assert!(out.contains("/Straße.iso"), "{out}");
    let l = list(&t, &img);
    assert_eq!(l["boot_next"], "/Straße.iso");
    assert_eq!(l["default"], "/debian-12.iso");
    // The whole path, and an exact file name beating the parts of others.
    let out = t.ok(&["boot-next", s(&img), "/DEBIAN-11.ISO"]);
    assert!(out.contains("/debian-11.iso"), "{out}");
    // remove: a part of a title.
    let out = t.ok(&["remove", s(&img), "netinst"]);
    assert!(out.contains("removed /debian-12.iso"), "{out}");
    assert!(
        list(&t, &img)["default"].is_null(),
        "the default went with it"
    );
}

#[test]
fn ambiguous_and_unknown_names_are_refused_with_the_candidates_and_write_nothing() {
    let t = Bootshelf::new("cli-names-refused");
    let img = stick(&t);
    let before = sha256_file(&img);
    for cmd in [
        vec!["boot-next", s(&img), "debian"],
        vec!["config", s(&img), "--default", "debian"],
        vec!["rename", s(&img), "debian", "X"],
        vec!["remove", s(&img), "memtest", "debian"],
    ] {
        let e = t.run(&cmd).assert_code(2).stderr;
        assert!(
            e.contains("\"debian\" matches several ISOs")
                && e.contains("\"Debian 12 Netinst\" (/debian-12.iso)")
                && e.contains("/debian-11.iso"),
            "{cmd:?}: {e}"
        );
        assert_eq!(sha256_file(&img), before, "{cmd:?} wrote");
    }
    for (typo, meant) in [
        ("debain-11", "debian-11.iso"),
        ("memtset86+x64.iso", "memtest86+x64.iso"),
    ] {
        let e = t.run(&["boot-next", s(&img), typo]).assert_code(2).stderr;
        assert!(
            e.contains(&format!("no ISO matches {typo:?}; did you mean {meant:?}?")),
            "{e}"
        );
    }
    let e = t.run(&["remove", s(&img), "windows"]).assert_code(2).stderr;
    assert!(
        e.contains("no ISO matches \"windows\"") && e.contains("bootshelf list"),
        "{e}"
    );
    assert_eq!(sha256_file(&img), before);
}

#[test]
fn rename_sets_and_resets_titles_and_needs_an_indexed_iso() {
    let t = Bootshelf::new("cli-rename");
    let img = stick(&t);
    let out = t.ok(&["rename", s(&img), "memtest", "Memory test"]);
    assert!(
        out.contains("\"memtest86+x64.iso\" -> \"Memory test\""),
        "{out}"
    );
    let l = list(&t, &img);
    let row = |l: &serde_json::Value, path: &str| {
        l["isos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["path"] == path)
            .cloned()
            .unwrap()
    };
    assert_eq!(row(&l, "/memtest86+x64.iso")["title"], "Memory test");
    assert_eq!(row(&l, "/memtest86+x64.iso")["custom_title"], true);
    t.ok(&["rename", s(&img), "memory test", "--file-name"]);
    let l = list(&t, &img);
    assert_eq!(row(&l, "/memtest86+x64.iso")["title"], "memtest86+x64.iso");
    assert_eq!(row(&l, "/memtest86+x64.iso")["custom_title"], false);

    let before = sha256_file(&img);
    for bad in ["", "  ", "two\nlines", &"x".repeat(121)] {
        let e = t
            .run(&["rename", s(&img), "memtest", bad])
            .assert_code(2)
            .stderr;
        assert!(e.contains("title"), "{bad:?}: {e}");
    }
    assert_eq!(sha256_file(&img), before);

    // A file another tool copied in: in the menu, not yet in the index.
    {
        let m = mount_data(&img, &t.path("mnt"), false);
        std::fs::copy(
            fixtures::iso::bios_only().unwrap(),
            m.dir().join("copied.iso"),
        )
        .unwrap();
    }
    let before = sha256_file(&img);
    let e = t
        .run(&["rename", s(&img), "copied", "Mine"])
        .assert_code(2)
        .stderr;
    assert!(
        e.contains("/copied.iso is not in the index yet") && e.contains("bootshelf sync"),
        "{e}"
    );
    assert_eq!(sha256_file(&img), before);
    // remove takes it all the same.
    let out = t.ok(&["remove", s(&img), "copied"]);
    assert!(
        out.contains("removed /copied.iso (it was not indexed)"),
        "{out}"
    );
}

#[test]
fn list_shows_the_settings_the_space_and_a_legend() {
    let t = Bootshelf::new("cli-list-text");
    let img = stick(&t);
    t.ok(&[
        "config",
        s(&img),
        "--default",
        "netinst",
        "--timeout",
        "never",
    ]);
    t.ok(&["boot-next", s(&img), "memtest"]);
    let out = t.ok(&["list", s(&img)]);
    let line = |start: &str| {
        out.lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no line {start:?}:\n{out}"))
            .to_string()
    };
    assert!(
        line("* Debian 12 Netinst").contains("/debian-12.iso"),
        "{out}"
    );
    assert!(
        line("> memtest86+x64.iso").contains("/memtest86+x64.iso"),
        "{out}"
    );
    assert!(
        line("legend: ").contains("* default") && line("legend: ").contains("> boot-next"),
        "{out}"
    );
    assert_eq!(
        line("menu: "),
        "menu: default Debian 12 Netinst, timeout never (waits for a key), boot-next memtest86+x64.iso (once)"
    );
    let l = list(&t, &img);
    let space = line("space: ");
    assert!(
        space.contains(&format!(
            "free of {}",
            stick::index_io::human(l["capacity"].as_u64().unwrap())
        )),
        "{space}"
    );
    assert!(
        space.contains("the largest ISO that still fits is"),
        "{space}"
    );
}
