//! `bootshelf persistence`: a persistence file for a live ISO (docs/persistence.md). One
//! contiguous file on the exFAT data partition under [`PERSISTENCE_DIR`], holding an ext4
//! file system laid out for the ISO's family (Debian live-boot, Ubuntu casper, dracut
//! live), linked from the ISO's index record ([`bootshelf_index::Persistence`]) so that the
//! loaders expose it as the writable persistence window when they boot that ISO.
//!
//! The ext4 is made by `mkfs.ext4 -d` (e2fsprogs) into a sparse temporary image on the
//! host, then copied into the reserved run. Order of writes (crash safety, as `add`):
//! every check and the image first (nothing written) -> the folder -> reserve -> copy ->
//! flush -> commit the directory entry -> flush -> index generation `g+1` with the link.
//! Removal: index without the link -> flush -> delete the file. A crash leaves at most a
//! complete file no ISO links to, which `check` reports and `persistence --remove-orphans`
//! deletes.

use crate::copy::copy_and_hash;
use crate::index_io::{dev_err, fs_err, human, resolve, IndexStore, OpError};
use blockdev::{BlockDevice, BlockReader, Extent, ExtentReader};
use bootshelf_index::{Persistence, PersistenceFamily};
use exfat::Volume;
use std::path::Path;
use std::process::Command;

pub use bootshelf_index::PersistenceFamily as Family;

/// Folder on the data partition that holds the persistence files.
pub const PERSISTENCE_DIR: &str = "/bootshelf/persistence";
/// The smallest persistence file: room for ext4's metadata, a journal and some changes.
pub const MIN_SIZE: u64 = 16 << 20;
/// Suffix of a persistence file's name.
pub const SUFFIX: &str = ".ext4";

/// Why a persistence command refused or failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum PersistenceError {
    /// An ISO command error (resolving the name, the file system, the device, the index).
    Op(OpError),
    /// The ISO is not in the index (the link lives in its index record).
    NotIndexed {
        /// Its path.
        path: String,
    },
    /// The ISO already has a persistence file.
    AlreadyHas {
        /// The ISO.
        iso: String,
        /// Its persistence file.
        file: String,
    },
    /// The ISO has no persistence file.
    NoneThere {
        /// The ISO.
        iso: String,
    },
    /// None of the families was recognised in the ISO.
    UnknownFamily {
        /// The ISO.
        iso: String,
        /// What reading it found (hints, or why it could not be read).
        found: String,
    },
    /// `--size` is below [`MIN_SIZE`].
    TooSmall {
        /// The size asked for.
        size: u64,
    },
    /// The file does not fit in one contiguous free run.
    NoRoom {
        /// Bytes needed (whole clusters, and the folder when it must be made).
        needed: u64,
        /// The largest free contiguous run.
        largest_free_run: u64,
    },
    /// `mkfs.ext4` is missing or failed.
    Mkfs {
        /// What went wrong, with mkfs' own words.
        reason: String,
    },
}

impl std::fmt::Display for PersistenceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PersistenceError::Op(e) => write!(f, "{e}"),
            PersistenceError::NotIndexed { path } => write!(
                f,
                "{path} is not in the index; run `bootshelf sync` first. Nothing was written"
            ),
            PersistenceError::AlreadyHas { iso, file } => write!(
                f,
                "{iso} already has a persistence file ({file}); remove it first with \
                 `bootshelf persistence STICK NAME --remove`. Nothing was written"
            ),
            PersistenceError::NoneThere { iso } => {
                write!(f, "{iso} has no persistence file. Nothing was written")
            }
            PersistenceError::UnknownFamily { iso, found } => write!(
                f,
                "cannot tell which live system {iso} is ({found}): bootshelf knows Debian \
                 live-boot (/live), Ubuntu casper (/casper) and dracut live (/LiveOS); \
                 give --family live-boot|casper|dracut if you know better. Nothing was written"
            ),
            PersistenceError::TooSmall { size } => write!(
                f,
                "--size {} is too small: a persistence file needs at least {}. Nothing was written",
                human(*size),
                human(MIN_SIZE)
            ),
            PersistenceError::NoRoom {
                needed,
                largest_free_run,
            } => write!(
                f,
                "the persistence file needs {} in one piece but the largest free run on the \
                 stick is {}; choose a smaller --size or free space (`bootshelf sync \
                 --defragment` joins free space). Nothing was written",
                human(*needed),
                human(*largest_free_run)
            ),
            PersistenceError::Mkfs { reason } => write!(
                f,
                "making the ext4 file system failed: {reason}. Nothing was written to the stick"
            ),
        }
    }
}

impl std::error::Error for PersistenceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Display shows the inner error already; its own source comes next.
            PersistenceError::Op(e) => std::error::Error::source(e),
            _ => None,
        }
    }
}

impl From<OpError> for PersistenceError {
    fn from(e: OpError) -> Self {
        PersistenceError::Op(e)
    }
}

impl From<shelf::store::WriteError> for PersistenceError {
    fn from(e: shelf::store::WriteError) -> Self {
        PersistenceError::Op(e.into())
    }
}

type Result<T> = std::result::Result<T, PersistenceError>;

/// One ISO's persistence file, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The ISO.
    pub iso: String,
    /// The link from its index record.
    pub link: Persistence,
    /// Whether the file is on the stick where the link says (size and first byte).
    pub present: bool,
}

/// The path of the ISO `name` selects by the one naming rule ([`shelf::names`]), indexed
/// or not.
fn iso_named<D: BlockDevice>(vol: &mut Volume<D>, name: &str) -> Result<String> {
    let listing = crate::list::list(vol)?;
    Ok(resolve(&listing, name, false)?.path.clone())
}

/// Every ISO's persistence file, in index order; `only` limits it to one ISO name.
pub fn list<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &IndexStore,
    only: Option<&str>,
) -> Result<Vec<Listed>> {
    let index = store.index();
    let only = match only {
        Some(n) => Some(iso_named(vol, n)?),
        None => None,
    };
    let mut out = Vec::new();
    for e in &index.isos {
        if only
            .as_deref()
            .is_some_and(|p| !p.eq_ignore_ascii_case(&e.path))
        {
            continue;
        }
        if let Some(link) = &e.extensions.persistence {
            out.push(Listed {
                iso: e.path.clone(),
                link: link.clone(),
                present: on_volume(vol, link),
            });
        }
    }
    Ok(out)
}

/// Whether the file `link` names is on the volume as one run at the linked place.
pub fn on_volume<D: BlockDevice>(vol: &mut Volume<D>, link: &Persistence) -> bool {
    shelf::discovery::persistence_extents(vol, link).is_some()
}

/// Which family an ISO on the stick belongs to, from its hints (`/casper`, `/live`,
/// `/LiveOS`); `None` with what was found otherwise.
pub fn detect_family<D: BlockDevice>(
    vol: &mut Volume<D>,
    extents: &[Extent],
    size: u64,
) -> std::result::Result<PersistenceFamily, String> {
    let reader = BlockReader::new(vol.device());
    let r = ExtentReader::new(reader, extents, size).map_err(|e| e.to_string())?;
    let mut iso = iso9660::Iso::open(r).map_err(|e| e.to_string())?;
    let hints = iso.hints().map_err(|e| e.to_string())?;
    for (hint, family) in [
        ("casper", PersistenceFamily::Casper),
        ("debian-live", PersistenceFamily::LiveBoot),
        ("fedora-liveos", PersistenceFamily::Dracut),
    ] {
        if hints.contains(hint) {
            return Ok(family);
        }
    }
    let names: Vec<&str> = hints.iter().map(|h| h.name).collect();
    Err(if names.is_empty() {
        "no hints found".into()
    } else {
        format!("its hints: {}", names.join(", "))
    })
}

/// What `create` was asked.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Bytes of the file (rounded up to whole clusters on the stick).
    pub size: u64,
    /// The family, instead of detecting it.
    pub family: Option<PersistenceFamily>,
}

/// What `create` made.
#[derive(Debug, Clone)]
pub struct Created {
    /// The ISO.
    pub iso: String,
    /// The link stored in its index record.
    pub link: Persistence,
    /// The family was detected (not given).
    pub detected: bool,
    /// The index generation written.
    pub generation: u64,
}

/// Everything `create` checks before it writes: the ISO, its family, the size, the room.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The ISO.
    pub iso: String,
    /// Where the file goes.
    pub path: String,
    /// Its family.
    pub family: PersistenceFamily,
    /// Whether the family was detected.
    pub detected: bool,
    /// Bytes of the file.
    pub size: u64,
}

/// Check everything and choose the file's name; writes nothing.
pub fn plan<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &IndexStore,
    name: &str,
    opts: &CreateOptions,
) -> Result<Plan> {
    let index = store.index();
    let iso_path = iso_named(vol, name)?;
    let Some(entry) = index.find(&iso_path) else {
        return Err(PersistenceError::NotIndexed { path: iso_path });
    };
    if let Some(p) = &entry.extensions.persistence {
        return Err(PersistenceError::AlreadyHas {
            iso: iso_path,
            file: p.path.clone(),
        });
    }
    let (family, detected) = match opts.family {
        Some(f) => (f, false),
        None => match detect_family(vol, &entry.extents, entry.size) {
            Ok(f) => (f, true),
            Err(found) => {
                return Err(PersistenceError::UnknownFamily {
                    iso: iso_path,
                    found,
                })
            }
        },
    };
    if opts.size < MIN_SIZE {
        return Err(PersistenceError::TooSmall { size: opts.size });
    }
    // Whole 1 MiB units: ext4 and the window want whole sectors, people think in MiB.
    let size = opts.size.div_ceil(1 << 20) << 20;
    let cluster = u64::from(vol.cluster_size()).max(1);
    let dir_missing = !matches!(vol.stat(PERSISTENCE_DIR), Ok(d) if d.is_dir);
    let needed = size.div_ceil(cluster) * cluster + if dir_missing { cluster } else { 0 };
    let largest = vol
        .largest_free_run()
        .map_err(fs_err("reading the allocation bitmap"))?;
    if needed > largest {
        return Err(PersistenceError::NoRoom {
            needed,
            largest_free_run: largest,
        });
    }
    let path = free_name(vol, &index, &iso_path);
    Ok(Plan {
        iso: iso_path,
        path,
        family,
        detected,
        size,
    })
}

/// `/bootshelf/persistence/<ISO file name without .iso>.ext4`, numbered when taken.
fn free_name<D: BlockDevice>(
    vol: &mut Volume<D>,
    index: &bootshelf_index::Index,
    iso: &str,
) -> String {
    let file = iso.rsplit('/').next().unwrap_or(iso);
    let stem = file
        .len()
        .checked_sub(4)
        .filter(|&n| {
            file.get(n..)
                .is_some_and(|s| s.eq_ignore_ascii_case(".iso"))
        })
        .and_then(|n| file.get(..n))
        .unwrap_or(file);
    let taken = |p: &str, vol: &mut Volume<D>| {
        vol.stat(p).is_ok()
            || index.isos.iter().any(|e| {
                e.extensions
                    .persistence
                    .as_ref()
                    .is_some_and(|l| l.path.eq_ignore_ascii_case(p))
            })
    };
    let mut n = 1;
    loop {
        let p = if n == 1 {
            format!("{PERSISTENCE_DIR}/{stem}{SUFFIX}")
        } else {
            format!("{PERSISTENCE_DIR}/{stem}-{n}{SUFFIX}")
        };
        if !taken(&p, vol) {
            return p;
        }
        n += 1;
    }
}

/// Make the ext4 image for `family` in a sparse temporary file of `size` bytes with
/// `mkfs.ext4 -d` (docs/persistence.md says why).
pub fn make_image(family: PersistenceFamily, size: u64) -> Result<tempfile::NamedTempFile> {
    let mkfs_err = |reason: String| PersistenceError::Mkfs { reason };
    let staging = tempfile::tempdir().map_err(|e| mkfs_err(format!("temporary folder: {e}")))?;
    match family {
        PersistenceFamily::LiveBoot => {
            std::fs::write(staging.path().join("persistence.conf"), "/ union\n")
                .map_err(|e| mkfs_err(format!("writing persistence.conf: {e}")))?;
        }
        PersistenceFamily::Casper => {}
        PersistenceFamily::Dracut => {
            for d in ["LiveOS/overlay", "LiveOS/ovlwork"] {
                std::fs::create_dir_all(staging.path().join(d))
                    .map_err(|e| mkfs_err(format!("making {d}: {e}")))?;
            }
        }
    }
    let image =
        tempfile::NamedTempFile::new().map_err(|e| mkfs_err(format!("temporary image: {e}")))?;
    image
        .as_file()
        .set_len(size)
        .map_err(|e| mkfs_err(format!("sizing the temporary image: {e}")))?;
    run_mkfs(family, staging.path(), image.path(), size)?;
    Ok(image)
}

fn run_mkfs(family: PersistenceFamily, staging: &Path, image: &Path, size: u64) -> Result<()> {
    let out = Command::new("mkfs.ext4")
        .arg("-q")
        .arg("-F")
        .args(["-L", family.label()])
        .args(["-t", "ext4"])
        // Inode tables and the journal are written in full, so the file system does not
        // depend on what the stick held before (the copy writes every byte anyway).
        .args([
            "-E",
            "lazy_itable_init=0,lazy_journal_init=0,nodiscard,root_owner=0:0",
        ])
        .arg("-d")
        .arg(staging)
        .arg(image)
        .arg(format!("{}k", size / 1024))
        .env("PATH", mkfs_path())
        .output()
        .map_err(|e| PersistenceError::Mkfs {
            reason: format!("running mkfs.ext4: {e}; install e2fsprogs (apt install e2fsprogs)"),
        })?;
    if !out.status.success() {
        return Err(PersistenceError::Mkfs {
            reason: format!(
                "mkfs.ext4 said: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(())
}

/// PATH with the sbin folders, where e2fsprogs lives on Debian.
fn mkfs_path() -> String {
    let base = std::env::var("PATH").unwrap_or_default();
    format!("{base}:/usr/sbin:/sbin")
}

/// Make the persistence file `plan` describes and link it from the ISO's index record.
pub fn create<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    plan: &Plan,
    progress: &mut dyn FnMut(u64),
) -> Result<Created> {
    let image = make_image(plan.family, plan.size)?;
    // First writes: the folder, then the file's run.
    vol.mkdir(PERSISTENCE_DIR)
        .map_err(fs_err(format!("making {PERSISTENCE_DIR}")))?;
    let pending = vol
        .reserve_contiguous(&plan.path, plan.size)
        .map_err(|source| match source {
            exfat::Error::NoSpace {
                needed,
                largest_free_run,
            } => PersistenceError::NoRoom {
                needed,
                largest_free_run,
            },
            source => PersistenceError::Op(OpError::Fs {
                what: format!("reserving {} for {}", human(plan.size), plan.path),
                source,
            }),
        })?;
    let extent = pending.extent();
    let ss = u64::from(vol.device().sector_size());
    let dest = Extent {
        start: extent.start,
        len: extent.len.div_ceil(ss) * ss,
    };
    // Bytes written so far (`progress` takes a position).
    let mut done = 0u64;
    copy_and_hash(
        image.as_file(),
        plan.size,
        vol.device(),
        dest,
        None,
        None,
        &mut |p| {
            if let crate::copy::Progress::Bytes(n) = p {
                done += n;
                progress(done);
            }
        },
    )
    .map_err(|source| OpError::Copy {
        what: format!(
            "writing the ext4 file system to {} and flushing it",
            plan.path
        ),
        source,
    })?;
    let extents = crate::add::commit_in_place(vol, pending, &plan.path)?;
    let start = extents.first().map_or(extent.start, |e| e.start);
    let link = Persistence {
        family: plan.family,
        path: plan.path.clone(),
        start,
        size: plan.size,
    };
    let mut index = store.index();
    let Some(pos) = index.position(&plan.iso) else {
        return Err(PersistenceError::NotIndexed {
            path: plan.iso.clone(),
        });
    };
    if let Some(e) = index.isos.get_mut(pos) {
        e.extensions.persistence = Some(link.clone());
    }
    let generation = store.write(vol, index)?;
    Ok(Created {
        iso: plan.iso.clone(),
        link,
        detected: plan.detected,
        generation,
    })
}

/// What `remove` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The ISO.
    pub iso: String,
    /// The file.
    pub path: String,
    /// Whether the file was there to delete.
    pub file_deleted: bool,
}

/// The persistence link of the ISO `name` (resolved as the ISO commands do).
pub fn link_of<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &IndexStore,
    name: &str,
) -> Result<(String, Option<Persistence>)> {
    let index = store.index();
    let iso = iso_named(vol, name)?;
    let link = index
        .find(&iso)
        .and_then(|e| e.extensions.persistence.clone());
    Ok((iso, link))
}

/// Unlink and delete the persistence file of the ISO at `iso` (a resolved path): index
/// first, then the file.
pub fn remove<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &mut IndexStore,
    iso: &str,
) -> Result<Removed> {
    let mut index = store.index();
    let link = index
        .position(iso)
        .and_then(|i| index.isos.get_mut(i))
        .and_then(|e| e.extensions.persistence.take());
    let Some(link) = link else {
        return Err(PersistenceError::NoneThere {
            iso: iso.to_string(),
        });
    };
    store.write(vol, index)?;
    let file_deleted = delete_file(vol, &link.path)?;
    Ok(Removed {
        iso: iso.to_string(),
        path: link.path,
        file_deleted,
    })
}

/// Delete a persistence file the index no longer links (after the index was written).
pub fn delete_file<D: BlockDevice>(vol: &mut Volume<D>, path: &str) -> Result<bool> {
    let deleted = match vol.delete(path) {
        Ok(()) => true,
        Err(exfat::Error::NotFound { .. }) => false,
        Err(source) => return Err(fs_err(format!("deleting {path}"))(source).into()),
    };
    vol.device()
        .flush()
        .map_err(dev_err(format!("flushing after deleting {path}")))?;
    Ok(deleted)
}

/// Files in [`PERSISTENCE_DIR`] that no index record links to (left by an interrupted
/// `persistence` or a removal that kept the file).
pub fn orphans<D: BlockDevice>(vol: &mut Volume<D>, store: &IndexStore) -> Result<Vec<String>> {
    let entries = match vol.read_dir(PERSISTENCE_DIR) {
        Ok(e) => e,
        Err(exfat::Error::NotFound { .. }) => return Ok(Vec::new()),
        Err(source) => return Err(fs_err(format!("reading {PERSISTENCE_DIR}"))(source).into()),
    };
    let index = store.index();
    Ok(entries
        .into_iter()
        .filter(|d| !d.is_dir)
        .map(|d| format!("{PERSISTENCE_DIR}/{}", d.name))
        .filter(|p| {
            !index.isos.iter().any(|e| {
                e.extensions
                    .persistence
                    .as_ref()
                    .is_some_and(|l| l.path.eq_ignore_ascii_case(p))
            })
        })
        .collect())
}
