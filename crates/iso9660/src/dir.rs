//! Directories: iterating directory records (ECMA-119 9.1) sector by sector, decoding
//! names in the three namespaces (plain ISO 9660, Joliet UCS-2, Rock Ridge NM), and
//! looking files up by path. No allocation: names live in a fixed [`Name`] buffer and
//! an iterator holds two sectors.
//!
//! Names compare ASCII-case-insensitively in every namespace (as UEFI's FAT and most
//! ISO readers do), after dropping the `;1` version suffix and a trailing dot.

use crate::descriptor::{validate_extent, DirExtent};
use crate::error::{read_at, Error, Result};
use crate::raw::{DirectoryRecord, DIRECTORY_RECORD_FIXED_LEN, SECTOR_SIZE};
use crate::susp::RockRidge;
use blockdev::ReadAt;

/// Longest name kept, in UTF-8 bytes (a 255-byte Rock Ridge name, a 127-character
/// Joliet name in UTF-8 fits).
pub const MAX_NAME: usize = 384;

/// Directories larger than this are refused as absurd (real ones are kilobytes; a
/// directory of 64 MiB holds about a million entries).
pub const MAX_DIR_SIZE: u32 = 64 << 20;

/// Deepest directory nesting a walk follows.
pub const MAX_DEPTH: usize = 32;

/// Most directories one walk visits.
pub const MAX_WALK_DIRS: u32 = 65_536;

/// Most directory bytes one walk reads (a DVD's whole tree is a few MiB; without this a
/// hostile image of huge directories sharing extents would take hours to walk).
pub const MAX_WALK_BYTES: u64 = 32 << 20;

pub(crate) fn validate_dir_size(offset: u64, size: u32) -> Result<()> {
    if size > MAX_DIR_SIZE {
        return Err(Error::AbsurdSize {
            offset,
            value: u64::from(size),
            limit: u64::from(MAX_DIR_SIZE),
        });
    }
    Ok(())
}

/// A file name decoded to UTF-8 (or raw bytes for plain ISO 9660 names), at most
/// [`MAX_NAME`] bytes.
#[derive(Clone)]
pub struct Name {
    buf: [u8; MAX_NAME],
    len: usize,
}

impl Default for Name {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.as_str() {
            Some(s) => write!(f, "{s:?}"),
            None => write!(f, "{:?}", self.as_bytes()),
        }
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Name {}

impl Name {
    /// An empty name.
    pub const fn new() -> Self {
        Name {
            buf: [0; MAX_NAME],
            len: 0,
        }
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// The name as text, when it is valid UTF-8.
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(self.as_bytes()).ok()
    }

    pub(crate) fn push(&mut self, b: &[u8], record_offset: u64) -> Result<()> {
        let end = self.len + b.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(Error::NameTooLong {
            offset: record_offset,
            len: MAX_NAME,
        })?;
        dst.copy_from_slice(b);
        self.len = end;
        Ok(())
    }

    fn push_char(&mut self, c: char, record_offset: u64) -> Result<()> {
        let mut tmp = [0u8; 4];
        self.push(c.encode_utf8(&mut tmp).as_bytes(), record_offset)
    }

    /// Drop a `;version` suffix and then a trailing dot (`README.;1` -> `README`).
    fn strip_version(&mut self) {
        let b = self.as_bytes();
        if let Some(p) = b.iter().rposition(|&c| c == b';') {
            if b[p + 1..].iter().all(u8::is_ascii_digit) {
                self.len = p;
            }
        }
        if self.len > 1 && self.as_bytes().last() == Some(&b'.') {
            self.len -= 1;
        }
    }

    /// Whether this name matches `other` ignoring ASCII case.
    pub fn matches(&self, other: &[u8]) -> bool {
        self.as_bytes().eq_ignore_ascii_case(other)
    }
}

/// Which of an image's name trees to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Namespace {
    /// Plain ISO 9660 names (`README.TXT;1` shown as `README.TXT`).
    Plain,
    /// The Joliet tree (UCS-2 names from the supplementary descriptor).
    Joliet,
    /// The primary tree with Rock Ridge NM names.
    RockRidge,
}

/// File flags of a directory record (ECMA-119 9.1.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FileFlags(pub u8);

impl FileFlags {
    /// Bit 0: hidden (existence).
    pub const HIDDEN: u8 = 0x01;
    /// Bit 1: directory.
    pub const DIRECTORY: u8 = 0x02;
    /// Bit 2: associated file.
    pub const ASSOCIATED: u8 = 0x04;
    /// Bit 7: not the final record of a multi-extent file.
    pub const MULTI_EXTENT: u8 = 0x80;

    /// Whether the record is a directory.
    pub fn is_dir(self) -> bool {
        self.0 & Self::DIRECTORY != 0
    }
}

/// One directory record, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Name in the namespace it was read in.
    pub name: Name,
    /// First logical block of the extent (for a Rock Ridge relocated directory: the
    /// directory's real place, from CL).
    pub lba: u32,
    /// Length in bytes of this extent.
    pub size: u32,
    /// File flags.
    pub flags: FileFlags,
    /// Byte offset of the record in the image.
    pub record_offset: u64,
    /// Recording date and time as stored (ECMA-119 9.1.5).
    pub recorded: [u8; 7],
    /// Rock Ridge CL: a placeholder for a directory relocated elsewhere.
    pub child_link: bool,
    /// Rock Ridge RE: a relocated directory, shown under its real parent instead.
    pub relocated: bool,
}

impl DirEntry {
    /// Whether this is a directory (including a Rock Ridge child link).
    pub fn is_dir(&self) -> bool {
        self.flags.is_dir() || self.child_link
    }

    /// Byte offset of the extent in the image.
    pub fn byte_offset(&self) -> u64 {
        u64::from(self.lba) * SECTOR_SIZE as u64
    }
}

/// A directory to iterate: its extent and the namespace of its names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dir {
    /// Extent of the directory.
    pub extent: DirExtent,
    /// Namespace of its names.
    pub namespace: Namespace,
    /// Rock Ridge: bytes to skip at the start of each system use area (SP LEN_SKP).
    pub susp_skip: u8,
}

/// Iterator over the records of a directory (without `.` and `..`). After an error it
/// yields nothing more.
pub struct Entries<'r, R: ?Sized> {
    r: &'r mut R,
    dir: Dir,
    pos: u32,
    loaded: Option<u32>,
    sector: [u8; SECTOR_SIZE],
    ce_buf: [u8; SECTOR_SIZE],
    done: bool,
}

impl<'r, R: ReadAt + ?Sized> Entries<'r, R> {
    /// Iterate `dir` from byte `pos` of its extent (0 for the start).
    pub fn new(r: &'r mut R, dir: Dir, pos: u32) -> Result<Self> {
        validate_dir_size(dir.extent.record_offset + 10, dir.extent.size)?;
        validate_extent(
            dir.extent.record_offset,
            dir.extent.lba,
            u64::from(dir.extent.size),
            r.len(),
        )?;
        Ok(Entries {
            r,
            dir,
            pos,
            loaded: None,
            sector: [0; SECTOR_SIZE],
            ce_buf: [0; SECTOR_SIZE],
            done: false,
        })
    }

    /// Byte position of the next record in the directory's extent.
    pub fn position(&self) -> u32 {
        self.pos
    }

    fn next_entry(&mut self) -> Result<Option<DirEntry>> {
        loop {
            if self.pos >= self.dir.extent.size {
                return Ok(None);
            }
            let sec = self.pos / SECTOR_SIZE as u32;
            let within = (self.pos % SECTOR_SIZE as u32) as usize;
            let sector_offset =
                (u64::from(self.dir.extent.lba) + u64::from(sec)) * SECTOR_SIZE as u64;
            if self.loaded != Some(sec) {
                read_at(self.r, sector_offset, &mut self.sector)?;
                self.loaded = Some(sec);
            }
            let record_offset = sector_offset + within as u64;
            let len = self.sector[within];
            if len == 0 {
                // The rest of the sector is padding (records never span sectors).
                self.pos = (sec + 1).saturating_mul(SECTOR_SIZE as u32);
                continue;
            }
            let bad = Error::BadDirectoryRecord {
                offset: record_offset,
                len,
            };
            let rec = self
                .sector
                .get(within..within + usize::from(len))
                .ok_or(bad)?;
            if rec.len() < DIRECTORY_RECORD_FIXED_LEN + 1 {
                return Err(bad);
            }
            let fixed = DirectoryRecord::parse(&crate::raw::array(rec, 0));
            let name_len = usize::from(fixed.length_of_file_identifier);
            let id = rec
                .get(DIRECTORY_RECORD_FIXED_LEN..DIRECTORY_RECORD_FIXED_LEN + name_len)
                .ok_or(bad)?;
            self.pos += u32::from(len);
            if name_len == 0 {
                return Err(bad);
            }
            if name_len == 1 && (id[0] == 0 || id[0] == 1) {
                continue; // "." and ".."
            }
            let mut entry = DirEntry {
                name: Name::new(),
                lba: fixed.location_of_extent.le,
                size: fixed.data_length.le,
                flags: FileFlags(fixed.file_flags),
                record_offset,
                recorded: fixed.recording_date_and_time,
                child_link: false,
                relocated: false,
            };
            match self.dir.namespace {
                Namespace::Plain => {
                    entry.name.push(id, record_offset)?;
                    entry.name.strip_version();
                }
                Namespace::Joliet => {
                    decode_ucs2(&mut entry.name, id, record_offset)?;
                    entry.name.strip_version();
                }
                Namespace::RockRidge => {
                    // System use area: after the name and a pad byte that makes it even.
                    let su_start = DIRECTORY_RECORD_FIXED_LEN
                        + name_len
                        + (1 - name_len % 2)
                        + usize::from(self.dir.susp_skip);
                    let area = rec.get(su_start..).unwrap_or(&[]);
                    let rr = RockRidge::read(
                        &mut *self.r,
                        area,
                        record_offset + su_start as u64,
                        &mut self.ce_buf,
                        record_offset,
                    )?;
                    match rr.name {
                        Some(n) => entry.name = n,
                        None => {
                            entry.name.push(id, record_offset)?;
                            entry.name.strip_version();
                        }
                    }
                    if let Some(cl) = rr.child_link {
                        entry.lba = cl;
                        entry.child_link = true;
                    }
                    entry.relocated = rr.relocated;
                }
            }
            return Ok(Some(entry));
        }
    }
}

impl<R: ReadAt + ?Sized> Iterator for Entries<'_, R> {
    type Item = Result<DirEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_entry() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// UCS-2 big-endian (with surrogate pairs) to UTF-8; unpaired surrogates become U+FFFD.
fn decode_ucs2(name: &mut Name, id: &[u8], record_offset: u64) -> Result<()> {
    let units = id.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
    for c in core::char::decode_utf16(units) {
        name.push_char(c.unwrap_or(char::REPLACEMENT_CHARACTER), record_offset)?;
    }
    Ok(())
}

/// The directory `entry` stands for, with the extent size taken from its record, or for
/// a Rock Ridge child link from the `.` record of the directory it links to.
pub(crate) fn subdir<R: ReadAt + ?Sized>(r: &mut R, parent: &Dir, entry: &DirEntry) -> Result<Dir> {
    let mut size = entry.size;
    if entry.child_link {
        let mut rec = [0u8; DIRECTORY_RECORD_FIXED_LEN];
        validate_extent(entry.record_offset, entry.lba, SECTOR_SIZE as u64, r.len())?;
        read_at(r, entry.byte_offset(), &mut rec)?;
        size = DirectoryRecord::parse(&rec).data_length.le;
    }
    validate_dir_size(entry.record_offset + 10, size)?;
    validate_extent(entry.record_offset, entry.lba, u64::from(size), r.len())?;
    Ok(Dir {
        extent: DirExtent {
            lba: entry.lba,
            size,
            record_offset: entry.record_offset,
        },
        namespace: parent.namespace,
        susp_skip: parent.susp_skip,
    })
}

/// Look `path` up from `root`. `path` is absolute (`/EFI/BOOT/BOOTX64.EFI`); empty
/// components are ignored; `/` itself is not an entry and gives [`Error::NotFound`].
pub fn lookup<R: ReadAt + ?Sized>(r: &mut R, root: Dir, path: &str) -> Result<DirEntry> {
    if !path.starts_with('/') {
        return Err(Error::BadPath);
    }
    let mut dir = root;
    let mut comps = path.split('/').filter(|c| !c.is_empty()).peekable();
    let mut depth = 0;
    while let Some(comp) = comps.next() {
        if comp.len() > 255 {
            return Err(Error::BadPath);
        }
        depth += 1;
        if depth > MAX_DEPTH {
            return Err(Error::BadPath);
        }
        let mut found = None;
        for e in Entries::new(r, dir, 0)? {
            let e = e?;
            if e.name.matches(comp.as_bytes()) && !e.relocated {
                found = Some(e);
                break;
            }
        }
        let e = found.ok_or(Error::NotFound)?;
        if comps.peek().is_none() {
            return Ok(e);
        }
        if !e.is_dir() {
            return Err(Error::NotADirectory {
                offset: e.record_offset,
            });
        }
        dir = subdir(r, &dir, &e)?;
    }
    Err(Error::NotFound)
}

/// Walk the tree under `root` depth first and return the first file entry for which
/// `pred` holds. Bounded: at most [`MAX_DEPTH`] levels, [`MAX_WALK_DIRS`] directories
/// and [`MAX_WALK_BYTES`] of directory data; a directory that contains one of its
/// ancestors is an error.
pub fn find<R: ReadAt + ?Sized>(
    r: &mut R,
    root: Dir,
    mut pred: impl FnMut(&DirEntry) -> bool,
) -> Result<Option<DirEntry>> {
    let mut stack: [(Dir, u32); MAX_DEPTH] = [(root, 0); MAX_DEPTH];
    let mut depth = 1usize;
    let mut visited = 1u32;
    let mut bytes = u64::from(root.extent.size);
    while depth > 0 {
        let (dir, pos) = stack[depth - 1];
        let mut it = Entries::new(r, dir, pos)?;
        let mut descend = None;
        for e in it.by_ref() {
            let e = e?;
            if e.is_dir() {
                if !e.relocated {
                    descend = Some(e);
                    break;
                }
            } else if pred(&e) {
                return Ok(Some(e));
            }
        }
        stack[depth - 1].1 = it.position();
        let Some(e) = descend else {
            depth -= 1;
            continue;
        };
        if stack[..depth].iter().any(|(d, _)| d.extent.lba == e.lba) {
            return Err(Error::DirectoryLoop {
                offset: e.record_offset,
                lba: e.lba,
            });
        }
        if depth == MAX_DEPTH {
            return Err(Error::TooDeep {
                offset: e.record_offset,
                limit: MAX_DEPTH as u32,
            });
        }
        visited += 1;
        if visited > MAX_WALK_DIRS {
            return Err(Error::TooManyDirectories {
                limit: MAX_WALK_DIRS,
            });
        }
        let sub = subdir(r, &dir, &e)?;
        bytes += u64::from(sub.extent.size);
        if bytes > MAX_WALK_BYTES {
            return Err(Error::AbsurdSize {
                offset: e.record_offset + 10,
                value: bytes,
                limit: MAX_WALK_BYTES,
            });
        }
        stack[depth] = (sub, 0);
        depth += 1;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_version_and_dot() {
        for (raw, want) in [
            (&b"README.TXT;1"[..], &b"README.TXT"[..]),
            (b"README.;1", b"README"),
            (b"DIR", b"DIR"),
            (b"A;B", b"A;B"),
            (b".", b"."),
        ] {
            let mut n = Name::new();
            n.push(raw, 0).unwrap();
            n.strip_version();
            assert_eq!(n.as_bytes(), want);
        }
    }

    #[test]
    fn ucs2_decodes_surrogates_and_rejects_overflow() {
        let mut n = Name::new();
        // "é" + U+1F600 as a surrogate pair + unpaired high surrogate.
        decode_ucs2(&mut n, &[0x00, 0xE9, 0xD8, 0x3D, 0xDE, 0x00, 0xD8, 0x00], 0).unwrap();
        assert_eq!(n.as_str().unwrap(), "é😀\u{FFFD}");
        let mut n = Name::new();
        let long = [0x30u8, 0x42].repeat(200); // 200 three-byte characters
        assert!(matches!(
            decode_ucs2(&mut n, &long, 7),
            Err(Error::NameTooLong { offset: 7, .. })
        ));
    }
}
