//! `bootshelf remove`: take ISOs off the stick. The index entries go first (one new
//! generation for the whole batch), then the files, so the index never names clusters that
//! are free; a kill in between leaves complete unindexed files that `sync` picks up again.

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
}

/// Remove every named ISO. All names are resolved before anything is written: one unknown
/// or ambiguous name and nothing is removed.
pub fn remove_isos<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    names: &[String],
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
        .map(|p| Removed {
            path: p.clone(),
            was_indexed: index.remove(p).is_some(),
            file_deleted: false,
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
    }
    vol.device()
        .flush()
        .map_err(crate::index_io::dev_err("flushing after remove"))?;
    Ok(out)
}
