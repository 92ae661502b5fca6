//! `bootshelf sync --defragment`: rewrite indexed ISOs that are stored in several pieces
//! (copied by a file manager) as one contiguous run, so that the loaders can give them an
//! ISO window (docs/window.md, docs/window-linux.md).
//!
//! Per ISO (crash safety as in docs/index-format.md): reserve a contiguous run for
//! `<path>.bootshelf-defrag` (writes nothing) -> copy the old pieces into it, hashing
//! them -> flush -> compare with the SHA-256 in the index, if any (a mismatch leaves
//! everything as it was) -> commit the copy -> index generation without the entry ->
//! delete the old file -> rename the copy -> index generation with the entry back in its
//! place (same title, menu position, default and boot-next), now with one extent and a
//! SHA-256. The index never points at freed clusters. A kill leaves the old file, or the
//! new one, or (between delete and rename) only the complete copy under its temporary
//! name: [`recover`], which `sync --defragment` runs first, renames such a copy into
//! place. The temporary name is not `add`'s `.bootshelf-partial`, which `sync` deletes
//! as a leftover: here the copy may be the only one.

use crate::add::commit_in_place;
use crate::copy::{hex, CopyError, Sha256Digest};
use crate::index_io::{dev_err, find_files_ending, fs_err, IndexStore, OpError};
use blockdev::{BlockDevice, BlockReader, Extent, ExtentReader, ReadAt};
use exfat::Volume;
use sha2::{Digest, Sha256};

/// Bytes copied per device write.
const CHUNK: usize = 1 << 20;

/// Suffix of the temporary name an ISO is rewritten to.
pub const DEFRAG_SUFFIX: &str = ".bootshelf-defrag";

/// The temporary name of `path` while it is rewritten.
pub fn defrag_name(path: &str) -> String {
    format!("{path}{DEFRAG_SUFFIX}")
}

/// Finish what an interrupted defragmentation left: a `<path>.bootshelf-defrag` copy is
/// complete (it is committed only after the copy was flushed and checked), so it is
/// renamed to `<path>` when that is gone, and deleted when `<path>` is still there.
/// Returns the paths renamed into place (index them with `sync`).
pub fn recover<D: BlockDevice>(vol: &mut Volume<D>) -> Result<Vec<String>, OpError> {
    let mut renamed = Vec::new();
    for (path, _) in find_files_ending(vol, DEFRAG_SUFFIX)? {
        let Some(target) = path.strip_suffix(DEFRAG_SUFFIX) else {
            continue;
        };
        match vol.stat(target) {
            Ok(_) => vol
                .delete(&path)
                .map_err(fs_err(format!("deleting the leftover {path}")))?,
            Err(exfat::Error::NotFound { .. }) => {
                vol.rename(&path, target)
                    .map_err(fs_err(format!("renaming {path} to {target}")))?;
                renamed.push(target.to_string());
            }
            Err(source) => {
                return Err(OpError::Fs {
                    what: format!("looking up {target}"),
                    source,
                })
            }
        }
    }
    if !renamed.is_empty() {
        vol.device()
            .flush()
            .map_err(dev_err("flushing the recovered names"))?;
    }
    Ok(renamed)
}

/// What happened to one fragmented ISO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Rewritten as one run at `extent`.
    Rewritten {
        /// The pieces it had.
        pieces: usize,
        /// Where it is now.
        extent: Extent,
    },
    /// Left as it was, and why (no contiguous free run large enough, a hash mismatch).
    Left {
        /// Why.
        reason: String,
    },
}

/// Rewrite every indexed ISO that has more than one extent; `progress` gets bytes copied.
/// Returns each such ISO's path and outcome. Errors of the device or the file system stop
/// the run (what was done so far stays done and indexed).
pub fn defragment<D: BlockDevice + Send>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    progress: &mut dyn FnMut(u64),
) -> Result<Vec<(String, Outcome)>, OpError> {
    let fragmented: Vec<String> = store
        .index()
        .isos
        .iter()
        .filter(|e| !e.is_contiguous())
        .map(|e| e.path.clone())
        .collect();
    let mut out = Vec::new();
    for path in fragmented {
        let outcome = defragment_one(vol, store, &path, progress)?;
        out.push((path, outcome));
    }
    Ok(out)
}

fn defragment_one<D: BlockDevice + Send>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    path: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<Outcome, OpError> {
    let index = store.index();
    let Some(entry) = index.find(path).cloned() else {
        return Ok(Outcome::Left {
            reason: "it left the index".into(),
        });
    };
    let de = vol
        .stat(path)
        .map_err(fs_err(format!("looking up {path}")))?;
    let extents = vol
        .extents(&de)
        .map_err(fs_err(format!("reading the extents of {path}")))?;
    if extents != entry.extents || de.size != entry.size {
        return Ok(Outcome::Left {
            reason: "it changed since it was indexed (run `bootshelf sync` first)".into(),
        });
    }
    let pieces = extents.len();
    if pieces < 2 {
        return Ok(Outcome::Left {
            reason: "it is contiguous already".into(),
        });
    }
    let partial = defrag_name(path);
    match vol.delete(&partial) {
        Ok(()) | Err(exfat::Error::NotFound { .. }) => {}
        Err(source) => {
            return Err(OpError::Fs {
                what: format!("removing the leftover {partial}"),
                source,
            })
        }
    }
    let pending = match vol.reserve_contiguous(&partial, de.size) {
        Ok(p) => p,
        Err(exfat::Error::NoSpace {
            needed,
            largest_free_run,
        }) => {
            return Ok(Outcome::Left {
                reason: format!(
                    "it needs {needed} contiguous free bytes; the largest free run has {largest_free_run}"
                ),
            })
        }
        Err(source) => {
            return Err(OpError::Fs {
                what: format!("reserving {} bytes for {partial}", de.size),
                source,
            })
        }
    };
    let dest = pending.extent();
    let digest =
        copy_extents(vol.device(), &extents, de.size, dest, progress).map_err(|source| {
            OpError::Copy {
                what: format!("copying {path} into one run"),
                source,
            }
        })?;
    vol.device()
        .flush()
        .map_err(dev_err(format!("flushing the copy of {path}")))?;
    if let Some(want) = entry.sha256 {
        if want != digest {
            // Nothing is committed: the copy sits in free clusters.
            return Ok(Outcome::Left {
                reason: format!(
                    "its content has SHA-256 {} but the index recorded {}; not touched",
                    hex(&digest),
                    hex(&want)
                ),
            });
        }
    }
    let new_extents = commit_in_place(vol, pending, &partial)?;

    // The old entry leaves the index before its clusters are freed.
    let mut without = store.index();
    let position = without.position(path);
    let settings = without.settings.clone();
    without.remove(path);
    store.write(vol, without)?;
    vol.delete(path)
        .map_err(fs_err(format!("deleting the fragmented {path}")))?;
    vol.rename(&partial, path)
        .map_err(fs_err(format!("renaming {partial} to {path}")))?;
    vol.device()
        .flush()
        .map_err(dev_err("flushing the rename"))?;

    let mut back = store.index();
    let mut entry = entry;
    entry.extents = new_extents;
    entry.sha256 = Some(digest);
    let at = position.unwrap_or(back.isos.len()).min(back.isos.len());
    back.isos.insert(at, entry);
    back.settings = settings;
    store.write(vol, back)?;
    Ok(Outcome::Rewritten {
        pieces,
        extent: dest,
    })
}

/// Copy the `size` bytes of a file laid over `extents` to the sector-aligned run `dest`
/// of the same device, zero-padding the last sector; returns their SHA-256.
fn copy_extents<D: BlockDevice>(
    dev: &mut D,
    extents: &[Extent],
    size: u64,
    dest: Extent,
    progress: &mut dyn FnMut(u64),
) -> Result<Sha256Digest, CopyError> {
    let ss = u64::from(dev.sector_size());
    let bad = || CopyError::BadDestination {
        extent: dest,
        size,
        sector_size: dev_sector_size(ss),
    };
    if ss == 0 || !dest.start.is_multiple_of(ss) || dest.len < size.div_ceil(ss) * ss {
        return Err(bad());
    }
    let first_lba = dest.start / ss;
    let mut buf = vec![0u8; CHUNK];
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    while done < size {
        let n = usize::try_from((size - done).min(CHUNK as u64)).map_err(|_| bad())?;
        let padded = usize::try_from((n as u64).div_ceil(ss) * ss).map_err(|_| bad())?;
        let (data, rest) = buf.split_at_mut(n);
        {
            let reader = BlockReader::new(&mut *dev);
            let mut file = ExtentReader::new(reader, extents, size).map_err(CopyError::Device)?;
            file.read_exact_at(done, data).map_err(CopyError::Device)?;
        }
        hasher.update(&*data);
        rest.iter_mut().take(padded - n).for_each(|b| *b = 0);
        let chunk = buf.get(..padded).ok_or_else(bad)?;
        dev.write_sectors(first_lba + done / ss, chunk)
            .map_err(CopyError::Device)?;
        done += n as u64;
        progress(done);
    }
    Ok(hasher.finalize().into())
}

fn dev_sector_size(ss: u64) -> u32 {
    u32::try_from(ss).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use blockdev::MemDevice;

    fn volume() -> Volume<MemDevice> {
        let mut dev = MemDevice::new(512, 8192);
        let opts = exfat::FormatOptions {
            label: "T",
            cluster_size: None,
            volume_serial: 1,
        };
        exfat::format(&mut dev, 0, 8192, &opts).unwrap();
        Volume::open(dev, 0, 8192).unwrap()
    }

    #[test]
    fn recover_renames_an_orphaned_copy_and_deletes_a_redundant_one() {
        let mut vol = volume();
        vol.mkdir("/d").unwrap();
        // Killed between deleting the old file and renaming the copy: only the copy.
        vol.write_file("/d/a.iso.bootshelf-defrag", b"new a")
            .unwrap();
        // Killed before deleting the old file: both.
        vol.write_file("/b.iso", b"old b").unwrap();
        vol.write_file("/b.iso.bootshelf-defrag", b"new b").unwrap();
        // add's leftover is not ours.
        vol.write_file("/c.iso.bootshelf-partial", b"c").unwrap();
        let renamed = recover(&mut vol).unwrap();
        assert_eq!(renamed, vec!["/d/a.iso".to_string()]);
        let a = vol.stat("/d/a.iso").unwrap();
        let mut buf = vec![0u8; 5];
        vol.read_at(&a, 0, &mut buf).unwrap();
        assert_eq!(&buf, b"new a");
        let b = vol.stat("/b.iso").unwrap();
        vol.read_at(&b, 0, &mut buf).unwrap();
        assert_eq!(&buf, b"old b");
        assert!(vol.stat("/b.iso.bootshelf-defrag").is_err());
        assert!(vol.stat("/c.iso.bootshelf-partial").is_ok());
        assert!(recover(&mut vol).unwrap().is_empty());
    }
}
