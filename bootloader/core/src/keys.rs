//! Menu keys, and a decoder that turns bytes from a serial line (a terminal's escape
//! sequences) into the same keys a keyboard gives.

/// A key the menu understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// Cursor up.
    Up,
    /// Cursor down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
    /// Home: first entry.
    Home,
    /// End: last entry.
    End,
    /// Cursor left (the argument editor moves its cursor).
    Left,
    /// Cursor right.
    Right,
    /// Delete: the argument editor deletes the character at its cursor.
    Delete,
    /// A digit 1-9: select that entry.
    Digit(Digit),
    /// Enter / Return.
    Enter,
    /// Escape.
    Esc,
    /// Backspace (the argument editor deletes the character before its cursor).
    Backspace,
    /// A printable ASCII character other than 1-9 (typed into the argument editor; `e`
    /// opens it).
    Char(char),
    /// Any other key: cancels the countdown, nothing else.
    Other,
}

/// A digit key 1-9.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Digit(u8);

impl Digit {
    /// `Some` for 1..=9.
    pub fn new(n: u8) -> Option<Digit> {
        (1..=9).contains(&n).then_some(Digit(n))
    }

    /// The value, 1-9.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Key {
    /// The key for a plain character typed on a keyboard or a terminal.
    pub fn from_char(c: char) -> Key {
        match c {
            '\r' | '\n' => Key::Enter,
            '\x1b' => Key::Esc,
            '1'..='9' => Digit::new(c as u8 - b'0').map_or(Key::Other, Key::Digit),
            '\x08' | '\x7f' => Key::Backspace,
            ' '..='~' => Key::Char(c),
            _ => Key::Other,
        }
    }
}

/// Where the decoder is inside an escape sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Ground,
    /// Saw ESC.
    Escape,
    /// Saw ESC [ (CSI), with the numeric parameter so far.
    Csi(u16),
    /// Saw ESC O (SS3, application cursor mode).
    Ss3,
    /// Saw CR: a following LF belongs to the same Enter.
    AfterCr,
}

/// Decodes terminal input byte by byte: `ESC [ A/B/C/D` (up/down/right/left), `ESC [ 5~ /
/// 6~` (page up/down), `ESC [ H / F`, `ESC [ 1~ / 4~ / 7~ / 8~` (home/end), `ESC [ 3~`
/// (delete), `ESC O A/B/C/D/H/F` (application mode), CR, LF or CR LF (enter), digits. A lone ESC is only known to be the
/// Escape key once no more bytes follow: call [`SerialDecoder::idle`] when the line has
/// been quiet for a moment (say 50 ms).
#[derive(Clone, Debug)]
pub struct SerialDecoder {
    state: State,
}

impl Default for SerialDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SerialDecoder {
    /// A decoder in its ground state.
    pub const fn new() -> Self {
        SerialDecoder {
            state: State::Ground,
        }
    }

    /// Feed one byte; returns a key when one is complete.
    pub fn push(&mut self, b: u8) -> Option<Key> {
        match self.state {
            State::Ground | State::AfterCr => {
                let after_cr = self.state == State::AfterCr;
                self.state = State::Ground;
                match b {
                    0x1B => {
                        self.state = State::Escape;
                        None
                    }
                    b'\r' => {
                        self.state = State::AfterCr;
                        Some(Key::Enter)
                    }
                    b'\n' if after_cr => None,
                    _ => Some(Key::from_char(char::from(b))),
                }
            }
            State::Escape => match b {
                b'[' => {
                    self.state = State::Csi(0);
                    None
                }
                b'O' => {
                    self.state = State::Ss3;
                    None
                }
                0x1B => {
                    // ESC ESC: the first was the Escape key.
                    self.state = State::Escape;
                    Some(Key::Esc)
                }
                _ => {
                    // ESC followed by a plain key: Escape, and the key is lost (Alt+key
                    // on terminals); report Escape.
                    self.state = State::Ground;
                    Some(Key::Esc)
                }
            },
            State::Csi(n) => match b {
                b'0'..=b'9' => {
                    let n = n.saturating_mul(10).saturating_add(u16::from(b - b'0'));
                    self.state = State::Csi(n.min(999));
                    None
                }
                b';' => {
                    // Modifier parameters (ESC [ 1 ; 5 A): keep the first number.
                    None
                }
                b'~' => {
                    self.state = State::Ground;
                    Some(match n {
                        1 | 7 => Key::Home,
                        3 => Key::Delete,
                        4 | 8 => Key::End,
                        5 => Key::PageUp,
                        6 => Key::PageDown,
                        _ => Key::Other,
                    })
                }
                0x40..=0x7E => {
                    self.state = State::Ground;
                    Some(final_key(b))
                }
                _ => {
                    self.state = State::Ground;
                    Some(Key::Other)
                }
            },
            State::Ss3 => {
                self.state = State::Ground;
                Some(final_key(b))
            }
        }
    }

    /// The line has been quiet: a pending lone ESC is the Escape key; an unfinished
    /// sequence is dropped.
    pub fn idle(&mut self) -> Option<Key> {
        let s = self.state;
        self.state = State::Ground;
        match s {
            State::Escape => Some(Key::Esc),
            State::Csi(_) | State::Ss3 => Some(Key::Other),
            State::Ground | State::AfterCr => None,
        }
    }

    /// Whether the decoder is inside an escape sequence (the caller should wait briefly
    /// for more bytes before calling [`SerialDecoder::idle`]).
    pub fn pending(&self) -> bool {
        matches!(self.state, State::Escape | State::Csi(_) | State::Ss3)
    }
}

fn final_key(b: u8) -> Key {
    match b {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        _ => Key::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Vec<Key> {
        let mut d = SerialDecoder::new();
        let mut out: Vec<Key> = bytes.iter().filter_map(|&b| d.push(b)).collect();
        out.extend(d.idle());
        out
    }

    #[test]
    fn escape_sequences() {
        use Key::*;
        assert_eq!(decode(b"\x1b[A\x1b[B"), [Up, Down]);
        assert_eq!(decode(b"\x1b[5~\x1b[6~"), [PageUp, PageDown]);
        assert_eq!(
            decode(b"\x1b[H\x1b[F\x1b[1~\x1b[4~\x1b[7~\x1b[8~"),
            [Home, End, Home, End, Home, End]
        );
        assert_eq!(decode(b"\x1bOA\x1bOB\x1bOH\x1bOF"), [Up, Down, Home, End]);
        assert_eq!(decode(b"\x1b[1;5A"), [Up]);
        assert_eq!(
            decode(b"\x1b[C\x1b[D\x1bOC\x1bOD\x1b[3~"),
            [Right, Left, Right, Left, Delete]
        );
        assert_eq!(decode(b"\x1b[E"), [Other]);
    }

    #[test]
    fn enter_digits_and_escape() {
        use Key::*;
        let d = |n| Digit(super::Digit::new(n).unwrap());
        assert_eq!(decode(b"\r\n\r\n"), [Enter, Enter]);
        assert_eq!(decode(b"\n\n"), [Enter, Enter]);
        assert_eq!(decode(b"19x0"), [d(1), d(9), Char('x'), Char('0')]);
        assert_eq!(decode(b"\x7f\x08\x01"), [Backspace, Backspace, Other]);
        assert_eq!(decode(b"\x1b"), [Esc]);
        assert_eq!(decode(b"\x1b\x1b"), [Esc, Esc]);
        assert_eq!(decode(b"\x1bq"), [Esc]);
        assert_eq!(decode(b"\x1b["), [Other]);
        let mut dec = SerialDecoder::new();
        assert_eq!(dec.push(0x1b), None);
        assert!(dec.pending());
        assert_eq!(dec.idle(), Some(Esc));
        assert!(!dec.pending());
        assert_eq!(super::Digit::new(0), None);
        assert_eq!(super::Digit::new(10), None);
    }
}
