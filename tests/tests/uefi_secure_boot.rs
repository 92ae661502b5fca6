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
/// and its kernel reports Secure Boot enabled. The index knows the unsigned ISO's loader
/// carries no signature (`list --json`: `efi_signed`), so the menu dims its row with the
/// reason and Enter shows the message without trying to boot it (no `booting` note, no
/// LoadImage refusal).
///
/// An ISO whose loader is signed by a key no firmware trusts is not dimmed either, and
/// LoadImage's refusal is told as such ("Signed, but not by a key this PC trusts").
/// Between them, an ISO like the signed one but whose GRUB is an older Debian-signed
/// build (`grub-efi-amd64-signed` whose SBAT `grub` generation is below the SbatLevel the
/// stick's shim applies, fixtures::uefi::sbat_revoked_iso): it is not dimmed (its shim is
/// signed), its Microsoft-signed shim passes LoadImage, and that shim refuses the revoked
/// GRUB; the loader says so with its Secure Boot message and the menu stays usable
/// (docs/secure-boot.md "SBAT").
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
            &fixtures::uefi::untrusted_signed_iso().unwrap(),
            Some("Untrusted key"),
        )
        .unwrap();
    stick
        .add(
            &fixtures::uefi::sbat_revoked_iso().unwrap(),
            Some("Revoked GRUB"),
        )
        .unwrap();
    stick
        .add(
            &fixtures::uefi::debian_signed_iso().unwrap(),
            Some("Signed Debian"),
        )
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(
        &run_bootshelf(&["list", "--json", stick.path().to_str().unwrap()]).unwrap(),
    )
    .unwrap();
    let signed: Vec<&serde_json::Value> = json["isos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["efi_signed"])
        .collect();
    assert_eq!(
        signed,
        [
            &serde_json::json!([]),
            &serde_json::json!(["x86_64"]),
            &serde_json::json!(["x86_64"]),
            &serde_json::json!(["x86_64"])
        ],
        "{json}"
    );
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
    // Refused by the menu from the index, before any attempt: LoadImage never ran.
    let text = q.serial_text();
    assert!(!text.contains("bootshelf: booting"), "{text}");
    assert!(!text.contains("bootshelf: boot failed"), "{text}");
    assert!(!text.contains("BOOTSHELF-MARKER-sb-unsigned"));

    // Any key dismisses the message; then the ISO signed by a key nobody trusts: not
    // dimmed (it is signed), refused by LoadImage, and the menu says it is the signer.
    q.send_serial(b" ").unwrap();
    std::thread::sleep(Duration::from_secs(1));
    select(&mut q, "Untrusted key").unwrap();
    confirm_without_window(&mut q).unwrap();
    q.wait_for(
        "Signed, but not by a key this PC trusts (or revoked). Turn Secure Boot off.",
        Duration::from_secs(60),
    )
    .unwrap();

    // Then the ISO whose GRUB the SbatLevel revokes: its
    // shim starts (signed by Microsoft) and refuses the GRUB with its own alert
    // ("Verification failed: (0x1A) Security Violation", a key dismisses it), offers its
    // MokManager (which times out by itself), tries the GRUB once more, and returns:
    // bootshelf's menu shows its message.
    q.send_serial(b" ").unwrap();
    std::thread::sleep(Duration::from_secs(1));
    select(&mut q, "Revoked GRUB").unwrap();
    confirm_without_window(&mut q).unwrap();
    let refused = "Refused under Secure Boot (revoked by SBAT?). Use a newer release of this ISO.";
    let mut alerts = 0;
    loop {
        match q.wait_for_any(
            &["Verification failed: (0x1A) Security Violation", refused],
            Duration::from_secs(180),
        ) {
            Ok(0) if alerts < 4 => {
                alerts += 1;
                std::thread::sleep(Duration::from_millis(1500));
                q.send_serial(b"\r").unwrap();
            }
            Ok(1) => break,
            other => panic!(
                "the revoked GRUB was not refused with the message ({other:?} after {alerts} \
                 alerts):\n{}",
                qemu_harness::strip_ansi(&q.serial_text())
            ),
        }
    }
    assert!(alerts >= 1, "shim did not refuse the revoked GRUB itself");
    assert!(!q
        .serial_text()
        .contains("BOOTSHELF-SIGNED-GRUB-LOADING-LINUX"));

    // Then the signed ISO.
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

/// First boot of a new stick on a machine that does not know its key: shim cannot verify
/// bootshelf's loader and starts MokManager; the test enrolls the certificate on the ESP
/// through MokManager's own screens by sending keys (Enroll key from disk, the volume, the
/// certificate file, Continue, Yes, Reboot); the machine resets and bootshelf's menu
/// comes up with Secure Boot on.
#[test]
fn first_boot_enrolls_the_key_through_mokmanager() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    let mut cfg = stick.secure_boot_config(false).unwrap();
    cfg.reboot = true;
    let mut q = Qemu::start(&cfg).unwrap();
    let step = |q: &mut Qemu, text: &str, keys: &[u8]| {
        if let Err(e) = q.wait_for(text, Duration::from_secs(120)) {
            panic!(
                "waiting for {text:?}: {e}\n---- screen so far:\n{}",
                qemu_harness::strip_ansi(&q.serial_text())
            );
        }
        std::thread::sleep(Duration::from_millis(1500));
        q.send_serial(keys).unwrap();
    };
    step(&mut q, "Security Violation", b"\r");
    step(&mut q, "Press any key", b" ");
    step(&mut q, "Enroll key from disk", b"\x1b[B\r");
    // The volume list: the ESP is the only file system the firmware reads on the stick.
    step(&mut q, "BSHELF-EFI", b"\r");
    // The ESP's root, in directory order: go down to the certificate.
    q.wait_for("BOOTSHELF.TXT", Duration::from_secs(60))
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let screen = q.serial_text();
    let listing = &screen[screen.rfind("Enrolling it").unwrap_or(0)..];
    let mut names: Vec<(usize, &str)> = ["EFI/", "ENROLL-THIS-bootshelf-key.cer", "BOOTSHELF.TXT"]
        .iter()
        .filter_map(|n| listing.find(n).map(|at| (at, *n)))
        .collect();
    names.sort();
    let index = names
        .iter()
        .position(|(_, n)| n.starts_with("ENROLL"))
        .unwrap_or_else(|| panic!("no certificate in MokManager's listing: {names:?}"));
    let mut keys = b"\x1b[B".repeat(index);
    keys.push(b'\r');
    q.send_serial(&keys).unwrap();
    // The key's screen: View key 0 / Continue; then No / Yes; then Reboot.
    step(&mut q, "Continue", b"\x1b[B\r");
    step(&mut q, "Enroll the key(s)?", b"\x1b[B\r");
    step(&mut q, "Reboot", b"\r");
    // The machine resets; shim now verifies the loader against MokList.
    if let Err(e) = q.wait_for("bootshelf: menu drawn", Duration::from_secs(180)) {
        panic!(
            "no menu after enrolling: {e}\n---- screen:\n{}",
            qemu_harness::strip_ansi(&q.serial_text())
        );
    }
    assert!(q.serial_text().contains("[Secure Boot on]"));
}
