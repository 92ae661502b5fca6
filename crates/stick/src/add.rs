//! `bootshelf add`: check an ISO, copy it onto the data partition as one contiguous run
//! with its SHA-256 computed during the copy, optionally verify it from the device, commit
//! it, and index it with its El Torito entries.
//!
//! Order of writes (crash safety, see docs/index-format.md): reserve (writes nothing) ->
//! data -> flush -> verify -> commit the directory entry -> flush -> index generation
//! `g+1`. A kill at any instant leaves the file system as it was or with one more
//! complete, unindexed file; the index never lists a partial ISO.

use crate::copy::{self, copy_and_hash, hex, Progress, Sha256Digest, Stage};
use crate::index_io::{dev_err, fs_err, join, IndexStore, OpError};
use blockdev::{BlockDevice, Extent, ReadAt};
use bootshelf_index::IsoEntry;
use exfat::Volume;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// How `add` checks the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// Trust the write (the SHA-256 of what was read from the source is stored).
    No,
    /// Read back through the device as opened (tests on in-memory devices).
    Device,
    /// Read back from the disk or image at this path bypassing the page cache.
    Uncached(PathBuf),
}

/// Options of one `add`.
#[derive(Debug, Clone)]
pub struct AddOptions {
    /// Copy non-ISO, broken or unbootable input anyway, and replace a file of the same name.
    pub force: bool,
    /// A menu title instead of the file name.
    pub title: Option<String>,
    /// Read the copy back and compare hashes before committing it.
    pub verify: Verify,
    /// Directory on the stick to put the ISO in (`/` by default).
    pub dest_dir: String,
    /// A second descriptor of the device's file (image or block device): lets the copy
    /// start write-out while it runs (see [`copy::WRITE_BEHIND`]) instead of all at the end.
    pub write_behind: Option<std::sync::Arc<File>>,
    /// The device's file opened with `O_DIRECT` ([`copy::open_direct`]): the ISO's data is
    /// written around the page cache, as `dd oflag=direct` does (see [`copy_and_hash`]).
    pub direct: Option<std::sync::Arc<File>>,
}

impl Default for AddOptions {
    fn default() -> Self {
        AddOptions {
            force: false,
            title: None,
            verify: Verify::No,
            dest_dir: "/".into(),
            write_behind: None,
            direct: None,
        }
    }
}

pub use shelf::catalog::{InspectError, IsoFacts};

/// Read the label and every El Torito entry of an ISO (with the real size of each boot
/// image), and judge whether a PC can boot it: shelf's one conversion
/// ([`shelf::catalog::inspect`]).
pub fn inspect_iso<R: ReadAt>(r: &mut R) -> Result<IsoFacts, InspectError> {
    shelf::catalog::inspect(r)
}

/// A source file as a [`ReadAt`].
pub struct FileReadAt<'f> {
    file: &'f File,
    len: u64,
}

impl<'f> FileReadAt<'f> {
    /// Wrap a file of `len` bytes.
    pub fn new(file: &'f File, len: u64) -> Self {
        FileReadAt { file, len }
    }
}

impl ReadAt for FileReadAt<'_> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), blockdev::IoError> {
        match offset.checked_add(buf.len() as u64) {
            Some(end) if end <= self.len => {}
            _ => {
                return Err(blockdev::IoError::OutOfRange {
                    offset,
                    len: buf.len() as u64,
                    size: self.len,
                })
            }
        }
        self.file
            .read_exact_at(buf, offset)
            .map_err(|e| blockdev::IoError::Device {
                code: e.raw_os_error().unwrap_or(-1) as u32 as u64,
                offset,
            })
    }
}

/// An ISO checked and ready to copy.
#[derive(Debug)]
pub struct Prepared {
    /// The source.
    pub src: PathBuf,
    /// Its size.
    pub size: u64,
    /// Where it goes on the stick.
    pub dest: String,
    /// Its facts; `None` when `--force` kept a non-ISO or unbootable file.
    pub facts: Option<IsoFacts>,
    /// Why it was kept anyway, when forced.
    pub forced_because: Option<String>,
    /// Whether a file of that name is on the stick already (replaced, with `--force`).
    pub replaces: bool,
}

/// Check a name for the stick: exFAT's forbidden characters and length.
pub fn check_name(name: &str) -> Result<(), OpError> {
    let bad = |reason| {
        Err(OpError::BadName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() || name == "." || name == ".." {
        return bad("empty");
    }
    if name.encode_utf16().count() > 255 {
        return bad("longer than 255 UTF-16 units");
    }
    if name.chars().any(|c| {
        (c as u32) < 0x20 || matches!(c, '"' | '*' | '/' | ':' | '<' | '>' | '?' | '\\' | '|')
    }) {
        return bad("contains a character exFAT forbids (control, \" * / : < > ? \\ |)");
    }
    Ok(())
}

/// Inspect `src` and decide where it goes; writes nothing.
pub fn prepare<D: BlockDevice>(
    vol: &mut Volume<D>,
    src: &Path,
    opts: &AddOptions,
) -> Result<Prepared, OpError> {
    if let Some(t) = &opts.title {
        crate::index_io::check_title(t)?;
    }
    let file = File::open(src).map_err(|source| OpError::Io {
        what: format!("opening {}", src.display()),
        source,
    })?;
    let size = file
        .metadata()
        .map_err(|source| OpError::Io {
            what: format!("reading the size of {}", src.display()),
            source,
        })?
        .len();
    let name = src
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| OpError::BadName {
            name: src.display().to_string(),
            reason: "no file name, or not UTF-8",
        })?
        .to_string();
    check_name(&name)?;
    let dest = join(&opts.dest_dir, &name);
    shelf::scan::reaches(&shelf::Limits::default(), &dest).map_err(|why| OpError::Unscanned {
        path: dest.clone(),
        why,
    })?;
    let (facts, forced_because) = match inspect_iso(&mut FileReadAt::new(&file, size)) {
        Ok(f) => (Some(f), None),
        Err(InspectError::NotIso(reason)) if !opts.force => {
            return Err(OpError::NotIso {
                path: src.to_owned(),
                reason,
            })
        }
        Err(InspectError::NotBootable(reason)) if !opts.force => {
            return Err(OpError::NotBootable {
                path: src.to_owned(),
                reason,
            })
        }
        Err(InspectError::Broken { why, .. }) if !opts.force => {
            return Err(OpError::BrokenIso {
                path: src.to_owned(),
                reason: why.to_string(),
            })
        }
        // `--force` indexes what could be read of a broken ISO, as it is.
        Err(InspectError::Broken { facts, why }) => (Some(facts), Some(format!("broken ({why})"))),
        Err(e) => (None, Some(e.to_string())),
    };
    let replaces = match vol.stat(&dest) {
        Ok(e) if e.is_dir => {
            return Err(OpError::BadName {
                name: dest,
                reason: "a directory of that name exists on the stick",
            })
        }
        Ok(_) => true,
        Err(exfat::Error::NotFound { .. }) => false,
        Err(source) => {
            return Err(OpError::Fs {
                what: format!("looking up {dest}"),
                source,
            })
        }
    };
    if replaces && !opts.force {
        return Err(OpError::AlreadyThere { path: dest });
    }
    Ok(Prepared {
        src: src.to_owned(),
        size,
        dest,
        facts,
        forced_because,
        replaces,
    })
}

/// Refuse the whole batch before anything is written when it cannot fit: every ISO must
/// fit the largest free run, and all of them the free space.
pub fn check_space<D: BlockDevice>(vol: &mut Volume<D>, batch: &[Prepared]) -> Result<(), OpError> {
    let cluster = u64::from(vol.cluster_size()).max(1);
    let largest = vol
        .largest_free_run()
        .map_err(fs_err("reading the allocation bitmap"))?;
    let free = vol
        .free_bytes()
        .map_err(fs_err("reading the allocation bitmap"))?;
    let mut total = 0u64;
    for p in batch {
        let needed = p.size.div_ceil(cluster).max(1) * cluster;
        total = total.saturating_add(needed);
        if needed > largest || total > free {
            return Err(OpError::StickFull {
                name: p.dest.clone(),
                needed,
                largest_free_run: largest,
                free,
                batch_needed: total,
            });
        }
    }
    Ok(())
}

/// The outcome of one add.
#[derive(Debug, Clone)]
pub struct Added {
    /// The index entry written.
    pub entry: IsoEntry,
    /// Whether an older file of that name was replaced.
    pub replaced: bool,
    /// Whether the copy was read back and compared.
    pub verified: bool,
    /// Why a non-ISO or unbootable file was kept (`--force`).
    pub forced_because: Option<String>,
    /// The generation of the index written last.
    pub generation: u64,
}

/// Name of the temporary file a replacing copy is written to, next to its final name.
/// It does not end in `.iso`, so neither `sync` nor the loader's scan list it.
pub fn partial_name(dest: &str) -> String {
    format!("{dest}{}", crate::index_io::PARTIAL_SUFFIX)
}

/// Copy one prepared ISO onto the stick and index it. `progress` hears each stage
/// ([`Stage::Copy`], [`Stage::Flush`], [`Stage::Verify`] with `--verify`, [`Stage::Index`])
/// and the bytes done within it.
pub fn add_prepared<D: BlockDevice + Send>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    p: &Prepared,
    opts: &AddOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Added, OpError> {
    let file = File::open(&p.src).map_err(|source| OpError::Io {
        what: format!("opening {}", p.src.display()),
        source,
    })?;
    // A replacing copy goes to a temporary name first; a leftover one from an earlier
    // interrupted run is ours to delete.
    let target = if p.replaces {
        partial_name(&p.dest)
    } else {
        p.dest.clone()
    };
    if p.replaces {
        match vol.delete(&target) {
            Ok(()) | Err(exfat::Error::NotFound { .. }) => {}
            Err(source) => {
                return Err(OpError::Fs {
                    what: format!("removing the leftover {target}"),
                    source,
                })
            }
        }
    }
    let pending = match vol.reserve_contiguous(&target, p.size) {
        Ok(pending) => pending,
        Err(exfat::Error::NoSpace {
            needed,
            largest_free_run,
        }) => {
            return Err(OpError::StickFull {
                name: p.dest.clone(),
                needed,
                largest_free_run,
                free: vol.free_bytes().unwrap_or(largest_free_run),
                batch_needed: needed,
            })
        }
        Err(source) => {
            return Err(OpError::Fs {
                what: format!("reserving {} bytes for {target}", p.size),
                source,
            })
        }
    };
    let extent = pending.extent();
    // The reservation is whole clusters, so the last partial sector (zero-padded by the
    // copy) lies inside it.
    let ss = u64::from(vol.device().sector_size());
    let dest = Extent {
        start: extent.start,
        len: extent.len.div_ceil(ss) * ss,
    };
    // copy_and_hash flushes the device before it returns.
    let behind = opts.write_behind.as_deref();
    let direct = opts.direct.as_deref();
    let digest = copy_and_hash(&file, p.size, vol.device(), dest, direct, behind, progress)
        .map_err(|source| OpError::Copy {
            what: format!("copying {} to {target} and flushing it", p.src.display()),
            source,
        })?;

    let verified = verify(
        vol,
        &opts.verify,
        extent,
        p.size,
        &digest,
        &p.dest,
        progress,
    )?;

    progress(Progress::Stage(Stage::Index, 0));
    let extents = commit_in_place(vol, pending, &target)?;

    let mut index = store.index();
    // A replaced ISO keeps its persistence file: it belongs to the path (kernel options,
    // tied to the old file's SHA-256, do not carry over).
    let extensions = bootshelf_index::Extensions {
        persistence: index
            .find(&p.dest)
            .and_then(|e| e.extensions.persistence.clone()),
        ..Default::default()
    };
    if p.replaces {
        // The old file leaves the index before it is deleted, so the index never points
        // at freed clusters; then the new copy takes its name.
        index.remove(&p.dest);
        store.write(vol, index.clone())?;
        vol.delete(&p.dest)
            .map_err(fs_err(format!("deleting the old {}", p.dest)))?;
        vol.rename(&target, &p.dest)
            .map_err(fs_err(format!("renaming {target} to {}", p.dest)))?;
        vol.device()
            .flush()
            .map_err(dev_err("flushing the rename"))?;
    }
    let facts = p.facts.clone().unwrap_or_default();
    let entry = IsoEntry {
        path: p.dest.clone(),
        size: p.size,
        sha256: Some(digest),
        label: facts.label,
        title: opts.title.clone(),
        extents,
        boot: facts.boot,
        extensions,
    };
    index.upsert(entry.clone());
    let generation = store.write(vol, index)?;
    Ok(Added {
        entry,
        replaced: p.replaces,
        verified,
        forced_because: p.forced_because.clone(),
        generation,
    })
}

/// Commit a reserved copy whose data is written and flushed, flush its directory entry,
/// and check that the file system placed it where the data was written (one extent at
/// the reserved start). Returns its extents. Shared by `add` and `sync --defragment`.
pub fn commit_in_place<D: BlockDevice>(
    vol: &mut Volume<D>,
    pending: exfat::Pending,
    path: &str,
) -> Result<Vec<Extent>, OpError> {
    let written = pending.extent();
    let entry = vol
        .commit(pending)
        .map_err(fs_err(format!("committing {path}")))?;
    vol.device()
        .flush()
        .map_err(dev_err(format!("flushing the directory entry of {path}")))?;
    let extents = vol
        .extents(&entry)
        .map_err(fs_err(format!("reading the extents of {path}")))?;
    if extents.len() != 1 || extents.first().map(|e| e.start) != Some(written.start) {
        return Err(OpError::Misplaced {
            path: path.to_string(),
            written,
            found: extents,
        });
    }
    Ok(extents)
}

fn verify<D: BlockDevice + Send>(
    vol: &mut Volume<D>,
    how: &Verify,
    extent: Extent,
    size: u64,
    expected: &Sha256Digest,
    dest: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<bool, OpError> {
    let what = || format!("reading back {dest}");
    if *how == Verify::No {
        return Ok(false);
    }
    progress(Progress::Stage(Stage::Verify, size));
    let bytes = &mut |n| progress(Progress::Bytes(n));
    let found = match how {
        Verify::No => return Ok(false),
        Verify::Device => copy::hash_on_device(vol.device(), &[extent], size, bytes),
        Verify::Uncached(path) => copy::hash_uncached(path, extent.start, size, bytes),
    }
    .map_err(|source| OpError::Copy {
        what: what(),
        source,
    })?;
    if &found != expected {
        return Err(OpError::VerifyFailed {
            path: dest.to_string(),
            expected: hex(expected),
            found: hex(&found),
        });
    }
    Ok(true)
}
