//! Calls into the BIOS from long mode: the real-mode thunk (`asm/stage2_entry.s`) and a
//! bounce buffer below 1 MiB for the data BIOS services read and write.

use core::cell::UnsafeCell;

/// Registers passed to and returned from a BIOS interrupt; laid out as the thunk expects
/// (`thunk_regs` in `asm/stage2_entry.s`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Regs {
    /// EAX.
    pub eax: u32,
    /// EBX.
    pub ebx: u32,
    /// ECX.
    pub ecx: u32,
    /// EDX.
    pub edx: u32,
    /// ESI.
    pub esi: u32,
    /// EDI.
    pub edi: u32,
    /// EBP.
    pub ebp: u32,
    /// DS.
    pub ds: u16,
    /// ES.
    pub es: u16,
    /// EFLAGS after the call (ignored on input).
    pub eflags: u32,
}

const _: () = assert!(core::mem::size_of::<Regs>() == 36);

impl Regs {
    /// Whether the call set the carry flag (the BIOS convention for failure).
    pub fn carry(&self) -> bool {
        self.eflags & 1 != 0
    }
    /// AH after the call.
    pub fn ah(&self) -> u8 {
        (self.eax >> 8) as u8
    }
}

extern "sysv64" {
    fn bios_int(int_no: u8, regs: *mut Regs);
    fn bios_jump_resident(segment: u16, offset: u16) -> !;
}

/// Run BIOS interrupt `int_no` in real mode with `regs`, which return updated.
pub fn int(int_no: u8, regs: &mut Regs) {
    // SAFETY: the thunk saves and restores every callee-saved register and the stack
    // pointer, switches to real mode and back with interrupts off around the switches,
    // and only writes `regs` (a valid, exclusive pointer). Identity mapping of the low
    // 1 GiB keeps all of stage 2 at the same addresses in both modes.
    unsafe { bios_int(int_no, regs) }
}

/// Leave long mode for good and far-jump to `segment:offset` in real mode, with
/// DS = segment and SS:SP = 0000:7C00.
pub fn jump_real_mode(segment: u16, offset: u16) -> ! {
    // SAFETY: the caller has put code at segment:offset (the resident image); the thunk
    // switches off paging and protection before jumping.
    unsafe { bios_jump_resident(segment, offset) }
}

/// Size of the low-memory bounce buffer.
pub const BOUNCE_LEN: usize = 32 * 1024;

/// A buffer below 1 MiB that real-mode services can address (stage 2 and its .bss all
/// live below 0x78000), aligned so that it never crosses a 64 KiB boundary.
#[repr(C, align(32768))]
pub struct Bounce(UnsafeCell<[u8; BOUNCE_LEN]>);

// SAFETY: stage 2 is single-threaded and never re-entered from interrupts.
unsafe impl Sync for Bounce {}

/// The one bounce buffer.
pub static BOUNCE: Bounce = Bounce(UnsafeCell::new([0; BOUNCE_LEN]));

impl Bounce {
    /// Real-mode segment:offset of the buffer.
    pub fn seg_off(&self) -> (u16, u16) {
        let addr = self.0.get() as usize;
        ((addr >> 4) as u16, (addr & 0xF) as u16)
    }
    /// The buffer's bytes. Stage 2 is single-threaded; callers never hold two of these.
    #[allow(clippy::mut_from_ref)]
    pub fn bytes(&self) -> &mut [u8; BOUNCE_LEN] {
        // SAFETY: single-threaded; every user takes the buffer for the span of one BIOS
        // call and copy, never across another call to `bytes`.
        unsafe { &mut *self.0.get() }
    }
}
