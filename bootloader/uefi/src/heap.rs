//! The loader's global allocator: size-class free lists carved from 2 MiB chunks of
//! pages, with the firmware's pool allocator behind it for large blocks.
//!
//! Every `AllocatePool`/`FreePool` is a boot-service call (TPL raise and restore, pool
//! bookkeeping). Discovery of 1000 indexed ISOs makes about 40 000 small allocations;
//! through the pool allocator that alone took over 100 ms under QEMU/TCG. Blocks of up to
//! 4 KiB come from here instead: a free-list pop or a bump of a pointer.
//!
//! UEFI runs one thread; the lock only guards against re-entry (a firmware callback of
//! ours allocating while the loader is inside the allocator): a caller that finds it taken
//! is served by the firmware allocator instead of waiting.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicBool, Ordering};
use uefi::allocator::Allocator as FirmwareAllocator;
use uefi::boot::{self, AllocateType, MemoryType};

/// Size classes: 16, 32, ..., 4096 bytes.
const MIN_CLASS_SHIFT: u32 = 4;
const MAX_CLASS_SHIFT: u32 = 12;
const CLASSES: usize = (MAX_CLASS_SHIFT - MIN_CLASS_SHIFT + 1) as usize;
/// Bytes per chunk of pages taken from the firmware.
const CHUNK: usize = 2 * 1024 * 1024;
/// Chunks at most (128 MiB).
const MAX_CHUNKS: usize = 64;

struct State {
    /// Head of the free list of each class (a freed block holds the next pointer).
    free: [*mut u8; CLASSES],
    /// Bump pointer and end of the current chunk.
    next: usize,
    end: usize,
    /// Start address of every chunk, to recognise our blocks on free.
    chunks: [usize; MAX_CHUNKS],
    chunk_count: usize,
}

/// The global allocator.
pub struct Heap {
    busy: AtomicBool,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only touched by the holder of `busy` (acquired with compare_exchange).
unsafe impl Sync for Heap {}

#[global_allocator]
static HEAP: Heap = Heap {
    busy: AtomicBool::new(false),
    state: UnsafeCell::new(State {
        free: [ptr::null_mut(); CLASSES],
        next: 0,
        end: 0,
        chunks: [0; MAX_CHUNKS],
        chunk_count: 0,
    }),
};

/// The class index for a layout, or `None` when it is too large for the classes.
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_CLASS_SHIFT);
    let shift = size.next_power_of_two().trailing_zeros();
    (shift <= MAX_CLASS_SHIFT).then(|| (shift - MIN_CLASS_SHIFT) as usize)
}

impl State {
    fn owns(&self, p: usize) -> bool {
        self.chunks
            .iter()
            .take(self.chunk_count)
            .any(|&c| p >= c && p < c + CHUNK)
    }

    fn alloc(&mut self, class: usize) -> *mut u8 {
        let head = self.free[class];
        if !head.is_null() {
            // SAFETY: a non-null head is a block of this class we handed out and got back;
            // its first word holds the next free block.
            self.free[class] = unsafe { head.cast::<*mut u8>().read() };
            return head;
        }
        let size = 1usize << (class as u32 + MIN_CLASS_SHIFT);
        let start = self.next.next_multiple_of(size);
        if start + size > self.end && !self.new_chunk() {
            return ptr::null_mut();
        }
        let start = self.next.next_multiple_of(size);
        self.next = start + size;
        start as *mut u8
    }

    fn new_chunk(&mut self) -> bool {
        if self.chunk_count == MAX_CHUNKS || !boot_services_active() {
            return false;
        }
        match boot::allocate_pages(
            AllocateType::AnyPages,
            MemoryType::LOADER_DATA,
            CHUNK / 4096,
        ) {
            Ok(p) => {
                let base = p.as_ptr() as usize;
                self.chunks[self.chunk_count] = base;
                self.chunk_count += 1;
                self.next = base;
                self.end = base + CHUNK;
                true
            }
            Err(_) => false,
        }
    }

    /// Put `p` (one of ours) back on its class's list.
    fn free_checked(&mut self, p: *mut u8, layout: Layout) {
        if let Some(class) = class_of(layout) {
            self.free(p, class);
        }
    }

    fn free(&mut self, p: *mut u8, class: usize) {
        // SAFETY: `p` is a block of at least 16 bytes (the smallest class) that the caller
        // gives back; it stays ours and holds the list link until handed out again.
        unsafe { p.cast::<*mut u8>().write(self.free[class]) };
        self.free[class] = p;
    }
}

/// Whether boot services can still be called (always, while the loader runs: it never
/// exits them itself).
fn boot_services_active() -> bool {
    uefi::table::system_table_raw().is_some()
}

impl Heap {
    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        if self
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return None;
        }
        // SAFETY: we hold `busy`, so nobody else has a reference to the state.
        let r = f(unsafe { &mut *self.state.get() });
        self.busy.store(false, Ordering::Release);
        Some(r)
    }
}

// SAFETY: blocks are handed out once until freed, are at least `layout.size()` bytes and
// aligned to their class size (a power of two >= the layout's alignment, carved at
// multiples of it); everything else goes to the firmware allocator, and `dealloc` sends
// each pointer back to whoever made it (ours if it lies in one of our chunks).
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(class) = class_of(layout) {
            if let Some(p) = self.with(|s| s.alloc(class)) {
                if !p.is_null() {
                    return p;
                }
            }
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { FirmwareAllocator.alloc(layout) }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        let ours = match self.with(|s| s.owns(p as usize).then(|| s.free_checked(p, layout))) {
            Some(owned) => owned.is_some(),
            // Re-entered while the allocator is busy (cannot happen in the loader's
            // single-threaded flow): keep a block that may be ours rather than touch the
            // lists; only hand the firmware what is surely its own.
            None => class_of(layout).is_some(),
        };
        if ours {
            return;
        }
        // SAFETY: not one of ours, so the firmware allocator made it with this layout.
        unsafe { FirmwareAllocator.dealloc(p, layout) }
    }
}
