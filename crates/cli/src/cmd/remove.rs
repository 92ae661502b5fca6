//! `bootshelf remove TARGET NAME... [--yes | --keep-persistence] [--json]`: take ISOs off
//! the stick (the work is in `stick::remove`). A NAME is a path, a file name, a menu title
//! or a unique part of one (`shelf::names`). An ISO with a persistence file
//! (docs/persistence.md) asks whether to delete that file too; `--yes` deletes it without
//! asking, `--keep-persistence` keeps it (unlinked: `check` lists it, `persistence
//! --remove-orphans` deletes it). Without a terminal and without either flag, nothing is
//! removed.

use crate::exit::Outcome;
use anyhow::bail;
use std::path::PathBuf;
use stick::index_io::{human, open_volume, IndexStore};

/// Arguments of `bootshelf remove`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// ISOs to remove: a path, file name, title, or a unique part of a title.
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Also delete the ISOs' persistence files without asking.
    #[arg(long, short = 'y', conflicts_with = "keep_persistence")]
    pub yes: bool,
    /// Keep the ISOs' persistence files (no longer linked to any ISO).
    #[arg(long)]
    pub keep_persistence: bool,
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
    /// Its persistence file, else null.
    persistence: Option<JsonPersistence<'a>>,
}

/// An ISO's persistence file in `--json` output.
#[derive(serde::Serialize)]
struct JsonPersistence<'a> {
    path: &'a str,
    /// Deleted now (false: kept unlinked, or already gone).
    deleted: bool,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = super::open_stick(&args.target, true)?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    let linked = stick::remove::linked_persistence(&mut vol, &store, &args.names)?;
    let delete_persistence = if linked.is_empty() || args.yes {
        true
    } else if args.keep_persistence {
        false
    } else {
        let list: Vec<String> = linked
            .iter()
            .map(|(iso, l)| format!("{iso}: {} ({})", l.path, human(l.size)))
            .collect();
        let question = format!(
            "Persistence files (the live system's saved changes):\n  {}\nDelete them too? [y/N] ",
            list.join("\n  ")
        );
        match crate::ask::answer(&question)? {
            Some(a) => crate::ask::says_yes(&a),
            None => bail!(
                "{} a persistence file ({}); add --yes to delete it too or \
                 --keep-persistence to keep it. Nothing was removed",
                if linked.len() == 1 {
                    "the ISO has"
                } else {
                    "these ISOs have"
                },
                list.join("; ")
            ),
        }
    };
    let removed =
        stick::remove::remove_isos(&mut vol, &mut store, &args.names, delete_persistence)?;
    if args.json {
        let rows: Vec<JsonRemoved> = removed
            .iter()
            .map(|r| JsonRemoved {
                path: &r.path,
                was_indexed: r.was_indexed,
                file_deleted: r.file_deleted,
                persistence: r.persistence.as_ref().map(|(p, deleted)| JsonPersistence {
                    path: p,
                    deleted: *deleted,
                }),
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
        match r.persistence {
            Some((p, true)) => println!("removed its persistence file {p}"),
            Some((p, false)) if delete_persistence => {
                println!("its persistence file {p} was already gone")
            }
            Some((p, false)) => println!("kept its persistence file {p} (no longer linked)"),
            None => {}
        }
    }
    Ok(Outcome::Success)
}
