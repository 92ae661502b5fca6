//! A mounted volume: `open` validates the boot region (falling back to the backup
//! region), loads the up-case table and finds the allocation bitmap; the public read API
//! (directories, stat, extents, reads, free space) is here. The parts below it that `dir`,
//! the read API and the write API share each have their own module: [`boot`] (boot region
//! and geometry), [`io`] (partition-relative byte I/O), [`fat`] (FAT entries and chains)
//! and [`bitmap`] (the allocation bitmap).

mod bitmap;
mod boot;
mod fat;
mod io;

pub(crate) use boot::Geometry;
pub(crate) use io::check_partition_fits;

use crate::checksum::table_checksum;
use crate::dir::{Dir, DirEntry, Item, Resolved};
use crate::error::Error;
use crate::raw::{self, entry, le16, le32, le64, region};
use crate::time::DateTime;
use crate::upcase::Upcase;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use blockdev::{BlockDevice, Extent};
use fat::FatCache;

/// The largest directory exFAT allows (256 MiB).
pub(crate) const MAX_DIR_BYTES: u64 = 256 * 1024 * 1024;
/// The largest up-case table accepted (an uncompressed table is 128 KiB).
const MAX_UPCASE_BYTES: u64 = 256 * 1024;

/// A run of `len` clusters from `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub start: u32,
    pub len: u32,
}

/// An exFAT volume on device sectors `[start_lba, start_lba + sectors)`.
pub struct Volume<D> {
    pub(crate) dev: D,
    pub(crate) start_lba: u64,
    pub(crate) sectors: u64,
    pub(crate) g: Geometry,
    pub(crate) upcase: Upcase,
    pub(crate) label: String,
    pub(crate) bitmap_cluster: u32,
    pub(crate) bitmap_len: u64,
    pub(crate) clock: fn() -> DateTime,
    fat_cache: FatCache,
    was_dirty: bool,
    read_only_reason: Option<&'static str>,
    /// Runs handed out by `reserve_contiguous` and not yet committed or cancelled: no
    /// other allocation takes them.
    pub(crate) reserved: Vec<Run>,
    /// One sector, for unaligned reads and read-modify-write (allocated once).
    bounce: Vec<u8>,
}

fn default_clock() -> DateTime {
    #[cfg(feature = "std")]
    {
        crate::time::system_clock()
    }
    #[cfg(not(feature = "std"))]
    {
        DateTime::EPOCH
    }
}

/// The allocation bitmap entry of the root directory: FirstCluster, DataLength and the
/// device offset of the entry.
type BitmapEntry = (u32, u64, u64);

/// The up-case table entry of the root directory: FirstCluster, DataLength,
/// TableChecksum and the device offset of the entry.
type UpcaseEntry = (u32, u64, u32, u64);

/// The entries `open` needs from the root directory (the first of each kind).
#[derive(Default)]
struct RootMetadata {
    bitmap: Option<BitmapEntry>,
    upcase: Option<UpcaseEntry>,
    label: Option<Vec<u16>>,
}

impl RootMetadata {
    /// Take `e` (at device offset `at`) if it is the first entry of its kind.
    fn note(&mut self, e: &[u8; 32], at: u64) {
        let active_fat = 0u8; // TexFAT's second bitmap is not used
        match e[0] {
            entry::ALLOCATION_BITMAP if e[raw::alloc_entry::BITMAP_FLAGS] & 1 == active_fat => {
                self.bitmap.get_or_insert((
                    le32(e, raw::alloc_entry::FIRST_CLUSTER),
                    le64(e, raw::alloc_entry::DATA_LENGTH),
                    at,
                ));
            }
            entry::UPCASE_TABLE => {
                self.upcase.get_or_insert((
                    le32(e, raw::alloc_entry::FIRST_CLUSTER),
                    le64(e, raw::alloc_entry::DATA_LENGTH),
                    le32(e, raw::alloc_entry::TABLE_CHECKSUM),
                    at,
                ));
            }
            entry::VOLUME_LABEL => {
                let n = usize::from(e[raw::label::CHARACTER_COUNT]).min(entry::LABEL_CHARS);
                self.label.get_or_insert(
                    (0..n)
                        .map(|k| le16(e, raw::label::VOLUME_LABEL + 2 * k))
                        .collect(),
                );
            }
            _ => {}
        }
    }
}

impl<D: BlockDevice> Volume<D> {
    /// Open the exFAT volume on device sectors `[start_lba, start_lba + sectors)`.
    pub fn open(mut dev: D, start_lba: u64, sectors: u64) -> Result<Self, Error> {
        let ss = dev.sector_size();
        if !(512..=4096).contains(&ss) || !ss.is_power_of_two() {
            return Err(Error::Unsupported {
                what: "device sector size",
                value: u64::from(ss),
            });
        }
        check_partition_fits(dev.sector_count(), start_lba, sectors)?;
        if sectors < 2 * region::SECTORS {
            return Err(Error::InvalidParameter {
                what: "partition size in sectors",
                value: sectors,
            });
        }
        let boot = boot::open_boot_region(&mut dev, start_lba, sectors)?;
        let mut v = Volume {
            dev,
            start_lba,
            sectors,
            g: boot.geometry,
            upcase: Upcase::decode(&[]),
            label: String::new(),
            bitmap_cluster: 0,
            bitmap_len: 0,
            clock: default_clock,
            fat_cache: FatCache::default(),
            was_dirty: boot.flags & raw::boot::FLAG_VOLUME_DIRTY != 0,
            read_only_reason: boot.read_only_reason,
            reserved: Vec::new(),
            bounce: vec![0u8; ss as usize],
        };
        v.load_root_metadata()?;
        Ok(v)
    }

    /// Find the bitmap, up-case table and label in the root directory.
    fn load_root_metadata(&mut self) -> Result<(), Error> {
        let meta = self.root_metadata()?;
        let root_at = self.cluster_dev_offset(self.g.root);
        let (bm_first, bm_len, bm_at) = meta.bitmap.ok_or(Error::Corrupt {
            what: "root directory: no allocation bitmap entry",
            offset: root_at,
            value: 0,
        })?;
        self.load_bitmap(bm_first, bm_len, bm_at)?;
        let upcase = meta.upcase.ok_or(Error::Corrupt {
            what: "root directory: no up-case table entry",
            offset: root_at,
            value: 0,
        })?;
        self.load_upcase(upcase)?;
        self.label = meta
            .label
            .map(|l| {
                char::decode_utf16(l)
                    .map(|c| c.unwrap_or('\u{FFFD}'))
                    .collect()
            })
            .unwrap_or_default();
        Ok(())
    }

    /// The bitmap, up-case table and label entries of the root directory (damaged file
    /// entry sets are skipped).
    fn root_metadata(&mut self) -> Result<RootMetadata, Error> {
        let root = self.root_dir()?;
        let mut found: Vec<(u32, [u8; 32])> = Vec::new();
        self.scan_dir_mode(
            &root.clusters,
            &mut |item| {
                if let Item::Other(i, e) = item {
                    if matches!(
                        e[0],
                        entry::ALLOCATION_BITMAP | entry::UPCASE_TABLE | entry::VOLUME_LABEL
                    ) {
                        found.push((i, *e));
                    }
                }
                true
            },
            true,
        )?;
        let mut meta = RootMetadata::default();
        for (i, e) in found {
            let at = self.entry_offset(&root.clusters, i).unwrap_or(0);
            meta.note(&e, at);
        }
        Ok(meta)
    }

    /// Read the up-case table of the root directory's entry, check its checksum and
    /// decode it.
    fn load_upcase(&mut self, (first, len, sum, at): UpcaseEntry) -> Result<(), Error> {
        if len == 0 || len > MAX_UPCASE_BYTES {
            return Err(Error::Corrupt {
                what: "up-case table DataLength",
                offset: at + raw::alloc_entry::DATA_LENGTH as u64,
                value: len,
            });
        }
        let runs = self.file_runs(first, len, false, at)?;
        let mut table = vec![0u8; len as usize];
        self.read_runs(&runs, 0, &mut table)?;
        let computed = table_checksum(&table);
        if computed != sum {
            return Err(Error::BadChecksum {
                what: "up-case table",
                offset: at + raw::alloc_entry::TABLE_CHECKSUM as u64,
                stored: sum,
                computed,
            });
        }
        self.upcase = Upcase::decode(&table);
        Ok(())
    }

    /// Check that `bytes` starting at cluster `first` lie inside the cluster heap.
    fn contiguous_check(
        &self,
        first: u32,
        bytes: u64,
        what: &'static str,
        at: u64,
    ) -> Result<(), Error> {
        let n = bytes.div_ceil(self.g.cs);
        if first < 2 || u64::from(first) + n > u64::from(self.g.cluster_count) + 2 {
            return Err(Error::Corrupt {
                what,
                offset: at + raw::alloc_entry::FIRST_CLUSTER as u64,
                value: u64::from(first),
            });
        }
        Ok(())
    }

    /// The device, for the caller's own writes (the data of a pending file).
    pub fn device(&mut self) -> &mut D {
        self.fat_cache.invalidate();
        &mut self.dev
    }

    /// Give the device back.
    pub fn into_inner(self) -> D {
        self.dev
    }

    /// The volume label.
    pub fn label(&self) -> String {
        self.label.clone()
    }

    /// Bytes per cluster.
    pub fn cluster_size(&self) -> u32 {
        self.g.cs as u32
    }

    /// Number of clusters in the cluster heap.
    pub fn cluster_count(&self) -> u32 {
        self.g.cluster_count
    }

    /// Whether VolumeDirty was set when the volume was opened (another system, or a
    /// bootshelf rename cut short, left it possibly inconsistent: worth an fsck).
    pub fn was_dirty(&self) -> bool {
        self.was_dirty
    }

    /// Device byte offset of cluster `cluster`, or None if it is not a cluster of the
    /// heap (2 ..= ClusterCount + 1). Reads nothing.
    pub fn cluster_device_offset(&self, cluster: u32) -> Option<u64> {
        self.valid_cluster(cluster)
            .then(|| self.cluster_dev_offset(cluster))
    }

    /// VolumeSerialNumber.
    pub fn serial(&self) -> u32 {
        self.g.serial
    }

    /// Set the clock used for timestamps of created and modified files (default: the
    /// system clock with feature `std`, 1980-01-01 without).
    pub fn set_clock(&mut self, clock: fn() -> DateTime) {
        self.clock = clock;
    }

    // ----- read API -----

    /// The entries of the directory at `path` ("/" or "/a/b", case-insensitive).
    pub fn read_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, Error> {
        let dir = self.open_dir(path)?;
        let mut out = Vec::new();
        self.scan_dir(&dir.clusters, &mut |item| {
            if let Item::File(set) = item {
                out.push(set.to_dir_entry());
            }
            true
        })?;
        Ok(out)
    }

    /// Like `read_dir`, but damaged entry sets are skipped and reported next to the
    /// entries that read fine (for a boot menu that should still list the rest).
    pub fn read_dir_tolerant(&mut self, path: &str) -> Result<(Vec<DirEntry>, Vec<Error>), Error> {
        let dir = self.open_dir(path)?;
        let mut out = Vec::new();
        let mut bad = Vec::new();
        self.scan_dir_mode(
            &dir.clusters,
            &mut |item| {
                match item {
                    Item::File(set) => out.push(set.to_dir_entry()),
                    Item::Bad(e) => bad.push(e),
                    _ => {}
                }
                true
            },
            true,
        )?;
        Ok((out, bad))
    }

    /// The entry at `path`; "/" is the root directory.
    pub fn stat(&mut self, path: &str) -> Result<DirEntry, Error> {
        match self.resolve(path)? {
            Resolved::Root => {
                let root = self.root_dir()?;
                Ok(DirEntry {
                    name: String::new(),
                    is_dir: true,
                    size: root.clusters.len() as u64 * self.g.cs,
                    valid_size: root.clusters.len() as u64 * self.g.cs,
                    first_cluster: self.g.root,
                    contiguous: false,
                    attributes: raw::file::ATTR_DIRECTORY,
                    modified: 0,
                })
            }
            Resolved::Entry(loc) => Ok(loc.set.to_dir_entry()),
        }
    }

    /// Device byte extents covering the `e.size` bytes of `e`, in file order, adjacent
    /// runs merged.
    pub fn extents(&mut self, e: &DirEntry) -> Result<Vec<Extent>, Error> {
        let runs = self.file_runs(e.first_cluster, e.size, e.contiguous, 0)?;
        Ok(self.runs_to_extents(&runs, e.size))
    }

    fn runs_to_extents(&self, runs: &[Run], size: u64) -> Vec<Extent> {
        let mut out: Vec<Extent> = Vec::new();
        let mut left = size;
        for r in runs {
            if left == 0 {
                break;
            }
            let len = (u64::from(r.len) * self.g.cs).min(left);
            let start = self.cluster_dev_offset(r.start);
            left -= len;
            match out.last_mut() {
                Some(x) if x.start + x.len == start => x.len += len,
                _ => out.push(Extent { start, len }),
            }
        }
        out
    }

    /// Read `buf.len()` bytes of `e` from `offset`; bytes past the valid data length
    /// read as zeros.
    pub fn read_at(&mut self, e: &DirEntry, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        match offset.checked_add(buf.len() as u64) {
            Some(end) if end <= e.size => {}
            _ => {
                return Err(Error::OutOfRange {
                    offset,
                    len: buf.len() as u64,
                    size: e.size,
                })
            }
        }
        if buf.is_empty() {
            return Ok(());
        }
        let extents = self.extents(e)?;
        let valid = e.valid_size.min(e.size);
        let mut base = 0u64;
        let mut done = 0usize;
        for x in &extents {
            if done == buf.len() {
                break;
            }
            let pos = offset + done as u64;
            if pos < base + x.len {
                let within = pos - base;
                let n = ((x.len - within) as usize).min(buf.len() - done);
                let part = x.start - self.dev_offset(0) + within;
                self.read_bytes(part, &mut buf[done..done + n])?;
                done += n;
            }
            base += x.len;
        }
        // Zero what lies past ValidDataLength.
        if offset + buf.len() as u64 > valid {
            let from = valid.saturating_sub(offset) as usize;
            buf[from..].iter_mut().for_each(|b| *b = 0);
        }
        Ok(())
    }

    /// Free bytes (free clusters times the cluster size).
    pub fn free_bytes(&mut self) -> Result<u64, Error> {
        Ok(self.bitmap_survey(0, &[])?.free * self.g.cs)
    }

    /// The largest contiguous free run, in bytes.
    pub fn largest_free_run(&mut self) -> Result<u64, Error> {
        Ok(self.bitmap_survey(0, &[])?.longest * self.g.cs)
    }

    /// The root directory.
    pub(crate) fn root_dir(&mut self) -> Result<Dir, Error> {
        let max = (MAX_DIR_BYTES / self.g.cs).max(1);
        let clusters = self.chain_to_end(self.g.root, max)?;
        Ok(Dir {
            clusters,
            owner: None,
        })
    }
}
