//! The one ISO scan policy: which files on the data volume are ISOs the menu lists, in
//! which order, and how far the walk goes. The loaders' menus, `bootshelf list`, `sync`,
//! `remove` and `check` all see the volume through [`isos`]; the leftovers of interrupted
//! `add --force` and `sync --defragment` runs are found by the same walk ([`files_ending`]).
//!
//! The walk is breadth-first from the root: each folder's ISOs, sorted by path ignoring
//! ASCII case, come before those of the folders found in it, which are visited in name
//! order ignoring ASCII case too (never in directory order, which depends on the order a
//! file manager happened to copy in). Skipped: folders whose name starts with `.` (hidden, `.Trashes`, ...),
//! `bootshelf` (the index), `System Volume Information` and `$RECYCLE.BIN` (what operating
//! systems keep on sticks), folders deeper than [`Limits::max_depth`], macOS `._*`
//! resource files, and empty files. The walk stops after [`Limits::max_dirs`] folders or
//! [`Limits::max_isos`] files, so a stick full of folders cannot stall a boot.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use blockdev::BlockDevice;
use exfat::{DirEntry, Volume};

/// Bounds on the scan and on the index read, so a stick full of folders cannot stall the
/// boot. The defaults are what the loaders and the CLI use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Folder depth scanned: 0 = only the root folder.
    pub max_depth: usize,
    /// Folders read at most.
    pub max_dirs: usize,
    /// ISO files listed at most.
    pub max_isos: usize,
    /// Largest index slot file read.
    pub max_index_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 3,
            max_dirs: 512,
            max_isos: 4096,
            max_index_bytes: 16 << 20,
        }
    }
}

/// Folders never scanned: bootshelf's own, hidden ones, and what operating systems keep
/// on sticks.
pub fn skip_dir(name: &str) -> bool {
    name.starts_with('.')
        || name.eq_ignore_ascii_case("bootshelf")
        || name.eq_ignore_ascii_case("System Volume Information")
        || name.eq_ignore_ascii_case("$RECYCLE.BIN")
}

/// Whether a file name is an ISO's: `*.iso` in any case, not a macOS `._` resource file.
pub fn is_iso_name(name: &str) -> bool {
    let n = name.len();
    n > 4
        && !name.starts_with("._")
        && name
            .get(n - 4..)
            .is_some_and(|ext| ext.eq_ignore_ascii_case(".iso"))
}

/// Whether a directory entry is an ISO the menu lists: an ISO name and not empty.
pub fn is_listed_iso(de: &DirEntry) -> bool {
    !de.is_dir && de.size > 0 && is_iso_name(&de.name)
}

/// Join a folder path and a name.
pub fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Why the scan never looks at a path's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreached {
    /// A folder on the way is one the scan skips.
    SkippedFolder(String),
    /// The file lies deeper than [`Limits::max_depth`] folders.
    TooDeep {
        /// Folders above the file.
        depth: usize,
        /// The deepest scanned.
        max: usize,
    },
}

impl fmt::Display for Unreached {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreached::SkippedFolder(name) => {
                write!(f, "the menu never scans the folder {name:?}")
            }
            Unreached::TooDeep { depth, max } => write!(
                f,
                "it is {depth} folders deep; the menu scans {max} folders deep at most"
            ),
        }
    }
}

/// Whether the scan reaches the folder holding `path` (an absolute path of a file on the
/// volume). Says nothing of the file's own name or of the walk's counts.
pub fn reaches(limits: &Limits, path: &str) -> Result<(), Unreached> {
    let mut folders: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    folders.pop();
    if let Some(name) = folders.iter().find(|n| skip_dir(n)) {
        return Err(Unreached::SkippedFolder(String::from(*name)));
    }
    if folders.len() > limits.max_depth {
        return Err(Unreached::TooDeep {
            depth: folders.len(),
            max: limits.max_depth,
        });
    }
    Ok(())
}

/// Why a walk stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// [`Limits::max_dirs`] folders were read.
    Folders(usize),
    /// [`Limits::max_isos`] files were found.
    Files(usize),
}

/// What a walk found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// The files, with their absolute paths, in scan order.
    pub files: Vec<(String, DirEntry)>,
    /// Subfolders that could not be read (the root's failure fails the walk).
    pub unreadable: Vec<(String, exfat::Error)>,
    /// Set when a limit stopped the walk.
    pub stopped: Option<Stopped>,
}

impl Scan {
    /// Whether every folder within the limits was read.
    pub fn complete(&self) -> bool {
        self.unreadable.is_empty() && self.stopped.is_none()
    }

    /// One line per thing worth telling the user: unreadable folders, then a limit.
    pub fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self
            .unreadable
            .iter()
            .map(|(dir, e)| format!("{dir}: {e}"))
            .collect();
        match self.stopped {
            Some(Stopped::Folders(n)) => notes.push(format!("scan stopped after {n} folders")),
            Some(Stopped::Files(n)) => {
                notes.push(format!("only the first {n} ISO files are listed"))
            }
            None => {}
        }
        notes
    }
}

/// Every ISO the menu lists, in menu scan order.
pub fn isos<D: BlockDevice>(vol: &mut Volume<D>, limits: &Limits) -> Result<Scan, exfat::Error> {
    walk(vol, limits, is_listed_iso)
}

/// Every file whose name ends in `suffix` (exactly), in the folders the scan reaches:
/// the temporary copies `add` and `sync --defragment` leave next to an ISO.
pub fn files_ending<D: BlockDevice>(
    vol: &mut Volume<D>,
    limits: &Limits,
    suffix: &str,
) -> Result<Scan, exfat::Error> {
    walk(vol, limits, |de| !de.is_dir && de.name.ends_with(suffix))
}

/// The walk: breadth-first, skip rules and limits as the module says; `keep` picks the
/// files. Only the root folder's failure is an error.
fn walk<D: BlockDevice>(
    vol: &mut Volume<D>,
    limits: &Limits,
    keep: impl Fn(&DirEntry) -> bool,
) -> Result<Scan, exfat::Error> {
    let mut scan = Scan::default();
    let mut queue: Vec<(String, usize)> = vec![(String::from("/"), 0)];
    let mut next = 0usize;
    while let Some((dir, depth)) = queue.get(next).cloned() {
        if next == limits.max_dirs {
            scan.stopped = Some(Stopped::Folders(limits.max_dirs));
            break;
        }
        next += 1;
        let list = match vol.read_dir(&dir) {
            Ok(l) => l,
            Err(e) if depth == 0 => return Err(e),
            Err(e) => {
                scan.unreadable.push((dir, e));
                continue;
            }
        };
        let mut here: Vec<(String, DirEntry)> = Vec::new();
        let mut folders: Vec<String> = Vec::new();
        for de in list {
            let path = join(&dir, &de.name);
            if de.is_dir {
                if depth < limits.max_depth && !skip_dir(&de.name) {
                    folders.push(path);
                }
            } else if keep(&de) {
                here.push((path, de));
            }
        }
        folders.sort_by_key(|p| p.to_ascii_lowercase());
        queue.extend(folders.into_iter().map(|p| (p, depth + 1)));
        here.sort_by_key(|(p, _)| p.to_ascii_lowercase());
        for f in here {
            if scan.files.len() == limits.max_isos {
                scan.stopped = Some(Stopped::Files(limits.max_isos));
                return Ok(scan);
            }
            scan.files.push(f);
        }
    }
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volume() -> Volume<blockdev::MemDevice> {
        crate::test_support::volume(16384)
    }

    fn paths(scan: &Scan) -> Vec<&str> {
        scan.files.iter().map(|(p, _)| p.as_str()).collect()
    }

    #[test]
    fn names() {
        assert!(is_iso_name("a.ISO") && is_iso_name("debian-12.iso") && is_iso_name("x.IsO"));
        assert!(!is_iso_name(".iso") && !is_iso_name("._x.iso") && !is_iso_name("x.img"));
        assert!(!is_iso_name("é.is"));
        assert!(skip_dir("bootshelf") && skip_dir(".Trashes") && skip_dir("$Recycle.Bin"));
        assert!(skip_dir("system volume information") && !skip_dir("linux"));
    }

    /// What a file manager leaves on a stick: only the ISOs the menu should list are
    /// found, each folder's sorted ignoring case, shallower folders first.
    #[test]
    fn the_scan_policy() {
        let mut vol = volume();
        for d in [
            "/b",
            "/.hidden",
            "/$RECYCLE.BIN",
            "/bootshelf",
            "/System Volume Information",
            "/a",
            "/a/b",
            "/a/b/c",
            "/a/b/c/d",
        ] {
            vol.mkdir(d).unwrap();
        }
        let iso = b"not empty";
        for f in [
            "/Zeta.iso",
            "/alpha.ISO",
            "/Beta.iso",
            "/._alpha.iso",
            "/notes.txt",
            "/.hidden/x.iso",
            "/$RECYCLE.BIN/x.iso",
            "/bootshelf/x.iso",
            "/System Volume Information/x.iso",
            "/b/in-b.iso",
            "/a/in-a.Iso",
            "/a/b/c/depth-3.iso",
            "/a/b/c/d/depth-4.iso",
            "/a/add.iso.bootshelf-partial",
        ] {
            vol.write_file(f, iso).unwrap();
        }
        vol.write_file("/empty.iso", b"").unwrap();
        let limits = Limits::default();
        let scan = isos(&mut vol, &limits).unwrap();
        assert!(scan.complete(), "{:?}", scan.notes());
        // /b was created before /a: folders are visited in name order all the same.
        assert_eq!(
            paths(&scan),
            [
                "/alpha.ISO",
                "/Beta.iso",
                "/Zeta.iso",
                "/a/in-a.Iso",
                "/b/in-b.iso",
                "/a/b/c/depth-3.iso"
            ]
        );
        let left = files_ending(&mut vol, &limits, ".bootshelf-partial").unwrap();
        assert_eq!(paths(&left), ["/a/add.iso.bootshelf-partial"]);

        assert_eq!(reaches(&limits, "/a/b/c/depth-3.iso"), Ok(()));
        assert_eq!(
            reaches(&limits, "/a/b/c/d/depth-4.iso"),
            Err(Unreached::TooDeep { depth: 4, max: 3 })
        );
        assert_eq!(
            reaches(&limits, "/$RECYCLE.BIN/x.iso"),
            Err(Unreached::SkippedFolder("$RECYCLE.BIN".into()))
        );
        assert_eq!(reaches(&limits, "/x.iso"), Ok(()));
    }

    #[test]
    fn limits_stop_the_walk_and_say_so() {
        let mut vol = volume();
        for d in ["/d1", "/d2", "/d3"] {
            vol.mkdir(d).unwrap();
        }
        for f in ["/d1/a.iso", "/d2/b.iso", "/d3/c.iso", "/r1.iso", "/r2.iso"] {
            vol.write_file(f, b"x").unwrap();
        }
        let few_dirs = Limits {
            max_dirs: 2,
            ..Limits::default()
        };
        let scan = isos(&mut vol, &few_dirs).unwrap();
        assert_eq!(paths(&scan), ["/r1.iso", "/r2.iso", "/d1/a.iso"]);
        assert_eq!(scan.stopped, Some(Stopped::Folders(2)));
        assert_eq!(scan.notes(), ["scan stopped after 2 folders"]);
        let few_isos = Limits {
            max_isos: 3,
            ..Limits::default()
        };
        let scan = isos(&mut vol, &few_isos).unwrap();
        assert_eq!(paths(&scan), ["/r1.iso", "/r2.iso", "/d1/a.iso"]);
        assert_eq!(scan.notes(), ["only the first 3 ISO files are listed"]);
        let root_only = Limits {
            max_depth: 0,
            ..Limits::default()
        };
        assert_eq!(
            paths(&isos(&mut vol, &root_only).unwrap()),
            ["/r1.iso", "/r2.iso"]
        );
    }
}
