//! What the fuzz targets share: [`SparseDisk`], a big disk of which only a few sectors are
//! stored (so a 50 MiB stick or a disk whose backup GPT sits at its end fits in a small
//! fuzz input), its input format, and the checksum repairs that let mutated input get past
//! the GPT and index CRCs.
//!
//! Sparse format (little-endian): `u32` sector count of the whole disk, then records of
//! `u32` LBA, `u8` sector count n (0 means 256), n sectors of data. Unstored sectors read
//! as zeros; records past the disk's end are dropped; a final partial sector is dropped.
//! `fuzz/sparse.py` packs an image file into it.

use blockdev::{check_sector_request, BlockDevice, IoError};
use std::collections::BTreeMap;

/// A disk of `sectors` sectors of which those in `map` are stored; the rest are zero.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparseDisk {
    ss: u32,
    sectors: u64,
    map: BTreeMap<u64, Vec<u8>>,
}

impl SparseDisk {
    /// Parse the sparse format with `ss`-byte sectors (`None` without a sector count).
    pub fn parse(ss: u32, bytes: &[u8]) -> Option<SparseDisk> {
        let sectors = u64::from(u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?));
        let ssz = ss as usize;
        let mut map = BTreeMap::new();
        let mut rest = &bytes[4..];
        while rest.len() >= 5 {
            let lba = u64::from(u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]));
            let n = if rest[4] == 0 {
                256
            } else {
                usize::from(rest[4])
            };
            rest = &rest[5..];
            for k in 0..n {
                let Some(s) = rest.get(..ssz) else {
                    rest = &[];
                    break;
                };
                if lba + (k as u64) < sectors {
                    map.insert(lba + k as u64, s.to_vec());
                }
                rest = &rest[ssz..];
            }
        }
        Some(SparseDisk { ss, sectors, map })
    }

    /// Set byte `off` of the stored sectors taken in LBA order (modulo their length): how
    /// the patch-mode targets mutate a valid template where its bytes are.
    pub fn patch_stored(&mut self, off: usize, value: u8, keys: &[u64]) {
        let ss = self.ss as usize;
        if keys.is_empty() {
            return;
        }
        let off = off % (keys.len() * ss);
        if let Some(s) = self.map.get_mut(&keys[off / ss]) {
            s[off % ss] = value;
        }
    }

    /// The LBAs of the stored sectors, in order (for [`SparseDisk::patch_stored`]).
    pub fn keys(&self) -> Vec<u64> {
        self.map.keys().copied().collect()
    }

    /// Read `len` bytes at byte offset `off` (zeros past the disk's end).
    pub fn read_bytes(&self, off: u64, len: usize) -> Vec<u8> {
        let ss = u64::from(self.ss);
        let mut out = vec![0u8; len];
        for (i, b) in out.iter_mut().enumerate() {
            let p = off + i as u64;
            if let Some(s) = self.map.get(&(p / ss)) {
                *b = s[(p % ss) as usize];
            }
        }
        out
    }

    /// Write `data` at byte offset `off` (bytes past the disk's end are dropped).
    pub fn write_bytes(&mut self, off: u64, data: &[u8]) {
        let ss = u64::from(self.ss);
        for (i, &b) in data.iter().enumerate() {
            let p = off + i as u64;
            if p / ss >= self.sectors {
                return;
            }
            let s = self
                .map
                .entry(p / ss)
                .or_insert_with(|| vec![0; ss as usize]);
            s[(p % ss) as usize] = b;
        }
    }
}

impl BlockDevice for SparseDisk {
    fn sector_size(&self) -> u32 {
        self.ss
    }
    fn sector_count(&self) -> u64 {
        self.sectors
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_sector_request(self.ss, self.sectors, lba, buf.len())?;
        let ss = self.ss as usize;
        for (i, chunk) in buf.chunks_exact_mut(ss).enumerate() {
            match self.map.get(&(lba + i as u64)) {
                Some(s) => chunk.copy_from_slice(s),
                None => chunk.fill(0),
            }
        }
        Ok(())
    }
    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        check_sector_request(self.ss, self.sectors, lba, buf.len())?;
        let ss = self.ss as usize;
        for (i, chunk) in buf.chunks_exact(ss).enumerate() {
            self.map.insert(lba + i as u64, chunk.to_vec());
        }
        Ok(())
    }
}

fn le32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn le64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]))
}

/// Recompute the entry-array CRC and then the header CRC of the GPT header at `lba`, if
/// it has the signature (bounded as the reader bounds them: header size 92..=sector size,
/// entry array at most 1 MiB). Nothing else is changed.
fn repair_gpt_copy(d: &mut SparseDisk, lba: u64) {
    let ss = u64::from(d.ss);
    if lba >= d.sectors {
        return;
    }
    let mut h = d.read_bytes(lba * ss, ss as usize);
    if h[..8] != partition_raw::GPT_SIGNATURE {
        return;
    }
    let entries_lba = le64(&h, 72);
    let bytes = u64::from(le32(&h, 80)) * u64::from(le32(&h, 84));
    if bytes <= ptable::gpt::MAX_ENTRY_ARRAY_BYTES {
        if let Some(off) = entries_lba.checked_mul(ss) {
            let crc = crc32::crc32(&d.read_bytes(off, bytes as usize));
            h[88..92].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let hs = (le32(&h, 12) as usize).clamp(partition_raw::GPT_HEADER_SIZE, ss as usize);
    let crc = partition_raw::gpt_header_crc32(&h[..hs]);
    h[16..20].copy_from_slice(&crc.to_le_bytes());
    d.write_bytes(lba * ss, &h);
}

/// Recompute the CRCs of both GPT copies: the primary at LBA 1, then the backup where
/// the primary's `AlternateLBA` points, and the one at the disk's last LBA (where the
/// reader looks when the primary is bad).
pub fn repair_gpt(d: &mut SparseDisk) {
    repair_gpt_copy(d, 1);
    let ss = u64::from(d.ss);
    let alt = le64(&d.read_bytes(ss, ss as usize), 32);
    if alt != 1 {
        repair_gpt_copy(d, alt);
    }
    let last = d.sectors.saturating_sub(1);
    if last != alt && last > 1 {
        repair_gpt_copy(d, last);
    }
}

/// Recompute the CRC of every bootshelf index slot whose magic starts a stored sector,
/// as `index_decode` repairs its input: over `total_len` bytes (at most 1 MiB) with the
/// CRC field read as zero.
pub fn repair_index(d: &mut SparseDisk) {
    let ss = u64::from(d.ss);
    let starts: Vec<u64> = d
        .map
        .iter()
        .filter(|(_, s)| s.starts_with(&bootshelf_index::raw::MAGIC))
        .map(|(&k, _)| k)
        .collect();
    for lba in starts {
        let head = d.read_bytes(lba * ss, 64);
        let total = (le32(&head, 24) as usize).clamp(64, 1 << 20);
        let mut m = d.read_bytes(lba * ss, total);
        m[12..16].fill(0);
        let crc = bootshelf_index::crc32::crc32(&m);
        d.write_bytes(lba * ss + 12, &crc.to_le_bytes());
    }
}
