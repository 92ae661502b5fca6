//! `bootshelf install`, `update` and `devices` through the built binary: exit codes,
//! messages, and the result checked by external tools.

use testkit::cli::Bootshelf;
use testkit::image::read_range;
use testkit::loopdev::{LoopDev, LoopOptions};
use testkit::stick::{check_image, mtype};

#[test]
fn install_then_update_on_image_files() {
    for (extra, scheme) in [
        (&[][..], stick::Scheme::Gpt),
        (&["--mbr", "--sector-size", "4096"][..], stick::Scheme::Mbr),
    ] {
        let sh = Bootshelf::new("cli-install");
        let mut args = vec!["install", "s.img", "--size", "100M"];
        args.extend_from_slice(extra);
        let o = sh.run(&args);
        let (out, err) = (&o.stdout, &o.stderr);
        assert!(o.success(), "install: {out}{err}");
        assert!(out.contains("bootshelf stick"), "{out}");
        let img = sh.dir().join("s.img");
        assert_eq!(std::fs::metadata(&img).unwrap().len(), 100 << 20);
        let stick = stick::Stick::open(&img, false).unwrap();
        let layout = *stick.layout();
        drop(stick);
        assert_eq!(layout.scheme, scheme);
        let esp = check_image(&img, &layout, sh.dir());
        // The UEFI loaders of this build, one per architecture, are what lands in the ESP.
        assert!(mtype(&esp, "/EFI/BOOT/BOOTX64.EFI") == loaders::UEFI_BOOTX64);
        assert!(mtype(&esp, "/EFI/BOOT/BOOTAA64.EFI") == loaders::UEFI_BOOTAA64);
        assert!(mtype(&esp, "/EFI/BOOT/BOOTIA32.EFI") == loaders::UEFI_BOOTIA32);

        let o = sh.run(&["update", "s.img"]);
        let (out, err) = (&o.stdout, &o.stderr);
        assert!(o.success(), "update: {out}{err}");
        assert!(out.contains("already up to date"), "{out}");
        check_image(&img, &layout, sh.dir());
    }
}

#[test]
fn errors_name_the_problem_and_the_fix() {
    let sh = Bootshelf::new("cli-install");
    // No such file and no --size.
    let o = sh.run(&["install", "new.img"]);
    assert_eq!(o.code(), Some(2));
    assert!(o.stderr.contains("--size"), "{}", o.stderr);
    // Too small.
    let o = sh.run(&["install", "t.img", "--size", "20M"]);
    assert_eq!(o.code(), Some(2));
    assert!(o.stderr.contains("at least"), "{}", o.stderr);
    // Bad size syntax is a usage error (clap: exit 2).
    let o = sh.run(&["install", "t.img", "--size", "12Q"]);
    assert_eq!(o.code(), Some(2));
    // Update of something that is not a stick.
    std::fs::File::create(sh.dir().join("blank.img"))
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let o = sh.run(&["update", "blank.img"]);
    assert_eq!(o.code(), Some(2));
    let err = o.stderr;
    assert!(
        err.contains("not a bootshelf stick") && err.contains("bootshelf install blank.img"),
        "{err}"
    );
}

#[test]
fn devices_lists_disks_as_json() {
    let sh = Bootshelf::new("cli-install");
    let o = sh.run(&["devices", "--json"]);
    assert!(o.success(), "{}", o.text());
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
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
    let o = sh.run(&["devices"]);
    assert!(o.success());
}

#[test]
fn block_devices_need_confirmation_and_force() {
    let sh = Bootshelf::new("cli-install");
    let file = sh.dir().join("backing.img");
    std::fs::File::create(&file)
        .unwrap()
        .set_len(80 << 20)
        .unwrap();
    let lp = LoopDev::attach(&file, LoopOptions::sector_size(4096)).unwrap();
    let dev = lp.name();
    // Not removable: refused without --force, before anything else.
    let o = sh.run(&["install", dev, "--yes"]);
    assert_eq!(o.code(), Some(2));
    assert!(o.stderr.contains("--force"), "{}", o.stderr);
    // No terminal to ask on: refused, telling to use --yes.
    let o = sh.run(&["install", dev, "--force"]);
    assert_eq!(o.code(), Some(2));
    let err = o.stderr;
    assert!(err.contains("--yes") && err.contains(dev), "{err}");
    assert!(read_range(&file, 0, 1 << 20).iter().all(|&b| b == 0));
    // Confirmed and forced: a 4Kn stick.
    let o = sh.run(&["install", dev, "--force", "--yes"]);
    assert!(o.success(), "{}", o.text());
    assert!(o.stdout.contains("4096-byte sectors"), "{}", o.stdout);
    let o = sh.run(&["update", dev]);
    assert!(o.success(), "{}", o.text());
    let stick = stick::Stick::open(lp.path(), false).unwrap();
    let layout = *stick.layout();
    drop(stick);
    check_image(&file, &layout, sh.dir());
}
