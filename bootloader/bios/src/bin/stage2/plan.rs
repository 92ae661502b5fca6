//! The boot plan: an optional record at offset 0x10 of stage 2 naming one ISO (its extents
//! on the stick) to boot straight away, without discovery or menu. All zero in the
//! stage 2 that `bootshelf install` writes; tests patch it to exercise the INT 13h
//! emulation on sticks made without the CLI.
//!
//! Layout (little endian): `+0x00 "BSPL"`, `+0x04 u32 extent count (1..=14)`,
//! `+0x08 u64 ISO size in bytes`, `+0x10 14 x { u64 start, u64 len }` (device bytes).

use blockdev::Extent;

extern "C" {
    static stage2_plan: [u8; 0x100];
}

/// Extents a plan holds.
pub const MAX_PLAN_EXTENTS: usize = 14;

/// A decoded plan.
pub struct Plan {
    /// The ISO's extents in device bytes.
    pub extents: [Extent; MAX_PLAN_EXTENTS],
    /// How many of `extents` are used.
    pub count: usize,
    /// ISO size in bytes.
    pub size: u64,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        v.copy_from_slice(s);
    }
    u64::from_le_bytes(v)
}

/// The plan patched into this stage 2, if any.
pub fn read() -> Option<Plan> {
    // SAFETY: stage2_plan is a 0x100-byte array in stage 2's image, only read here.
    let raw: [u8; 0x100] = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(stage2_plan)) };
    if &raw[..4] != b"BSPL" {
        return None;
    }
    let count = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
    if count == 0 || count > MAX_PLAN_EXTENTS {
        return None;
    }
    let mut extents = [Extent::default(); MAX_PLAN_EXTENTS];
    for (i, e) in extents.iter_mut().take(count).enumerate() {
        e.start = u64_at(&raw, 0x10 + 16 * i);
        e.len = u64_at(&raw, 0x18 + 16 * i);
    }
    Some(Plan {
        extents,
        count,
        size: u64_at(&raw, 8),
    })
}
