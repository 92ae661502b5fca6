//! Benchmark: boot overhead of a bootshelf stick under Secure Boot, against the same ISO
//! booted alone (docs/secure-boot.md, "Boot overhead under Secure Boot"). OVMF with Secure
//! Boot on and Microsoft's keys (SMM, TCG), the signed Debian test ISO
//! (fixtures::uefi::debian_signed_iso: Microsoft-signed shim, Debian-signed GRUB and
//! kernel, busybox initramfs printing a marker).
//!
//! Setups, interleaved, `RUNS` boots each, one machine at a time:
//! * the ISO alone on an AHCI CD-ROM drive, booted by the firmware (its shim, its GRUB);
//! * the ISO on a bootshelf stick on USB storage, the tests' key enrolled (`--enroll`),
//!   chosen by `boot-next` with the menu timeout 0 (so no countdown is counted: the
//!   default 10 s countdown is the menu waiting for the user, not boot work);
//! * the same with the default timeout (10 s): how the figures in docs/secure-boot.md
//!   were first taken, the countdown included.
//!
//! Times are seconds from QEMU's start to each milestone on serial: for the stick also
//! bootshelf's menu (`bootshelf: menu drawn`) and its `bootshelf: booting` note (the
//! chain firmware -> shim -> RSA check of bootshelf's loader -> discovery -> ISO window
//! is before it), and the loader's own clock (`menu drawn at N us` since its entry
//! point), which splits "before the loader" (firmware and shim) from "the loader".
//! Then GRUB's first line (`BOOTSHELF-SIGNED-GRUB-LOADING-LINUX`: the ISO's shim and GRUB
//! loaded and verified, through the virtual CD for the stick), the kernel's
//! `secureboot: Secure boot enabled` (kernel and initrd read by GRUB) and the marker.
//!
//! Run: `cargo bench -p e2e --bench secure_boot_overhead` (about five minutes here).

use anyhow::{Context, Result};
use e2e::{run_bootshelf, StickSpec, TestStick};
use qemu_harness::{strip_ansi, Config, Drive, Qemu};
use std::time::Duration;

const RUNS: usize = 3;
const TIMEOUT: Duration = Duration::from_secs(300);
const GRUB: &str = "BOOTSHELF-SIGNED-GRUB-LOADING-LINUX";
const KERNEL: &str = "secureboot: Secure boot enabled";
const MARKER: &str = "BOOTSHELF-LINUX-MARKER";

/// Milestones of one boot, seconds from QEMU's start (`None`: not in this setup).
#[derive(Clone, Copy, Default)]
struct Boot {
    loader_entry: Option<f64>,
    menu: Option<f64>,
    booting: Option<f64>,
    grub: f64,
    kernel: f64,
    marker: f64,
}

/// The ISO alone on a CD-ROM drive.
fn alone(iso: &std::path::Path) -> Result<Boot> {
    let mut q = Qemu::start(&Config::uefi_secure_boot().drive(Drive::cdrom(iso)))?;
    let grub = q.wait_for(GRUB, TIMEOUT)?.as_secs_f64();
    let kernel = q.wait_for(KERNEL, TIMEOUT)?.as_secs_f64();
    let marker = q.wait_for(MARKER, TIMEOUT)?.as_secs_f64();
    q.kill();
    Ok(Boot {
        grub,
        kernel,
        marker,
        ..Boot::default()
    })
}

/// The ISO through the stick (boot-next).
fn via_stick(stick: &TestStick) -> Result<Boot> {
    let mut q = Qemu::start(&stick.secure_boot_config(true)?)?;
    let menu = q.wait_for("bootshelf: menu drawn", TIMEOUT)?.as_secs_f64();
    let booting = q.wait_for("bootshelf: booting", TIMEOUT)?.as_secs_f64();
    let grub = q.wait_for(GRUB, TIMEOUT)?.as_secs_f64();
    let kernel = q.wait_for(KERNEL, TIMEOUT)?.as_secs_f64();
    let marker = q.wait_for(MARKER, TIMEOUT)?.as_secs_f64();
    let text = strip_ansi(&q.serial_text());
    q.kill();
    // "bootshelf: menu drawn at N us": the loader's clock since its entry point.
    let since_entry = text
        .split("bootshelf: menu drawn at ")
        .nth(1)
        .and_then(|t| t.split(" us").next())
        .and_then(|n| n.trim().parse::<f64>().ok())
        .context("no `menu drawn at N us` note")?
        / 1e6;
    Ok(Boot {
        loader_entry: Some(menu - since_entry),
        menu: Some(menu),
        booting: Some(booting),
        grub,
        kernel,
        marker,
    })
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn column(runs: &[Boot], f: impl Fn(&Boot) -> Option<f64>) -> String {
    let v: Option<Vec<f64>> = runs.iter().map(f).collect();
    match v {
        Some(v) => format!("{:7.1}", median(v)),
        None => format!("{:>7}", "-"),
    }
}

fn main() -> Result<()> {
    let iso = fixtures::uefi::debian_signed_iso()?;
    let stick = TestStick::install(StickSpec::default())?;
    stick.add(&iso, Some("Signed Debian"))?;
    let img = stick.path().to_str().context("non-UTF-8 path")?;
    run_bootshelf(&["config", img, "--timeout", "0"])?;
    // Kept: every boot runs on a snapshot of the image.
    stick.boot_next("Signed Debian")?;
    let counting = TestStick::install(StickSpec::default())?;
    counting.add(&iso, Some("Signed Debian"))?;
    counting.boot_next("Signed Debian")?;

    let mut runs: [Vec<Boot>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..RUNS {
        runs[0].push(alone(&iso)?);
        runs[1].push(via_stick(&stick)?);
        runs[2].push(via_stick(&counting)?);
    }
    println!(
        "secure_boot_overhead: signed Debian ISO, Secure Boot on (Microsoft keys), median of \
         {RUNS} boots each, seconds from QEMU start:"
    );
    println!(
        "  {:<34}{:>7}{:>7}{:>7}{:>7}{:>7}{:>7}",
        "", "loader", "menu", "boot", "GRUB", "kernel", "marker"
    );
    for (name, r) in [
        ("ISO alone on a CD-ROM (AHCI)", &runs[0]),
        ("through the stick on USB", &runs[1]),
        ("the same, 10 s menu countdown", &runs[2]),
    ] {
        println!(
            "  {name:<34}{}{}{}{}{}{}",
            column(r, |b| b.loader_entry),
            column(r, |b| b.menu),
            column(r, |b| b.booting),
            column(r, |b| Some(b.grub)),
            column(r, |b| Some(b.kernel)),
            column(r, |b| Some(b.marker)),
        );
    }
    let m = |i: usize, f: fn(&Boot) -> f64| median(runs[i].iter().map(f).collect());
    let (a, s) = (0, 1);
    println!(
        "  stick - alone: {:+.1} s at the marker; to GRUB {:+.1} s (stick: {:.1} s before \
         `booting`, {:.1} s `booting` -> GRUB), GRUB -> marker {:+.1} s",
        m(s, |b| b.marker) - m(a, |b| b.marker),
        m(s, |b| b.grub) - m(a, |b| b.grub),
        m(s, |b| b.booting.unwrap_or(0.0)),
        m(s, |b| b.grub - b.booting.unwrap_or(0.0)),
        (m(s, |b| b.marker - b.grub)) - m(a, |b| b.marker - b.grub),
    );
    for (name, r) in [
        ("alone", &runs[0]),
        ("stick", &runs[1]),
        ("stick, countdown", &runs[2]),
    ] {
        println!(
            "  runs {name}: marker {:?}",
            r.iter()
                .map(|b| (b.marker * 10.0).round() / 10.0)
                .collect::<Vec<_>>()
        );
    }
    Ok(())
}
