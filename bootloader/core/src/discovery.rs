//! Discovery: from the whole stick to the menu's entries. Partition table (ptable) ->
//! data partition -> exFAT volume -> the index (crates/index) -> every `*.iso` file
//! found by scanning the volume (bounded depth and counts). Indexed files are taken from
//! the index without opening them; files the index lacks, and indexed files whose size or
//! first cluster changed, are parsed on the spot with crates/iso9660.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use blockdev::{BlockDevice, BlockReader, Extent, ExtentReader};
use bootshelf_index::{
    BootEntry as CatalogEntry, Emulation, Index, IsoEntry, PlatformId, Slot, Timeout,
};

use crate::cache::ReadCache;
use crate::menu;

/// The firmware the loader runs on: decides which El Torito entries count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    /// UEFI: needs an entry for platform 0xEF.
    Uefi,
    /// Legacy BIOS: needs an entry for platform 0x00 (x86).
    Bios,
}

impl Firmware {
    /// The El Torito platform this firmware boots.
    pub fn platform(self) -> PlatformId {
        match self {
            Firmware::Uefi => PlatformId::EFI,
            Firmware::Bios => PlatformId::X86,
        }
    }

    /// The menu message for an ISO without an entry for this firmware.
    pub fn no_entry_message(self) -> &'static str {
        match self {
            Firmware::Uefi => "no UEFI boot entry in this ISO",
            Firmware::Bios => "no BIOS boot entry in this ISO",
        }
    }
}

/// Where an entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// From the index, file unchanged: nothing was read from the ISO.
    Indexed,
    /// Parsed at boot: not in the index, or changed since it was indexed.
    Scanned,
}

/// One bootable (or listed but not bootable) ISO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootEntry {
    /// Menu title: the custom title from the index, else the file name.
    pub title: String,
    /// Absolute path on the data partition.
    pub path: String,
    /// File size in bytes.
    pub size: u64,
    /// ISO 9660 volume label.
    pub label: String,
    /// The file's device byte extents, in file order (one when contiguous).
    pub extents: Vec<Extent>,
    /// Every El Torito entry, in catalog order.
    pub boot: Vec<CatalogEntry>,
    /// Indexed or scanned.
    pub source: Source,
    /// The index has the file, but its size or first cluster differ from what is on the
    /// volume now (the entry holds the fresh data, parsed on the spot).
    pub changed: bool,
    /// Why the ISO could not be parsed (then `boot` is empty).
    pub problem: Option<String>,
}

impl BootEntry {
    /// The El Torito entry to boot on `fw`: the first bootable entry for its platform.
    pub fn boot_entry(&self, fw: Firmware) -> Option<&CatalogEntry> {
        self.boot
            .iter()
            .find(|b| b.bootable && b.platform == fw.platform())
    }

    /// Whether it boots under UEFI.
    pub fn uefi(&self) -> bool {
        self.boot_entry(Firmware::Uefi).is_some()
    }

    /// Whether it boots under BIOS.
    pub fn bios(&self) -> bool {
        self.boot_entry(Firmware::Bios).is_some()
    }

    /// Whether the file is one run of bytes on the device (needed for the ISO window).
    pub fn is_contiguous(&self) -> bool {
        let mut runs = 0;
        let mut end = None;
        for e in self.extents.iter().filter(|e| e.len > 0) {
            if end != Some(e.start) {
                runs += 1;
            }
            end = e.start.checked_add(e.len);
        }
        runs == 1
    }

    /// Why Enter cannot boot it on `fw`, if it cannot.
    pub fn blocked(&self, fw: Firmware) -> Option<String> {
        if let Some(p) = &self.problem {
            return Some(if self.changed {
                format!("ISO changed since it was indexed, and reading it failed: {p}")
            } else {
                format!("cannot read this ISO: {p}")
            });
        }
        match self.boot_entry(fw) {
            Some(_) => None,
            None => Some(String::from(fw.no_entry_message())),
        }
    }

    /// The menu entry for `fw`: title; size, label, modes and state as detail.
    pub fn item(&self, fw: Firmware) -> menu::Item {
        let modes = match (self.uefi(), self.bios()) {
            (true, true) => "UEFI+BIOS",
            (true, false) => "UEFI",
            (false, true) => "BIOS",
            (false, false) => "not bootable",
        };
        let mut detail = format!("{}  {}", human_size(self.size), modes);
        if !self.label.is_empty() && self.label != self.title {
            detail = format!("{}  {}", self.label, detail);
        }
        if self.changed {
            detail.push_str("  (changed since indexed)");
        } else if self.source == Source::Scanned {
            detail.push_str("  (not indexed)");
        }
        menu::Item {
            title: self.title.clone(),
            detail,
            blocked: self.blocked(fw),
        }
    }
}

/// Bounds on the scan, so a stick full of folders cannot stall the boot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Folder depth scanned: 0 = only the root folder.
    pub max_depth: usize,
    /// Folders read at most.
    pub max_dirs: usize,
    /// ISO files listed at most.
    pub max_isos: usize,
    /// Largest index slot file read.
    pub max_index_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 3,
            max_dirs: 512,
            max_isos: 4096,
            max_index_bytes: 16 << 20,
        }
    }
}

/// What discovery found.
#[derive(Clone, Debug)]
pub struct Discovery {
    /// bootshelf's partitions (and a stale ISO window, if one is left).
    pub layout: ptable::Layout,
    /// The entries in menu order: indexed ISOs in index order, then the rest by path.
    pub entries: Vec<BootEntry>,
    /// The index in use (an empty one when neither slot is valid) and the slot it came
    /// from.
    pub index: Index,
    /// The slot `index` was read from; `None` when no slot was valid.
    pub index_slot: Option<Slot>,
    /// Entry to select at start: boot-next, else the default, else the first.
    pub preselect: Option<usize>,
    /// Whether `preselect` is a one-shot boot-next.
    pub boot_next: bool,
    /// Things worth telling the user that did not stop discovery (damaged index slot,
    /// indexed file missing, scan limits reached).
    pub notes: Vec<String>,
}

impl Discovery {
    /// The menu configuration these settings give.
    pub fn menu_config(&self, title: &str) -> menu::Config {
        menu::Config {
            timeout_secs: match self.index.settings.timeout {
                Timeout::Never => None,
                Timeout::Seconds(s) => Some(u32::from(s)),
            },
            preselect: self.preselect,
            boot_next: self.boot_next,
            title: String::from(title),
        }
    }

    /// The menu entries for `fw`.
    pub fn items(&self, fw: Firmware) -> Vec<menu::Item> {
        self.entries.iter().map(|e| e.item(fw)).collect()
    }
}

/// Why discovery failed as a whole.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscoverError {
    /// The partition table is unreadable or not bootshelf's.
    Table(ptable::Error),
    /// The data partition's exFAT could not be opened or its root read.
    Volume(exfat::Error),
    /// The index could not be encoded or written (boot-next consumption).
    Index(String),
}

impl fmt::Display for DiscoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoverError::Table(e) => write!(f, "partition table: {e}"),
            DiscoverError::Volume(e) => write!(f, "data partition: {e}"),
            DiscoverError::Index(e) => write!(f, "index: {e}"),
        }
    }
}

impl From<ptable::Error> for DiscoverError {
    fn from(e: ptable::Error) -> Self {
        DiscoverError::Table(e)
    }
}

impl From<exfat::Error> for DiscoverError {
    fn from(e: exfat::Error) -> Self {
        DiscoverError::Volume(e)
    }
}

type Vol<'d, D> = exfat::Volume<&'d mut D>;

/// Discover every ISO on the stick `dev` (the whole disk). Reads go through a
/// [`ReadCache`]: folder scans read one sector at a time, which costs a firmware call each.
pub fn discover<D: BlockDevice>(dev: &mut D, limits: &Limits) -> Result<Discovery, DiscoverError> {
    discover_uncached(&mut ReadCache::new(dev), limits)
}

fn discover_uncached<D: BlockDevice>(
    dev: &mut D,
    limits: &Limits,
) -> Result<Discovery, DiscoverError> {
    let (_, layout) = ptable::read_layout(dev)?;
    let mut notes = Vec::new();
    if let Some(e) = layout.foreign_slot_error() {
        notes.push(format!("{e}; ISOs boot without it"));
    }
    let mut vol = exfat::Volume::open(&mut *dev, layout.data.first_lba, layout.data.sectors())?;

    // The index: both slots, the newer valid one.
    // One listing of the index folder serves both slots.
    let listing = match vol.read_dir(bootshelf_index::SLOT_DIR) {
        Ok(l) => l,
        Err(exfat::Error::NotFound { .. }) => Vec::new(),
        Err(e) => {
            notes.push(format!("{}: {e}", bootshelf_index::SLOT_DIR));
            Vec::new()
        }
    };
    let mut slot_bytes: [Option<Vec<u8>>; 2] = [None, None];
    for (i, slot) in Slot::ALL.iter().enumerate() {
        let name = file_name(slot.path());
        let Some(de) = listing.iter().find(|d| d.name.eq_ignore_ascii_case(name)) else {
            continue;
        };
        match read_slot(&mut vol, de, limits.max_index_bytes) {
            Ok(b) => slot_bytes[i] = Some(b),
            Err(e) => notes.push(format!("index {}: {e}", slot.path())),
        }
    }
    drop(listing);
    let [a, b] = &slot_bytes;
    let selection = bootshelf_index::select(a.as_deref(), b.as_deref());
    for (slot, err) in [(Slot::A, &selection.a_error), (Slot::B, &selection.b_error)] {
        if let Some(bootshelf_index::SlotError::Invalid(e)) = err {
            notes.push(format!("index {}: {e}", slot.path()));
        }
    }
    // Take the index out of the selection rather than cloning it (the BIOS loader's heap
    // never frees).
    let (index_slot, index) = match selection.current {
        Some((s, i)) => (Some(s), i),
        None => (None, Index::default()),
    };
    drop(slot_bytes);

    // Every ISO file on the volume.
    let files = walk(&mut vol, limits, &mut notes)?;
    let mut by_path: BTreeMap<String, usize> = BTreeMap::new();
    for (i, (p, _)) in files.iter().enumerate() {
        by_path.insert(p.to_ascii_lowercase(), i);
    }
    let mut used = vec![false; files.len()];
    let mut entries = Vec::with_capacity(files.len());
    for iso in &index.isos {
        let Some(&i) = by_path.get(&iso.path.to_ascii_lowercase()) else {
            notes.push(format!("{}: in the index but not on the stick", iso.path));
            continue;
        };
        let Some((path, de)) = files.get(i) else {
            continue;
        };
        if let Some(u) = used.get_mut(i) {
            *u = true;
        }
        let first = first_cluster_offset(&mut vol, de);
        let unchanged = de.size == iso.size && first == iso.extents.first().map(|e| e.start);
        if unchanged {
            entries.push(from_index(iso));
        } else {
            let mut e = scan_file(&mut vol, path, de);
            e.changed = true;
            if let Some(t) = &iso.title {
                e.title.clone_from(t);
            }
            entries.push(e);
        }
    }
    for (i, (path, de)) in files.iter().enumerate() {
        if !used.get(i).copied().unwrap_or(true) {
            entries.push(scan_file(&mut vol, path, de));
        }
    }

    let (preselect, boot_next) = match &index.settings.boot_next {
        Some(p) => match position(&entries, p) {
            Some(i) => (Some(i), true),
            None => (default_position(&index, &entries), false),
        },
        None => (default_position(&index, &entries), false),
    };
    Ok(Discovery {
        layout,
        entries,
        index,
        index_slot,
        preselect,
        boot_next,
        notes,
    })
}

fn position(entries: &[BootEntry], path: &str) -> Option<usize> {
    entries
        .iter()
        .position(|e| e.path.eq_ignore_ascii_case(path))
}

fn default_position(index: &Index, entries: &[BootEntry]) -> Option<usize> {
    match &index.settings.default {
        Some(p) => position(entries, p).or((!entries.is_empty()).then_some(0)),
        None => (!entries.is_empty()).then_some(0),
    }
}

/// Clear a one-shot boot-next before booting: write the index with `boot_next` removed
/// and the next generation into the other slot (docs/index-format.md). Does nothing when
/// there is no boot-next.
pub fn consume_boot_next<D: BlockDevice>(
    dev: &mut D,
    disc: &mut Discovery,
) -> Result<(), DiscoverError> {
    if disc.index.settings.boot_next.is_none() {
        return Ok(());
    }
    let mut next = disc.index.clone();
    next.settings.boot_next = None;
    next.generation = next.generation.wrapping_add(1);
    let slot = disc.index_slot.map_or(Slot::A, Slot::other);
    let bytes = bootshelf_index::encode(&next).map_err(|e| DiscoverError::Index(e.to_string()))?;
    let data = &disc.layout.data;
    let mut vol = exfat::Volume::open(&mut *dev, data.first_lba, data.sectors())?;
    vol.write_file(slot.path(), &bytes)?;
    vol.device()
        .flush()
        .map_err(|e| DiscoverError::Volume(exfat::Error::Io(e)))?;
    disc.index = next;
    disc.index_slot = Some(slot);
    disc.boot_next = false;
    Ok(())
}

fn read_slot<D: BlockDevice>(
    vol: &mut Vol<'_, D>,
    de: &exfat::DirEntry,
    max: u64,
) -> Result<Vec<u8>, String> {
    if de.is_dir {
        return Err(String::from("is a folder"));
    }
    if de.size > max {
        return Err(format!(
            "{} bytes, more than the {max} an index may have",
            de.size
        ));
    }
    let mut buf = vec![0u8; de.size as usize];
    vol.read_at(de, 0, &mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

/// Folders never scanned: bootshelf's own, and what operating systems keep on sticks.
fn skip_dir(name: &str) -> bool {
    name.starts_with('.')
        || name.eq_ignore_ascii_case("bootshelf")
        || name.eq_ignore_ascii_case("System Volume Information")
        || name.eq_ignore_ascii_case("$RECYCLE.BIN")
}

/// Whether a file name is an ISO: `*.iso` in any case, not a macOS `._` resource file.
fn is_iso_name(name: &str) -> bool {
    let n = name.len();
    n > 4
        && !name.starts_with("._")
        && name
            .get(n - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".iso"))
}

fn walk<D: BlockDevice>(
    vol: &mut Vol<'_, D>,
    limits: &Limits,
    notes: &mut Vec<String>,
) -> Result<Vec<(String, exfat::DirEntry)>, DiscoverError> {
    let mut files = Vec::new();
    let mut queue: Vec<(String, usize)> = vec![(String::from("/"), 0)];
    let mut dirs_read = 0usize;
    let mut next = 0usize;
    while let Some((dir, depth)) = queue.get(next).cloned() {
        next += 1;
        if dirs_read == limits.max_dirs {
            notes.push(format!("scan stopped after {} folders", limits.max_dirs));
            break;
        }
        dirs_read += 1;
        let list = match vol.read_dir(&dir) {
            Ok(l) => l,
            // The root must be readable; a damaged subfolder is only noted.
            Err(e) if depth == 0 => return Err(DiscoverError::Volume(e)),
            Err(e) => {
                notes.push(format!("{dir}: {e}"));
                continue;
            }
        };
        let mut here: Vec<(String, exfat::DirEntry)> = Vec::new();
        for de in list {
            let path = if dir == "/" {
                format!("/{}", de.name)
            } else {
                format!("{dir}/{}", de.name)
            };
            if de.is_dir {
                if depth < limits.max_depth && !skip_dir(&de.name) {
                    queue.push((path, depth + 1));
                }
            } else if is_iso_name(&de.name) && de.size > 0 {
                here.push((path, de));
            }
        }
        here.sort_by_key(|(p, _)| p.to_ascii_lowercase());
        for f in here {
            if files.len() == limits.max_isos {
                notes.push(format!(
                    "only the first {} ISO files are listed",
                    limits.max_isos
                ));
                return Ok(files);
            }
            files.push(f);
        }
    }
    Ok(files)
}

/// Device byte offset of a file's first cluster, computed without reading its FAT chain.
fn first_cluster_offset<D: BlockDevice>(vol: &mut Vol<'_, D>, de: &exfat::DirEntry) -> Option<u64> {
    if de.size == 0 {
        return None;
    }
    let probe = exfat::DirEntry {
        size: 1,
        valid_size: 1,
        contiguous: true,
        ..de.clone()
    };
    vol.extents(&probe).ok()?.first().map(|e| e.start)
}

fn from_index(iso: &IsoEntry) -> BootEntry {
    BootEntry {
        title: String::from(iso.display_title()),
        path: iso.path.clone(),
        size: iso.size,
        label: iso.label.clone(),
        extents: iso.extents.clone(),
        boot: iso.boot.clone(),
        source: Source::Indexed,
        changed: false,
        problem: None,
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Parse one ISO file on the spot: its extents, label and El Torito catalog.
fn scan_file<D: BlockDevice>(vol: &mut Vol<'_, D>, path: &str, de: &exfat::DirEntry) -> BootEntry {
    let mut e = BootEntry {
        title: String::from(file_name(path)),
        path: String::from(path),
        size: de.size,
        label: String::new(),
        extents: Vec::new(),
        boot: Vec::new(),
        source: Source::Scanned,
        changed: false,
        problem: None,
    };
    match vol.extents(de) {
        Ok(x) => e.extents = x,
        Err(err) => {
            e.problem = Some(err.to_string());
            return e;
        }
    }
    let reader = BlockReader::new(vol.device());
    let r = ExtentReader::new(reader, &e.extents, de.size).map_err(|x| x.to_string());
    let parsed = r.and_then(|r| parse_iso(r).map_err(|x| x.to_string()));
    match parsed {
        Ok((label, boot)) => {
            e.label = label;
            e.boot = boot;
        }
        Err(msg) => e.problem = Some(msg),
    }
    e
}

/// Label and El Torito entries of an ISO.
pub fn parse_iso<R: blockdev::ReadAt>(r: R) -> Result<(String, Vec<CatalogEntry>), iso9660::Error> {
    let mut iso = iso9660::Iso::open(r)?;
    let label = String::from(iso.volume().label());
    let mut boot = Vec::new();
    if let Some(cat) = iso.boot_catalog()? {
        let mut raw = Vec::new();
        for entry in cat.entries(iso.reader()) {
            raw.push(entry?);
        }
        for b in raw {
            let image_size = match iso.image_size(&b) {
                Ok(s) => s.bytes,
                Err(_) => u64::from(b.sector_count) * 512,
            };
            boot.push(CatalogEntry {
                platform: PlatformId(b.platform.0),
                emulation: Emulation(b.emulation().0),
                bootable: b.bootable,
                system_type: b.system_type,
                load_segment: b.load_segment,
                sector_count: b.sector_count,
                load_rba: b.load_rba,
                image_size,
            });
        }
    }
    Ok((label, boot))
}

/// "4.2 GiB", "700 MiB", "12 KiB".
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut v = bytes;
    let mut rem = 0;
    while v >= 1024 && unit + 1 < UNITS.len() {
        rem = v % 1024;
        v /= 1024;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if v < 10 && unit > 0 {
        format!("{v}.{} {name}", rem * 10 / 1024)
    } else {
        format!("{v} {name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sizes() {
        assert!(is_iso_name("a.ISO") && is_iso_name("debian-12.iso"));
        assert!(!is_iso_name(".iso") && !is_iso_name("._x.iso") && !is_iso_name("x.img"));
        assert!(!is_iso_name("é.is"));
        assert!(skip_dir("bootshelf") && skip_dir(".Trashes") && !skip_dir("linux"));
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(700 << 20), "700 MiB");
        assert_eq!(human_size((4 << 30) + (1 << 29)), "4.5 GiB");
    }

    #[test]
    fn contiguity_merges_adjacent_extents() {
        let mut e = BootEntry {
            title: String::new(),
            path: String::new(),
            size: 0,
            label: String::new(),
            extents: vec![Extent { start: 0, len: 10 }, Extent { start: 10, len: 5 }],
            boot: Vec::new(),
            source: Source::Indexed,
            changed: false,
            problem: None,
        };
        assert!(e.is_contiguous());
        e.extents.push(Extent { start: 100, len: 1 });
        assert!(!e.is_contiguous());
        assert_eq!(
            e.blocked(Firmware::Uefi).as_deref(),
            Some("no UEFI boot entry in this ISO")
        );
    }
}
