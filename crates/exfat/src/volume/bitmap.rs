//! The allocation bitmap: checking the bitmap entry found at `open`, counting free
//! clusters and finding free runs (avoiding runs already reserved), testing and setting
//! the bits of a run.

use super::{Run, Volume};
use crate::error::Error;
use crate::raw;
use alloc::vec;
use alloc::vec::Vec;
use blockdev::BlockDevice;

/// Bitmap bytes read per chunk when scanning for free space.
const BITMAP_CHUNK: usize = 64 * 1024;

/// What a scan of the bitmap found.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Survey {
    /// Free clusters (outside the runs to avoid).
    pub free: u64,
    /// The longest free run, in clusters.
    pub longest: u64,
    /// The first cluster of the first free run of at least the wanted length.
    pub found: Option<u32>,
}

/// The running state of a survey: the free run being walked.
struct SurveyWalk {
    want: u64,
    run_start: u64,
    run_len: u64,
    survey: Survey,
}

impl SurveyWalk {
    /// Cluster(s) that cannot be allocated end the current run.
    fn used(&mut self) {
        self.run_len = 0;
    }

    /// `n` free clusters from `start` extend the current run.
    fn free(&mut self, start: u64, n: u64) {
        self.survey.free += n;
        if self.run_len == 0 {
            self.run_start = start;
        }
        self.run_len += n;
        self.survey.longest = self.survey.longest.max(self.run_len);
        if self.survey.found.is_none() && self.want > 0 && self.run_len >= self.want {
            self.survey.found = Some(self.run_start as u32);
        }
    }
}

/// Clusters `[start, end)` that a survey treats as used.
type Avoid = (u64, u64);

/// Walk one bitmap byte, whose bit 0 is cluster `c0`; clusters from `end` on (past the
/// heap) are not walked.
fn survey_byte(walk: &mut SurveyWalk, byte: u8, c0: u64, end: u64, avoid: &[Avoid]) {
    let plain = c0 + 8 <= end && avoid.iter().all(|&(s, e)| c0 + 8 <= s || c0 >= e);
    // Whole bytes first: all used, or all free.
    if plain && byte == 0xFF {
        return walk.used();
    }
    if plain && byte == 0 {
        return walk.free(c0, 8);
    }
    for bit in 0..8u64 {
        let c = c0 + bit;
        if c >= end {
            break;
        }
        let used = byte & (1 << bit) != 0 || avoid.iter().any(|&(s, e)| c >= s && c < e);
        if used {
            walk.used();
        } else {
            walk.free(c, 1);
        }
    }
}

impl<D: BlockDevice> Volume<D> {
    /// Check the allocation bitmap entry found in the root directory (FirstCluster,
    /// DataLength, device offset of the entry) and remember where the bitmap is.
    pub(super) fn load_bitmap(&mut self, first: u32, len: u64, at: u64) -> Result<(), Error> {
        let need = u64::from(self.g.cluster_count).div_ceil(8);
        if len < need {
            return Err(Error::Corrupt {
                what: "allocation bitmap DataLength (shorter than ClusterCount bits)",
                offset: at + raw::alloc_entry::DATA_LENGTH as u64,
                value: len,
            });
        }
        self.contiguous_check(first, need, "allocation bitmap FirstCluster", at)?;
        // The bitmap is read and written as one run: a FAT chain that leaves it is not
        // supported (no known implementation fragments it).
        let n = need.div_ceil(self.g.cs) as u32;
        for c in first..first.saturating_add(n).saturating_sub(1) {
            let next = self.fat_get(c)?;
            if self.valid_cluster(next) && next != c + 1 {
                return Err(Error::Unsupported {
                    what: "fragmented allocation bitmap",
                    value: u64::from(c),
                });
            }
        }
        self.bitmap_cluster = first;
        self.bitmap_len = need;
        Ok(())
    }

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
            // Clear bits past the last cluster.
            for bit in count..last_bit {
                let byte = (bit / 8 - off) as usize;
                buf[byte] &= !(1 << (bit % 8));
            }
            if !f(2 + (off * 8) as u32, &buf[..n]) {
                break;
            }
            off += n as u64;
        }
        Ok(())
    }

    /// Free clusters, the longest free run, and the first-fit run of at least `want`
    /// clusters (0: none wanted) that lies outside `avoid`.
    pub(crate) fn bitmap_survey(&mut self, want: u64, avoid: &[Run]) -> Result<Survey, Error> {
        let end = u64::from(self.g.cluster_count) + 2;
        let avoid: Vec<Avoid> = avoid
            .iter()
            .map(|r| (u64::from(r.start), u64::from(r.start) + u64::from(r.len)))
            .collect();
        let mut walk = SurveyWalk {
            want,
            run_start: 0,
            run_len: 0,
            survey: Survey::default(),
        };
        self.bitmap_chunks(&mut |first, bytes| {
            for (i, &byte) in bytes.iter().enumerate() {
                let c0 = u64::from(first) + i as u64 * 8;
                survey_byte(&mut walk, byte, c0, end, &avoid);
            }
            true
        })?;
        Ok(walk.survey)
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
            if (bit..end).any(|b| buf[(b / 8 - byte0) as usize] & (1 << (b % 8)) != 0) {
                return Ok(false);
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
}
