//! `bootshelf add STICK ISO... [--verify] [--force] [--title T] [--json]`, or
//! `bootshelf add --to STICK [--to STICK2...] ISO...`: copy ISOs onto one stick, or onto
//! several at once (one thread and one progress line each), contiguously, hash and index
//! them (the work is in `stick::add`; several sticks in `crate::targets`).

use crate::exit::Outcome;
use crate::progress::{summary, Bars, StickBar};
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use stick::add::{add_prepared, check_space, prepare, AddOptions, Verify};
use stick::copy::hex;
use stick::index_io::{open_volume, IndexStore, PlatformId};

/// Arguments of `bootshelf add`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick (an image file or a block device made by `bootshelf install`), then the
    /// ISO files to copy. With --to, all of them are ISO files.
    #[arg(required = true, value_name = "STICK ISO")]
    pub paths: Vec<PathBuf>,
    /// Copy the ISOs onto this stick; repeat for several sticks, written at the same time.
    #[arg(long = "to", value_name = "STICK")]
    pub to: Vec<PathBuf>,
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

/// One stick in `--json` output.
#[derive(serde::Serialize)]
struct JsonStick {
    target: String,
    added: Vec<JsonAdded>,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let (targets, isos) = if args.to.is_empty() {
        match args.paths.split_first() {
            Some((stick, isos)) if !isos.is_empty() => (vec![stick.clone()], isos.to_vec()),
            _ => bail!(
                "add needs a stick and at least one ISO: bootshelf add STICK ISO..., or \
                 bootshelf add --to STICK [--to STICK...] ISO..."
            ),
        }
    } else {
        (args.to.clone(), args.paths.clone())
    };
    if args.title.is_some() && isos.len() > 1 {
        bail!("--title needs exactly one ISO");
    }
    crate::targets::check_distinct(&targets)?;
    let bars = Bars::new(args.json);
    let several = targets.len() > 1;
    let results = crate::targets::in_parallel(&targets, |_, target| {
        let mut bar = bars.stick(&if several {
            format!("{}:", target.display())
        } else {
            String::new()
        });
        let r = add_to(target, &isos, &args, &bars, &mut bar, several);
        bar.finish();
        r
    });
    if args.json {
        crate::targets::json_report(&targets, &results)?;
    }
    crate::targets::conclude(&targets, results, args.json)?;
    Ok(Outcome::Success)
}

/// Add `isos` to one stick; prints a line per ISO and a summary line.
fn add_to(
    target: &Path,
    isos: &[PathBuf],
    args: &Args,
    bars: &Bars,
    bar: &mut StickBar,
    several: bool,
) -> anyhow::Result<JsonStick> {
    let started = std::time::Instant::now();
    let mut stick = super::open_stick(target, true)?;
    let dev_path = stick.path().to_owned();
    let direct = stick::copy::open_direct(&dev_path);
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
        direct: direct.map(std::sync::Arc::new),
    };
    // Everything is checked before anything is written.
    let mut batch = Vec::new();
    for iso in isos {
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
    // With several sticks every line says which one it is about.
    let on = if several {
        format!("{}: ", target.display())
    } else {
        String::new()
    };
    let mut total = 0u64;
    for p in &batch {
        if let Some(why) = &p.forced_because {
            crate::out::warn(&format!(
                "{on}{}: {why}; copied anyway (--force)",
                p.src.display()
            ));
        }
        bar.item(&p.dest);
        let t = std::time::Instant::now();
        let added = add_prepared(&mut vol, &mut store, p, &opts, &mut |e| bar.progress(e))?;
        let secs = t.elapsed().as_secs_f64();
        total += p.size;
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
        bars.println(&format!(
            "{on}{} {} ({}){}{}\n  sha256 {}  boots {}  label {:?}  index generation {}",
            if added.replaced { "replaced" } else { "added" },
            e.path,
            summary(e.size, secs),
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
        ));
    }
    if args.json {
        return Ok(JsonStick {
            target: target.display().to_string(),
            added: json_rows,
        });
    }
    bars.println(&format!(
        "{on}done: {} ISO{} copied{}, {}",
        batch.len(),
        if batch.len() == 1 { "" } else { "s" },
        if args.verify { " and verified" } else { "" },
        summary(total, started.elapsed().as_secs_f64())
    ));
    Ok(JsonStick {
        target: target.display().to_string(),
        added: json_rows,
    })
}
