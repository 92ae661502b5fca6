//! A read-ahead cache for discovery: exFAT folder scans and FAT walks ask for one sector
//! at a time, and every request is a firmware call (UEFI Block I/O, INT 13h) with a fixed
//! cost. Reading a window of sectors at once turns hundreds of calls into a few. Writes go
//! straight through and drop the cached windows.

use alloc::vec;
use alloc::vec::Vec;

use blockdev::{BlockDevice, IoError};

/// Bytes read ahead per miss.
pub const WINDOW_BYTES: usize = 8 * 1024;
/// Windows kept (least recently used is refilled): folder scans interleave with FAT and
/// bitmap lookups elsewhere on the disk, so one window would thrash.
pub const WINDOWS: usize = 8;

struct Window {
    first: u64,
    count: u64,
    used: u64,
    buf: Vec<u8>,
}

/// A [`BlockDevice`] that serves small reads from a few cached windows of sectors.
pub struct ReadCache<D> {
    dev: D,
    windows: Vec<Window>,
    clock: u64,
}

impl<D: BlockDevice> ReadCache<D> {
    /// Wrap `dev`.
    pub fn new(dev: D) -> Self {
        ReadCache {
            dev,
            windows: Vec::new(),
            clock: 0,
        }
    }

    /// The device inside.
    pub fn into_inner(self) -> D {
        self.dev
    }

    fn window_sectors(&self) -> u64 {
        let ss = u64::from(self.dev.sector_size()).max(1);
        (WINDOW_BYTES as u64 / ss).max(1)
    }

    /// Index of a window holding `[lba, lba + n)`, filling one if none does.
    fn window_for(&mut self, lba: u64, n: u64) -> Result<Option<usize>, IoError> {
        self.clock += 1;
        let hit = self
            .windows
            .iter()
            .position(|w| lba >= w.first && lba + n <= w.first + w.count);
        if let Some(i) = hit {
            if let Some(w) = self.windows.get_mut(i) {
                w.used = self.clock;
            }
            return Ok(Some(i));
        }
        let ss = u64::from(self.dev.sector_size());
        let total = self.dev.sector_count();
        let count = self.window_sectors().min(total.saturating_sub(lba));
        if count < n {
            return Ok(None);
        }
        let i = if self.windows.len() < WINDOWS {
            self.windows.push(Window {
                first: 0,
                count: 0,
                used: 0,
                buf: vec![0u8; (self.window_sectors() * ss) as usize],
            });
            self.windows.len() - 1
        } else {
            self.windows
                .iter()
                .enumerate()
                .min_by_key(|(_, w)| w.used)
                .map_or(0, |(i, _)| i)
        };
        let Some(w) = self.windows.get_mut(i) else {
            return Ok(None);
        };
        w.count = 0;
        let Some(b) = w.buf.get_mut(..(count * ss) as usize) else {
            return Ok(None);
        };
        self.dev.read_sectors(lba, b)?;
        w.first = lba;
        w.count = count;
        w.used = self.clock;
        Ok(Some(i))
    }
}

impl<D: BlockDevice> BlockDevice for ReadCache<D> {
    fn sector_size(&self) -> u32 {
        self.dev.sector_size()
    }

    fn sector_count(&self) -> u64 {
        self.dev.sector_count()
    }

    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let ss = u64::from(self.dev.sector_size());
        if ss == 0 || !(buf.len() as u64).is_multiple_of(ss) {
            return self.dev.read_sectors(lba, buf);
        }
        let n = buf.len() as u64 / ss;
        if n >= self.window_sectors() || lba.checked_add(n).is_none() {
            return self.dev.read_sectors(lba, buf);
        }
        let Some(i) = self.window_for(lba, n)? else {
            // Reaches past the end: let the device report it.
            return self.dev.read_sectors(lba, buf);
        };
        let src = self.windows.get(i).and_then(|w| {
            let from = ((lba - w.first) * ss) as usize;
            w.buf.get(from..from + buf.len())
        });
        match src {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => self.dev.read_sectors(lba, buf),
        }
    }

    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        self.windows.clear();
        self.dev.write_sectors(lba, buf)
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.dev.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blockdev::MemDevice;

    struct Count {
        inner: MemDevice,
        reads: usize,
    }
    impl BlockDevice for Count {
        fn sector_size(&self) -> u32 {
            self.inner.sector_size()
        }
        fn sector_count(&self) -> u64 {
            self.inner.sector_count()
        }
        fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
            self.reads += 1;
            self.inner.read_sectors(lba, buf)
        }
        fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
            self.inner.write_sectors(lba, buf)
        }
    }

    #[test]
    fn reads_are_served_from_the_window_and_match_the_device() {
        for ss in [512u32, 4096] {
            let sectors = 700u64;
            let data: Vec<u8> = (0..ss as usize * sectors as usize)
                .map(|i| (i / 7 + i / 4099) as u8)
                .collect();
            let mut c = ReadCache::new(Count {
                inner: MemDevice::from_bytes(ss, data.clone()),
                reads: 0,
            });
            let ssz = ss as usize;
            let mut one = vec![0u8; ssz];
            for lba in 0..sectors {
                c.read_sectors(lba, &mut one).unwrap();
                assert_eq!(one, data[lba as usize * ssz..(lba as usize + 1) * ssz]);
            }
            let window = (WINDOW_BYTES / ssz) as u64;
            assert_eq!(c.dev.reads as u64, sectors.div_ceil(window));
            // Backwards, multi-sector, straddling windows, and the last sector.
            let mut two = vec![0u8; 2 * ssz];
            for lba in (0..sectors - 1).rev().step_by(37) {
                c.read_sectors(lba, &mut two).unwrap();
                assert_eq!(two, data[lba as usize * ssz..(lba as usize + 2) * ssz]);
            }
            // A write drops the window, and the next read sees the new bytes.
            c.read_sectors(5, &mut one).unwrap();
            c.write_sectors(5, &vec![0xEE; ssz]).unwrap();
            c.read_sectors(5, &mut one).unwrap();
            assert!(one.iter().all(|&b| b == 0xEE));
            // Past the end: the device's error.
            assert!(c.read_sectors(sectors, &mut one).is_err());
            assert!(c.read_sectors(sectors - 1, &mut two).is_err());
            let mut big = vec![0u8; WINDOW_BYTES];
            c.read_sectors(0, &mut big).unwrap();
        }
    }
}
