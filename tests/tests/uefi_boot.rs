//! bootshelf's UEFI loader end to end: sticks made by the `bootshelf` binary (install,
//! add, boot-next) or by a file manager (exfat-fuse), booted under OVMF with the stick on
//! USB storage; keys go in over serial like a user at a terminal would type them.
//!
//! The marker ISOs are grub-mkrescue images whose marker is printed by the grub.cfg on
//! the ISO 9660 volume: seeing it proves the chain-loaded GRUB found and read its own CD
//! through the virtual CD.

use e2e::{select, StickSpec, TestStick};
use fixtures::uefi::marker_iso;
use qemu_harness::Qemu;
use std::time::Duration;

const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

/// Boot `stick`, choose the entry whose row contains `entry`, wait for `marker`, and
/// check that no other marker showed up.
fn boots(stick: &TestStick, entry: &str, marker: &str) -> Qemu {
    let mut q = stick.boot_uefi_to_menu().unwrap();
    select(&mut q, entry).unwrap();
    e2e::confirm_without_window(&mut q).unwrap();
    q.wait_for(marker, BOOT_TIMEOUT).unwrap();
    assert!(
        q.serial_text()
            .contains(&format!("bootshelf: booting {entry}")),
        "{}",
        q.serial_text()
    );
    let others = q.serial_text().matches("BOOTSHELF-MARKER-").count();
    assert_eq!(others, 1, "exactly one marker: {}", q.serial_text());
    q
}

/// Two indexed ISOs (one with a custom title): each boots when chosen, the second by
/// Down+Enter, the first by its digit.
#[test]
fn two_indexed_isos_each_boot_when_chosen_by_key() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&marker_iso("alpha").unwrap(), None).unwrap();
    stick
        .add(&marker_iso("beta").unwrap(), Some("Beta custom title"))
        .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut q = stick.boot_uefi_to_menu().unwrap();
            let rows = q.menu_entries();
            assert_eq!(rows.len(), 2, "{rows:?}");
            assert!(rows[0].1.contains("uefi-marker-alpha-v1.iso"), "{rows:?}");
            assert!(rows[1].1.contains("Beta custom title"), "{rows:?}");
            q.send_serial(b"\x1b[B\r").unwrap();
            q.wait_for("BOOTSHELF-MARKER-beta", BOOT_TIMEOUT).unwrap();
            assert!(!q.serial_text().contains("BOOTSHELF-MARKER-alpha"));
        });
        s.spawn(|| {
            let mut q = stick.boot_uefi_to_menu().unwrap();
            q.send_serial(b"1\r").unwrap();
            q.wait_for("BOOTSHELF-MARKER-alpha", BOOT_TIMEOUT).unwrap();
            assert!(!q.serial_text().contains("BOOTSHELF-MARKER-beta"));
        });
    });
}

/// ISOs copied by another exFAT implementation, never indexed: one contiguous, one in
/// many fragments. Both are listed (as not indexed) and boot.
#[test]
fn unindexed_copies_contiguous_and_fragmented_are_listed_and_boot() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick
        .copy_unindexed(&marker_iso("copied").unwrap(), "copied.iso", false)
        .unwrap();
    stick
        .copy_unindexed(&marker_iso("fragmented").unwrap(), "fragmented.iso", true)
        .unwrap();
    let pieces = stick.extents_of("fragmented.iso").unwrap().len();
    assert!(
        pieces > 3,
        "the copy should be fragmented, has {pieces} extents"
    );
    std::thread::scope(|s| {
        s.spawn(|| {
            let q = boots(&stick, "copied.iso", "BOOTSHELF-MARKER-copied");
            let rows = q.menu_entries();
            assert!(
                rows.iter().all(|(_, r)| r.contains("not indexed")),
                "{rows:?}"
            );
        });
        s.spawn(|| {
            boots(&stick, "fragmented.iso", "BOOTSHELF-MARKER-fragmented");
        });
    });
}

/// An MBR stick.
#[test]
fn mbr_stick_boots() {
    let stick = TestStick::install(StickSpec {
        mbr: true,
        ..StickSpec::default()
    })
    .unwrap();
    stick.add(&marker_iso("mbr").unwrap(), None).unwrap();
    boots(&stick, "uefi-marker-mbr-v1.iso", "BOOTSHELF-MARKER-mbr");
}

/// A stick with 4096-byte logical sectors: an indexed ISO and a fragmented copy (whose
/// 2048-byte CD blocks fall in the middle of device sectors).
#[test]
fn stick_with_4096_byte_sectors_boots_indexed_and_fragmented_isos() {
    let stick = TestStick::install(StickSpec {
        sector: 4096,
        ..StickSpec::default()
    })
    .unwrap();
    stick.add(&marker_iso("fourk").unwrap(), None).unwrap();
    stick
        .copy_unindexed(&marker_iso("fourk-frag").unwrap(), "fourk-frag.iso", true)
        .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            boots(&stick, "uefi-marker-fourk-v1.iso", "BOOTSHELF-MARKER-fourk");
        });
        s.spawn(|| {
            boots(&stick, "fourk-frag.iso", "BOOTSHELF-MARKER-fourk-frag");
        });
    });
}

/// An ISO without a UEFI entry, and a boot that fails (an EFI boot image without a
/// loadable BOOTX64.EFI), say why and return to the menu, from which another ISO still
/// boots.
#[test]
fn failed_boot_shows_why_and_returns_to_the_menu() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick
        .add(&fixtures::iso::uefi_only().unwrap(), Some("Broken EFI"))
        .unwrap();
    stick.add(&marker_iso("after").unwrap(), None).unwrap();
    stick
        .add(&fixtures::iso::bios_only().unwrap(), Some("BIOS only"))
        .unwrap();
    let mut q = stick.boot_uefi_to_menu().unwrap();
    // An ISO without a UEFI entry is listed but says why it cannot boot here.
    select(&mut q, "BIOS only").unwrap();
    q.wait_for("no UEFI boot entry in this ISO", BOOT_TIMEOUT)
        .unwrap();
    q.send_serial(b" ").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    select(&mut q, "Broken EFI").unwrap();
    q.wait_for("bootshelf: boot failed: Broken EFI", BOOT_TIMEOUT)
        .unwrap();
    // Any key dismisses the message; then choose the other ISO.
    q.send_serial(b" ").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    select(&mut q, "uefi-marker-after-v1.iso").unwrap();
    q.wait_for("BOOTSHELF-MARKER-after", BOOT_TIMEOUT).unwrap();
}

/// `bootshelf boot-next` boots its ISO without a key, once: the loader consumes it, so
/// the stick's index has no boot-next afterwards.
#[test]
fn boot_next_boots_once_and_is_consumed() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&marker_iso("first").unwrap(), None).unwrap();
    stick.add(&marker_iso("next").unwrap(), None).unwrap();
    stick.boot_next("uefi-marker-next-v1.iso").unwrap();
    let img = stick.path().to_str().unwrap();
    let before = e2e::run_bootshelf(&["list", "--json", img]).unwrap();
    assert_eq!(before.matches("\"boot_next\": true").count(), 1, "{before}");
    let mut cfg = stick.uefi_config();
    cfg.drives[0].snapshot = false;
    let mut q = Qemu::start(&cfg).unwrap();
    q.wait_for("BOOTSHELF-MARKER-next", BOOT_TIMEOUT).unwrap();
    q.wait_exit(Duration::from_secs(30));
    drop(q);
    let after = e2e::run_bootshelf(&["list", "--json", img]).unwrap();
    assert_eq!(after.matches("\"boot_next\": true").count(), 0, "{after}");
    assert_eq!(after.matches("\"title\"").count(), 2, "{after}");
}

/// Booting a contiguous ISO writes the ISO window (partition 4 over the ISO); the next
/// boot still comes up in bootshelf's menu (not in the ISO's own ESP the window exposes)
/// and clears the window.
#[test]
fn window_written_for_a_boot_is_cleared_by_the_next_boot() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&marker_iso("window").unwrap(), None).unwrap();
    let window = || {
        stick::Stick::open(stick.path(), false)
            .unwrap()
            .layout()
            .window
    };
    assert_eq!(window(), None);
    let mut cfg = stick.uefi_config();
    cfg.drives[0].snapshot = false;

    let mut q = Qemu::start(&cfg).unwrap();
    q.wait_for("bootshelf: menu drawn", BOOT_TIMEOUT).unwrap();
    select(&mut q, "uefi-marker-window-v1.iso").unwrap();
    q.wait_for("BOOTSHELF-MARKER-window", BOOT_TIMEOUT).unwrap();
    q.wait_exit(Duration::from_secs(30));
    drop(q);
    let extents = stick.extents_of("uefi-marker-window-v1.iso").unwrap();
    let w = window().expect("the boot left an ISO window");
    assert_eq!(w.byte_start(512), extents[0].start);

    let mut q = Qemu::start(&cfg).unwrap();
    q.wait_for("bootshelf: menu drawn", BOOT_TIMEOUT).unwrap();
    q.kill();
    drop(q);
    assert_eq!(window(), None, "the loader clears a stale window at start");
}

/// Keys from the emulated keyboard (QMP send-key, PS/2 on q35) drive the menu like serial
/// input: End selects the last entry, Enter boots it.
#[test]
fn keyboard_keys_choose_and_boot_an_entry() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&marker_iso("kbd-first").unwrap(), None).unwrap();
    stick.add(&marker_iso("kbd-last").unwrap(), None).unwrap();
    let mut q = stick.boot_uefi_to_menu().unwrap();
    // The first key only stops the countdown.
    for key in ["home", "end", "ret"] {
        q.send_key(key).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    }
    q.wait_for("BOOTSHELF-MARKER-kbd-last", BOOT_TIMEOUT)
        .unwrap();
    assert!(!q.serial_text().contains("BOOTSHELF-MARKER-kbd-first"));
}

/// An indexed ISO replaced behind bootshelf's back (overwritten with another ISO by another
/// exFAT implementation, with a different size): the loader notices, lists it as changed,
/// parses the new file on the spot and boots it.
#[test]
fn iso_replaced_after_indexing_is_marked_changed_and_boots_its_new_content() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&marker_iso("replaced").unwrap(), None).unwrap();
    let name = "uefi-marker-replaced-v1.iso";
    let before = stick.extents_of(name).unwrap();
    stick
        .copy_unindexed(&fixtures::uefi::read_bench_iso(8).unwrap(), name, false)
        .unwrap();
    assert_ne!(before, stick.extents_of(name).unwrap());
    let mut q = stick.boot_uefi_to_menu().unwrap();
    let rows = q.menu_entries();
    assert!(
        rows.len() == 1 && rows[0].1.contains("changed since indexed"),
        "{rows:?}"
    );
    select(&mut q, name).unwrap();
    e2e::confirm_without_window(&mut q).unwrap();
    q.wait_for("BOOTSHELF-BENCH-START", BOOT_TIMEOUT).unwrap();
    assert!(!q.serial_text().contains("BOOTSHELF-MARKER-replaced"));
}
