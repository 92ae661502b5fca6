//! How one ISO is laid out for the resident INT 13h emulation: its device extents as a
//! table of 512-byte units (what the 16-bit code walks), and the geometry of an emulated
//! floppy or hard disk.

use blockdev::Extent;
use bootshelf_index::Emulation;
use partition_raw::MbrSector;

/// Extents the resident table holds.
pub const MAX_EXTENTS: usize = 32;

/// One extent in 512-byte units: ISO units `[iso_unit, iso_unit + units)` are stick
/// units `[dev_unit, dev_unit + units)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UnitExtent {
    /// First unit in the ISO.
    pub iso_unit: u32,
    /// First unit on the stick (device byte offset / 512).
    pub dev_unit: u32,
    /// Length in units.
    pub units: u32,
}

/// The ISO as the resident code sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitTable {
    /// The extents; only the first `count` are used.
    pub extents: [UnitExtent; MAX_EXTENTS],
    /// How many extents are used.
    pub count: usize,
    /// Size of the ISO in units (rounded up).
    pub iso_units: u32,
}

/// Why an ISO cannot be mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// More extents than [`MAX_EXTENTS`].
    TooManyExtents {
        /// The ISO's extent count.
        count: usize,
    },
    /// An extent is not 512-byte aligned (only the last may end unaligned), or lies
    /// beyond 2 TiB.
    BadExtent {
        /// Device byte offset of the extent.
        start: u64,
        /// Its length.
        len: u64,
    },
    /// The extents cover less than the ISO's size.
    ShortExtents {
        /// Bytes the extents cover.
        covered: u64,
        /// The ISO's size.
        size: u64,
    },
    /// The ISO is 2 TiB or larger.
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
}

impl core::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            LayoutError::TooManyExtents { count } => write!(
                f,
                "the ISO is in {count} pieces; at most {MAX_EXTENTS} are supported (run `bootshelf sync`)"
            ),
            LayoutError::BadExtent { start, len } => write!(
                f,
                "ISO piece at byte {start} ({len} bytes) is not 512-byte aligned or beyond 2 TiB"
            ),
            LayoutError::ShortExtents { covered, size } => {
                write!(f, "the ISO's pieces cover {covered} of its {size} bytes")
            }
            LayoutError::TooLarge { size } => write!(f, "the ISO ({size} bytes) is 2 TiB or larger"),
        }
    }
}

/// Map `extents` (device bytes, in file order) of an ISO of `iso_size` bytes to units.
pub fn unit_table(extents: &[Extent], iso_size: u64) -> Result<UnitTable, LayoutError> {
    if extents.len() > MAX_EXTENTS {
        return Err(LayoutError::TooManyExtents {
            count: extents.len(),
        });
    }
    let iso_units = u32::try_from(iso_size.div_ceil(512))
        .map_err(|_| LayoutError::TooLarge { size: iso_size })?;
    let mut table = UnitTable {
        extents: [UnitExtent::default(); MAX_EXTENTS],
        count: extents.len(),
        iso_units,
    };
    let mut iso_unit: u64 = 0;
    let mut covered: u64 = 0;
    for (i, (slot, e)) in table.extents.iter_mut().zip(extents).enumerate() {
        let bad = LayoutError::BadExtent {
            start: e.start,
            len: e.len,
        };
        let last = i + 1 == extents.len();
        if e.start % 512 != 0 || (!last && e.len % 512 != 0) {
            return Err(bad);
        }
        let dev = u32::try_from(e.start / 512).map_err(|_| bad)?;
        let units = u32::try_from(e.len.div_ceil(512)).map_err(|_| bad)?;
        u32::try_from(u64::from(dev) + u64::from(units)).map_err(|_| bad)?;
        *slot = UnitExtent {
            iso_unit: u32::try_from(iso_unit).map_err(|_| bad)?,
            dev_unit: dev,
            units,
        };
        iso_unit += u64::from(units);
        covered = covered.saturating_add(e.len);
    }
    if covered < iso_size {
        return Err(LayoutError::ShortExtents {
            covered,
            size: iso_size,
        });
    }
    Ok(table)
}

impl UnitTable {
    /// The stick unit holding ISO unit `unit`, as the resident code finds it.
    pub fn dev_unit(&self, unit: u32) -> Option<u32> {
        self.extents[..self.count].iter().find_map(|e| {
            let off = unit.checked_sub(e.iso_unit)?;
            (off < e.units).then(|| e.dev_unit + off)
        })
    }
}

/// Cylinders, heads and sectors per track of an emulated disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Cylinders.
    pub cyls: u16,
    /// Heads.
    pub heads: u8,
    /// Sectors per track.
    pub spt: u8,
}

impl Geometry {
    /// Sectors of 512 bytes.
    pub fn units(&self) -> u32 {
        u32::from(self.cyls) * u32::from(self.heads) * u32::from(self.spt)
    }

    /// The fixed geometry of an emulated floppy (El Torito: 1.2 MB 80x2x15, 1.44 MB
    /// 80x2x18, 2.88 MB 80x2x36); `None` for other emulation types.
    pub fn floppy(emulation: Emulation) -> Option<Geometry> {
        let spt = match emulation {
            Emulation::FLOPPY_1_2M => 15,
            Emulation::FLOPPY_1_44M => 18,
            Emulation::FLOPPY_2_88M => 36,
            _ => return None,
        };
        Some(Geometry {
            cyls: 80,
            heads: 2,
            spt,
        })
    }

    /// The geometry of a hard-disk emulation image, from its MBR: heads and sectors from
    /// the end CHS of the partition reaching furthest, cylinders up to that end (what the
    /// El Torito specification asks). `None` without a 55AAh signature or a usable entry.
    pub fn hard_disk(mbr: &[u8; 512]) -> Option<Geometry> {
        let mbr = MbrSector::from_bytes(mbr);
        if !mbr.has_signature() {
            return None;
        }
        let mut best: Option<Geometry> = None;
        for r in mbr.partition_record.iter().filter(|r| !r.is_unused()) {
            let end = r.ending();
            if end.sector == 0 || end.head == 0xFF {
                continue;
            }
            let g = Geometry {
                cyls: end.cylinder + 1,
                heads: end.head + 1,
                spt: end.sector,
            };
            if best.is_none_or(|b| g.cyls > b.cyls) {
                best = Some(g);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ext(start: u64, len: u64) -> Extent {
        Extent { start, len }
    }

    #[test]
    fn contiguous_iso_is_one_unit_extent() {
        let t = unit_table(&[ext(2 << 20, 4096)], 4096).unwrap();
        assert_eq!(t.count, 1);
        assert_eq!(t.iso_units, 8);
        assert_eq!(
            t.extents[0],
            UnitExtent {
                iso_unit: 0,
                dev_unit: 4096,
                units: 8
            }
        );
        assert_eq!(t.dev_unit(7), Some(4103));
        assert_eq!(t.dev_unit(8), None);
    }

    #[test]
    fn fragments_map_in_file_order() {
        let t = unit_table(&[ext(1_048_576, 2048), ext(512, 1024)], 3072).unwrap();
        assert_eq!(t.dev_unit(0), Some(2048));
        assert_eq!(t.dev_unit(3), Some(2051));
        assert_eq!(t.dev_unit(4), Some(1));
        assert_eq!(t.dev_unit(5), Some(2));
        assert_eq!(t.dev_unit(6), None);
    }

    #[test]
    fn only_the_last_extent_may_end_unaligned() {
        let t = unit_table(&[ext(0, 1024), ext(4096, 100)], 1124).unwrap();
        assert_eq!(t.extents[1].units, 1);
        assert_eq!(
            unit_table(&[ext(0, 1000), ext(4096, 1024)], 2024),
            Err(LayoutError::BadExtent {
                start: 0,
                len: 1000
            })
        );
        assert_eq!(
            unit_table(&[ext(100, 1024)], 1024),
            Err(LayoutError::BadExtent {
                start: 100,
                len: 1024
            })
        );
    }

    #[test]
    fn limits_are_errors_not_wraps() {
        let many = [ext(0, 512); MAX_EXTENTS + 1];
        assert_eq!(
            unit_table(&many, 512),
            Err(LayoutError::TooManyExtents { count: 33 })
        );
        assert_eq!(
            unit_table(&[ext(2 << 40, 512)], 512),
            Err(LayoutError::BadExtent {
                start: 2 << 40,
                len: 512
            })
        );
        assert_eq!(
            unit_table(&[ext(0, 512)], 4 << 40),
            Err(LayoutError::TooLarge { size: 4 << 40 })
        );
        assert_eq!(
            unit_table(&[ext(0, 512)], 1024),
            Err(LayoutError::ShortExtents {
                covered: 512,
                size: 1024
            })
        );
    }

    #[test]
    fn floppy_geometries() {
        assert_eq!(
            Geometry::floppy(Emulation::FLOPPY_1_44M).unwrap().units(),
            2880
        );
        assert_eq!(
            Geometry::floppy(Emulation::FLOPPY_1_2M).unwrap().units(),
            2400
        );
        assert_eq!(
            Geometry::floppy(Emulation::FLOPPY_2_88M).unwrap().units(),
            5760
        );
        assert_eq!(Geometry::floppy(Emulation::HARD_DISK), None);
    }

    #[test]
    fn hard_disk_geometry_from_end_chs() {
        let mut mbr = [0u8; 512];
        assert_eq!(Geometry::hard_disk(&mbr), None);
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        assert_eq!(Geometry::hard_disk(&mbr), None);
        // Type 01h, end head 15, sector 63, cylinder 0x101 (high bits in the sector byte).
        mbr[0x1BE..0x1CE].copy_from_slice(&[
            0x80,
            1,
            1,
            0,
            0x01,
            15,
            0x40 | 63,
            0x01,
            63,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ]);
        assert_eq!(
            Geometry::hard_disk(&mbr),
            Some(Geometry {
                cyls: 0x102,
                heads: 16,
                spt: 63
            })
        );
    }
}
