//! The ISO window proven with Linux (issue 6, docs/window-linux.md): live ISOs whose
//! Debian kernel and busybox initramfs find their own medium again after bootshelf's
//! loader has chain-booted them, by label or by probing for a unique file, as real live
//! systems do. Sticks made by `bootshelf install` + `bootshelf add`, on USB storage,
//! booted under SeaBIOS and OVMF, GPT and MBR.

use e2e::{select, StickSpec, TestStick};
use fixtures::live::{self, FindBy};
use qemu_harness::{strip_ansi, Config, Drive, Qemu};
use std::time::Duration;

/// From power-on to the live system's verdict, under TCG.
const BOOT_TIMEOUT: Duration = Duration::from_secs(150);

/// Wait until the live init printed its verdict; return the (escape-free) serial text.
fn verdict(q: &mut Qemu) -> String {
    let i = q.wait_for_any(&["BOOTSHELF-LIVE-FOUND", live::NOT_FOUND], BOOT_TIMEOUT);
    // The verdict line ends with the device; wait for the line to be complete.
    let _ = q.wait_exit(Duration::from_secs(10));
    let text = strip_ansi(&q.serial_text());
    if let Err(e) = i {
        panic!("no verdict from the live system: {e}\n--- serial ---\n{text}");
    }
    text
}

/// Control: the live ISO written as it is to a USB stick (as `dd` would) finds itself
/// both ways, under both firmwares. This is what the window has to reproduce.
#[test]
fn live_iso_written_raw_to_a_stick_finds_itself() {
    std::thread::scope(|s| {
        for (find, uefi) in [(FindBy::Label, false), (FindBy::Probe, true)] {
            s.spawn(move || {
                let iso = live::live_iso("raw", find).unwrap();
                let drive = Drive::usb(iso).snapshot(true);
                let cfg = if uefi { Config::uefi() } else { Config::bios() }.drive(drive);
                let mut q = Qemu::start(&cfg).unwrap();
                let text = verdict(&mut q);
                assert!(
                    text.contains(&format!(
                        "{} by={}",
                        live::found_marker("raw"),
                        find.as_str()
                    )),
                    "{find:?} uefi={uefi}:\n{text}"
                );
            });
        }
    });
}
