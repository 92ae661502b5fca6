//! The table of replaced sectors: 2048-byte ISO sectors whose content the loader serves
//! instead of the ISO's, and virtual sectors past the ISO's end (where a file that grew
//! is placed). Built once before chain-booting; the ISO itself is never written.
//! [`OverlayReader`] is the ISO as the booted loader sees it; a read that touches no
//! replaced sector goes straight to the ISO.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use blockdev::{IoError, ReadAt};

/// ISO 9660 logical sector size.
pub const SECTOR: usize = 2048;
const SECTOR_U64: u64 = SECTOR as u64;

/// Replaced and added sectors over an ISO of `base_len` bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overlay {
    base_len: u64,
    sectors: BTreeMap<u32, Box<[u8; SECTOR]>>,
}

/// A run of consecutive sectors of an [`Overlay`], for loaders that lay the table out
/// in memory of their own (the BIOS resident code).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// First ISO sector of the run.
    pub lba: u32,
    /// Sectors in the run.
    pub count: u32,
}

impl Overlay {
    /// No replaced sector over an ISO of `base_len` bytes.
    pub fn new(base_len: u64) -> Self {
        Overlay {
            base_len,
            sectors: BTreeMap::new(),
        }
    }

    /// Whether no sector is replaced.
    pub fn is_empty(&self) -> bool {
        self.sectors.is_empty()
    }

    /// The ISO's own size in bytes.
    pub fn base_len(&self) -> u64 {
        self.base_len
    }

    /// Size of the ISO as served: its own size, or the end of the last added sector.
    pub fn len(&self) -> u64 {
        let end = self
            .sectors
            .keys()
            .next_back()
            .map_or(0, |&l| (u64::from(l) + 1) * SECTOR_U64);
        end.max(self.base_len)
    }

    /// Number of replaced or added sectors.
    pub fn sector_count(&self) -> usize {
        self.sectors.len()
    }

    /// Bytes of memory the table's sector contents take.
    pub fn bytes(&self) -> usize {
        self.sectors.len() * SECTOR
    }

    /// The content served for ISO sector `lba`, when it is replaced.
    pub fn sector(&self, lba: u32) -> Option<&[u8; SECTOR]> {
        self.sectors.get(&lba).map(|b| &**b)
    }

    /// Whether any sector of `first..first + count` is replaced (the fast path's test).
    pub fn touches(&self, first: u64, count: u64) -> bool {
        if self.sectors.is_empty() || count == 0 {
            return false;
        }
        let Ok(lo) = u32::try_from(first) else {
            return false;
        };
        let hi = u32::try_from(first.saturating_add(count - 1)).unwrap_or(u32::MAX);
        self.sectors.range(lo..=hi).next().is_some()
    }

    /// The replaced sectors as runs of consecutive sectors, in order, with their bytes.
    pub fn runs(&self) -> Vec<(Run, Vec<u8>)> {
        let mut out: Vec<(Run, Vec<u8>)> = Vec::new();
        for (&lba, data) in &self.sectors {
            match out.last_mut() {
                Some((run, bytes)) if run.lba + run.count == lba => {
                    run.count += 1;
                    bytes.extend_from_slice(&data[..]);
                }
                _ => out.push((Run { lba, count: 1 }, data.to_vec())),
            }
        }
        out
    }

    /// First sector past the ISO and every added sector: where [`Overlay::add`] puts
    /// the next file.
    pub fn next_free(&self) -> u64 {
        self.len().div_ceil(SECTOR_U64)
    }

    /// Write `bytes` at byte `offset` of the ISO as served (read-modify-write of whole
    /// sectors, read from `base`, the ISO). Past the ISO's end sectors start zeroed.
    pub fn write<R: ReadAt + ?Sized>(
        &mut self,
        base: &mut R,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), IoError> {
        let mut done = 0usize;
        while done < bytes.len() {
            let at = offset + done as u64;
            let lba = u32::try_from(at / SECTOR_U64).map_err(|_| IoError::OutOfRange {
                offset: at,
                len: bytes.len() as u64,
                size: self.len(),
            })?;
            let within = (at % SECTOR_U64) as usize;
            let n = (SECTOR - within).min(bytes.len() - done);
            if !self.sectors.contains_key(&lba) {
                let mut sector = Box::new([0u8; SECTOR]);
                self.read_base_sector(base, lba, &mut sector)?;
                self.sectors.insert(lba, sector);
            }
            if let Some(sector) = self.sectors.get_mut(&lba) {
                sector[within..within + n].copy_from_slice(&bytes[done..done + n]);
            }
            done += n;
        }
        Ok(())
    }

    /// Place `bytes` in new sectors past the end (zero padded); returns the first one.
    pub fn add(&mut self, bytes: &[u8]) -> Result<u32, IoError> {
        let first = self.next_free();
        let lba = u32::try_from(first).map_err(|_| IoError::OutOfRange {
            offset: first * SECTOR_U64,
            len: bytes.len() as u64,
            size: self.len(),
        })?;
        let count = bytes.len().div_ceil(SECTOR).max(1);
        if u64::from(lba) + count as u64 > u64::from(u32::MAX) {
            return Err(IoError::OutOfRange {
                offset: first * SECTOR_U64,
                len: bytes.len() as u64,
                size: self.len(),
            });
        }
        for i in 0..count {
            let mut sector = Box::new([0u8; SECTOR]);
            let from = i * SECTOR;
            let to = (from + SECTOR).min(bytes.len());
            if from < to {
                sector[..to - from].copy_from_slice(&bytes[from..to]);
            }
            self.sectors.insert(lba + i as u32, sector);
        }
        Ok(lba)
    }

    /// ISO sector `lba` as the ISO has it (zeros past its end).
    fn read_base_sector<R: ReadAt + ?Sized>(
        &self,
        base: &mut R,
        lba: u32,
        out: &mut [u8; SECTOR],
    ) -> Result<(), IoError> {
        let start = u64::from(lba) * SECTOR_U64;
        out.fill(0);
        let have = self.base_len.min(base.len());
        if start < have {
            let n = (have - start).min(SECTOR_U64) as usize;
            base.read_exact_at(start, &mut out[..n])?;
        }
        Ok(())
    }

    /// Read `buf.len()` bytes at `offset` of the ISO as served.
    pub fn read<R: ReadAt + ?Sized>(
        &self,
        base: &mut R,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), IoError> {
        let len = self.len();
        match offset.checked_add(buf.len() as u64) {
            Some(end) if end <= len => {}
            _ => {
                return Err(IoError::OutOfRange {
                    offset,
                    len: buf.len() as u64,
                    size: len,
                })
            }
        }
        let first = offset / SECTOR_U64;
        let count = (offset + buf.len() as u64).div_ceil(SECTOR_U64) - first;
        if !self.touches(first, count) && offset + buf.len() as u64 <= self.base_len {
            return base.read_exact_at(offset, buf);
        }
        let mut done = 0usize;
        while done < buf.len() {
            let at = offset + done as u64;
            let lba = (at / SECTOR_U64) as u32;
            let within = (at % SECTOR_U64) as usize;
            let n = (SECTOR - within).min(buf.len() - done);
            match self.sectors.get(&lba) {
                Some(s) => buf[done..done + n].copy_from_slice(&s[within..within + n]),
                None => {
                    // Unreplaced: as many whole bytes from the ISO as up to the next
                    // replaced sector.
                    let next = self
                        .sectors
                        .range(lba..)
                        .next()
                        .map_or(u64::MAX, |(&l, _)| u64::from(l) * SECTOR_U64);
                    let stop = next.min(offset + buf.len() as u64);
                    let n = (stop - at) as usize;
                    let have = self.base_len.min(base.len());
                    let from_base = have.saturating_sub(at).min(n as u64) as usize;
                    if from_base > 0 {
                        base.read_exact_at(at, &mut buf[done..done + from_base])?;
                    }
                    buf[done + from_base..done + n].fill(0);
                    done += n;
                    continue;
                }
            }
            done += n;
        }
        Ok(())
    }
}

/// The ISO as served: `base` (the ISO) with `overlay` applied.
pub struct OverlayReader<'o, R> {
    base: R,
    overlay: &'o Overlay,
}

impl<'o, R: ReadAt> OverlayReader<'o, R> {
    /// `base` seen through `overlay`.
    pub fn new(base: R, overlay: &'o Overlay) -> Self {
        OverlayReader { base, overlay }
    }
}

impl<R: ReadAt> ReadAt for OverlayReader<'_, R> {
    fn len(&self) -> u64 {
        self.overlay.len()
    }

    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.overlay.read(&mut self.base, offset, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(sectors: usize) -> Vec<u8> {
        (0..sectors * SECTOR).map(|i| (i / SECTOR) as u8).collect()
    }

    #[test]
    fn writes_are_read_back_and_the_rest_is_the_iso() {
        let base = iso(8);
        let mut o = Overlay::new(base.len() as u64);
        o.write(&mut base.as_slice(), 3 * 2048 + 2040, b"0123456789abcdef")
            .unwrap();
        assert_eq!(o.sector_count(), 2);
        let mut buf = vec![0u8; 8 * 2048];
        o.read(&mut base.as_slice(), 0, &mut buf).unwrap();
        let mut want = base.clone();
        want[3 * 2048 + 2040..3 * 2048 + 2056].copy_from_slice(b"0123456789abcdef");
        assert_eq!(buf, want);
        assert!(o.touches(3, 1) && o.touches(0, 5) && !o.touches(5, 3) && !o.touches(0, 3));
    }

    #[test]
    fn added_sectors_extend_the_iso_and_runs_merge() {
        let base = iso(4);
        let mut o = Overlay::new(base.len() as u64 - 100);
        let lba = o.add(&[7u8; 3000]).unwrap();
        assert_eq!(lba, 4);
        assert_eq!(o.len(), 6 * 2048);
        let mut buf = [0u8; 4096];
        o.read(&mut base.as_slice(), 4 * 2048, &mut buf).unwrap();
        assert!(buf[..3000].iter().all(|&b| b == 7) && buf[3000..].iter().all(|&b| b == 0));
        o.write(&mut base.as_slice(), 3 * 2048, &[9]).unwrap();
        let runs = o.runs();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].0, Run { lba: 3, count: 3 });
        // The last ISO sector keeps its bytes up to base_len, then zeros.
        assert_eq!(runs[0].1[1], 3);
        assert_eq!(runs[0].1[2047], 0);
        assert!(o
            .read(&mut base.as_slice(), 6 * 2048 - 1, &mut [0; 2])
            .is_err());
    }
}
