//! `bootshelf list`: the ISOs on the stick as the menu will show them, from the index, plus
//! ISO files that are on the file system but not indexed yet.

use crate::copy::hex;
use crate::index_io::{find_iso_files, IndexStore, OpError};
use crate::sync::inspect_on_stick;
use blockdev::BlockDevice;
use bootshelf_index::{PlatformId, Timeout};
use exfat::Volume;

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
    /// One contiguous run on the device.
    pub contiguous: bool,
    /// Listed in the index (else only found on the file system).
    pub indexed: bool,
    /// The file exists on the file system.
    pub present: bool,
    /// SHA-256 recorded in the index.
    pub sha256: Option<String>,
    /// Device byte extents (from the index, or the file system for unindexed files).
    pub extents: Vec<blockdev::Extent>,
    /// The menu's default.
    pub is_default: bool,
    /// Booted once at the next boot.
    pub is_boot_next: bool,
}

/// The whole listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// Generation of the index read (0: none).
    pub generation: u64,
    /// Menu timeout in seconds (`None`: waits for a key).
    pub timeout: Option<u16>,
    /// Rows, index order first, then unindexed files.
    pub rows: Vec<Row>,
    /// Why a slot was not usable, for information.
    pub slot_notes: Vec<String>,
}

/// Build the listing; reads only.
pub fn list<D: BlockDevice>(vol: &mut Volume<D>) -> Result<Listing, OpError> {
    let store = IndexStore::load(vol)?;
    let index = store.index();
    let files = find_iso_files(vol)?;
    let mut rows = Vec::new();
    for e in &index.isos {
        let present = files.iter().any(|(p, _)| p.eq_ignore_ascii_case(&e.path));
        let is = |s: &Option<String>| {
            s.as_deref()
                .is_some_and(|d| d.eq_ignore_ascii_case(&e.path))
        };
        rows.push(Row {
            title: e.display_title().to_string(),
            custom_title: e.title.is_some(),
            path: e.path.clone(),
            size: e.size,
            label: e.label.clone(),
            bios: e.boots_on(PlatformId::X86),
            uefi: e.boots_on(PlatformId::EFI),
            contiguous: e.is_contiguous(),
            indexed: true,
            present,
            sha256: e.sha256.as_ref().map(hex),
            extents: e.extents.clone(),
            is_default: is(&index.settings.default),
            is_boot_next: is(&index.settings.boot_next),
        });
    }
    for (path, de) in &files {
        if index.find(path).is_some() {
            continue;
        }
        let (label, bios, uefi, extents) = match inspect_on_stick(vol, de) {
            Ok((Ok(facts), extents)) => {
                let on = |p: PlatformId| facts.boot.iter().any(|b| b.bootable && b.platform == p);
                (
                    facts.label.clone(),
                    on(PlatformId::X86),
                    on(PlatformId::EFI),
                    extents,
                )
            }
            Ok((Err(_), extents)) => (String::new(), false, false, extents),
            Err(_) => (String::new(), false, false, Vec::new()),
        };
        let contiguous = if extents.is_empty() {
            de.contiguous
        } else {
            extents.len() == 1
        };
        rows.push(Row {
            title: de.name.clone(),
            custom_title: false,
            path: path.clone(),
            size: de.size,
            label,
            bios,
            uefi,
            contiguous,
            indexed: false,
            present: true,
            sha256: None,
            extents,
            is_default: false,
            is_boot_next: false,
        });
    }
    let sel = store.selection();
    let mut slot_notes = Vec::new();
    for (name, err) in [("index.a", &sel.a_error), ("index.b", &sel.b_error)] {
        // A missing slot is normal (written at the next change); an invalid one is news.
        if let Some(e @ bootshelf_index::SlotError::Invalid(_)) = err {
            slot_notes.push(format!("{name}: {e}"));
        }
    }
    Ok(Listing {
        generation: index.generation,
        timeout: match index.settings.timeout {
            Timeout::Never => None,
            Timeout::Seconds(s) => Some(s),
        },
        rows,
        slot_notes,
    })
}
