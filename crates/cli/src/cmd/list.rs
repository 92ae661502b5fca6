//! `bootshelf list TARGET [--json]`: the ISOs on the stick as the menu shows them, in its
//! order, then indexed files the menu does not find (`present: false`; the
//! work is in `stick::list`, on crates/shelf's discovery).

use crate::exit::Outcome;
use anyhow::Context;
use serde::Serialize;
use std::path::PathBuf;
use stick::index_io::{human, open_volume};

/// Arguments of `bootshelf list`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// One ISO in `--json` output.
#[derive(Serialize)]
struct JsonRow<'a> {
    title: &'a str,
    custom_title: bool,
    path: &'a str,
    size: u64,
    label: &'a str,
    bios: bool,
    uefi: bool,
    contiguous: bool,
    indexed: bool,
    present: bool,
    sha256: Option<&'a str>,
    /// `[device byte offset, length]` pairs.
    extents: Vec<[u64; 2]>,
    default: bool,
    boot_next: bool,
    /// Why the menu cannot read it (e.g. a truncated ISO), else null.
    problem: Option<&'a str>,
    /// Path of its persistence file, else null.
    persistence: Option<&'a str>,
    /// Kernel options saved with `bootshelf options` that the loaders apply, else null.
    options: Option<JsonOptions<'a>>,
    /// Options are saved for another SHA-256 (the file was replaced): not applied.
    options_stale: bool,
}

/// Saved kernel options in `--json` output.
#[derive(Serialize)]
pub struct JsonOptions<'a> {
    /// Appended to every kernel line.
    pub append: &'a str,
    /// Removed from every kernel line.
    pub remove: &'a [String],
}

impl<'a> JsonOptions<'a> {
    /// The JSON view of `o`.
    pub fn of(o: &'a bootshelf_index::KernelOptions) -> Self {
        JsonOptions {
            append: &o.append,
            remove: &o.remove,
        }
    }
}

/// Saved kernel options in one line of text.
pub fn options_text(o: &bootshelf_index::KernelOptions) -> String {
    let mut parts = Vec::new();
    if !o.append.is_empty() {
        parts.push(format!("append \"{}\"", o.append));
    }
    if !o.remove.is_empty() {
        parts.push(format!("remove {}", o.remove.join(" ")));
    }
    parts.join("; ")
}

/// `--json` output.
#[derive(Serialize)]
struct JsonListing<'a> {
    generation: u64,
    timeout_secs: Option<u16>,
    isos: Vec<JsonRow<'a>>,
    notes: &'a [String],
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = stick::Stick::open(&args.target, false)
        .with_context(|| format!("opening {}", args.target.display()))?;
    let mut vol = open_volume(&mut stick)?;
    let l = stick::list::list(&mut vol)?;
    if args.json {
        let out = JsonListing {
            generation: l.generation,
            timeout_secs: l.timeout,
            isos: l
                .rows
                .iter()
                .map(|r| JsonRow {
                    title: &r.title,
                    custom_title: r.custom_title,
                    path: &r.path,
                    size: r.size,
                    label: &r.label,
                    bios: r.bios,
                    uefi: r.uefi,
                    contiguous: r.contiguous,
                    indexed: r.indexed,
                    present: r.present,
                    sha256: r.sha256.as_deref(),
                    extents: r.extents.iter().map(|e| [e.start, e.len]).collect(),
                    default: r.is_default,
                    boot_next: r.is_boot_next,
                    problem: r.problem.as_deref(),
                    persistence: r.persistence.as_deref(),
                    options: r.options.as_ref().map(JsonOptions::of),
                    options_stale: r.options_stale,
                })
                .collect(),
            notes: &l.notes,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(Outcome::Success);
    }
    if l.rows.is_empty() {
        println!("no ISOs on the stick");
    } else {
        println!(
            "{:<2}{:<36} {:>10}  {:<9} {:<6} {:<18} PATH",
            "", "TITLE", "SIZE", "BOOTS", "CONTIG", "LABEL"
        );
    }
    for r in &l.rows {
        let mark = if r.is_boot_next {
            ">"
        } else if r.is_default {
            "*"
        } else if !r.indexed {
            "?"
        } else if !r.present {
            "!"
        } else {
            ""
        };
        let boots = match (r.bios, r.uefi) {
            (true, true) => "BIOS+UEFI",
            (true, false) => "BIOS",
            (false, true) => "UEFI",
            (false, false) => "none",
        };
        println!(
            "{mark:<2}{:<36} {:>10}  {boots:<9} {:<6} {:<18} {}",
            r.title,
            human(r.size),
            if r.contiguous { "yes" } else { "NO" },
            r.label,
            r.path
        );
    }
    for r in &l.rows {
        if let Some(p) = &r.problem {
            println!("{}: cannot be booted: {p}", r.path);
        }
    }
    for r in &l.rows {
        if let Some(p) = &r.persistence {
            println!("{}: persistence file {p}", r.path);
        }
        if let Some(o) = &r.options {
            println!("{}: kernel options: {}", r.path, options_text(o));
        } else if r.options_stale {
            println!(
                "{}: kernel options saved for a different file (not applied; set them again with `bootshelf options`)",
                r.path
            );
        }
    }
    if l.rows.iter().any(|r| !r.indexed) {
        println!("? = not in the index yet (run `bootshelf sync`)");
    }
    if l.rows.iter().any(|r| !r.present) {
        println!("! = indexed but the file is gone (run `bootshelf sync`)");
    }
    for n in &l.notes {
        println!("note: {n}");
    }
    Ok(Outcome::Success)
}
