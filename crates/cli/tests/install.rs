//! `bootshelf install`, `update` and `devices` through the built binary: exit codes,
//! messages, and the result checked by external tools.

#[path = "../../stick/tests/install_util.rs"]
mod util;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use util::*;

fn bootshelf(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bootshelf"))
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run bootshelf")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn install_then_update_on_image_files() {
    for (extra, scheme) in [
        (&[][..], stick::Scheme::Gpt),
        (&["--mbr", "--sector-size", "4096"][..], stick::Scheme::Mbr),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["install", "s.img", "--size", "100M"];
        args.extend_from_slice(extra);
        let o = bootshelf(&args, dir.path());
        let (out, err) = text(&o);
        assert!(o.status.success(), "install: {out}{err}");
        assert!(out.contains("bootshelf stick"), "{out}");
        let img = dir.path().join("s.img");
        assert_eq!(std::fs::metadata(&img).unwrap().len(), 100 << 20);
        let stick = stick::Stick::open(&img, false).unwrap();
        let layout = *stick.layout();
        drop(stick);
        assert_eq!(layout.scheme, scheme);
        let esp = check_image(&img, &layout, dir.path());
        // The UEFI loader of this build is what lands in the ESP.
        assert!(mtype(&esp, "/EFI/BOOT/BOOTX64.EFI") == loaders::UEFI_BOOTX64);

        let o = bootshelf(&["update", "s.img"], dir.path());
        let (out, err) = text(&o);
        assert!(o.status.success(), "update: {out}{err}");
        assert!(out.contains("already up to date"), "{out}");
        check_image(&img, &layout, dir.path());
    }
}

#[test]
fn errors_name_the_problem_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    // No such file and no --size.
    let o = bootshelf(&["install", "new.img"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--size"), "{}", text(&o).1);
    // Too small.
    let o = bootshelf(&["install", "t.img", "--size", "20M"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("at least"), "{}", text(&o).1);
    // Bad size syntax is a usage error (clap: exit 2).
    let o = bootshelf(&["install", "t.img", "--size", "12Q"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    // Update of something that is not a stick.
    std::fs::File::create(dir.path().join("blank.img"))
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let o = bootshelf(&["update", "blank.img"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o).1;
    assert!(
        err.contains("not a bootshelf stick") && err.contains("bootshelf install blank.img"),
        "{err}"
    );
}

#[test]
fn devices_lists_disks_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let o = bootshelf(&["devices", "--json"], dir.path());
    assert!(o.status.success(), "{:?}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v.as_array().unwrap();
    for r in rows {
        for key in [
            "device",
            "vendor",
            "model",
            "size",
            "removable",
            "mounted",
            "system",
        ] {
            assert!(r.get(key).is_some(), "{key} missing in {r}");
        }
        if r["system"] == true {
            assert!(r["refused"].as_str().unwrap().contains("root"));
        }
    }
    // The plain table works too.
    let o = bootshelf(&["devices"], dir.path());
    assert!(o.status.success());
}

#[test]
fn block_devices_need_confirmation_and_force() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backing.img");
    std::fs::File::create(&file)
        .unwrap()
        .set_len(80 << 20)
        .unwrap();
    let Some(lp) = Loop::attach(&file, 4096, false) else {
        eprintln!("skipped: loop devices need root");
        return;
    };
    let dev = lp.dev.to_str().unwrap();
    // Not removable: refused without --force, before anything else.
    let o = bootshelf(&["install", dev, "--yes"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--force"), "{}", text(&o).1);
    // No terminal to ask on: refused, telling to use --yes.
    let o = bootshelf(&["install", dev, "--force"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o).1;
    assert!(err.contains("--yes") && err.contains(dev), "{err}");
    assert!(read_range(&file, 0, 1 << 20).iter().all(|&b| b == 0));
    // Confirmed and forced: a 4Kn stick.
    let o = bootshelf(&["install", dev, "--force", "--yes"], dir.path());
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("4096-byte sectors"), "{}", text(&o).0);
    let o = bootshelf(&["update", dev], dir.path());
    assert!(o.status.success(), "{:?}", text(&o));
    let stick = stick::Stick::open(&lp.dev, false).unwrap();
    let layout = *stick.layout();
    drop(stick);
    check_image(&file, &layout, dir.path());
}
