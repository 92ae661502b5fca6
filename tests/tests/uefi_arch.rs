//! The same stick on x86_64, ARM64 and 32-bit x86 UEFI machines (issue 13, docs/uefi.md
//! "Architectures"): bootshelf's loader for each architecture (BOOTX64.EFI, BOOTAA64.EFI,
//! BOOTIA32.EFI on the ESP) shows the menu, boots the ISO made for its machine, and dims
//! the ISOs whose EFI image has no loader for it, saying why. The marker ISOs are
//! grub-mkrescue images for ONE architecture each (arm64-efi, i386-efi, x86_64-efi).
//!
//! Under TCG on a loaded 2-core machine the three boots take about a minute together;
//! one machine runs at a time.

use e2e::{confirm_without_window, run_bootshelf, select, StickSpec, TestStick};
use fixtures::arch::{marker, marker_iso, EfiArch};
use qemu_harness::{strip_ansi, Qemu};
use std::time::{Duration, Instant};

const MENU_TIMEOUT: Duration = Duration::from_secs(120);
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

fn iso_name(arch: EfiArch) -> String {
    format!("arch-marker-{}-v1.iso", arch.name())
}

#[test]
fn marker_isos_boot_on_their_own_machine_and_are_dimmed_on_the_others() {
    let stick = TestStick::install(StickSpec {
        size_mib: 96,
        ..StickSpec::default()
    })
    .unwrap();
    for arch in EfiArch::ALL {
        stick.add(&marker_iso(arch).unwrap(), None).unwrap();
    }
    // list says which architecture each serves, as the index recorded it at add time.
    let img = stick.path().to_str().unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&run_bootshelf(&["list", "--json", img]).unwrap()).unwrap();
    for (row, arch) in json["isos"].as_array().unwrap().iter().zip(EfiArch::ALL) {
        assert_eq!(row["path"], format!("/{}", iso_name(arch)));
        assert_eq!(row["efi_arches"], serde_json::json!([arch.name()]), "{row}");
    }
    for arch in [EfiArch::Aa64, EfiArch::Ia32, EfiArch::X64] {
        let t = Instant::now();
        let mut q = Qemu::start(&stick.uefi_arch_config(arch)).unwrap();
        q.wait_for("bootshelf: menu drawn", MENU_TIMEOUT)
            .unwrap_or_else(|e| panic!("{arch}: {e}\n{}", q.serial_text()));
        // The other architectures' ISOs: dimmed, and Enter says why instead of booting.
        for other in EfiArch::ALL.into_iter().filter(|&o| o != arch) {
            select(&mut q, &iso_name(other)).unwrap();
            let why = format!(
                "no {arch} loader ({}) in this ISO; it boots on {other}",
                arch.file_name()
            );
            q.wait_for(&why, BOOT_TIMEOUT)
                .unwrap_or_else(|e| panic!("{arch}: {e}\n{}", q.serial_text()));
            q.send_serial(b" ").unwrap();
            std::thread::sleep(Duration::from_millis(500));
        }
        select(&mut q, &iso_name(arch)).unwrap();
        confirm_without_window(&mut q).unwrap();
        q.wait_for(&marker(arch), BOOT_TIMEOUT)
            .unwrap_or_else(|e| panic!("{arch}: {e}\n{}", q.serial_text()));
        let text = q.serial_text();
        assert_eq!(text.matches("BOOTSHELF-MARKER-ARCH-").count(), 1, "{text}");
        eprintln!(
            "{arch}: menu, two refusals and the marker in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
}

/// Debian's arm64 kernel with a busybox initramfs, on an ISO added to the stick, boots on
/// AAVMF through bootshelf (GRUB arm64-efi from the virtual CD) and finds its medium again
/// by label on the ISO window (`/dev/sda4`), as on x86_64 (tests/tests/window_linux.rs).
#[test]
fn arm64_debian_kernel_finds_its_medium_through_the_window_by_label() {
    let iso = fixtures::arch::arm64_live_iso("arm").unwrap();
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&iso, None).unwrap();
    let t = Instant::now();
    let mut q = Qemu::start(&stick.uefi_arch_config(EfiArch::Aa64)).unwrap();
    q.wait_for("bootshelf: menu drawn", MENU_TIMEOUT).unwrap();
    select(&mut q, "arm64-live-arm-label-v1.iso").unwrap();
    let i = q
        .wait_for_any(&["bootshelf: booting ", "no ISO window"], MENU_TIMEOUT)
        .unwrap();
    assert_eq!(i, 0, "the loader refused the window:\n{}", q.serial_text());
    let verdict = q.wait_for_any(
        &["BOOTSHELF-LIVE-FOUND", fixtures::live::NOT_FOUND],
        Duration::from_secs(300),
    );
    let _ = q.wait_exit(Duration::from_secs(10));
    let text = strip_ansi(&q.serial_text());
    verdict.unwrap_or_else(|e| panic!("no verdict from the live system: {e}\n{text}"));
    let line = text
        .lines()
        .find(|l| l.contains("BOOTSHELF-LIVE-FOUND") || l.contains(fixtures::live::NOT_FOUND))
        .unwrap_or_default()
        .trim();
    eprintln!(
        "aarch64: {line} after {:.1} s from power-on",
        t.elapsed().as_secs_f64()
    );
    assert!(
        line.starts_with(&format!(
            "{} by=label dev=/dev/sda4",
            fixtures::live::found_marker("arm")
        )),
        "the live system did not find itself on the window (sda4): {line:?}\n{text}"
    );
}
