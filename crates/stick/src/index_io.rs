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
        /// Bytes the ISOs of the batch up to this one need in all.
        batch_needed: u64,
    },
    /// Kernel options need the ISO's SHA-256 in the index (they are tied to it).
    NoHash {
        /// Path on the stick.
        path: String,
    },
    /// The name selects no single ISO (shelf's one naming rule, [`shelf::names`]).
    Name(shelf::names::NameError),
    /// The ISO named is on the stick but not in the index yet, and the change needs an
    /// index entry (a title, a menu setting).
    NotIndexed {
        /// Path on the stick.
        path: String,
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
    /// An index slot's name is taken by a folder or an oversized file; nothing was written.
    IndexSlotBlocked(LoadError),
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
            OpError::IndexSlotBlocked(e) => write!(f, "{e}; nothing was written"),
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
                batch_needed,
            } if batch_needed > free => write!(
                f,
                "not enough space on the stick: {name} needs {}{}, {} is free; nothing was \
                 written; remove ISOs (`bootshelf remove`) or use a larger stick",
                human(*needed),
                if batch_needed > needed {
                    format!(" ({} with the ISOs before it)", human(*batch_needed))
                } else {
                    String::new()
                },
                human(*free)
            ),
            OpError::StickFull {
                name,
                needed,
                largest_free_run,
                free,
                ..
            } => write!(
                f,
                "no free space in one piece for {name}: it needs {} in one run (ISOs are stored \
                 contiguously to boot), the largest free run is {} of the {} free; nothing was \
                 written; remove the ISOs around a gap or use a larger stick",
                human(*needed),
                human(*largest_free_run),
                human(*free)
            ),
            OpError::NoHash { path } => write!(
                f,
                "{path} has no SHA-256 in the index, and kernel options are tied to it: \
                 run `bootshelf sync STICK --hash` first"
            ),
            OpError::Name(e) => write!(f, "{e}"),
            OpError::NotIndexed { path } => write!(
                f,
                "{path} is not in the index yet; run `bootshelf sync` on the stick first"
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

/// Each message above already includes its cause's text, so no `source()` is reported
/// (anyhow's `{:#}` would print the cause twice: "No such file or directory (os error 2):
/// No such file or directory (os error 2)").
impl std::error::Error for OpError {}

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
        match e {
            LoadError::Fs { path, source } => OpError::Fs {
                what: format!("reading {path}"),
                source,
            },
            blocked @ LoadError::SlotBlocked { .. } => OpError::IndexSlotBlocked(blocked),
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

/// The row of `listing` (the menu's entries in menu order, then indexed ISOs the menu
/// does not find) that `name` selects by shelf's one naming rule ([`shelf::names`]);
/// `indexed`: the ISO must have an index entry.
pub fn resolve<'a>(
    listing: &'a crate::list::Listing,
    name: &str,
    indexed: bool,
) -> Result<&'a crate::list::Row, OpError> {
    let named: Vec<shelf::names::Named<'_>> = listing
        .rows
        .iter()
        .map(|r| shelf::names::Named {
            title: &r.title,
            path: &r.path,
        })
        .collect();
    let i = shelf::names::find(name, &named).map_err(OpError::Name)?;
    // `named` has one item per row.
    let row = listing.rows.get(i).ok_or_else(|| {
        OpError::Name(shelf::names::NameError::NotFound {
            name: name.to_string(),
            did_you_mean: None,
        })
    })?;
    if indexed && !row.indexed {
        return Err(OpError::NotIndexed {
            path: row.path.clone(),
        });
    }
    Ok(row)
}

/// [`resolve`] on a fresh listing of the volume, to an indexed ISO's path.
pub fn resolve_indexed<D: BlockDevice>(vol: &mut Volume<D>, name: &str) -> Result<String, OpError> {
    let listing = crate::list::list(vol)?;
    Ok(resolve(&listing, name, true)?.path.clone())
}

/// `boot-next`: make `name` the one-shot choice of the next boot. Returns its path.
pub fn set_boot_next<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    name: &str,
) -> Result<String, OpError> {
    let path = resolve_indexed(vol, name)?;
    let mut index = store.index();
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
    let default = match &change.default {
        Some(Some(name)) => Some(Some(resolve_indexed(vol, name)?)),
        Some(None) => Some(None),
        None => None,
    };
    let mut index = store.index();
    if let Some(d) = default {
        index.settings.default = d;
    }
    if let Some(t) = change.timeout {
        index.settings.timeout = t;
    }
    let settings = index.settings.clone();
    store.write(vol, index)?;
    Ok(settings)
}

/// The longest menu title accepted, in characters (the menu cuts what its row cannot show;
/// this only keeps the index small).
pub const MAX_TITLE_CHARS: usize = 120;

/// Check a menu title a user chose: some visible text, no control characters, at most
/// [`MAX_TITLE_CHARS`] characters.
pub fn check_title(title: &str) -> Result<(), OpError> {
    let bad = |reason| {
        Err(OpError::BadName {
            name: title.to_string(),
            reason,
        })
    };
    if title.trim().is_empty() {
        return bad("a title needs some visible text");
    }
    if title.chars().any(char::is_control) {
        return bad("a title cannot hold control characters (tabs, line breaks, escapes)");
    }
    if title.chars().count() > MAX_TITLE_CHARS {
        return bad("a title has at most 120 characters");
    }
    Ok(())
}

/// What [`set_title`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// Path of the ISO on the stick.
    pub path: String,
    /// The title the menu showed before.
    pub old_title: String,
    /// The title the menu shows now.
    pub new_title: String,
}

/// `rename`: give the ISO `name` selects the menu title `title` (`None`: back to its file
/// name), in one new index generation. The ISO must be indexed.
pub fn set_title<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    name: &str,
    title: Option<&str>,
) -> Result<Renamed, OpError> {
    if let Some(t) = title {
        check_title(t)?;
    }
    let path = resolve_indexed(vol, name)?;
    let mut index = store.index();
    let Some(i) = index.position(&path) else {
        return Err(OpError::NotIndexed { path });
    };
    let Some(entry) = index.isos.get_mut(i) else {
        return Err(OpError::NotIndexed { path });
    };
    let old_title = entry.display_title().to_string();
    entry.title = title.map(str::to_string);
    let new_title = entry.display_title().to_string();
    store.write(vol, index)?;
    Ok(Renamed {
        path,
        old_title,
        new_title,
    })
}
