//! The bootshelf MBR: 440 bytes of 16-bit code that load stage 2 with INT 13h extensions.
//!
//! All of it is assembly (`src/asm/mbr.s`); `mbr.ld` places it at 0x7C00 and fails the build
//! unless it is exactly 440 bytes, so the disk signature and partition table that follow
//! on disk stay untouched.
#![no_std]
#![no_main]

core::arch::global_asm!(include_str!("../asm/mbr.s"), options(att_syntax));

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
