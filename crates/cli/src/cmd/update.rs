//! `bootshelf update TARGET [--json]`: rewrite the boot code and the ESP, and repair what
//! `check` finds wrong with them (a lost LBA 0 or GPT, a bad GPT copy, a damaged ESP,
//! zeroed boot code); the ISOs are not touched (`stick::update`).

use crate::exit::Outcome;
use anyhow::Context;
use std::path::PathBuf;
use stick::kernel::KernelTable;

/// Arguments of `bootshelf update`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// Print what was rewritten as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--json` output: what was rewritten (all false: already up to date).
#[derive(serde::Serialize)]
struct JsonUpdate {
    target: String,
    /// A GPT copy repaired, or the whole table rewritten (with `lba0_restored`).
    gpt_repaired: bool,
    esp_rebuilt: bool,
    /// Why the ESP was rebuilt whole (unreadable or damaged).
    esp_rebuilt_because: Option<String>,
    esp_sectors_written: u64,
    stage2_written: bool,
    mbr_written: bool,
    /// A lost LBA 0 rewritten (protective MBR or MBR partition table, with the code).
    lba0_restored: bool,
    /// What the kernel was told on a block device (`null` for image files or when
    /// nothing was written).
    kernel: Option<String>,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = super::open_stick_for_repair(&args.target, true)?;
    let boot = super::install::boot_code();
    let r = stick::update::update(&mut stick, &boot)
        .with_context(|| format!("updating {}", args.target.display()))?;
    if args.json {
        crate::out::json(&JsonUpdate {
            target: args.target.display().to_string(),
            gpt_repaired: r.gpt_repaired,
            esp_rebuilt: r.esp_rebuilt.is_some(),
            esp_rebuilt_because: r.esp_rebuilt.clone(),
            esp_sectors_written: r.esp_sectors_written as u64,
            stage2_written: r.stage2_written,
            mbr_written: r.mbr_written || r.lba0_restored,
            lba0_restored: r.lba0_restored,
            kernel: r.kernel.as_ref().map(|k| k.to_string()),
        })?;
        print_kernel_table(r.kernel.as_ref());
        return Ok(Outcome::Success);
    }
    let mut changed = Vec::new();
    if r.gpt_repaired && r.lba0_restored {
        changed.push("partition table (rewritten where install puts it)".to_owned());
    } else if r.gpt_repaired {
        changed.push("GPT (repaired from its good copy)".to_owned());
    }
    if let Some(why) = &r.esp_rebuilt {
        changed.push(format!("ESP rebuilt ({why})"));
    } else if r.esp_sectors_written > 0 {
        changed.push(format!("ESP ({} sectors)", r.esp_sectors_written));
    }
    if r.stage2_written {
        changed.push("BIOS stage 2".into());
    }
    if r.lba0_restored && r.gpt_repaired {
        changed.push("MBR boot code".into());
    } else if r.lba0_restored {
        changed.push(match stick.layout().scheme {
            stick::Scheme::Gpt => "LBA 0 (protective MBR and MBR boot code)".into(),
            stick::Scheme::Mbr => "LBA 0 (MBR partition table and boot code)".into(),
        });
    } else if r.mbr_written {
        changed.push("MBR boot code".into());
    }
    if changed.is_empty() {
        println!("{}: boot code already up to date", args.target.display());
    } else {
        println!("{}: updated {}", args.target.display(), changed.join(", "));
    }
    print_kernel_table(r.kernel.as_ref());
    Ok(Outcome::Success)
}

/// Say what the kernel was told after a block device's table was written: nothing when it
/// shows the stick's partitions, a note or a warning on stderr otherwise (the stick is
/// right; only the kernel's view lags).
pub fn print_kernel_table(k: Option<&KernelTable>) {
    match k {
        None | Some(KernelTable::Reread) | Some(KernelTable::UpdatedPartitions { .. }) => {}
        Some(k @ KernelTable::NoPartitionScan) => {
            if !crate::out::quiet() {
                eprintln!("note: {k}");
            }
        }
        Some(k @ KernelTable::Stale { .. }) => crate::out::warn(&k.to_string()),
    }
}
