//! `bootshelf sync TARGET [--hash] [--dry-run] [--defragment] [--json]`: rebuild the index
//! from the stick (the work is in `stick::sync`). What it found wrong (skipped, broken,
//! fragmented ISOs) is part of its report on stdout, also with `-q`.

use crate::exit::Outcome;
use serde::Serialize;
use std::path::PathBuf;
use stick::index_io::{open_volume, IndexStore};
use stick::sync::SyncOptions;

/// Arguments of `bootshelf sync`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// Also compute the SHA-256 of newly indexed ISOs (reads them whole).
    #[arg(long)]
    pub hash: bool,
    /// Report only, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rewrite ISOs stored in several pieces as one contiguous run, so that the loaders
    /// can give them an ISO window (docs/window.md).
    #[arg(long, conflicts_with = "dry_run")]
    pub defragment: bool,
    /// Print what was found and done as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A path and why, in `--json` output.
#[derive(Serialize)]
struct JsonWhy<'a> {
    path: &'a str,
    reason: &'a str,
}

/// `--defragment`'s outcome for one ISO in `--json` output.
#[derive(Serialize)]
struct JsonDefrag {
    path: String,
    /// Pieces it was in, when rewritten as one run; null when left as it was.
    pieces: Option<usize>,
    /// Why it stays fragmented; null when rewritten.
    left_because: Option<String>,
}

/// `--json` output.
#[derive(Serialize)]
struct JsonSync<'a> {
    dry_run: bool,
    /// ISOs newly indexed.
    indexed: &'a [String],
    /// Indexed ISOs whose file changed, read again.
    reindexed: &'a [String],
    /// Entries kept as they were.
    kept: &'a [String],
    /// Entries dropped from the index.
    dropped: Vec<JsonWhy<'a>>,
    /// ISO files not indexed (not bootable, ...).
    skipped: Vec<JsonWhy<'a>>,
    /// Broken ISO files (truncated, ...), not indexed.
    broken: Vec<JsonWhy<'a>>,
    /// Indexed ISOs stored in several extents (no ISO window at boot), with the count.
    fragmented: Vec<(&'a str, usize)>,
    /// Leftovers of an interrupted `add --force`, deleted.
    leftovers_deleted: &'a [String],
    /// ISOs recovered from an interrupted `--defragment`.
    recovered: Vec<String>,
    /// `--defragment`'s outcome per fragmented ISO.
    defragmented: Vec<JsonDefrag>,
    /// The index generation written; null when nothing was written.
    generation: Option<u64>,
}

fn why(list: &[(String, String)]) -> Vec<JsonWhy<'_>> {
    list.iter()
        .map(|(path, reason)| JsonWhy { path, reason })
        .collect()
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = super::open_stick(&args.target, !args.dry_run)?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    // Finish an interrupted --defragment first, so that sync indexes what it recovers.
    let recovered = if args.defragment {
        stick::defrag::recover(&mut vol)?
    } else {
        Vec::new()
    };
    let opts = SyncOptions {
        hash: args.hash,
        dry_run: args.dry_run,
    };
    let bars = crate::progress::Bars::new(!args.hash || args.json);
    let bar = bars.stick("");
    if args.hash {
        bar.count("hashing the ISOs");
    }
    let r = stick::sync::sync(&mut vol, &mut store, opts, &mut |n| bar.inc(n));
    bar.finish();
    let r = r?;
    let defragmented = if args.defragment {
        stick::defrag::defragment(&mut vol, &mut store, &mut |_| {})?
    } else {
        Vec::new()
    };
    if args.json {
        use stick::defrag::Outcome as D;
        return crate::out::json(&JsonSync {
            dry_run: args.dry_run,
            indexed: &r.added,
            reindexed: &r.updated,
            kept: &r.kept,
            dropped: why(&r.dropped),
            skipped: why(&r.skipped),
            broken: why(&r.broken),
            fragmented: r.fragmented.iter().map(|(p, n)| (p.as_str(), *n)).collect(),
            leftovers_deleted: &r.leftovers_deleted,
            recovered,
            defragmented: defragmented
                .into_iter()
                .map(|(path, o)| match o {
                    D::Rewritten { pieces, .. } => JsonDefrag {
                        path,
                        pieces: Some(pieces),
                        left_because: None,
                    },
                    D::Left { reason } => JsonDefrag {
                        path,
                        pieces: None,
                        left_because: Some(reason.to_string()),
                    },
                })
                .collect(),
            generation: r.generation,
        })
        .map(|()| Outcome::Success);
    }
    for p in &recovered {
        println!("recovered {p} from an interrupted --defragment");
    }
    for p in &r.added {
        println!("indexed {p}");
    }
    for p in &r.updated {
        println!("re-indexed {p} (it changed)");
    }
    for (p, why) in &r.dropped {
        println!("dropped {p}: {why}");
    }
    for p in &r.leftovers_deleted {
        println!("deleted {p} (left by an interrupted `add --force`)");
    }
    for (p, why) in &r.skipped {
        println!("not indexed {p}: {why}");
    }
    for (p, why) in &r.broken {
        println!("broken {p}: {why}; not indexed");
    }
    if args.defragment {
        use stick::defrag::Outcome;
        for (p, outcome) in defragmented {
            match outcome {
                Outcome::Rewritten { pieces, extent } => println!(
                    "defragmented {p}: {pieces} pieces -> one run at device byte {}",
                    extent.start
                ),
                Outcome::Left { reason } => {
                    println!("warning: {p} stays fragmented (no ISO window at boot): {reason}")
                }
            }
        }
    } else {
        for (p, n) in &r.fragmented {
            println!(
                "warning: {p} is fragmented into {n} extents: it boots from the menu, but \
                 without an ISO window the booted system may not find its medium; `bootshelf \
                 sync --defragment` rewrites it in one piece"
            );
        }
    }
    match r.generation {
        Some(g) => println!(
            "index generation {g}: {} ISOs ({} kept)",
            r.kept.len() + r.added.len() + r.updated.len(),
            r.kept.len()
        ),
        None if args.dry_run => println!("dry run: nothing written"),
        None => println!("index unchanged ({} ISOs)", r.kept.len()),
    }
    Ok(Outcome::Success)
}
