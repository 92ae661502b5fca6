//! A mounted volume: `open` validates the boot region (falling back to the backup
//! region), loads the up-case table and finds the allocation bitmap; below that sit the
//! partition-relative byte I/O, the FAT and the bitmap that `dir`, the read API and the
//! write API share.

use crate::checksum::{boot_checksum_sector, table_checksum};
use crate::dir::{Dir, DirEntry, Resolved};
use crate::error::Error;
use crate::raw::{self, boot, entry, le16, le32, le64, region};
use crate::time::DateTime;
use crate::upcase::Upcase;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use blockdev::{BlockDevice, Extent};

/// The largest directory exFAT allows (256 MiB).
pub(crate) const MAX_DIR_BYTES: u64 = 256 * 1024 * 1024;
/// The largest up-case table accepted (an uncompressed table is 128 KiB).
const MAX_UPCASE_BYTES: u64 = 256 * 1024;
/// Bitmap bytes read per chunk when scanning for free space.
const BITMAP_CHUNK: usize = 64 * 1024;

/// Validated geometry of a volume, in partition-relative sectors and bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// Bytes per sector (the device's).
    pub ss: u32,
    /// Bytes per cluster.
    pub cs: u64,
    /// First sector of the active FAT.
    pub fat_lba: u64,
    /// First sector of the cluster heap.
    pub heap_lba: u64,
    /// ClusterCount.
    pub cluster_count: u32,
    /// FirstClusterOfRootDirectory.
    pub root: u32,
    /// VolumeSerialNumber.
    pub serial: u32,
}

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
    fat_cache: Option<(u64, Vec<u8>)>,
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

/// One rule per function: each checks a field of the main boot sector.
mod rules {
    use super::*;

    pub fn signature(b: &[u8], at: u64) -> Result<(), Error> {
        let v = le16(b, boot::BOOT_SIGNATURE);
        if v != 0xAA55 {
            return Err(Error::Corrupt {
                what: "boot sector BootSignature",
                offset: at + boot::BOOT_SIGNATURE as u64,
                value: u64::from(v),
            });
        }
        Ok(())
    }

    pub fn fs_name(b: &[u8], at: u64) -> Result<(), Error> {
        if b.get(boot::FILE_SYSTEM_NAME..boot::FILE_SYSTEM_NAME + 8) != Some(&boot::FS_NAME[..]) {
            return Err(Error::Corrupt {
                what: "boot sector FileSystemName (not exFAT)",
                offset: at + boot::FILE_SYSTEM_NAME as u64,
                value: le64(b, boot::FILE_SYSTEM_NAME),
            });
        }
        Ok(())
    }

    pub fn must_be_zero(b: &[u8], at: u64) -> Result<(), Error> {
        if let Some(i) = (boot::MUST_BE_ZERO..boot::PARTITION_OFFSET).find(|&i| b[i] != 0) {
            return Err(Error::Corrupt {
                what: "boot sector MustBeZero",
                offset: at + i as u64,
                value: u64::from(b[i]),
            });
        }
        Ok(())
    }

    pub fn sector_shift(b: &[u8], at: u64, device_ss: u32) -> Result<(), Error> {
        let v = b[boot::BYTES_PER_SECTOR_SHIFT];
        if !(9..=12).contains(&v) {
            return Err(Error::Corrupt {
                what: "boot sector BytesPerSectorShift",
                offset: at + boot::BYTES_PER_SECTOR_SHIFT as u64,
                value: u64::from(v),
            });
        }
        if 1u32 << v != device_ss {
            return Err(Error::Unsupported {
                what: "exFAT sector size different from the device's logical sector size",
                value: 1u64 << v,
            });
        }
        Ok(())
    }

    pub fn cluster_shift(b: &[u8], at: u64) -> Result<(), Error> {
        let v = b[boot::SECTORS_PER_CLUSTER_SHIFT];
        if u32::from(v) + u32::from(b[boot::BYTES_PER_SECTOR_SHIFT]) > 25 {
            return Err(Error::Corrupt {
                what: "boot sector SectorsPerClusterShift",
                offset: at + boot::SECTORS_PER_CLUSTER_SHIFT as u64,
                value: u64::from(v),
            });
        }
        Ok(())
    }

    pub fn number_of_fats(b: &[u8], at: u64) -> Result<(), Error> {
        let v = b[boot::NUMBER_OF_FATS];
        if v != 1 && v != 2 {
            return Err(Error::Corrupt {
                what: "boot sector NumberOfFats",
                offset: at + boot::NUMBER_OF_FATS as u64,
                value: u64::from(v),
            });
        }
        Ok(())
    }

    pub fn revision(b: &[u8], at: u64) -> Result<(), Error> {
        let v = le16(b, boot::FILE_SYSTEM_REVISION);
        if v >> 8 != 1 {
            return Err(Error::Corrupt {
                what: "boot sector FileSystemRevision (major version not 1)",
                offset: at + boot::FILE_SYSTEM_REVISION as u64,
                value: u64::from(v),
            });
        }
        Ok(())
    }

    pub fn volume_length(b: &[u8], at: u64, sectors: u64) -> Result<u64, Error> {
        let v = le64(b, boot::VOLUME_LENGTH);
        let min = (1u64 << 20) >> b[boot::BYTES_PER_SECTOR_SHIFT];
        if v < min || v > sectors {
            return Err(Error::Corrupt {
                what: "boot sector VolumeLength (below 1 MiB or beyond the partition)",
                offset: at + boot::VOLUME_LENGTH as u64,
                value: v,
            });
        }
        Ok(v)
    }

    pub fn fat_region(b: &[u8], at: u64) -> Result<(), Error> {
        let off = u64::from(le32(b, boot::FAT_OFFSET));
        let len = u64::from(le32(b, boot::FAT_LENGTH));
        let nfats = u64::from(b[boot::NUMBER_OF_FATS]);
        let heap = u64::from(le32(b, boot::CLUSTER_HEAP_OFFSET));
        if off < 24 {
            return Err(Error::Corrupt {
                what: "boot sector FatOffset (inside the boot regions)",
                offset: at + boot::FAT_OFFSET as u64,
                value: off,
            });
        }
        if off + len * nfats > heap {
            return Err(Error::Corrupt {
                what: "boot sector ClusterHeapOffset (overlaps the FAT)",
                offset: at + boot::CLUSTER_HEAP_OFFSET as u64,
                value: heap,
            });
        }
        Ok(())
    }

    pub fn cluster_count(b: &[u8], at: u64, volume_length: u64) -> Result<(), Error> {
        let count = u64::from(le32(b, boot::CLUSTER_COUNT));
        let ss_shift = b[boot::BYTES_PER_SECTOR_SHIFT];
        let spc_shift = b[boot::SECTORS_PER_CLUSTER_SHIFT];
        let heap = u64::from(le32(b, boot::CLUSTER_HEAP_OFFSET));
        let fat_len = u64::from(le32(b, boot::FAT_LENGTH));
        let bad = |what| Error::Corrupt {
            what,
            offset: at + boot::CLUSTER_COUNT as u64,
            value: count,
        };
        if count == 0 || count > crate::format::MAX_CLUSTER_COUNT {
            return Err(bad("boot sector ClusterCount"));
        }
        if heap + (count << spc_shift) > volume_length {
            return Err(bad(
                "boot sector ClusterCount (heap reaches past VolumeLength)",
            ));
        }
        if (fat_len << ss_shift) < (count + 2) * 4 {
            return Err(bad(
                "boot sector ClusterCount (more clusters than the FAT holds)",
            ));
        }
        Ok(())
    }

    pub fn root_cluster(b: &[u8], at: u64) -> Result<(), Error> {
        let root = le32(b, boot::FIRST_CLUSTER_OF_ROOT);
        let count = le32(b, boot::CLUSTER_COUNT);
        if root < 2 || u64::from(root) > u64::from(count) + 1 {
            return Err(Error::Corrupt {
                what: "boot sector FirstClusterOfRootDirectory",
                offset: at + boot::FIRST_CLUSTER_OF_ROOT as u64,
                value: u64::from(root),
            });
        }
        Ok(())
    }

    pub fn checksum(region_bytes: &[u8], ss: usize, at: u64) -> Result<(), Error> {
        let mut sum = 0u32;
        for s in 0..region::CHECKSUM_SECTOR as usize {
            sum = boot_checksum_sector(sum, &region_bytes[s * ss..(s + 1) * ss], s == 0);
        }
        let cs = region::CHECKSUM_SECTOR as usize * ss;
        for i in (0..ss).step_by(4) {
            let stored = le32(region_bytes, cs + i);
            if stored != sum {
                return Err(Error::BadChecksum {
                    what: "boot region",
                    offset: at + (cs + i) as u64,
                    stored,
                    computed: sum,
                });
            }
        }
        Ok(())
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
        match start_lba.checked_add(sectors) {
            Some(end) if end <= dev.sector_count() => {}
            _ => {
                return Err(Error::InvalidParameter {
                    what: "partition end (past the end of the device)",
                    value: start_lba.saturating_add(sectors),
                })
            }
        }
        if sectors < 2 * region::SECTORS {
            return Err(Error::InvalidParameter {
                what: "partition size in sectors",
                value: sectors,
            });
        }
        let main = Self::boot_region(&mut dev, start_lba, 0, sectors);
        let (boot_bytes, geometry, from_backup) = match main {
            Ok((b, g)) => (b, g, false),
            Err(e) => match Self::boot_region(&mut dev, start_lba, region::SECTORS, sectors) {
                Ok((b, g)) => (b, g, true),
                Err(_) => return Err(e),
            },
        };
        let flags = le16(&boot_bytes, boot::VOLUME_FLAGS);
        let read_only_reason = if from_backup {
            Some("writes to a volume whose main boot region is damaged (run fsck.exfat)")
        } else if boot_bytes.get(boot::NUMBER_OF_FATS) == Some(&2) {
            Some("writes to a TexFAT volume (two FATs)")
        } else if flags & boot::FLAG_MEDIA_FAILURE != 0 {
            Some("writes to a volume flagged MediaFailure")
        } else {
            None
        };
        let mut v = Volume {
            dev,
            start_lba,
            sectors,
            g: geometry,
            upcase: Upcase::decode(&[]),
            label: String::new(),
            bitmap_cluster: 0,
            bitmap_len: 0,
            clock: default_clock,
            fat_cache: None,
            was_dirty: flags & boot::FLAG_VOLUME_DIRTY != 0,
            read_only_reason,
            reserved: Vec::new(),
            bounce: vec![0u8; ss as usize],
        };
        v.load_root_metadata()?;
        Ok(v)
    }

    /// Read and validate one boot region (at partition sector `first`).
    fn boot_region(
        dev: &mut D,
        start_lba: u64,
        first: u64,
        sectors: u64,
    ) -> Result<(Vec<u8>, Geometry), Error> {
        let ss = dev.sector_size();
        let ssz = ss as usize;
        let mut r = vec![0u8; ssz * region::SECTORS as usize];
        dev.read_sectors(start_lba + first, &mut r)?;
        let at = (start_lba + first) * u64::from(ss);
        let b = &r[..ssz];
        rules::signature(b, at)?;
        rules::fs_name(b, at)?;
        rules::must_be_zero(b, at)?;
        rules::sector_shift(b, at, ss)?;
        rules::cluster_shift(b, at)?;
        rules::number_of_fats(b, at)?;
        rules::revision(b, at)?;
        let volume_length = rules::volume_length(b, at, sectors)?;
        rules::fat_region(b, at)?;
        rules::cluster_count(b, at, volume_length)?;
        rules::root_cluster(b, at)?;
        rules::checksum(&r, ssz, at)?;
        let flags = le16(b, boot::VOLUME_FLAGS);
        let fat_length = u64::from(le32(b, boot::FAT_LENGTH));
        let active = if b[boot::NUMBER_OF_FATS] == 2 && flags & boot::FLAG_ACTIVE_FAT != 0 {
            1
        } else {
            0
        };
        let g = Geometry {
            ss,
            cs: u64::from(ss) << b[boot::SECTORS_PER_CLUSTER_SHIFT],
            fat_lba: u64::from(le32(b, boot::FAT_OFFSET)) + active * fat_length,
            heap_lba: u64::from(le32(b, boot::CLUSTER_HEAP_OFFSET)),
            cluster_count: le32(b, boot::CLUSTER_COUNT),
            root: le32(b, boot::FIRST_CLUSTER_OF_ROOT),
            serial: le32(b, boot::VOLUME_SERIAL_NUMBER),
        };
        Ok((r, g))
    }

    /// Find the bitmap, up-case table and label in the root directory.
    fn load_root_metadata(&mut self) -> Result<(), Error> {
        let root = self.root_dir()?;
        let mut bitmap: Option<(u32, u64, u64)> = None;
        let mut upcase: Option<(u32, u64, u32, u64)> = None;
        let mut label: Option<Vec<u16>> = None;
        let mut others: Vec<(u32, [u8; 32])> = Vec::new();
        self.scan_dir_mode(
            &root.clusters,
            &mut |item| {
                if let crate::dir::Item::Other(i, e) = item {
                    if matches!(
                        e[0],
                        entry::ALLOCATION_BITMAP | entry::UPCASE_TABLE | entry::VOLUME_LABEL
                    ) {
                        others.push((i, *e));
                    }
                }
                true
            },
            true,
        )?;
        let active_fat = 0u8; // TexFAT's second bitmap is not used
        for (i, e) in others {
            let at = self.entry_offset(&root.clusters, i).unwrap_or(0);
            match e[0] {
                entry::ALLOCATION_BITMAP if e[raw::alloc_entry::BITMAP_FLAGS] & 1 == active_fat => {
                    bitmap.get_or_insert((
                        le32(&e, raw::alloc_entry::FIRST_CLUSTER),
                        le64(&e, raw::alloc_entry::DATA_LENGTH),
                        at,
                    ));
                }
                entry::UPCASE_TABLE => {
                    upcase.get_or_insert((
                        le32(&e, raw::alloc_entry::FIRST_CLUSTER),
                        le64(&e, raw::alloc_entry::DATA_LENGTH),
                        le32(&e, raw::alloc_entry::TABLE_CHECKSUM),
                        at,
                    ));
                }
                entry::VOLUME_LABEL => {
                    let n = usize::from(e[raw::label::CHARACTER_COUNT]).min(entry::LABEL_CHARS);
                    label.get_or_insert(
                        (0..n)
                            .map(|k| le16(&e, raw::label::VOLUME_LABEL + 2 * k))
                            .collect(),
                    );
                }
                _ => {}
            }
        }
        let root_at = self.cluster_dev_offset(self.g.root);
        let (bm_first, bm_len, bm_at) = bitmap.ok_or(Error::Corrupt {
            what: "root directory: no allocation bitmap entry",
            offset: root_at,
            value: 0,
        })?;
        let need = u64::from(self.g.cluster_count).div_ceil(8);
        if bm_len < need {
            return Err(Error::Corrupt {
                what: "allocation bitmap DataLength (shorter than ClusterCount bits)",
                offset: bm_at + raw::alloc_entry::DATA_LENGTH as u64,
                value: bm_len,
            });
        }
        self.contiguous_check(bm_first, need, "allocation bitmap FirstCluster", bm_at)?;
        // The bitmap is read and written as one run: a FAT chain that leaves it is not
        // supported (no known implementation fragments it).
        let n = need.div_ceil(self.g.cs) as u32;
        for c in bm_first..bm_first.saturating_add(n).saturating_sub(1) {
            let next = self.fat_get(c)?;
            if self.valid_cluster(next) && next != c + 1 {
                return Err(Error::Unsupported {
                    what: "fragmented allocation bitmap",
                    value: u64::from(c),
                });
            }
        }
        self.bitmap_cluster = bm_first;
        self.bitmap_len = need;

        let (up_first, up_len, up_sum, up_at) = upcase.ok_or(Error::Corrupt {
            what: "root directory: no up-case table entry",
            offset: root_at,
            value: 0,
        })?;
        if up_len == 0 || up_len > MAX_UPCASE_BYTES {
            return Err(Error::Corrupt {
                what: "up-case table DataLength",
                offset: up_at + raw::alloc_entry::DATA_LENGTH as u64,
                value: up_len,
            });
        }
        let runs = self.file_runs(up_first, up_len, false, up_at)?;
        let mut table = vec![0u8; up_len as usize];
        self.read_runs(&runs, 0, &mut table)?;
        let computed = table_checksum(&table);
        if computed != up_sum {
            return Err(Error::BadChecksum {
                what: "up-case table",
                offset: up_at + raw::alloc_entry::TABLE_CHECKSUM as u64,
                stored: up_sum,
                computed,
            });
        }
        self.upcase = Upcase::decode(&table);
        self.label = label
            .map(|l| {
                char::decode_utf16(l)
                    .map(|c| c.unwrap_or('\u{FFFD}'))
                    .collect()
            })
            .unwrap_or_default();
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
        self.invalidate_fat_cache();
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

    /// Fail if this volume must not be written (opened from the backup boot region,
    /// TexFAT, MediaFailure).
    pub(crate) fn check_writable(&self) -> Result<(), Error> {
        match self.read_only_reason {
            Some(what) => Err(Error::Unsupported { what, value: 0 }),
            None => Ok(()),
        }
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

    // ----- partition-relative byte I/O -----

    /// Device byte offset of a partition byte offset.
    pub(crate) fn dev_offset(&self, part: u64) -> u64 {
        self.start_lba
            .saturating_mul(u64::from(self.g.ss))
            .saturating_add(part)
    }

    /// Partition byte offset of cluster `c` (which the caller has validated).
    pub(crate) fn cluster_offset(&self, c: u32) -> u64 {
        (self.g.heap_lba * u64::from(self.g.ss)) + u64::from(c.saturating_sub(2)) * self.g.cs
    }

    fn cluster_dev_offset(&self, c: u32) -> u64 {
        self.dev_offset(self.cluster_offset(c))
    }

    /// Whether `c` is a cluster of the heap.
    pub(crate) fn valid_cluster(&self, c: u32) -> bool {
        c >= 2 && u64::from(c) <= u64::from(self.g.cluster_count) + 1
    }

    /// Read `buf.len()` bytes at partition byte offset `off`.
    pub(crate) fn read_bytes(&mut self, off: u64, buf: &mut [u8]) -> Result<(), Error> {
        let ss = u64::from(self.g.ss);
        let limit = self.sectors * ss;
        match off.checked_add(buf.len() as u64) {
            Some(end) if end <= limit => {}
            _ => {
                return Err(Error::Io(blockdev::IoError::OutOfRange {
                    offset: self.dev_offset(off),
                    len: buf.len() as u64,
                    size: self.dev_offset(limit),
                }))
            }
        }
        let mut done = 0usize;
        while done < buf.len() {
            let pos = off + done as u64;
            let lba = self.start_lba + pos / ss;
            let within = (pos % ss) as usize;
            let remaining = buf.len() - done;
            if within == 0 && remaining as u64 >= ss {
                let whole = remaining - remaining % ss as usize;
                self.dev.read_sectors(lba, &mut buf[done..done + whole])?;
                done += whole;
            } else {
                let n = (ss as usize - within).min(remaining);
                self.bounce.resize(ss as usize, 0);
                self.dev.read_sectors(lba, &mut self.bounce)?;
                buf[done..done + n].copy_from_slice(&self.bounce[within..within + n]);
                done += n;
            }
        }
        Ok(())
    }

    /// Write `data` at partition byte offset `off`; partial sectors are read, modified and
    /// written, so a change inside one sector is exactly one device write.
    pub(crate) fn write_bytes(&mut self, off: u64, data: &[u8]) -> Result<(), Error> {
        let ss = u64::from(self.g.ss);
        let limit = self.sectors * ss;
        match off.checked_add(data.len() as u64) {
            Some(end) if end <= limit => {}
            _ => {
                return Err(Error::Io(blockdev::IoError::OutOfRange {
                    offset: self.dev_offset(off),
                    len: data.len() as u64,
                    size: self.dev_offset(limit),
                }))
            }
        }
        // Any write may touch the FAT.
        self.invalidate_fat_cache();
        let mut done = 0usize;
        while done < data.len() {
            let pos = off + done as u64;
            let lba = self.start_lba + pos / ss;
            let within = (pos % ss) as usize;
            let remaining = data.len() - done;
            if within == 0 && remaining as u64 >= ss {
                let whole = remaining - remaining % ss as usize;
                self.dev.write_sectors(lba, &data[done..done + whole])?;
                done += whole;
            } else {
                let n = (ss as usize - within).min(remaining);
                self.bounce.resize(ss as usize, 0);
                self.dev.read_sectors(lba, &mut self.bounce)?;
                self.bounce[within..within + n].copy_from_slice(&data[done..done + n]);
                self.dev.write_sectors(lba, &self.bounce)?;
                done += n;
            }
        }
        Ok(())
    }

    // ----- FAT -----

    /// Forget the cached FAT sector (keeping its buffer).
    fn invalidate_fat_cache(&mut self) {
        if let Some((lba, _)) = self.fat_cache.as_mut() {
            *lba = u64::MAX;
        }
    }

    /// FAT entry of cluster `c` (`c` must be below ClusterCount + 2).
    pub(crate) fn fat_get(&mut self, c: u32) -> Result<u32, Error> {
        let ss = u64::from(self.g.ss);
        let byte = u64::from(c) * 4;
        let lba = self.g.fat_lba + byte / ss;
        let within = (byte % ss) as usize;
        let hit = matches!(&self.fat_cache, Some((l, _)) if *l == lba);
        if !hit {
            // Reuse the cache's buffer: one allocation for the life of the volume.
            let mut buf = self
                .fat_cache
                .take()
                .map(|(_, b)| b)
                .unwrap_or_else(|| vec![0u8; ss as usize]);
            buf.resize(ss as usize, 0);
            self.read_bytes(lba * ss, &mut buf)?;
            self.fat_cache = Some((lba, buf));
        }
        Ok(self
            .fat_cache
            .as_ref()
            .map(|(_, b)| le32(b, within))
            .unwrap_or(0))
    }

    /// Set the FAT entry of cluster `c` (one sector write).
    pub(crate) fn fat_set(&mut self, c: u32, v: u32) -> Result<(), Error> {
        let off = self.g.fat_lba * u64::from(self.g.ss) + u64::from(c) * 4;
        self.write_bytes(off, &v.to_le_bytes())
    }

    /// The runs of clusters holding `size` bytes from `first`: one run for NoFatChain,
    /// the FAT chain (adjacent clusters merged) otherwise. Walks exactly as many clusters
    /// as `size` needs, so a cyclic chain cannot loop.
    pub(crate) fn file_runs(
        &mut self,
        first: u32,
        size: u64,
        contiguous: bool,
        at: u64,
    ) -> Result<Vec<Run>, Error> {
        let n = size.div_ceil(self.g.cs);
        if n == 0 {
            return Ok(Vec::new());
        }
        let first_bad = Error::Corrupt {
            what: "stream extension FirstCluster",
            offset: at,
            value: u64::from(first),
        };
        if !self.valid_cluster(first) || n > u64::from(self.g.cluster_count) {
            return Err(first_bad);
        }
        if contiguous {
            if u64::from(first) + n > u64::from(self.g.cluster_count) + 2 {
                return Err(Error::Corrupt {
                    what: "contiguous file reaching past the cluster heap (DataLength)",
                    offset: at,
                    value: size,
                });
            }
            return Ok(vec![Run {
                start: first,
                len: n as u32,
            }]);
        }
        let mut runs: Vec<Run> = Vec::new();
        let mut c = first;
        for i in 0..n {
            match runs.last_mut() {
                Some(r) if r.start + r.len == c => r.len += 1,
                _ => runs.push(Run { start: c, len: 1 }),
            }
            if i + 1 < n {
                let next = self.fat_get(c)?;
                if !self.valid_cluster(next) {
                    let fat_at =
                        self.dev_offset(self.g.fat_lba * u64::from(self.g.ss) + u64::from(c) * 4);
                    return Err(Error::Corrupt {
                        what: if next == raw::fat::END {
                            "FAT chain shorter than the file's DataLength"
                        } else {
                            "FAT entry (not a cluster of the heap)"
                        },
                        offset: fat_at,
                        value: u64::from(next),
                    });
                }
                c = next;
            }
        }
        Ok(runs)
    }

    /// The clusters of a chain that ends with an end-of-chain mark (the root directory),
    /// at most `max` of them.
    pub(crate) fn chain_to_end(&mut self, first: u32, max: u64) -> Result<Vec<u32>, Error> {
        let mut out = Vec::new();
        let mut c = first;
        loop {
            if !self.valid_cluster(c) {
                return Err(Error::Corrupt {
                    what: "root directory cluster chain",
                    offset: self.dev_offset(self.g.fat_lba * u64::from(self.g.ss)),
                    value: u64::from(c),
                });
            }
            if out.len() as u64 >= max {
                return Err(Error::Corrupt {
                    what: "root directory cluster chain (longer than 256 MiB or cyclic)",
                    offset: self
                        .dev_offset(self.g.fat_lba * u64::from(self.g.ss) + u64::from(c) * 4),
                    value: u64::from(c),
                });
            }
            out.push(c);
            let next = self.fat_get(c)?;
            if next == raw::fat::END {
                return Ok(out);
            }
            c = next;
        }
    }

    /// Read from byte `offset` of the bytes laid over `runs`.
    pub(crate) fn read_runs(
        &mut self,
        runs: &[Run],
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), Error> {
        let cs = self.g.cs;
        let mut base = 0u64;
        let mut done = 0usize;
        let mut pos = offset;
        for r in runs {
            if done == buf.len() {
                break;
            }
            let len = u64::from(r.len) * cs;
            if pos < base + len {
                let within = pos - base;
                let n = ((len - within) as usize).min(buf.len() - done);
                let off = self.cluster_offset(r.start) + within;
                self.read_bytes(off, &mut buf[done..done + n])?;
                done += n;
                pos += n as u64;
            }
            base += len;
        }
        if done < buf.len() {
            return Err(Error::OutOfRange {
                offset,
                len: buf.len() as u64,
                size: base,
            });
        }
        Ok(())
    }

    // ----- allocation bitmap -----

    /// Visit the bitmap bits of all clusters in chunks: `f(first_cluster, bytes)` where bit
    /// k of the chunk is cluster `first_cluster + k`; bits past ClusterCount are cleared.
    fn bitmap_chunks(&mut self, f: &mut dyn FnMut(u32, &[u8]) -> bool) -> Result<(), Error> {
        let base = self.cluster_offset(self.bitmap_cluster);
        let total = self.bitmap_len;
        let count = u64::from(self.g.cluster_count);
        let mut buf = vec![0u8; (BITMAP_CHUNK as u64).min(total) as usize];
        let mut off = 0u64;
        while off < total {
            let n = (BITMAP_CHUNK as u64).min(total - off) as usize;
            self.read_bytes(base + off, &mut buf[..n])?;
            let last_bit = (off + n as u64) * 8;
            if last_bit > count {
                // Clear bits past the last cluster.
                for bit in count..last_bit {
                    let byte = (bit / 8 - off) as usize;
                    buf[byte] &= !(1 << (bit % 8));
                }
            }
            if !f(2 + (off * 8) as u32, &buf[..n]) {
                break;
            }
            off += n as u64;
        }
        Ok(())
    }

    /// Free clusters, and the longest free run (start, length) with the first-fit run of
    /// at least `want` clusters that lies outside `avoid`.
    pub(crate) fn bitmap_survey(
        &mut self,
        want: u64,
        avoid: &[Run],
    ) -> Result<(u64, u64, Option<u32>), Error> {
        let count = u64::from(self.g.cluster_count);
        let mut free = 0u64;
        let mut longest = 0u64;
        let mut run_start = 0u64;
        let mut run_len = 0u64;
        let mut found: Option<u32> = None;
        let avoid: Vec<(u64, u64)> = avoid
            .iter()
            .map(|r| (u64::from(r.start), u64::from(r.start) + u64::from(r.len)))
            .collect();
        self.bitmap_chunks(&mut |first, bytes| {
            for (i, &byte) in bytes.iter().enumerate() {
                let c0 = u64::from(first) + i as u64 * 8;
                let plain =
                    c0 + 8 <= count + 2 && avoid.iter().all(|&(s, e)| c0 + 8 <= s || c0 >= e);
                // Whole bytes first: all used, or all free.
                if plain && byte == 0xFF {
                    run_len = 0;
                    continue;
                }
                if plain && byte == 0 {
                    free += 8;
                    if run_len == 0 {
                        run_start = c0;
                    }
                    run_len += 8;
                    longest = longest.max(run_len);
                    if found.is_none() && want > 0 && run_len >= want {
                        found = Some(run_start as u32);
                    }
                    continue;
                }
                for bit in 0..8u64 {
                    let c = u64::from(first) + i as u64 * 8 + bit;
                    if c >= count + 2 {
                        break;
                    }
                    let used =
                        byte & (1 << bit) != 0 || avoid.iter().any(|&(s, e)| c >= s && c < e);
                    if used {
                        run_len = 0;
                    } else {
                        if byte & (1 << bit) == 0 {
                            free += 1;
                        }
                        if run_len == 0 {
                            run_start = c;
                        }
                        run_len += 1;
                        longest = longest.max(run_len);
                        if found.is_none() && want > 0 && run_len >= want {
                            found = Some(run_start as u32);
                        }
                    }
                }
            }
            true
        })?;
        Ok((free, longest, found))
    }

    /// Whether every cluster of `r` is free in the bitmap.
    pub(crate) fn run_is_free(&mut self, r: Run) -> Result<bool, Error> {
        let first_bit = u64::from(r.start.saturating_sub(2));
        let last_bit = first_bit + u64::from(r.len);
        let first_byte = first_bit / 8;
        let bytes = (last_bit.div_ceil(8) - first_byte) as usize;
        let mut buf = vec![0u8; bytes.min(BITMAP_CHUNK)];
        let mut bit = first_bit;
        while bit < last_bit {
            let byte0 = bit / 8;
            let n = ((last_bit.div_ceil(8) - byte0) as usize).min(buf.len());
            let base = self.cluster_offset(self.bitmap_cluster);
            self.read_bytes(base + byte0, &mut buf[..n])?;
            let end = last_bit.min((byte0 + n as u64) * 8);
            for b in bit..end {
                if buf[(b / 8 - byte0) as usize] & (1 << (b % 8)) != 0 {
                    return Ok(false);
                }
            }
            bit = end;
        }
        Ok(true)
    }

    /// Mark the clusters of `r` used or free in the bitmap (sector by sector, ascending).
    pub(crate) fn bitmap_set(&mut self, r: Run, used: bool) -> Result<(), Error> {
        if r.len == 0 {
            return Ok(());
        }
        let first_bit = u64::from(r.start.saturating_sub(2));
        let last_bit = first_bit + u64::from(r.len);
        let base = self.cluster_offset(self.bitmap_cluster);
        let mut bit = first_bit;
        while bit < last_bit {
            let byte0 = bit / 8;
            let n = ((last_bit.div_ceil(8) - byte0) as usize).min(BITMAP_CHUNK);
            let mut buf = vec![0u8; n];
            self.read_bytes(base + byte0, &mut buf)?;
            let end = last_bit.min((byte0 + n as u64) * 8);
            for b in bit..end {
                let m = 1u8 << (b % 8);
                let slot = &mut buf[(b / 8 - byte0) as usize];
                if used {
                    *slot |= m;
                } else {
                    *slot &= !m;
                }
            }
            self.write_bytes(base + byte0, &buf)?;
            bit = end;
        }
        Ok(())
    }

    /// Set or clear VolumeDirty in the main boot sector (excluded from the checksum, so
    /// this is one sector write). A flag that was set when the volume was opened is left
    /// set: that inconsistency is not ours to declare fixed.
    pub(crate) fn set_dirty(&mut self, dirty: bool) -> Result<(), Error> {
        if !dirty && self.was_dirty {
            return Ok(());
        }
        let ss = self.g.ss as usize;
        let mut b = vec![0u8; ss];
        self.read_bytes(0, &mut b)?;
        let mut flags = le16(&b, boot::VOLUME_FLAGS);
        if dirty {
            flags |= boot::FLAG_VOLUME_DIRTY;
        } else {
            flags &= !boot::FLAG_VOLUME_DIRTY;
        }
        raw::put16(&mut b, boot::VOLUME_FLAGS, flags);
        self.write_bytes(0, &b)?;
        self.dev.flush()?;
        Ok(())
    }

    // ----- read API -----

    /// The entries of the directory at `path` ("/" or "/a/b", case-insensitive).
    pub fn read_dir(&mut self, path: &str) -> Result<Vec<DirEntry>, Error> {
        let dir = self.open_dir(path)?;
        let mut out = Vec::new();
        self.scan_dir(&dir.clusters, &mut |item| {
            if let crate::dir::Item::File(set) = item {
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
                    crate::dir::Item::File(set) => out.push(set.to_dir_entry()),
                    crate::dir::Item::Bad(e) => bad.push(e),
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
        let (free, _, _) = self.bitmap_survey(0, &[])?;
        Ok(free * self.g.cs)
    }

    /// The largest contiguous free run, in bytes.
    pub fn largest_free_run(&mut self) -> Result<u64, Error> {
        let (_, longest, _) = self.bitmap_survey(0, &[])?;
        Ok(longest * self.g.cs)
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
