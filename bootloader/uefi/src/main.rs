//! bootshelf's UEFI loader: finds the stick it was started from and runs bootloader-core's
//! loader flow (discovery, menu, ISO window) on it as a [`Platform`]; the chosen ISO's El
//! Torito EFI image is chain-booted through a virtual CD ([`vcd`]). This crate is only
//! firmware glue: the stick as a block device ([`disk`]), the console, keys and clock
//! ([`console`]), and the virtual CD.
//!
//! On COM1 (serial only, not on screen) it notes `bootshelf: discovered N entries at T us`
//! and `bootshelf: menu drawn at T us` (microseconds since the loader's entry point) for
//! tests and benchmarks.
#![no_std]
#![no_main]

extern crate alloc;

mod clock;
mod console;
mod devpath;
mod disk;
mod heap;
mod proto;
mod sbat;
mod vcd;

use alloc::boxed::Box;
use alloc::format;
use bootloader_core::discovery::{BootEntry, Firmware};
use bootloader_core::overlay::Overlay;
use bootloader_core::{flow, Io, Note, Platform};
use core::cell::RefCell;
use core::fmt;
use core::time::Duration;
use uefi::prelude::*;
use uefi::println;

use console::{serial_note, TscClock, UefiConsole, UefiInput};
use disk::{SharedDisk, Stats, UefiDisk};
use vcd::{IsoLocation, VcdError, VirtualCd};

#[entry]
fn main() -> Status {
    clock::start();
    // The firmware's watchdog would reset the machine after 5 minutes in the menu.
    let _ = boot::set_watchdog_timer(0, 0x10000, None);
    let disk = match UefiDisk::of_loaded_image() {
        Ok(d) => d,
        Err(e) => return fatal(format_args!("cannot find the stick: {e}")),
    };
    if disk.is_read_only() {
        serial_note("bootshelf: the stick is read-only");
    }
    let disk: &'static RefCell<UefiDisk> = Box::leak(Box::new(RefCell::new(disk)));
    flow::run(&mut Uefi {
        disk: SharedDisk(disk),
        io: Io {
            console: UefiConsole::new(),
            input: UefiInput,
            clock: TscClock,
        },
        discovered: None,
    })
}

/// The loader flow's platform on UEFI.
struct Uefi {
    disk: SharedDisk,
    io: Io<UefiConsole, UefiInput, TscClock>,
    /// Discovery's note, kept until the menu is drawn.
    discovered: Option<Discovered>,
}

/// What discovery's note says: written to COM1 once the menu is drawn, so the serial
/// port does not slow the first paint.
struct Discovered {
    /// When discovery ended (TSC ticks).
    at: u64,
    /// What it had read from the stick.
    stats: Stats,
    /// Entries it found.
    entries: usize,
}

impl Platform for Uefi {
    const FIRMWARE: Firmware = Firmware::Uefi;
    const TITLE: &'static str = "bootshelf";

    type Disk = SharedDisk;
    type Console = UefiConsole;
    type Input = UefiInput;
    type Clock = TscClock;
    type Prepared = Option<Overlay>;
    type BootError = VcdError;
    type Exit = Status;

    fn disk(&mut self) -> &mut SharedDisk {
        &mut self.disk
    }

    fn secure_boot(&self) -> Option<bool> {
        Some(secure_boot_enabled())
    }

    fn io(&mut self) -> &mut Io<UefiConsole, UefiInput, TscClock> {
        &mut self.io
    }

    /// On COM1 only; `discovered` and `menu drawn` get the time since the entry point.
    fn note(&mut self, note: &Note<'_>) {
        match note {
            Note::Discovered { entries } => {
                self.discovered = Some(Discovered {
                    at: clock::ticks(),
                    stats: self.disk.0.borrow().stats(),
                    entries: *entries,
                });
            }
            Note::MenuDrawn => {
                let drawn = clock::ticks();
                clock::ensure_calibrated();
                if let Some(Discovered { at, stats, entries }) = self.discovered.take() {
                    serial_note(&format!(
                        "{} at {} us ({} reads of {} KiB, {} from the stick)",
                        Note::Discovered { entries },
                        clock::ticks_to_us(at),
                        stats.reads,
                        stats.bytes / 1024,
                        stats.firmware_reads
                    ));
                }
                serial_note(&format!("{note} at {} us", clock::ticks_to_us(drawn)));
            }
            _ => serial_note(&format!("{note}")),
        }
    }

    fn prepare_boot(
        &mut self,
        _entry: &BootEntry,
        overlay: Option<Overlay>,
    ) -> Result<Option<Overlay>, VcdError> {
        Ok(overlay)
    }

    fn chain_boot(
        &mut self,
        entry: &BootEntry,
        overlay: Option<Overlay>,
    ) -> Result<Status, VcdError> {
        uefi::system::with_stdout(|o| {
            let _ = o.clear();
        });
        let iso = IsoLocation {
            size: entry.size,
            extents: &entry.extents,
        };
        let cd = VirtualCd::install(self.disk.0, &iso, overlay)?;
        let err = match cd.boot() {
            // The index knows the loader is signed: the signer, not a missing signature,
            // is what the firmware refuses.
            VcdError::NotSignedForSecureBoot if entry.native_loader_signed() == Some(true) => {
                VcdError::SignatureNotTrusted
            }
            e => e,
        };
        cd.remove();
        // What ran may have written to the stick through the firmware.
        self.disk.0.borrow_mut().invalidate_cache();
        Err(err)
    }

    /// Back to the firmware, which tries its next boot option.
    fn leave(&mut self) -> Option<Status> {
        Some(Status::ABORTED)
    }

    fn fatal(&mut self, message: fmt::Arguments<'_>) -> Status {
        fatal(message)
    }
}

/// The global `SecureBoot` variable: 1 when the firmware enforces Secure Boot. Absent
/// (older firmware, or not readable) counts as off.
fn secure_boot_enabled() -> bool {
    let mut buf = [0u8; 1];
    matches!(
        uefi::runtime::get_variable(
            cstr16!("SecureBoot"),
            &uefi::runtime::VariableVendor::GLOBAL_VARIABLE,
            &mut buf,
        ),
        Ok((value, _)) if value == [1]
    )
}

/// Show a message that ends the loader, wait a while for it to be read, and return to the
/// firmware.
fn fatal(message: fmt::Arguments<'_>) -> Status {
    println!("bootshelf: {message}");
    serial_note(&format!("bootshelf: fatal: {message}"));
    boot::stall(Duration::from_secs(10));
    Status::ABORTED
}
