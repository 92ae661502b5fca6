//! A block device that stops writing after a budget of writes: a power cut, or a stick
//! pulled out, between two writes (or two sectors of one write). Reads keep working, so
//! a test can look at what the cut left behind.

use blockdev::{BlockDevice, IoError};

/// What the budget counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Count {
    /// Whole `write_sectors` calls: a write lands completely or not at all.
    Writes,
    /// Sectors: a multi-sector write may land in part (its first sectors).
    Sectors,
}

/// Passes the first `budget` writes (or sectors) through to `inner`, then fails every
/// write without touching the medium.
#[derive(Debug)]
pub struct CutAfter<D> {
    inner: D,
    left: u64,
    done: u64,
    count: Count,
    flush_fails_after_cut: bool,
}

impl<D: BlockDevice> CutAfter<D> {
    /// Cut `inner` after `budget` writes or sectors (`u64::MAX`: never). Flushes pass
    /// through.
    pub fn new(inner: D, budget: u64, count: Count) -> CutAfter<D> {
        CutAfter {
            inner,
            left: budget,
            done: 0,
            count,
            flush_fails_after_cut: false,
        }
    }

    /// Also fail every flush once the budget is spent (the medium is gone).
    pub fn failing_flush_after_cut(mut self) -> CutAfter<D> {
        self.flush_fails_after_cut = true;
        self
    }

    /// Writes (or sectors) that reached the medium.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// The medium.
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The medium, to look at or repair what the cut left.
    pub fn into_inner(self) -> D {
        self.inner
    }

    fn cut(&self, lba: u64) -> IoError {
        IoError::Device {
            code: 5,
            offset: lba * u64::from(self.inner.sector_size()),
        }
    }
}

impl<D: BlockDevice> BlockDevice for CutAfter<D> {
    fn sector_size(&self) -> u32 {
        self.inner.sector_size()
    }

    fn sector_count(&self) -> u64 {
        self.inner.sector_count()
    }

    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.inner.read_sectors(lba, buf)
    }

    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        match self.count {
            Count::Writes => {
                if self.left == 0 {
                    return Err(self.cut(lba));
                }
                self.left -= 1;
                self.done += 1;
                self.inner.write_sectors(lba, buf)
            }
            Count::Sectors => {
                let ss = self.inner.sector_size() as usize;
                for (i, sector) in buf.chunks(ss).enumerate() {
                    let at = lba + i as u64;
                    if self.left == 0 {
                        return Err(self.cut(at));
                    }
                    self.left -= 1;
                    self.inner.write_sectors(at, sector)?;
                    self.done += 1;
                }
                Ok(())
            }
        }
    }

    fn flush(&mut self) -> Result<(), IoError> {
        if self.flush_fails_after_cut && self.left == 0 {
            return Err(IoError::Device { code: 5, offset: 0 });
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blockdev::MemDevice;

    #[test]
    fn sectors_budget_lands_part_of_a_write() {
        let mut d = CutAfter::new(MemDevice::new(512, 8), 2, Count::Sectors);
        assert!(d.write_sectors(0, &[1u8; 512 * 3]).is_err());
        assert_eq!(d.done(), 2);
        let m = d.into_inner();
        assert_eq!(m.data[1023], 1);
        assert_eq!(m.data[1024], 0);
    }

    #[test]
    fn writes_budget_lands_whole_writes_and_flush_fails_after_the_cut() {
        let mut d =
            CutAfter::new(MemDevice::new(512, 8), 1, Count::Writes).failing_flush_after_cut();
        d.write_sectors(0, &[1u8; 1024]).unwrap();
        assert!(d.flush().is_err());
        assert!(d.write_sectors(2, &[1u8; 512]).is_err());
        assert_eq!(d.done(), 1);
    }
}
