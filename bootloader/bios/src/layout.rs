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

/// Memory extents the resident table holds (kernel options' replaced sectors).
pub const MAX_MEM_EXTENTS: usize = 8;

/// ISO units served from conventional memory instead of the stick: the overlay of
/// kernel options (crates/overlay), copied below the resident code; or zeros
/// (`segment` 0) padding the ISO as served to a whole number of 32 KiB blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemExtent {
    /// First unit in the ISO (may lie past its end: sectors the overlay adds).
    pub iso_unit: u32,
    /// Length in units.
    pub units: u32,
    /// Real-mode segment of its first unit (unit `k` is at `segment + 32 k`); 0: the
    /// units read as zeros.
    pub segment: u32,
}

/// The memory extents, used by the resident code before the stick's extents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemTable {
    /// The extents; only the first `count` are used.
    pub extents: [MemExtent; MAX_MEM_EXTENTS],
    /// How many are used.
    pub count: usize,
}

/// A run of replaced 2048-byte ISO sectors, their bytes back to back in the overlay's
/// memory in run order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverlayRun {
    /// First ISO sector.
    pub lba: u32,
    /// Sectors.
    pub count: u32,
}

/// Units a loader reads at once: GRUB reads 32 KiB blocks (64 units) aligned to 32 KiB
/// and, on a CD whose size it does not know, fails on a block reaching past the end.
pub const BLOCK_UNITS: u32 = 64;

/// Serve `runs` from memory at real-mode `segment` (the overlay's bytes, runs back to
/// back): the memory table, and `table` with those units cut out of its stick extents
/// (so that no stick extent overlaps memory and the resident code's first match is the
/// only one) and its size grown to `served_units`. When that grows the ISO, the served
/// size is rounded up to [`BLOCK_UNITS`] with units reading as zeros, so that a block
/// read holding the added sectors does not fail (one more memory extent, no memory).
pub fn with_overlay(
    table: &UnitTable,
    runs: &[OverlayRun],
    segment: u16,
    served_units: u32,
) -> Result<(UnitTable, MemTable), LayoutError> {
    let grows = served_units > table.iso_units;
    if runs.len() + usize::from(grows) > MAX_MEM_EXTENTS {
        return Err(LayoutError::TooManyExtents {
            count: table.count + runs.len(),
        });
    }
    let mut mem = MemTable::default();
    let mut offset_units: u32 = 0;
    let mut ranges: [(u32, u32); MAX_MEM_EXTENTS] = [(0, 0); MAX_MEM_EXTENTS];
    for (i, r) in runs.iter().enumerate() {
        let too_big = LayoutError::TooLarge {
            size: u64::from(r.lba) * 2048,
        };
        let start = r.lba.checked_mul(4).ok_or(too_big)?;
        let units = r.count.checked_mul(4).ok_or(too_big)?;
        start.checked_add(units).ok_or(too_big)?;
        mem.extents[i] = MemExtent {
            iso_unit: start,
            units,
            segment: u32::from(segment) + offset_units * 32,
        };
        ranges[i] = (start, start + units);
        offset_units = offset_units.checked_add(units).ok_or(too_big)?;
    }
    mem.count = runs.len();
    let mut iso_units = table.iso_units.max(served_units);
    if grows {
        let padded = iso_units
            .checked_next_multiple_of(BLOCK_UNITS)
            .unwrap_or(iso_units);
        if padded > iso_units {
            mem.extents[mem.count] = MemExtent {
                iso_unit: iso_units,
                units: padded - iso_units,
                segment: 0,
            };
            mem.count += 1;
            iso_units = padded;
        }
    }
    let mut out = UnitTable {
        extents: [UnitExtent::default(); MAX_EXTENTS],
        count: 0,
        iso_units,
    };
    let mut push = |e: UnitExtent| -> Result<(), LayoutError> {
        if e.units == 0 {
            return Ok(());
        }
        let slot = out
            .extents
            .get_mut(out.count)
            .ok_or(LayoutError::TooManyExtents {
                count: MAX_EXTENTS + 1,
            })?;
        *slot = e;
        out.count += 1;
        Ok(())
    };
    for e in &table.extents[..table.count] {
        // Cut every memory range out of [iso_unit, iso_unit + units), in ISO order.
        let mut pieces: [(u32, u32); MAX_MEM_EXTENTS + 1] = [(0, 0); MAX_MEM_EXTENTS + 1];
        pieces[0] = (e.iso_unit, e.iso_unit + e.units);
        let mut n = 1;
        for &(ms, me) in &ranges[..runs.len()] {
            let mut next: [(u32, u32); MAX_MEM_EXTENTS + 1] = [(0, 0); MAX_MEM_EXTENTS + 1];
            let mut k = 0;
            for &(ps, pe) in &pieces[..n] {
                for (a, b) in [(ps, pe.min(ms)), (ps.max(me), pe)] {
                    if a < b && k < next.len() {
                        next[k] = (a, b);
                        k += 1;
                    }
                }
            }
            pieces = next;
            n = k;
        }
        for &(a, b) in &pieces[..n] {
            push(UnitExtent {
                iso_unit: a,
                dev_unit: e.dev_unit + (a - e.iso_unit),
                units: b - a,
            })?;
        }
    }
    Ok((out, mem))
}

impl MemTable {
    /// The segment holding ISO unit `unit` when memory serves it (0: it reads as zeros).
    pub fn segment_of(&self, unit: u32) -> Option<u32> {
        self.extents[..self.count].iter().find_map(|m| {
            let off = unit.checked_sub(m.iso_unit)?;
            (off < m.units).then_some(if m.segment == 0 {
                0
            } else {
                m.segment + off * 32
            })
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
    fn overlay_runs_are_cut_out_of_the_stick_extents() {
        // 16 KiB ISO (32 units) in two pieces; sector 1 and sectors 7-8 (one past the
        // end) replaced.
        let t = unit_table(&[ext(1 << 20, 8192), ext(4 << 20, 8192)], 16384).unwrap();
        let runs = [
            OverlayRun { lba: 1, count: 1 },
            OverlayRun { lba: 7, count: 2 },
        ];
        let (s, m) = with_overlay(&t, &runs, 0x9000, 36).unwrap();
        // 36 units rounded up to a 64-unit block, the padding reading as zeros.
        assert_eq!(s.iso_units, 64);
        assert_eq!(m.count, 3);
        assert_eq!(
            m.extents[2],
            MemExtent {
                iso_unit: 36,
                units: 28,
                segment: 0
            }
        );
        assert_eq!(m.segment_of(40), Some(0));
        assert_eq!(m.segment_of(4), Some(0x9000));
        assert_eq!(m.segment_of(7), Some(0x9000 + 3 * 32));
        assert_eq!(m.segment_of(28), Some(0x9000 + 4 * 32));
        assert_eq!(m.segment_of(35), Some(0x9000 + 11 * 32));
        assert_eq!(m.segment_of(8), None);
        for unit in 0..64 {
            let mem = m.segment_of(unit).is_some();
            let stick = s.dev_unit(unit);
            assert_eq!(mem, stick.is_none(), "unit {unit}");
            if let Some(d) = stick {
                assert_eq!(Some(d), t.dev_unit(unit));
            }
        }
        let nine = [OverlayRun { lba: 0, count: 1 }; MAX_MEM_EXTENTS + 1];
        assert!(with_overlay(&t, &nine, 0x9000, 32).is_err());
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
