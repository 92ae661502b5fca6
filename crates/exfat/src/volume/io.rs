//! Partition-relative byte I/O: offsets of partition bytes and clusters on the device,
//! reads and read-modify-writes of any byte range through one bounce sector, and reads
//! of the bytes laid over a list of cluster runs.

use super::{Run, Volume};
use crate::error::Error;
use blockdev::BlockDevice;
use core::ops::Range;

/// Fail unless device sectors `[start_lba, start_lba + sectors)` lie on a device of
/// `device_sectors` sectors (shared by `open` and `format`).
pub(crate) fn check_partition_fits(
    device_sectors: u64,
    start_lba: u64,
    sectors: u64,
) -> Result<(), Error> {
    match start_lba.checked_add(sectors) {
        Some(end) if end <= device_sectors => Ok(()),
        _ => Err(Error::InvalidParameter {
            what: "partition end (past the end of the device)",
            value: start_lba.saturating_add(sectors),
        }),
    }
}

/// A piece of a byte range, by device sector: whole sectors from `lba`, or
/// (`within: Some(byte)`) part of the one sector `lba` from that byte.
struct SectorSpan {
    lba: u64,
    within: Option<usize>,
    /// Which bytes of the caller's buffer.
    range: Range<usize>,
}

/// The spans of `len` bytes at partition byte offset `off` of a partition starting at
/// device sector `start_lba`: as many whole sectors as possible, partial sectors alone.
fn sector_spans(
    start_lba: u64,
    off: u64,
    len: usize,
    sector_size: u32,
) -> impl Iterator<Item = SectorSpan> {
    let ss = u64::from(sector_size);
    let mut done = 0usize;
    core::iter::from_fn(move || {
        if done >= len {
            return None;
        }
        let pos = off + done as u64;
        let lba = start_lba + pos / ss;
        let within = (pos % ss) as usize;
        let remaining = len - done;
        let (n, within) = if within == 0 && remaining as u64 >= ss {
            (remaining - remaining % ss as usize, None)
        } else {
            ((ss as usize - within).min(remaining), Some(within))
        };
        let range = done..done + n;
        done += n;
        Some(SectorSpan { lba, within, range })
    })
}

impl<D: BlockDevice> Volume<D> {
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

    /// Device byte offset of cluster `c` (which the caller has validated).
    pub(super) fn cluster_dev_offset(&self, c: u32) -> u64 {
        self.dev_offset(self.cluster_offset(c))
    }

    /// Whether `c` is a cluster of the heap.
    pub(crate) fn valid_cluster(&self, c: u32) -> bool {
        c >= 2 && u64::from(c) <= u64::from(self.g.cluster_count) + 1
    }

    /// Fail unless `len` bytes at partition byte offset `off` lie inside the partition.
    fn check_in_partition(&self, off: u64, len: usize) -> Result<(), Error> {
        let limit = self.sectors * u64::from(self.g.ss);
        match off.checked_add(len as u64) {
            Some(end) if end <= limit => Ok(()),
            _ => Err(Error::Io(blockdev::IoError::OutOfRange {
                offset: self.dev_offset(off),
                len: len as u64,
                size: self.dev_offset(limit),
            })),
        }
    }

    /// Read `buf.len()` bytes at partition byte offset `off`.
    pub(crate) fn read_bytes(&mut self, off: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.check_in_partition(off, buf.len())?;
        for span in sector_spans(self.start_lba, off, buf.len(), self.g.ss) {
            let part = &mut buf[span.range.clone()];
            match span.within {
                None => self.dev.read_sectors(span.lba, part)?,
                Some(within) => {
                    self.bounce.resize(self.g.ss as usize, 0);
                    self.dev.read_sectors(span.lba, &mut self.bounce)?;
                    part.copy_from_slice(&self.bounce[within..within + part.len()]);
                }
            }
        }
        Ok(())
    }

    /// Write `data` at partition byte offset `off`; partial sectors are read, modified and
    /// written, so a change inside one sector is exactly one device write.
    pub(crate) fn write_bytes(&mut self, off: u64, data: &[u8]) -> Result<(), Error> {
        self.check_in_partition(off, data.len())?;
        // Any write may touch the FAT.
        self.fat_cache.invalidate();
        for span in sector_spans(self.start_lba, off, data.len(), self.g.ss) {
            let part = &data[span.range.clone()];
            match span.within {
                None => self.dev.write_sectors(span.lba, part)?,
                Some(within) => {
                    self.bounce.resize(self.g.ss as usize, 0);
                    self.dev.read_sectors(span.lba, &mut self.bounce)?;
                    self.bounce[within..within + part.len()].copy_from_slice(part);
                    self.dev.write_sectors(span.lba, &self.bounce)?;
                }
            }
        }
        Ok(())
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
}
