//! What `Config::echo_serial` copies to stdout: the guest's COM1 as it arrives, minus the
//! loaders' developer timing notes (`bootshelf: discovered 9 entries at 28307 us ...`,
//! `bootshelf: menu drawn at ... us`) unless [`crate::Config::echo_timings`] asks for
//! them. Everything else passes through at once (menus are drawn with escape sequences
//! and no line breaks); only text from a `bootshelf: ` on is held, until its line ends.

/// The start of every loader note on COM1.
const NOTE: &[u8] = b"bootshelf: ";

/// Filters the serial stream for the terminal.
#[derive(Debug, Default)]
pub struct Echo {
    /// Show the timing notes too.
    timings: bool,
    /// Bytes held back: a possible start of a note, or a note up to its line break.
    held: Vec<u8>,
}

impl Echo {
    /// A filter; `timings`: pass the timing notes through too.
    pub fn new(timings: bool) -> Echo {
        Echo {
            timings,
            held: Vec::new(),
        }
    }

    /// The bytes of `input` to show now.
    pub fn feed(&mut self, input: &[u8]) -> Vec<u8> {
        if self.timings {
            return input.to_vec();
        }
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            self.push(b, &mut out);
        }
        out
    }

    /// Take one byte. A note may start anywhere (the loaders write theirs right after
    /// the menu's escape sequences), so any `bootshelf: ` is held up to its line break.
    fn push(&mut self, b: u8, out: &mut Vec<u8>) {
        self.held.push(b);
        if self.held.len() > NOTE.len() {
            if b == b'\n' {
                if !is_timing_note(&self.held) {
                    out.extend_from_slice(&self.held);
                }
                self.held.clear();
            }
            return;
        }
        if NOTE.starts_with(&self.held) {
            return;
        }
        // Not a note here: show the first byte and look again from the next one.
        let rest = self.held.split_off(1);
        out.append(&mut self.held);
        for r in rest {
            self.push(r, out);
        }
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
    fn text_that_only_starts_like_a_note_passes() {
        assert_eq!(through(false, &["boot: "]), "boot: ");
        assert_eq!(through(false, &["bbootshelf", "x"]), "bbootshelfx");
        assert_eq!(
            through(false, &["bootshelf: booting", " /a.iso\r\n"]),
            "bootshelf: booting /a.iso\r\n"
        );
    }

    #[test]
    fn a_note_right_after_the_menu_is_hidden_too() {
        assert_eq!(
            through(
                false,
                &[
                    "countdown.bootshelf: discov",
                    "ered 2 entries at 7 us (x)\r\nA"
                ]
            ),
            "countdown.A"
        );
    }
}
