//! `bootshelf options TARGET NAME [--append "ARGS"]... [--remove ARG]... [--clear]
//! [--json]`: the kernel arguments both loaders add to (or remove from) every kernel line
//! of the ISO's own boot configuration, saved in the index and tied to the ISO's SHA-256;
//! without a change, shows them (the work is in `stick::options`).

use crate::cmd::list::{options_text, JsonOptions};
use crate::exit::Outcome;
use anyhow::Context;
use serde::Serialize;
use std::path::PathBuf;
use stick::index_io::{open_volume, IndexStore};
use stick::options::{options, OptionsChange};

/// Arguments of `bootshelf options`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// The ISO: path on the stick, file name or menu title.
    pub name: String,
    /// Arguments to add to every kernel line (quote several: --append "nomodeset toram").
    #[arg(long, value_name = "ARGS", allow_hyphen_values = true)]
    pub append: Vec<String>,
    /// An argument to remove from every kernel line (`quiet` also removes `quiet=...`).
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    pub remove: Vec<String>,
    /// Drop the saved options first (alone: the ISO boots as it is).
    #[arg(long)]
    pub clear: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `--json` output.
#[derive(Serialize)]
struct Json<'a> {
    path: &'a str,
    options: Option<JsonOptions<'a>>,
    options_stale: bool,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let change = OptionsChange {
        clear: args.clear,
        append: args.append.clone(),
        remove: args.remove.clone(),
    };
    let mut stick = stick::Stick::open(&args.target, !change.is_empty())
        .with_context(|| format!("opening {}", args.target.display()))?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    let saved = options(&mut vol, &mut store, &args.name, &change)?;
    if args.json {
        let out = Json {
            path: &saved.path,
            options: saved.options.as_ref().map(JsonOptions::of),
            options_stale: saved.stale,
        };
        crate::out::json(&out)?;
        return Ok(Outcome::Success);
    }
    match &saved.options {
        Some(o) => println!("{}: kernel options: {}", saved.path, options_text(o)),
        None if saved.stale => println!(
            "{}: options saved for a different file are not applied; none for this one",
            saved.path
        ),
        None => println!("{}: no kernel options (boots as the ISO says)", saved.path),
    }
    Ok(Outcome::Success)
}
