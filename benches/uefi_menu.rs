//! Benchmark: how soon bootshelf's UEFI menu is drawn after the loader starts, with 1 and
//! with 1000 indexed ISOs on the stick (OVMF, TCG, stick on USB storage).
//!
//! The loader notes on serial `bootshelf: discovered N entries at T us` and
//! `bootshelf: menu drawn at T us` (time since its entry point, from the TSC). Each stick
//! is booted `RUNS` times, one machine at a time; the median is reported.
//!
//! Run: `cargo bench -p e2e --bench uefi_menu` (builds sticks; about two minutes).

use anyhow::{Context, Result};
use e2e::{StickSpec, TestStick};
use qemu_harness::Qemu;
use std::time::Duration;

const RUNS: usize = 3;

fn note(serial: &str, prefix: &str) -> Result<(u64, u64)> {
    let line = serial
        .lines()
        .find_map(|l| l.split(prefix).nth(1))
        .with_context(|| format!("no {prefix:?} on serial"))?;
    // "N entries at T us" or "at T us"
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match nums.as_slice() {
        [n, t, ..] => Ok((*n, *t)),
        [t] => Ok((0, *t)),
        _ => anyhow::bail!("cannot read {line:?}"),
    }
}

fn measure(stick: &TestStick) -> Result<(u64, u64, u64)> {
    let mut discovered = Vec::new();
    let mut drawn = Vec::new();
    let mut entries = 0;
    for _ in 0..RUNS {
        let mut q = Qemu::start(&stick.uefi_config())?;
        q.wait_for("bootshelf: menu drawn", Duration::from_secs(120))?;
        std::thread::sleep(Duration::from_millis(200));
        let serial = q.serial_text();
        let (n, t) = note(&serial, "bootshelf: discovered ")?;
        entries = n;
        discovered.push(t);
        drawn.push(note(&serial, "bootshelf: menu drawn ")?.1);
    }
    discovered.sort_unstable();
    drawn.sort_unstable();
    Ok((entries, discovered[RUNS / 2], drawn[RUNS / 2]))
}

fn main() -> Result<()> {
    let iso = fixtures::uefi::tiny_uefi_iso()?;
    let dir = fixtures::scratch_path("bench-isos")?;
    std::fs::create_dir_all(&dir)?;
    let mut names = Vec::new();
    for i in 0..1000 {
        let p = dir.join(format!("iso-{i:04}.iso"));
        std::fs::hard_link(&iso, &p).or_else(|_| std::fs::copy(&iso, &p).map(|_| ()))?;
        names.push(p);
    }
    let one = TestStick::install(StickSpec::default())?;
    one.add(&names[0], None)?;
    let many = TestStick::install(StickSpec {
        size_mib: 1024,
        ..StickSpec::default()
    })?;
    let t = std::time::Instant::now();
    let mut args: Vec<&str> = vec!["add", "--quiet", many.path().to_str().context("path")?];
    let strs: Vec<String> = names.iter().map(|p| p.display().to_string()).collect();
    args.extend(strs.iter().map(String::as_str));
    e2e::run_bootshelf(&args)?;
    eprintln!("added 1000 ISOs in {:.1} s", t.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&dir);

    for (what, stick) in [("1 ISO", &one), ("1000 ISOs", &many)] {
        let (n, disc, drawn) = measure(stick)?;
        println!(
            "uefi_menu: {what}: {n} entries discovered at {:.1} ms, menu drawn at {:.1} ms after the loader's entry (median of {RUNS})",
            disc as f64 / 1000.0,
            drawn as f64 / 1000.0
        );
    }
    Ok(())
}
