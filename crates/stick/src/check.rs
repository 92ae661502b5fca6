//! `bootshelf check`: the index against the file system against the partition table.
//! Reads only. Every finding names the ISO and the values that disagree.
//!
//! * index: both slots (which is current, why the other is not), settings naming ISOs
//!   that are not listed;
//! * per indexed ISO: the file exists, is a file, has the indexed size, the file system's
//!   extents equal the indexed ones, they lie inside the data partition and overlap no
//!   other ISO, the boot entries lie inside the file, and with `--hash` the SHA-256;
//! * the file system: ISO files the index does not list;
//! * the partition table: the ISO window entry, when set, covers exactly one indexed,
//!   contiguous ISO.

use crate::copy::{hash_on_device, hex};
use crate::index_io::{find_iso_files, find_partial_files, IndexStore, OpError};
use crate::layout::Layout;
use blockdev::{BlockDevice, Extent};
use exfat::Volume;

/// Severity of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing, nothing wrong.
    Note,
    /// Works, but not as intended (unindexed file, fragmented ISO, stale setting).
    Warning,
    /// The stick disagrees with itself: a menu entry would fail or boot the wrong bytes.
    Problem,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How bad.
    pub severity: Severity,
    /// The ISO or structure concerned.
    pub subject: String,
    /// What is wrong.
    pub message: String,
}

/// The result of `check`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Generation of the current index (0: none).
    pub generation: u64,
    /// Indexed ISOs checked.
    pub isos_checked: usize,
    /// ISOs whose hash was verified.
    pub hashes_checked: usize,
    /// Findings, in the order found.
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// Whether anything is a [`Severity::Problem`].
    pub fn has_problems(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == Severity::Problem)
    }

    fn add(&mut self, severity: Severity, subject: &str, message: String) {
        self.findings.push(Finding {
            severity,
            subject: subject.to_string(),
            message,
        });
    }
}

/// Options of `check`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Read every indexed ISO and compare its SHA-256.
    pub hash: bool,
}

fn overlaps(a: &Extent, b: &Extent) -> bool {
    a.start < b.start.saturating_add(b.len) && b.start < a.start.saturating_add(a.len)
}

/// Run the checks. `layout` is the partition table's view (`None` for a bare exFAT image).
pub fn check<D: BlockDevice + Send>(
    vol: &mut Volume<D>,
    layout: Option<&Layout>,
    opts: CheckOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<CheckReport, OpError> {
    let store = IndexStore::load(vol)?;
    let sel = store.selection();
    let mut r = CheckReport::default();
    let files = find_iso_files(vol)?;

    match &sel.current {
        Some((slot, idx)) => {
            r.generation = idx.generation;
            r.add(
                Severity::Note,
                slot.path(),
                format!("current index, generation {}", idx.generation),
            );
        }
        None if files.is_empty() => r.add(
            Severity::Note,
            "index",
            "no index yet and no ISO on the stick".into(),
        ),
        None => r.add(
            Severity::Problem,
            "index",
            "no valid index slot (run `bootshelf sync`)".into(),
        ),
    }
    for (slot, err) in [
        ("/bootshelf/index.a", &sel.a_error),
        ("/bootshelf/index.b", &sel.b_error),
    ] {
        match err {
            Some(bootshelf_index::SlotError::Missing) if sel.current.is_some() => r.add(
                Severity::Note,
                slot,
                "missing (written at the next change)".into(),
            ),
            Some(bootshelf_index::SlotError::Invalid(e)) => r.add(
                Severity::Warning,
                slot,
                format!("not usable ({e}); the other slot is used and this one is rewritten at the next change"),
            ),
            _ => {}
        }
    }
    let index = store.index();

    let data = layout.map(|l| {
        (
            l.data.byte_start(l.sector_size),
            l.data.byte_start(l.sector_size) + l.data.byte_len(l.sector_size),
        )
    });
    let mut placed: Vec<(String, Extent)> = Vec::new();
    for e in &index.isos {
        r.isos_checked += 1;
        let p = e.path.as_str();
        let de = match vol.stat(p) {
            Ok(de) => de,
            Err(exfat::Error::NotFound { .. }) => {
                r.add(Severity::Problem, p, "indexed but the file is gone".into());
                continue;
            }
            Err(err) => {
                r.add(Severity::Problem, p, format!("cannot look it up: {err}"));
                continue;
            }
        };
        if de.is_dir {
            r.add(Severity::Problem, p, "indexed but it is a directory".into());
            continue;
        }
        if de.size != e.size {
            r.add(
                Severity::Problem,
                p,
                format!(
                    "size {} in the index, {} on the file system",
                    e.size, de.size
                ),
            );
        }
        match vol.extents(&de) {
            Ok(fs_ext) if fs_ext != e.extents => r.add(
                Severity::Problem,
                p,
                format!(
                    "extents {:?} in the index, {:?} on the file system",
                    e.extents, fs_ext
                ),
            ),
            Ok(_) => {}
            Err(err) => r.add(
                Severity::Problem,
                p,
                format!("cannot read its extents: {err}"),
            ),
        }
        if !e.is_contiguous() {
            r.add(
                Severity::Warning,
                p,
                format!(
                    "fragmented into {} extents: the ISO window cannot expose it to the booted system",
                    e.extents.len()
                ),
            );
        }
        for x in &e.extents {
            if let Some((lo, hi)) = data {
                if x.start < lo || x.start.saturating_add(x.len) > hi {
                    r.add(
                        Severity::Problem,
                        p,
                        format!(
                            "extent at device byte {} ({} bytes) lies outside the data partition [{lo}, {hi})",
                            x.start, x.len
                        ),
                    );
                }
            }
            for (other, y) in &placed {
                if overlaps(x, y) {
                    r.add(
                        Severity::Problem,
                        p,
                        format!("extent at device byte {} overlaps {other}", x.start),
                    );
                }
            }
        }
        for x in &e.extents {
            placed.push((p.to_string(), *x));
        }
        for (i, b) in e.boot.iter().enumerate() {
            let end = u64::from(b.load_rba) * 2048 + b.image_size;
            if end > e.size {
                r.add(
                    Severity::Problem,
                    p,
                    format!(
                        "boot entry {i}: image at ISO sector {} ({} bytes) reaches past the end of the file",
                        b.load_rba, b.image_size
                    ),
                );
            }
        }
        if opts.hash {
            match e.sha256 {
                None => r.add(
                    Severity::Note,
                    p,
                    "no SHA-256 recorded (indexed by sync)".into(),
                ),
                Some(want) => {
                    let got = hash_on_device(vol.device(), &e.extents, e.size, progress);
                    match got {
                        Ok(got) if got == want => r.hashes_checked += 1,
                        Ok(got) => r.add(
                            Severity::Problem,
                            p,
                            format!(
                                "SHA-256 {} in the index, {} on the stick",
                                hex(&want),
                                hex(&got)
                            ),
                        ),
                        Err(err) => r.add(Severity::Problem, p, format!("cannot read it: {err}")),
                    }
                }
            }
        }
    }
    for (path, _) in &files {
        if index.find(path).is_none() {
            r.add(
                Severity::Warning,
                path,
                "on the stick but not in the index (run `bootshelf sync`)".into(),
            );
        }
    }
    for (path, de) in find_partial_files(vol)? {
        r.add(
            Severity::Warning,
            &path,
            format!(
                "leftover of an interrupted `add --force` ({} bytes); `bootshelf sync` deletes it",
                de.size
            ),
        );
    }
    for (what, s) in [
        ("default", &index.settings.default),
        ("boot-next", &index.settings.boot_next),
    ] {
        if let Some(p) = s {
            if index.find(p).is_none() {
                r.add(
                    Severity::Warning,
                    what,
                    format!("names {p}, which is not indexed"),
                );
            }
        }
    }
    if let Some(l) = layout {
        if let Some(w) = l.window {
            let ws = w.byte_start(l.sector_size);
            let wl = w.byte_len(l.sector_size);
            let hit = index.isos.iter().find(|e| {
                e.extents.first().is_some_and(|x| {
                    e.is_contiguous()
                        && x.start == ws
                        && wl >= e.size
                        && wl - e.size < u64::from(l.sector_size)
                })
            });
            match hit {
                Some(e) => r.add(
                    Severity::Note,
                    "ISO window",
                    format!("covers {} (left by the last boot)", e.path),
                ),
                None => r.add(
                    Severity::Warning,
                    "ISO window",
                    format!(
                        "covers sectors {}..{} which match no indexed ISO (stale; the next boot rewrites it)",
                        w.first_lba(),
                        w.end_lba()
                    ),
                ),
            }
        }
    }
    Ok(r)
}
