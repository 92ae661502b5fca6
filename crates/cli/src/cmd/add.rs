//! `bootshelf add TARGET ISO... [--verify] [--force] [--title T] [--json]`: copy ISOs onto the stick
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
    /// Print what was added as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One ISO in `--json` output.
#[derive(serde::Serialize)]
struct JsonAdded {
    path: String,
    title: String,
    size: u64,
    sha256: Option<String>,
    label: String,
    bios: bool,
    uefi: bool,
    replaced: bool,
    verified: bool,
    /// Why it was copied despite `add`'s judgement (`--force`), else null.
    forced_because: Option<String>,
    /// Copy speed in bytes per second.
    bytes_per_sec: u64,
    generation: u64,
}

fn bar(len: u64, name: &str) -> ProgressBar {
    let pb = crate::out::progress(len);
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
    let mut stick = super::open_stick(&args.target, true)?;
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
    let mut json_rows = Vec::new();
    for p in &batch {
        if let Some(why) = &p.forced_because {
            crate::out::warn(&format!(
                "{}: {why}; copied anyway (--force)",
                p.src.display()
            ));
        }
        let pb = bar(p.size, &p.dest);
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
        if args.json {
            json_rows.push(JsonAdded {
                path: e.path.clone(),
                title: e.display_title().to_string(),
                size: e.size,
                sha256: e.sha256.as_ref().map(hex),
                label: e.label.clone(),
                bios: e.boots_on(PlatformId::X86),
                uefi: e.boots_on(PlatformId::EFI),
                replaced: added.replaced,
                verified: added.verified,
                forced_because: p.forced_because.as_ref().map(|w| w.to_string()),
                bytes_per_sec: (e.size as f64 / secs.max(1e-9)) as u64,
                generation: added.generation,
            });
            continue;
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
    if args.json {
        crate::out::json(&serde_json::json!({ "added": json_rows }))?;
    }
    Ok(Outcome::Success)
}
