//! Benchmark: reading through bootshelf's virtual CD against the same ISO on a plain
//! CD-ROM drive (OVMF, TCG). The ISO's grub.cfg compares a 64 MiB file with itself
//! (`cmp /big.bin /big.bin`: 128 MiB read) between two markers; the time between the
//! markers on serial is the read time. Each setup is booted `RUNS` times, one machine at
//! a time, the setups interleaved; the median is reported.
//!
//! Setups: the stick on USB storage and the stick as an AHCI disk, both through the
//! virtual CD; the ISO on an AHCI CD-ROM drive and on a USB CD-ROM drive, booted by the
//! firmware itself. Each virtual CD is compared with the plain drive on the same bus.
//!
//! Run: `cargo bench -p e2e --bench uefi_read` (about three minutes).

use anyhow::Result;
use e2e::{confirm_without_window, select, StickSpec, TestStick};
use qemu_harness::{Attach, Config, Drive, Qemu};
use std::time::Duration;

const RUNS: usize = 5;
const MIB: u32 = 64;

/// Seconds between the two markers of one boot: wall time, and QEMU's CPU time.
fn read_time(cfg: &Config, via_menu: bool) -> Result<(f64, f64)> {
    let mut q = Qemu::start(cfg)?;
    if via_menu {
        q.wait_for("bootshelf: menu drawn", Duration::from_secs(120))?;
        select(&mut q, "BOOTSHELF_BENCH")?;
        confirm_without_window(&mut q)?;
    }
    let start = q.wait_for("BOOTSHELF-BENCH-START", Duration::from_secs(120))?;
    let cpu_start = q.cpu_time()?;
    let end = q.wait_for("BOOTSHELF-BENCH-END", Duration::from_secs(600))?;
    let cpu_end = q.cpu_time()?;
    Ok((
        (end - start).as_secs_f64(),
        (cpu_end - cpu_start).as_secs_f64(),
    ))
}

fn median(mut t: Vec<f64>) -> f64 {
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn main() -> Result<()> {
    let iso = fixtures::uefi::read_bench_iso(MIB)?;
    let stick = TestStick::install(StickSpec::default())?;
    stick.add(&iso, None)?;

    let mut ahci_stick = stick.uefi_config();
    ahci_stick.drives[0].attach = Attach::Ide;
    let setups = [
        (Config::uefi().drive(Drive::cdrom(&iso)), false),
        (
            Config::uefi().drive(Drive::cdrom(&iso).attach(Attach::UsbCdrom)),
            false,
        ),
        (ahci_stick, true),
        (stick.uefi_config(), true),
    ];
    // Interleaved, so that a change in the machine's load hits every setup alike.
    let mut wall = vec![Vec::new(); setups.len()];
    let mut cpu = vec![Vec::new(); setups.len()];
    for _ in 0..RUNS {
        for (i, (cfg, via_menu)) in setups.iter().enumerate() {
            let (w, c) = read_time(cfg, *via_menu)?;
            wall[i].push(w);
            cpu[i].push(c);
        }
    }
    let names = [
        "plain CD-ROM (AHCI)        ",
        "plain CD-ROM (USB)         ",
        "virtual CD, stick on AHCI  ",
        "virtual CD, stick on USB   ",
    ];
    let read = f64::from(2 * MIB);
    println!("uefi_read: GRUB reads {read} MiB; median of {RUNS} boots each (wall clock, QEMU CPU time):");
    for (i, name) in names.iter().enumerate() {
        let w = median(wall[i].clone());
        let c = median(cpu[i].clone());
        let versus = match i {
            2 => format!(
                "  CPU {:+.1}% vs AHCI CD-ROM",
                (c / median(cpu[0].clone()) - 1.0) * 100.0
            ),
            3 => format!(
                "  CPU {:+.1}% vs USB CD-ROM",
                (c / median(cpu[1].clone()) - 1.0) * 100.0
            ),
            _ => String::new(),
        };
        println!(
            "uefi_read:   {name} wall {w:6.2} s ({:5.1} MiB/s)  cpu {c:6.2} s ({:5.1} MiB/s){versus}",
            read / w,
            read / c
        );
    }
    eprintln!("uefi_read: wall {wall:?}\nuefi_read: cpu {cpu:?}");
    Ok(())
}
