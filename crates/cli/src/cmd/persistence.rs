//! `bootshelf persistence TARGET [NAME] [--size 4G [--family F] | --remove [--yes] |
//! --remove-orphans] [--json]`: a persistence file for a live ISO (the work is in
//! `stick::persistence`; docs/persistence.md). Without `--size`/`--remove` it lists the
//! persistence files (of NAME only, when given).

use crate::exit::Outcome;
use anyhow::{bail, Context};
use serde::Serialize;
use std::path::PathBuf;
use stick::index_io::{human, open_volume, IndexStore};
use stick::persistence::{self as pers, CreateOptions, Family};

/// Arguments of `bootshelf persistence`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// The ISO: path on the stick, file name or menu title.
    pub name: Option<String>,
    /// Make a persistence file of this size for NAME (e.g. 4G, 512M).
    #[arg(long, value_parser = crate::cmd::install::parse_size, requires = "name")]
    pub size: Option<u64>,
    /// The live system's family, instead of detecting it from the ISO.
    #[arg(long, value_parser = parse_family, requires = "size")]
    pub family: Option<Family>,
    /// Delete NAME's persistence file (asks first, unless --yes).
    #[arg(long, requires = "name", conflicts_with = "size")]
    pub remove: bool,
    /// Delete persistence files that no ISO links to any more.
    #[arg(long, conflicts_with_all = ["size", "remove", "name"])]
    pub remove_orphans: bool,
    /// Do not ask before deleting.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

fn parse_family(s: &str) -> Result<Family, String> {
    match s {
        "live-boot" | "debian" => Ok(Family::LiveBoot),
        "casper" | "ubuntu" => Ok(Family::Casper),
        "dracut" | "fedora" => Ok(Family::Dracut),
        _ => Err(format!(
            "{s:?}: the families are live-boot, casper and dracut"
        )),
    }
}

/// One persistence file in `--json` output.
#[derive(Serialize)]
struct JsonFile<'a> {
    iso: &'a str,
    path: &'a str,
    family: &'static str,
    label: &'static str,
    kernel_argument: &'static str,
    size: u64,
    /// Device byte offset of its first byte.
    start: u64,
    /// On the stick where the index says (else the loaders give it no window).
    present: bool,
}

fn json_file<'a>(iso: &'a str, l: &'a stick::index_io::Persistence, present: bool) -> JsonFile<'a> {
    JsonFile {
        iso,
        path: &l.path,
        family: l.family.name(),
        label: l.family.label(),
        kernel_argument: l.family.kernel_argument(),
        size: l.size,
        start: l.start,
        present,
    }
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let writes = args.size.is_some() || args.remove || args.remove_orphans;
    let mut stick = stick::Stick::open(&args.target, writes)
        .with_context(|| format!("opening {}", args.target.display()))?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    if let (Some(size), Some(name)) = (args.size, &args.name) {
        let opts = CreateOptions {
            size,
            family: args.family,
        };
        let plan = pers::plan(&mut vol, &store, name, &opts)?;
        let bars = crate::progress::Bars::new(args.json);
        let bar = bars.stick(&args.target.display().to_string());
        bar.bytes(&format!("writing {}", plan.path), plan.size);
        let made = pers::create(&mut vol, &mut store, &plan, &mut |n| bar.position(n));
        bar.finish();
        let made = made?;
        if args.json {
            let out = json_file(&made.iso, &made.link, true);
            crate::out::json(&out)?;
        } else {
            println!(
                "{}: persistence file {} ({}, ext4 labelled {:?} for {}{}); the loader exposes \
                 it when booting this ISO, with the kernel argument `{}`",
                made.iso,
                made.link.path,
                human(made.link.size),
                made.link.family.label(),
                made.link.family.name(),
                if made.detected { ", detected" } else { "" },
                made.link.family.kernel_argument()
            );
        }
        return Ok(Outcome::Success);
    }
    if args.remove {
        let name = args.name.as_deref().unwrap_or_default();
        let (iso, link) = pers::link_of(&mut vol, &store, name)?;
        let Some(link) = link else {
            bail!("{iso} has no persistence file. Nothing was written");
        };
        confirm(
            args.yes,
            &format!(
                "Delete {} ({}), the saved changes of {iso}?",
                link.path,
                human(link.size)
            ),
        )?;
        let r = pers::remove(&mut vol, &mut store, &iso)?;
        if args.json {
            crate::out::json(
                &serde_json::json!({"iso": r.iso, "removed": r.path, "file_deleted": r.file_deleted}),
            )?;
        } else {
            println!("removed the persistence file {} of {}", r.path, r.iso);
        }
        return Ok(Outcome::Success);
    }
    if args.remove_orphans {
        let orphans = pers::orphans(&mut vol, &store)?;
        if !orphans.is_empty() {
            confirm(
                args.yes,
                &format!(
                    "Delete {} (persistence files no ISO links to)?",
                    orphans.join(", ")
                ),
            )?;
        }
        for p in &orphans {
            pers::delete_file(&mut vol, p)?;
        }
        if args.json {
            crate::out::json(&serde_json::json!({ "removed": orphans }))?;
        } else if orphans.is_empty() {
            println!("no persistence file without its ISO");
        } else {
            for p in &orphans {
                println!("removed {p}");
            }
        }
        return Ok(Outcome::Success);
    }
    let listed = pers::list(&mut vol, &store, args.name.as_deref())?;
    let orphans = pers::orphans(&mut vol, &store)?;
    if args.json {
        let files: Vec<JsonFile<'_>> = listed
            .iter()
            .map(|l| json_file(&l.iso, &l.link, l.present))
            .collect();
        crate::out::json(&serde_json::json!({
            "files": files,
            "orphans": orphans,
        }))?;
        return Ok(Outcome::Success);
    }
    if listed.is_empty() {
        match &args.name {
            Some(n) => println!("{n} has no persistence file"),
            None => println!("no persistence files"),
        }
    }
    for l in &listed {
        println!(
            "{}  {}  {}  {}{}",
            l.iso,
            l.link.path,
            human(l.link.size),
            l.link.family.name(),
            if l.present {
                ""
            } else {
                "  (missing or moved: the loader gives it no window)"
            }
        );
    }
    for o in &orphans {
        println!("{o}  (no ISO links to it; `--remove-orphans` deletes it)");
    }
    Ok(Outcome::Success)
}

/// Ask `question` on the terminal unless `yes`; refuse without a terminal.
fn confirm(yes: bool, question: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    match crate::ask::answer(&format!("{question} [y/N] "))? {
        None => bail!("{question} Refusing without confirmation: stdin is not a terminal; add --yes. Nothing was written"),
        Some(a) if crate::ask::says_yes(&a) => Ok(()),
        Some(_) => bail!("not confirmed; nothing was written"),
    }
}
