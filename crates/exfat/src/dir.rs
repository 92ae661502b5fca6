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

/// One 32-byte directory entry as read: its index in the directory, its bytes and its
/// device byte offset.
#[derive(Clone, Copy)]
struct RawEntry {
    index: u32,
    bytes: [u8; 32],
    at: u64,
}

/// Reads a directory's entries in order, one sector at a time.
struct EntryCursor<'c> {
    clusters: &'c [u32],
    /// Index of the next entry.
    index: u32,
    /// The sector holding the next entry (read when the next entry starts it).
    sector: Vec<u8>,
    /// Partition byte offset of `sector`.
    sector_offset: u64,
}

impl<'c> EntryCursor<'c> {
    fn new(clusters: &'c [u32], sector_size: u32) -> Self {
        EntryCursor {
            clusters,
            index: 0,
            sector: vec![0u8; sector_size as usize],
            sector_offset: 0,
        }
    }

    /// The next entry, or None after the last cluster.
    fn next<D: BlockDevice>(&mut self, v: &mut Volume<D>) -> Result<Option<RawEntry>, Error> {
        let byte = u64::from(self.index) * entry::SIZE as u64;
        let Some(&c) = usize::try_from(byte / v.g.cs)
            .ok()
            .and_then(|i| self.clusters.get(i))
        else {
            return Ok(None);
        };
        let ss = u64::from(v.g.ss);
        let within_cluster = byte % v.g.cs;
        let within_sector = (within_cluster % ss) as usize;
        if within_sector == 0 {
            self.sector_offset = v.cluster_offset(c) + within_cluster;
            v.read_bytes(self.sector_offset, &mut self.sector)?;
        }
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&self.sector[within_sector..within_sector + 32]);
        let raw = RawEntry {
            index: self.index,
            bytes,
            at: v.dev_offset(self.sector_offset + within_sector as u64),
        };
        self.index += 1;
        Ok(Some(raw))
    }
}

/// An entry set being read: the file entry and the secondary entries so far.
struct PartialSet {
    /// Index of the file entry.
    index: u32,
    /// Entries the complete set has (1 + SecondaryCount).
    want: usize,
    entries: Vec<[u8; 32]>,
    /// Device byte offset of the file entry.
    at: u64,
}

/// What the scan does after an entry.
enum Flow {
    /// Read the next entry.
    Next,
    /// The visitor asked to stop.
    Stop,
    /// The end-of-directory mark: no entry after it is in use.
    EndOfDirectory,
}

/// Gathers entries into file entry sets and hands items to the visitor; `lenient`
/// reports damaged sets as [`Item::Bad`] instead of failing.
struct SetCollector {
    pending: Option<PartialSet>,
    lenient: bool,
}

impl SetCollector {
    /// Fail with `err`, or (lenient) report it and go on.
    fn damaged(&self, err: Error, visit: &mut dyn FnMut(Item) -> bool) -> Result<bool, Error> {
        if self.lenient {
            Ok(visit(Item::Bad(err)))
        } else {
            Err(err)
        }
    }

    /// Take one entry.
    fn feed(&mut self, e: RawEntry, visit: &mut dyn FnMut(Item) -> bool) -> Result<Flow, Error> {
        if let Some(set) = self.pending.take() {
            if e.bytes[0] & 0xC0 == 0xC0 {
                return self.add_secondary(set, e, visit);
            }
            // A cut set: report it, then treat this entry on its own.
            self.damaged(
                Error::Corrupt {
                    what: "entry set: expected an in-use secondary entry",
                    offset: e.at,
                    value: u64::from(e.bytes[0]),
                },
                visit,
            )?;
        }
        self.primary(e, visit)
    }

    /// Add secondary entry `e` to `set`; a complete set is parsed and visited.
    fn add_secondary(
        &mut self,
        mut set: PartialSet,
        e: RawEntry,
        visit: &mut dyn FnMut(Item) -> bool,
    ) -> Result<Flow, Error> {
        set.entries.push(e.bytes);
        if set.entries.len() < set.want {
            self.pending = Some(set);
            return Ok(Flow::Next);
        }
        let go = match FileSet::parse(set.index, set.entries, set.at) {
            Ok(file) => visit(Item::File(&file)),
            Err(err) => {
                self.damaged(err, visit)?;
                true
            }
        };
        Ok(if go { Flow::Next } else { Flow::Stop })
    }

    /// An entry that is not a secondary of a set being read.
    fn primary(&mut self, e: RawEntry, visit: &mut dyn FnMut(Item) -> bool) -> Result<Flow, Error> {
        let go = match e.bytes[0] {
            entry::END_OF_DIRECTORY => return Ok(Flow::EndOfDirectory),
            t if t & entry::IN_USE == 0 => visit(Item::Free(e.index)),
            entry::FILE => self.start_set(e, visit)?,
            _ => visit(Item::Other(e.index, &e.bytes)),
        };
        Ok(if go { Flow::Next } else { Flow::Stop })
    }

    /// Start a set at file entry `e`; false if the visitor asked to stop.
    fn start_set(
        &mut self,
        e: RawEntry,
        visit: &mut dyn FnMut(Item) -> bool,
    ) -> Result<bool, Error> {
        let sc = usize::from(e.bytes[file::SECONDARY_COUNT]);
        if sc < 2 {
            return self.damaged(
                Error::Corrupt {
                    what: "file entry SecondaryCount",
                    offset: e.at + 1,
                    value: sc as u64,
                },
                visit,
            );
        }
        let mut entries = Vec::with_capacity(sc + 1);
        entries.push(e.bytes);
        self.pending = Some(PartialSet {
            index: e.index,
            want: sc + 1,
            entries,
            at: e.at,
        });
        Ok(true)
    }

    /// The directory ended (`index` entries read): a set still being read is cut.
    fn finish(&mut self, visit: &mut dyn FnMut(Item) -> bool, index: u32) -> Result<(), Error> {
        if let Some(set) = self.pending.take() {
            self.damaged(
                Error::Corrupt {
                    what: "entry set runs past the end of the directory",
                    offset: set.at,
                    value: u64::from(index),
                },
                visit,
            )?;
        }
        Ok(())
    }
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
        let total = (clusters.len() as u64 * self.g.cs / 32).min(u64::from(u32::MAX)) as u32;
        let mut cursor = EntryCursor::new(clusters, self.g.ss);
        let mut sets = SetCollector {
            pending: None,
            lenient,
        };
        let mut end = None;
        while let Some(raw) = cursor.next(self)? {
            match sets.feed(raw, visit)? {
                Flow::Next => {}
                Flow::Stop => return Ok(ScanEnd { end: cursor.index }),
                Flow::EndOfDirectory => {
                    end = Some(raw.index);
                    break;
                }
            }
        }
        sets.finish(visit, cursor.index)?;
        let end = end.unwrap_or(cursor.index);
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
