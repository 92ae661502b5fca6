//! Installs the resident INT 13h El Torito emulation (`asm/resident.s`) for one ISO and
//! chain-boots its BIOS boot image.
//!
//! The resident image is copied to the top of conventional memory, taken away from the
//! OS by lowering the BDA's memory size (0x413) and by clipping the INT 15h E820h memory
//! map (the image hooks INT 15h for that); its parameter block gets the ISO's
//! extents in 512-byte units, the stick's drive and sector size, and the boot entry.
//! Everything that can fail is checked here, before the BDA or any vector changes, so a
//! failure goes back to the menu with the machine as it was.

use crate::bios;
use crate::disk::Int13Disk;
use blockdev::{BlockDevice, BlockReader, Extent, ExtentReader, IoError, ReadAt};
use bootshelf_bios::boot::{BootImage, Emulated};
use bootshelf_bios::layout::{unit_table, Geometry, LayoutError};
use bootshelf_bios::le::{put_u16, put_u32};

extern "C" {
    static res_base: u8;
    static res_end: u8;
}

// Offsets in the resident image; they mirror the R_* constants of asm/resident.s.
const R_HDR_BOOT: usize = 2;
const R_OLD13: usize = 8;
const R_IMAGE_UNIT: usize = 12;
const R_ISO_UNITS: usize = 16;
const R_EMU_UNITS: usize = 20;
const R_LOAD_SEG: usize = 24;
const R_LOAD_COUNT: usize = 26;
const R_STICK_DRIVE: usize = 28;
const R_SECTOR_SHIFT: usize = 29;
const R_EMU_DRIVE: usize = 30;
const R_MEDIA: usize = 31;
const R_CYLS: usize = 32;
const R_HEADS: usize = 34;
const R_SPT: usize = 35;
const R_EXT_COUNT: usize = 36;
const R_EXTENTS: usize = 40;
const R_BOUNCE: usize = 448;
const R_STACK_TOP: usize = 450;
const R_OLD15: usize = 458;
const R_LOW_TOP: usize = 462;
const BOUNCE_SIZE: usize = 4096;
/// The handler's own stack, after the bounce buffer.
const STACK_SIZE: usize = 4096;

/// First drive number the no-emulation CD may answer as (the CD range SeaBIOS and
/// others use); the first number from here the BIOS does not know is taken.
pub const CD_DRIVE: u8 = 0xE0;

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
    /// The ISO's extents do not fit the resident table.
    Layout(LayoutError),
    /// The boot image starts beyond the end of the ISO.
    ImageOutside {
        /// Its 2048-byte sector.
        rba: u32,
    },
    /// The boot image (its sector count from the catalog) runs past the end of the ISO.
    ImagePastEnd {
        /// 512-byte sectors the catalog asks to load.
        sectors: u16,
    },
    /// The boot image would not fit between 0x500 and the resident code.
    LoadArea {
        /// Linear load address.
        start: u32,
        /// End of the image.
        end: u32,
        /// Where free memory ends.
        limit: u32,
    },
    /// Not enough conventional memory for the resident code.
    NoMemory {
        /// KiB the BDA reports.
        base_kib: u16,
    },
    /// A hard-disk image without a usable partition table.
    BadHardDiskImage,
    /// Reading the ISO failed.
    Io(IoError),
}

impl From<IoError> for BootError {
    fn from(e: IoError) -> Self {
        BootError::Io(e)
    }
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            BootError::Layout(e) => write!(f, "{e}"),
            BootError::ImageOutside { rba } => {
                write!(f, "the boot image (sector {rba}) lies outside the ISO")
            }
            BootError::ImagePastEnd { sectors } => {
                write!(f, "boot image ({sectors} sectors) passes the ISO end")
            }
            BootError::LoadArea { start, end, limit } => write!(
                f,
                "boot image {start:#x}-{end:#x} exceeds free RAM (to {limit:#x})"
            ),
            BootError::NoMemory { base_kib } => {
                write!(f, "only {base_kib} KiB of conventional memory")
            }
            BootError::BadHardDiskImage => f.write_str(
                "the hard-disk emulation image has no valid partition table to take its geometry from",
            ),
            BootError::Io(e) => write!(f, "reading the ISO: {e}"),
        }
    }
}

fn bda_u16(addr: usize) -> u16 {
    // SAFETY: addr is a BDA field (0x400..0x500), identity-mapped and readable.
    unsafe { core::ptr::read_volatile(addr as *const u16) }
}

fn set_bda_u16(addr: usize, v: u16) {
    // SAFETY: addr is a BDA field (0x400..0x500); the BIOS expects us to maintain it.
    unsafe { core::ptr::write_volatile(addr as *mut u16, v) }
}

/// Install the emulation for the ISO at `extents` (device bytes, in file order) of
/// `iso_size` bytes with boot image `image`, and jump to the boot image. Returns only on
/// failure, with nothing changed.
pub fn boot(
    disk: &mut Int13Disk,
    extents: &[Extent],
    iso_size: u64,
    image: &BootImage,
) -> Result<core::convert::Infallible, BootError> {
    let entry = image.entry();
    let table = unit_table(extents, iso_size).map_err(BootError::Layout)?;
    let iso_units = table.iso_units;
    let image_unit = entry
        .load_rba
        .checked_mul(4)
        .filter(|u| *u < iso_units)
        .ok_or(BootError::ImageOutside {
            rba: entry.load_rba,
        })?;

    let geometry = match image.emulated() {
        Emulated::Cd => Geometry {
            cyls: 0,
            heads: 0,
            spt: 0,
        },
        Emulated::HardDisk => {
            let mut iso = ExtentReader::new(BlockReader::new(&mut *disk), extents, iso_size)?;
            let mut mbr = [0u8; 512];
            iso.read_exact_at(u64::from(image_unit) * 512, &mut mbr)?;
            Geometry::hard_disk(&mbr).ok_or(BootError::BadHardDiskImage)?
        }
        Emulated::Floppy(g) => g,
    };
    let emu_units = geometry.units().min(iso_units - image_unit);

    // res_base/res_end are labels in the 16-bit part of stage 2 (asm/resident.s); only
    // their addresses are taken.
    let (base, end) = (
        core::ptr::addr_of!(res_base) as usize,
        core::ptr::addr_of!(res_end) as usize,
    );
    let image_len = end - base;
    let bounce_at = image_len.next_multiple_of(16);
    let total = bounce_at + BOUNCE_SIZE + STACK_SIZE;
    let kib = total.div_ceil(1024) as u16;
    let base_kib = bda_u16(0x413);
    if base_kib < 512 + kib || base_kib > 640 {
        return Err(BootError::NoMemory { base_kib });
    }
    let new_kib = base_kib - kib;
    let seg = new_kib * 64;
    let limit = u32::from(new_kib) * 1024;

    let load_seg = if entry.load_segment == 0 {
        0x7C0
    } else {
        entry.load_segment
    };
    let count = entry.sector_count.max(1);
    let start = u32::from(load_seg) * 16;
    let end_addr = start + u32::from(count) * 512;
    if start < 0x500 || end_addr > limit {
        return Err(BootError::LoadArea {
            start,
            end: end_addr,
            limit,
        });
    }

    // Read the whole boot image once now, the way the resident code will (same extents,
    // same stick): a bad sector or an image running past the ISO is reported here, while
    // the menu can still show it, not after the point of no return.
    {
        let mut iso = ExtentReader::new(BlockReader::new(&mut *disk), extents, iso_size)?;
        let mut buf = alloc::vec![0u8; 16 * 1024];
        let (mut at, end) = (
            u64::from(image_unit) * 512,
            (u64::from(image_unit) + u64::from(count)) * 512,
        );
        if end > iso_size.next_multiple_of(512) {
            return Err(BootError::ImagePastEnd { sectors: count });
        }
        while at < end {
            let n = (end - at).min(buf.len() as u64) as usize;
            iso.read_exact_at(at, &mut buf[..n])?;
            at += n as u64;
        }
    }

    let cd_drive = free_cd_drive();

    // Nothing can fail from here on: commit.
    let dest = usize::from(seg) * 16;
    // SAFETY: [dest, dest + kib KiB) is conventional memory below the old top (base_kib),
    // which we now take from the OS by lowering 0x413; the source is our own image.
    let img = unsafe {
        core::ptr::copy_nonoverlapping(base as *const u8, dest as *mut u8, image_len);
        core::slice::from_raw_parts_mut(dest as *mut u8, total)
    };
    // SAFETY: 0x4C is the INT 13h vector in the real-mode IVT, identity-mapped.
    let old13 = unsafe { core::ptr::read_volatile(0x4C as *const u32) };
    // The R_* fields all lie in the image's first 0x1D2 bytes and `img` is `total` bytes,
    // so none of these writes can fall outside it (an out-of-range one would be dropped).
    put_u32(img, R_OLD13, old13);
    // SAFETY: 0x54 is the INT 15h vector in the real-mode IVT, identity-mapped.
    let old15 = unsafe { core::ptr::read_volatile(0x54 as *const u32) };
    put_u32(img, R_OLD15, old15);
    put_u32(img, R_LOW_TOP, dest as u32);
    put_u32(img, R_IMAGE_UNIT, image_unit);
    put_u32(img, R_ISO_UNITS, iso_units);
    put_u32(img, R_EMU_UNITS, emu_units);
    put_u16(img, R_LOAD_SEG, load_seg);
    put_u16(img, R_LOAD_COUNT, count);
    img[R_STICK_DRIVE] = disk.drive();
    img[R_SECTOR_SHIFT] = disk.sector_size().trailing_zeros() as u8;
    img[R_EMU_DRIVE] = match image.emulated() {
        Emulated::Cd => cd_drive,
        Emulated::HardDisk => 0x80,
        Emulated::Floppy(_) => 0x00,
    };
    img[R_MEDIA] = entry.emulation.0;
    put_u16(img, R_CYLS, geometry.cyls);
    img[R_HEADS] = geometry.heads;
    img[R_SPT] = geometry.spt;
    put_u16(img, R_EXT_COUNT, table.count as u16);
    for (i, e) in table.extents[..table.count].iter().enumerate() {
        let at = R_EXTENTS + 12 * i;
        put_u32(img, at, e.iso_unit);
        put_u32(img, at + 4, e.dev_unit);
        put_u32(img, at + 8, e.units);
    }
    put_u16(img, R_BOUNCE, bounce_at as u16);
    put_u16(img, R_STACK_TOP, total as u16);
    let boot_off = u16::from_le_bytes([img[R_HDR_BOOT], img[R_HDR_BOOT + 1]]);

    set_bda_u16(0x413, new_kib);
    match image.emulated() {
        Emulated::Cd => {}
        Emulated::HardDisk => {
            // SAFETY: 0x475 is the BDA's hard-disk count.
            unsafe {
                let p = 0x475 as *mut u8;
                core::ptr::write_volatile(p, core::ptr::read_volatile(p).saturating_add(1));
            }
        }
        Emulated::Floppy(_) => {
            let eq = bda_u16(0x410);
            let eq = if eq & 1 == 0 {
                (eq | 1) & !0xC0
            } else {
                let n = ((eq >> 6) & 3).min(2) + 1;
                (eq & !0xC0) | (n << 6)
            };
            set_bda_u16(0x410, eq);
        }
    }
    crate::console::com1_write(
        alloc::format!(
            "bootshelf: INT 13h emulation at {seg:04x}:0000 ({kib} KiB, drive {:#04x}), booting\r\n",
            img[R_EMU_DRIVE]
        )
        .as_bytes(),
    );
    bios::jump_real_mode(seg, boot_off)
}
