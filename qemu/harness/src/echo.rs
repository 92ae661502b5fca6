//! What `Config::echo_serial` copies to stdout: the guest's COM1 as it arrives, minus the
//! loaders' developer timing notes (`bootshelf: discovered 9 entries at 28307 us ...`,
//! `bootshelf: menu drawn at ... us`) unless [`crate::Config::echo_timings`] asks for
//! them. Everything else passes through at once (menus are drawn with escape sequences
//! and no line breaks); only a line that starts like a note is held until its end.

/// The start of every loader note on COM1.
const NOTE: &[u8] = b"bootshelf: ";

/// Filters the serial stream for the terminal.
#[derive(Debug, Default)]
pub struct Echo {
    /// Show the timing notes too.
    timings: bool,
    /// The start of the current line, held while it may be a note.
    held: Vec<u8>,
    /// Whether the next byte starts a line.
    mid_line: bool,
}

impl Echo {
    /// A filter; `timings`: pass the timing notes through too.
    pub fn new(timings: bool) -> Echo {
        Echo {
            timings,
            ..Echo::default()
        }
    }

    /// The bytes of `input` to show now.
    pub fn feed(&mut self, input: &[u8]) -> Vec<u8> {
        if self.timings {
            return input.to_vec();
        }
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if self.mid_line && self.held.is_empty() {
                out.push(b);
                self.mid_line = b != b'\n';
                continue;
            }
            self.held.push(b);
            self.mid_line = true;
            let may_be_note = if self.held.len() <= NOTE.len() {
                NOTE.starts_with(&self.held)
            } else {
                true
            };
            if !may_be_note {
                out.append(&mut self.held);
                self.mid_line = b != b'\n';
            } else if b == b'\n' {
                if !is_timing_note(&self.held) {
                    out.extend_from_slice(&self.held);
                }
                self.held.clear();
                self.mid_line = false;
            }
        }
        out
    }
}

/// Whether a whole line is a loader note carrying a time: `bootshelf: ... at <digits> us`.
fn is_timing_note(line: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(line) else {
        return false;
    };
    text.starts_with("bootshelf: ")
        && text.split(" at ").skip(1).any(|rest| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            digits > 0 && rest[digits..].starts_with(" us")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn through(timings: bool, chunks: &[&str]) -> String {
        let mut e = Echo::new(timings);
        let mut out = Vec::new();
        for c in chunks {
            out.extend(e.feed(c.as_bytes()));
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timing_notes_are_hidden_and_the_rest_passes() {
        let serial = [
            "BdsDxe: loading Boot0001\r\nboot",
            "shelf: discovered 9 entries at 28307 us (12 reads of 4 KiB, 3 from the stick)\r\n",
            "\x1b[2J\x1b[1;1H   1  debian.iso",
            "\r\nbootshelf: menu drawn at 30001 us\r\nbootshelf: booting /debian.iso\r\n",
            "bootsector",
        ];
        assert_eq!(
            through(false, &serial),
            "BdsDxe: loading Boot0001\r\n\x1b[2J\x1b[1;1H   1  debian.iso\r\n\
             bootshelf: booting /debian.iso\r\nbootsector"
        );
        assert_eq!(through(true, &serial), serial.concat());
    }

    #[test]
    fn text_that_only_starts_like_a_note_is_not_held_back() {
        assert_eq!(through(false, &["boot: "]), "boot: ");
        assert_eq!(
            through(false, &["x bootshelf: a at 5 us\n"]),
            "x bootshelf: a at 5 us\n"
        );
    }
}
