//! `bootshelf list TARGET [--json]`: the ISOs on the stick as the menu shows them, in its
//! order, then indexed files the menu does not find (`present: false`; the
//! work is in `stick::list`, on crates/shelf's discovery).

use crate::exit::Outcome;
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
    /// The UEFI architectures its EFI boot image serves (`x86_64`, `ia32`, `aarch64`);
    /// null when not known (no EFI entry, or indexed before they were recorded).
    efi_arches: Option<Vec<&'static str>>,
    /// Those of them whose loader carries an Authenticode signature (whoever signed it);
    /// null when not known. Under Secure Boot the menu dims an ISO whose loader for the
    /// machine has none.
    efi_signed: Option<Vec<&'static str>>,
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
    /// Path of the lasting default (null: the first entry).
    default: Option<&'a str>,
    /// Path of the pending one-shot boot-next, else null.
    boot_next: Option<&'a str>,
    /// Bytes of the data partition's cluster heap.
    capacity: u64,
    /// Free bytes.
    free: u64,
    /// The largest free run: the largest ISO `add` can still copy.
    largest_free_run: u64,
    isos: Vec<JsonRow<'a>>,
    notes: &'a [String],
}

/// The marks of the first column and the columns' meanings, one line.
fn legend(l: &stick::list::Listing) -> String {
    let mut marks = vec!["* default", "> boot-next (once)"];
    if l.rows.iter().any(|r| !r.indexed) {
        marks.push("? not in the index yet (`bootshelf sync`)");
    }
    if l.rows.iter().any(|r| !r.present) {
        marks.push("! indexed, file gone (`bootshelf sync`)");
    }
    let mut columns = String::new();
    if l.rows
        .iter()
        .any(|r| signed_column(r.uefi, r.efi_arches, r.efi_signed) == "no")
    {
        columns.push_str("; SIGNED no: refused with Secure Boot on");
    }
    format!(
        "legend: {}{columns}; CONTIG NO: no ISO window at boot (`bootshelf sync --defragment`)",
        marks.join(", ")
    )
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = super::open_stick(&args.target, false)?;
    let mut vol = open_volume(&mut stick)?;
    let l = stick::list::list(&mut vol)?;
    if args.json {
        let out = JsonListing {
            generation: l.generation,
            timeout_secs: l.timeout,
            default: l.default.as_deref(),
            boot_next: l.boot_next.as_deref(),
            capacity: l.capacity,
            free: l.free,
            largest_free_run: l.largest_free_run,
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
                    efi_arches: r.efi_arches.map(|s| s.iter().map(|a| a.name()).collect()),
                    efi_signed: r.efi_signed.map(|s| s.iter().map(|a| a.name()).collect()),
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
            "{:<2}{:<36} {:>10}  {:<9} {:<20} {:<6} {:<6} {:<18} PATH",
            "", "TITLE", "SIZE", "BOOTS", "UEFI ARCH", "SIGNED", "CONTIG", "LABEL"
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
        // "x86_64,aarch64"; "-" without UEFI; "?" when not known (`sync` reads it).
        let arches = match (r.uefi, r.efi_arches) {
            (false, _) => "-".to_string(),
            (true, None) => "?".to_string(),
            (true, Some(s)) if s.is_empty() => "none".to_string(),
            (true, Some(s)) => s.iter().map(|a| a.name()).collect::<Vec<_>>().join(","),
        };
        let signed = signed_column(r.uefi, r.efi_arches, r.efi_signed);
        println!(
            "{mark:<2}{:<36} {:>10}  {boots:<9} {arches:<20} {signed:<6} {:<6} {:<18} {}",
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
    if !l.rows.is_empty() {
        println!("{}", legend(&l));
    }
    let title_of = |path: &Option<String>| {
        path.as_deref().map(|p| {
            l.rows
                .iter()
                .find(|r| shelf::names::same(&r.path, p))
                .map_or(p.to_string(), |r| r.title.clone())
        })
    };
    println!(
        "menu: default {}, timeout {}{}",
        title_of(&l.default).unwrap_or_else(|| "the first entry".into()),
        match l.timeout {
            Some(n) => format!("{n} s"),
            None => "never (waits for a key)".into(),
        },
        title_of(&l.boot_next)
            .map(|t| format!(", boot-next {t} (once)"))
            .unwrap_or_default()
    );
    println!(
        "space: {} free of {}; the largest ISO that still fits is {}",
        human(l.free),
        human(l.capacity),
        human(l.largest_free_run)
    );
    for n in &l.notes {
        println!("note: {n}");
    }
    Ok(Outcome::Success)
}

/// The SIGNED column: whether the UEFI loaders of an ISO serving `arches` carry an
/// Authenticode signature (`signed`, index byte 13): `yes` (all), `no` (none: refused
/// under Secure Boot, dimmed in the menu), `partly` (some architectures' only), `?` not
/// known (indexed by an older bootshelf: `sync` reads it), `-` without UEFI.
fn signed_column(
    uefi: bool,
    arches: Option<bootshelf_index::ArchSet>,
    signed: Option<bootshelf_index::ArchSet>,
) -> &'static str {
    match (uefi, arches, signed) {
        (false, _, _) => "-",
        (true, Some(a), Some(_)) if a.is_empty() => "-",
        (true, Some(a), Some(s)) if s == a => "yes",
        (true, Some(_), Some(s)) if s.is_empty() => "no",
        (true, Some(_), Some(_)) => "partly",
        (true, _, _) => "?",
    }
}
