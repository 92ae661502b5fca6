//! bootshelf's UEFI loader: finds the stick it was started from, lists the ISOs on it,
//! shows the menu, and chain-boots the chosen ISO's El Torito EFI image through a virtual
//! CD ([`vcd`]). Everything that is not firmware glue lives in the shared crates.
#![no_std]
#![no_main]

extern crate alloc;

mod clock;
mod devpath;
mod disk;
mod manual;
mod proto;
mod vcd;

use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::time::Duration;
use uefi::prelude::*;
use uefi::println;
use uefi::proto::console::text::{Key, ScanCode};

use disk::UefiDisk;
use vcd::{IsoLocation, VirtualCd};

/// One bootable ISO as the menu shows it.
pub struct Entry {
    /// Menu title.
    pub title: String,
    /// Size of the ISO in bytes.
    pub size: u64,
    /// Where its bytes are on the stick, in file order.
    pub extents: Vec<blockdev::Extent>,
}

#[entry]
fn main() -> Status {
    clock::start();
    // The firmware's watchdog would reset the machine after 5 minutes in the menu.
    let _ = boot::set_watchdog_timer(0, 0x10000, None);
    println!("bootshelf: UEFI loader");
    let disk = match UefiDisk::of_loaded_image() {
        Ok(d) => d,
        Err(e) => {
            println!("bootshelf: {e}");
            boot::stall(Duration::from_secs(10));
            return Status::NOT_FOUND;
        }
    };
    let disk: &'static RefCell<UefiDisk> =
        alloc::boxed::Box::leak(alloc::boxed::Box::new(RefCell::new(disk)));
    let entries = manual::entries();
    if entries.is_empty() {
        println!("bootshelf: no ISOs found on this stick");
        boot::stall(Duration::from_secs(10));
        return Status::NOT_FOUND;
    }
    loop {
        for (i, e) in entries.iter().enumerate() {
            println!("  {}. {}", i + 1, e.title);
        }
        let drawn = clock::ticks();
        clock::calibrate();
        println!("bootshelf: menu drawn at {} us", clock::ticks_to_us(drawn));
        let Some(choice) = choose(entries.len()) else {
            continue;
        };
        let Some(entry) = entries.get(choice) else {
            continue;
        };
        println!("bootshelf: booting {}", entry.title);
        let iso = IsoLocation {
            size: entry.size,
            extents: &entry.extents,
        };
        match VirtualCd::install(disk, &iso) {
            Ok(cd) => {
                let err = cd.boot();
                println!("bootshelf: {}: {err}", entry.title);
                cd.remove();
            }
            Err(e) => println!("bootshelf: {}: {e}", entry.title),
        }
    }
}

/// Wait for a digit (choose that entry) or Enter (the first).
fn choose(n: usize) -> Option<usize> {
    loop {
        let key = uefi::system::with_stdin(|i| i.read_key()).ok().flatten();
        match key {
            Some(Key::Printable(c)) => {
                let c = char::from(c);
                if c == '\r' || c == '\n' {
                    return Some(0);
                }
                if let Some(d) = c.to_digit(10) {
                    let d = d as usize;
                    if d >= 1 && d <= n {
                        return Some(d - 1);
                    }
                }
            }
            Some(Key::Special(ScanCode::ESCAPE)) => return None,
            _ => boot::stall(Duration::from_millis(10)),
        }
    }
}
