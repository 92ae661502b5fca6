//! bootshelf's UEFI loader with other people's boot code, as Debian ships it: iPXE,
//! memtest86+, and a Debian kernel with a busybox initramfs behind grub-mkrescue's GRUB.

use e2e::{confirm_without_window, select, StickSpec, TestStick};
use std::time::{Duration, Instant};

/// A Debian kernel started by GRUB from the virtual CD reaches the initramfs's `/init`.
#[test]
fn debian_kernel_and_busybox_initramfs_reach_init() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick
        .add(&fixtures::uefi::linux_iso().unwrap(), Some("Debian Linux"))
        .unwrap();
    let mut q = stick.boot_uefi_to_menu().unwrap();
    select(&mut q, "Debian Linux").unwrap();
    confirm_without_window(&mut q).unwrap();
    q.wait_for("BOOTSHELF-GRUB-LOADING-LINUX", Duration::from_secs(60))
        .unwrap();
    q.wait_for("BOOTSHELF-LINUX-MARKER", Duration::from_secs(120))
        .unwrap();
}

/// Debian's ipxe.iso: its UEFI image prints on the console (mirrored to serial).
#[test]
fn ipxe_iso_starts() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&fixtures::iso::ipxe().unwrap(), None).unwrap();
    let mut q = stick.boot_uefi_to_menu().unwrap();
    select(&mut q, "ipxe.iso").unwrap();
    confirm_without_window(&mut q).unwrap();
    q.wait_for("iPXE", Duration::from_secs(90)).unwrap();
}

/// Debian's memtest86+x64.iso draws on the framebuffer only: it counts as started when a
/// screendump shows its blue screen (checked by eye once: "Memtest86+ v6.10", "QEMU
/// Virtual CPU", "Press <F1> to configure").
#[test]
fn memtest_iso_draws_its_screen() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&fixtures::iso::memtest().unwrap(), None).unwrap();
    let mut q = stick.boot_uefi_to_menu().unwrap();
    let menu = q.screendump().unwrap();
    select(&mut q, "memtest86+x64.iso").unwrap();
    confirm_without_window(&mut q).unwrap();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        std::thread::sleep(Duration::from_secs(2));
        let shot = q.screendump().unwrap();
        if memtest_screen(&shot) {
            if let Some(path) = std::env::var_os("E2E_SAVE_SCREEN") {
                shot.save(std::path::Path::new(&path)).unwrap();
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "memtest did not draw its screen; menu had {} colours, now {} colours, {:.0}% lit; serial: {}",
            menu.distinct_colours(),
            shot.distinct_colours(),
            shot.lit_fraction() * 100.0,
            q.serial_text()
        );
    }
}

/// memtest86+ 6.x paints its whole screen blue (header, status and test area): most
/// pixels blue, where bootshelf's menu and the firmware are black.
fn memtest_screen(shot: &qemu_harness::Ppm) -> bool {
    let blue = shot
        .rgb
        .chunks_exact(3)
        .filter(|p| p[2] > 128 && p[0] < 64 && p[1] < 64)
        .count();
    blue * 2 > shot.rgb.len() / 3
}
