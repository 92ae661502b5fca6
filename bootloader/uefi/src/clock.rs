//! Timestamps relative to the loader's start, from the CPU's free-running counter (the
//! time-stamp counter on x86 and x86_64, the generic timer's virtual count on AArch64),
//! calibrated against the firmware's `Stall` only after the menu is drawn (so the
//! calibration never delays what it measures).

use core::sync::atomic::{AtomicU64, Ordering};

static START: AtomicU64 = AtomicU64::new(0);
static TICKS_PER_US: AtomicU64 = AtomicU64::new(0);

#[cfg(target_arch = "x86_64")]
fn rdtsc() -> u64 {
    // SAFETY: RDTSC is available on every x86_64 CPU and has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(target_arch = "x86")]
fn rdtsc() -> u64 {
    // SAFETY: every CPU that runs 32-bit UEFI (Pentium and later) has RDTSC; it has no
    // side effects.
    unsafe { core::arch::x86::_rdtsc() }
}

#[cfg(target_arch = "aarch64")]
fn rdtsc() -> u64 {
    let count: u64;
    // SAFETY: CNTVCT_EL0 (the generic timer's virtual count) is readable at EL1 and EL2,
    // where UEFI runs (the firmware enables EL0/EL1 access, UEFI spec 2.3.6); reading it
    // has no side effects and touches no memory.
    unsafe {
        core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) count, options(nomem, nostack))
    };
    count
}

/// Remember now as the loader's start.
pub fn start() {
    START.store(rdtsc(), Ordering::Relaxed);
}

/// TSC ticks since [`start`].
pub fn ticks() -> u64 {
    rdtsc().wrapping_sub(START.load(Ordering::Relaxed))
}

/// Measure the TSC rate over a 5 ms firmware stall.
pub fn calibrate() {
    let t0 = rdtsc();
    uefi::boot::stall(core::time::Duration::from_millis(5));
    let per_us = rdtsc().wrapping_sub(t0) / 5000;
    TICKS_PER_US.store(per_us.max(1), Ordering::Relaxed);
}

/// Calibrate unless done already.
pub fn ensure_calibrated() {
    if TICKS_PER_US.load(Ordering::Relaxed) == 0 {
        calibrate();
    }
}

/// Convert ticks to microseconds ([`calibrate`] first).
pub fn ticks_to_us(ticks: u64) -> u64 {
    ticks / TICKS_PER_US.load(Ordering::Relaxed).max(1)
}
