//! The heap of stage 2: a bump allocator over the largest usable RAM range above 1 MiB
//! that the BIOS memory map (INT 15h E820h) reports, clipped to the identity-mapped
//! first GiB. Freeing the most recent allocation gives it back, so the grow-by-doubling
//! `Vec`s of the parsers reuse their space; anything else is reclaimed when the booted
//! system takes over the memory.

use crate::bios::{self, Regs, BOUNCE};
use bootshelf_bios::le;
use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;

const HEAP_FLOOR: u64 = 0x20_0000;
const MAPPED_TOP: u64 = 0x4000_0000;

struct Bump {
    state: UnsafeCell<(usize, usize, usize)>, // (next, end, last allocation start)
}

// SAFETY: stage 2 is single-threaded and takes no interrupts in long mode.
unsafe impl Sync for Bump {}

#[global_allocator]
static HEAP: Bump = Bump {
    state: UnsafeCell::new((0, 0, 0)),
};

// SAFETY: allocations are disjoint ranges of [next, end), aligned as asked; the region
// is RAM nobody else uses while stage 2 runs.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: single-threaded (see `Sync`); no other reference to the state lives.
        let s = unsafe { &mut *self.state.get() };
        let start = s.0.next_multiple_of(layout.align().max(8));
        match start.checked_add(layout.size()) {
            Some(end) if end <= s.1 => {
                s.0 = end;
                s.2 = start;
                start as *mut u8
            }
            _ => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        let s = unsafe { &mut *self.state.get() };
        if ptr as usize == s.2 && s.2 + layout.size() == s.0 {
            s.0 = s.2;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `alloc`.
        let s = unsafe { &mut *self.state.get() };
        if ptr as usize == s.2 && s.2 + layout.size() == s.0 {
            if let Some(end) = s.2.checked_add(new_size) {
                if end <= s.1 {
                    s.0 = end;
                    return ptr;
                }
            }
        }
        // SAFETY: `new_size` with the old alignment is a valid layout (GlobalAlloc's
        // contract for realloc); the copy stays inside both blocks.
        unsafe {
            let new = self.alloc(Layout::from_size_align_unchecked(new_size, layout.align()));
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            }
            new
        }
    }
}

/// Why there is no heap.
#[derive(Debug, Clone, Copy)]
pub struct NoMemory {
    /// Bytes of the largest range found.
    pub largest: u64,
}

/// Find the heap with INT 15h E820h and set the allocator up. Returns its size in bytes.
pub fn init() -> Result<u64, NoMemory> {
    let (seg, off) = BOUNCE.seg_off();
    let mut best = (0u64, 0u64);
    let mut cont = 0u32;
    for _ in 0..64 {
        let mut r = Regs {
            eax: 0xE820,
            ebx: cont,
            ecx: 24,
            edx: 0x534D_4150,
            edi: u32::from(off),
            es: seg,
            ..Regs::default()
        };
        bios::int(0x15, &mut r);
        if r.carry() || r.eax != 0x534D_4150 {
            break;
        }
        let b = BOUNCE.bytes();
        // E820h entry: u64 base, u64 length, u32 type (the buffer is far longer; a type
        // of 0 is not usable RAM).
        let base = le::u64_at(b, 0).unwrap_or(0);
        let len = le::u64_at(b, 8).unwrap_or(0);
        let kind = le::u32_at(b, 16).unwrap_or(0);
        if kind == 1 {
            let start = base.max(HEAP_FLOOR);
            let end = base.saturating_add(len).min(MAPPED_TOP);
            if end > start && end - start > best.1 - best.0 {
                best = (start, end);
            }
        }
        cont = r.ebx;
        if cont == 0 {
            break;
        }
    }
    let size = best.1 - best.0;
    if size < 16 * 1024 * 1024 {
        return Err(NoMemory { largest: size });
    }
    // SAFETY: called once, before any allocation.
    unsafe { *HEAP.state.get() = (best.0 as usize, best.1 as usize, 0) };
    Ok(size)
}
