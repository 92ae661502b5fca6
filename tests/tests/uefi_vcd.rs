//! The virtual CD on its own: sticks made by hand (no bootshelf install, no exFAT) with
//! GRUB ISOs at known places, booted under OVMF with the stick on USB storage.

use e2e::TempImage;
use fixtures::uefi::{marker_iso, raw_stick, Placed};
use qemu_harness::{Config, Drive, Qemu};
use std::time::Duration;

fn boot_marker(pieces: u32, sector: u64) {
    let iso = marker_iso("vcd").unwrap();
    let stick = TempImage(
        raw_stick(
            loaders::UEFI_BOOTX64,
            &[Placed {
                title: "vcd".into(),
                iso,
                pieces,
            }],
            sector,
        )
        .unwrap(),
    );
    let mut drive = Drive::usb(stick.path());

    if sector != 512 {
        drive = drive.sector_size(sector as u32);
    }
    let mut q = Qemu::start(&Config::uefi().drive(drive)).unwrap();
    q.wait_for("bootshelf: menu drawn", Duration::from_secs(60))
        .unwrap();
    q.send_serial(b"\r").unwrap();
    q.wait_for("bootshelf: booting vcd", Duration::from_secs(10))
        .unwrap();
    q.wait_for("BOOTSHELF-MARKER-vcd", Duration::from_secs(60))
        .unwrap();
    if std::env::var_os("E2E_SHOW_SERIAL").is_some() {
        eprintln!("{}", q.serial_text());
    }
}

#[test]
fn grub_iso_contiguous_boots_from_virtual_cd() {
    boot_marker(1, 512);
}

#[test]
fn grub_iso_in_three_reversed_fragments_boots_from_virtual_cd() {
    boot_marker(3, 512);
}

#[test]
fn grub_iso_on_4096_byte_sector_stick_boots_from_virtual_cd() {
    boot_marker(1, 4096);
}

#[test]
fn grub_iso_fragmented_on_4096_byte_sector_stick_boots_from_virtual_cd() {
    boot_marker(5, 4096);
}
