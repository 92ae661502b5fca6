//! The FAT: reading entries through a one-sector cache, setting them, and following
//! cluster chains (a file's runs, the root directory's chain) with the limits that keep
//! a cyclic or broken chain from looping or reading outside the heap.

use super::{Run, Volume};
use crate::error::Error;
use crate::raw::{self, le32};
use alloc::vec;
use alloc::vec::Vec;
use blockdev::BlockDevice;

/// The last FAT sector read: its partition sector and bytes. The buffer is kept when the
/// cache is invalidated, so a volume allocates it once.
#[derive(Default)]
pub(super) struct FatCache {
    sector: Option<(u64, Vec<u8>)>,
}

impl FatCache {
    /// Forget the cached sector (keeping its buffer).
    pub(super) fn invalidate(&mut self) {
        if let Some((lba, _)) = self.sector.as_mut() {
            *lba = u64::MAX;
        }
    }

    /// Whether partition sector `lba` is cached.
    fn holds(&self, lba: u64) -> bool {
        matches!(&self.sector, Some((l, _)) if *l == lba)
    }

    /// The little-endian u32 at byte `within` of the cached sector (0 if none).
    fn entry(&self, within: usize) -> u32 {
        self.sector
            .as_ref()
            .map(|(_, b)| le32(b, within))
            .unwrap_or(0)
    }
}

impl<D: BlockDevice> Volume<D> {
    /// Partition byte offset of the FAT entry of cluster `c`.
    fn fat_entry_offset(&self, c: u32) -> u64 {
        self.g.fat_lba * u64::from(self.g.ss) + u64::from(c) * 4
    }

    /// FAT entry of cluster `c` (`c` must be below ClusterCount + 2).
    pub(crate) fn fat_get(&mut self, c: u32) -> Result<u32, Error> {
        let ss = u64::from(self.g.ss);
        let off = self.fat_entry_offset(c);
        let lba = off / ss;
        let within = (off % ss) as usize;
        if !self.fat_cache.holds(lba) {
            // Reuse the cache's buffer: one allocation for the life of the volume.
            let mut buf = self
                .fat_cache
                .sector
                .take()
                .map(|(_, b)| b)
                .unwrap_or_else(|| vec![0u8; ss as usize]);
            buf.resize(ss as usize, 0);
            self.read_bytes(lba * ss, &mut buf)?;
            self.fat_cache.sector = Some((lba, buf));
        }
        Ok(self.fat_cache.entry(within))
    }

    /// Set the FAT entry of cluster `c` (one sector write).
    pub(crate) fn fat_set(&mut self, c: u32, v: u32) -> Result<(), Error> {
        self.write_bytes(self.fat_entry_offset(c), &v.to_le_bytes())
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
        if !self.valid_cluster(first) || n > u64::from(self.g.cluster_count) {
            return Err(Error::Corrupt {
                what: "stream extension FirstCluster",
                offset: at,
                value: u64::from(first),
            });
        }
        if contiguous {
            return self.contiguous_run(first, n, size, at);
        }
        self.chained_runs(first, n)
    }

    /// The one run of a NoFatChain file of `n` clusters (`size` bytes) from `first`.
    fn contiguous_run(&self, first: u32, n: u64, size: u64, at: u64) -> Result<Vec<Run>, Error> {
        if u64::from(first) + n > u64::from(self.g.cluster_count) + 2 {
            return Err(Error::Corrupt {
                what: "contiguous file reaching past the cluster heap (DataLength)",
                offset: at,
                value: size,
            });
        }
        Ok(vec![Run {
            start: first,
            len: n as u32,
        }])
    }

    /// The first `n` clusters of the FAT chain from `first`, adjacent clusters merged.
    fn chained_runs(&mut self, first: u32, n: u64) -> Result<Vec<Run>, Error> {
        let mut runs: Vec<Run> = Vec::new();
        let mut c = first;
        for i in 0..n {
            match runs.last_mut() {
                Some(r) if r.start + r.len == c => r.len += 1,
                _ => runs.push(Run { start: c, len: 1 }),
            }
            if i + 1 < n {
                c = self.next_in_file(c)?;
            }
        }
        Ok(runs)
    }

    /// The cluster after `c` in a file's chain, which must be a cluster of the heap.
    fn next_in_file(&mut self, c: u32) -> Result<u32, Error> {
        let next = self.fat_get(c)?;
        if self.valid_cluster(next) {
            return Ok(next);
        }
        Err(Error::Corrupt {
            what: if next == raw::fat::END {
                "FAT chain shorter than the file's DataLength"
            } else {
                "FAT entry (not a cluster of the heap)"
            },
            offset: self.dev_offset(self.fat_entry_offset(c)),
            value: u64::from(next),
        })
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
                    offset: self.dev_offset(self.fat_entry_offset(0)),
                    value: u64::from(c),
                });
            }
            if out.len() as u64 >= max {
                return Err(Error::Corrupt {
                    what: "root directory cluster chain (longer than 256 MiB or cyclic)",
                    offset: self.dev_offset(self.fat_entry_offset(c)),
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
}
