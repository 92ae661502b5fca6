//! `bootshelf remove`: take ISOs off the stick. The index entries go first (one new
//! generation for the whole batch), then the files, so the index never names clusters that
//! are free; a kill in between leaves complete unindexed files that `sync` picks up again.
//! An ISO's persistence file (docs/persistence.md) goes with it, or is kept as a file no
//! ISO links to, as the caller chose ([`linked_persistence`] tells what there is to ask).

use crate::index_io::{fs_err, resolve, IndexStore, OpError};
use blockdev::BlockDevice;
use exfat::Volume;

/// What `remove` did for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The path removed.
    pub path: String,
    /// Whether it was in the index.
    pub was_indexed: bool,
    /// Whether the file was there to delete.
    pub file_deleted: bool,
    /// Its persistence file: deleted, or kept (no longer linked).
    pub persistence: Option<(String, bool)>,
}

/// The persistence files of the named ISOs (path of the ISO, its link), resolved as
/// [`remove_isos`] resolves them; writes nothing.
pub fn linked_persistence<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &IndexStore,
    names: &[String],
) -> Result<Vec<(String, bootshelf_index::Persistence)>, OpError> {
    let listing = crate::list::list(vol)?;
    let index = store.index();
    let mut out: Vec<(String, bootshelf_index::Persistence)> = Vec::new();
    for n in names {
        let p = resolve(&listing, n, false)?.path.clone();
        if let Some(link) = index
            .find(&p)
            .and_then(|e| e.extensions.persistence.clone())
        {
            if !out.iter().any(|(q, _)| q.eq_ignore_ascii_case(&p)) {
                out.push((p, link));
            }
        }
    }
    Ok(out)
}

/// Remove every named ISO. All names are resolved before anything is written: one unknown
/// or ambiguous name and nothing is removed.
/// `delete_persistence`: also delete each ISO's persistence file (else it stays, unlinked).
pub fn remove_isos<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    names: &[String],
    delete_persistence: bool,
) -> Result<Vec<Removed>, OpError> {
    let listing = crate::list::list(vol)?;
    let mut paths: Vec<String> = Vec::new();
    for n in names {
        let p = &resolve(&listing, n, false)?.path;
        if !paths.iter().any(|q| q == p) {
            paths.push(p.clone());
        }
    }
    let mut index = store.index();
    let mut out: Vec<Removed> = paths
        .iter()
        .map(|p| {
            let old = index.remove(p);
            Removed {
                path: p.clone(),
                was_indexed: old.is_some(),
                file_deleted: false,
                persistence: old
                    .and_then(|e| e.extensions.persistence)
                    .map(|l| (l.path, false)),
            }
        })
        .collect();
    if out.iter().any(|r| r.was_indexed) {
        store.write(vol, index)?;
    }
    for r in &mut out {
        match vol.delete(&r.path) {
            Ok(()) => r.file_deleted = true,
            Err(exfat::Error::NotFound { .. }) => {}
            Err(source) => return Err(fs_err(format!("deleting {}", r.path))(source)),
        }
        if let (true, Some((p, deleted))) = (delete_persistence, r.persistence.as_mut()) {
            match vol.delete(p) {
                Ok(()) => *deleted = true,
                Err(exfat::Error::NotFound { .. }) => {}
                Err(source) => return Err(fs_err(format!("deleting {p}"))(source)),
            }
        }
    }
    vol.device()
        .flush()
        .map_err(crate::index_io::dev_err("flushing after remove"))?;
    Ok(out)
}
