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
use blockdev::{BlockReader, ExtentReader};
use bootloader_core::discovery::{BootEntry, Firmware};
use bootloader_core::overlay::Overlay;
use bootloader_core::{flow, Io, Note, Platform};
use bootshelf_bios::boot::{self, BootImage};
use console::Console;
use core::convert::Infallible;
use core::fmt::{self, Write};
use disk::Int13Disk;

core::arch::global_asm!(
    include_str!("../../asm/stage2_entry.s"),
    options(att_syntax)
);
core::arch::global_asm!(include_str!("../../asm/resident.s"), options(att_syntax));

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
    match flow::run(&mut Bios {
        log: con,
        disk,
        io: Io {
            console: ui::BiosConsole,
            input: ui::BiosInput::new(),
            clock: ui::TickClock::new(),
        },
    }) {}
}

/// The loader flow's platform on BIOS.
struct Bios {
    /// The log console, for halting.
    log: Console,
    disk: Int13Disk,
    io: Io<ui::BiosConsole, ui::BiosInput, ui::TickClock>,
}

/// Why the chosen entry could not be chain-booted.
enum BiosBootError {
    /// The ISO has no El Torito entry for BIOS.
    NoBiosEntry,
    /// Its BIOS entry cannot be emulated.
    Image(boot::Error),
    /// The resident emulation could not be installed.
    Resident(resident::BootError),
}

impl fmt::Display for BiosBootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BiosBootError::NoBiosEntry => f.write_str("no BIOS boot entry"),
            BiosBootError::Image(e) => write!(f, "{e}"),
            BiosBootError::Resident(e) => write!(f, "{e}"),
        }
    }
}

impl Platform for Bios {
    const FIRMWARE: Firmware = Firmware::Bios;
    const TITLE: &'static str = "bootshelf (BIOS)";

    type Disk = Int13Disk;
    type Console = ui::BiosConsole;
    type Input = ui::BiosInput;
    type Clock = ui::TickClock;
    type Prepared = (BootImage, Option<Overlay>);
    type BootError = BiosBootError;
    type Exit = Infallible;

    fn disk(&mut self) -> &mut Int13Disk {
        &mut self.disk
    }

    fn io(&mut self) -> &mut Io<ui::BiosConsole, ui::BiosInput, ui::TickClock> {
        &mut self.io
    }

    /// On COM1 only. Once the menu is on the serial terminal, a note starts on a line of
    /// its own: below the menu when it is first drawn, on a cleared terminal when booting.
    fn note(&mut self, note: &Note<'_>) {
        match note {
            Note::OldWindowKept(_) | Note::Discovered { .. } => {
                self.log.note(format_args!("{note}"))
            }
            Note::MenuDrawn => console::com1_write(format!("\x1b[26;1H\r\n{note}\r\n").as_bytes()),
            Note::Booting { .. } => {
                console::com1_write(format!("\x1b[0m\x1b[2J\x1b[H\r\n{note}\r\n").as_bytes())
            }
            _ => console::com1_write(format!("\r\n{note}\r\n").as_bytes()),
        }
    }

    fn prepare_boot(
        &mut self,
        entry: &BootEntry,
        overlay: Option<Overlay>,
    ) -> Result<(BootImage, Option<Overlay>), BiosBootError> {
        let cat = entry
            .boot_entry(Firmware::Bios)
            .ok_or(BiosBootError::NoBiosEntry)?;
        let image = BootImage::new(cat).map_err(BiosBootError::Image)?;
        Ok((image, overlay))
    }

    fn chain_boot(
        &mut self,
        entry: &BootEntry,
        (image, overlay): (BootImage, Option<Overlay>),
    ) -> Result<Infallible, BiosBootError> {
        resident::boot(
            &mut self.disk,
            &entry.extents,
            entry.size,
            &image,
            overlay.as_ref(),
        )
        .map_err(BiosBootError::Resident)
    }

    /// Back to the BIOS: the next boot device is tried (INT 18h). Some BIOSes return
    /// from INT 18h: then the menu shows again.
    fn leave(&mut self) -> Option<Infallible> {
        let mut r = bios::Regs::default();
        bios::int(0x18, &mut r);
        None
    }

    fn fatal(&mut self, message: fmt::Arguments<'_>) -> Infallible {
        halt(&mut self.log, message)
    }
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
    match resident::boot(disk, extents, p.size, &entry, None) {
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
