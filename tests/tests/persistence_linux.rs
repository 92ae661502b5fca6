//! Persistence proven with Linux (issue 11, docs/persistence.md): `bootshelf
//! persistence` gives a live ISO (Debian live-boot layout) an ext4 persistence file; at
//! boot the loader exposes it as the writable persistence window next to the ISO window;
//! the live init writes a token there and powers off, and the next boot of the same ISO
//! reads it back. Afterwards the data partition passes `fsck.exfat -n`, the persistence
//! file `e2fsck -fn`, `bootshelf check` names both windows, and a writing command clears
//! them. Stick on USB storage, BIOS and UEFI, GPT and MBR (on MBR the second UEFI boot
//! also proves the firmware accepts the table the first boot left: docs/window.md, "MBR
//! sticks").
//!
//! The family's argument (`persistence`) reaches the kernel line through the boot
//! configuration overlay (the ISO's grub.cfg, rewritten in the virtual CD / INT 13h
//! emulation); the init prints `/proc/cmdline` and the test checks it there. The init
//! finds the partition by its label, as live-boot does once told `persistence`.

use e2e::{run_bootshelf, select, StickSpec, TestStick};
use fixtures::live;
use qemu_harness::{strip_ansi, Config, Drive, Firmware, Qemu};
use std::path::Path;
use std::time::Duration;

/// From power-on to the init's verdict, under TCG on a shared machine.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

/// Boot the stick `img` under `firmware` (written through: the persistence file keeps
/// what the guest writes), choose `iso` in the menu, and return the serial text once one
/// of the init's verdicts showed and the machine powered off.
fn boot(img: &Path, firmware: Firmware, iso: &str) -> String {
    let cfg = match firmware {
        Firmware::Uefi => Config::uefi(),
        Firmware::Bios => Config::bios(),
    }
    .drive(Drive::usb(img));
    let mut q = Qemu::start(&cfg).unwrap();
    q.wait_for("bootshelf: menu drawn", BOOT_TIMEOUT).unwrap();
    let menu = strip_ansi(&q.serial_text());
    assert!(
        menu.contains("+persistence"),
        "{firmware:?}: the menu does not show the persistence file:\n{menu}"
    );
    select(&mut q, iso).unwrap();
    let found = q.wait_for_any(
        &[live::PERSIST_WROTE, live::PERSIST_READ, live::PERSIST_NONE],
        BOOT_TIMEOUT,
    );
    // The verdict line ends with the device, then the init syncs and powers off.
    let _ = q.wait_exit(Duration::from_secs(30));
    let text = strip_ansi(&q.serial_text());
    if let Err(e) = found {
        panic!("{firmware:?}: no verdict from the live init: {e}\n--- serial ---\n{text}");
    }
    text
}

/// The line of `text` that starts with `marker`.
fn line<'t>(text: &'t str, marker: &str) -> &'t str {
    text.lines()
        .map(str::trim)
        .find(|l| l.starts_with(marker))
        .unwrap_or_else(|| panic!("no {marker} line:\n{text}"))
}

/// The persistence file's device byte offset and size, from `persistence --json`.
fn persistence_file(img: &str) -> (u64, u64) {
    let out = run_bootshelf(&["persistence", img, "--json"]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = &v["files"][0];
    assert_eq!(f["present"], true, "{out}");
    (f["start"].as_u64().unwrap(), f["size"].as_u64().unwrap())
}

fn persistence_survives_a_reboot(firmware: Firmware, mbr: bool) {
    let what = format!("{firmware:?} {}", if mbr { "MBR" } else { "GPT" });
    let name = match (firmware, mbr) {
        (Firmware::Bios, false) => "pbgpt",
        (Firmware::Bios, true) => "pbmbr",
        (Firmware::Uefi, false) => "pugpt",
        (Firmware::Uefi, true) => "pumbr",
    };
    let iso = live::persistent_live_iso(name).unwrap();
    let file = format!("live-{name}-persist-v1.iso");
    let stick = TestStick::install(StickSpec {
        mbr,
        ..StickSpec::default()
    })
    .unwrap();
    stick.add(&iso, None).unwrap();
    let img = stick.path().to_str().unwrap().to_string();
    let made = run_bootshelf(&["persistence", &img, &file, "--size", "24M"]).unwrap();
    assert!(
        made.contains("labelled \"persistence\" for live-boot, detected")
            && made.contains("`persistence`"),
        "{what}: {made}"
    );
    let (start, size) = persistence_file(&img);
    assert_eq!(size, 24 << 20);

    // First boot: the loader opens both windows and announces the family's argument; the
    // init finds the partition by label and writes its token.
    let first = boot(stick.path(), firmware, &file);
    assert!(
        first.contains(&format!(
            "bootshelf: persistence window at LBAs {}..={}",
            start / 512,
            (start + size) / 512 - 1
        )),
        "{what}: no persistence window:\n{first}"
    );
    assert!(
        first.contains("bootshelf: kernel arguments: persistence"),
        "{what}:\n{first}"
    );
    let cmdline = line(&first, "BOOTSHELF-PERSIST-CMDLINE");
    assert!(
        cmdline.split_whitespace().any(|w| w == "persistence"),
        "{what}: the kernel did not get `persistence`: {cmdline}"
    );
    let wrote = line(&first, live::PERSIST_WROTE);
    let part = if mbr { "/dev/sda3" } else { "/dev/sda5" };
    assert!(
        wrote.ends_with(&format!("dev={part}")),
        "{what}: the token should be written to the persistence window ({part}): {wrote}\n{first}"
    );
    assert!(
        line(&first, "BOOTSHELF-PERSIST-MEDIUM").ends_with("dev=/dev/sda4"),
        "{what}: the medium should be found on the ISO window:\n{first}"
    );
    assert_eq!(
        line(&first, "BOOTSHELF-PERSIST-CONF"),
        "BOOTSHELF-PERSIST-CONF / union",
        "{what}"
    );
    let token = wrote
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert_eq!(token.len(), 36, "{what}: {wrote}");

    // Between boots the windows stay (the next loader start clears them); check says so.
    let report = run_bootshelf(&["check", &img]).unwrap();
    assert!(
        report.contains(&format!("ISO window: covers /{file}"))
            && report.contains(&format!(
                "persistence window: covers /bootshelf/persistence/live-{name}-persist-v1.ext4"
            )),
        "{what}: {report}"
    );
    assert_eq!(
        report.contains("data partition's MBR entry is emptied while the ISO window is set"),
        mbr,
        "{what}: {report}"
    );

    // Second boot of the same ISO reads the token back.
    let second = boot(stick.path(), firmware, &file);
    let read = line(&second, live::PERSIST_READ);
    assert_eq!(
        read,
        format!("{} {token} dev={part}", live::PERSIST_READ),
        "{what}:\n{second}"
    );

    // The file systems are clean: the exFAT data partition and the ext4 inside the file.
    let dir = testkit::tempdir::TempDir::new("persist");
    let (data_start, data_len, _) = testkit::stick::data_partition(stick.path());
    let data = dir.dir().join("data.img");
    testkit::image::cut(stick.path(), data_start, data_len, &data);
    testkit::check::fsck_exfat(&data).assert_clean(&format!("{what}: data partition"));
    let ext4 = dir.dir().join("persistence.ext4");
    testkit::image::cut(stick.path(), start, size, &ext4);
    let ran = testkit::cmd::run(std::process::Command::new("e2fsck").arg("-fn").arg(&ext4));
    assert!(ran.success, "{what}: e2fsck -fn:\n{}", ran.text());

    // A writing command clears both windows; the table checker is clean again.
    run_bootshelf(&["boot-next", &img, &file]).unwrap();
    let report = run_bootshelf(&["check", &img]).unwrap();
    assert!(!report.contains("window"), "{what}: {report}");
    let verdict = if mbr {
        testkit::check::sfdisk_verify(stick.path())
    } else {
        testkit::check::sgdisk_verify(stick.path())
    };
    verdict.assert_clean(&format!("{what}: after clearing the windows"));
}

#[test]
fn bios_gpt_persistence_survives_a_reboot() {
    persistence_survives_a_reboot(Firmware::Bios, false);
}

#[test]
fn uefi_gpt_persistence_survives_a_reboot() {
    persistence_survives_a_reboot(Firmware::Uefi, false);
}

#[test]
fn bios_mbr_persistence_survives_a_reboot() {
    persistence_survives_a_reboot(Firmware::Bios, true);
}

#[test]
fn uefi_mbr_persistence_survives_a_reboot() {
    persistence_survives_a_reboot(Firmware::Uefi, true);
}
