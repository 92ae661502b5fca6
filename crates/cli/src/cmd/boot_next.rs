//! `bootshelf boot-next TARGET NAME`: boot NAME once at the next boot (the loader clears
//! the setting before booting it); `--clear` cancels it.

use anyhow::{bail, Context};
use std::path::PathBuf;
use std::process::ExitCode;
use stick::index_io::{clear_boot_next, open_volume, set_boot_next, IndexStore};

/// Arguments of `bootshelf boot-next`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// The ISO: path on the stick, file name or menu title.
    #[arg(required_unless_present = "clear")]
    pub name: Option<String>,
    /// Cancel a pending boot-next.
    #[arg(long, conflicts_with = "name")]
    pub clear: bool,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut stick = stick::Stick::open(&args.target, true)
        .with_context(|| format!("opening {}", args.target.display()))?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    match (&args.name, args.clear) {
        (_, true) => match clear_boot_next(&mut vol, &mut store)? {
            Some(p) => println!("cleared boot-next (was {p})"),
            None => println!("no boot-next was set"),
        },
        (Some(name), false) => {
            let p = set_boot_next(&mut vol, &mut store, name)?;
            println!("the next boot starts {p} once");
        }
        (None, false) => bail!("give an ISO name or --clear"),
    }
    Ok(ExitCode::SUCCESS)
}
