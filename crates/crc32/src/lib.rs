//! CRC-32 as GPT headers and entry arrays (UEFI specification 5.3), bootshelf's index
//! slots and zlib/PNG use it: IEEE 802.3, reflected polynomial 0xEDB88320, initial value
//! and final XOR 0xFFFFFFFF (the catalogue name is CRC-32/ISO-HDLC).
//!
//! One implementation for every crate (ptable, iso9660, index, and through them both
//! bootloaders): byte-at-a-time over a 1 KiB table computed at compile time. `no_std`,
//! no allocation, no `unsafe`.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The reflected generator polynomial.
pub const POLY: u32 = 0xEDB8_8320;

/// `TABLE[i]` is the CRC register after shifting the byte `i` through it (built by
/// [`make_table`] at compile time).
static TABLE: [u32; 256] = make_table();

/// The lookup table: eight bit-steps of the register for each byte value.
const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// A running CRC-32 over data fed in pieces; the result equals [`crc32`] of the pieces
/// concatenated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crc32(u32);

impl Crc32 {
    /// A checksum of nothing yet.
    pub const fn new() -> Self {
        Crc32(0xFFFF_FFFF)
    }

    /// Feed bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            // The index is masked to 0..=255, so it is always inside the table.
            c = TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    /// The checksum of everything fed so far.
    pub const fn finish(self) -> u32 {
        !self.0
    }
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

/// CRC-32 of one slice.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(bytes);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, one bit at a time: what the table must reproduce.
    fn bitwise(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn known_vectors() {
        // The catalogue check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        assert_eq!(crc32(b"abc"), 0x3524_41C2);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        // 32 zero bytes and 32 0xFF bytes (RFC 3720 B.4 lists them for CRC-32C; these are
        // the CRC-32 values, as zlib computes them).
        assert_eq!(crc32(&[0u8; 32]), 0x190A_55AD);
        assert_eq!(crc32(&[0xFFu8; 32]), 0xFF6C_AB0B);
    }

    #[test]
    fn table_entries_match_the_polynomial() {
        assert_eq!(TABLE[0], 0);
        assert_eq!(TABLE[1], 0x7707_3096);
        assert_eq!(TABLE[128], POLY);
        assert_eq!(TABLE[255], 0x2D02_EF8D);
    }

    #[test]
    fn pieces_equal_whole() {
        let mut c = Crc32::new();
        c.update(b"1234");
        c.update(b"");
        c.update(b"56789");
        assert_eq!(c.finish(), 0xCBF4_3926);
        assert_eq!(Crc32::default().finish(), 0);
    }

    #[test]
    fn table_agrees_with_the_bitwise_definition() {
        let mut seed = 0x2545_F491u32;
        let mut buf = [0u8; 1500];
        for len in [0usize, 1, 2, 3, 7, 92, 128, 511, 512, 513, 1500] {
            for b in buf.iter_mut().take(len) {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                *b = seed as u8;
            }
            assert_eq!(crc32(&buf[..len]), bitwise(&buf[..len]), "length {len}");
        }
    }
}
