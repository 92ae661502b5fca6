//! Secure Boot end to end (docs/secure-boot.md): OVMF with Secure Boot on and Microsoft's
//! keys, the stick on USB, made by `bootshelf install` with its default Secure Boot setup
//! (Debian's Microsoft-signed shim, bootshelf's loader signed with the tests' key as shim's
//! second stage). The machine's policy stays in force for what the menu boots: a Debian ISO
//! signed for Secure Boot boots, an unsigned one is refused with the menu's message.

use e2e::{confirm_without_window, run_bootshelf, select, StickSpec, TestStick};
use qemu_harness::{Config, Drive, Qemu};
use std::time::Duration;

/// The stick's shim starts bootshelf's signed loader once its key is in MokList, and the
/// menu says Secure Boot is on. An unsigned grub-mkrescue ISO is refused with the plain
/// message and the menu stays usable: the next choice, an ISO signed as Debian ships them
/// (Microsoft-signed shim, Debian-signed GRUB and kernel), boots through the virtual CD
/// and its kernel reports Secure Boot enabled.
#[test]
fn signed_iso_boots_and_unsigned_iso_is_refused() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick
        .add(
            &fixtures::uefi::marker_iso("sb-unsigned").unwrap(),
            Some("Unsigned GRUB"),
        )
        .unwrap();
    stick
        .add(
            &fixtures::uefi::debian_signed_iso().unwrap(),
            Some("Signed Debian"),
        )
        .unwrap();
    let mut q = Qemu::start(&stick.secure_boot_config(true).unwrap()).unwrap();
    q.wait_for("bootshelf: menu drawn", Duration::from_secs(120))
        .unwrap();
    assert!(q.serial_text().contains("[Secure Boot on]"));

    select(&mut q, "Unsigned GRUB").unwrap();
    q.wait_for(
        "Not signed for Secure Boot. To boot it, turn Secure Boot off in the firmware.",
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(!q.serial_text().contains("BOOTSHELF-MARKER-sb-unsigned"));

    // Any key dismisses the message; then the signed ISO.
    q.send_serial(b" ").unwrap();
    std::thread::sleep(Duration::from_secs(1));
    select(&mut q, "Signed Debian").unwrap();
    confirm_without_window(&mut q).unwrap();
    q.wait_for(
        "BOOTSHELF-SIGNED-GRUB-LOADING-LINUX",
        Duration::from_secs(120),
    )
    .unwrap();
    q.wait_for("secureboot: Secure boot enabled", Duration::from_secs(180))
        .unwrap();
    q.wait_for("BOOTSHELF-LINUX-MARKER", Duration::from_secs(120))
        .unwrap();
}

/// With Secure Boot off, the same stick boots the unsigned ISO (shim does not verify then).
#[test]
fn unsigned_iso_boots_with_secure_boot_off() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick
        .add(
            &fixtures::uefi::marker_iso("sb-unsigned").unwrap(),
            Some("Unsigned GRUB"),
        )
        .unwrap();
    let mut q = stick.boot_uefi_to_menu().unwrap();
    assert!(q.serial_text().contains("[Secure Boot off]"));
    select(&mut q, "Unsigned GRUB").unwrap();
    confirm_without_window(&mut q).unwrap();
    q.wait_for("BOOTSHELF-MARKER-sb-unsigned", Duration::from_secs(90))
        .unwrap();
}

/// Own-keys mode: firmware whose db holds the signing key (Debian's snakeoil OVMF pair and
/// its key) starts the signed loader as `BOOTX64.EFI`, no shim.
#[test]
fn own_keys_mode_boots_without_shim() {
    let cert = "/usr/share/ovmf/PkKek-1-snakeoil.pem";
    // Debian ships the snakeoil key encrypted with the password "snakeoil".
    let plain = fixtures::scratch_path("e2e-snakeoil.key").unwrap();
    fixtures::run(
        std::process::Command::new("openssl")
            .args(["pkey", "-in", "/usr/share/ovmf/PkKek-1-snakeoil.key"])
            .args(["-passin", "pass:snakeoil", "-out"])
            .arg(&plain),
    )
    .unwrap();
    let key = plain.to_str().unwrap();
    let image = fixtures::scratch_path("e2e-own-keys.img").unwrap();
    let img = image.to_str().unwrap();
    run_bootshelf(&[
        "install",
        "--yes",
        "--size",
        "128M",
        "--own-keys",
        "--key",
        key,
        "--cert",
        cert,
        img,
    ])
    .unwrap();
    let _ = std::fs::remove_file(&plain);
    let mut cfg = Config::uefi_secure_boot();
    cfg.ovmf_code = "/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd".into();
    cfg.ovmf_vars = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd".into();
    let cfg = cfg.drive(Drive::usb(&image).snapshot(true));
    let mut q = Qemu::start(&cfg).unwrap();
    let r = q.wait_for("bootshelf: menu drawn", Duration::from_secs(120));
    let text = q.serial_text();
    drop(q);
    let _ = std::fs::remove_file(&image);
    r.unwrap();
    assert!(text.contains("[Secure Boot on]"), "{text}");
}
