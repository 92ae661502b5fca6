//! `bootshelf devices [--json]`: disks that could become a stick.

use crate::exit::Outcome;
use serde::Serialize;

/// Arguments of `bootshelf devices`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Row {
    device: String,
    vendor: String,
    model: String,
    size: u64,
    sector_size: u32,
    removable: bool,
    usb: bool,
    mounted: Vec<String>,
    holders: Vec<String>,
    system: bool,
    /// `null` when `install` accepts it without --force; else why not.
    refused: Option<String>,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let rows: Vec<Row> = stick::devices::list()
        .into_iter()
        .map(|c| Row {
            device: c.info.dev_path.display().to_string(),
            vendor: c.info.vendor,
            model: c.info.model,
            size: c.info.size,
            sector_size: c.info.sector_size,
            removable: c.info.removable,
            usb: c.info.usb,
            mounted: c.info.mounts,
            holders: c.info.holders,
            system: c.info.system,
            refused: c.refusal,
        })
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(Outcome::Success);
    }
    if rows.is_empty() {
        println!("no disks found in /sys/block");
        return Ok(Outcome::Success);
    }
    println!(
        "{:<14} {:>10} {:>5} {:<28} {:<4} STATUS",
        "DEVICE", "SIZE", "SECT", "VENDOR MODEL", "RM"
    );
    for r in rows {
        let name = format!("{} {}", r.vendor, r.model);
        let status = match (&r.refused, r.system) {
            (_, true) => "system disk".to_owned(),
            (Some(why), _) => why.clone(),
            (None, _) => "ok".to_owned(),
        };
        println!(
            "{:<14} {:>9.1}G {:>5} {:<28} {:<4} {}",
            r.device,
            r.size as f64 / f64::from(1u32 << 30),
            r.sector_size,
            name.trim(),
            if r.removable || r.usb { "yes" } else { "no" },
            status
        );
    }
    Ok(Outcome::Success)
}
