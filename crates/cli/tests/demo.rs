//! The README's first quick-start command, `bootshelf demo`, does the whole job: it builds
//! a stick image with Debian's sample ISOs and boots it in QEMU until iPXE starts, in UEFI
//! and in BIOS mode.

use testkit::cli::Bootshelf;

fn demo(extra: &[&str]) -> (bool, String) {
    let sh = Bootshelf::new("cli-demo");
    let img = sh.path("demo.img");
    let mut args = vec!["demo", "--headless", "--timeout", "90", "--out"];
    args.push(img.to_str().unwrap());
    args.extend_from_slice(extra);
    let out = sh.run(&args);
    (out.success(), out.text())
}

#[test]
fn demo_boots_ipxe_under_uefi() {
    let (ok, text) = demo(&[]);
    assert!(ok, "demo failed:\n{text}");
    for want in [
        "ipxe.iso",
        "memtest86+x64.iso",
        "grub-rescue-cdrom.iso",
        "saw \"iPXE\"",
    ] {
        assert!(text.contains(want), "demo output lacks {want:?}:\n{text}");
    }
}

#[test]
fn demo_boots_ipxe_under_bios() {
    let (ok, text) = demo(&["--bios"]);
    assert!(ok, "demo failed:\n{text}");
    assert!(text.contains("saw \"iPXE\""), "demo output:\n{text}");
}

#[test]
fn demo_refuses_to_replace_a_directory() {
    let sh = Bootshelf::new("cli-demo-dir");
    let err = sh.fails(&["demo", "--no-boot", "--out", sh.dir().to_str().unwrap()]);
    assert!(err.contains("is not a regular file"), "{err}");
}
