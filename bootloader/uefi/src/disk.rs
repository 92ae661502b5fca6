//! The stick's raw Block I/O (the whole-disk handle under the ESP the loader was started
//! from) as a [`BlockDevice`], so that every shared parser reads the stick through it.

use crate::{devpath, proto};
use alloc::vec;
use alloc::vec::Vec;
use blockdev::{check_sector_request, BlockDevice, IoError};
use core::cell::RefCell;
use uefi::boot::{self, ScopedProtocol};
use uefi::proto::device_path::DevicePath;
use uefi::proto::loaded_image::LoadedImage;
use uefi::proto::media::block::BlockIO;
use uefi::{Handle, Status};

/// Why the stick could not be found.
#[derive(Debug)]
pub enum FindError {
    /// The loaded image has no device handle (started from memory, not from a disk).
    NoImageDevice,
    /// A firmware call failed.
    Firmware(&'static str, Status),
    /// No Block I/O handle that is a whole disk lies on the path to the ESP.
    NoWholeDisk,
}

impl core::fmt::Display for FindError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FindError::NoImageDevice => f.write_str("the loader was not started from a disk"),
            FindError::Firmware(what, s) => write!(f, "{what} failed: {s:?}"),
            FindError::NoWholeDisk => {
                f.write_str("no whole-disk Block I/O found under the loader's partition")
            }
        }
    }
}

/// The stick as a whole disk.
pub struct UefiDisk {
    block: ScopedProtocol<BlockIO>,
    media_id: u32,
    sector_size: u32,
    sector_count: u64,
    /// Buffer alignment the device needs (1 when any).
    io_align: usize,
    /// Aligned bounce buffer for callers whose buffers the device cannot take.
    bounce: Vec<u8>,
    /// Read cache for small reads (see [`CACHE_BLOCK`]).
    cache: Vec<CacheBlock>,
    /// Counts every access, for the serial timing notes.
    clock: u64,
    stats: Stats,
}

/// Reads below this size are served from a cache of aligned blocks of this size, read
/// from the stick whole: discovery reads directory clusters, FAT and index sectors a few
/// at a time, and each firmware read costs far more than its bytes (a USB mass-storage
/// transaction). Larger reads (the virtual CD's) go straight to the caller's buffer.
const CACHE_BLOCK: usize = 64 * 1024;
/// Number of cached blocks (1 MiB).
const CACHE_BLOCKS: usize = 16;

/// One cached, aligned block of the disk.
struct CacheBlock {
    /// Block number (device byte offset / CACHE_BLOCK).
    number: u64,
    /// Last use, for eviction.
    used: u64,
    /// Its bytes (shorter than CACHE_BLOCK at the end of the disk); empty when unused.
    data: Vec<u8>,
}

/// What the loader asked of the stick.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// `read_sectors` calls.
    pub reads: u64,
    /// Bytes asked for by `read_sectors`.
    pub bytes: u64,
    /// Reads that went to the firmware.
    pub firmware_reads: u64,
}

/// Size of the bounce buffer for misaligned caller buffers.
const BOUNCE_LEN: usize = 64 * 1024;

impl UefiDisk {
    /// The whole disk that holds the partition this image was loaded from: the Block I/O
    /// handle (not a logical partition) whose device path is a prefix of the partition's.
    pub fn of_loaded_image() -> Result<UefiDisk, FindError> {
        let image = proto::get::<LoadedImage>(boot::image_handle())
            .map_err(|e| FindError::Firmware("opening LoadedImage", e.status()))?;
        let device = image.device().ok_or(FindError::NoImageDevice)?;
        let part_path = proto::get::<DevicePath>(device)
            .map_err(|e| FindError::Firmware("opening the ESP's device path", e.status()))?;
        let part_path = devpath::bytes(&part_path).to_vec();
        let handles = boot::find_handles::<BlockIO>()
            .map_err(|e| FindError::Firmware("listing Block I/O handles", e.status()))?;
        let mut best: Option<(Handle, Vec<u8>)> = None;
        for h in handles {
            let Ok(block) = proto::get::<BlockIO>(h) else {
                continue;
            };
            if block.media().is_logical_partition() {
                continue;
            }
            let Ok(path) = proto::get::<DevicePath>(h) else {
                continue;
            };
            let path = devpath::bytes(&path);
            if devpath::starts_with(&part_path, path)
                && best.as_ref().is_none_or(|(_, b)| path.len() > b.len())
            {
                best = Some((h, path.to_vec()));
            }
        }
        let (handle, _path) = best.ok_or(FindError::NoWholeDisk)?;
        Self::open(handle)
    }

    fn open(handle: Handle) -> Result<UefiDisk, FindError> {
        let block = proto::get::<BlockIO>(handle)
            .map_err(|e| FindError::Firmware("opening the stick's Block I/O", e.status()))?;
        let media = block.media();
        let io_align = (media.io_align() as usize).max(1);
        let sector_size = media.block_size();
        let sector_count = media.last_block().saturating_add(1);
        let media_id = media.media_id();
        Ok(UefiDisk {
            block,
            media_id,
            sector_size,
            sector_count,
            io_align,
            bounce: vec![0; BOUNCE_LEN + io_align],
            cache: Vec::new(),
            clock: 0,
            stats: Stats::default(),
        })
    }

    /// Whether the firmware reports the stick's medium as read-only (Block I/O
    /// `Media.ReadOnly`; OVMF's USB mass storage takes it from the SCSI MODE SENSE
    /// write-protect bit).
    pub fn is_read_only(&self) -> bool {
        self.block.media().is_read_only()
    }

    /// Counters of what was read so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Forget every cached block (after a program the loader started may have written to
    /// the stick through the firmware).
    pub fn invalidate_cache(&mut self) {
        self.cache.clear();
    }

    /// Index in `self.cache` of block `number`, read from the stick if not cached.
    fn cached_block(&mut self, number: u64) -> Result<usize, IoError> {
        self.clock += 1;
        if let Some(i) = self.cache.iter().position(|b| b.number == number) {
            if let Some(b) = self.cache.get_mut(i) {
                b.used = self.clock;
            }
            return Ok(i);
        }
        let ss = u64::from(self.sector_size);
        let per_block = (CACHE_BLOCK as u64 / ss).max(1);
        let first = number * per_block;
        let count = per_block.min(self.sector_count.saturating_sub(first));
        let mut data = vec![0u8; (count * ss) as usize];
        self.uncached_read(first, &mut data)?;
        let block = CacheBlock {
            number,
            used: self.clock,
            data,
        };
        if self.cache.len() < CACHE_BLOCKS {
            self.cache.push(block);
            return Ok(self.cache.len() - 1);
        }
        let victim = self
            .cache
            .iter()
            .enumerate()
            .min_by_key(|(_, b)| b.used)
            .map(|(i, _)| i)
            .unwrap_or(0);
        if let Some(slot) = self.cache.get_mut(victim) {
            *slot = block;
        }
        Ok(victim)
    }

    fn firmware_read(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.stats.firmware_reads += 1;
        self.block
            .read_blocks(self.media_id, lba, buf)
            .map_err(|e| match e.status() {
                Status::NO_MEDIA => IoError::NoMedia,
                s => IoError::Device {
                    code: s.0 as u64,
                    offset: lba.saturating_mul(u64::from(self.sector_size)),
                },
            })
    }
}

impl BlockDevice for UefiDisk {
    fn sector_size(&self) -> u32 {
        self.sector_size
    }

    fn sector_count(&self) -> u64 {
        self.sector_count
    }

    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_sector_request(self.sector_size, self.sector_count, lba, buf.len())?;
        self.stats.reads += 1;
        self.stats.bytes += buf.len() as u64;
        if buf.len() >= CACHE_BLOCK {
            return self.uncached_read(lba, buf);
        }
        let ss = self.sector_size as usize;
        let per_block = (CACHE_BLOCK / ss).max(1) as u64;
        let mut done = 0usize;
        let mut at = lba;
        while done < buf.len() {
            let i = self.cached_block(at / per_block)?;
            let within = ((at % per_block) as usize) * ss;
            let Some(data) = self.cache.get(i).and_then(|b| b.data.get(within..)) else {
                return Err(IoError::OutOfRange {
                    offset: at * ss as u64,
                    len: buf.len() as u64,
                    size: self.sector_count * ss as u64,
                });
            };
            let n = data.len().min(buf.len() - done);
            if n == 0 {
                return Err(IoError::OutOfRange {
                    offset: at * ss as u64,
                    len: buf.len() as u64,
                    size: self.sector_count * ss as u64,
                });
            }
            buf[done..done + n].copy_from_slice(&data[..n]);
            done += n;
            at += (n / ss) as u64;
        }
        Ok(())
    }

    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        let result = self.uncached_write(lba, buf);
        // Write-through: drop cached blocks the write touched (also after a failure,
        // which may have written part of the range).
        let ss = u64::from(self.sector_size);
        let first = lba.saturating_mul(ss) / CACHE_BLOCK as u64;
        let last = (lba.saturating_mul(ss) + buf.len() as u64) / CACHE_BLOCK as u64;
        self.cache.retain(|b| b.number < first || b.number > last);
        result
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.block.flush_blocks().map_err(|e| IoError::Device {
            code: e.status().0 as u64,
            offset: 0,
        })
    }
}

/// The stick shared by the loader flow and the virtual CD, which reads it while a
/// chain-booted image runs ([`crate::vcd`]): each call borrows it for that call only.
#[derive(Clone, Copy)]
pub struct SharedDisk(pub &'static RefCell<UefiDisk>);

impl BlockDevice for SharedDisk {
    fn sector_size(&self) -> u32 {
        self.0.borrow().sector_size()
    }

    fn sector_count(&self) -> u64 {
        self.0.borrow().sector_count()
    }

    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.0.borrow_mut().read_sectors(lba, buf)
    }

    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        self.0.borrow_mut().write_sectors(lba, buf)
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.0.borrow_mut().flush()
    }
}

impl UefiDisk {
    /// Read whole sectors from the stick, bypassing the cache.
    fn uncached_read(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_sector_request(self.sector_size, self.sector_count, lba, buf.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        if (buf.as_ptr() as usize).is_multiple_of(self.io_align) {
            return self.firmware_read(lba, buf);
        }
        // The caller's buffer is not aligned as the device needs: go through the bounce
        // buffer, whole sectors at a time.
        self.through_bounce(lba, buf.len(), |disk, at, tmp, range| {
            disk.firmware_read(at, tmp)?;
            buf[range].copy_from_slice(tmp);
            Ok(())
        })
    }

    /// Write whole sectors to the stick.
    fn uncached_write(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        check_sector_request(self.sector_size, self.sector_count, lba, buf.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        // Never send a write the firmware already knows the medium refuses: on OVMF's
        // USB mass storage a refused write leaves the next reads failing with
        // EFI_TIMEOUT (docs/window-linux.md, "Write-protected sticks").
        if self.is_read_only() {
            return Err(IoError::WriteProtected);
        }
        let ss = self.sector_size as u64;
        self.through_bounce(lba, buf.len(), |disk, at, tmp, range| {
            tmp.copy_from_slice(&buf[range]);
            disk.block
                .write_blocks(disk.media_id, at, tmp)
                .map_err(|e| match e.status() {
                    Status::WRITE_PROTECTED => IoError::WriteProtected,
                    Status::NO_MEDIA => IoError::NoMedia,
                    s => IoError::Device {
                        code: s.0 as u64,
                        offset: at.saturating_mul(ss),
                    },
                })
        })
    }

    /// Move `len` bytes starting at sector `lba` through the aligned bounce buffer, one
    /// chunk of whole sectors at a time: `step(disk, chunk_lba, chunk, range)` transfers
    /// one chunk, where `range` is its place in the caller's buffer. Stops at the first
    /// error.
    fn through_bounce(
        &mut self,
        lba: u64,
        len: usize,
        mut step: impl FnMut(&mut Self, u64, &mut [u8], core::ops::Range<usize>) -> Result<(), IoError>,
    ) -> Result<(), IoError> {
        let ss = self.sector_size as usize;
        let shift = self.bounce.as_ptr().align_offset(self.io_align);
        let chunk = (BOUNCE_LEN / ss).max(1) * ss;
        let mut bounce = core::mem::take(&mut self.bounce);
        let mut result = Ok(());
        let mut done = 0usize;
        while done < len {
            let n = chunk.min(len - done);
            let Some(tmp) = bounce.get_mut(shift..shift + n) else {
                result = Err(IoError::Misaligned {
                    value: n as u64,
                    sector_size: self.sector_size,
                });
                break;
            };
            if let Err(e) = step(self, lba + (done / ss) as u64, tmp, done..done + n) {
                result = Err(e);
                break;
            }
            done += n;
        }
        self.bounce = bounce;
        result
    }
}
