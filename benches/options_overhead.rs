//! Benchmark: boot overhead of kernel options (the overlay) against the same ISO without
//! them, under OVMF (TCG). Two sticks hold the same grub-mkrescue ISO (Debian kernel,
//! initramfs printing /proc/cmdline; its grub.cfg fills one sector, so the options make
//! it outgrow its extent and be relocated past the ISO's end); one has options saved.
//! Measured per boot: from Enter on the menu entry to `bootshelf: booting` (the overlay
//! is built in between) and to the kernel's command line on serial (everything the
//! ISO's GRUB reads goes through the overlay's check). 3 boots per setup, interleaved;
//! the median is reported.
//!
//! Run: `cargo bench -p e2e --bench options_overhead` (about five minutes here).

use anyhow::Result;
use e2e::{confirm_without_window, run_bootshelf, select, StickSpec, TestStick};
use fixtures::options::CMDLINE_MARKER;
use std::time::{Duration, Instant};

const RUNS: usize = 3;

/// Seconds from choosing the entry to `bootshelf: booting`, and to the command line.
fn boot_times(stick: &TestStick) -> Result<(f64, f64)> {
    let mut q = stick.boot_uefi_to_menu()?;
    let chosen = Instant::now();
    select(&mut q, "Bench ISO")?;
    // Returns once `bootshelf: booting` is on serial (the overlay is built before it).
    confirm_without_window(&mut q)?;
    let booting = chosen.elapsed().as_secs_f64();
    q.wait_for(CMDLINE_MARKER, Duration::from_secs(300))?;
    let kernel = chosen.elapsed().as_secs_f64();
    q.kill();
    Ok((booting, kernel))
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() -> Result<()> {
    let iso = fixtures::options::grub_cmdline_iso()?;
    let plain = TestStick::install(StickSpec::default())?;
    plain.add(&iso, Some("Bench ISO"))?;
    let with = TestStick::install(StickSpec::default())?;
    with.add(&iso, Some("Bench ISO"))?;
    let img = with.path().to_str().unwrap_or_default();
    // Appended only: removing `quiet` would make the kernel print more on the serial
    // console, which costs time of its own under TCG.
    run_bootshelf(&[
        "options",
        img,
        "Bench ISO",
        "--append",
        "nomodeset bootshelf.bench=1",
    ])?;
    let mut t = [(Vec::new(), Vec::new()), (Vec::new(), Vec::new())];
    for _ in 0..RUNS {
        for (i, stick) in [&plain, &with].into_iter().enumerate() {
            let (b, k) = boot_times(stick)?;
            t[i].0.push(b);
            t[i].1.push(k);
        }
    }
    println!(
        "options_overhead: median of {RUNS} UEFI boots each (wall clock, seconds from Enter):"
    );
    for (i, name) in ["without options", "with options   "].iter().enumerate() {
        println!(
            "  {name}: to `booting` {:.2} s, to the kernel's command line {:.2} s   (runs: {:?})",
            median(t[i].0.clone()),
            median(t[i].1.clone()),
            t[i].1
                .iter()
                .map(|x| (x * 100.0).round() / 100.0)
                .collect::<Vec<_>>()
        );
    }
    Ok(())
}
