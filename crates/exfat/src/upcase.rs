//! The up-case table: generated for `format` from Unicode's simple upper-case mappings of
//! the Basic Multilingual Plane (Rust's `char::to_uppercase` where it yields one BMP
//! character), stored in the compressed form the specification allows (identity runs as
//! `0xFFFF, count`), and decoded when a volume is opened for case-insensitive lookups.

use crate::checksum::table_checksum;
use alloc::vec::Vec;

/// Marker of a compressed identity run: `0xFFFF` then the run length.
const RUN: u16 = 0xFFFF;

/// Identity runs shorter than this are stored literally.
const MIN_RUN: u32 = 3;

/// The simple upper-case mapping of one UTF-16 unit (surrogates and characters whose
/// upper case is several characters or outside the BMP map to themselves).
fn upper_of(u: u32) -> u16 {
    let Some(c) = char::from_u32(u) else {
        return u as u16;
    };
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(up), None) if (up as u32) <= 0xFFFF => up as u32 as u16,
        _ => u as u16,
    }
}

/// The compressed up-case table as little-endian bytes, and its checksum.
pub fn generate() -> (Vec<u8>, u32) {
    let mut units: Vec<u16> = Vec::new();
    let mut c: u32 = 0;
    while c <= 0xFFFF {
        if upper_of(c) == c as u16 {
            let mut end = c;
            while end <= 0xFFFF && upper_of(end) == end as u16 {
                end += 1;
            }
            let len = end - c;
            // 0xFFFF itself can only be written as part of a run, never literally.
            if len >= MIN_RUN || end > 0xFFFF {
                units.push(RUN);
                units.push(len as u16);
            } else {
                for x in c..end {
                    units.push(x as u16);
                }
            }
            c = end;
        } else {
            units.push(upper_of(c));
            c += 1;
        }
    }
    let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
    let sum = table_checksum(&bytes);
    (bytes, sum)
}

/// A decoded up-case table: identity where the table is silent.
///
/// Stored as the sorted list of characters that do not map to themselves (1171 pairs
/// for our table, under 5 KB, rather than a 128 KiB array: the BIOS loader's heap is a bump allocator).
#[derive(Clone, Debug)]
pub struct Upcase {
    /// (character, upper case), sorted by character.
    pairs: Vec<(u16, u16)>,
}

impl Upcase {
    /// Decode a table (compressed or not); bytes past 0xFFFF characters are ignored.
    pub fn decode(bytes: &[u8]) -> Self {
        let mut pairs = Vec::new();
        let mut pos: u32 = 0;
        let mut units = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        while pos <= 0xFFFF {
            let Some(u) = units.next() else { break };
            if u == RUN {
                let Some(n) = units.next() else { break };
                pos = pos.saturating_add(u32::from(n));
            } else {
                if u32::from(u) != pos {
                    pairs.push((pos as u16, u));
                }
                pos += 1;
            }
        }
        Upcase { pairs }
    }

    /// The identity mapping (no allocation); used while the real table is borrowed out.
    pub fn identity() -> Self {
        Upcase { pairs: Vec::new() }
    }

    /// Upper case of one UTF-16 unit.
    pub fn up(&self, u: u16) -> u16 {
        match self.pairs.binary_search_by_key(&u, |&(c, _)| c) {
            Ok(i) => self.pairs.get(i).map_or(u, |&(_, up)| up),
            Err(_) => u,
        }
    }

    /// Upper case of a name.
    pub fn up_name(&self, name: &[u16]) -> Vec<u16> {
        name.iter().map(|&u| self.up(u)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_maps_ascii_latin1_and_greek_and_is_compact() {
        let (bytes, sum) = generate();
        assert!(
            bytes.len() < 8192,
            "compressed table is {} bytes",
            bytes.len()
        );
        assert_eq!(sum, table_checksum(&bytes));
        let t = Upcase::decode(&bytes);
        assert_eq!(t.up(u16::from(b'a')), u16::from(b'A'));
        assert_eq!(t.up(u16::from(b'Z')), u16::from(b'Z'));
        assert_eq!(t.up(0xE9), 0xC9); // é -> É
        assert_eq!(t.up(0x03B1), 0x0391); // α -> Α
        assert_eq!(t.up(0xDF), 0xDF); // ß has no single-character upper case
        assert_eq!(t.up(0xD800), 0xD800);
        assert_eq!(t.up(0xFFFF), 0xFFFF);
    }

    #[test]
    fn compressed_and_uncompressed_tables_agree_everywhere() {
        let raw: Vec<u8> = (0..=0xFFFFu32)
            .flat_map(|u| upper_of(u).to_le_bytes())
            .collect();
        let a = Upcase::decode(&raw);
        let b = Upcase::decode(&generate().0);
        for u in 0..=0xFFFFu16 {
            assert_eq!(a.up(u), b.up(u), "{u:#x}");
            assert_eq!(a.up(u), upper_of(u32::from(u)), "{u:#x}");
        }
        assert!(b.pairs.len() < 1500, "{} pairs", b.pairs.len());
    }

    #[test]
    fn decode_of_uncompressed_table_and_garbage_does_not_panic() {
        let raw: Vec<u8> = (0..=0xFFFFu32)
            .flat_map(|u| (upper_of(u)).to_le_bytes())
            .collect();
        let t = Upcase::decode(&raw);
        assert_eq!(t.up(u16::from(b'q')), u16::from(b'Q'));
        let _ = Upcase::decode(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1]);
        let _ = Upcase::decode(&[]);
    }
}
