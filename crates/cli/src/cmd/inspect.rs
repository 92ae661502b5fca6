//! `bootshelf inspect ISO... [--json]`: what an ISO is and how it boots: label, size,
//! dates, name trees, every El Torito boot entry, BIOS- and UEFI-bootable, hybrid layout
//! (MBR, GPT, appended partitions) and hints. The JSON form is documented in
//! docs/inspect.md and stable: fields are only ever added.

use crate::exit::Outcome;
use anyhow::{bail, Context, Result};
use blockdev::{BlockReader, FileDevice};
use iso9660::hybrid::Hybrid;
use iso9660::{Iso, PlatformId, ReadAt};
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `bootshelf inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// ISO images (or block devices holding one) to inspect.
    #[arg(required = true, value_name = "ISO")]
    isos: Vec<PathBuf>,
    /// Print one JSON document (see docs/inspect.md) instead of text.
    #[arg(long)]
    json: bool,
    /// Also print, on stderr, how many bytes were read from each ISO and how long it took.
    #[arg(long)]
    stats: bool,
}

/// A [`ReadAt`] that counts what goes through it.
pub struct Counting<R> {
    inner: R,
    /// Bytes read.
    pub bytes: u64,
    /// Read calls.
    pub calls: u64,
}

impl<R: ReadAt> ReadAt for Counting<R> {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), blockdev::IoError> {
        self.bytes += buf.len() as u64;
        self.calls += 1;
        self.inner.read_exact_at(offset, buf)
    }
}

/// Version of the JSON document; bumped only on incompatible changes.
pub const JSON_VERSION: u32 = 1;

/// The whole `--json` document.
#[derive(Serialize, Debug)]
pub struct Report {
    /// [`JSON_VERSION`].
    pub version: u32,
    /// One entry per ISO, in command-line order.
    pub isos: Vec<IsoReport>,
}

/// Everything known about one ISO. When `error` is set, the fields after it hold
/// whatever was read before the error.
#[derive(Serialize, Debug, Default)]
pub struct IsoReport {
    pub path: String,
    pub size: u64,
    pub error: Option<String>,
    /// Why the ISO is broken (truncated, a boot image past the end, an unreadable
    /// catalog): shelf's judgement, the one `add` refuses and `sync` reports.
    pub broken: Option<String>,
    pub label: Option<String>,
    pub joliet_label: Option<String>,
    pub volume_blocks: Option<u32>,
    pub created: Option<String>,
    pub modified: Option<String>,
    pub grub_uuid: Option<String>,
    pub system_id: Option<String>,
    pub publisher: Option<String>,
    pub preparer: Option<String>,
    pub application: Option<String>,
    pub joliet_level: Option<u8>,
    pub rock_ridge: bool,
    pub boot_catalog: Option<CatalogReport>,
    pub boot_entries: Vec<EntryReport>,
    pub bios_bootable: bool,
    pub uefi_bootable: bool,
    /// The UEFI architectures the bootable EFI entries' images serve (`x86_64`, `ia32`,
    /// `aarch64`: which `\EFI\BOOT\BOOT*.EFI` they hold); null without a readable one.
    pub uefi_arches: Option<Vec<&'static str>>,
    /// Those of them whose loader carries an Authenticode signature (whoever signed it:
    /// the firmware decides whether it trusts it); null when not known.
    pub uefi_signed: Option<Vec<&'static str>>,
    pub hybrid: Option<HybridReport>,
    pub hints: Vec<String>,
    /// `error` says the file could not be opened or read (an OS or device error), as
    /// opposed to: read, and not a (bootable) ISO. Not in the JSON; it makes the exit
    /// status 2 instead of 1.
    #[serde(skip)]
    pub unreadable: bool,
}

impl IsoReport {
    /// Read completely, and has an El Torito entry that boots on BIOS or UEFI: what
    /// `bootshelf add` takes without `--force`.
    pub fn is_bootable_iso(&self) -> bool {
        self.error.is_none() && self.broken.is_none() && (self.bios_bootable || self.uefi_bootable)
    }
}

/// The boot catalog's head.
#[derive(Serialize, Debug)]
pub struct CatalogReport {
    pub lba: u32,
    pub platform: String,
    pub platform_id: u8,
    pub id: String,
}

/// A section header.
#[derive(Serialize, Debug)]
pub struct SectionReport {
    pub index: u16,
    pub platform: String,
    pub platform_id: u8,
    pub entries: u16,
    pub id: String,
    #[serde(rename = "final")]
    pub is_final: bool,
}

/// One boot entry.
#[derive(Serialize, Debug)]
pub struct EntryReport {
    pub index: u16,
    pub section: Option<SectionReport>,
    pub platform: String,
    pub platform_id: u8,
    pub bootable: bool,
    pub emulation: String,
    pub media_type: u8,
    pub load_segment: u16,
    pub system_type: u8,
    pub sector_count: u16,
    pub load_rba: u32,
    pub image_size: Option<u64>,
    pub image_size_source: Option<String>,
    pub image_size_error: Option<String>,
    pub image_path: Option<String>,
    pub image_file_size: Option<u64>,
    /// EFI no-emulation entries: the architectures whose `\EFI\BOOT\BOOT*.EFI` the image's
    /// FAT holds; null for other entries or an unreadable image.
    pub efi_arches: Option<Vec<&'static str>>,
    /// Those of them whose loader carries an Authenticode signature (read from the PE
    /// headers and the certificate table's entry headers); null when not read.
    pub efi_signed: Option<Vec<&'static str>>,
    pub selection_criteria_type: u8,
    pub selection_criteria: String,
}

/// One partition of the system area's tables.
#[derive(Serialize, Debug)]
pub struct PartitionReport {
    pub table: &'static str,
    pub number: u32,
    #[serde(rename = "type")]
    pub kind: String,
    pub start: u64,
    pub sectors: u64,
    pub active: bool,
    pub name: Option<String>,
    pub appended: bool,
}

/// Hybrid layout.
#[derive(Serialize, Debug)]
pub struct HybridReport {
    pub hybrid: bool,
    pub mbr: bool,
    pub mbr_boot_code: bool,
    pub gpt: bool,
    pub gpt_header_crc_ok: Option<bool>,
    pub apple: bool,
    pub partitions: Vec<PartitionReport>,
    pub appended_partitions: Vec<u32>,
}

/// Run the command.
pub fn run(args: Args) -> Result<Outcome> {
    let reports: Vec<IsoReport> = args
        .isos
        .iter()
        .map(|p| {
            let start = std::time::Instant::now();
            let (rep, bytes, calls) = inspect_path_counted(p);
            if args.stats {
                eprintln!(
                    "{}: read {bytes} bytes in {calls} reads, {:.3} ms",
                    p.display(),
                    start.elapsed().as_secs_f64() * 1e3
                );
            }
            rep
        })
        .collect();
    let unreadable: Vec<&str> = reports
        .iter()
        .filter(|r| r.unreadable)
        .map(|r| r.path.as_str())
        .collect();
    let unreadable = unreadable.join(", ");
    let problems = reports.iter().any(|r| !r.is_bootable_iso());
    if args.json {
        let doc = Report {
            version: JSON_VERSION,
            isos: reports,
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for (i, r) in reports.iter().enumerate() {
            if i > 0 {
                println!();
            }
            print_text(r);
        }
    }
    if !unreadable.is_empty() {
        bail!("could not read {unreadable}");
    }
    Ok(if problems {
        Outcome::Problems
    } else {
        Outcome::Success
    })
}

/// Inspect one file; errors end up in the report. Also returns the bytes read and the
/// number of reads.
pub fn inspect_path_counted(path: &std::path::Path) -> (IsoReport, u64, u64) {
    let mut rep = IsoReport {
        path: path.display().to_string(),
        ..Default::default()
    };
    let mut counts = (0, 0);
    if let Err(e) = open_and_fill(path, &mut rep, &mut counts) {
        rep.unreadable = is_read_failure(&e);
        rep.error = Some(format!("{e:#}"));
    }
    (rep, counts.0, counts.1)
}

/// Whether `e` says the file could not be opened or read (an OS error, a device error,
/// the medium gone), rather than that its bytes are not an ISO or are damaged (a read
/// past the end of a truncated image counts as damaged).
fn is_read_failure(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some()
            || matches!(
                c.downcast_ref::<iso9660::Error>(),
                Some(iso9660::Error::Io {
                    error: blockdev::IoError::Device { .. } | blockdev::IoError::NoMedia,
                    ..
                })
            )
    })
}

fn open_and_fill(
    path: &std::path::Path,
    rep: &mut IsoReport,
    counts: &mut (u64, u64),
) -> Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = device_size(&file).with_context(|| format!("sizing {}", path.display()))?;
    rep.size = size;
    // 512-byte sectors over the file: ISO reads are 2048-aligned, the system area is not.
    let mut reader = Counting {
        inner: BlockReader::new(FileDevice::new(file, 512, size)),
        bytes: 0,
        calls: 0,
    };
    let r = fill(&mut reader, rep);
    *counts = (reader.bytes, reader.calls);
    r
}

fn device_size(f: &std::fs::File) -> std::io::Result<u64> {
    use std::io::{Seek, SeekFrom};
    let meta = f.metadata()?;
    if meta.is_file() {
        return Ok(meta.len());
    }
    // Block devices report 0 in metadata; seeking to the end gives their size.
    let mut f = f;
    let n = f.seek(SeekFrom::End(0))?;
    f.seek(SeekFrom::Start(0))?;
    Ok(n)
}

/// Fill `rep` from any reader.
pub fn fill<R: ReadAt>(mut reader: R, rep: &mut IsoReport) -> Result<()> {
    if rep.size == 0 {
        rep.size = reader.len();
    }
    if let Err(stick::add::InspectError::Broken { why, .. }) = stick::add::inspect_iso(&mut reader)
    {
        rep.broken = Some(why.to_string());
    }
    let mut iso = Iso::open(reader).context("reading the volume descriptors")?;
    let v = *iso.volume();
    rep.label = Some(v.label().to_string());
    rep.joliet_label = v.joliet.map(|j| ucs2_label(&j.volume_identifier));
    rep.volume_blocks = Some(v.volume_space_size);
    rep.created = v.creation().map(|d| iso_datetime(&d));
    rep.modified = v.modification().map(|d| iso_datetime(&d));
    rep.grub_uuid = v
        .modification()
        .map(|d| String::from_utf8_lossy(&d.grub_uuid()).into_owned());
    let text = |b: &[u8]| iso9660::descriptor::trimmed_str(b).to_string();
    rep.system_id = Some(text(&v.primary.system_identifier));
    rep.publisher = Some(text(&v.primary.publisher_identifier));
    rep.preparer = Some(text(&v.primary.data_preparer_identifier));
    rep.application = Some(text(&v.primary.application_identifier));
    rep.joliet_level = iso.joliet_level();
    rep.rock_ridge = iso.has_rock_ridge();

    let hybrid = iso.hybrid().context("reading the system area")?;
    rep.hybrid = Some(hybrid_report(&mut iso, &hybrid)?);

    if let Some(cat) = iso.boot_catalog().context("reading the boot catalog")? {
        rep.boot_catalog = Some(CatalogReport {
            lba: cat.lba,
            platform: platform_name(cat.platform()),
            platform_id: cat.platform().0,
            id: cat.id_string().to_string(),
        });
        let mut entries = Vec::new();
        for e in cat.entries(iso.reader()) {
            entries.push(e.context("reading the boot catalog")?);
        }
        for e in &entries {
            rep.boot_entries.push(entry_report(&mut iso, e));
        }
    }
    rep.bios_bootable = rep
        .boot_entries
        .iter()
        .any(|e| e.bootable && e.platform_id == PlatformId::X86.0);
    rep.uefi_bootable = rep
        .boot_entries
        .iter()
        .any(|e| e.bootable && e.platform_id == PlatformId::EFI.0);
    let efi: Vec<&EntryReport> = rep
        .boot_entries
        .iter()
        .filter(|e| e.bootable && e.platform_id == PlatformId::EFI.0)
        .collect();
    rep.uefi_arches = union_of(efi.iter().map(|e| e.efi_arches.as_ref()), false);
    rep.uefi_signed = union_of(efi.iter().map(|e| e.efi_signed.as_ref()), true);
    let hints = iso.hints().context("looking for hints")?;
    rep.hints = hints.iter().map(|h| h.name.to_string()).collect();
    Ok(())
}

/// The union of the entries' architecture lists (in first-seen order); `None` when no
/// entry has one, or (`all_needed`) when any entry's is not known.
fn union_of<'a>(
    lists: impl Iterator<Item = Option<&'a Vec<&'static str>>>,
    all_needed: bool,
) -> Option<Vec<&'static str>> {
    let mut all: Option<Vec<&'static str>> = None;
    for list in lists {
        match list {
            Some(names) => {
                let all = all.get_or_insert_with(Vec::new);
                for n in names {
                    if !all.contains(n) {
                        all.push(n);
                    }
                }
            }
            None if all_needed => return None,
            None => {}
        }
    }
    all
}

fn entry_report<R: ReadAt>(iso: &mut Iso<R>, e: &iso9660::BootEntry) -> EntryReport {
    let file = image_file(iso, e.load_rba);
    let file_bytes = iso.volume().image_size;
    let efi = if e.platform == PlatformId::EFI && e.emulation() == iso9660::Emulation::NONE {
        shelf::catalog::efi_loaders(iso.reader(), e.load_rba, file_bytes)
    } else {
        bootshelf_index::EfiLoaders::default()
    };
    let names = |set: Option<bootshelf_index::ArchSet>| {
        set.map(|set| set.iter().map(|a| a.name()).collect())
    };
    let (efi_arches, efi_signed) = (names(efi.arches), names(efi.signed));
    let (image_size, image_size_source, image_size_error) = match iso.image_size(e) {
        Ok(s) => (Some(s.bytes), Some(s.source.name().to_string()), None),
        Err(err) => (None, None, Some(err.to_string())),
    };
    EntryReport {
        index: e.index,
        section: e.section.map(|s| SectionReport {
            index: s.index,
            platform: platform_name(s.platform),
            platform_id: s.platform.0,
            entries: s.entry_count,
            id: s.id_str().to_string(),
            is_final: s.is_final,
        }),
        platform: platform_name(e.platform),
        platform_id: e.platform.0,
        bootable: e.bootable,
        emulation: e
            .emulation()
            .name()
            .map_or_else(|| format!("{:#x}", e.emulation().0), str::to_string),
        media_type: e.media.0,
        load_segment: e.load_segment,
        system_type: e.system_type,
        sector_count: e.sector_count,
        load_rba: e.load_rba,
        image_size,
        image_size_source,
        image_size_error,
        image_path: file.as_ref().map(|f| f.0.clone()),
        image_file_size: file.map(|f| u64::from(f.1)),
        efi_arches,
        efi_signed,
        selection_criteria_type: e.selection.kind,
        selection_criteria: hex(e.selection.bytes()),
    }
}

/// Directory bytes the search for an image's path may read: boot images sit near the
/// root (`/isolinux/isolinux.bin`, `/boot/grub/i386-pc/eltorito.img`, `/EFI/...`), and a
/// full walk of a DVD's tree would read megabytes.
const PATH_SEARCH_BUDGET: u64 = 256 * 1024;

/// The path and size of the file whose extent starts at `lba`, breadth first from the
/// root of the best namespace, within [`PATH_SEARCH_BUDGET`].
fn image_file<R: ReadAt>(iso: &mut Iso<R>, lba: u32) -> Option<(String, u32)> {
    let root = iso.root(iso.best_namespace())?;
    let mut queue = std::collections::VecDeque::from([(root, String::new())]);
    let mut seen = std::collections::HashSet::from([root.extent.lba]);
    let mut budget = PATH_SEARCH_BUDGET;
    while let Some((dir, path)) = queue.pop_front() {
        let cost = u64::from(dir.extent.size).max(2048);
        if cost > budget {
            return None;
        }
        budget -= cost;
        let entries: Vec<_> = iso.entries(dir).ok()?.collect::<Result<_, _>>().ok()?;
        for e in entries {
            let name = String::from_utf8_lossy(e.name.as_bytes()).into_owned();
            if e.is_dir() {
                if !e.relocated && seen.insert(e.lba) {
                    if let Ok(sub) = iso.open_dir(dir, &e) {
                        queue.push_back((sub, format!("{path}/{name}")));
                    }
                }
            } else if e.lba == lba && e.size > 0 {
                return Some((format!("{path}/{name}"), e.size));
            }
        }
    }
    None
}

fn hybrid_report<R: ReadAt>(iso: &mut Iso<R>, h: &Hybrid) -> Result<HybridReport> {
    let volume_end_512 = u64::from(iso.volume().volume_space_size) * 4;
    let mut partitions = Vec::new();
    if let Some(mbr) = &h.mbr {
        for p in mbr.iter() {
            partitions.push(PartitionReport {
                table: "mbr",
                number: u32::from(p.number),
                kind: format!("{:#04x}", p.entry.os_type),
                start: u64::from(p.entry.starting_lba),
                sectors: u64::from(p.entry.size_in_lba),
                active: p.entry.boot_indicator == 0x80,
                name: None,
                appended: p.entry.os_type != 0xEE
                    && u64::from(p.entry.starting_lba) >= volume_end_512,
            });
        }
    }
    if let Some(gpt) = &h.gpt {
        let mut found = Vec::new();
        gpt.partitions(iso.reader(), |n, e| found.push((n, *e)))
            .context("reading the GPT partition entries")?;
        for (n, e) in found {
            partitions.push(PartitionReport {
                table: "gpt",
                number: n,
                kind: e.partition_type_guid.to_string(),
                start: e.starting_lba,
                sectors: e.ending_lba.saturating_sub(e.starting_lba) + 1,
                active: false,
                name: Some(e.name().collect()),
                appended: e.starting_lba >= volume_end_512,
            });
        }
    }
    let mut appended: Vec<u32> = partitions
        .iter()
        .filter(|p| p.appended)
        .map(|p| p.number)
        .collect();
    appended.dedup();
    Ok(HybridReport {
        hybrid: h.is_hybrid(),
        mbr: h.mbr.is_some(),
        mbr_boot_code: h.mbr.is_some_and(|m| m.has_boot_code),
        gpt: h.gpt.is_some(),
        gpt_header_crc_ok: h.gpt.map(|g| g.header_crc_ok),
        apple: h.apple,
        partitions,
        appended_partitions: appended,
    })
}

fn platform_name(p: PlatformId) -> String {
    p.name()
        .map_or_else(|| format!("{:#04x}", p.0), str::to_string)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn ucs2_label(b: &[u8; 32]) -> String {
    let s: String = char::decode_utf16(b.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])))
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    s.trim_end_matches([' ', '\0']).to_string()
}

/// `2024-01-02T03:04:05.06+01:00` (offset from the 15-minute GMT offset).
fn iso_datetime(d: &iso9660::DecDateTime) -> String {
    let off = i32::from(d.gmt_offset) * 15;
    let sign = if off < 0 { '-' } else { '+' };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:02}{}{:02}:{:02}",
        d.year,
        d.month,
        d.day,
        d.hour,
        d.minute,
        d.second,
        d.hundredths,
        sign,
        off.abs() / 60,
        off.abs() % 60
    )
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn print_text(r: &IsoReport) {
    println!("{}", r.path);
    let row = |k: &str, v: &str| println!("  {k:<13}{v}");
    if let Some(b) = &r.broken {
        row(
            "warning",
            &format!("broken ISO: {b}; `bootshelf add` refuses it"),
        );
    }
    if let Some(l) = &r.label {
        row("label", l);
    }
    row(
        "size",
        &format!(
            "{} bytes{}",
            r.size,
            r.volume_blocks
                .map(|b| format!(" (ISO 9660 volume: {} blocks of 2048)", b))
                .unwrap_or_default()
        ),
    );
    if let Some(c) = &r.created {
        row("created", c);
    }
    if let Some(u) = &r.grub_uuid {
        row("GRUB UUID", u);
    }
    if r.label.is_some() {
        let mut names = vec!["ISO 9660".to_string()];
        if let Some(l) = r.joliet_level {
            names.push(format!("Joliet level {l}"));
        }
        if r.rock_ridge {
            names.push("Rock Ridge".into());
        }
        row("names", &names.join(", "));
        row("BIOS boot", yes(r.bios_bootable));
        match &r.uefi_arches {
            Some(a) if r.uefi_bootable => row(
                "UEFI boot",
                &format!(
                    "yes, for {}",
                    if a.is_empty() {
                        "no architecture (no \\EFI\\BOOT\\BOOT*.EFI)".to_string()
                    } else {
                        a.join(", ")
                    }
                ),
            ),
            _ => row("UEFI boot", yes(r.uefi_bootable)),
        }
        if let (true, Some(arches), Some(signed)) =
            (r.uefi_bootable, &r.uefi_arches, &r.uefi_signed)
        {
            if !arches.is_empty() {
                row("Secure Boot", &secure_boot_line(arches, signed));
            }
        }
    }
    if let Some(h) = &r.hybrid {
        let mut what = Vec::new();
        if h.mbr {
            what.push(format!(
                "MBR ({} partition{})",
                h.partitions.iter().filter(|p| p.table == "mbr").count(),
                if h.partitions.iter().filter(|p| p.table == "mbr").count() == 1 {
                    ""
                } else {
                    "s"
                }
            ));
        }
        if h.gpt {
            what.push(format!(
                "GPT ({} partitions)",
                h.partitions.iter().filter(|p| p.table == "gpt").count()
            ));
        }
        if h.apple {
            what.push("Apple partition map".into());
        }
        if !h.appended_partitions.is_empty() {
            what.push(format!("appended partition(s) {:?}", h.appended_partitions));
        }
        row(
            "hybrid",
            &format!(
                "{}{}",
                yes(h.hybrid),
                if what.is_empty() {
                    String::new()
                } else {
                    format!(": {}", what.join(", "))
                }
            ),
        );
        for p in &h.partitions {
            println!(
                "    {} {:<2} type {:<36} start {:>10} sectors {:>10}{}{}",
                p.table,
                p.number,
                p.kind,
                p.start,
                p.sectors,
                if p.active { " active" } else { "" },
                if p.appended { " appended" } else { "" }
            );
        }
    }
    if let Some(c) = &r.boot_catalog {
        row("boot catalog", &format!("block {}", c.lba));
        println!(
            "    {:<3} {:<4} {:<8} {:<5} {:<13} {:<8} {:<5} {:>7} {:>9}  image",
            "#", "sect", "platform", "boot", "emulation", "load seg", "sys", "sectors", "load RBA"
        );
        for e in &r.boot_entries {
            let size = match (&e.image_size, &e.image_size_source, &e.image_size_error) {
                (Some(b), Some(s), _) => format!("{b} bytes ({s})"),
                (_, _, Some(err)) => format!("size unknown: {err}"),
                _ => String::new(),
            };
            println!(
                "    {:<3} {:<4} {:<8} {:<5} {:<13} {:<8} {:<5} {:>7} {:>9}  {}{}",
                e.index,
                e.section
                    .as_ref()
                    .map_or("-".into(), |s| s.index.to_string()),
                e.platform,
                yes(e.bootable),
                e.emulation,
                format!("{:#06x}", e.load_segment),
                format!("{:#04x}", e.system_type),
                e.sector_count,
                e.load_rba,
                e.image_path
                    .as_deref()
                    .map_or(String::new(), |p| format!("{p} ")),
                size
            );
        }
    } else if r.label.is_some() {
        row("boot catalog", "none");
    }
    if !r.hints.is_empty() {
        row("hints", &r.hints.join(", "));
    }
    if let Some(e) = &r.error {
        row("error", e);
    }
}

/// The `Secure Boot` line of `inspect`: which UEFI loaders carry a signature. Carrying one
/// is what the index knows; whether the firmware trusts the signer is the firmware's call.
fn secure_boot_line(arches: &[&str], signed: &[&str]) -> String {
    if signed.is_empty() {
        "no signed loader: refused with Secure Boot on".to_string()
    } else if arches.iter().all(|a| signed.contains(a)) {
        "signed loader (booting still needs a signer the firmware trusts)".to_string()
    } else {
        format!(
            "signed loader for {} only (booting still needs a signer the firmware trusts)",
            signed.join(", ")
        )
    }
}
