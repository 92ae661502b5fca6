//! The write side: mkdir, reserve + commit of contiguous files, small-file writes,
//! delete and rename, each ordered for crash safety (docs/exfat.md):
//!
//! * data and new directory clusters are written to clusters that are free in the
//!   bitmap, so nothing visible changes;
//! * then the bitmap marks them used (a crash here only leaks clusters, which
//!   `fsck.exfat -n` accepts);
//! * then one sector write of the directory entry set makes the change visible;
//! * clusters no longer used are freed in the bitmap last (again only a leak if cut).
//!
//! Entry sets are placed so that they do not straddle a sector boundary when they fit in
//! one sector, so the visible change is a single sector write.

use crate::dir::{
    build_set, deleted, fix_checksum, rename_set, split_path, validate_name, Dir, DirEntry,
    FileSet, Item, Located, NewSet, Resolved,
};
use crate::error::Error;
use crate::raw::{entry, file, put32, put64, stream};
use crate::time::DateTime;
use crate::volume::{Run, Volume, MAX_DIR_BYTES};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use blockdev::{BlockDevice, Extent};

/// A file reserved by `reserve_contiguous`: its clusters are chosen but nothing is
/// written; the caller writes the data to [`Pending::extent`], then `commit` makes the
/// file visible. Not `Clone`: a reservation is committed at most once.
#[derive(Debug)]
pub struct Pending {
    pub(crate) path: String,
    pub(crate) size: u64,
    pub(crate) run: Run,
    pub(crate) extent: Extent,
}

impl Pending {
    /// Device bytes where the data goes (`len` = the file size).
    pub fn extent(&self) -> Extent {
        self.extent
    }
    /// The path the file will have.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The file size.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// Where a new entry set goes in a directory.
#[derive(Clone, Copy, Debug)]
struct Slot {
    index: u32,
    /// The end-of-directory index at the time of the scan: entries in `end..index` are
    /// end marks that must become deleted entries first.
    end: u32,
}

/// Files up to this size are copied when a rename cannot be one sector write (so a crash
/// never loses or shares them); bigger files keep their clusters (and extents).
pub const COPY_LIMIT: u64 = 1 << 20;

/// The entries (offset in the sector, bytes) to change in one sector.
type SectorEdits = (u64, Vec<(usize, [u8; 32])>);

/// The parent directory and the validated last component of a path.
struct Target {
    dir: Dir,
    name: Vec<u16>,
    path: String,
    parent_path: String,
}

/// Set DataLength and ValidDataLength of entry set `e` to `len` and its modified and
/// accessed times to `now` (packed DOS time).
fn set_length(e: &mut [[u8; 32]], len: u64, now: u32) {
    put64(&mut e[1], stream::DATA_LENGTH, len);
    put64(&mut e[1], stream::VALID_DATA_LENGTH, len);
    put32(&mut e[0], file::LAST_MODIFIED_TIMESTAMP, now);
    put32(&mut e[0], file::LAST_ACCESSED_TIMESTAMP, now);
    e[0][file::LAST_MODIFIED_10MS] = 0;
}

impl<D: BlockDevice> Volume<D> {
    fn now(&self) -> DateTime {
        (self.clock)()
    }

    fn target(&mut self, path: &str) -> Result<Target, Error> {
        let comps = split_path(path);
        let Some((last, parents)) = comps.split_last() else {
            return Err(Error::InvalidName {
                name: path.into(),
                reason: "the root directory has no name",
            });
        };
        let name = validate_name(last)?;
        let mut parent_path = String::new();
        for p in parents {
            parent_path.push('/');
            parent_path.push_str(p);
        }
        let dir = self.open_dir(if parent_path.is_empty() {
            "/"
        } else {
            &parent_path
        })?;
        let mut full = parent_path.clone();
        full.push('/');
        full.push_str(last);
        Ok(Target {
            dir,
            name,
            path: full,
            parent_path,
        })
    }

    /// Find `n` consecutive free slots, inside one sector when `n` entries fit in one,
    /// else starting on a sector boundary.
    fn find_slot(&mut self, dir: &Dir, n: usize) -> Result<Option<Slot>, Error> {
        let per_sector = u64::from(self.g.ss) / entry::SIZE as u64;
        let one_sector = n as u64 <= per_sector;
        let mut run_start = 0u64;
        let mut prev: Option<u64> = None;
        let mut found: Option<u32> = None;
        let end = self.scan_dir(&dir.clusters, &mut |item| {
            if let Item::Free(i) = item {
                let i = u64::from(i);
                if prev != Some(i.wrapping_sub(1)) || prev.is_none() {
                    run_start = i;
                }
                prev = Some(i);
                if i + 1 >= run_start + n as u64 {
                    if one_sector {
                        let s = i + 1 - n as u64;
                        if s / per_sector == i / per_sector {
                            found = Some(s as u32);
                            return false;
                        }
                    } else {
                        // Longer sets start on a sector boundary: they then span the
                        // fewest sectors (and, with one-sector clusters, the fewest
                        // clusters: fsck.exfat 1.2.0 miscomputes the checksum of a set
                        // spread over three clusters).
                        let a = run_start.div_ceil(per_sector) * per_sector;
                        if i + 1 >= a + n as u64 {
                            found = Some(a as u32);
                            return false;
                        }
                    }
                }
            } else {
                prev = None;
            }
            true
        })?;
        Ok(found.map(|index| Slot {
            index,
            end: end.end,
        }))
    }

    /// A slot for `n` entries, growing the directory (never into `avoid`) when full.
    fn ensure_slot(
        &mut self,
        dir: &mut Dir,
        n: usize,
        path: &str,
        avoid: Option<Run>,
    ) -> Result<Slot, Error> {
        for _ in 0..4 {
            if let Some(s) = self.find_slot(dir, n)? {
                return Ok(s);
            }
            self.grow_dir(dir, path, avoid)?;
        }
        Err(Error::DirectoryFull { path: path.into() })
    }

    /// Clusters a directory would need to grow (0 if it has room for `n` entries).
    fn growth_need(&mut self, dir: &Dir, n: usize) -> Result<u32, Error> {
        if self.find_slot(dir, n)?.is_some() {
            return Ok(0);
        }
        Ok(match &dir.owner {
            None => 1,
            Some(_) => dir.clusters.len() as u32 + 1,
        })
    }

    /// Write entries (index, bytes) of a directory, grouping them by sector: one device
    /// write per sector, sectors in the order of their first appearance in `changes`.
    fn write_entries(
        &mut self,
        clusters: &[u32],
        changes: &[(u32, [u8; 32])],
    ) -> Result<(), Error> {
        let ss = u64::from(self.g.ss);
        let mut groups: Vec<SectorEdits> = Vec::new();
        for (i, e) in changes {
            let off = self.entry_offset(clusters, *i)?;
            let sector = off - off % ss;
            let within = (off % ss) as usize;
            match groups.iter_mut().find(|(s, _)| *s == sector) {
                Some((_, list)) => list.push((within, *e)),
                None => groups.push((sector, vec![(within, *e)])),
            }
        }
        let mut buf = vec![0u8; ss as usize];
        for (sector, list) in groups {
            self.read_bytes(sector, &mut buf)?;
            for (within, e) in list {
                buf[within..within + 32].copy_from_slice(&e);
            }
            self.write_bytes(sector, &buf)?;
        }
        Ok(())
    }

    /// The changes that put `set` at `slot`: filler deleted entries over end marks
    /// before it, the set's tail, its file entry last (so a set spanning sectors appears
    /// when its first sector is written).
    fn place_changes(slot: Slot, set: &[[u8; 32]]) -> Vec<(u32, [u8; 32])> {
        let mut v = Vec::new();
        let mut filler = [0u8; 32];
        filler[0] = entry::DELETED_FILE;
        for i in slot.end..slot.index {
            v.push((i, filler));
        }
        for (k, e) in set.iter().enumerate().skip(1) {
            v.push((slot.index + k as u32, *e));
        }
        if let Some(e0) = set.first() {
            v.push((slot.index, *e0));
        }
        v
    }

    /// Write zeros over whole clusters of `r`.
    fn zero_run(&mut self, r: Run) -> Result<(), Error> {
        let total = u64::from(r.len) * self.g.cs;
        let chunk = total.min(1 << 20) as usize;
        let zeros = vec![0u8; chunk];
        let base = self.cluster_offset(r.start);
        let mut off = 0u64;
        while off < total {
            let n = (chunk as u64).min(total - off) as usize;
            self.write_bytes(base + off, &zeros[..n])?;
            off += n as u64;
        }
        Ok(())
    }

    /// A free run of `n` clusters outside `avoid` and outstanding reservations, or
    /// NoSpace.
    fn alloc_run(&mut self, n: u32, avoid: Option<Run>) -> Result<Run, Error> {
        if n == 0 {
            return Ok(Run { start: 0, len: 0 });
        }
        let mut list = self.reserved.clone();
        list.extend(avoid);
        let survey = self.bitmap_survey(u64::from(n), &list)?;
        match survey.found {
            Some(start) => Ok(Run { start, len: n }),
            None => Err(Error::NoSpace {
                needed: u64::from(n) * self.g.cs,
                largest_free_run: survey.longest * self.g.cs,
            }),
        }
    }

    /// Rewrite an existing entry set in place (same slots) after `edit`; one sector write
    /// for sets inside one sector.
    fn rewrite_set(
        &mut self,
        parent: &[u32],
        set: &mut FileSet,
        edit: impl FnOnce(&mut [[u8; 32]]),
    ) -> Result<(), Error> {
        edit(&mut set.entries);
        fix_checksum(&mut set.entries);
        let changes: Vec<(u32, [u8; 32])> = set
            .entries
            .iter()
            .enumerate()
            .map(|(k, e)| (set.index + k as u32, *e))
            .collect();
        self.write_entries(parent, &changes)
    }

    /// Add one cluster to a directory.
    ///
    /// Root (its chain lives in the FAT): zero a free cluster, mark it, end its chain,
    /// then link it (the link is the committing write). A subdirectory that is
    /// contiguous with a free cluster after it grows in place (the size update in the
    /// parent's entry set commits); otherwise it is copied to a new contiguous run one
    /// cluster longer and the parent's entry set is switched to it (copy-on-write), and
    /// the old clusters are freed after.
    fn grow_dir(&mut self, dir: &mut Dir, path: &str, avoid: Option<Run>) -> Result<(), Error> {
        let cs = self.g.cs;
        let n = dir.clusters.len() as u64 + 1;
        if n * cs > MAX_DIR_BYTES {
            return Err(Error::DirectoryFull { path: path.into() });
        }
        let Some(owner) = dir.owner.as_mut() else {
            let last = *dir
                .clusters
                .last()
                .ok_or(Error::DirectoryFull { path: path.into() })?;
            let r = self.alloc_run(1, avoid)?;
            self.zero_run(r)?;
            self.bitmap_set(r, true)?;
            self.fat_set(r.start, crate::raw::fat::END)?;
            self.dev.flush()?;
            self.fat_set(last, r.start)?;
            self.dev.flush()?;
            dir.clusters.push(r.start);
            return Ok(());
        };
        let Located { parent, set } = &mut **owner;
        let last = dir.clusters.last().copied().unwrap_or(0);
        let next = Run {
            start: last.wrapping_add(1),
            len: 1,
        };
        let in_place = set.contiguous()
            && last != 0
            && self.valid_cluster(next.start)
            && avoid
                .iter()
                .chain(self.reserved.iter())
                .all(|a| next.start < a.start || next.start >= a.start + a.len)
            && self.run_is_free(next)?;
        if in_place {
            self.zero_run(next)?;
            self.bitmap_set(next, true)?;
            self.dev.flush()?;
            let size = n * cs;
            self.rewrite_set(&parent.clusters, set, |e| {
                put64(&mut e[1], stream::DATA_LENGTH, size);
                put64(&mut e[1], stream::VALID_DATA_LENGTH, size);
            })?;
            self.dev.flush()?;
            set.size = size;
            dir.clusters.push(next.start);
            return Ok(());
        }
        let r = self.alloc_run(n as u32, avoid)?;
        let mut buf = vec![0u8; cs as usize];
        for (k, &c) in dir.clusters.iter().enumerate() {
            self.read_bytes(self.cluster_offset(c), &mut buf)?;
            self.write_bytes(self.cluster_offset(r.start + k as u32), &buf)?;
        }
        self.zero_run(Run {
            start: r.start + n as u32 - 1,
            len: 1,
        })?;
        self.bitmap_set(r, true)?;
        self.dev.flush()?;
        let size = n * cs;
        self.rewrite_set(&parent.clusters, set, |e| {
            e[1][stream::FLAGS] |= stream::NO_FAT_CHAIN | stream::ALLOCATION_POSSIBLE;
            put32(&mut e[1], stream::FIRST_CLUSTER, r.start);
            put64(&mut e[1], stream::DATA_LENGTH, size);
            put64(&mut e[1], stream::VALID_DATA_LENGTH, size);
        })?;
        self.dev.flush()?;
        let old = crate::dir::runs_of(&dir.clusters);
        for o in old {
            self.bitmap_set(o, false)?;
        }
        self.dev.flush()?;
        set.size = size;
        set.first_cluster = r.start;
        set.flags |= stream::NO_FAT_CHAIN | stream::ALLOCATION_POSSIBLE;
        dir.clusters = (r.start..r.start + n as u32).collect();
        Ok(())
    }

    /// Entries a set for `name` takes.
    fn set_len(name: &[u16]) -> usize {
        2 + name.len().div_ceil(entry::NAME_CHARS_PER_ENTRY)
    }

    /// The target of `path`, whose name must not exist yet in its parent.
    fn free_target(&mut self, path: &str) -> Result<Target, Error> {
        let t = self.target(path)?;
        if self.find(&t.dir.clusters, &t.name)?.is_some() {
            return Err(Error::AlreadyExists { path: t.path });
        }
        Ok(t)
    }

    /// The entry set of a new file or directory `name` of `size` bytes in `run`
    /// (its start is the FirstCluster), created and modified now.
    fn new_set(
        &self,
        name: &[u16],
        attributes: u16,
        flags: u8,
        run: Run,
        size: u64,
    ) -> Vec<[u8; 32]> {
        let now = self.now();
        build_set(
            &NewSet {
                name,
                attributes,
                flags,
                first_cluster: run.start,
                size,
                created: now,
                modified: now,
            },
            &self.upcase,
        )
    }

    /// Create a directory; its parent must exist. Ok if it already is a directory.
    pub fn mkdir(&mut self, path: &str) -> Result<(), Error> {
        self.check_writable()?;
        let mut t = self.target(path)?;
        if let Some(existing) = self.find(&t.dir.clusters, &t.name)? {
            return if existing.is_dir() {
                Ok(())
            } else {
                Err(Error::AlreadyExists { path: t.path })
            };
        }
        let n = Self::set_len(&t.name);
        // A growth of the parent happens first and is complete in itself.
        let slot = self.ensure_slot(&mut t.dir, n, &t.parent_path, None)?;
        let r = self.alloc_run(1, None)?;
        self.zero_run(r)?;
        self.bitmap_set(r, true)?;
        self.dev.flush()?;
        let set = self.new_set(
            &t.name,
            file::ATTR_DIRECTORY,
            stream::ALLOCATION_POSSIBLE | stream::NO_FAT_CHAIN,
            r,
            self.g.cs,
        );
        self.write_entries(&t.dir.clusters, &Self::place_changes(slot, &set))?;
        self.dev.flush()?;
        Ok(())
    }

    /// Choose a free contiguous run for a file of `size` bytes at `path` (parent must
    /// exist, the name must be free). Writes nothing.
    pub fn reserve_contiguous(&mut self, path: &str, size: u64) -> Result<Pending, Error> {
        self.check_writable()?;
        let t = self.free_target(path)?;
        let n64 = size.div_ceil(self.g.cs);
        let n = u32::try_from(n64).map_err(|_| Error::NoSpace {
            needed: size,
            largest_free_run: 0,
        })?;
        let run = self.alloc_run(n, None)?;
        // The entry set may need the directory to grow: that space must exist too.
        let need = self.growth_need(&t.dir, Self::set_len(&t.name))?;
        if need > 0 {
            self.alloc_run(need, if n > 0 { Some(run) } else { None })?;
        }
        if n > 0 {
            self.reserved.push(run);
        }
        let extent = if n == 0 {
            Extent { start: 0, len: 0 }
        } else {
            Extent {
                start: self.dev_offset(self.cluster_offset(run.start)),
                len: size,
            }
        };
        Ok(Pending {
            path: t.path,
            size,
            run,
            extent,
        })
    }

    /// Make a reserved file visible: the bitmap first, then the entry set (NoFatChain).
    pub fn commit(&mut self, p: Pending) -> Result<DirEntry, Error> {
        self.check_writable()?;
        // The reservation ends here, committed or not; below it is avoided explicitly.
        self.reserved.retain(|r| *r != p.run);
        let mut t = self.free_target(&p.path)?;
        let reserved = (p.run.len > 0).then_some(p.run);
        if let Some(r) = reserved {
            if !self.run_is_free(r)? {
                return Err(Error::ReservationLost { cluster: r.start });
            }
        }
        // The caller's data must be durable before anything points at it.
        self.dev.flush()?;
        let n = Self::set_len(&t.name);
        let slot = self.ensure_slot(&mut t.dir, n, &t.parent_path, reserved)?;
        if let Some(r) = reserved {
            self.bitmap_set(r, true)?;
            self.dev.flush()?;
        }
        let flags = if reserved.is_some() {
            stream::ALLOCATION_POSSIBLE | stream::NO_FAT_CHAIN
        } else {
            stream::ALLOCATION_POSSIBLE
        };
        let set = self.new_set(&t.name, file::ATTR_ARCHIVE, flags, p.run, p.size);
        self.write_entries(&t.dir.clusters, &Self::place_changes(slot, &set))?;
        self.dev.flush()?;
        let entries = set;
        Ok(DirEntry {
            name: char::decode_utf16(t.name.iter().copied())
                .map(|c| c.unwrap_or('\u{FFFD}'))
                .collect(),
            is_dir: false,
            size: p.size,
            first_cluster: p.run.start,
            contiguous: reserved.is_some(),
            attributes: file::ATTR_ARCHIVE,
            modified: crate::raw::le32(&entries[0], file::LAST_MODIFIED_TIMESTAMP),
            valid_size: p.size,
        })
    }

    /// Drop a reservation without writing anything (the data the caller may have
    /// written to its extent stays invisible).
    pub fn cancel(&mut self, p: Pending) {
        self.reserved.retain(|r| *r != p.run);
    }

    /// Write `data` to the clusters of `runs` (whole sectors; the tail of the last
    /// sector is zero-filled).
    fn write_data(&mut self, runs: &[Run], data: &[u8]) -> Result<(), Error> {
        let ss = self.g.ss as usize;
        let cs = self.g.cs as usize;
        let mut done = 0usize;
        for r in runs {
            if done >= data.len() {
                break;
            }
            let cap = r.len as usize * cs;
            let n = cap.min(data.len() - done);
            let whole = n - n % ss;
            let base = self.cluster_offset(r.start);
            if whole > 0 {
                self.write_bytes(base, &data[done..done + whole])?;
            }
            if whole < n {
                let mut last = vec![0u8; ss];
                last[..n - whole].copy_from_slice(&data[done + whole..done + n]);
                self.write_bytes(base + whole as u64, &last)?;
            }
            done += n;
        }
        Ok(())
    }

    /// Create or overwrite a (small) file with `data`.
    ///
    /// An existing file is replaced copy-on-write: the data goes to a new contiguous run,
    /// the bitmap marks it, one sector write switches the entry set to it, and the old
    /// clusters are freed after; a crash shows the old or the new contents, never a mix.
    /// Only when the volume has no room for a second copy and the cluster count does not
    /// change is the file overwritten in place (then a crash can tear its contents).
    pub fn write_file(&mut self, path: &str, data: &[u8]) -> Result<(), Error> {
        self.check_writable()?;
        let resolved = self.resolve(path);
        let loc = match resolved {
            Ok(Resolved::Root) => return Err(Error::IsADirectory { path: path.into() }),
            Ok(Resolved::Entry(loc)) => loc,
            Err(Error::NotFound { .. }) => {
                let p = self.reserve_contiguous(path, data.len() as u64)?;
                if let Err(e) = self.write_data(&[p.run], data) {
                    self.cancel(p);
                    return Err(e);
                }
                self.commit(p)?;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let Located { parent, mut set } = loc;
        if set.is_dir() {
            return Err(Error::IsADirectory { path: path.into() });
        }
        let cs = self.g.cs;
        let old_runs = self.file_runs(set.first_cluster, set.size, set.contiguous(), set.at)?;
        let len = data.len() as u64;
        let now = self.now().to_dos();
        let old_n = set.size.div_ceil(cs);
        let new_n = len.div_ceil(cs);
        let new_n = u32::try_from(new_n).map_err(|_| Error::NoSpace {
            needed: len,
            largest_free_run: 0,
        })?;
        let r = match self.alloc_run(new_n, None) {
            Ok(r) => r,
            // No room for a second copy: overwrite in place when the clusters suffice.
            Err(Error::NoSpace { .. }) if u64::from(new_n) == old_n && new_n > 0 => {
                self.write_data(&old_runs, data)?;
                self.dev.flush()?;
                self.rewrite_set(&parent.clusters, &mut set, |e| set_length(e, len, now))?;
                self.dev.flush()?;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        self.write_data(&[r], data)?;
        self.dev.flush()?;
        self.bitmap_set(r, true)?;
        self.dev.flush()?;
        self.rewrite_set(&parent.clusters, &mut set, |e| {
            let flags = if new_n > 0 {
                stream::ALLOCATION_POSSIBLE | stream::NO_FAT_CHAIN
            } else {
                stream::ALLOCATION_POSSIBLE
            };
            e[1][stream::FLAGS] = flags;
            put32(&mut e[1], stream::FIRST_CLUSTER, r.start);
            set_length(e, len, now);
        })?;
        self.dev.flush()?;
        for o in old_runs {
            self.bitmap_set(o, false)?;
        }
        self.dev.flush()?;
        Ok(())
    }

    /// Delete a file or an empty directory: the entry set is marked deleted (one sector
    /// write, file entry first), then its clusters are freed in the bitmap. A file whose
    /// FAT chain is damaged is deleted too, its clusters left marked.
    pub fn delete(&mut self, path: &str) -> Result<(), Error> {
        self.check_writable()?;
        let Resolved::Entry(loc) = self.resolve(path)? else {
            return Err(Error::InvalidName {
                name: path.into(),
                reason: "the root directory cannot be deleted",
            });
        };
        // A file whose FAT chain is damaged can still be deleted: its clusters are then
        // left marked (leaked, which is safe) rather than freed on a guess.
        let runs = self
            .file_runs(
                loc.set.first_cluster,
                loc.set.size,
                loc.set.contiguous(),
                loc.set.at,
            )
            .unwrap_or_default();
        let Located { parent, set } = loc;
        if set.is_dir() {
            let sub = self.dir_of(Located {
                parent: Dir {
                    clusters: Vec::new(),
                    owner: None,
                },
                set: set.clone(),
            })?;
            let mut empty = true;
            self.scan_dir(&sub.clusters, &mut |item| {
                if matches!(item, Item::File(_)) {
                    empty = false;
                    return false;
                }
                true
            })?;
            if !empty {
                return Err(Error::DirectoryNotEmpty { path: path.into() });
            }
        }
        let changes: Vec<(u32, [u8; 32])> = set
            .entries
            .iter()
            .enumerate()
            .map(|(k, e)| (set.index + k as u32, deleted(e)))
            .collect();
        self.write_entries(&parent.clusters, &changes)?;
        self.dev.flush()?;
        for r in runs {
            self.bitmap_set(r, false)?;
        }
        self.dev.flush()?;
        Ok(())
    }

    /// Rename or move a file or directory; an existing file at `to` is replaced (a
    /// directory is not). The data never moves for files over [`COPY_LIMIT`], so their
    /// extents stay valid. Order (docs/exfat.md):
    ///
    /// 1. a replaced target whose set is in another sector is deleted first;
    /// 2. within one directory, when a place for the new set exists in the sector of the
    ///    old one (counting the old set's own slots), old and new change in one write;
    /// 3. otherwise a file up to [`COPY_LIMIT`] is copied to new clusters, the new set
    ///    written, then the old set deleted (a crash shows both complete copies);
    /// 4. otherwise the old set is deleted, then the new one written, with VolumeDirty
    ///    set around the two writes (a crash loses the entry; its clusters leak, which
    ///    fsck.exfat -n accepts).
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), Error> {
        self.check_writable()?;
        let Resolved::Entry(src) = self.resolve(from)? else {
            return Err(Error::InvalidName {
                name: from.into(),
                reason: "the root directory cannot be renamed",
            });
        };
        // A directory cannot move into itself.
        let up = |v: &Self, p: &str| -> Vec<Vec<u16>> {
            split_path(p)
                .iter()
                .map(|c| v.upcase.up_name(&c.encode_utf16().collect::<Vec<_>>()))
                .collect()
        };
        let (fc, tc) = (up(self, from), up(self, to));
        if src.set.is_dir() && tc.len() > fc.len() && tc[..fc.len()] == fc[..] {
            return Err(Error::InvalidName {
                name: to.into(),
                reason: "a directory cannot move into itself",
            });
        }
        let mut t = self.target(to)?;
        let same_dir = t.dir.clusters.first() == src.parent.clusters.first();
        let mut replaced: Option<FileSet> = None;
        if let Some(x) = self.find(&t.dir.clusters, &t.name)? {
            let is_self = same_dir && x.index == src.set.index;
            if !is_self {
                if x.is_dir() || src.set.is_dir() {
                    return Err(Error::AlreadyExists { path: t.path });
                }
                replaced = Some(x);
            }
        }
        let new_set = rename_set(&src.set.entries, &t.name, &self.upcase);
        let n = new_set.len();
        let del = |set: &FileSet| -> Vec<(u32, [u8; 32])> {
            set.entries
                .iter()
                .enumerate()
                .map(|(k, e)| (set.index + k as u32, deleted(e)))
                .collect()
        };
        let del_old = del(&src.set);
        let replaced_runs = match &replaced {
            Some(x) => self.file_runs(x.first_cluster, x.size, x.contiguous(), x.at)?,
            None => Vec::new(),
        };
        let ss = u64::from(self.g.ss);
        let old_sector = self.entry_offset(&src.parent.clusters, src.set.index)? / ss;
        let old_last = src.set.index + src.set.entries.len() as u32 - 1;
        let old_in_one = self.entry_offset(&src.parent.clusters, old_last)? / ss == old_sector;

        // 1. A replaced target elsewhere goes first.
        let mut del_replaced = replaced.as_ref().map(del).unwrap_or_default();
        if let Some(x) = &replaced {
            let xs = self.entry_offset(&t.dir.clusters, x.index)? / ss;
            if !(same_dir && old_in_one && xs == old_sector) {
                self.write_entries(&t.dir.clusters, &del_replaced)?;
                self.dev.flush()?;
                del_replaced.clear();
            }
        }

        // 2. One sector write within the directory.
        if same_dir && old_in_one {
            if let Some(slot) = self.slot_in_sector(&t.dir, n, old_sector, &src.set)? {
                let mut changes = del_old.clone();
                changes.extend(del_replaced.iter().copied());
                changes.extend(Self::place_changes(slot, &new_set));
                let mut one = true;
                for (i, _) in &changes {
                    one &= self.entry_offset(&t.dir.clusters, *i)? / ss == old_sector;
                }
                if one {
                    self.write_entries(&t.dir.clusters, &changes)?;
                    self.dev.flush()?;
                    return self.free_runs(replaced_runs);
                }
            }
        }
        if !del_replaced.is_empty() {
            self.write_entries(&t.dir.clusters, &del_replaced)?;
            self.dev.flush()?;
        }

        // 3. A small file: copy the data, so that no state shares clusters or loses them.
        if !src.set.is_dir() && src.set.size > 0 && src.set.size <= COPY_LIMIT {
            let old_runs = self.file_runs(
                src.set.first_cluster,
                src.set.size,
                src.set.contiguous(),
                src.set.at,
            )?;
            let nclusters = src.set.size.div_ceil(self.g.cs) as u32;
            let grow = self.growth_need(&t.dir, n)?;
            let room = match self.alloc_run(nclusters, None) {
                Ok(r) if grow == 0 || self.alloc_run(grow, Some(r)).is_ok() => Some(r),
                _ => None,
            };
            if let Some(r) = room {
                let slot = self.ensure_slot(&mut t.dir, n, &t.parent_path, Some(r))?;
                self.copy_to_run(&old_runs, src.set.size, r)?;
                self.dev.flush()?;
                self.bitmap_set(r, true)?;
                self.dev.flush()?;
                let mut copy = new_set.clone();
                copy[1][stream::FLAGS] |= stream::NO_FAT_CHAIN | stream::ALLOCATION_POSSIBLE;
                put32(&mut copy[1], stream::FIRST_CLUSTER, r.start);
                fix_checksum(&mut copy);
                self.write_entries(&t.dir.clusters, &Self::place_changes(slot, &copy))?;
                self.dev.flush()?;
                // The old set may have moved with its directory if that one grew.
                let src_parent = if same_dir {
                    t.dir.clusters.clone()
                } else {
                    src.parent.clusters.clone()
                };
                self.write_entries(&src_parent, &del_old)?;
                self.dev.flush()?;
                return self.free_runs(old_runs.into_iter().chain(replaced_runs).collect());
            }
        }

        // 4. Delete the old set, then write the new one.
        let slot = self.ensure_slot(&mut t.dir, n, &t.parent_path, None)?;
        let src_parent = if same_dir {
            t.dir.clusters.clone()
        } else {
            src.parent.clusters.clone()
        };
        self.set_dirty(true)?;
        self.write_entries(&src_parent, &del_old)?;
        self.dev.flush()?;
        // Slots freed by the deletion may hold the new set; a fresh slot is still free.
        self.write_entries(&t.dir.clusters, &Self::place_changes(slot, &new_set))?;
        self.dev.flush()?;
        self.free_runs(replaced_runs)?;
        self.set_dirty(false)?;
        Ok(())
    }

    /// Free runs in the bitmap, then flush.
    fn free_runs(&mut self, runs: Vec<Run>) -> Result<(), Error> {
        for r in runs {
            self.bitmap_set(r, false)?;
        }
        self.dev.flush()?;
        Ok(())
    }

    /// A place for `n` entries inside sector `sector` (partition sector number), the
    /// slots of `old` counting as free.
    fn slot_in_sector(
        &mut self,
        dir: &Dir,
        n: usize,
        sector: u64,
        old: &FileSet,
    ) -> Result<Option<Slot>, Error> {
        let ss = u64::from(self.g.ss);
        let per_sector = ss / entry::SIZE as u64;
        if n as u64 > per_sector {
            return Ok(None);
        }
        // Entry indices of this sector: the directory offset of the sector's first entry.
        let mut first_index: Option<u32> = None;
        for (k, &c) in dir.clusters.iter().enumerate() {
            let base = self.cluster_offset(c) / ss;
            let spc = self.g.cs / ss;
            if sector >= base && sector < base + spc {
                let idx = (k as u64 * spc + (sector - base)) * per_sector;
                first_index = u32::try_from(idx).ok();
                break;
            }
        }
        let Some(first) = first_index else {
            return Ok(None);
        };
        let last = first + per_sector as u32;
        let old_range = old.index..old.index + old.entries.len() as u32;
        let mut free = vec![false; per_sector as usize];
        let end = self.scan_dir(&dir.clusters, &mut |item| {
            let i = match item {
                Item::Free(i) => Some(i),
                Item::File(s) if s.index == old.index => None,
                Item::File(s) => {
                    return s.index < last;
                }
                Item::Other(i, _) => return i < last,
                // Strict scans never yield it.
                Item::Bad(_) => return true,
            };
            if let Some(i) = i {
                if i >= first && i < last {
                    free[(i - first) as usize] = true;
                }
                return i < last;
            }
            true
        })?;
        for i in old_range {
            if i >= first && i < last {
                free[(i - first) as usize] = true;
            }
        }
        let mut run = 0usize;
        for (k, f) in free.iter().enumerate() {
            run = if *f { run + 1 } else { 0 };
            if run == n {
                let index = first + (k + 1 - n) as u32;
                return Ok(Some(Slot {
                    index,
                    end: end.end,
                }));
            }
        }
        Ok(None)
    }
}

impl<D: BlockDevice> Volume<D> {
    /// Copy `size` bytes laid over `runs` to the start of run `to`, 1 MiB at a time.
    fn copy_to_run(&mut self, runs: &[Run], size: u64, to: Run) -> Result<(), Error> {
        let total = size.div_ceil(self.g.cs) * self.g.cs;
        let chunk = total.min(1 << 20) as usize;
        let mut buf = vec![0u8; chunk];
        let mut off = 0u64;
        while off < total {
            let n = (chunk as u64).min(total - off) as usize;
            self.read_runs(runs, off, &mut buf[..n])?;
            self.write_bytes(self.cluster_offset(to.start) + off, &buf[..n])?;
            off += n as u64;
        }
        Ok(())
    }
}
