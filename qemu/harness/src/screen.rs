//! What the guest shows on screen: the VGA text buffer (cp437 characters in even bytes)
//! and binary PPM screendumps.

use crate::Error;

/// Map one cp437 byte to a char: ASCII as is, the box-drawing and block characters to
/// their Unicode forms where menus commonly use them, anything else to `?`.
fn cp437(b: u8) -> char {
    match b {
        0x20..=0x7e => b as char,
        0x00 => ' ',
        0xb3 | 0xba => '│',
        0xc4 | 0xcd => '─',
        0xda | 0xc9 => '┌',
        0xbf | 0xbb => '┐',
        0xc0 | 0xc8 => '└',
        0xd9 | 0xbc => '┘',
        0xdb => '█',
        0xb0..=0xb2 => '░',
        _ => '?',
    }
}

/// Decode a VGA text buffer dump (character, attribute pairs) of `columns` columns into
/// lines with trailing blanks removed.
pub fn decode_vga_text(raw: &[u8], columns: usize) -> String {
    let mut out = String::new();
    for row in raw.chunks(columns.max(1) * 2) {
        let line: String = row.chunks(2).map(|c| cp437(c[0])).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A binary (P6) PPM image with 8-bit channels.
#[derive(Clone, Debug)]
pub struct Ppm {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// RGB triples, row by row.
    pub rgb: Vec<u8>,
}

impl Ppm {
    /// Parse a P6 PPM with maxval 255.
    pub fn parse(raw: &[u8]) -> Result<Ppm, Error> {
        let mut fields = Vec::new();
        let mut pos = 0usize;
        while fields.len() < 4 {
            while pos < raw.len() && raw[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if raw.get(pos) == Some(&b'#') {
                while pos < raw.len() && raw[pos] != b'\n' {
                    pos += 1;
                }
                continue;
            }
            let start = pos;
            while pos < raw.len() && !raw[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if start == pos {
                return Err(Error::BadScreendump(format!(
                    "header ends at byte {pos} after {} fields",
                    fields.len()
                )));
            }
            fields.push(String::from_utf8_lossy(&raw[start..pos]).into_owned());
        }
        // Exactly one whitespace byte separates the header from the pixels.
        pos += 1;
        if fields[0] != "P6" || fields[3] != "255" {
            return Err(Error::BadScreendump(format!(
                "not a P6 image with maxval 255: {fields:?}"
            )));
        }
        let num = |s: &str| {
            s.parse::<usize>()
                .map_err(|_| Error::BadScreendump(format!("bad dimension {s:?}")))
        };
        let (width, height) = (num(&fields[1])?, num(&fields[2])?);
        let len = width
            .checked_mul(height)
            .and_then(|p| p.checked_mul(3))
            .ok_or_else(|| Error::BadScreendump(format!("{width}x{height} is too large")))?;
        let rgb = raw
            .get(pos..pos + len)
            .ok_or_else(|| {
                Error::BadScreendump(format!(
                    "{width}x{height} needs {len} bytes of pixels, file has {}",
                    raw.len().saturating_sub(pos)
                ))
            })?
            .to_vec();
        Ok(Ppm { width, height, rgb })
    }

    /// Write the image as a binary PPM file.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        let mut data = format!("P6\n{} {}\n255\n", self.width, self.height).into_bytes();
        data.extend_from_slice(&self.rgb);
        std::fs::write(path, data)
    }

    /// The colour of pixel (x, y), if inside the image.
    pub fn pixel(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        if x >= self.width || y >= self.height {
            return None;
        }
        let i = (y * self.width + x) * 3;
        self.rgb.get(i..i + 3).map(|p| [p[0], p[1], p[2]])
    }

    /// How many distinct colours the image uses (a blank or single-colour screen has 1).
    pub fn distinct_colours(&self) -> usize {
        let mut seen = std::collections::HashSet::new();
        for p in self.rgb.chunks_exact(3) {
            seen.insert([p[0], p[1], p[2]]);
        }
        seen.len()
    }

    /// Fraction of pixels that are not black.
    pub fn lit_fraction(&self) -> f64 {
        let total = self.rgb.len() / 3;
        if total == 0 {
            return 0.0;
        }
        let lit = self
            .rgb
            .chunks_exact(3)
            .filter(|p| p.iter().any(|&c| c > 16))
            .count();
        lit as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_text_and_ppm() {
        let mut raw = vec![0u8; 8];
        raw[0] = b'H';
        raw[2] = b'i';
        raw[4] = b' ';
        assert_eq!(decode_vga_text(&raw, 2), "Hi\n\n");
        let mut ppm = b"P6\n# c\n2 1\n255\n".to_vec();
        ppm.extend_from_slice(&[0, 0, 0, 255, 0, 0]);
        let p = Ppm::parse(&ppm).unwrap();
        assert_eq!((p.width, p.height), (2, 1));
        assert_eq!(p.pixel(1, 0), Some([255, 0, 0]));
        assert_eq!(p.distinct_colours(), 2);
        assert!(Ppm::parse(b"P6 2 2 255 abc").is_err());
    }
}
