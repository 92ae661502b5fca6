//! GUIDs as GPT stores them: the first three fields little-endian, the last eight bytes
//! as they are ("mixed-endian"), printed in the usual `8-4-4-4-12` upper-case form.

use core::fmt;

/// A GUID in its on-disk byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The all-zero GUID: an unused GPT entry has it as its type.
    pub const ZERO: Guid = Guid([0; 16]);

    /// Build from the fields as written in text: `d1-d2-d3-d4[0..2]-d4[2..8]`.
    pub const fn from_fields(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Guid {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Guid([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// Parse the text form `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` (either case).
    pub fn parse(s: &str) -> Option<Guid> {
        let b = s.as_bytes();
        if b.len() != 36 {
            return None;
        }
        // Text order of the 16 bytes, as (text byte index of the two hex digits).
        let mut text = [0u8; 16];
        let mut n = 0;
        let mut i = 0;
        while i < 36 {
            if matches!(i, 8 | 13 | 18 | 23) {
                if b[i] != b'-' {
                    return None;
                }
                i += 1;
                continue;
            }
            let hi = hex(b[i])?;
            let lo = hex(*b.get(i + 1)?)?;
            *text.get_mut(n)? = hi << 4 | lo;
            n += 1;
            i += 2;
        }
        let d1 = u32::from_be_bytes([text[0], text[1], text[2], text[3]]);
        let d2 = u16::from_be_bytes([text[4], text[5]]);
        let d3 = u16::from_be_bytes([text[6], text[7]]);
        let mut d4 = [0u8; 8];
        d4.copy_from_slice(&text[8..16]);
        Some(Guid::from_fields(d1, d2, d3, d4))
    }

    /// Whether this is the all-zero GUID.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = &self.0;
        write!(
            f,
            "{:08X}-{:04X}-{:04X}-{:02X}{:02X}-{:02X}{:02X}{:02X}{:02X}{:02X}{:02X}",
            u32::from_le_bytes([g[0], g[1], g[2], g[3]]),
            u16::from_le_bytes([g[4], g[5]]),
            u16::from_le_bytes([g[6], g[7]]),
            g[8],
            g[9],
            g[10],
            g[11],
            g[12],
            g[13],
            g[14],
            g[15]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_byte_order() {
        let esp = Guid::parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93B").unwrap();
        assert_eq!(
            esp.0,
            [
                0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E,
                0xC9, 0x3B
            ]
        );
        assert_eq!(esp.to_string(), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        assert_eq!(
            Guid::parse("c12a7328-f81f-11d2-ba4b-00a0c93ec93b"),
            Some(esp)
        );
        assert_eq!(Guid::parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93"), None);
        assert_eq!(Guid::parse("C12A7328+F81F-11D2-BA4B-00A0C93EC93B"), None);
        assert_eq!(Guid::parse("G12A7328-F81F-11D2-BA4B-00A0C93EC93B"), None);
    }
}
