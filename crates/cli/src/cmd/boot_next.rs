//! `bootshelf boot-next TARGET NAME [--json]`: boot NAME once at the next boot (the loader
//! clears the setting before booting it); `--clear` cancels it. The lasting choices
//! (default entry, timeout) are `bootshelf config`'s.

use crate::exit::Outcome;
use anyhow::bail;
use serde::Serialize;
use std::path::PathBuf;
use stick::index_io::{clear_boot_next, open_volume, set_boot_next, IndexStore};

/// Arguments of `bootshelf boot-next`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// The ISO: a path, file name, title, or a unique part of a title.
    #[arg(required_unless_present = "clear")]
    pub name: Option<String>,
    /// Cancel a pending boot-next.
    #[arg(long, conflicts_with = "name")]
    pub clear: bool,
    /// Print what was done as JSON.
    #[arg(long)]
    pub json: bool,
    /// Moved to `bootshelf config --default`.
    #[arg(long = "default", hide = true)]
    pub old_default: bool,
    /// Moved to `bootshelf config --timeout`.
    #[arg(long = "timeout", hide = true, value_name = "N|never")]
    pub old_timeout: Option<String>,
}

/// `--json` output.
#[derive(Serialize)]
struct JsonBootNext {
    /// The path booted once at the next boot; null after `--clear`.
    boot_next: Option<String>,
    /// The boot-next pending before this command, if any.
    previous: Option<String>,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    if args.old_default || args.old_timeout.is_some() {
        bail!(
            "the lasting settings moved to `bootshelf config {} --default NAME --timeout \
             N|never`; boot-next only chooses the next boot",
            args.target.display()
        );
    }
    let mut stick = super::open_stick(&args.target, true)?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    let previous = store.index().settings.boot_next;
    let report = match (&args.name, args.clear) {
        (_, true) => {
            let was = clear_boot_next(&mut vol, &mut store)?;
            if !args.json {
                match &was {
                    Some(p) => println!("cleared boot-next (was {p})"),
                    None => println!("no boot-next was set"),
                }
            }
            JsonBootNext {
                boot_next: None,
                previous: was,
            }
        }
        (Some(name), false) => {
            let p = set_boot_next(&mut vol, &mut store, name)?;
            if !args.json {
                println!("the next boot starts {p} once");
            }
            JsonBootNext {
                boot_next: Some(p),
                previous,
            }
        }
        (None, false) => bail!("give an ISO name, or --clear"),
    };
    if args.json {
        crate::out::json(&report)?;
    }
    Ok(Outcome::Success)
}
