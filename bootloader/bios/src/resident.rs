//! The plan of the resident INT 13h El Torito emulation (`asm/resident.s`) for one ISO,
//! decided apart from the memory writes that carry it out (stage 2's `resident.rs`):
//! where the boot image lies in the ISO ([`map_iso`]), then ([`plan`]) where the resident
//! code, its bounce buffer and stack go, the new top of conventional memory (BDA 0x413),
//! the drive number the emulated disk answers as, the emulated geometry, the extent table
//! and where the boot image is loaded, or the typed reason ([`PlanError`]) the ISO cannot
//! be booted. [`ResidentPlan::write_parameters`] fills the resident code's parameter
//! block; it is a plain write into a byte slice, so all of this runs on the host.

use crate::boot::{BootImage, Emulated};
use crate::layout::{
    unit_table, with_overlay, Geometry, LayoutError, MemTable, OverlayRun, UnitTable,
};
use crate::le::{put_u16, put_u32, u16_at};
use blockdev::Extent;
use core::ops::Range;

// Offsets in the resident image; they mirror the R_* constants of asm/resident.s (a test
// compares the two).
/// u16: offset of the boot entry in the image header.
pub const R_HDR_BOOT: usize = 2;
/// u32: the original INT 13h vector.
pub const R_OLD13: usize = 8;
/// u32: first 512-byte unit of the boot image in the ISO.
pub const R_IMAGE_UNIT: usize = 12;
/// u32: size of the ISO in units.
pub const R_ISO_UNITS: usize = 16;
/// u32: size of the emulated floppy or hard disk in units.
pub const R_EMU_UNITS: usize = 20;
/// u16: load segment of the boot image.
pub const R_LOAD_SEG: usize = 24;
/// u16: 512-byte sectors to load.
pub const R_LOAD_COUNT: usize = 26;
/// u8: BIOS drive number of the stick.
pub const R_STICK_DRIVE: usize = 28;
/// u8: log2 of the stick's sector size.
pub const R_SECTOR_SHIFT: usize = 29;
/// u8: the drive number the emulated disk answers as.
pub const R_EMU_DRIVE: usize = 30;
/// u8: El Torito media type.
pub const R_MEDIA: usize = 31;
/// u16: emulated cylinders.
pub const R_CYLS: usize = 32;
/// u8: emulated heads.
pub const R_HEADS: usize = 34;
/// u8: emulated sectors per track.
pub const R_SPT: usize = 35;
/// u16: number of extents.
pub const R_EXT_COUNT: usize = 36;
/// The extent table: (iso_unit, dev_unit, units) as three u32 each.
pub const R_EXTENTS: usize = 40;
/// u16: offset of the bounce buffer.
pub const R_BOUNCE: usize = 448;
/// u16: top of the handler's own stack.
pub const R_STACK_TOP: usize = 450;
/// u32: the original INT 15h vector.
pub const R_OLD15: usize = 458;
/// u32: linear address of the image (the new end of low RAM in the E820h map).
pub const R_LOW_TOP: usize = 462;
/// u16: number of memory extents (the kernel options' overlay).
pub const R_MEM_COUNT: usize = 466;
/// The memory extents: (iso_unit, units, segment) as three u32 each.
pub const R_MEM: usize = 468;
/// End of the parameter block: the resident code is at least this long.
pub const PARAMETERS_END: usize = R_MEM + 12 * crate::layout::MAX_MEM_EXTENTS;

/// The bounce buffer after the resident code (one 4096-byte stick sector).
pub const BOUNCE_SIZE: usize = 4096;
/// The handler's own stack, after the bounce buffer.
pub const STACK_SIZE: usize = 4096;

/// The load segment a catalog's 0 stands for.
pub const DEFAULT_LOAD_SEGMENT: u16 = 0x7C0;
/// Where free low memory starts (after the BIOS data area).
const LOW_MEMORY_START: u32 = 0x500;
/// The resident code is only placed when the BDA reports at least this much
/// conventional memory above it (KiB)...
const MIN_BASE_KIB: u32 = 512;
/// ...and a plausible total (KiB).
const MAX_BASE_KIB: u16 = 640;

/// Why an ISO cannot be booted through the resident emulation; the menu shows it and
/// stays (nothing has been changed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanError {
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
    /// The kernel options' overlay needs more conventional memory than it may take.
    OverlayTooBig {
        /// KiB it needs.
        kib: u32,
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
    /// The resident code with its buffers does not fit one real-mode segment, or is
    /// shorter than its parameter block (a build error, never an ISO's fault).
    BadResidentCode {
        /// Bytes of resident code.
        len: usize,
    },
}

impl From<LayoutError> for PlanError {
    fn from(e: LayoutError) -> Self {
        PlanError::Layout(e)
    }
}

impl core::fmt::Display for PlanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            PlanError::Layout(e) => write!(f, "{e}"),
            PlanError::ImageOutside { rba } => {
                write!(f, "the boot image (sector {rba}) lies outside the ISO")
            }
            PlanError::ImagePastEnd { sectors } => {
                write!(f, "boot image ({sectors} sectors) passes the ISO end")
            }
            PlanError::LoadArea { start, end, limit } => write!(
                f,
                "boot image {start:#x}-{end:#x} exceeds free RAM (to {limit:#x})"
            ),
            PlanError::OverlayTooBig { kib } => write!(
                f,
                "the changed boot configuration needs {kib} KiB, more than the {MAX_OVERLAY_KIB} KiB of low memory the BIOS loader gives it"
            ),
            PlanError::NoMemory { base_kib } => {
                write!(f, "only {base_kib} KiB of conventional memory")
            }
            PlanError::BadHardDiskImage => f.write_str(
                "the hard-disk emulation image has no valid partition table to take its geometry from",
            ),
            PlanError::BadResidentCode { len } => {
                write!(f, "the resident code ({len} bytes) does not fit its segment")
            }
        }
    }
}

/// The ISO as the resident code maps it, and where its boot image starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IsoMap {
    /// The ISO's extents in 512-byte units.
    pub table: UnitTable,
    /// The boot image's first 512-byte unit in the ISO.
    pub image_unit: u32,
}

impl IsoMap {
    /// Byte offset of the boot image in the ISO (where a hard-disk image's MBR is).
    pub fn image_offset(&self) -> u64 {
        u64::from(self.image_unit) * 512
    }
}

/// Map the ISO at `extents` (device bytes, in file order) of `iso_size` bytes and find
/// the start of `image` in it.
pub fn map_iso(image: &BootImage, extents: &[Extent], iso_size: u64) -> Result<IsoMap, PlanError> {
    let table = unit_table(extents, iso_size)?;
    let rba = image.entry().load_rba;
    let image_unit = rba
        .checked_mul(4)
        .filter(|u| *u < table.iso_units)
        .ok_or(PlanError::ImageOutside { rba })?;
    Ok(IsoMap { table, image_unit })
}

/// The BIOS data area fields the plan reads and changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bda {
    /// 0x413: conventional memory in KiB.
    pub base_kib: u16,
    /// 0x410: the equipment word (bit 0: floppy drives present, bits 6-7: their count - 1).
    pub equipment: u16,
    /// 0x475: the number of hard disks.
    pub hard_disks: u8,
}

/// What the plan writes to the BIOS data area at the point of no return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BdaWrites {
    /// 0x413: the new top of conventional memory in KiB (always written).
    pub base_kib: u16,
    /// 0x410: the equipment word with one more floppy (floppy emulation only).
    pub equipment: Option<u16>,
    /// 0x475: one more hard disk (hard-disk emulation only).
    pub hard_disks: Option<u8>,
}

/// The stick the resident code reads the ISO from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stick {
    /// Its BIOS drive number.
    pub drive: u8,
    /// Its sector size in bytes (512 or 4096).
    pub sector_size: u32,
}

/// Which drive number the emulated disk answers as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmulatedDrive {
    /// The first CD drive number the BIOS does not know (from E0h; probed by stage 2 just
    /// before the point of no return).
    FreeCd,
    /// Floppy 00h (real floppies move up by one).
    Floppy,
    /// Hard disk 80h (real hard disks move up by one).
    HardDisk,
}

impl EmulatedDrive {
    /// The drive number, given the free CD drive number stage 2 found.
    pub fn number(self, free_cd: u8) -> u8 {
        match self {
            EmulatedDrive::FreeCd => free_cd,
            EmulatedDrive::Floppy => 0x00,
            EmulatedDrive::HardDisk => 0x80,
        }
    }
}

/// Everything the plan is decided from.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The boot image to chain-boot.
    pub image: &'a BootImage,
    /// The ISO's map ([`map_iso`]).
    pub map: IsoMap,
    /// The ISO's size in bytes.
    pub iso_size: u64,
    /// The first 512 bytes of the boot image (read by the caller for hard-disk emulation,
    /// where the geometry comes from its partition table; otherwise unused).
    pub hard_disk_mbr: Option<&'a [u8; 512]>,
    /// Bytes of resident code (res_base .. res_end).
    pub code_len: usize,
    /// The BIOS data area as it is now.
    pub bda: Bda,
    /// The stick.
    pub stick: Stick,
    /// The kernel options' overlay to serve from memory, if any.
    pub overlay: Option<OverlayInputs<'a>>,
}

/// The kernel options' overlay as the plan needs it: its runs of replaced sectors (their
/// bytes back to back) and the size of the ISO as served (added sectors included).
#[derive(Clone, Copy, Debug)]
pub struct OverlayInputs<'a> {
    /// The runs, in ISO order.
    pub runs: &'a [OverlayRun],
    /// Bytes of the ISO as served.
    pub served_size: u64,
}

/// Most conventional memory the overlay may take, in KiB.
pub const MAX_OVERLAY_KIB: u16 = 64;

/// Where the resident emulation goes and what it is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidentPlan {
    /// The resident image runs at `segment:0000` (the new top of conventional memory).
    pub segment: u16,
    /// KiB taken from conventional memory.
    pub reserved_kib: u16,
    /// Bytes of resident code to copy there.
    pub code_len: usize,
    /// Offset of the bounce buffer in the image.
    pub bounce_offset: u16,
    /// Code, bounce buffer and stack: the top of the handler's stack.
    pub total_len: u16,
    /// What changes in the BIOS data area.
    pub bda: BdaWrites,
    /// Which drive number the emulated disk answers as.
    pub drive: EmulatedDrive,
    /// The ISO's map.
    pub map: IsoMap,
    /// The emulated disk's size in 512-byte units (0 for a CD).
    pub emu_units: u32,
    /// The emulated disk's geometry (all 0 for a CD).
    pub geometry: Geometry,
    /// Segment the boot image is loaded to.
    pub load_segment: u16,
    /// 512-byte sectors of the boot image to load.
    pub load_count: u16,
    /// El Torito media type.
    pub media: u8,
    /// The stick.
    pub stick: Stick,
    /// Bytes of the ISO the boot image occupies: read once before the point of no
    /// return, the way the resident code will, so a bad sector is reported while the
    /// menu can still show it.
    pub boot_image_bytes: Range<u64>,
    /// Segment where the overlay's bytes go (above the resident code, below the old top
    /// of memory); 0 without an overlay.
    pub overlay_segment: u16,
    /// Units the resident code serves from the overlay's memory.
    pub mem: MemTable,
}

/// Decide the plan (nothing is read or written).
pub fn plan(inputs: &Inputs) -> Result<ResidentPlan, PlanError> {
    let image = inputs.image;
    let entry = image.entry();
    let map = inputs.map;
    let (geometry, drive) = emulation(image.emulated(), inputs.hard_disk_mbr)?;
    let emu_units = geometry
        .units()
        .min(map.table.iso_units.saturating_sub(map.image_unit));
    // The resident code stays at the top of conventional memory (where SeaBIOS's
    // low-memory use is known not to reach what it needs); the overlay's bytes go just
    // below it, and the BDA, the E820h clip and the load limit follow the lower of the
    // two.
    let overlay_units: u64 = inputs
        .overlay
        .map_or(0, |o| o.runs.iter().map(|r| u64::from(r.count) * 4).sum());
    let overlay_kib = u32::try_from((overlay_units * 512).div_ceil(1024)).unwrap_or(u32::MAX);
    if overlay_kib > u32::from(MAX_OVERLAY_KIB) {
        return Err(PlanError::OverlayTooBig { kib: overlay_kib });
    }
    let overlay_kib = overlay_kib as u16;
    let (segment, code_kib, bounce_offset, total_len) =
        placement(inputs.code_len, inputs.bda.base_kib)?;
    let bottom_kib = segment / 64 - overlay_kib;
    if u32::from(bottom_kib) < MIN_BASE_KIB {
        return Err(PlanError::NoMemory {
            base_kib: inputs.bda.base_kib,
        });
    }
    let reserved_kib = code_kib + overlay_kib;
    let overlay_segment = if overlay_kib > 0 { bottom_kib * 64 } else { 0 };
    let (map, mem) = match inputs.overlay {
        Some(o) if overlay_kib > 0 => {
            let served_units =
                u32::try_from(o.served_size.div_ceil(512)).map_err(|_| LayoutError::TooLarge {
                    size: o.served_size,
                })?;
            let (table, mem) = with_overlay(&map.table, o.runs, overlay_segment, served_units)?;
            (IsoMap { table, ..map }, mem)
        }
        _ => (map, MemTable::default()),
    };
    let limit = u32::from(bottom_kib) * 1024;
    let load_segment = if entry.load_segment == 0 {
        DEFAULT_LOAD_SEGMENT
    } else {
        entry.load_segment
    };
    let load_count = entry.sector_count.max(1);
    let start = u32::from(load_segment) * 16;
    let end = start + u32::from(load_count) * 512;
    if start < LOW_MEMORY_START || end > limit {
        return Err(PlanError::LoadArea { start, end, limit });
    }
    let boot_image_bytes =
        map.image_offset()..(u64::from(map.image_unit) + u64::from(load_count)) * 512;
    if boot_image_bytes.end > inputs.iso_size.next_multiple_of(512) {
        return Err(PlanError::ImagePastEnd {
            sectors: load_count,
        });
    }
    Ok(ResidentPlan {
        segment,
        reserved_kib,
        code_len: inputs.code_len,
        bounce_offset,
        total_len,
        bda: BdaWrites {
            base_kib: bottom_kib,
            equipment: (drive == EmulatedDrive::Floppy)
                .then(|| with_one_more_floppy(inputs.bda.equipment)),
            hard_disks: (drive == EmulatedDrive::HardDisk)
                .then(|| inputs.bda.hard_disks.saturating_add(1)),
        },
        drive,
        map,
        emu_units,
        geometry,
        load_segment,
        load_count,
        media: entry.emulation.0,
        stick: inputs.stick,
        boot_image_bytes,
        overlay_segment,
        mem,
    })
}

/// The emulated disk's geometry (from the image's partition table for a hard disk) and
/// its drive number.
fn emulation(
    emulated: Emulated,
    hard_disk_mbr: Option<&[u8; 512]>,
) -> Result<(Geometry, EmulatedDrive), PlanError> {
    Ok(match emulated {
        Emulated::Cd => (
            Geometry {
                cyls: 0,
                heads: 0,
                spt: 0,
            },
            EmulatedDrive::FreeCd,
        ),
        Emulated::HardDisk => {
            let geometry = hard_disk_mbr
                .and_then(Geometry::hard_disk)
                .ok_or(PlanError::BadHardDiskImage)?;
            (geometry, EmulatedDrive::HardDisk)
        }
        Emulated::Floppy(geometry) => (geometry, EmulatedDrive::Floppy),
    })
}

/// The equipment word (BDA 0x410) with one more floppy drive (at most 4).
pub fn with_one_more_floppy(equipment: u16) -> u16 {
    if equipment & 1 == 0 {
        (equipment | 1) & !0xC0
    } else {
        let n = ((equipment >> 6) & 3).min(2) + 1;
        (equipment & !0xC0) | (n << 6)
    }
}

/// Where `code_len` bytes of resident code (plus bounce buffer and stack) go below the
/// top of conventional memory the BDA reports (`base_kib`): the segment, the KiB taken,
/// the offsets of the bounce buffer and of the stack top.
fn placement(code_len: usize, base_kib: u16) -> Result<(u16, u16, u16, u16), PlanError> {
    let bounce_at = code_len.next_multiple_of(16);
    let total = bounce_at + BOUNCE_SIZE + STACK_SIZE;
    let (Ok(bounce_offset), Ok(total_len), true) = (
        u16::try_from(bounce_at),
        u16::try_from(total),
        code_len >= PARAMETERS_END,
    ) else {
        return Err(PlanError::BadResidentCode { len: code_len });
    };
    let kib = total.div_ceil(1024) as u16;
    if u32::from(base_kib) < MIN_BASE_KIB + u32::from(kib) || base_kib > MAX_BASE_KIB {
        return Err(PlanError::NoMemory { base_kib });
    }
    let new_kib = base_kib - kib;
    Ok((new_kib * 64, kib, bounce_offset, total_len))
}

/// What stage 2 reads from the machine just before the point of no return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hooks {
    /// The INT 13h vector (offset, segment) the resident handler chains to.
    pub int13: u32,
    /// The INT 15h vector it chains to.
    pub int15: u32,
    /// The first CD drive number the BIOS does not know.
    pub free_cd: u8,
}

impl ResidentPlan {
    /// Linear address of the resident image.
    pub fn address(&self) -> u32 {
        u32::from(self.segment) * 16
    }

    /// Linear address where the memory the emulation takes starts (the overlay's bytes
    /// when there are any, else the resident image): the new end of low RAM.
    pub fn low_top(&self) -> u32 {
        u32::from(self.bda.base_kib) * 1024
    }

    /// The drive number the emulated disk answers as.
    pub fn drive_number(&self, hooks: &Hooks) -> u8 {
        self.drive.number(hooks.free_cd)
    }

    /// Fill the parameter block of the resident image `image` (the copied code). `None`
    /// if `image` is shorter than [`PARAMETERS_END`] (then some fields are not written).
    pub fn write_parameters(&self, image: &mut [u8], hooks: &Hooks) -> Option<()> {
        let table = &self.map.table;
        put_u32(image, R_OLD13, hooks.int13)?;
        put_u32(image, R_OLD15, hooks.int15)?;
        put_u32(image, R_LOW_TOP, self.low_top())?;
        put_u32(image, R_IMAGE_UNIT, self.map.image_unit)?;
        put_u32(image, R_ISO_UNITS, table.iso_units)?;
        put_u32(image, R_EMU_UNITS, self.emu_units)?;
        put_u16(image, R_LOAD_SEG, self.load_segment)?;
        put_u16(image, R_LOAD_COUNT, self.load_count)?;
        *image.get_mut(R_STICK_DRIVE)? = self.stick.drive;
        *image.get_mut(R_SECTOR_SHIFT)? = self.stick.sector_size.trailing_zeros() as u8;
        *image.get_mut(R_EMU_DRIVE)? = self.drive_number(hooks);
        *image.get_mut(R_MEDIA)? = self.media;
        put_u16(image, R_CYLS, self.geometry.cyls)?;
        *image.get_mut(R_HEADS)? = self.geometry.heads;
        *image.get_mut(R_SPT)? = self.geometry.spt;
        put_u16(image, R_EXT_COUNT, table.count as u16)?;
        for (i, e) in table.extents.iter().take(table.count).enumerate() {
            let at = R_EXTENTS + 12 * i;
            put_u32(image, at, e.iso_unit)?;
            put_u32(image, at + 4, e.dev_unit)?;
            put_u32(image, at + 8, e.units)?;
        }
        put_u16(image, R_MEM_COUNT, self.mem.count as u16)?;
        for (i, m) in self.mem.extents.iter().take(self.mem.count).enumerate() {
            let at = R_MEM + 12 * i;
            put_u32(image, at, m.iso_unit)?;
            put_u32(image, at + 4, m.units)?;
            put_u32(image, at + 8, m.segment)?;
        }
        put_u16(image, R_BOUNCE, self.bounce_offset)?;
        put_u16(image, R_STACK_TOP, self.total_len)
    }
}

/// The boot entry's offset in the resident image (from its header).
pub fn boot_offset(image: &[u8]) -> Option<u16> {
    u16_at(image, R_HDR_BOOT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::UnitExtent;
    use bootshelf_index::{BootEntry, Emulation, PlatformId};

    /// Resident code of a plausible size (the real one is about 1.5 KiB).
    const CODE_LEN: usize = 3000;
    /// 3000 rounded to 16, plus bounce buffer and stack: 11 KiB.
    const TOTAL: u16 = 3008 + 4096 + 4096;

    fn image(emulation: Emulation, load_rba: u32, sector_count: u16) -> BootImage {
        BootImage::new(&BootEntry {
            platform: PlatformId::X86,
            emulation,
            bootable: true,
            system_type: 0,
            load_segment: 0,
            sector_count,
            load_rba,
            image_size: 0,
            efi: Default::default(),
        })
        .unwrap()
    }

    /// A 1 MiB ISO in two pieces: 512 KiB at stick byte 4 MiB, then 512 KiB at 1 MiB.
    const ISO_SIZE: u64 = 1 << 20;
    const EXTENTS: [Extent; 2] = [
        Extent {
            start: 4 << 20,
            len: 512 << 10,
        },
        Extent {
            start: 1 << 20,
            len: 512 << 10,
        },
    ];

    const BDA: Bda = Bda {
        base_kib: 639,
        equipment: 0x0026,
        hard_disks: 1,
    };

    const STICK: Stick = Stick {
        drive: 0x80,
        sector_size: 512,
    };

    fn inputs<'a>(image: &'a BootImage, mbr: Option<&'a [u8; 512]>) -> Inputs<'a> {
        Inputs {
            image,
            map: map_iso(image, &EXTENTS, ISO_SIZE).unwrap(),
            iso_size: ISO_SIZE,
            hard_disk_mbr: mbr,
            code_len: CODE_LEN,
            bda: BDA,
            stick: STICK,
            overlay: None,
        }
    }

    /// An MBR whose one partition ends at cylinder 1, head 15, sector 63.
    fn hard_disk_mbr() -> [u8; 512] {
        let mut mbr = [0u8; 512];
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        mbr[0x1BE + 4] = 0x01;
        mbr[0x1BE + 5] = 15;
        mbr[0x1BE + 6] = 63;
        mbr[0x1BE + 7] = 1;
        mbr
    }

    #[test]
    fn no_emulation_cd_goes_below_the_old_top_of_memory() {
        let img = image(Emulation::NONE, 20, 4);
        let p = plan(&inputs(&img, None)).unwrap();
        assert_eq!(
            p,
            ResidentPlan {
                segment: 628 * 64,
                reserved_kib: 11,
                code_len: CODE_LEN,
                bounce_offset: 3008,
                total_len: TOTAL,
                bda: BdaWrites {
                    base_kib: 628,
                    equipment: None,
                    hard_disks: None,
                },
                drive: EmulatedDrive::FreeCd,
                map: IsoMap {
                    table: unit_table(&EXTENTS, ISO_SIZE).unwrap(),
                    image_unit: 80,
                },
                emu_units: 0,
                geometry: Geometry {
                    cyls: 0,
                    heads: 0,
                    spt: 0
                },
                load_segment: DEFAULT_LOAD_SEGMENT,
                load_count: 4,
                media: 0,
                stick: STICK,
                boot_image_bytes: 80 * 512..84 * 512,
                overlay_segment: 0,
                mem: MemTable::default(),
            }
        );
        assert_eq!(p.address(), 628 * 1024);
        let hooks = Hooks {
            int13: 0,
            int15: 0,
            free_cd: 0xE1,
        };
        assert_eq!(p.drive_number(&hooks), 0xE1);
    }

    #[test]
    fn an_overlay_goes_below_the_code_and_is_served_from_memory() {
        let img = image(Emulation::NONE, 20, 4);
        let runs = [
            crate::layout::OverlayRun { lba: 16, count: 1 },
            crate::layout::OverlayRun { lba: 512, count: 2 },
        ];
        let mut i = inputs(&img, None);
        i.overlay = Some(OverlayInputs {
            runs: &runs,
            served_size: ISO_SIZE + 4096,
        });
        let p = plan(&i).unwrap();
        // The code's 11 KiB under the old top (639 KiB), 6 KiB of sectors under it.
        assert_eq!(p.address(), 628 * 1024);
        assert_eq!(p.overlay_segment, 622 * 64);
        assert_eq!(p.bda.base_kib, 622);
        assert_eq!(p.low_top(), 622 * 1024);
        assert_eq!(p.reserved_kib, 17);
        // 2056 units rounded up to a 64-unit block.
        assert_eq!(p.map.table.iso_units, 2048 + 64);
        assert_eq!(p.mem.segment_of(64), Some(622 * 64));
        assert_eq!(p.mem.segment_of(2048), Some(622 * 64 + 4 * 32));
        assert_eq!(p.map.table.dev_unit(64), None);
        assert_eq!(p.map.table.dev_unit(68), Some(8192 + 68));
        let mut code = vec![0u8; CODE_LEN];
        let hooks = Hooks {
            int13: 0,
            int15: 0,
            free_cd: 0xE0,
        };
        p.write_parameters(&mut code, &hooks).unwrap();
        // Two runs and the zero padding up to the 64-unit block.
        assert_eq!(
            u16::from_le_bytes([code[R_MEM_COUNT], code[R_MEM_COUNT + 1]]),
            3
        );
        let big = [crate::layout::OverlayRun { lba: 16, count: 40 }];
        i.overlay = Some(OverlayInputs {
            runs: &big,
            served_size: ISO_SIZE,
        });
        assert_eq!(plan(&i), Err(PlanError::OverlayTooBig { kib: 80 }));
    }

    #[test]
    fn floppy_emulation_adds_a_floppy_to_the_equipment_word() {
        let img = image(Emulation::FLOPPY_1_44M, 20, 1);
        let p = plan(&inputs(&img, None)).unwrap();
        assert_eq!(p.drive, EmulatedDrive::Floppy);
        assert_eq!(p.drive.number(0xE0), 0x00);
        let g = p.geometry;
        assert_eq!((g.cyls, g.heads, g.spt), (80, 2, 18));
        // The ISO has 2048 units; the floppy (2880 units) is cut at the ISO's end.
        assert_eq!(p.emu_units, 2048 - 80);
        assert_eq!(
            p.bda,
            BdaWrites {
                base_kib: 628,
                equipment: Some(0x0027),
                hard_disks: None
            }
        );
    }

    #[test]
    fn equipment_word_counts_up_to_four_floppies() {
        // No floppy: bit 0 set, count 1 (bits 6-7 = 0), other bits kept.
        assert_eq!(with_one_more_floppy(0x00C2), 0x0003);
        assert_eq!(with_one_more_floppy(0x0001), 0x0041);
        assert_eq!(with_one_more_floppy(0x0041), 0x0081);
        assert_eq!(with_one_more_floppy(0x0081), 0x00C1);
        assert_eq!(with_one_more_floppy(0x00C1), 0x00C1);
    }

    #[test]
    fn hard_disk_emulation_takes_its_geometry_from_the_image_and_adds_a_disk() {
        let img = image(Emulation::HARD_DISK, 20, 1);
        let mbr = hard_disk_mbr();
        let p = plan(&inputs(&img, Some(&mbr))).unwrap();
        assert_eq!(p.drive, EmulatedDrive::HardDisk);
        assert_eq!(p.drive.number(0xE0), 0x80);
        let g = p.geometry;
        assert_eq!((g.cyls, g.heads, g.spt), (2, 16, 63));
        // 2 x 16 x 63 = 2016 units, cut at the ISO's end (2048 - 80).
        assert_eq!(p.emu_units, 1968);
        assert_eq!(p.bda.hard_disks, Some(2));
        assert_eq!(p.bda.equipment, None);
        assert_eq!(
            plan(&inputs(&img, Some(&[0; 512]))),
            Err(PlanError::BadHardDiskImage)
        );
        assert_eq!(plan(&inputs(&img, None)), Err(PlanError::BadHardDiskImage));
    }

    #[test]
    fn refusals_are_typed_and_come_before_any_change() {
        let img = image(Emulation::NONE, 20, 4);
        // The image's first sector is past the ISO (1 MiB = 512 ISO sectors).
        assert_eq!(
            map_iso(&image(Emulation::NONE, 512, 4), &EXTENTS, ISO_SIZE),
            Err(PlanError::ImageOutside { rba: 512 })
        );
        assert_eq!(
            map_iso(&img, &EXTENTS[..1], ISO_SIZE),
            Err(PlanError::Layout(LayoutError::ShortExtents {
                covered: 512 << 10,
                size: ISO_SIZE
            }))
        );
        for base_kib in [522, 641] {
            let mut i = inputs(&img, None);
            i.bda.base_kib = base_kib;
            assert_eq!(plan(&i), Err(PlanError::NoMemory { base_kib }));
        }
        let mut i = inputs(&img, None);
        i.bda.base_kib = 523;
        assert!(plan(&i).is_ok());
        // 0x9000:0000 plus 64 KiB reaches past the resident code at 628 KiB.
        let far = BootImage::new(&BootEntry {
            load_segment: 0x9000,
            ..*image(Emulation::NONE, 20, 128).entry()
        })
        .unwrap();
        assert_eq!(
            plan(&inputs(&far, None)),
            Err(PlanError::LoadArea {
                start: 0x90000,
                end: 0xA0000,
                limit: 628 * 1024
            })
        );
        let low = BootImage::new(&BootEntry {
            load_segment: 0x40,
            ..*img.entry()
        })
        .unwrap();
        assert!(matches!(
            plan(&inputs(&low, None)),
            Err(PlanError::LoadArea { start: 0x400, .. })
        ));
        // 6 sectors from ISO sector 511 (unit 2044) end 1 KiB past the ISO's 2048 units.
        let past = image(Emulation::NONE, 511, 6);
        assert_eq!(
            plan(&inputs(&past, None)),
            Err(PlanError::ImagePastEnd { sectors: 6 })
        );
        let mut tiny = inputs(&img, None);
        tiny.code_len = PARAMETERS_END - 1;
        assert_eq!(
            plan(&tiny),
            Err(PlanError::BadResidentCode {
                len: PARAMETERS_END - 1
            })
        );
    }

    #[test]
    fn parameter_block_holds_every_field_at_its_offset() {
        let img = image(Emulation::FLOPPY_1_44M, 20, 1);
        let p = plan(&inputs(&img, None)).unwrap();
        let mut code = vec![0u8; CODE_LEN];
        code[R_HDR_BOOT..R_HDR_BOOT + 2].copy_from_slice(&0x1234u16.to_le_bytes());
        let hooks = Hooks {
            int13: 0xF000_E3FE,
            int15: 0xF000_F859,
            free_cd: 0xE0,
        };
        assert_eq!(p.write_parameters(&mut code, &hooks), Some(()));
        let u16_at = |at: usize| u16::from_le_bytes([code[at], code[at + 1]]);
        let u32_at =
            |at: usize| u32::from_le_bytes([code[at], code[at + 1], code[at + 2], code[at + 3]]);
        assert_eq!(boot_offset(&code), Some(0x1234));
        assert_eq!(u32_at(R_OLD13), 0xF000_E3FE);
        assert_eq!(u32_at(R_OLD15), 0xF000_F859);
        assert_eq!(u32_at(R_LOW_TOP), 628 * 1024);
        assert_eq!(u32_at(R_IMAGE_UNIT), 80);
        assert_eq!(u32_at(R_ISO_UNITS), 2048);
        assert_eq!(u32_at(R_EMU_UNITS), 2048 - 80);
        assert_eq!(u16_at(R_LOAD_SEG), 0x7C0);
        assert_eq!(u16_at(R_LOAD_COUNT), 1);
        assert_eq!(code[R_STICK_DRIVE], 0x80);
        assert_eq!(code[R_SECTOR_SHIFT], 9);
        assert_eq!(code[R_EMU_DRIVE], 0x00);
        assert_eq!(code[R_MEDIA], 2);
        assert_eq!(u16_at(R_CYLS), 80);
        assert_eq!(code[R_HEADS], 2);
        assert_eq!(code[R_SPT], 18);
        assert_eq!(u16_at(R_EXT_COUNT), 2);
        let extent = |i: usize| {
            let at = R_EXTENTS + 12 * i;
            UnitExtent {
                iso_unit: u32_at(at),
                dev_unit: u32_at(at + 4),
                units: u32_at(at + 8),
            }
        };
        assert_eq!(
            [extent(0), extent(1)],
            [
                UnitExtent {
                    iso_unit: 0,
                    dev_unit: 8192,
                    units: 1024
                },
                UnitExtent {
                    iso_unit: 1024,
                    dev_unit: 2048,
                    units: 1024
                }
            ]
        );
        assert!(code[R_EXTENTS + 24..R_BOUNCE].iter().all(|&b| b == 0));
        assert_eq!(u16_at(R_BOUNCE), 3008);
        assert_eq!(u16_at(R_STACK_TOP), TOTAL);
        // A 4Kn stick: shift 12.
        let mut p4k = p.clone();
        p4k.stick.sector_size = 4096;
        p4k.write_parameters(&mut code, &hooks).unwrap();
        assert_eq!(code[R_SECTOR_SHIFT], 12);
        assert_eq!(p.write_parameters(&mut code[..100], &hooks), None);
    }

    #[test]
    fn offsets_match_the_resident_assembly() {
        let asm = include_str!("asm/resident.s");
        let set = |name: &str| {
            asm.lines()
                .find_map(|l| {
                    let rest = l.trim().strip_prefix(".set ")?;
                    let (n, v) = rest.split_once(',')?;
                    let v = v.split('#').next()?.trim();
                    (n.trim() == name).then(|| v.parse::<usize>().ok())?
                })
                .unwrap_or_else(|| panic!("{name} not in resident.s"))
        };
        for (name, value) in [
            ("R_HDR_BOOT", R_HDR_BOOT),
            ("R_OLD13", R_OLD13),
            ("R_IMAGE_UNIT", R_IMAGE_UNIT),
            ("R_ISO_UNITS", R_ISO_UNITS),
            ("R_EMU_UNITS", R_EMU_UNITS),
            ("R_LOAD_SEG", R_LOAD_SEG),
            ("R_LOAD_COUNT", R_LOAD_COUNT),
            ("R_STICK_DRIVE", R_STICK_DRIVE),
            ("R_SECTOR_SHIFT", R_SECTOR_SHIFT),
            ("R_EMU_DRIVE", R_EMU_DRIVE),
            ("R_MEDIA", R_MEDIA),
            ("R_CYLS", R_CYLS),
            ("R_HEADS", R_HEADS),
            ("R_SPT", R_SPT),
            ("R_EXT_COUNT", R_EXT_COUNT),
            ("R_EXTENTS", R_EXTENTS),
            ("R_BOUNCE", R_BOUNCE),
            ("R_STACK_TOP", R_STACK_TOP),
            ("R_OLD15", R_OLD15),
            ("R_LOW_TOP", R_LOW_TOP),
            ("R_MEM_COUNT", R_MEM_COUNT),
            ("R_MEM", R_MEM),
            ("R_PARAMS_END", PARAMETERS_END),
        ] {
            assert_eq!(set(name), value, "{name}");
        }
        // The extent table ends where the next field starts.
        assert_eq!(R_EXTENTS + 12 * crate::layout::MAX_EXTENTS, set("R_DAP"));
    }
}
