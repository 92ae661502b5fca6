//! Installs the resident INT 13h El Torito emulation (`asm/resident.s`) for one ISO and
//! chain-boots its BIOS boot image.
//!
//! What goes where is decided by `bootshelf_bios::resident` (host-tested): the resident
//! image goes to the top of conventional memory, taken away from the OS by lowering the
//! BDA's memory size (0x413) and by clipping the INT 15h E820h memory map (the image
//! hooks INT 15h for that); its parameter block gets the ISO's extents in 512-byte units,
//! the stick's drive and sector size, and the boot entry. This module only does the I/O
//! the plan needs (the hard-disk image's MBR, one read of the boot image), then applies
//! the plan: everything that can fail is checked before the BDA or any vector changes,
//! so a failure goes back to the menu with the machine as it was.

use crate::bios;
use crate::disk::Int13Disk;
use blockdev::{BlockDevice, BlockReader, Extent, ExtentReader, IoError, ReadAt};
use bootloader_core::overlay::Overlay;
use bootshelf_bios::boot::{BootImage, Emulated};
use bootshelf_bios::layout::OverlayRun;
use bootshelf_bios::resident::{
    self, Bda, Hooks, Inputs, OverlayInputs, PlanError, ResidentPlan, Stick,
};

extern "C" {
    static res_base: u8;
    static res_end: u8;
}

/// First drive number the no-emulation CD may answer as (the CD range SeaBIOS and
/// others use); the first number from here the BIOS does not know is taken.
pub const CD_DRIVE: u8 = 0xE0;

// BIOS data area fields and real-mode interrupt vectors (identity-mapped).
const BDA_EQUIPMENT: usize = 0x410;
const BDA_BASE_KIB: usize = 0x413;
const BDA_HARD_DISKS: usize = 0x475;
const IVT_INT13: usize = 0x13 * 4;
const IVT_INT15: usize = 0x15 * 4;

/// The first drive number from [`CD_DRIVE`] that the BIOS reports as absent (INT 13h
/// AH=15h fails or says "no drive"), so a real CD drive is never shadowed.
fn free_cd_drive() -> u8 {
    for d in CD_DRIVE..=0xFE {
        let mut r = bios::Regs {
            eax: 0x1500,
            edx: u32::from(d),
            ..bios::Regs::default()
        };
        bios::int(0x13, &mut r);
        if r.carry() || r.ah() == 0 {
            return d;
        }
    }
    CD_DRIVE
}

/// Why an ISO cannot be booted; the menu shows it and stays.
#[derive(Debug, Clone, Copy)]
pub enum BootError {
    /// The plan refused it (layout, memory, boot image).
    Plan(PlanError),
    /// Reading the ISO failed.
    Io(IoError),
}

impl From<IoError> for BootError {
    fn from(e: IoError) -> Self {
        BootError::Io(e)
    }
}

impl From<PlanError> for BootError {
    fn from(e: PlanError) -> Self {
        BootError::Plan(e)
    }
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            BootError::Plan(e) => write!(f, "{e}"),
            BootError::Io(e) => write!(f, "reading the ISO: {e}"),
        }
    }
}

fn read_u8(addr: usize) -> u8 {
    // SAFETY: addr is a BDA field (0x400..0x500), identity-mapped and readable.
    unsafe { core::ptr::read_volatile(addr as *const u8) }
}

fn read_u16(addr: usize) -> u16 {
    // SAFETY: addr is a BDA field (0x400..0x500), identity-mapped and readable.
    unsafe { core::ptr::read_volatile(addr as *const u16) }
}

fn read_u32(addr: usize) -> u32 {
    // SAFETY: addr is a vector of the real-mode IVT (0..0x400), identity-mapped.
    unsafe { core::ptr::read_volatile(addr as *const u32) }
}

/// The resident code as assembled into stage 2 (res_base .. res_end).
fn resident_code() -> &'static [u8] {
    // res_base/res_end are labels in the 16-bit part of stage 2 (asm/resident.s); only
    // their addresses are taken.
    let (base, end) = (
        core::ptr::addr_of!(res_base) as usize,
        core::ptr::addr_of!(res_end) as usize,
    );
    // SAFETY: [res_base, res_end) is the resident image inside stage 2's own loaded
    // image, never written while stage 2 runs.
    unsafe { core::slice::from_raw_parts(base as *const u8, end - base) }
}

/// Read `bytes` of the ISO at `extents` into `buf` (in pieces of `buf`'s size), the way
/// the resident code will read it.
fn read_iso(
    disk: &mut Int13Disk,
    extents: &[Extent],
    iso_size: u64,
    bytes: core::ops::Range<u64>,
    buf: &mut [u8],
) -> Result<(), IoError> {
    let mut iso = ExtentReader::new(BlockReader::new(&mut *disk), extents, iso_size)?;
    let mut at = bytes.start;
    while at < bytes.end {
        let n = (bytes.end - at).min(buf.len() as u64) as usize;
        iso.read_exact_at(at, &mut buf[..n])?;
        at += n as u64;
    }
    Ok(())
}

/// Install the emulation for the ISO at `extents` (device bytes, in file order) of
/// `iso_size` bytes with boot image `image`, serving `overlay`'s sectors (kernel options)
/// from memory, and jump to the boot image. Returns only on failure, with nothing
/// changed.
pub fn boot(
    disk: &mut Int13Disk,
    extents: &[Extent],
    iso_size: u64,
    image: &BootImage,
    overlay: Option<&Overlay>,
) -> Result<core::convert::Infallible, BootError> {
    let runs = overlay.map(|o| o.runs()).unwrap_or_default();
    let run_list: alloc::vec::Vec<OverlayRun> = runs
        .iter()
        .map(|(r, _)| OverlayRun {
            lba: r.lba,
            count: r.count,
        })
        .collect();
    let map = resident::map_iso(image, extents, iso_size)?;
    let mut mbr = [0u8; 512];
    let hard_disk = image.emulated() == Emulated::HardDisk;
    if hard_disk {
        let at = map.image_offset();
        read_iso(disk, extents, iso_size, at..at + 512, &mut mbr)?;
    }
    let code = resident_code();
    let plan = resident::plan(&Inputs {
        image,
        map,
        iso_size,
        hard_disk_mbr: hard_disk.then_some(&mbr),
        code_len: code.len(),
        bda: Bda {
            base_kib: read_u16(BDA_BASE_KIB),
            equipment: read_u16(BDA_EQUIPMENT),
            hard_disks: read_u8(BDA_HARD_DISKS),
        },
        stick: Stick {
            drive: disk.drive(),
            sector_size: disk.sector_size(),
        },
        overlay: overlay.map(|o| OverlayInputs {
            runs: &run_list,
            served_size: o.len(),
        }),
    })?;
    // Read the whole boot image once now, the way the resident code will (same extents,
    // same stick): a bad sector is reported here, while the menu can still show it, not
    // after the point of no return.
    let mut buf = alloc::vec![0u8; 16 * 1024];
    read_iso(
        disk,
        extents,
        iso_size,
        plan.boot_image_bytes.clone(),
        &mut buf,
    )?;
    let hooks = Hooks {
        free_cd: free_cd_drive(),
        int13: read_u32(IVT_INT13),
        int15: read_u32(IVT_INT15),
    };
    // Nothing can fail from here on: commit.
    let boot_offset = install(&plan, code, &hooks);
    if plan.overlay_segment != 0 {
        let mut at = usize::from(plan.overlay_segment) * 16;
        for (_, bytes) in &runs {
            // SAFETY: the plan put the overlay's sectors (the runs' bytes, back to back)
            // at [overlay_segment * 16, resident image), at 512 KiB or above (past the
            // end of stage 2) and taken from the OS with the image (BDA 0x413 lowered).
            unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), at as *mut u8, bytes.len()) };
            at += bytes.len();
        }
    }
    crate::console::com1_write(
        alloc::format!(
            "bootshelf: INT 13h emulation at {:04x}:0000 ({} KiB, drive {:#04x}), booting\r\n",
            plan.segment,
            plan.reserved_kib,
            plan.drive_number(&hooks)
        )
        .as_bytes(),
    );
    bios::jump_real_mode(plan.segment, boot_offset)
}

/// Apply `plan`: copy the resident code to its place and fill in its parameter block,
/// then take its memory (and the emulated drive) into the BDA. Returns the offset of the
/// image's boot entry.
fn install(plan: &ResidentPlan, code: &[u8], hooks: &Hooks) -> u16 {
    let dest = plan.address() as usize;
    // SAFETY: the plan put [dest, dest + total_len) in conventional memory below the old
    // top (BDA 0x413), which is taken from the OS below, and at 512 KiB or above, so
    // past the end of stage 2 (below 0x78000, stage2.ld) where the source lies.
    let img = unsafe {
        core::ptr::copy_nonoverlapping(code.as_ptr(), dest as *mut u8, code.len());
        core::slice::from_raw_parts_mut(dest as *mut u8, usize::from(plan.total_len))
    };
    // `img` is longer than the parameter block (the plan checked the code's length).
    let _ = plan.write_parameters(img, hooks);
    let boot_offset = resident::boot_offset(img).unwrap_or(0);
    write_u16(BDA_BASE_KIB, plan.bda.base_kib);
    if let Some(equipment) = plan.bda.equipment {
        write_u16(BDA_EQUIPMENT, equipment);
    }
    if let Some(count) = plan.bda.hard_disks {
        // SAFETY: 0x475 is the BDA's hard-disk count (identity-mapped); the BIOS expects
        // it to count the emulated hard disk.
        unsafe { core::ptr::write_volatile(BDA_HARD_DISKS as *mut u8, count) };
    }
    boot_offset
}

fn write_u16(addr: usize, v: u16) {
    // SAFETY: addr is a BDA field (0x400..0x500); the BIOS expects us to maintain it.
    unsafe { core::ptr::write_volatile(addr as *mut u16, v) }
}
