//! `bootshelf remove TARGET NAME...`: take ISOs off the stick (the work is in
//! `stick::remove`). A NAME is a path, a file name or a menu title.

use crate::exit::Outcome;
use anyhow::Context;
use std::path::PathBuf;
use stick::index_io::{open_volume, IndexStore};

/// Arguments of `bootshelf remove`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// ISOs to remove: path on the stick, file name or menu title.
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = stick::Stick::open(&args.target, true)
        .with_context(|| format!("opening {}", args.target.display()))?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    for r in stick::remove::remove_isos(&mut vol, &mut store, &args.names)? {
        let what = match (r.was_indexed, r.file_deleted) {
            (true, true) => "removed",
            (false, true) => "removed (it was not indexed)",
            (true, false) => "dropped from the index (the file was already gone)",
            (false, false) => "nothing to do for",
        };
        println!("{what} {}", r.path);
    }
    Ok(Outcome::Success)
}
