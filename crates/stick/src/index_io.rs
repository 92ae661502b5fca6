//! The errors of the ISO commands (add, remove, list, sync, check, boot-next) and what
//! they share on top of crates/shelf (the one reading of a stick, also the loaders'):
//! shelf's index store, shelf's scan policy as lists of files (an unreadable folder is an
//! error here, since commands change the stick from what they find), and resolving the
//! names a user types.

use crate::copy::CopyError;
use blockdev::{BlockDevice, Extent};
use bootshelf_index::{EncodeError, SLOT_DIR};
use exfat::{DirEntry, Volume};
use shelf::scan::{self, Limits, Scan};
use shelf::store::{LoadError, WriteError};
use std::fmt;
use std::path::PathBuf;

pub use bootshelf_index::{Index, IsoEntry, Persistence, PlatformId, Timeout};
pub use shelf::scan::join;
pub use shelf::IndexStore;

/// Why an ISO command failed. Each variant names what it was doing and the value at fault.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpError {
    /// The exFAT layer refused or found corruption.
    Fs {
        /// What we were doing.
        what: String,
        /// The exFAT error.
        source: exfat::Error,
    },
    /// Copying or hashing failed.
    Copy {
        /// What we were doing.
        what: String,
        /// Why.
        source: CopyError,
    },
    /// A host I/O error (opening the source ISO, ...).
    Io {
        /// What we were doing.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The device failed.
    Device {
        /// What we were doing.
        what: String,
        /// Why.
        source: blockdev::IoError,
    },
    /// The new index could not be encoded.
    Index(EncodeError),
    /// The input is not an ISO 9660 image.
    NotIso {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
    /// The ISO has no bootable El Torito entry.
    NotBootable {
        /// The file.
        path: PathBuf,
        /// Details.
        reason: String,
    },
    /// The ISO is broken: truncated, a boot image past its end, an unreadable catalog.
    BrokenIso {
        /// The file.
        path: PathBuf,
        /// Why, with the sizes.
        reason: String,
    },
    /// A file of that name is already on the stick.
    AlreadyThere {
        /// Its path on the stick.
        path: String,
    },
    /// Not enough contiguous space; nothing was written.
    StickFull {
        /// The file.
        name: String,
        /// Bytes it needs, in whole clusters.
        needed: u64,
        /// The largest free contiguous run.
        largest_free_run: u64,
        /// All free bytes.
        free: u64,
    },
    /// Kernel options need the ISO's SHA-256 in the index (they are tied to it).
    NoHash {
        /// Path on the stick.
        path: String,
    },
    /// No ISO matches the name.
    NotFound {
        /// The name given.
        name: String,
    },
    /// Several ISOs match the name.
    Ambiguous {
        /// The name given.
        name: String,
        /// The paths it matches.
        candidates: Vec<String>,
    },
    /// `--verify`: the bytes read back differ from the bytes copied.
    VerifyFailed {
        /// Path on the stick.
        path: String,
        /// SHA-256 of the source.
        expected: String,
        /// SHA-256 read back.
        found: String,
    },
    /// A name that cannot be an ISO's name on the stick.
    BadName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// The destination lies where the menu's scan never looks (shelf's scan policy).
    Unscanned {
        /// Path on the stick.
        path: String,
        /// Why the scan misses it.
        why: scan::Unreached,
    },
    /// The file system placed a committed file elsewhere than where its data was written.
    Misplaced {
        /// Path on the stick.
        path: String,
        /// Where the data was written.
        written: Extent,
        /// What the file system reports.
        found: Vec<Extent>,
    },
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpError::Fs { what, source } => write!(f, "{what}: {source}"),
            OpError::Copy { what, source } => write!(f, "{what}: {source}"),
            OpError::Io { what, source } => write!(f, "{what}: {source}"),
            OpError::Device { what, source } => write!(f, "{what}: {source}"),
            OpError::Index(e) => write!(f, "encoding the index: {e}"),
            OpError::NotIso { path, reason } => write!(
                f,
                "{} is not an ISO 9660 image ({reason}); use --force to copy it anyway",
                path.display()
            ),
            OpError::NotBootable { path, reason } => write!(
                f,
                "{} is not bootable: {reason}; use --force to copy it anyway",
                path.display()
            ),
            OpError::BrokenIso { path, reason } => write!(
                f,
                "{} is a broken ISO: {reason}; get it again (and compare its checksum), or use \
                 --force to copy it anyway",
                path.display()
            ),
            OpError::AlreadyThere { path } => write!(
                f,
                "{path} is already on the stick; use --force to replace it"
            ),
            OpError::StickFull {
                name,
                needed,
                largest_free_run,
                free,
            } => write!(
                f,
                "the stick is full: {name} needs {} contiguous, the largest free run is {} ({} free in all); nothing was written",
                human(*needed),
                human(*largest_free_run),
                human(*free)
            ),
            OpError::NotFound { name } => write!(f, "no ISO named {name:?} on the stick"),
            OpError::NoHash { path } => write!(
                f,
                "{path} has no SHA-256 in the index, and kernel options are tied to it: \
                 run `bootshelf sync STICK --hash` first"
            ),
            OpError::Ambiguous { name, candidates } => write!(
                f,
                "{name:?} matches several ISOs: {}",
                candidates.join(", ")
            ),
            OpError::VerifyFailed {
                path,
                expected,
                found,
            } => write!(
                f,
                "verification of {path} failed: copied SHA-256 {expected}, read back {found}; the copy was not kept"
            ),
            OpError::BadName { name, reason } => write!(f, "bad name {name:?}: {reason}"),
            OpError::Unscanned { path, why } => write!(
                f,
                "{path} would not be in the menu: {why}; choose another folder"
            ),
            OpError::Misplaced {
                path,
                written,
                found,
            } => write!(
                f,
                "{path}: data written at device byte {} ({} bytes) but the file system reports {found:?}",
                written.start, written.len
            ),
        }
    }
}

impl std::error::Error for OpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpError::Copy { source, .. } => Some(source),
            OpError::Io { source, .. } => Some(source),
            OpError::Device { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// `map_err` helper for exFAT errors.
pub(crate) fn fs_err(what: impl Into<String>) -> impl FnOnce(exfat::Error) -> OpError {
    let what = what.into();
    move |source| OpError::Fs { what, source }
}

/// `map_err` helper for device errors.
pub(crate) fn dev_err(what: impl Into<String>) -> impl FnOnce(blockdev::IoError) -> OpError {
    let what = what.into();
    move |source| OpError::Device { what, source }
}

/// Bytes in binary units, for messages.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(u).unwrap_or(&"?"))
    }
}

impl From<LoadError> for OpError {
    fn from(e: LoadError) -> Self {
        OpError::Fs {
            what: format!("reading {}", e.path),
            source: e.source,
        }
    }
}

impl From<WriteError> for OpError {
    fn from(e: WriteError) -> Self {
        match e {
            WriteError::Encode(e) => OpError::Index(e),
            WriteError::Fs { path, source } if path == SLOT_DIR => OpError::Fs {
                what: format!("creating {path}"),
                source,
            },
            WriteError::Fs { path, source } => OpError::Fs {
                what: format!("writing {path}"),
                source,
            },
            WriteError::Flush(source) => OpError::Device {
                what: "flushing the index".into(),
                source,
            },
        }
    }
}

/// A scan's files; a folder the scan could not read is an error (a command must not
/// drop or miss what it cannot see). A scan stopped by a limit stops here too, as the
/// menu's does.
fn scanned(scan: Result<Scan, exfat::Error>) -> Result<Vec<(String, DirEntry)>, OpError> {
    let scan = scan.map_err(fs_err("listing /"))?;
    if let Some((dir, source)) = scan.unreadable.into_iter().next() {
        return Err(OpError::Fs {
            what: format!("listing {dir}"),
            source,
        });
    }
    Ok(scan.files)
}

/// Every ISO file the menu lists (shelf's scan policy, [`scan::isos`]), in scan order.
pub fn find_iso_files<D: BlockDevice>(
    vol: &mut Volume<D>,
) -> Result<Vec<(String, DirEntry)>, OpError> {
    scanned(scan::isos(vol, &Limits::default()))
}

/// Temporary copies left by an `add --force` that was interrupted after its copy was
/// committed but before it replaced the old file (complete, but nobody's).
pub fn find_partial_files<D: BlockDevice>(
    vol: &mut Volume<D>,
) -> Result<Vec<(String, DirEntry)>, OpError> {
    find_files_ending(vol, PARTIAL_SUFFIX)
}

/// Every file named `*<suffix>` where the scan looks for ISOs ([`scan::files_ending`]).
pub fn find_files_ending<D: BlockDevice>(
    vol: &mut Volume<D>,
    suffix: &str,
) -> Result<Vec<(String, DirEntry)>, OpError> {
    scanned(scan::files_ending(vol, &Limits::default(), suffix))
}

/// Suffix of the temporary name a replacing `add` copies to.
pub const PARTIAL_SUFFIX: &str = ".bootshelf-partial";

/// Resolve what a user typed to one path: an exact path (with or without the leading
/// `/`), else a file name, else an index title; case-insensitive as exFAT.
pub fn resolve(name: &str, index: &Index, files: &[(String, DirEntry)]) -> Result<String, OpError> {
    let want = if name.starts_with('/') {
        name.to_string()
    } else {
        format!("/{name}")
    };
    let mut paths: Vec<&str> = index.isos.iter().map(|e| e.path.as_str()).collect();
    for (p, _) in files {
        if !paths.iter().any(|q| q.eq_ignore_ascii_case(p)) {
            paths.push(p);
        }
    }
    if let Some(p) = paths.iter().find(|p| p.eq_ignore_ascii_case(&want)) {
        return Ok(p.to_string());
    }
    let by_file: Vec<&str> = paths
        .iter()
        .copied()
        .filter(|p| {
            p.rsplit('/')
                .next()
                .is_some_and(|f| f.eq_ignore_ascii_case(name))
        })
        .collect();
    let by_title: Vec<&str> = index
        .isos
        .iter()
        .filter(|e| e.title.as_deref().is_some_and(|t| t == name))
        .map(|e| e.path.as_str())
        .collect();
    for found in [by_file, by_title] {
        match found.as_slice() {
            [] => {}
            [one] => return Ok(one.to_string()),
            many => {
                return Err(OpError::Ambiguous {
                    name: name.to_string(),
                    candidates: many.iter().map(|s| s.to_string()).collect(),
                })
            }
        }
    }
    Err(OpError::NotFound {
        name: name.to_string(),
    })
}

/// `boot-next`: make `name` the one-shot choice of the next boot. Returns its path.
pub fn set_boot_next<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    name: &str,
) -> Result<String, OpError> {
    let mut index = store.index();
    let path = resolve(name, &index, &[])?;
    index.settings.boot_next = Some(path.clone());
    store.write(vol, index)?;
    Ok(path)
}

/// Clear a pending boot-next. Returns the path it named, if any.
pub fn clear_boot_next<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
) -> Result<Option<String>, OpError> {
    Ok(store.consume_boot_next(vol)?)
}

/// The index entry for `path`, if listed.
pub fn indexed<'a>(index: &'a Index, path: &str) -> Option<&'a IsoEntry> {
    index.find(path)
}

/// Mount the data partition of an opened stick.
pub fn open_volume(
    stick: &mut crate::layout::Stick,
) -> Result<Volume<&mut blockdev::FileDevice>, OpError> {
    let data = stick.layout().data;
    Volume::open(stick.device(), data.first_lba(), data.sectors())
        .map_err(fs_err("opening the exFAT data partition"))
}

/// Menu settings to change; `None` fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct MenuChange {
    /// New default: `Some(Some(name))` sets it, `Some(None)` clears it (first entry).
    pub default: Option<Option<String>>,
    /// New timeout.
    pub timeout: Option<bootshelf_index::Timeout>,
}

/// Change the menu's default entry and/or timeout in one new index generation. Returns
/// the settings written.
pub fn set_menu<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    change: &MenuChange,
) -> Result<bootshelf_index::Settings, OpError> {
    let mut index = store.index();
    if let Some(d) = &change.default {
        index.settings.default = match d {
            Some(name) => Some(resolve(name, &index, &[])?),
            None => None,
        };
    }
    if let Some(t) = change.timeout {
        index.settings.timeout = t;
    }
    let settings = index.settings.clone();
    store.write(vol, index)?;
    Ok(settings)
}
