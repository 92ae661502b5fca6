//! `bootshelf remove TARGET NAME... [--json]`: take ISOs off the stick (the work is in
//! `stick::remove`). A NAME is a path, a file name, a menu title or a unique part of one
//! (`shelf::names`).

use crate::exit::Outcome;
use std::path::PathBuf;
use stick::index_io::{open_volume, IndexStore};

/// Arguments of `bootshelf remove`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// ISOs to remove: a path, file name, title, or a unique part of a title.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Print what was done as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One ISO in `--json` output.
#[derive(serde::Serialize)]
struct JsonRemoved<'a> {
    path: &'a str,
    was_indexed: bool,
    file_deleted: bool,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = super::open_stick(&args.target, true)?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    let removed = stick::remove::remove_isos(&mut vol, &mut store, &args.names)?;
    if args.json {
        let rows: Vec<JsonRemoved> = removed
            .iter()
            .map(|r| JsonRemoved {
                path: &r.path,
                was_indexed: r.was_indexed,
                file_deleted: r.file_deleted,
            })
            .collect();
        crate::out::json(&serde_json::json!({ "removed": rows }))?;
        return Ok(Outcome::Success);
    }
    for r in removed {
        let p = &r.path;
        match (r.was_indexed, r.file_deleted) {
            (true, true) => println!("removed {p}"),
            (false, true) => println!("removed {p} (it was not indexed)"),
            (true, false) => println!("dropped {p} from the index (the file was already gone)"),
            (false, false) => println!("nothing to do for {p}"),
        }
    }
    Ok(Outcome::Success)
}
