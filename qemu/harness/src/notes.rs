//! The loaders' notes (`bootshelf: menu drawn at 156755 us\r\n`, written on COM1 beside
//! the menu for tests and developers) taken out of the serial output a user watches: on
//! a terminal they land in the middle of the menu the firmware draws and scroll it. The
//! serial log keeps them; only the echo to the terminal is filtered.

/// What every note starts with.
const MARKER: &[u8] = b"bootshelf: ";

/// A streaming filter: bytes in, the same bytes without any `bootshelf: ...` up to and
/// including its line end. A marker split across two reads is held back until it is
/// known to be one.
#[derive(Debug, Default)]
pub struct NoteFilter {
    held: Vec<u8>,
    in_note: bool,
}

impl NoteFilter {
    /// Filter `input`, appending what passes to `out`.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let mut data = std::mem::take(&mut self.held);
        data.extend_from_slice(input);
        let mut rest: &[u8] = &data;
        loop {
            if self.in_note {
                match rest.iter().position(|&b| b == b'\n') {
                    Some(end) => {
                        rest = rest.get(end + 1..).unwrap_or(&[]);
                        self.in_note = false;
                    }
                    None => return,
                }
            }
            match find(rest, MARKER) {
                Some(at) => {
                    out.extend_from_slice(rest.get(..at).unwrap_or(&[]));
                    rest = rest.get(at + MARKER.len()..).unwrap_or(&[]);
                    self.in_note = true;
                }
                None => {
                    // Hold back a tail that could be the start of a marker.
                    let keep = (1..MARKER.len())
                        .rev()
                        .find(|&n| rest.ends_with(MARKER.get(..n).unwrap_or(&[])))
                        .unwrap_or(0);
                    let (pass, hold) = rest.split_at(rest.len() - keep);
                    out.extend_from_slice(pass);
                    self.held = hold.to_vec();
                    return;
                }
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_dropped_whole_even_when_split_across_reads() {
        let stream = b"\x1b[2;1H  1  one.iso\r\ncountdown.bootshelf: discovered 2 entries at 5 us\r\nbootshelf: menu drawn at 9 us\r\n\x1b[3;1H  2  two.iso bootshelf";
        let want = b"\x1b[2;1H  1  one.iso\r\ncountdown.\x1b[3;1H  2  two.iso bootshelf";
        for split in 0..stream.len() {
            let mut f = NoteFilter::default();
            let mut out = Vec::new();
            let (a, b) = stream.split_at(split);
            f.feed(a, &mut out);
            f.feed(b, &mut out);
            // The trailing "bootshelf" is held until more comes; a line end releases it.
            f.feed(b"!", &mut out);
            let mut w = want.to_vec();
            w.push(b'!');
            assert_eq!(
                String::from_utf8_lossy(&out),
                String::from_utf8_lossy(&w),
                "split at {split}"
            );
        }
    }
}
