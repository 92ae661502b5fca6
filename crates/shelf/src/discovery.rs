//! Discovery: what is on the stick, in the order the menu shows it. Partition layout and
//! data volume ([`crate::open`]) -> the index ([`crate::store`]) -> every ISO the scan
//! policy finds ([`crate::scan`]). Indexed files are taken from the index without opening
//! them; files the index lacks, indexed files whose size or first cluster changed, and
//! indexed files whose recorded extents leave the volume's cluster heap (an index is
//! trusted only where it points into its own volume), are read on the spot ([`crate::catalog`]). The loaders build their menu from
//! [`Discovery::entries`]; `bootshelf list` prints [`Contents::entries`].

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use blockdev::{BlockDevice, Extent};
use bootshelf_index::{
    ArchSet, BootEntry as CatalogEntry, EfiArch, Index, IsoEntry, KernelOptions, PlatformId, Slot,
};
use exfat::{DirEntry, Volume};

use crate::catalog::read_on_volume;
use crate::scan::{self, Limits};
use crate::store::{IndexStore, WriteError};

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

/// The machine an ISO is to boot on: its firmware and, for UEFI, whether Secure Boot is
/// enforced (the firmware's `SecureBoot` variable). A bare [`Firmware`] is a machine
/// without Secure Boot (BIOS, or where it is not known).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Machine {
    /// BIOS or UEFI.
    pub firmware: Firmware,
    /// The firmware verifies what it loads (UEFI Secure Boot on).
    pub secure_boot: bool,
}

impl From<Firmware> for Machine {
    fn from(firmware: Firmware) -> Machine {
        Machine {
            firmware,
            secure_boot: false,
        }
    }
}

/// Why an ISO cannot boot under Secure Boot: the menu's one line (79 columns) for an ISO
/// whose loader carries no signature, shown before trying (the index says so) and when the
/// firmware's LoadImage refuses it (bootloader/uefi/src/vcd.rs).
pub const NOT_SIGNED_MESSAGE: &str =
    "Not signed for Secure Boot. To boot it, turn Secure Boot off in the firmware.";

/// Why the firmware refused an ISO whose loader for this machine the index knows to carry
/// a signature ([`Entry::native_loader_signed`]): its signer is not in db or MokList, or
/// dbx or SBAT revoke it (one line; bootloader/uefi/src/vcd.rs).
pub const NOT_TRUSTED_MESSAGE: &str =
    "Signed, but not by a key this PC trusts (or revoked). Turn Secure Boot off.";

/// Why an ISO cannot boot on a UEFI machine of architecture `arch` whose EFI boot image
/// serves only `served`: "no aarch64 loader (BOOTAA64.EFI) in this ISO; it boots on
/// x86_64, ia32" (short: the menu's message row is one line).
pub fn no_loader_message(arch: EfiArch, served: ArchSet) -> String {
    if served.is_empty() {
        return format!(
            "no {arch} loader ({}) in this ISO; its EFI image has no \\EFI\\BOOT\\BOOT*.EFI",
            arch.file_name()
        );
    }
    format!(
        "no {arch} loader ({}) in this ISO; it boots on {served}",
        arch.file_name()
    )
}

/// Where an entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// From the index, file unchanged: nothing was read from the ISO.
    Indexed,
    /// Read from the ISO: not in the index, or changed since it was indexed.
    Scanned,
}

/// One ISO on the stick, bootable or not: a menu entry, a row of `bootshelf list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
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
    /// The kernel options saved with `bootshelf options` that apply to this file (saved
    /// for its SHA-256; none for a file read on the spot).
    pub options: Option<KernelOptions>,
    /// Indexed or scanned.
    pub source: Source,
    /// The index has the file, but its size or first cluster differ from what is on the
    /// volume now, or its recorded extents leave the volume's cluster heap (the entry
    /// holds the fresh data, read on the spot).
    pub changed: bool,
    /// Why the ISO could not be read (then `boot` is empty).
    pub problem: Option<String>,
    /// The ISO's persistence file, when the index links one and it is on the volume
    /// where the link says, in one piece (else `None`: a window over anything else would
    /// let the booted system write over other files).
    pub persistence: Option<EntryPersistence>,
}

/// A persistence file found on the volume as its index link says (docs/persistence.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryPersistence {
    /// The family it is laid out for (decides the kernel argument).
    pub family: bootshelf_index::PersistenceFamily,
    /// Its path on the data partition.
    pub path: String,
    /// Its device byte extent (one).
    pub extents: Vec<Extent>,
}

impl Entry {
    /// The El Torito entry to boot on `fw`: the first bootable entry for its platform.
    pub fn boot_entry(&self, fw: Firmware) -> Option<&CatalogEntry> {
        self.boot
            .iter()
            .find(|b| b.bootable && b.platform == fw.platform())
    }

    /// The UEFI architectures it serves ([`crate::catalog::efi_arches_of`] of its entries):
    /// `None` when not known (not read, or no EFI entry).
    pub fn efi_arches(&self) -> Option<ArchSet> {
        crate::catalog::efi_arches_of(&self.boot)
    }

    /// The UEFI architectures whose loader carries an Authenticode signature
    /// ([`crate::catalog::efi_signed_of`]): `None` when not known.
    pub fn efi_signed(&self) -> Option<ArchSet> {
        crate::catalog::efi_signed_of(&self.boot)
    }

    /// Whether the loader for this machine's architecture (`EfiArch::NATIVE`) carries an
    /// Authenticode signature, as the index knows it; `None` when not known (or no such
    /// loader is known).
    pub fn native_loader_signed(&self) -> Option<bool> {
        let arch = EfiArch::NATIVE?;
        self.efi_arches()?
            .contains(arch)
            .then(|| Some(self.efi_signed()?.contains(arch)))?
    }

    /// Whether it boots under UEFI (on some architecture).
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

    /// Why Enter cannot boot it on `machine` (a [`Machine`], or a bare [`Firmware`]: Secure
    /// Boot off), if it cannot: it could not be read, it has no entry for the firmware, its
    /// EFI image has no loader for this architecture, or Secure Boot is on and that loader
    /// carries no signature at all. Only what the index knows blocks: a loader whose
    /// signature was not read, or one that is signed by someone the firmware may not
    /// trust, is tried (the firmware decides, and the menu shows its refusal).
    pub fn blocked(&self, machine: impl Into<Machine>) -> Option<String> {
        let Machine {
            firmware: fw,
            secure_boot,
        } = machine.into();
        if let Some(p) = &self.problem {
            return Some(if self.changed {
                format!("ISO changed since it was indexed, and reading it failed: {p}")
            } else {
                format!("cannot read this ISO: {p}")
            });
        }
        if self.boot_entry(fw).is_none() {
            return Some(String::from(fw.no_entry_message()));
        }
        let (Firmware::Uefi, Some(arch), Some(served)) = (fw, EfiArch::NATIVE, self.efi_arches())
        else {
            return None;
        };
        if !served.contains(arch) {
            return Some(no_loader_message(arch, served));
        }
        match self.native_loader_signed() {
            Some(false) if secure_boot => Some(String::from(NOT_SIGNED_MESSAGE)),
            _ => None,
        }
    }
}

/// What the data volume holds: the index and the entries, in menu order.
#[derive(Clone, Debug)]
pub struct Contents {
    /// The entries in menu order: indexed ISOs in index order, then the rest in scan
    /// order ([`crate::scan`]).
    pub entries: Vec<Entry>,
    /// The index slots read, and the index in use (an empty one when no slot is valid).
    pub store: IndexStore,
    /// Entry to select at start: boot-next, else the default, else the first.
    pub preselect: Option<usize>,
    /// Whether `preselect` is a one-shot boot-next.
    pub boot_next: bool,
    /// Things worth telling the user that did not stop discovery (damaged index slot,
    /// indexed file missing, scan limits reached).
    pub notes: Vec<String>,
}

/// What discovery found on the whole stick.
#[derive(Clone, Debug)]
pub struct Discovery {
    /// bootshelf's partitions (and a stale ISO window, if one is left).
    pub layout: ptable::Layout,
    /// The entries in menu order: indexed ISOs in index order, then the rest in scan
    /// order.
    pub entries: Vec<Entry>,
    /// The index slots read, and the index in use (an empty one when no slot is valid).
    pub store: IndexStore,
    /// Entry to select at start: boot-next, else the default, else the first.
    pub preselect: Option<usize>,
    /// Whether `preselect` is a one-shot boot-next.
    pub boot_next: bool,
    /// Things worth telling the user that did not stop discovery (foreign partition 4,
    /// damaged index slot, indexed file missing, scan limits reached).
    pub notes: Vec<String>,
}

impl Discovery {
    /// The index in use (an empty one when no slot is valid).
    pub fn index(&self) -> &Index {
        self.store.current_index()
    }

    /// The slot the index was read from; `None` when no slot was valid.
    pub fn index_slot(&self) -> Option<Slot> {
        self.store.slot()
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

impl core::error::Error for DiscoverError {}

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

impl From<WriteError> for DiscoverError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Encode(e) => DiscoverError::Index(e.to_string()),
            WriteError::Fs { source, .. } => DiscoverError::Volume(source),
            WriteError::Flush(e) => DiscoverError::Volume(exfat::Error::Io(e)),
        }
    }
}

/// Discover every ISO on the stick `dev` (the whole disk).
pub fn discover<D: BlockDevice>(dev: &mut D, limits: &Limits) -> Result<Discovery, DiscoverError> {
    let (layout, mut vol) = crate::open::open(dev)?;
    let contents = discover_volume(&mut vol, limits)?;
    let mut notes = Vec::new();
    if let Some(e) = layout.foreign_slot_error() {
        notes.push(format!("{e}; ISOs boot without it"));
    }
    notes.extend(contents.notes);
    Ok(Discovery {
        layout,
        entries: contents.entries,
        store: contents.store,
        preselect: contents.preselect,
        boot_next: contents.boot_next,
        notes,
    })
}

/// Discover every ISO on an opened data volume: the index, the scan, the entries in menu
/// order. Only the root folder's failure is an error.
pub fn discover_volume<D: BlockDevice>(
    vol: &mut Volume<D>,
    limits: &Limits,
) -> Result<Contents, exfat::Error> {
    let store = IndexStore::read(vol, limits);
    let mut notes = store.notes();
    let index = store.current_index();

    let scan = scan::isos(vol, limits)?;
    notes.extend(scan.notes());
    let files = scan.files;
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
        let first = first_cluster_offset(vol, de);
        let unchanged = de.size == iso.size
            && first == iso.extents.first().map(|e| e.start)
            && inside_heap(vol, &iso.extents);
        let persistence = iso.extensions.persistence.as_ref().and_then(|link| {
            persistence_extents(vol, link).map(|extents| EntryPersistence {
                family: link.family,
                path: link.path.clone(),
                extents,
            })
        });
        if unchanged {
            let mut e = from_index(iso);
            e.persistence = persistence;
            entries.push(e);
        } else {
            let mut e = read_file(vol, path, de);
            e.changed = true;
            if let Some(t) = &iso.title {
                e.title.clone_from(t);
            }
            e.persistence = persistence;
            entries.push(e);
        }
    }
    for (i, (path, de)) in files.iter().enumerate() {
        if !used.get(i).copied().unwrap_or(true) {
            entries.push(read_file(vol, path, de));
        }
    }

    let (preselect, boot_next) = match &index.settings.boot_next {
        Some(p) => match position(&entries, p) {
            Some(i) => (Some(i), true),
            None => (default_position(index, &entries), false),
        },
        None => (default_position(index, &entries), false),
    };
    Ok(Contents {
        entries,
        store,
        preselect,
        boot_next,
        notes,
    })
}

fn position(entries: &[Entry], path: &str) -> Option<usize> {
    entries
        .iter()
        .position(|e| e.path.eq_ignore_ascii_case(path))
}

fn default_position(index: &Index, entries: &[Entry]) -> Option<usize> {
    match &index.settings.default {
        Some(p) => position(entries, p).or((!entries.is_empty()).then_some(0)),
        None => (!entries.is_empty()).then_some(0),
    }
}

/// Clear a one-shot boot-next before booting: write the index with `boot_next` removed
/// as the next generation ([`IndexStore::consume_boot_next`]). Does nothing when there is
/// no boot-next.
pub fn consume_boot_next<D: BlockDevice>(
    dev: &mut D,
    disc: &mut Discovery,
) -> Result<(), DiscoverError> {
    if disc.index().settings.boot_next.is_none() {
        return Ok(());
    }
    let mut vol = crate::open::volume(&mut *dev, &disc.layout)?;
    disc.store.consume_boot_next(&mut vol)?;
    disc.boot_next = false;
    Ok(())
}

/// Device byte offset of a file's first cluster, computed without reading its FAT chain.
fn first_cluster_offset<D: BlockDevice>(vol: &mut Volume<D>, de: &DirEntry) -> Option<u64> {
    if de.size == 0 {
        return None;
    }
    let probe = DirEntry {
        size: 1,
        valid_size: 1,
        contiguous: true,
        ..de.clone()
    };
    vol.extents(&probe).ok()?.first().map(|e| e.start)
}

/// The extent of the persistence file `link` names, when the volume holds it as the link
/// says: a file of the linked size, in one piece starting at the linked byte, inside the
/// cluster heap. Reads its directory only.
pub fn persistence_extents<D: BlockDevice>(
    vol: &mut Volume<D>,
    link: &bootshelf_index::Persistence,
) -> Option<Vec<Extent>> {
    let de = vol.stat(&link.path).ok()?;
    if de.is_dir || de.size != link.size || !de.contiguous {
        return None;
    }
    let extents = vol.extents(&de).ok()?;
    let ok = extents.len() == 1
        && extents.first().map(|e| e.start) == Some(link.start)
        && inside_heap(vol, &extents);
    ok.then_some(extents)
}

/// Whether every extent lies inside the volume's cluster heap. Reads nothing.
fn inside_heap<D: BlockDevice>(vol: &Volume<D>, extents: &[Extent]) -> bool {
    let Some(start) = vol.cluster_device_offset(2) else {
        return false;
    };
    let len = u64::from(vol.cluster_count()) * u64::from(vol.cluster_size());
    let end = start.saturating_add(len);
    extents
        .iter()
        .all(|x| x.start >= start && x.start.checked_add(x.len).is_some_and(|e| e <= end))
}

fn from_index(iso: &IsoEntry) -> Entry {
    Entry {
        title: String::from(iso.display_title()),
        path: iso.path.clone(),
        size: iso.size,
        label: iso.label.clone(),
        extents: iso.extents.clone(),
        boot: iso.boot.clone(),
        options: iso.kernel_options().cloned(),
        source: Source::Indexed,
        changed: false,
        problem: None,
        persistence: None,
    }
}

/// Read one ISO file on the spot: its extents, label and El Torito catalog.
fn read_file<D: BlockDevice>(vol: &mut Volume<D>, path: &str, de: &DirEntry) -> Entry {
    let mut e = Entry {
        title: String::from(path.rsplit('/').next().unwrap_or(path)),
        path: String::from(path),
        size: de.size,
        label: String::new(),
        extents: Vec::new(),
        boot: Vec::new(),
        options: None,
        source: Source::Scanned,
        changed: false,
        problem: None,
        persistence: None,
    };
    match read_on_volume(vol, de) {
        Err(err) => e.problem = Some(err.to_string()),
        Ok(on) => {
            e.extents = on.extents;
            match on.facts {
                Ok(facts) => {
                    e.label = facts.label;
                    match facts.broken {
                        // The menu cannot boot what is not all there (as `add` refuses it).
                        Some(why) => e.problem = Some(why.to_string()),
                        None => e.boot = facts.boot,
                    }
                }
                Err(err) => e.problem = Some(err.to_string()),
            }
        }
    }
    e
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
    use bootshelf_index::Settings;

    /// A bootable EFI no-emulation catalog entry whose image serves `arches`, signed for
    /// `signed`.
    fn efi_entry(arches: Option<ArchSet>, signed: Option<ArchSet>) -> CatalogEntry {
        use bootshelf_index::{EfiLoaders, Emulation};
        CatalogEntry {
            platform: PlatformId::EFI,
            emulation: Emulation::NONE,
            bootable: true,
            system_type: 0,
            load_segment: 0,
            sector_count: 1,
            load_rba: 30,
            image_size: 4096,
            efi: EfiLoaders { arches, signed },
        }
    }

    /// An indexed, contiguous 1 MiB entry with El Torito entries `boot`.
    fn entry_with(boot: Vec<CatalogEntry>) -> Entry {
        Entry {
            title: String::new(),
            path: String::new(),
            size: 1 << 20,
            label: String::new(),
            extents: vec![Extent {
                start: 0,
                len: 1 << 20,
            }],
            boot,
            source: Source::Indexed,
            changed: false,
            problem: None,
            options: None,
            persistence: None,
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(700 << 20), "700 MiB");
        assert_eq!(human_size((4 << 30) + (1 << 29)), "4.5 GiB");
    }

    #[test]
    fn contiguity_merges_adjacent_extents() {
        let mut e = Entry {
            title: String::new(),
            path: String::new(),
            size: 0,
            label: String::new(),
            extents: vec![Extent { start: 0, len: 10 }, Extent { start: 10, len: 5 }],
            boot: Vec::new(),
            options: None,
            source: Source::Indexed,
            changed: false,
            problem: None,
            persistence: None,
        };
        assert!(e.is_contiguous());
        e.extents.push(Extent { start: 100, len: 1 });
        assert!(!e.is_contiguous());
        assert_eq!(
            e.blocked(Firmware::Uefi).as_deref(),
            Some("no UEFI boot entry in this ISO")
        );
    }

    /// The UEFI menu (here: of an x86_64 machine, the host's EfiArch::NATIVE) dims an ISO
    /// whose EFI image has no loader for the machine, says why, and assumes nothing when
    /// the architectures were not read.
    #[test]
    fn uefi_entries_without_a_loader_for_this_machine_are_blocked() {
        let efi = |arches: Option<ArchSet>| efi_entry(arches, None);
        let entry = entry_with;
        let aa64 = ArchSet::from_bits(EfiArch::Aa64.bit() | EfiArch::Ia32.bit());
        let e = entry(vec![efi(Some(aa64))]);
        assert_eq!(e.efi_arches(), Some(aa64));
        assert_eq!(
            e.blocked(Firmware::Uefi).as_deref(),
            Some("no x86_64 loader (BOOTX64.EFI) in this ISO; it boots on ia32, aarch64")
        );
        assert_eq!(
            e.blocked(Firmware::Bios).as_deref(),
            Some("no BIOS boot entry in this ISO")
        );
        assert_eq!(entry(vec![efi(None)]).blocked(Firmware::Uefi), None);
        let x64 = ArchSet::from_bits(EfiArch::X64.bit());
        assert_eq!(entry(vec![efi(Some(x64))]).blocked(Firmware::Uefi), None);
        // Two EFI entries: the union; one not read makes the whole unknown.
        let both = entry(vec![efi(Some(aa64)), efi(Some(x64))]);
        assert_eq!(both.efi_arches(), Some(ArchSet::from_bits(0b111)));
        assert_eq!(entry(vec![efi(Some(aa64)), efi(None)]).efi_arches(), None);
        assert!(entry(vec![efi(Some(ArchSet::EMPTY))])
            .blocked(Firmware::Uefi)
            .unwrap()
            .contains("no \\EFI\\BOOT\\BOOT*.EFI"));
    }

    /// Under Secure Boot the UEFI menu (of an x86_64 machine, the host's
    /// EfiArch::NATIVE) dims an ISO whose loader for this machine the index knows to carry
    /// no signature, with the message LoadImage's refusal gives; a signed loader (whoever
    /// signed it), a loader whose signature was not read, and Secure Boot off are tried.
    #[test]
    fn unsigned_loaders_are_blocked_under_secure_boot_only_when_known() {
        let efi = |arches: u8, signed: Option<u8>| {
            efi_entry(
                Some(ArchSet::from_bits(arches)),
                signed.map(ArchSet::from_bits),
            )
        };
        let entry = entry_with;
        let on = Machine {
            firmware: Firmware::Uefi,
            secure_boot: true,
        };
        let (x64, aa64) = (EfiArch::X64.bit(), EfiArch::Aa64.bit());

        let unsigned = entry(vec![efi(x64 | aa64, Some(0))]);
        assert_eq!(unsigned.efi_signed(), Some(ArchSet::EMPTY));
        assert_eq!(unsigned.blocked(on).as_deref(), Some(NOT_SIGNED_MESSAGE));
        assert!(NOT_SIGNED_MESSAGE.len() <= 79 && NOT_TRUSTED_MESSAGE.len() <= 79);
        // What the UEFI loader asks when the firmware refuses anyway (a signed loader:
        // NOT_TRUSTED_MESSAGE, its signer is refused).
        assert_eq!(unsigned.native_loader_signed(), Some(false));
        assert_eq!(
            entry(vec![efi(x64, Some(x64))]).native_loader_signed(),
            Some(true)
        );
        assert_eq!(entry(vec![efi(x64, None)]).native_loader_signed(), None);
        assert_eq!(
            entry(vec![efi(aa64, Some(aa64))]).native_loader_signed(),
            None
        );
        // Secure Boot off, or BIOS: tried.
        assert_eq!(unsigned.blocked(Firmware::Uefi), None);
        assert_eq!(
            unsigned.blocked(Machine {
                firmware: Firmware::Uefi,
                secure_boot: false
            }),
            None
        );
        // Only this machine's loader counts: a signed aarch64 loader does not help an
        // unsigned x86_64 one, an unsigned aarch64 one does not hurt a signed x86_64 one.
        assert_eq!(
            entry(vec![efi(x64 | aa64, Some(aa64))])
                .blocked(on)
                .as_deref(),
            Some(NOT_SIGNED_MESSAGE)
        );
        assert_eq!(entry(vec![efi(x64 | aa64, Some(x64))]).blocked(on), None);
        // Not read (an older index, an unreadable loader): never taken as unsigned.
        let unknown = entry(vec![efi(x64, None)]);
        assert_eq!(unknown.efi_signed(), None);
        assert_eq!(unknown.blocked(on), None);
        // Two EFI entries: the union; one not read makes the whole unknown.
        assert_eq!(
            entry(vec![efi(x64, Some(0)), efi(x64, Some(x64))]).efi_signed(),
            Some(ArchSet::from_bits(x64))
        );
        assert_eq!(
            entry(vec![efi(x64, Some(0)), efi(x64, None)]).blocked(on),
            None
        );
        // No loader for this machine at all: that reason first.
        assert!(entry(vec![efi(aa64, Some(0))])
            .blocked(on)
            .unwrap()
            .starts_with("no x86_64 loader"));
    }

    /// Found by fuzz target shelf_discover (one patched byte in the index's extent length,
    /// CRC fixed): an index entry whose size and first extent match the file but whose
    /// extents reach past the volume was listed as it was, pointing the loader at bytes
    /// that are not the file. It is read on the spot instead.
    #[test]
    fn indexed_extent_past_the_volume_is_read_on_the_spot() {
        let mut vol = crate::test_support::volume(8192);
        vol.write_file("/a.iso", &[0u8; 4096]).unwrap();
        let de = vol.stat("/a.iso").unwrap();
        let good = vol.extents(&de).unwrap();
        let mut store = IndexStore::load(&mut vol).unwrap();
        let iso = |extents: Vec<Extent>| IsoEntry {
            path: "/a.iso".into(),
            size: 4096,
            sha256: None,
            label: "A".into(),
            title: None,
            extents,
            boot: Vec::new(),
            extensions: Default::default(),
        };
        let mut long = good.clone();
        long[0].len += 0x6300_0000_0000;
        let mut split = good.clone();
        split[0].len = 2048;
        split.push(Extent {
            start: 1 << 40,
            len: 2048,
        });
        for bad in [long, split] {
            let index = Index {
                isos: vec![iso(bad)],
                ..Index::default()
            };
            store.write(&mut vol, index).unwrap();
            let found = discover_volume(&mut vol, &Limits::default()).unwrap();
            let e = &found.entries[0];
            assert_eq!((e.source, e.changed), (Source::Scanned, true));
            assert_eq!(e.extents, good);
        }
        // The index as written by add is trusted as it is.
        let index = Index {
            isos: vec![iso(good.clone())],
            ..Index::default()
        };
        store.write(&mut vol, index).unwrap();
        let found = discover_volume(&mut vol, &Limits::default()).unwrap();
        assert_eq!(found.entries[0].source, Source::Indexed);
        assert_eq!(found.entries[0].extents, good);
    }

    /// Indexed files first in index order (missing ones noted), then the rest in scan
    /// order; the default preselected.
    #[test]
    fn index_order_then_scan_order() {
        let mut vol = crate::test_support::volume(8192);
        for f in ["/b.iso", "/a.iso", "/c.iso"] {
            vol.write_file(f, b"not an iso").unwrap();
        }
        let c = vol.stat("/c.iso").unwrap();
        let extents = vol.extents(&c).unwrap();
        let mut store = IndexStore::load(&mut vol).unwrap();
        let entry = |path: &str, extents: Vec<Extent>, title: Option<&str>| IsoEntry {
            path: path.into(),
            size: 10,
            sha256: None,
            label: "C".into(),
            title: title.map(String::from),
            extents,
            boot: Vec::new(),
            extensions: Default::default(),
        };
        let index = Index {
            isos: vec![
                entry(
                    "/gone.iso",
                    vec![Extent {
                        start: 1 << 20,
                        len: 10,
                    }],
                    None,
                ),
                entry("/C.ISO", extents, Some("Custom")),
            ],
            settings: Settings {
                default: Some("/b.iso".into()),
                ..Settings::default()
            },
            ..Index::default()
        };
        store.write(&mut vol, index).unwrap();
        let found = discover_volume(&mut vol, &Limits::default()).unwrap();
        let titles: Vec<&str> = found.entries.iter().map(|e| e.title.as_str()).collect();
        assert_eq!(titles, ["Custom", "a.iso", "b.iso"]);
        assert_eq!(found.entries[0].source, Source::Indexed);
        assert_eq!(found.entries[0].label, "C");
        assert_eq!(found.entries[1].source, Source::Scanned);
        assert!(found.entries[1].problem.is_some());
        assert_eq!(found.preselect, Some(2));
        assert!(!found.boot_next);
        assert_eq!(
            found.notes,
            ["/gone.iso: in the index but not on the stick"]
        );
    }
}
