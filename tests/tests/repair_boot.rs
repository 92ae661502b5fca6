//! A stick repaired by `bootshelf update` boots: its BIOS stage 2 zeroed (so `update`
//! writes the new one into the second stage 2 slot and points the MBR there) and its ESP
//! zeroed (rebuilt whole); after `update` the stick boots a marker ISO under SeaBIOS and
//! under OVMF.

use e2e::{run_bootshelf, select, StickSpec, TestStick};
use fixtures::uefi::marker_iso;
use qemu_harness::{Attach, Config, Drive, Qemu};
use std::os::unix::fs::FileExt;
use std::time::Duration;

const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn a_stick_with_zeroed_stage2_and_esp_boots_bios_and_uefi_after_update() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&marker_iso("repaired").unwrap(), None).unwrap();
    let img = stick.path().to_str().unwrap();
    let l = *stick::Stick::open(stick.path(), false).unwrap().layout();
    let ss = l.sector_size;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(stick.path())
        .unwrap();
    for r in [l.bios_boot, l.esp] {
        f.write_all_at(&vec![0u8; r.byte_len(ss) as usize], r.byte_start(ss))
            .unwrap();
    }
    drop(f);
    let out = run_bootshelf(&["update", img]).unwrap();
    assert!(
        out.contains("ESP rebuilt") && out.contains("BIOS stage 2"),
        "{out}"
    );
    // The MBR now loads stage 2 from the second slot.
    let lba0 = testkit::image::read_range(stick.path(), 0, 512);
    let slot = u64::from_le_bytes(lba0[0x1A8..0x1B0].try_into().unwrap());
    assert_eq!(slot, l.stage2_slots()[1]);

    let cfg = Config::bios().drive(Drive::usb(stick.path()).attach(Attach::Usb).snapshot(true));
    let mut q = Qemu::start(&cfg).unwrap();
    q.wait_for("bootshelf: menu drawn", BOOT_TIMEOUT).unwrap();
    select(&mut q, "repaired").unwrap();
    q.wait_for("BOOTSHELF-MARKER-repaired", BOOT_TIMEOUT)
        .unwrap();
    drop(q);

    let mut q = stick.boot_uefi_to_menu().unwrap();
    select(&mut q, "repaired").unwrap();
    e2e::confirm_without_window(&mut q).unwrap();
    q.wait_for("BOOTSHELF-MARKER-repaired", BOOT_TIMEOUT)
        .unwrap();
}
