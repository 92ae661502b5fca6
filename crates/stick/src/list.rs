//! `bootshelf list`: the ISOs on the stick exactly as the loaders' menus show them (same
//! entries, titles and order: both come from `shelf::discover_volume`), then the indexed
//! ISOs the menu cannot find, as rows with `present: false`.

use crate::copy::hex;
use crate::index_io::OpError;
use blockdev::BlockDevice;
use bootshelf_index::Timeout;
use exfat::Volume;
use shelf::{discover_volume, Limits, Source};

/// One ISO in the listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// What the menu shows (custom title, else the file name).
    pub title: String,
    /// Whether `title` is a custom title.
    pub custom_title: bool,
    /// Path on the data partition.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Volume label.
    pub label: String,
    /// Bootable on legacy BIOS.
    pub bios: bool,
    /// Bootable on UEFI.
    pub uefi: bool,
    /// The UEFI architectures its EFI boot image serves (`None`: not known, e.g. indexed
    /// before architectures were recorded; run `bootshelf sync`).
    pub efi_arches: Option<bootshelf_index::ArchSet>,
    /// Those of `efi_arches` whose loader carries an Authenticode signature (index byte
    /// 13; `None`: not known). Under Secure Boot the menu dims an ISO whose loader for
    /// the machine has none; a signature present may still be one the firmware does not
    /// trust.
    pub efi_signed: Option<bootshelf_index::ArchSet>,
    /// One contiguous run on the device.
    pub contiguous: bool,
    /// Listed in the index (else only found on the file system).
    pub indexed: bool,
    /// The menu lists it (else it is indexed, but the menu's scan does not find it).
    pub present: bool,
    /// SHA-256 recorded in the index (for files unchanged since they were indexed).
    pub sha256: Option<String>,
    /// Device byte extents (from the index, or the file system for unindexed or changed
    /// files).
    pub extents: Vec<blockdev::Extent>,
    /// The menu's default.
    pub is_default: bool,
    /// Booted once at the next boot.
    pub is_boot_next: bool,
    /// Why the menu cannot read it (a broken ISO: truncated, ...), as the menu says it.
    pub problem: Option<String>,
    /// Path of its persistence file, when the index links one (docs/persistence.md).
    pub persistence: Option<String>,
    /// Kernel options saved with `bootshelf options` for the file's SHA-256 (what the
    /// loaders apply).
    pub options: Option<bootshelf_index::KernelOptions>,
    /// Options are saved, but for another SHA-256 (the file was replaced): not applied.
    pub options_stale: bool,
}

/// The whole listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// Generation of the index read (0: none).
    pub generation: u64,
    /// Menu timeout in seconds (`None`: waits for a key).
    pub timeout: Option<u16>,
    /// The lasting default's path as the index names it (`None`: the first entry).
    pub default: Option<String>,
    /// The one-shot boot-next's path, if one is pending.
    pub boot_next: Option<String>,
    /// Size of the data partition's cluster heap, in bytes.
    pub capacity: u64,
    /// Free bytes on the data partition.
    pub free: u64,
    /// The largest free run, in bytes: the largest ISO `add` can still copy.
    pub largest_free_run: u64,
    /// Rows: the menu's entries in menu order, then indexed files the menu does not find.
    pub rows: Vec<Row>,
    /// What the menu would tell the user: damaged index slots, indexed files not found,
    /// unreadable folders, scan limits reached.
    pub notes: Vec<String>,
}

/// Build the listing; reads only.
pub fn list<D: BlockDevice>(vol: &mut Volume<D>) -> Result<Listing, OpError> {
    let found = discover_volume(vol, &Limits::default()).map_err(|source| OpError::Fs {
        what: "listing /".into(),
        source,
    })?;
    let index = found.store.current_index();
    let names =
        |s: &Option<String>, path: &str| s.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(path));
    let mut rows = Vec::new();
    for e in &found.entries {
        let indexed = index.find(&e.path);
        rows.push(Row {
            title: e.title.clone(),
            custom_title: indexed.is_some_and(|i| i.title.is_some()),
            path: e.path.clone(),
            size: e.size,
            label: e.label.clone(),
            bios: e.bios(),
            uefi: e.uefi(),
            efi_arches: e.efi_arches(),
            efi_signed: e.efi_signed(),
            contiguous: e.is_contiguous(),
            indexed: indexed.is_some(),
            present: true,
            sha256: indexed
                .filter(|_| e.source == Source::Indexed)
                .and_then(|i| i.sha256.as_ref().map(hex)),
            extents: e.extents.clone(),
            is_default: names(&index.settings.default, &e.path),
            is_boot_next: names(&index.settings.boot_next, &e.path),
            problem: e.problem.clone(),
            persistence: indexed
                .and_then(|i| i.extensions.persistence.as_ref())
                .map(|p| p.path.clone()),
            options: e.options.clone(),
            options_stale: indexed
                .is_some_and(|i| i.extensions.kernel_options.is_some() && e.options.is_none()),
        });
    }
    for i in &index.isos {
        if found
            .entries
            .iter()
            .any(|e| e.path.eq_ignore_ascii_case(&i.path))
        {
            continue;
        }
        rows.push(Row {
            title: i.display_title().to_string(),
            custom_title: i.title.is_some(),
            path: i.path.clone(),
            size: i.size,
            label: i.label.clone(),
            bios: i.boots_on(shelf::Firmware::Bios.platform()),
            uefi: i.boots_on(shelf::Firmware::Uefi.platform()),
            efi_arches: shelf::efi_arches_of(&i.boot),
            efi_signed: shelf::efi_signed_of(&i.boot),
            contiguous: i.is_contiguous(),
            indexed: true,
            present: false,
            sha256: i.sha256.as_ref().map(hex),
            extents: i.extents.clone(),
            is_default: names(&index.settings.default, &i.path),
            is_boot_next: names(&index.settings.boot_next, &i.path),
            problem: None,
            persistence: i.extensions.persistence.as_ref().map(|p| p.path.clone()),
            options: i.kernel_options().cloned(),
            options_stale: i.extensions.kernel_options.is_some() && i.kernel_options().is_none(),
        });
    }
    let bitmap = |e| OpError::Fs {
        what: "reading the allocation bitmap".into(),
        source: e,
    };
    let free = vol.free_bytes().map_err(bitmap)?;
    let largest_free_run = vol.largest_free_run().map_err(bitmap)?;
    Ok(Listing {
        generation: index.generation,
        default: index.settings.default.clone(),
        boot_next: index.settings.boot_next.clone(),
        capacity: u64::from(vol.cluster_count()) * u64::from(vol.cluster_size()),
        free,
        largest_free_run,
        timeout: match index.settings.timeout {
            Timeout::Never => None,
            Timeout::Seconds(s) => Some(s),
        },
        rows,
        notes: found.notes,
    })
}
