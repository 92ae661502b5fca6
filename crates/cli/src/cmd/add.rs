//! `bootshelf add TARGET ISO... [--verify] [--force] [--title T]`: copy ISOs onto the stick
//! contiguously, hash and index them (the work is in `stick::add`).

use crate::exit::Outcome;
use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use stick::add::{add_prepared, check_space, prepare, AddOptions, Verify};
use stick::copy::hex;
use stick::index_io::{human, open_volume, IndexStore, PlatformId};

/// Arguments of `bootshelf add`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device made by `bootshelf install`.
    pub target: PathBuf,
    /// ISO files to copy.
    #[arg(required = true)]
    pub isos: Vec<PathBuf>,
    /// Read each copy back from the device, bypassing the page cache, and compare hashes.
    #[arg(long)]
    pub verify: bool,
    /// Copy non-ISO, broken (truncated) or unbootable files anyway; replace an ISO of the
    /// same name.
    #[arg(long)]
    pub force: bool,
    /// Menu title instead of the file name (with a single ISO).
    #[arg(long)]
    pub title: Option<String>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

fn bar(quiet: bool, len: u64, name: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    pb.set_style(style);
    pb.set_message(name.to_string());
    pb
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    if args.title.is_some() && args.isos.len() > 1 {
        bail!("--title needs exactly one ISO");
    }
    let mut stick = stick::Stick::open(&args.target, true)
        .with_context(|| format!("opening {}", args.target.display()))?;
    let dev_path = stick.path().to_owned();
    let write_behind = stick
        .device()
        .file()
        .try_clone()
        .context("duplicating the device descriptor")?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    let opts = AddOptions {
        force: args.force,
        title: args.title.clone(),
        verify: if args.verify {
            Verify::Uncached(dev_path)
        } else {
            Verify::No
        },
        dest_dir: "/".into(),
        write_behind: Some(std::sync::Arc::new(write_behind)),
    };
    // Everything is checked before anything is written.
    let mut batch = Vec::new();
    for iso in &args.isos {
        let p = prepare(&mut vol, iso, &opts)?;
        if batch
            .iter()
            .any(|q: &stick::add::Prepared| q.dest.eq_ignore_ascii_case(&p.dest))
        {
            bail!("{} is given twice", p.dest);
        }
        batch.push(p);
    }
    check_space(&mut vol, &batch)?;
    for p in &batch {
        if let Some(why) = &p.forced_because {
            eprintln!(
                "bootshelf: warning: {}: {why}; copied anyway (--force)",
                p.src.display()
            );
        }
        let pb = bar(args.quiet, p.size, &p.dest);
        let t = std::time::Instant::now();
        let added = add_prepared(&mut vol, &mut store, p, &opts, &mut |n| pb.inc(n))?;
        pb.finish_and_clear();
        let secs = t.elapsed().as_secs_f64();
        let e = &added.entry;
        let mut boots = Vec::new();
        if e.boots_on(PlatformId::X86) {
            boots.push("BIOS");
        }
        if e.boots_on(PlatformId::EFI) {
            boots.push("UEFI");
        }
        println!(
            "{} {} ({}, {:.0} MB/s){}{}\n  sha256 {}  boots {}  label {:?}  index generation {}",
            if added.replaced { "replaced" } else { "added" },
            e.path,
            human(e.size),
            e.size as f64 / 1e6 / secs.max(1e-9),
            if added.verified { ", verified" } else { "" },
            e.title
                .as_deref()
                .map(|t| format!(", title {t:?}"))
                .unwrap_or_default(),
            e.sha256.as_ref().map(hex).unwrap_or_default(),
            if boots.is_empty() {
                "none".to_string()
            } else {
                boots.join("+")
            },
            e.label,
            added.generation
        );
    }
    Ok(Outcome::Success)
}
