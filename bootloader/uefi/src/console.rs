//! The UEFI side of bootloader-core's console traits: [`UefiConsole`] draws rows with the
//! Simple Text Output protocol (OVMF and most firmware mirror it to COM1), [`UefiInput`]
//! takes keys from ConIn (keyboard, and serial input decoded by the firmware's terminal
//! driver), [`TscClock`] counts milliseconds. [`serial_note`] writes a line to the serial
//! port only, for timestamps and machine-readable notes that must not disturb the screen.

use crate::clock;
use alloc::string::String;
use alloc::vec::Vec;
use bootloader_core::{Clock, Console, Input, Key, Line, Style};
use core::time::Duration;
use uefi::boot;
use uefi::proto::console::serial::Serial;
use uefi::proto::console::text::{Color, Key as UefiKey, ScanCode};
use uefi::CStr16;

/// The firmware's text console.
pub struct UefiConsole {
    cols: usize,
    rows: usize,
    /// How many cells of each row hold text now: a row is padded with blanks only over
    /// what was there before. Writing whole 100-column rows would make the first paint
    /// several times slower, as the firmware mirrors every cell to the serial port.
    used: Vec<usize>,
}

impl UefiConsole {
    /// The console in its current mode (80x25 when the firmware does not say).
    pub fn new() -> UefiConsole {
        let (cols, rows) = uefi::system::with_stdout(|o| {
            let _ = o.enable_cursor(false);
            match o.current_mode() {
                Ok(Some(m)) => (m.columns(), m.rows()),
                _ => (80, 25),
            }
        });
        UefiConsole {
            cols,
            rows,
            used: alloc::vec![cols; rows],
        }
    }
}

fn colours(style: Style) -> (Color, Color) {
    match style {
        Style::Normal | Style::Footer | Style::Editor { .. } => (Color::LightGray, Color::Black),
        Style::Selected => (Color::Black, Color::LightGray),
        Style::Disabled => (Color::DarkGray, Color::Black),
        Style::Header => (Color::White, Color::Black),
        Style::Alert => (Color::Yellow, Color::Black),
    }
}

impl Console for UefiConsole {
    fn size(&self) -> (usize, usize) {
        (self.cols, self.rows)
    }

    /// Clear the screen (before handing it to another program, or after one used it).
    fn clear(&mut self) {
        uefi::system::with_stdout(|o| {
            let _ = o.set_color(Color::LightGray, Color::Black);
            let _ = o.clear();
        });
        self.used.iter_mut().for_each(|u| *u = 0);
    }

    fn write_line(&mut self, row: usize, line: &Line) {
        // One column short of the width: writing the last cell of the last row scrolls.
        let width = self.cols.saturating_sub(1);
        let mut text: Vec<u16> = line
            .text
            .chars()
            .take(width)
            .map(|c| {
                let c = c as u32;
                // UCS-2 without the surrogate range; control characters would move the cursor.
                if (0x20..0xd800).contains(&c) || (0xe000..0x10000).contains(&c) {
                    c as u16
                } else {
                    u16::from(b'?')
                }
            })
            .collect();
        // Cells this row holds after the write (the editor's cursor may stand one past
        // the text).
        let len = match line.style {
            Style::Editor { cursor } => text.len().max(cursor + 1).min(width),
            _ => text.len(),
        };
        let before = self.used.get(row).copied().unwrap_or(width);
        while text.len() < before.min(width) {
            text.push(u16::from(b' '));
        }
        if let Some(u) = self.used.get_mut(row) {
            *u = len;
        }
        let (fg, bg) = colours(line.style);
        uefi::system::with_stdout(|o| {
            let _ = o.set_color(fg, bg);
            // Beyond what the row held before, long runs of blanks (the gap between a
            // title and its right-aligned detail) are skipped with a cursor move instead
            // of being written: the firmware mirrors every cell to the serial port.
            let mut col = 0;
            // The selected row keeps its blanks: they carry the inverse-video bar.
            let clean_from = if line.style == Style::Selected {
                text.len()
            } else {
                before
            };
            for (start, piece) in segments(&text, clean_from) {
                if piece.is_empty() {
                    continue;
                }
                if start != col || col == 0 {
                    let _ = o.set_cursor_position(start, row);
                }
                let mut buf: Vec<u16> = Vec::with_capacity(piece.len() + 1);
                buf.extend_from_slice(piece);
                buf.push(0);
                if let Ok(s) = CStr16::from_u16_with_nul(&buf) {
                    let _ = o.output_string(s);
                }
                col = start + piece.len();
            }
            // The argument editor's cursor: its cell again, in inverse video.
            if let Style::Editor { cursor } = line.style {
                if cursor < width {
                    let c = text.get(cursor).copied().unwrap_or(u16::from(b' '));
                    let _ = o.set_cursor_position(cursor, row);
                    let _ = o.set_color(Color::Black, Color::LightGray);
                    if let Ok(s) = CStr16::from_u16_with_nul(&[c, 0]) {
                        let _ = o.output_string(s);
                    }
                }
            }
            let _ = o.set_color(Color::LightGray, Color::Black);
        });
    }
}

/// Shortest run of blanks worth a cursor move (an escape sequence of about 8 bytes).
const SKIP_BLANKS: usize = 12;

/// Split a row into pieces to write, `(column, cells)`: runs of at least [`SKIP_BLANKS`]
/// blanks that lie entirely at or beyond column `clean_from` (where the row is already
/// blank) are left out.
fn segments(text: &[u16], clean_from: usize) -> Vec<(usize, &[u16])> {
    let blank = u16::from(b' ');
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        if text[i] == blank && i >= clean_from {
            let run_end = text[i..]
                .iter()
                .position(|&c| c != blank)
                .map_or(text.len(), |p| i + p);
            if run_end - i >= SKIP_BLANKS || run_end == text.len() {
                out.push((start, &text[start..i]));
                start = run_end;
            }
            i = run_end;
        } else {
            i += 1;
        }
    }
    out.push((start, &text[start..]));
    out
}

/// Keys from ConIn.
pub struct UefiInput;

impl Input for UefiInput {
    fn read_key(&mut self) -> Option<Key> {
        let key = uefi::system::with_stdin(|i| i.read_key()).ok().flatten();
        match key {
            None => {
                boot::stall(Duration::from_millis(2));
                None
            }
            Some(UefiKey::Printable(c)) => Some(Key::from_char(char::from(c))),
            Some(UefiKey::Special(s)) => Some(match s {
                ScanCode::UP => Key::Up,
                ScanCode::DOWN => Key::Down,
                ScanCode::PAGE_UP => Key::PageUp,
                ScanCode::PAGE_DOWN => Key::PageDown,
                ScanCode::HOME => Key::Home,
                ScanCode::END => Key::End,
                ScanCode::LEFT => Key::Left,
                ScanCode::RIGHT => Key::Right,
                ScanCode::DELETE => Key::Delete,
                ScanCode::ESCAPE => Key::Esc,
                _ => Key::Other,
            }),
        }
    }
}

/// Milliseconds from the time-stamp counter, calibrated on first use.
pub struct TscClock;

impl Clock for TscClock {
    fn now_ms(&mut self) -> u64 {
        clock::ensure_calibrated();
        clock::ticks_to_us(clock::ticks()) / 1000
    }
}

/// Write `text` and a line break to the first serial port the firmware knows, bypassing
/// the text console (so nothing appears on screen). Does nothing without a serial port.
pub fn serial_note(text: &str) {
    let Ok(handles) = boot::find_handles::<Serial>() else {
        return;
    };
    let Some(&h) = handles.first() else {
        return;
    };
    let Ok(mut serial) = crate::proto::get::<Serial>(h) else {
        return;
    };
    let mut line = String::with_capacity(text.len() + 2);
    line.push_str(text);
    line.push_str("\r\n");
    let _ = serial.write(line.as_bytes());
}
