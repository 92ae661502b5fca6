//! `bootshelf add/list/boot-next/config/remove/sync/check` through the built binary on a stick
//! image made by `bootshelf install`. After every command: fsck.exfat -n clean and
//! exfat-fuse (an independent exFAT) sees the same files and bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use testkit::cli::Bootshelf;
use testkit::rng::pattern;
use testkit::stick::*;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn list_json(t: &Bootshelf, img: &Path) -> serde_json::Value {
    serde_json::from_str(&t.ok(&["list", s(img), "--json"])).unwrap()
}

#[test]
fn add_list_boot_next_remove_sync_check_through_the_binary() {
    let t = Bootshelf::new("cli-add");
    let img = t.path("stick.img");
    t.ok(&["install", s(&img), "--size", "128M", "--yes"]);
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
    let mut expect: BTreeMap<String, PathBuf> = BTreeMap::new();

    let out = t.ok(&["add", s(&img), s(&hybrid), s(&bios), "--verify"]);
    assert!(
        out.contains("added /hybrid.iso") && out.contains(", verified"),
        "{out}"
    );
    expect.insert("/hybrid.iso".into(), hybrid.clone());
    expect.insert("/bios.iso".into(), bios.clone());
    assert_consistent(&img, &expect, "after add");

    let l = list_json(&t, &img);
    let isos = l["isos"].as_array().unwrap();
    assert_eq!(isos.len(), 2);
    assert_eq!(isos[0]["path"], "/hybrid.iso");
    assert_eq!(isos[0]["bios"], true);
    assert_eq!(isos[0]["uefi"], true);
    assert_eq!(isos[0]["contiguous"], true);
    assert_eq!(isos[0]["label"], fixtures::iso::LABEL);
    assert_eq!(isos[0]["sha256"], sha256_file(&hybrid));
    assert_eq!(isos[1]["uefi"], false);
    let text = t.ok(&["list", s(&img)]);
    assert!(
        text.contains("BIOS+UEFI") && text.contains("/bios.iso"),
        "{text}"
    );

    // Refusals through the CLI: duplicate, non-ISO, --title with two ISOs.
    let e = t.fails(&["add", s(&img), s(&bios)]);
    assert!(
        e.contains("already on the stick") && e.contains("--force"),
        "{e}"
    );
    let junk = t.path("junk.iso");
    std::fs::write(&junk, pattern(50_000, 3)).unwrap();
    let e = t.fails(&["add", s(&img), s(&junk)]);
    assert!(e.contains("not an ISO 9660 image"), "{e}");
    let e = t.fails(&["add", s(&img), s(&junk), s(&bios), "--title", "x"]);
    assert!(e.contains("--title"), "{e}");

    t.ok(&["boot-next", s(&img), "bios.iso"]);
    let l = list_json(&t, &img);
    assert_eq!(l["isos"][1]["boot_next"], true);
    // Lasting menu settings: `config`; boot-next sends there.
    let out = t.ok(&["config", s(&img), "--default", "hybrid", "--timeout", "3"]);
    assert!(out.contains("/hybrid.iso") && out.contains("3 s"), "{out}");
    let l = list_json(&t, &img);
    assert_eq!(l["timeout_secs"], 3);
    assert_eq!(l["isos"][0]["default"], true);
    assert_eq!(l["isos"][1]["boot_next"], true, "boot-next stays set");
    t.ok(&["config", s(&img), "--timeout", "never"]);
    assert!(list_json(&t, &img)["timeout_secs"].is_null());
    let e = t.fails(&["config", s(&img), "--timeout", "soon"]);
    assert!(e.contains("never"), "{e}");
    let e = t.fails(&["boot-next", s(&img), "hybrid.iso", "--default"]);
    assert!(e.contains("bootshelf config"), "{e}");
    assert_consistent(&img, &expect, "after boot-next");

    t.ok(&["remove", s(&img), "hybrid.iso"]);
    expect.remove("/hybrid.iso");
    let files = assert_consistent(&img, &expect, "after remove");
    assert!(!files.contains_key("/hybrid.iso"));
    assert_eq!(list_json(&t, &img)["isos"].as_array().unwrap().len(), 1);

    // Another tool copies an ISO in (exfat-fuse), and deletes the indexed one.
    {
        let m = mount_data(&img, &t.path("mnt"), false);
        std::fs::copy(&hybrid, m.dir().join("copied.iso")).unwrap();
        std::fs::remove_file(m.dir().join("bios.iso")).unwrap();
    }
    let c = t.run(&["check", s(&img)]);
    let out = &c.stdout;
    assert!(
        !c.success(),
        "check must fail: an indexed ISO is gone\n{out}"
    );
    assert!(
        out.contains("/bios.iso: indexed but the file is gone"),
        "{out}"
    );
    assert!(
        out.contains("/copied.iso: on the stick but not in the index"),
        "{out}"
    );
    let out = t.ok(&["sync", s(&img)]);
    assert!(
        out.contains("indexed /copied.iso") && out.contains("dropped /bios.iso"),
        "{out}"
    );
    expect.remove("/bios.iso");
    expect.insert("/copied.iso".into(), hybrid.clone());
    assert_consistent(&img, &expect, "after sync");
    let l = list_json(&t, &img);
    assert_eq!(l["isos"][0]["path"], "/copied.iso");
    assert_eq!(l["isos"][0]["indexed"], true);
    assert_eq!(
        l["isos"][0]["boot_next"], false,
        "boot-next named a dropped ISO"
    );
    let out = t.ok(&["check", s(&img), "--hash"]);
    assert!(out.contains("no problems"), "{out}");
}
