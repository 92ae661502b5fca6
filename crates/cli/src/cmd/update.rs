//! `bootshelf update TARGET`: rewrite the boot code and the ESP, and repair what `check`
//! finds wrong with them (a lost LBA 0 in front of an intact GPT, a bad GPT copy, a
//! damaged ESP, zeroed boot code); the ISOs are not touched (`stick::update`).

use crate::exit::Outcome;
use anyhow::Context;
use std::path::PathBuf;
use stick::kernel::KernelTable;

/// Arguments of `bootshelf update`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = stick::Stick::open_for_repair(&args.target, true)?;
    let boot = super::install::boot_code();
    let r = stick::update::update(&mut stick, &boot)
        .with_context(|| format!("updating {}", args.target.display()))?;
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
/// re-read it, a note on stderr otherwise (the stick is right; only the kernel's view lags).
pub fn print_kernel_table(k: Option<&KernelTable>) {
    match k {
        None | Some(KernelTable::Reread) => {}
        // Set one by one: the kernel shows them, how is a detail.
        Some(KernelTable::UpdatedPartitions { .. }) => {}
        Some(k @ KernelTable::NoPartitionScan) => eprintln!("note: {k}"),
        Some(k @ KernelTable::Stale { .. }) => eprintln!("warning: {k}"),
    }
}
