//! The menu's one-line argument editor: a line of text and a cursor in it, changed by
//! keys (type at the cursor, Backspace/Delete around it, Left/Right/Home/End move it), and
//! the visible part of a line too long for the screen, scrolled so the cursor shows.

use alloc::string::String;

use crate::keys::Key;

/// A line being edited. The cursor is a character position, `0..=len`; at `len` it
/// stands after the last character, where typing appends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineEdit {
    text: String,
    cursor: usize,
    max_chars: usize,
}

impl LineEdit {
    /// Editing `text` (cut to `max_chars` characters), the cursor at its end.
    pub fn new(text: &str, max_chars: usize) -> LineEdit {
        let text: String = text.chars().take(max_chars).collect();
        let cursor = text.chars().count();
        LineEdit {
            text,
            cursor,
            max_chars,
        }
    }

    /// The line.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The cursor's character position.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Apply an editing key; returns whether the line or the cursor changed. Enter and
    /// Esc are the menu's business, not the editor's: they change nothing here.
    pub fn key(&mut self, key: Key) -> bool {
        let len = self.text.chars().count();
        let before = (self.cursor, len);
        match key {
            Key::Left => self.cursor = self.cursor.saturating_sub(1),
            Key::Right => self.cursor = (self.cursor + 1).min(len),
            Key::Home => self.cursor = 0,
            Key::End => self.cursor = len,
            Key::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.remove_at(self.cursor);
            }
            Key::Delete if self.cursor < len => self.remove_at(self.cursor),
            Key::Char(c) => self.insert(c),
            Key::Digit(d) => self.insert(char::from(b'0' + d.get())),
            _ => {}
        }
        before != (self.cursor, self.text.chars().count())
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    fn insert(&mut self, c: char) {
        if self.text.chars().count() < self.max_chars {
            let at = self.byte_at(self.cursor);
            self.text.insert(at, c);
            self.cursor += 1;
        }
    }

    fn remove_at(&mut self, chars: usize) {
        let at = self.byte_at(chars);
        self.text.remove(at);
    }

    /// What shows in `width` cells: the part of the line around the cursor, and the
    /// cursor's cell in it (`< width`; a blank cell after the text when the cursor is at
    /// its end). A line that fits shows from its start; a longer one scrolls just enough
    /// for the cursor's cell to show.
    pub fn view(&self, width: usize) -> (String, usize) {
        if width == 0 {
            return (String::new(), 0);
        }
        let start = (self.cursor + 1).saturating_sub(width);
        let shown = self.text.chars().skip(start).take(width).collect();
        (shown, self.cursor - start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(e: &mut LineEdit, s: &str) {
        for c in s.chars() {
            e.key(Key::from_char(c));
        }
    }

    #[test]
    fn typing_and_deleting_at_the_cursor() {
        let mut e = LineEdit::new("quiet splash", 255);
        assert_eq!(e.cursor(), 12);
        assert!(e.key(Key::Home));
        typed(&mut e, "ro ");
        assert_eq!((e.text(), e.cursor()), ("ro quiet splash", 3));
        for _ in 0..5 {
            e.key(Key::Delete);
        }
        assert_eq!(e.text(), "ro  splash");
        typed(&mut e, "nomodeset");
        assert_eq!(e.text(), "ro nomodeset splash");
        e.key(Key::End);
        e.key(Key::Backspace);
        assert_eq!((e.text(), e.cursor()), ("ro nomodeset splas", 18));
        // At the ends nothing moves or goes.
        assert!(!e.key(Key::Right));
        assert!(!e.key(Key::Delete));
        e.key(Key::Home);
        assert!(!e.key(Key::Left));
        assert!(!e.key(Key::Backspace));
        assert!(!e.key(Key::Enter));
        assert!(!e.key(Key::Esc));
    }

    #[test]
    fn the_line_stops_at_its_limit_and_keeps_non_ascii_whole() {
        let mut e = LineEdit::new("abcdef", 4);
        assert_eq!(e.text(), "abcd");
        assert!(!e.key(Key::Char('x')));
        let mut e = LineEdit::new("añb", 10);
        e.key(Key::Left);
        e.key(Key::Backspace);
        assert_eq!((e.text(), e.cursor()), ("ab", 1));
        e.key(Key::Char('~'));
        assert_eq!(e.text(), "a~b");
    }

    #[test]
    fn the_view_scrolls_to_keep_the_cursor_on_screen() {
        let e = LineEdit::new("0123456789", 255);
        assert_eq!(e.view(20), ("0123456789".into(), 10));
        assert_eq!(e.view(5), ("6789".into(), 4));
        let mut e = e;
        e.key(Key::Home);
        assert_eq!(e.view(5), ("01234".into(), 0));
        for _ in 0..7 {
            e.key(Key::Right);
        }
        assert_eq!(e.view(5), ("34567".into(), 4));
        assert_eq!(e.view(0), (String::new(), 0));
    }
}
