//! `bootshelf update TARGET [--json]`: rewrite the boot code and the ESP; the ISOs are not touched.

use crate::exit::Outcome;
use anyhow::Context;
use std::path::PathBuf;

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
    esp_rebuilt: bool,
    esp_sectors_written: u64,
    stage2_written: bool,
    mbr_written: bool,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = super::open_stick(&args.target, true)?;
    let boot = super::install::boot_code();
    let r = stick::update::update(&mut stick, &boot)
        .with_context(|| format!("updating {}", args.target.display()))?;
    if args.json {
        crate::out::json(&JsonUpdate {
            target: args.target.display().to_string(),
            esp_rebuilt: r.esp_rebuilt,
            esp_sectors_written: r.esp_sectors_written as u64,
            stage2_written: r.stage2_written,
            mbr_written: r.mbr_written,
        })?;
        return Ok(Outcome::Success);
    }
    let mut changed = Vec::new();
    if r.esp_rebuilt {
        changed.push("ESP rebuilt (it was unreadable)".to_owned());
    } else if r.esp_sectors_written > 0 {
        changed.push(format!("ESP ({} sectors)", r.esp_sectors_written));
    }
    if r.stage2_written {
        changed.push("BIOS stage 2".into());
    }
    if r.mbr_written {
        changed.push("MBR boot code".into());
    }
    if changed.is_empty() {
        println!("{}: boot code already up to date", args.target.display());
    } else {
        println!("{}: updated {}", args.target.display(), changed.join(", "));
    }
    Ok(Outcome::Success)
}
