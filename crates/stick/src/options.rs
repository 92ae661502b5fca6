//! `bootshelf options`: kernel arguments saved per ISO in the index (TLV type 1, tied to
//! the ISO's SHA-256), which both loaders add to every kernel line of the ISO's own boot
//! configuration through the overlay (crates/overlay).

use crate::index_io::{resolve, IndexStore, OpError};
use blockdev::BlockDevice;
use bootshelf_index::KernelOptions;
use exfat::Volume;
use overlay::KernelArgs;

/// What to change in an ISO's saved options.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptionsChange {
    /// Start from nothing (drop what is saved).
    pub clear: bool,
    /// Arguments to append (each string may hold several, blank separated).
    pub append: Vec<String>,
    /// Arguments to remove from every kernel line (a bare name removes `name=...` too).
    pub remove: Vec<String>,
}

impl OptionsChange {
    /// Whether the change changes nothing (then the options are only shown).
    pub fn is_empty(&self) -> bool {
        !self.clear && self.append.is_empty() && self.remove.is_empty()
    }
}

/// An ISO's options as the index has them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saved {
    /// The ISO's path.
    pub path: String,
    /// The options saved for its current SHA-256 (none: nothing applies).
    pub options: Option<KernelOptions>,
    /// Options are saved, but for another SHA-256 (the file was replaced): not applied.
    pub stale: bool,
}

/// The kernel arguments `o` stands for.
pub fn kernel_args(o: &KernelOptions) -> KernelArgs {
    KernelArgs::from_saved(&o.append, &o.remove)
}

/// Show (`change` empty) or change the saved kernel options of the ISO `name`. A change
/// writes one new index generation; options saved for another SHA-256 are replaced, not
/// merged. Refused, writing nothing, for an ISO without a SHA-256 in the index.
pub fn options<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    name: &str,
    change: &OptionsChange,
) -> Result<Saved, OpError> {
    let path = resolve(&crate::list::list(vol)?, name, true)?.path.clone();
    let mut index = store.index();
    let Some(pos) = index.position(&path) else {
        return Err(OpError::NotIndexed { path });
    };
    let entry = &index.isos[pos];
    let stale = entry.extensions.kernel_options.is_some() && entry.kernel_options().is_none();
    if change.is_empty() {
        return Ok(Saved {
            path,
            options: entry.kernel_options().cloned(),
            stale,
        });
    }
    let Some(sha256) = entry.sha256 else {
        return Err(OpError::NoHash { path });
    };
    let current = match (change.clear, entry.kernel_options()) {
        (false, Some(o)) => kernel_args(o),
        _ => KernelArgs::new(),
    };
    let mut append: Vec<String> = current.appended().to_vec();
    let mut remove: Vec<String> = current.removed().to_vec();
    for r in &change.remove {
        let mut one = KernelArgs::new();
        one.remove(r);
        append.retain(|a| !one.removes(a));
        if let Some(r) = one.removed().first() {
            if !remove.contains(r) {
                remove.push(r.clone());
            }
        }
    }
    for words in &change.append {
        let mut one = KernelArgs::new();
        one.append(words);
        for a in one.appended() {
            remove.retain(|r| r != a);
            if !append.contains(a) {
                append.push(a.clone());
            }
        }
    }
    let options = (!append.is_empty() || !remove.is_empty()).then(|| KernelOptions {
        sha256,
        append: append.join(" "),
        remove,
    });
    index.isos[pos].extensions.kernel_options = options.clone();
    store.write(vol, index)?;
    Ok(Saved {
        path,
        options,
        stale: false,
    })
}
