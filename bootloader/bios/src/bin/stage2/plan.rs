//! The boot plan patched into this stage 2, if any (format: `bootshelf_bios::plan`).

use bootshelf_bios::plan::{Plan, PLAN_LEN};

extern "C" {
    static stage2_plan: [u8; PLAN_LEN];
}

/// The plan patched into this stage 2, if any.
pub fn read() -> Option<Plan> {
    // SAFETY: stage2_plan is a 0x100-byte array in stage 2's image (asm/stage2_entry.s),
    // only read here; volatile because a patched binary changes it behind the compiler.
    let raw: [u8; PLAN_LEN] = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(stage2_plan)) };
    Plan::decode(&raw)
}
