//! The README's first quick-start command, `bootshelf demo`, does the whole job: it builds
//! a stick image with Debian's sample ISOs and boots it in QEMU until iPXE starts, in UEFI
//! and in BIOS mode.

use std::process::Command;

fn demo(extra: &[&str]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let img = dir.path().join("demo.img");
    let out = Command::new(env!("CARGO_BIN_EXE_bootshelf"))
        .args(["demo", "--headless", "--timeout", "90", "--out"])
        .arg(&img)
        .args(extra)
        .output()
        .expect("running bootshelf demo");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
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
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_bootshelf"))
        .args(["demo", "--no-boot", "--out"])
        .arg(dir.path())
        .output()
        .expect("running bootshelf demo");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a regular file"), "{err}");
}
