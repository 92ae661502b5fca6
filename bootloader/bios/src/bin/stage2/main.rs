//! bootshelf's BIOS stage 2: 16-bit entry and long-mode switch (`asm/stage2_entry.s`),
//! then Rust: console (VGA text + COM1), the stick over INT 13h, bootloader-core's
//! discovery and menu (or a boot plan, see [`plan`]), and the resident INT 13h El Torito
//! emulation that chain-boots the chosen ISO ([`resident`]).
//!
//! On COM1 only it notes `bootshelf: discovered N entries`, `bootshelf: menu drawn` and
//! `bootshelf: booting <title>` for tests; failures are shown in the menu and noted as `bootshelf: boot
//! failed: ...`.
#![no_std]
#![no_main]

extern crate alloc;

mod bios;
mod console;
mod disk;
mod heap;
mod plan;
mod resident;
mod ui;

use alloc::format;
use alloc::string::String;
use blockdev::{BlockReader, ExtentReader};
use bootloader_core::discovery::{self, Discovery, DiscoveryMenu as _, Firmware, Limits};
use bootloader_core::{menu, window, Action, Console as _, Menu, Painter};
use bootshelf_bios::boot::{self, BootImage};
use console::Console;
use core::fmt::Write;
use disk::Int13Disk;

core::arch::global_asm!(
    include_str!("../../asm/stage2_entry.s"),
    options(att_syntax)
);
core::arch::global_asm!(include_str!("../../asm/resident.s"), options(att_syntax));

/// The menu's title bar.
const TITLE: &str = "bootshelf (BIOS)";

/// Called by the 16-bit entry once in long mode, with the BIOS boot drive.
#[no_mangle]
extern "sysv64" fn stage2_main(boot_drive: u32) -> ! {
    let mut con = Console::init();
    let _ = writeln!(con, "bootshelf: BIOS stage 2, boot drive {boot_drive:#04x}");
    let mut disk = match Int13Disk::open(boot_drive as u8) {
        Ok(d) => d,
        Err(e) => halt(&mut con, format_args!("{e}")),
    };
    match heap::init() {
        Ok(size) => con.note(format_args!("bootshelf: heap of {} MiB", size >> 20)),
        Err(e) => halt(
            &mut con,
            format_args!(
                "not enough memory above 1 MiB (largest free range {} KiB)",
                e.largest >> 10
            ),
        ),
    }
    if let Some(p) = plan::read() {
        boot_plan(&mut con, &mut disk, &p);
    }
    if let Err(e) = window::clear_stale(&mut disk) {
        con.note(format_args!(
            "bootshelf: could not clear an old ISO window: {e}"
        ));
    }
    let mut disc = match discovery::discover(&mut disk, &Limits::default()) {
        Ok(d) => d,
        Err(e) => halt(&mut con, format_args!("cannot read the stick: {e}")),
    };
    con.note(format_args!(
        "bootshelf: discovered {} entries",
        disc.entries.len()
    ));
    run_menu(&mut disk, &mut disc)
}

fn run_menu(disk: &mut Int13Disk, disc: &mut Discovery) -> ! {
    let mut screen = ui::BiosConsole;
    screen.clear();
    let (cols, rows) = screen.size();
    let mut menu = Menu::new(
        disc.items(Firmware::Bios),
        Menu::view_rows_for(rows),
        &disc.menu_config(TITLE),
    );
    if let Some(note) = disc.notes.first() {
        menu.fail(note);
    }
    let mut painter = Painter::new();
    painter.paint(&mut screen, &menu.render(cols, rows));
    console::com1_write(b"\x1b[26;1H\r\nbootshelf: menu drawn\r\n");
    let mut input = ui::BiosInput::new();
    let mut clock = ui::TickClock::new();
    loop {
        let action = menu::run(&mut menu, &mut screen, &mut input, &mut clock, &mut painter);
        let (index, with_window) = match action {
            Action::Boot(i) => (i, true),
            Action::BootWithoutWindow(i) => (i, false),
            Action::Exit => {
                // Back to the BIOS: the next boot device is tried (INT 18h).
                screen.clear();
                let mut r = bios::Regs::default();
                bios::int(0x18, &mut r);
                // Some BIOSes return from INT 18h: show the menu again.
                screen.clear();
                painter.invalidate();
                painter.paint(&mut screen, &menu.render(cols, rows));
                continue;
            }
            Action::Idle | Action::Redraw => continue,
        };
        match boot_entry(disk, disc, index, with_window) {
            Outcome::AskWithoutWindow(reason) => menu.ask_boot_without_window(index, &reason),
            Outcome::Failed(message) => {
                console::com1_write(
                    format!("\r\nbootshelf: boot failed: {message}\r\n").as_bytes(),
                );
                menu.fail(&message);
            }
        }
        screen.clear();
        painter.invalidate();
        painter.paint(&mut screen, &menu.render(cols, rows));
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
    disk: &mut Int13Disk,
    disc: &mut Discovery,
    index: usize,
    with_window: bool,
) -> Outcome {
    if let Err(e) = discovery::consume_boot_next(disk, disc) {
        console::com1_write(
            format!("\r\nbootshelf: could not clear the one-shot default: {e}\r\n").as_bytes(),
        );
    }
    let Some(entry) = disc.entries.get(index) else {
        return Outcome::Failed(format!("no entry {index}"));
    };
    if let Some(why) = entry.blocked(Firmware::Bios) {
        return Outcome::Failed(format!("{}: {why}", entry.title));
    }
    let Some(cat) = entry.boot_entry(Firmware::Bios) else {
        return Outcome::Failed(format!("{}: no BIOS boot entry", entry.title));
    };
    let boot = match BootImage::new(cat) {
        Ok(b) => b,
        Err(e) => return Outcome::Failed(format!("{}: {e}", entry.title)),
    };
    if with_window {
        if let Err(refusal) = window::open(disk, entry) {
            return Outcome::AskWithoutWindow(format!("{refusal}"));
        }
    }
    let title = entry.title.clone();
    console::com1_write(
        format!("\x1b[0m\x1b[2J\x1b[H\r\nbootshelf: booting {title}\r\n").as_bytes(),
    );
    let extents = entry.extents.clone();
    let message = match resident::boot(disk, &extents, entry.size, &boot) {
        Ok(never) => match never {},
        Err(e) => format!("{title}: {e}"),
    };
    // The entry did not boot: the window must not stay behind.
    if with_window {
        if let Err(e) = window::clear_stale(disk) {
            console::com1_write(
                format!("\r\nbootshelf: could not clear the ISO window: {e}\r\n").as_bytes(),
            );
        }
    }
    Outcome::Failed(message)
}

/// Boot the ISO named by the boot plan, or halt saying why not.
fn boot_plan(con: &mut Console, disk: &mut Int13Disk, p: &bootshelf_bios::plan::Plan) -> ! {
    let extents = p.extents();
    let entry = {
        let reader = ExtentReader::new(BlockReader::new(&mut *disk), extents, p.size);
        match reader
            .map_err(boot::Error::Io)
            .and_then(boot::read_bios_image)
        {
            Ok(e) => e,
            Err(e) => halt(con, format_args!("boot plan: {e}")),
        }
    };
    let e = entry.entry();
    let _ = writeln!(
        con,
        "bootshelf: booting the planned ISO: {:?} entry, load segment {:#x}, {} sectors at ISO sector {}",
        entry.emulated(),
        e.load_segment,
        e.sector_count,
        e.load_rba
    );
    match resident::boot(disk, extents, p.size, &entry) {
        Ok(never) => match never {},
        Err(e) => halt(con, format_args!("boot plan: {e}")),
    }
}

fn halt(con: &mut Console, msg: core::fmt::Arguments) -> ! {
    let _ = writeln!(con, "bootshelf: {msg}");
    let _ = writeln!(con, "bootshelf: halted.");
    loop {
        // SAFETY: hlt with interrupts off just stops the CPU; nothing is left to do.
        unsafe { core::arch::asm!("hlt") };
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let mut con = Console::init();
    let _ = writeln!(con, "bootshelf: stage 2 panicked: {info}");
    loop {
        // SAFETY: as in `halt`.
        unsafe { core::arch::asm!("hlt") };
    }
}
