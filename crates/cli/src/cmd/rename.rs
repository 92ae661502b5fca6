//! `bootshelf rename TARGET NAME TITLE [--json]`: give the ISO NAME selects a menu title
//! of the user's choice; `--file-name` instead of TITLE shows its file name again.

use crate::exit::Outcome;
use serde::Serialize;
use std::path::PathBuf;
use stick::index_io::{open_volume, set_title, IndexStore};

/// Arguments of `bootshelf rename`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// The ISO: a path, file name, title, or a unique part of a title.
    pub name: String,
    /// The new menu title.
    #[arg(required_unless_present = "file_name")]
    pub title: Option<String>,
    /// Drop the custom title: the menu shows the file name again.
    #[arg(long, conflicts_with = "title")]
    pub file_name: bool,
    /// Print what was done as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--json` output.
#[derive(Serialize)]
struct JsonRenamed<'a> {
    path: &'a str,
    old_title: &'a str,
    new_title: &'a str,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = super::open_stick(&args.target, true)?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    let r = set_title(&mut vol, &mut store, &args.name, args.title.as_deref())?;
    if args.json {
        crate::out::json(&JsonRenamed {
            path: &r.path,
            old_title: &r.old_title,
            new_title: &r.new_title,
        })?;
    } else {
        println!("{}: {:?} -> {:?}", r.path, r.old_title, r.new_title);
    }
    Ok(Outcome::Success)
}
