//! `bootshelf sync`: rebuild the index from the stick itself. Indexes ISOs copied by other
//! tools (a file manager, `cp`), reports those that are fragmented, broken or unbootable and why,
//! drops entries whose files are gone or changed into something unbootable, and keeps
//! entries (hash, title) whose files are unchanged. Reads the file system, then writes one
//! index generation; a kill before that write changes nothing.

use crate::add::{InspectError, IsoFacts};
use crate::copy::hash_on_device;
use crate::index_io::{find_iso_files, find_partial_files, fs_err, IndexStore, OpError};
use blockdev::{BlockDevice, Extent};
use bootshelf_index::IsoEntry;
use exfat::{DirEntry, Volume};
use shelf::catalog::read_on_volume;

/// Read an ISO in place on the stick: its extents and what its El Torito catalog says
/// (shelf's one conversion, judged as `add` judges). The outer error is the file
/// system's; the inner one says why the content is unusable.
pub fn inspect_on_stick<D: BlockDevice>(
    vol: &mut Volume<D>,
    de: &DirEntry,
) -> Result<(Result<IsoFacts, InspectError>, Vec<Extent>), OpError> {
    let (extents, facts) = read_on_volume(vol, de)
        .map_err(fs_err(format!("reading the extents of {}", de.name)))?
        .judged();
    Ok((facts, extents))
}

/// Options of `sync`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncOptions {
    /// Compute the SHA-256 of newly indexed or changed ISOs (reads them whole).
    pub hash: bool,
    /// Report only; write nothing.
    pub dry_run: bool,
}

/// What `sync` found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Newly indexed files.
    pub added: Vec<String>,
    /// Indexed files whose size or place changed, re-read.
    pub updated: Vec<String>,
    /// Entries kept as they were.
    pub kept: Vec<String>,
    /// Entries dropped, and why.
    pub dropped: Vec<(String, String)>,
    /// ISO files not indexed, and why.
    pub skipped: Vec<(String, String)>,
    /// Broken ISO files (truncated, a boot image past the end, an unreadable catalog),
    /// not indexed, and why.
    pub broken: Vec<(String, String)>,
    /// Indexed files stored in more than one extent (they boot from the menu, but the ISO
    /// window that lets the booted system find its medium needs one run), with the count.
    pub fragmented: Vec<(String, usize)>,
    /// Leftover temporary copies of an interrupted `add --force`, deleted.
    pub leftovers_deleted: Vec<String>,
    /// The generation written, if the index was written.
    pub generation: Option<u64>,
}

/// Why an indexed file is not among the ISOs the menu lists.
fn unlisted<D: BlockDevice>(vol: &mut Volume<D>, path: &str) -> Result<String, OpError> {
    match vol.stat(path) {
        Err(exfat::Error::NotFound { .. }) => Ok("the file is gone".into()),
        Err(source) => Err(OpError::Fs {
            what: format!("looking up {path}"),
            source,
        }),
        Ok(de) if de.is_dir => Ok("it is a folder".into()),
        Ok(de) => Ok(
            match shelf::scan::reaches(&shelf::Limits::default(), path) {
                Err(why) => format!("the menu does not list it: {why}"),
                Ok(()) if !shelf::scan::is_iso_name(&de.name) => {
                    "the menu does not list it: its name is not *.iso (or is a macOS ._ file)"
                        .into()
                }
                Ok(()) if de.size == 0 => "the menu does not list it: it is empty".into(),
                Ok(()) => "the menu does not list it: the scan stopped at its limits".into(),
            },
        ),
    }
}

/// Run `sync`.
pub fn sync<D: BlockDevice + Send>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    opts: SyncOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<SyncReport, OpError> {
    let old = store.index();
    let files = find_iso_files(vol)?;
    let mut report = SyncReport::default();
    let mut new = old.clone();
    new.isos.clear();

    // Index order first (the menu order the user built), then new files by path.
    let mut order: Vec<(String, DirEntry)> = Vec::new();
    for e in &old.isos {
        match files.iter().find(|(p, _)| p.eq_ignore_ascii_case(&e.path)) {
            Some(f) => order.push(f.clone()),
            None => report
                .dropped
                .push((e.path.clone(), unlisted(vol, &e.path)?)),
        }
    }
    for f in &files {
        if !order.iter().any(|(p, _)| p.eq_ignore_ascii_case(&f.0)) {
            order.push(f.clone());
        }
    }

    for (path, de) in order {
        let prev = old.find(&path);
        let (facts, extents) = inspect_on_stick(vol, &de)?;
        let unchanged = prev.is_some_and(|e| e.size == de.size && e.extents == extents);
        let facts = match facts {
            Ok(f) => f,
            Err(InspectError::Broken { why, .. }) if !unchanged => {
                let why = why.to_string();
                match prev {
                    Some(_) => report
                        .dropped
                        .push((path.clone(), format!("broken: {why}"))),
                    None => report.broken.push((path.clone(), why)),
                }
                continue;
            }
            Err(e) => {
                let r = match e {
                    InspectError::NotIso(r) | InspectError::NotBootable(r) => r,
                    InspectError::Broken { why, .. } => why.to_string(),
                };
                let why = match prev {
                    // `add --force` indexed it knowingly: keep it while it is unchanged.
                    Some(_) if unchanged => None,
                    _ => Some(r),
                };
                match (why, prev) {
                    (None, Some(e)) => {
                        report.kept.push(path.clone());
                        new.isos.push(e.clone());
                    }
                    (Some(r), Some(_)) => report.dropped.push((path.clone(), r)),
                    (Some(r), None) => report.skipped.push((path.clone(), r)),
                    (None, None) => {}
                }
                continue;
            }
        };
        if extents.len() > 1 {
            report.fragmented.push((path.clone(), extents.len()));
        }
        if let (true, Some(e)) = (unchanged, prev) {
            let mut e = e.clone();
            // Boot entries are cheap to refresh and may have been indexed by an older
            // bootshelf; the hash and title are kept.
            e.label = facts.label;
            e.boot = facts.boot;
            report.kept.push(path.clone());
            new.isos.push(e);
            continue;
        }
        let sha256 = if opts.hash {
            Some(
                hash_on_device(vol.device(), &extents, de.size, progress).map_err(|source| {
                    OpError::Copy {
                        what: format!("hashing {path}"),
                        source,
                    }
                })?,
            )
        } else {
            None
        };
        let title = prev.and_then(|e| e.title.clone());
        if prev.is_some() {
            report.updated.push(path.clone());
        } else {
            report.added.push(path.clone());
        }
        new.isos.push(IsoEntry {
            path,
            size: de.size,
            sha256,
            label: facts.label,
            title,
            extents,
            boot: facts.boot,
            // Kernel options stay with the path; they apply only while the SHA-256
            // they were saved for is the file's.
            extensions: prev.map(|e| e.extensions.clone()).unwrap_or_default(),
        });
    }
    // Settings naming a dropped ISO are cleared.
    for s in [&mut new.settings.default, &mut new.settings.boot_next] {
        if s.as_deref()
            .is_some_and(|p| new.isos.iter().all(|e| !e.path.eq_ignore_ascii_case(p)))
        {
            *s = None;
        }
    }
    // Temporary copies of an interrupted `add --force` are complete but unlisted (their
    // names do not end in .iso): free their space.
    if !opts.dry_run {
        for (p, _) in find_partial_files(vol)? {
            vol.delete(&p)
                .map_err(fs_err(format!("deleting the leftover {p}")))?;
            report.leftovers_deleted.push(p);
        }
    }
    let changed = new.isos != old.isos || new.settings != old.settings;
    if !opts.dry_run && (changed || !store.both_valid() || store.selection().current.is_none()) {
        report.generation = Some(store.write(vol, new)?);
    }
    Ok(report)
}
