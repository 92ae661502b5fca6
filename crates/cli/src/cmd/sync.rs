//! `bootshelf sync TARGET [--hash] [--dry-run] [--defragment]`: rebuild the index from the stick (the work
//! is in `stick::sync`).

use crate::exit::Outcome;
use anyhow::Context;
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
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = stick::Stick::open(&args.target, !args.dry_run)
        .with_context(|| format!("opening {}", args.target.display()))?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    if args.defragment {
        // Finish an interrupted --defragment first, so that sync indexes what it recovers.
        for p in stick::defrag::recover(&mut vol)? {
            println!("recovered {p} from an interrupted --defragment");
        }
    }
    let opts = SyncOptions {
        hash: args.hash,
        dry_run: args.dry_run,
    };
    let bars = crate::progress::Bars::new(!args.hash);
    let bar = bars.stick("");
    if args.hash {
        bar.count("hashing the ISOs");
    }
    let r = stick::sync::sync(&mut vol, &mut store, opts, &mut |n| bar.inc(n));
    bar.finish();
    let r = r?;
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
        for (p, outcome) in stick::defrag::defragment(&mut vol, &mut store, &mut |_| {})? {
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
                "warning: {p} is fragmented into {n} extents: it boots from the menu, but without \
                 an ISO window the booted system may not find its medium; `bootshelf sync \
                 --defragment` rewrites it in one piece"
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
