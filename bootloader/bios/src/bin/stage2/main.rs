//! bootshelf's BIOS stage 2: 16-bit entry and long-mode switch (`asm/stage2_entry.s`),
//! then Rust: console (VGA text + COM1), the stick over INT 13h, the boot plan or the
//! menu, and the resident INT 13h El Torito emulation that chain-boots the chosen ISO.
#![no_std]
#![no_main]

mod bios;
mod console;
mod disk;
mod eltorito;
mod plan;
mod resident;

use blockdev::{BlockReader, ExtentReader};
use console::Console;
use core::fmt::Write;

core::arch::global_asm!(include_str!("../../asm/stage2_entry.s"), options(att_syntax));
core::arch::global_asm!(include_str!("../../asm/resident.s"), options(att_syntax));

/// Called by the 16-bit entry once in long mode, with the BIOS boot drive.
#[no_mangle]
extern "sysv64" fn stage2_main(boot_drive: u32) -> ! {
    let mut con = Console::init();
    let _ = writeln!(con, "bootshelf: BIOS stage 2, boot drive {boot_drive:#04x}");
    let mut disk = match disk::Int13Disk::open(boot_drive as u8) {
        Ok(d) => d,
        Err(e) => halt(&mut con, format_args!("{e}")),
    };
    if let Some(p) = plan::read() {
        let extents = &p.extents[..p.count];
        let entry = {
            let reader = ExtentReader::new(BlockReader::new(&mut disk), extents, p.size);
            match reader.map_err(eltorito::Error::Io).and_then(|mut r| eltorito::bios_entry(&mut r)) {
                Ok(e) => e,
                Err(e) => halt(&mut con, format_args!("boot plan: {e}")),
            }
        };
        let _ = writeln!(
            con,
            "bootshelf: booting the planned ISO: {:?} entry, load segment {:#x}, {} sectors at ISO sector {}",
            entry.media, entry.load_segment, entry.sector_count, entry.load_rba
        );
        match resident::boot(&mut disk, extents, p.size, &entry) {
            Ok(never) => match never {},
            Err(e) => halt(&mut con, format_args!("boot plan: {e}")),
        }
    }
    halt(&mut con, format_args!("no boot plan; the menu is not built yet"))
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
