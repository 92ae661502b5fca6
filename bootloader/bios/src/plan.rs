//! The boot plan record: an optional 0x100 bytes at offset 0x10 of stage 2 naming one ISO
//! (its extents on the stick) to boot at once, without discovery or menu. All zero in the
//! stage 2 that `bootshelf install` writes; tests patch it to exercise the INT 13h
//! emulation on sticks made without the CLI.
//!
//! Layout (little endian): `+0x00 "BSPL"`, `+0x04 u32 extent count (1..=14)`,
//! `+0x08 u64 ISO size in bytes`, `+0x10 14 x { u64 start, u64 len }` (device bytes).

use crate::le::{u32_at, u64_at};
use blockdev::Extent;

/// Offset of the record in stage 2.
pub const PLAN_OFFSET: usize = 0x10;
/// Size of the record.
pub const PLAN_LEN: usize = 0x100;
/// Extents a plan holds.
pub const MAX_PLAN_EXTENTS: usize = 14;

/// A decoded plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The ISO's extents in device bytes.
    pub extents: [Extent; MAX_PLAN_EXTENTS],
    /// How many of `extents` are used.
    pub count: usize,
    /// ISO size in bytes.
    pub size: u64,
}

impl Plan {
    /// Decode a record; `None` when it is absent (no `BSPL`) or its count is out of range.
    pub fn decode(raw: &[u8; PLAN_LEN]) -> Option<Plan> {
        if &raw[..4] != b"BSPL" {
            return None;
        }
        let count = usize::try_from(u32_at(raw, 4)?).ok()?;
        if count == 0 || count > MAX_PLAN_EXTENTS {
            return None;
        }
        let mut extents = [Extent::default(); MAX_PLAN_EXTENTS];
        for (i, e) in extents.iter_mut().take(count).enumerate() {
            e.start = u64_at(raw, 0x10 + 16 * i)?;
            e.len = u64_at(raw, 0x18 + 16 * i)?;
        }
        Some(Plan {
            extents,
            count,
            size: u64_at(raw, 8)?,
        })
    }

    /// The used extents.
    pub fn extents(&self) -> &[Extent] {
        &self.extents[..self.count]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_record_is_no_plan() {
        assert_eq!(Plan::decode(&[0; PLAN_LEN]), None);
    }

    #[test]
    fn decodes_extents_and_size() {
        let mut raw = [0u8; PLAN_LEN];
        raw[..4].copy_from_slice(b"BSPL");
        raw[4..8].copy_from_slice(&2u32.to_le_bytes());
        raw[8..16].copy_from_slice(&5000u64.to_le_bytes());
        raw[0x10..0x18].copy_from_slice(&(3u64 << 20).to_le_bytes());
        raw[0x18..0x20].copy_from_slice(&4096u64.to_le_bytes());
        raw[0x20..0x28].copy_from_slice(&(1u64 << 20).to_le_bytes());
        raw[0x28..0x30].copy_from_slice(&1024u64.to_le_bytes());
        let p = Plan::decode(&raw).unwrap();
        assert_eq!(p.size, 5000);
        assert_eq!(
            p.extents(),
            &[
                Extent {
                    start: 3 << 20,
                    len: 4096
                },
                Extent {
                    start: 1 << 20,
                    len: 1024
                }
            ]
        );
        raw[4..8].copy_from_slice(&15u32.to_le_bytes());
        assert_eq!(Plan::decode(&raw), None);
    }
}
