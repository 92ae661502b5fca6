//! Kernel options end to end: `bootshelf options` saves arguments for an ISO, the loader
//! serves the ISO's boot configuration with them through its overlay (a grub.cfg that
//! fills its sector exactly, so it outgrows its extent and is relocated past the ISO's
//! end), and the booted kernel's `/proc/cmdline`, printed by the fixture's init on the
//! serial console, has them. Afterwards the ISO on the stick is unchanged (`check
//! --hash` is clean). Under UEFI the El Torito EFI boot image's own configuration gets
//! them too: an archiso-like ISO whose only kernel line is a systemd-boot entry in that
//! image.

use e2e::{confirm_without_window, run_bootshelf, select, StickSpec, TestStick};
use fixtures::options::CMDLINE_MARKER;
use qemu_harness::{strip_ansi, Config, Drive, Qemu};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The kernel command line the fixture's init printed.
fn cmdline(q: &mut Qemu) -> String {
    q.wait_for(CMDLINE_MARKER, Duration::from_secs(180))
        .unwrap();
    // The rest of the line arrives with the marker (one write by init).
    q.wait_for(" panic=-1", Duration::from_secs(10)).ok();
    std::thread::sleep(Duration::from_millis(500));
    let text = strip_ansi(&q.serial_text());
    let at = text.rfind(CMDLINE_MARKER).unwrap();
    text[at + CMDLINE_MARKER.len()..]
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Which firmware boots the stick.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Firmware {
    Uefi,
    Bios,
}

/// A stick installed as `spec` says holding `iso` as "Options ISO", with saved options
/// `--append <append> --remove quiet`.
fn stick_with_options(spec: StickSpec, iso: &Path, append: &str) -> TestStick {
    let stick = TestStick::install(spec).unwrap();
    stick.add(iso, Some("Options ISO")).unwrap();
    let img = stick.path().to_str().unwrap();
    run_bootshelf(&[
        "options",
        img,
        "Options ISO",
        "--append",
        append,
        "--remove",
        "quiet",
    ])
    .unwrap();
    stick
}

/// Boot `stick` (on USB storage, snapshot mode) with `firmware` and wait for bootshelf's
/// menu.
fn boot_to_menu(stick: &TestStick, firmware: Firmware) -> Qemu {
    match firmware {
        Firmware::Uefi => stick.boot_uefi_to_menu().unwrap(),
        Firmware::Bios => {
            let cfg = Config::bios().drive(Drive::usb(stick.path()).snapshot(true));
            let mut q = Qemu::start(&cfg).unwrap();
            q.wait_for("bootshelf: menu drawn", Duration::from_secs(90))
                .unwrap();
            q
        }
    }
}

/// Install a stick as `spec` says, add `iso`, save options for it, boot it with
/// `firmware` and check the kernel command line; then `check --hash`. `note`: how the
/// loader reports its overlay (the files' placement differs by fixture).
fn saved_options_reach_the_kernel(spec: StickSpec, iso: &Path, firmware: Firmware, note: &str) {
    let stick = stick_with_options(spec, iso, "bootshelf.saved=yes nomodeset loglevel=1");
    let img = stick.path().to_str().unwrap();
    let mut q = boot_to_menu(&stick, firmware);
    select(&mut q, "Options ISO").unwrap();
    q.wait_for(note, Duration::from_secs(60)).unwrap();
    confirm_without_window(&mut q).unwrap();
    let line = cmdline(&mut q);
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(words.contains(&"bootshelf.saved=yes"), "{line}");
    assert!(words.contains(&"nomodeset"), "{line}");
    assert!(words.contains(&"console=ttyS0"), "{line}");
    assert!(!words.contains(&"quiet"), "{line}");
    q.kill();
    // The ISO on the stick was never written: its SHA-256 is the one `add` recorded.
    let out = run_bootshelf(&["check", "--hash", img]).unwrap();
    assert!(!out.contains("PROBLEM"), "{out}");
}

/// The note of the fixtures whose one config file outgrows its extent.
const RELOCATED: &str = "bootshelf: kernel options on 1 kernel lines in 1 files (1 relocated";

fn grub() -> PathBuf {
    fixtures::options::grub_cmdline_iso().unwrap()
}

fn isolinux() -> PathBuf {
    fixtures::options::isolinux_cmdline_iso().unwrap()
}

const MBR: StickSpec = StickSpec {
    size_mib: 128,
    mbr: true,
    sector: 512,
};

#[test]
fn saved_options_reach_the_kernel_grub_uefi_gpt() {
    saved_options_reach_the_kernel(StickSpec::default(), &grub(), Firmware::Uefi, RELOCATED);
}

#[test]
fn saved_options_reach_the_kernel_grub_uefi_mbr() {
    saved_options_reach_the_kernel(MBR, &grub(), Firmware::Uefi, RELOCATED);
}

#[test]
fn saved_options_reach_the_kernel_grub_bios_mbr() {
    saved_options_reach_the_kernel(MBR, &grub(), Firmware::Bios, RELOCATED);
}

#[test]
fn saved_options_reach_the_kernel_isolinux_bios_gpt() {
    saved_options_reach_the_kernel(StickSpec::default(), &isolinux(), Firmware::Bios, RELOCATED);
}

/// archiso's layout: the only kernel line is the `options` line of a systemd-boot entry
/// inside the El Torito EFI boot image. The entry is served rewritten in its own FAT
/// clusters (nothing relocated), systemd-boot passes it to the kernel.
#[test]
fn saved_options_reach_the_kernel_systemd_boot_efi_image_uefi() {
    saved_options_reach_the_kernel(
        StickSpec::default(),
        &fixtures::options::systemd_boot_efi_image_iso().unwrap(),
        Firmware::Uefi,
        "bootshelf: kernel options on 1 kernel lines in 1 files (0 relocated",
    );
}

/// Without options the same ISO boots with its own command line (no overlay note).
#[test]
fn without_options_the_iso_boots_as_it_is_uefi() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick
        .add(
            &fixtures::options::grub_cmdline_iso().unwrap(),
            Some("Options GRUB"),
        )
        .unwrap();
    let mut q = stick.boot_uefi_to_menu().unwrap();
    select(&mut q, "Options GRUB").unwrap();
    confirm_without_window(&mut q).unwrap();
    let line = cmdline(&mut q);
    assert!(line.contains("console=ttyS0 panic=-1 quiet"), "{line}");
    assert!(!q.serial_text().contains("bootshelf: kernel options on"));
}

/// The menu's editor (`e` on the selected entry, keys typed over serial) starts from the
/// saved arguments; Enter boots with the line as typed, for this boot only.
fn typed_arguments_reach_the_kernel(firmware: Firmware) {
    let iso = match firmware {
        Firmware::Uefi => grub(),
        Firmware::Bios => isolinux(),
    };
    let stick = stick_with_options(StickSpec::default(), &iso, "bootshelf.saved=yes");
    let img = stick.path().to_str().unwrap();
    let mut q = boot_to_menu(&stick, firmware);
    // Stop the countdown, open the editor, add an argument, boot.
    q.send_serial(b"\x1b[H").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    q.send_serial(b"e").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // One key at a time, as a person types (a burst can outrun the UART's FIFO); an
    // escape sequence is one key. Type at the end, mend a typo before the cursor (Left,
    // Backspace: BS, as OVMF takes DEL for the Delete key), then add an argument at the
    // start (Home).
    let mut keys: Vec<&[u8]> = b" bootshelf.typed=x1".chunks(1).collect();
    keys.extend([b"\x1b[D".as_slice(), b"\x08", b"\x1b[H"]);
    keys.extend(b"bootshelf.first=1 ".chunks(1));
    for k in keys {
        q.send_serial(k).unwrap();
        std::thread::sleep(Duration::from_millis(60));
    }
    std::thread::sleep(Duration::from_millis(300));
    q.send_serial(b"\r").unwrap();
    q.wait_for(
        "bootshelf: kernel options on 1 kernel lines",
        Duration::from_secs(60),
    )
    .unwrap();
    confirm_without_window(&mut q).unwrap();
    let line = cmdline(&mut q);
    let words: Vec<&str> = line.split_whitespace().collect();
    assert!(words.contains(&"bootshelf.saved=yes"), "{line}");
    assert!(words.contains(&"bootshelf.typed=1"), "{line}");
    let first = words.iter().position(|w| *w == "bootshelf.first=1");
    let saved = words.iter().position(|w| *w == "bootshelf.saved=yes");
    assert!(first.is_some() && first < saved, "{line}");
    assert!(!words.contains(&"quiet"), "{line}");
    q.kill();
    // For this boot only: the saved options are unchanged.
    let out = run_bootshelf(&["options", img, "Options ISO"]).unwrap();
    assert!(
        out.contains("append \"bootshelf.saved=yes\"; remove quiet"),
        "{out}"
    );
    let out = run_bootshelf(&["check", "--hash", img]).unwrap();
    assert!(!out.contains("PROBLEM"), "{out}");
}

#[test]
fn typed_arguments_reach_the_kernel_uefi() {
    typed_arguments_reach_the_kernel(Firmware::Uefi);
}

#[test]
fn typed_arguments_reach_the_kernel_bios() {
    typed_arguments_reach_the_kernel(Firmware::Bios);
}
