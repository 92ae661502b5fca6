//! bootshelf's UEFI loader: finds the stick it was started from, lists the ISOs on it with
//! bootloader-core's discovery, runs bootloader-core's menu, and chain-boots the chosen
//! ISO's El Torito EFI image through a virtual CD ([`vcd`]). This crate is only firmware
//! glue: the stick as a block device ([`disk`]), the console, keys and clock
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
mod vcd;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use bootloader_core::discovery::{self, Discovery, DiscoveryMenu as _, Firmware, Limits};
use bootloader_core::{menu, window, Action, Console, Menu, Painter};
use core::cell::RefCell;
use core::time::Duration;
use uefi::prelude::*;
use uefi::println;

use console::{serial_note, TscClock, UefiConsole, UefiInput};
use disk::UefiDisk;
use vcd::{IsoLocation, VirtualCd};

/// The menu's title bar.
const TITLE: &str = "bootshelf";

#[entry]
fn main() -> Status {
    clock::start();
    // The firmware's watchdog would reset the machine after 5 minutes in the menu.
    let _ = boot::set_watchdog_timer(0, 0x10000, None);
    let disk = match UefiDisk::of_loaded_image() {
        Ok(d) => d,
        Err(e) => return fatal(&format!("cannot find the stick: {e}")),
    };
    if disk.is_read_only() {
        serial_note("bootshelf: the stick is read-only");
    }
    let disk: &'static RefCell<UefiDisk> = Box::leak(Box::new(RefCell::new(disk)));

    // A window left by an earlier boot goes first, so the firmware and the next OS see
    // the stick as installed.
    if let Err(e) = window::clear_stale(&mut *disk.borrow_mut()) {
        serial_note(&format!(
            "bootshelf: could not clear an old ISO window: {e}"
        ));
    }
    let mut disc = match discovery::discover(&mut *disk.borrow_mut(), &Limits::default()) {
        Ok(d) => d,
        Err(e) => return fatal(&format!("cannot read the stick: {e}")),
    };
    let discovered = clock::ticks();
    let stats = disk.borrow().stats();

    let mut con = UefiConsole::new();
    con.clear();
    let (cols, rows) = con.size();
    let mut menu = Menu::new(
        disc.items(Firmware::Uefi),
        Menu::view_rows_for(rows),
        &disc.menu_config(TITLE),
    );
    if let Some(note) = disc.notes.first() {
        menu.fail(note);
    }
    let mut painter = Painter::new();
    painter.paint(&mut con, &menu.render(cols, rows));
    let drawn = clock::ticks();
    clock::ensure_calibrated();
    serial_note(&format!(
        "bootshelf: discovered {} entries at {} us ({} reads of {} KiB, {} from the stick)",
        disc.entries.len(),
        clock::ticks_to_us(discovered),
        stats.reads,
        stats.bytes / 1024,
        stats.firmware_reads
    ));
    serial_note(&format!(
        "bootshelf: menu drawn at {} us",
        clock::ticks_to_us(drawn)
    ));

    loop {
        let action = menu::run(
            &mut menu,
            &mut con,
            &mut UefiInput,
            &mut TscClock,
            &mut painter,
        );
        let (index, with_window) = match action {
            Action::Boot(i) => (i, true),
            Action::BootWithoutWindow(i) => (i, false),
            Action::Exit => {
                con.clear();
                return Status::ABORTED;
            }
            Action::Idle | Action::Redraw => continue,
        };
        match boot_entry(disk, &mut disc, index, with_window) {
            Outcome::AskWithoutWindow(reason) => menu.ask_boot_without_window(index, &reason),
            Outcome::Failed(message) => {
                menu.fail(&message);
                serial_note(&format!("bootshelf: boot failed: {message}"));
            }
        }
        con.clear();
        painter.invalidate();
        painter.paint(&mut con, &menu.render(cols, rows));
    }
}

/// How an attempt to boot ended (it only ends when it did not boot).
enum Outcome {
    /// The ISO window could not be written: ask whether to boot without it.
    AskWithoutWindow(String),
    /// The boot failed; show this and go back to the menu.
    Failed(String),
}

/// Consume a one-shot boot-next, open the ISO window, and chain-boot entry `index`.
fn boot_entry(
    disk: &'static RefCell<UefiDisk>,
    disc: &mut Discovery,
    index: usize,
    with_window: bool,
) -> Outcome {
    if let Err(e) = discovery::consume_boot_next(&mut *disk.borrow_mut(), disc) {
        serial_note(&format!(
            "bootshelf: could not clear the one-shot default: {e}"
        ));
    }
    let Some(entry) = disc.entries.get(index) else {
        return Outcome::Failed(format!("no entry {index}"));
    };
    if let Some(why) = entry.blocked(Firmware::Uefi) {
        return Outcome::Failed(format!("{}: {why}", entry.title));
    }
    if with_window {
        if let Err(refusal) = window::open(&mut *disk.borrow_mut(), entry) {
            return Outcome::AskWithoutWindow(format!("{refusal}"));
        }
    }
    serial_note(&format!("bootshelf: booting {}", entry.title));
    uefi::system::with_stdout(|o| {
        let _ = o.clear();
    });
    let iso = IsoLocation {
        size: entry.size,
        extents: &entry.extents,
    };
    let message = match VirtualCd::install(disk, &iso) {
        Ok(cd) => {
            let err = cd.boot();
            cd.remove();
            // What ran may have written to the stick through the firmware.
            disk.borrow_mut().invalidate_cache();
            format!("{}: {err}", entry.title)
        }
        Err(e) => format!("{}: {e}", entry.title),
    };
    // The entry did not boot: the window must not stay behind.
    if with_window {
        if let Err(e) = window::clear_stale(&mut *disk.borrow_mut()) {
            serial_note(&format!("bootshelf: could not clear the ISO window: {e}"));
        }
    }
    Outcome::Failed(message)
}

/// Show a message that ends the loader, wait a while for it to be read, and return to the
/// firmware.
fn fatal(message: &str) -> Status {
    println!("bootshelf: {message}");
    serial_note(&format!("bootshelf: fatal: {message}"));
    boot::stall(Duration::from_secs(10));
    Status::ABORTED
}
