//! An MBR stick after a boot (docs/window.md, "MBR sticks"): booting an ISO leaves its
//! window in the MBR until the next loader start or writing command. The window lies
//! inside the data partition, and EDK2-based firmware (OVMF) ignores an MBR whose used
//! records overlap, so the loader empties the data partition's record while a window is
//! set. Here one image (no snapshot) is booted under SeaBIOS, which leaves the window,
//! then under OVMF: the firmware still finds the ESP, bootshelf's menu comes up and the
//! ISO boots. In between, reading commands find the data partition and write nothing,
//! and `check` calls the state normal and names the fix; a writing command restores the
//! table byte for byte.

use e2e::{run_bootshelf, select, StickSpec, TestStick};
use fixtures::uefi::marker_iso;
use qemu_harness::{strip_ansi, Config, Drive, Qemu};
use std::path::Path;
use std::time::{Duration, Instant};

/// From power-on to the ISO's marker, under TCG on a shared machine.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

const ISO: &str = "uefi-marker-mbrwin-v1.iso";
const MARKER: &str = "BOOTSHELF-MARKER-mbrwin";

/// Wait until `text` shows on COM1 or (GRUB under BIOS prints to the screen only) on the
/// VGA text screen.
fn wait_text(q: &mut Qemu, text: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        if strip_ansi(&q.serial_text()).contains(text) {
            return;
        }
        let exited = q.try_exit().is_some();
        if !exited && q.vga_text().unwrap_or_default().contains(text) {
            return;
        }
        if exited || Instant::now() > deadline {
            panic!(
                "{text:?} did not appear\n--- serial ---\n{}",
                strip_ansi(&q.serial_text())
            );
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Boot the image (written through) under `cfg`, choose the ISO and wait for its marker;
/// the marker ISO's GRUB then powers the machine off.
fn boot_the_iso(cfg: &Config, what: &str) -> String {
    let mut q = Qemu::start(cfg).unwrap();
    if let Err(e) = q.wait_for("bootshelf: menu drawn", BOOT_TIMEOUT) {
        panic!(
            "{what}: no menu: {e}\n--- serial ---\n{}",
            strip_ansi(&q.serial_text())
        );
    }
    select(&mut q, ISO).unwrap();
    q.wait_for(
        &format!("bootshelf: booting {ISO}"),
        Duration::from_secs(30),
    )
    .unwrap();
    wait_text(&mut q, MARKER, BOOT_TIMEOUT);
    let _ = q.wait_exit(Duration::from_secs(20));
    strip_ansi(&q.serial_text())
}

/// LBA 0's partition records (bytes 446..510).
fn records(img: &Path) -> Vec<u8> {
    std::fs::read(img).unwrap()[446..510].to_vec()
}

#[test]
fn mbr_stick_boots_under_uefi_after_a_bios_boot_left_its_window() {
    let stick = TestStick::install(StickSpec {
        mbr: true,
        ..StickSpec::default()
    })
    .unwrap();
    stick.add(&marker_iso("mbrwin").unwrap(), None).unwrap();
    let img = stick.path().to_str().unwrap().to_string();
    let installed = records(stick.path());
    assert_eq!(installed[4], 0x07, "record 1 is the exFAT data partition");

    // BIOS boot: the loader writes the window and empties the data partition's record.
    boot_the_iso(&Config::bios().drive(Drive::usb(stick.path())), "BIOS");
    let booted = records(stick.path());
    assert_eq!(booted[4], 0x00, "record 1 emptied while the window is set");
    assert_eq!(
        booted[8..16],
        installed[8..16],
        "record 1 keeps its LBAs (Linux still lists the partition)"
    );
    assert_eq!(booted[48 + 4], 0x17, "record 4 is the window");

    // Reading commands find the data partition and write nothing; check calls the state
    // normal (exit 0) and names the fix.
    let before = std::fs::read(stick.path()).unwrap();
    let list = run_bootshelf(&["list", &img]).unwrap();
    assert!(list.contains(ISO), "{list}");
    let report = run_bootshelf(&["check", &img]).unwrap();
    assert!(
        report.contains(&format!("ISO window: covers /{ISO}")),
        "{report}"
    );
    assert!(
        report.contains("data partition's MBR entry is emptied while the ISO window is set")
            && report.contains("`bootshelf sync STICK`"),
        "{report}"
    );
    let json = run_bootshelf(&["check", &img, "--json"]).unwrap();
    assert!(json.contains("\"data_partition_hidden\""), "{json}");
    assert!(
        std::fs::read(stick.path()).unwrap() == before,
        "reading commands wrote the stick"
    );

    // UEFI boot of the same image: OVMF accepts the MBR and finds the ESP, the loader
    // clears the old window (restoring record 1) and boots the ISO, leaving its window.
    let t0 = Instant::now();
    let text = boot_the_iso(&Config::uefi().drive(Drive::usb(stick.path())), "UEFI");
    assert!(
        !text.contains("failed to load Boot"),
        "OVMF rejected the stick:\n{text}"
    );
    eprintln!(
        "UEFI boot after the BIOS boot: {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(
        records(stick.path()),
        booted,
        "the UEFI boot set the same window"
    );

    // A writing command restores the table byte for byte; the checker is clean.
    run_bootshelf(&["sync", &img]).unwrap();
    assert_eq!(records(stick.path()), installed);
    let report = run_bootshelf(&["check", &img]).unwrap();
    assert!(
        !report.contains("window") && !report.contains("emptied"),
        "{report}"
    );
    testkit::check::sfdisk_verify(stick.path()).assert_clean("after sync");
}
