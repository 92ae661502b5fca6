//! Directories: parsing and building file directory entry sets (file, stream extension
//! and file name entries with their checksum and name hash), scanning a directory's
//! clusters, case-insensitive lookup through the up-case table, and path resolution.

use crate::checksum::{entry_set_checksum, name_hash};
use crate::error::Error;
use crate::raw::{self, entry, file, le16, le32, le64, put16, put32, put64, stream};
use crate::time::{DateTime, UTC};
use crate::upcase::Upcase;
use crate::volume::{Run, Volume, MAX_DIR_BYTES};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use blockdev::BlockDevice;

/// A file or directory as listed by `read_dir` and `stat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The name as stored (case preserved).
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// DataLength in bytes.
    pub size: u64,
    /// FirstCluster (0 for an empty file).
    pub first_cluster: u32,
    /// NoFatChain: the data is one contiguous run of clusters.
    pub contiguous: bool,
    /// FileAttributes.
    pub attributes: u16,
    /// LastModifiedTimestamp (packed DOS date and time, see [`crate::DateTime::from_dos`]).
    pub modified: u32,
    /// ValidDataLength: bytes past it read as zeros.
    pub valid_size: u64,
}

/// A directory's clusters and where its own entry set is (None: the root).
pub(crate) struct Dir {
    pub clusters: Vec<u32>,
    pub owner: Option<Box<Located>>,
}

/// An entry set found in a directory.
pub(crate) struct Located {
    pub parent: Dir,
    pub set: FileSet,
}

/// What a path names.
pub(crate) enum Resolved {
    Root,
    Entry(Located),
}

/// One item of a directory scan.
pub(crate) enum Item<'a> {
    /// A complete, checksummed file entry set.
    File(&'a FileSet),
    /// An unused slot (deleted entry, or at or after the end-of-directory mark).
    Free(u32),
    /// Any other in-use entry (bitmap, up-case, label, GUID, vendor...).
    Other(u32, &'a [u8; 32]),
    /// A damaged entry set, skipped (lenient scans only).
    Bad(Error),
}

/// How a scan ended.
pub(crate) struct ScanEnd {
    /// Index of the end-of-directory entry (or the total when there is none).
    pub end: u32,
}

/// A parsed file directory entry set.
#[derive(Clone, Debug)]
pub(crate) struct FileSet {
    /// Index of the file entry in its directory.
    pub index: u32,
    /// The set as on disk.
    pub entries: Vec<[u8; 32]>,
    /// The name (UTF-16).
    pub name: Vec<u16>,
    pub attributes: u16,
    pub flags: u8,
    pub first_cluster: u32,
    pub size: u64,
    pub valid_size: u64,
    pub modified: u32,
    pub hash: u16,
    /// Device byte offset of the file entry (for errors).
    pub at: u64,
}

impl FileSet {
    fn parse(index: u32, entries: Vec<[u8; 32]>, at: u64) -> Result<FileSet, Error> {
        let count = entries.len();
        let (Some(e0), Some(st)) = (entries.first(), entries.get(1)) else {
            return Err(Error::Corrupt {
                what: "file entry SecondaryCount",
                offset: at,
                value: count as u64,
            });
        };
        if st[0] != entry::STREAM_EXTENSION {
            return Err(Error::Corrupt {
                what: "entry set: stream extension entry type",
                offset: at + 32,
                value: u64::from(st[0]),
            });
        }
        let nl = usize::from(st[stream::NAME_LENGTH]);
        let k = nl.div_ceil(entry::NAME_CHARS_PER_ENTRY);
        if nl == 0 || 2 + k > count {
            return Err(Error::Corrupt {
                what: "stream extension NameLength (zero or more than the set holds)",
                offset: at + 32 + stream::NAME_LENGTH as u64,
                value: nl as u64,
            });
        }
        let mut name = Vec::with_capacity(nl);
        for (j, e) in entries[2..2 + k].iter().enumerate() {
            if e[0] != entry::FILE_NAME {
                return Err(Error::Corrupt {
                    what: "entry set: file name entry type",
                    offset: at + 32 * (2 + j as u64),
                    value: u64::from(e[0]),
                });
            }
            for u in 0..entry::NAME_CHARS_PER_ENTRY {
                if name.len() < nl {
                    name.push(le16(e, 2 + 2 * u));
                }
            }
        }
        let stored = le16(e0, file::SET_CHECKSUM);
        let computed = entry_set_checksum(&entries);
        if stored != computed {
            return Err(Error::BadChecksum {
                what: "directory entry set",
                offset: at + file::SET_CHECKSUM as u64,
                stored: u32::from(stored),
                computed: u32::from(computed),
            });
        }
        let flags = st[stream::FLAGS];
        let size = le64(st, stream::DATA_LENGTH);
        let mut first_cluster = le32(st, stream::FIRST_CLUSTER);
        if flags & stream::ALLOCATION_POSSIBLE == 0 {
            if size != 0 {
                return Err(Error::Corrupt {
                    what: "stream extension DataLength without AllocationPossible",
                    offset: at + 32 + stream::DATA_LENGTH as u64,
                    value: size,
                });
            }
            first_cluster = 0;
        }
        Ok(FileSet {
            index,
            attributes: le16(e0, file::FILE_ATTRIBUTES),
            modified: le32(e0, file::LAST_MODIFIED_TIMESTAMP),
            flags,
            first_cluster,
            size,
            valid_size: le64(st, stream::VALID_DATA_LENGTH),
            hash: le16(st, stream::NAME_HASH),
            entries,
            name,
            at,
        })
    }

    pub fn is_dir(&self) -> bool {
        self.attributes & file::ATTR_DIRECTORY != 0
    }

    pub fn contiguous(&self) -> bool {
        self.flags & stream::NO_FAT_CHAIN != 0
    }

    pub fn to_dir_entry(&self) -> DirEntry {
        DirEntry {
            name: char::decode_utf16(self.name.iter().copied())
                .map(|c| c.unwrap_or('\u{FFFD}'))
                .collect(),
            is_dir: self.is_dir(),
            size: self.size,
            first_cluster: self.first_cluster,
            contiguous: self.contiguous(),
            attributes: self.attributes,
            modified: self.modified,
            valid_size: self.valid_size,
        }
    }
}

/// What a new entry set describes.
pub(crate) struct NewSet<'a> {
    pub name: &'a [u16],
    pub attributes: u16,
    pub flags: u8,
    pub first_cluster: u32,
    pub size: u64,
    pub created: DateTime,
    pub modified: DateTime,
}

/// Build a file entry set (file, stream extension, name entries) with its checksum.
pub(crate) fn build_set(s: &NewSet, upcase: &Upcase) -> Vec<[u8; 32]> {
    let k = s.name.len().div_ceil(entry::NAME_CHARS_PER_ENTRY);
    let mut v = vec![[0u8; 32]; 2 + k];
    {
        let e = &mut v[0];
        e[0] = entry::FILE;
        e[file::SECONDARY_COUNT] = (1 + k) as u8;
        put16(e, file::FILE_ATTRIBUTES, s.attributes);
        put32(e, file::CREATE_TIMESTAMP, s.created.to_dos());
        put32(e, file::LAST_MODIFIED_TIMESTAMP, s.modified.to_dos());
        put32(e, file::LAST_ACCESSED_TIMESTAMP, s.modified.to_dos());
        e[file::CREATE_10MS] = s.created.increment_10ms();
        e[file::LAST_MODIFIED_10MS] = s.modified.increment_10ms();
        e[file::CREATE_UTC_OFFSET] = UTC;
        e[file::LAST_MODIFIED_UTC_OFFSET] = UTC;
        e[file::LAST_ACCESSED_UTC_OFFSET] = UTC;
    }
    {
        let e = &mut v[1];
        e[0] = entry::STREAM_EXTENSION;
        e[stream::FLAGS] = s.flags;
        e[stream::NAME_LENGTH] = s.name.len() as u8;
        put16(e, stream::NAME_HASH, name_hash(&upcase.up_name(s.name)));
        put64(e, stream::VALID_DATA_LENGTH, s.size);
        put32(e, stream::FIRST_CLUSTER, s.first_cluster);
        put64(e, stream::DATA_LENGTH, s.size);
    }
    for (j, chunk) in s.name.chunks(entry::NAME_CHARS_PER_ENTRY).enumerate() {
        let e = &mut v[2 + j];
        e[0] = entry::FILE_NAME;
        for (u, &c) in chunk.iter().enumerate() {
            put16(e, 2 + 2 * u, c);
        }
    }
    fix_checksum(&mut v);
    v
}

/// Recompute and store the SetChecksum of a set.
pub(crate) fn fix_checksum(v: &mut [[u8; 32]]) {
    let sum = entry_set_checksum(v);
    if let Some(e) = v.first_mut() {
        put16(e, file::SET_CHECKSUM, sum);
    }
}

/// Replace the name of an existing set (keeping times, attributes and allocation).
pub(crate) fn rename_set(old: &[[u8; 32]], name: &[u16], upcase: &Upcase) -> Vec<[u8; 32]> {
    let k = name.len().div_ceil(entry::NAME_CHARS_PER_ENTRY);
    let mut v = vec![[0u8; 32]; 2 + k];
    if let (Some(e0), Some(st)) = (old.first(), old.get(1)) {
        v[0] = *e0;
        v[1] = *st;
    }
    v[0][file::SECONDARY_COUNT] = (1 + k) as u8;
    v[1][stream::NAME_LENGTH] = name.len() as u8;
    put16(
        &mut v[1],
        stream::NAME_HASH,
        name_hash(&upcase.up_name(name)),
    );
    for (j, chunk) in name.chunks(entry::NAME_CHARS_PER_ENTRY).enumerate() {
        let e = &mut v[2 + j];
        e[0] = entry::FILE_NAME;
        for (u, &c) in chunk.iter().enumerate() {
            put16(e, 2 + 2 * u, c);
        }
    }
    fix_checksum(&mut v);
    v
}

/// Adjacent clusters merged into runs.
pub(crate) fn runs_of(clusters: &[u32]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for &c in clusters {
        match runs.last_mut() {
            Some(r) if r.start + r.len == c => r.len += 1,
            _ => runs.push(Run { start: c, len: 1 }),
        }
    }
    runs
}

/// The components of "/a/b" (empty components ignored).
pub(crate) fn split_path(path: &str) -> Vec<&str> {
    path.split('/').filter(|c| !c.is_empty()).collect()
}

/// A name exFAT can store, as UTF-16.
pub(crate) fn validate_name(name: &str) -> Result<Vec<u16>, Error> {
    let units: Vec<u16> = name.encode_utf16().collect();
    let bad = |reason| Error::InvalidName {
        name: name.into(),
        reason,
    };
    if units.is_empty() {
        return Err(bad("empty name"));
    }
    if units.len() > entry::MAX_NAME {
        return Err(bad("longer than 255 UTF-16 units"));
    }
    if name == "." || name == ".." {
        return Err(bad("\".\" and \"..\" are reserved"));
    }
    if units.iter().any(|&u| {
        u < 0x20
            || matches!(
                u,
                0x22 | 0x2A | 0x2F | 0x3A | 0x3C | 0x3E | 0x3F | 0x5C | 0x7C
            )
    }) {
        return Err(bad(
            "control characters and \" * / : < > ? \\ | are not allowed",
        ));
    }
    Ok(units)
}

impl<D: BlockDevice> Volume<D> {
    /// Partition byte offset of entry `index` of a directory.
    pub(crate) fn entry_offset(&self, clusters: &[u32], index: u32) -> Result<u64, Error> {
        let byte = u64::from(index) * entry::SIZE as u64;
        let ci = byte / self.g.cs;
        let c = usize::try_from(ci)
            .ok()
            .and_then(|i| clusters.get(i))
            .copied()
            .ok_or(Error::Corrupt {
                what: "directory entry index past the end of the directory",
                offset: 0,
                value: u64::from(index),
            })?;
        Ok(self.cluster_offset(c) + byte % self.g.cs)
    }

    /// Walk a directory's entries, handing complete entry sets, free slots and other
    /// entries to `visit` (which returns false to stop).
    pub(crate) fn scan_dir(
        &mut self,
        clusters: &[u32],
        visit: &mut dyn FnMut(Item) -> bool,
    ) -> Result<ScanEnd, Error> {
        self.scan_dir_mode(clusters, visit, false)
    }

    /// `scan_dir`; with `lenient`, damaged file entry sets are skipped instead of
    /// failing the scan (used by `open` to find the bitmap and up-case table).
    pub(crate) fn scan_dir_mode(
        &mut self,
        clusters: &[u32],
        visit: &mut dyn FnMut(Item) -> bool,
        lenient: bool,
    ) -> Result<ScanEnd, Error> {
        let ss = u64::from(self.g.ss);
        let cs = self.g.cs;
        let per_sector = (ss / 32) as usize;
        let total = (clusters.len() as u64 * cs / 32).min(u64::from(u32::MAX)) as u32;
        let mut sector = vec![0u8; ss as usize];
        let mut pending: Option<(u32, usize, Vec<[u8; 32]>, u64)> = None;
        let mut idx: u32 = 0;
        let mut end: Option<u32> = None;
        'outer: for &c in clusters {
            let base = self.cluster_offset(c);
            for s in 0..cs / ss {
                let off = base + s * ss;
                self.read_bytes(off, &mut sector)?;
                for k in 0..per_sector {
                    let mut e = [0u8; 32];
                    e.copy_from_slice(&sector[k * 32..k * 32 + 32]);
                    let i = idx;
                    idx += 1;
                    let at = self.dev_offset(off + k as u64 * 32);
                    if let Some((pi, want, mut list, pat)) = pending.take() {
                        if e[0] & 0xC0 != 0xC0 && lenient {
                            // Report the cut set, then treat this entry on its own.
                            visit(Item::Bad(Error::Corrupt {
                                what: "entry set: expected an in-use secondary entry",
                                offset: at,
                                value: u64::from(e[0]),
                            }));
                        } else if e[0] & 0xC0 != 0xC0 {
                            return Err(Error::Corrupt {
                                what: "entry set: expected an in-use secondary entry",
                                offset: at,
                                value: u64::from(e[0]),
                            });
                        } else {
                            list.push(e);
                            if list.len() == want {
                                match FileSet::parse(pi, list, pat) {
                                    Ok(set) => {
                                        if !visit(Item::File(&set)) {
                                            return Ok(ScanEnd { end: idx });
                                        }
                                    }
                                    Err(err) if lenient => {
                                        visit(Item::Bad(err));
                                    }
                                    Err(err) => return Err(err),
                                }
                            } else {
                                pending = Some((pi, want, list, pat));
                            }
                            continue;
                        }
                    }
                    let go = match e[0] {
                        entry::END_OF_DIRECTORY => {
                            end = Some(i);
                            break 'outer;
                        }
                        t if t & entry::IN_USE == 0 => visit(Item::Free(i)),
                        entry::FILE if e[file::SECONDARY_COUNT] < 2 && lenient => {
                            visit(Item::Bad(Error::Corrupt {
                                what: "file entry SecondaryCount",
                                offset: at + 1,
                                value: u64::from(e[file::SECONDARY_COUNT]),
                            }))
                        }
                        entry::FILE => {
                            let sc = usize::from(e[file::SECONDARY_COUNT]);
                            if sc < 2 {
                                return Err(Error::Corrupt {
                                    what: "file entry SecondaryCount",
                                    offset: at + 1,
                                    value: sc as u64,
                                });
                            }
                            let mut list = Vec::with_capacity(sc + 1);
                            list.push(e);
                            pending = Some((i, sc + 1, list, at));
                            true
                        }
                        _ => visit(Item::Other(i, &e)),
                    };
                    if !go {
                        return Ok(ScanEnd { end: idx });
                    }
                }
            }
        }
        if let Some((_, _, _, pat)) = pending {
            let err = Error::Corrupt {
                what: "entry set runs past the end of the directory",
                offset: pat,
                value: u64::from(idx),
            };
            if lenient {
                visit(Item::Bad(err));
            } else {
                return Err(err);
            }
        }
        let end = end.unwrap_or(idx);
        for i in end..total {
            if !visit(Item::Free(i)) {
                break;
            }
        }
        Ok(ScanEnd { end })
    }

    /// The entry set named `name` (case-insensitive) in a directory.
    pub(crate) fn find(
        &mut self,
        clusters: &[u32],
        name: &[u16],
    ) -> Result<Option<FileSet>, Error> {
        let table = core::mem::replace(&mut self.upcase, Upcase::identity());
        let up = table.up_name(name);
        let hash = name_hash(&up);
        let mut found = None;
        let r = self.scan_dir(clusters, &mut |item| {
            if let Item::File(set) = item {
                if set.name.len() == up.len()
                    && set.hash == hash
                    && set.name.iter().zip(&up).all(|(&a, &b)| table.up(a) == b)
                {
                    found = Some(set.clone());
                    return false;
                }
            }
            true
        });
        self.upcase = table;
        r?;
        Ok(found)
    }

    /// The clusters of the directory described by `loc`.
    pub(crate) fn dir_of(&mut self, loc: Located) -> Result<Dir, Error> {
        let set = &loc.set;
        if set.size > MAX_DIR_BYTES || !set.size.is_multiple_of(self.g.cs) {
            return Err(Error::Corrupt {
                what: "directory DataLength (over 256 MiB or not whole clusters)",
                offset: set.at + 32 + stream::DATA_LENGTH as u64,
                value: set.size,
            });
        }
        let runs = self.file_runs(
            set.first_cluster,
            set.size,
            set.contiguous(),
            set.at + 32 + stream::FIRST_CLUSTER as u64,
        )?;
        let mut clusters = Vec::new();
        for r in runs {
            clusters.extend(r.start..r.start + r.len);
        }
        Ok(Dir {
            clusters,
            owner: Some(Box::new(loc)),
        })
    }

    /// Resolve a path.
    pub(crate) fn resolve(&mut self, path: &str) -> Result<Resolved, Error> {
        let comps = split_path(path);
        if comps.is_empty() {
            return Ok(Resolved::Root);
        }
        let mut dir = self.root_dir()?;
        let mut so_far = String::new();
        for (i, comp) in comps.iter().enumerate() {
            so_far.push('/');
            so_far.push_str(comp);
            let name: Vec<u16> = comp.encode_utf16().collect();
            let set = self
                .find(&dir.clusters, &name)?
                .ok_or_else(|| Error::NotFound {
                    path: so_far.clone(),
                })?;
            let loc = Located { parent: dir, set };
            if i + 1 == comps.len() {
                return Ok(Resolved::Entry(loc));
            }
            if !loc.set.is_dir() {
                return Err(Error::NotADirectory { path: so_far });
            }
            dir = self.dir_of(loc)?;
        }
        Ok(Resolved::Root)
    }

    /// The directory at `path`.
    pub(crate) fn open_dir(&mut self, path: &str) -> Result<Dir, Error> {
        match self.resolve(path)? {
            Resolved::Root => self.root_dir(),
            Resolved::Entry(loc) => {
                if !loc.set.is_dir() {
                    return Err(Error::NotADirectory { path: path.into() });
                }
                self.dir_of(loc)
            }
        }
    }
}

/// A copy of entry `e` with its InUse bit cleared (how a set is deleted).
pub(crate) fn deleted(e: &[u8; 32]) -> [u8; 32] {
    let mut d = *e;
    d[0] &= !raw::entry::IN_USE;
    d
}
