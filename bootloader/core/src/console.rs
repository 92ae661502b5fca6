//! What the loaders implement to show the menu and take keys: a [`Console`] of text rows
//! (VGA text mode, UEFI simple text output; both mirror to COM1), a key [`Input`] and a
//! millisecond [`Clock`]. [`Painter`] redraws only rows that changed; [`ansi_line`]
//! renders a row for a serial terminal.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::keys::Key;

/// How a row is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Ordinary text.
    Normal,
    /// The selected entry (inverse video).
    Selected,
    /// An entry that cannot boot in this firmware mode.
    Disabled,
    /// The title bar.
    Header,
    /// Help or countdown line.
    Footer,
    /// A message about a failure or a question.
    Alert,
    /// The argument editor's line: drawn like `Normal`, with the character cell at
    /// `cursor` (a column of the row) in inverse video as the text cursor.
    Editor {
        /// The cursor's column.
        cursor: usize,
    },
}

/// One row of the screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The text, at most the console's width in characters (the loader maps characters
    /// it cannot show, e.g. to '?' on a code page 437 VGA screen).
    pub text: String,
    /// How to draw it.
    pub style: Style,
}

impl Line {
    /// An empty normal row.
    pub fn blank() -> Line {
        Line {
            text: String::new(),
            style: Style::Normal,
        }
    }
}

/// A whole screen: exactly as many rows as the console has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Screen {
    /// Rows from the top.
    pub lines: Vec<Line>,
}

impl Screen {
    /// The rows as plain text, the selected one marked with `>`: for logs and tests.
    pub fn plain(&self) -> String {
        let mut s = String::new();
        for l in &self.lines {
            let mark = if l.style == Style::Selected {
                "> "
            } else {
                "  "
            };
            let _ = writeln!(s, "{mark}{}", l.text.trim_end());
        }
        s
    }
}

/// A text screen of `columns` x `rows` characters.
pub trait Console {
    /// Width and height in characters.
    fn size(&self) -> (usize, usize);
    /// Draw row `row` (0 = top) as `line`, clearing the rest of the row.
    fn write_line(&mut self, row: usize, line: &Line);
    /// Blank the whole screen (before handing it to another program, or after one drew
    /// on it). By default every row is written blank; a loader clears faster its own way.
    fn clear(&mut self) {
        let (_, rows) = self.size();
        for row in 0..rows {
            self.write_line(row, &Line::blank());
        }
    }
}

/// A source of keys (keyboard and serial); `None` when no key is waiting.
pub trait Input {
    /// The next key, without waiting long (a few milliseconds at most).
    fn read_key(&mut self) -> Option<Key>;
}

/// Monotonic milliseconds.
pub trait Clock {
    /// Milliseconds since some fixed point.
    fn now_ms(&mut self) -> u64;
}

/// Draws [`Screen`]s, writing only the rows that differ from the previous screen.
#[derive(Clone, Debug, Default)]
pub struct Painter {
    last: Vec<Line>,
}

impl Painter {
    /// A painter that will draw every row the first time.
    pub fn new() -> Self {
        Painter { last: Vec::new() }
    }

    /// Forget what is on screen (after something else drew on it).
    pub fn invalidate(&mut self) {
        self.last.clear();
    }

    /// Draw `screen`; returns the number of rows written.
    pub fn paint<C: Console + ?Sized>(&mut self, con: &mut C, screen: &Screen) -> usize {
        let mut written = 0;
        for (row, line) in screen.lines.iter().enumerate() {
            if self.last.get(row) != Some(line) {
                con.write_line(row, line);
                written += 1;
            }
        }
        self.last.clone_from(&screen.lines);
        written
    }
}

/// A row for an ANSI/VT100 serial terminal: cursor to the row, the style's attributes,
/// the text, clear to end of line. The editor's cursor cell is drawn in inverse video.
pub fn ansi_line(row: usize, line: &Line) -> String {
    let attr = match line.style {
        Style::Normal | Style::Editor { .. } => "0",
        Style::Selected => "0;7",
        Style::Disabled => "0;2",
        Style::Header => "0;1",
        Style::Footer => "0",
        Style::Alert => "0;1;33",
    };
    let mut s = String::with_capacity(line.text.len() + 24);
    let _ = write!(s, "\x1b[{};1H\x1b[{attr}m", row + 1);
    match line.style {
        Style::Editor { cursor } => {
            let (before, at, after) = split_at_cell(&line.text, cursor);
            let _ = write!(s, "{before}\x1b[7m{at}\x1b[0m{after}");
        }
        _ => s.push_str(&line.text),
    }
    s.push_str("\x1b[K\x1b[0m");
    s
}

/// `text` split around the character cell `col`: before it, the cell (a blank past the
/// end of the text), after it. For drawing the editor's cursor.
pub fn split_at_cell(text: &str, col: usize) -> (&str, char, &str) {
    let mut it = text.char_indices().skip(col);
    match it.next() {
        Some((i, c)) => (&text[..i], c, &text[i + c.len_utf8()..]),
        None => (text, ' ', ""),
    }
}

/// Clip `s` to `width` characters.
pub(crate) fn clip(s: &str, width: usize) -> String {
    s.chars().take(width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rec(Vec<(usize, String)>);
    impl Console for Rec {
        fn size(&self) -> (usize, usize) {
            (80, 3)
        }
        fn write_line(&mut self, row: usize, line: &Line) {
            self.0.push((row, line.text.clone()));
        }
    }

    fn screen(t: &[&str]) -> Screen {
        Screen {
            lines: t
                .iter()
                .map(|s| Line {
                    text: (*s).into(),
                    style: Style::Normal,
                })
                .collect(),
        }
    }

    #[test]
    fn painter_writes_changed_rows_only() {
        let mut p = Painter::new();
        let mut c = Rec(Vec::new());
        assert_eq!(p.paint(&mut c, &screen(&["a", "b", "c"])), 3);
        assert_eq!(p.paint(&mut c, &screen(&["a", "x", "c"])), 1);
        assert_eq!(c.0.last(), Some(&(1, "x".into())));
        p.invalidate();
        assert_eq!(p.paint(&mut c, &screen(&["a", "x", "c"])), 3);
    }

    #[test]
    fn ansi_rows() {
        let l = Line {
            text: "hi".into(),
            style: Style::Selected,
        };
        assert_eq!(ansi_line(2, &l), "\x1b[3;1H\x1b[0;7mhi\x1b[K\x1b[0m");
        assert_eq!(clip("héllo", 2), "hé");
        let edit = |cursor| Line {
            text: "ab".into(),
            style: Style::Editor { cursor },
        };
        assert_eq!(
            ansi_line(0, &edit(1)),
            "\x1b[1;1H\x1b[0ma\x1b[7mb\x1b[0m\x1b[K\x1b[0m"
        );
        assert_eq!(
            ansi_line(0, &edit(2)),
            "\x1b[1;1H\x1b[0mab\x1b[7m \x1b[0m\x1b[K\x1b[0m"
        );
    }
}
