//! The BIOS loader end to end: sticks made by `bootshelf install` + `bootshelf add`,
//! booted under SeaBIOS, bootshelf's menu (bootloader-core, drawn on VGA and COM1), an
//! entry chosen by key, and the chosen ISO chain-booted through the resident INT 13h
//! emulation until it shows its own marker.

use e2e::{select, StickSpec, TestStick};
use fixtures::uefi::marker_iso;
use qemu_harness::{strip_ansi, Attach, Config, Drive, Qemu};
use std::time::{Duration, Instant};

/// Wait until `text` shows on COM1 (escape sequences removed: SeaBIOS's serial console
/// may put cursor moves inside a word) or on the VGA text screen.
fn wait_text(q: &mut Qemu, text: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        let serial = strip_ansi(&q.serial_text());
        if serial.contains(text) {
            return;
        }
        let exited = q.try_exit().is_some();
        if !exited && q.vga_text().unwrap_or_default().contains(text) {
            return;
        }
        if exited || Instant::now() > deadline {
            panic!("{text:?} did not appear\n--- serial ---\n{serial}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn bios_machine(stick: &TestStick, attach: Attach) -> Qemu {
    let cfg = Config::bios().drive(Drive::usb(stick.path()).attach(attach).snapshot(true));
    let mut q = Qemu::start(&cfg).unwrap();
    q.wait_for("bootshelf: menu drawn", Duration::from_secs(90))
        .unwrap();
    q
}

fn two_markers(spec: StickSpec) -> TestStick {
    let stick = TestStick::install(spec).unwrap();
    stick.add(&marker_iso("bios-a").unwrap(), None).unwrap();
    stick.add(&marker_iso("bios-b").unwrap(), None).unwrap();
    stick
}

#[test]
fn two_no_emulation_isos_each_selected_by_serial_keys_on_gpt_usb_stick() {
    let stick = two_markers(StickSpec::default());
    for name in ["bios-b", "bios-a"] {
        let mut q = bios_machine(&stick, Attach::Usb);
        select(&mut q, name).unwrap();
        wait_text(
            &mut q,
            &format!("bootshelf: booting uefi-marker-{name}"),
            Duration::from_secs(20),
        );
        wait_text(
            &mut q,
            &format!("BOOTSHELF-MARKER-{name}"),
            Duration::from_secs(60),
        );
    }
}

#[test]
fn second_iso_selected_with_keyboard_on_mbr_stick_as_ide_disk() {
    let stick = two_markers(StickSpec {
        mbr: true,
        ..StickSpec::default()
    });
    let mut q = bios_machine(&stick, Attach::Ide);
    q.send_key("down").unwrap();
    q.send_key("ret").unwrap();
    wait_text(&mut q, "BOOTSHELF-MARKER-bios-b", Duration::from_secs(60));
}

#[test]
fn isolinux_iso_boots_debian_kernel_and_busybox_initramfs() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick
        .add(&fixtures::bios::isolinux_linux_iso().unwrap(), None)
        .unwrap();
    let mut q = bios_machine(&stick, Attach::Usb);
    q.send_serial(b"\r").unwrap();
    wait_text(&mut q, "BOOTSHELF-LINUX-MARKER", Duration::from_secs(120));
}

#[test]
fn floppy_hard_disk_and_isolinux_entries_boot_by_digit_key() {
    // memtest86+ (1.44 MB floppy emulation), the hard-disk emulation fixture and iPXE
    // (isolinux, no emulation) on one stick; each booted by its number key over serial.
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&fixtures::iso::memtest().unwrap(), None).unwrap();
    stick
        .add(&fixtures::bios::hd_emulation_iso().unwrap(), None)
        .unwrap();
    stick.add(&fixtures::iso::ipxe().unwrap(), None).unwrap();
    for (key, name, text) in [
        (b"1", "memtest86+x64.iso", "Memtest86+"),
        (b"2", "bios-hdemu-v2.iso", fixtures::bios::HD_NEXT_DISK_OK),
        (b"3", "ipxe.iso", "iPXE initialising devices"),
    ] {
        let mut q = bios_machine(&stick, Attach::Usb);
        let rows = q.menu_entries();
        let n = usize::from(key[0] - b'0');
        assert!(
            rows.iter().any(|(i, t)| *i == n && t.contains(name)),
            "{name} is not entry {n}: {rows:?}"
        );
        q.send_serial(key).unwrap();
        q.send_serial(b"\r").unwrap();
        wait_text(
            &mut q,
            &format!("bootshelf: booting {name}"),
            Duration::from_secs(20),
        );
        wait_text(&mut q, text, Duration::from_secs(60));
    }
}

/// Boot `bad` (an ISO the loader must refuse) from a stick that also holds a GRUB marker
/// ISO: the reason (containing `why`) shows on serial and on screen, Esc clears it, and the
/// marker ISO then boots from the same menu. `bad` is added with `--force` (`add` itself
/// refuses a boot image past the ISO's end; the loader must too).
fn refused_then_other_boots(bad: &std::path::Path, name: &str, why: &str) {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add_forced(bad).unwrap();
    stick.add(&marker_iso("bios-a").unwrap(), None).unwrap();
    let mut q = bios_machine(&stick, Attach::Usb);
    select(&mut q, name).unwrap();
    wait_text(&mut q, "bootshelf: boot failed: ", Duration::from_secs(20));
    let serial = strip_ansi(&q.serial_text());
    assert!(serial.contains(why), "{serial}");
    let screen = q.vga_text().unwrap();
    assert!(screen.contains(why), "{screen}");
    q.send_serial(b"\x1b").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    select(&mut q, "bios-a").unwrap();
    wait_text(&mut q, "BOOTSHELF-MARKER-bios-a", Duration::from_secs(60));
}

#[test]
fn refused_boot_shows_why_and_returns_to_the_menu() {
    let iso = fixtures::bios::oversized_load_iso().unwrap();
    refused_then_other_boots(&iso, "bios-oversized", "exceeds free RAM");
}

#[test]
fn boot_image_past_the_iso_end_is_refused_before_the_point_of_no_return() {
    let iso = fixtures::bios::past_end_load_iso().unwrap();
    refused_then_other_boots(&iso, "bios-past-end", "passes the ISO end");
}

#[test]
fn grub_mkrescue_iso_boots_debian_kernel_and_busybox_initramfs() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick
        .add(&fixtures::uefi::linux_iso().unwrap(), None)
        .unwrap();
    let mut q = bios_machine(&stick, Attach::Usb);
    q.send_serial(b"\r").unwrap();
    wait_text(&mut q, "BOOTSHELF-LINUX-MARKER", Duration::from_secs(120));
}

#[test]
fn esc_leaves_the_menu_to_the_next_boot_device() {
    // Esc: bootshelf hands back to the BIOS (INT 18h), which boots the next device, here
    // a CD-ROM drive holding another GRUB ISO.
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&marker_iso("bios-a").unwrap(), None).unwrap();
    let cfg = Config::bios()
        .drive(Drive::usb(stick.path()).snapshot(true))
        .drive(Drive::cdrom(marker_iso("bios-b").unwrap()));
    let mut q = Qemu::start(&cfg).unwrap();
    q.wait_for("bootshelf: menu drawn", Duration::from_secs(90))
        .unwrap();
    // The first Esc stops the countdown, the second leaves (docs/menu.md).
    q.send_key("esc").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    q.send_key("esc").unwrap();
    wait_text(&mut q, "BOOTSHELF-MARKER-bios-b", Duration::from_secs(60));
    assert!(!strip_ansi(&q.serial_text()).contains("bootshelf: booting"));
}
