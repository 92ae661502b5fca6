//! bootloader-core's [`Console`], [`Input`] and [`Clock`] for BIOS: rows on the VGA text
//! screen (written to video memory) mirrored to COM1 as ANSI rows, keys from INT 16h and
//! COM1 (through core's [`SerialDecoder`]), milliseconds from the BIOS tick counter.

use crate::bios::{self, Regs};
use crate::console::{com1_read, com1_write};
use alloc::string::String;
use bootloader_core::console::ansi_line;
use bootloader_core::{Clock, Console, Input, Key, Line, SerialDecoder, Style};

const VGA: usize = 0xB8000;
const COLS: usize = 80;
const ROWS: usize = 25;

/// The menu console.
pub struct BiosConsole;

fn attr(style: Style) -> u16 {
    match style {
        Style::Normal | Style::Footer | Style::Editor { .. } => 0x07,
        Style::Selected => 0x70,
        Style::Disabled => 0x08,
        Style::Header => 0x1F,
        Style::Alert => 0x0E,
    }
}

impl Console for BiosConsole {
    fn size(&self) -> (usize, usize) {
        (COLS, ROWS)
    }

    /// Blank the screen (video memory) and the terminal.
    fn clear(&mut self) {
        for i in 0..COLS * ROWS {
            // SAFETY: inside the 80x25 text buffer, identity-mapped.
            unsafe { core::ptr::write_volatile((VGA + 2 * i) as *mut u16, 0x0720) };
        }
        com1_write(b"\x1b[0m\x1b[2J\x1b[H");
    }

    fn write_line(&mut self, row: usize, line: &Line) {
        if row >= ROWS {
            return;
        }
        let a = attr(line.style) << 8;
        let mut chars = line.text.chars();
        for col in 0..COLS {
            let c = match chars.next() {
                Some(c) if (' '..='~').contains(&c) => c as u16,
                Some(_) => u16::from(b'?'),
                None => u16::from(b' '),
            };
            let a = match line.style {
                // The argument editor's cursor: its cell in inverse video.
                Style::Editor { cursor } if cursor == col => 0x70 << 8,
                _ => a,
            };
            let cell = VGA + 2 * (row * COLS + col);
            // SAFETY: row < ROWS and col < COLS: inside the text buffer.
            unsafe { core::ptr::write_volatile(cell as *mut u16, a | c) };
        }
        let text: String = line.text.chars().take(COLS - 1).collect();
        let out = ansi_line(
            row,
            &Line {
                text,
                style: line.style,
            },
        );
        com1_write(out.as_bytes());
    }
}

/// Keys from the keyboard (INT 16h) and COM1.
pub struct BiosInput {
    decoder: SerialDecoder,
    quiet_polls: u32,
}

impl BiosInput {
    /// A fresh input.
    pub fn new() -> Self {
        BiosInput {
            decoder: SerialDecoder::default(),
            quiet_polls: 0,
        }
    }
}

fn scan_key(scan: u8) -> Key {
    match scan {
        0x48 => Key::Up,
        0x50 => Key::Down,
        0x49 => Key::PageUp,
        0x51 => Key::PageDown,
        0x47 => Key::Home,
        0x4F => Key::End,
        0x4B => Key::Left,
        0x4D => Key::Right,
        0x53 => Key::Delete,
        0x01 => Key::Esc,
        0x1C => Key::Enter,
        _ => Key::Other,
    }
}

impl Input for BiosInput {
    fn read_key(&mut self) -> Option<Key> {
        while let Some(b) = com1_read() {
            self.quiet_polls = 0;
            if let Some(k) = self.decoder.push(b) {
                return Some(k);
            }
        }
        if self.decoder.pending() {
            self.quiet_polls += 1;
            if self.quiet_polls > 5 {
                if let Some(k) = self.decoder.idle() {
                    return Some(k);
                }
            }
        }
        let mut r = Regs {
            eax: 0x0100,
            ..Regs::default()
        };
        bios::int(0x16, &mut r);
        if r.eflags & 0x40 == 0 {
            let mut r = Regs::default();
            bios::int(0x16, &mut r);
            let ascii = r.eax as u8;
            let scan = (r.eax >> 8) as u8;
            return Some(if ascii == 0 || ascii == 0xE0 {
                scan_key(scan)
            } else if ascii == 0x1B {
                Key::Esc
            } else {
                Key::from_char(char::from(ascii))
            });
        }
        // Wait ~10 ms with interrupts on (INT 15h AH=86h), so the BIOS tick advances.
        let mut r = Regs {
            eax: 0x8600,
            ecx: 0,
            edx: 10_000,
            ..Regs::default()
        };
        bios::int(0x15, &mut r);
        None
    }
}

/// Milliseconds from the BIOS tick counter (BDA 0x46C, ~54.9 ms per tick).
pub struct TickClock {
    last: u32,
    base: u64,
}

impl TickClock {
    /// Start counting.
    pub fn new() -> Self {
        TickClock {
            last: ticks(),
            base: 0,
        }
    }
}

fn ticks() -> u32 {
    // SAFETY: the BDA timer counter, identity-mapped and always readable.
    unsafe { core::ptr::read_volatile(0x46C as *const u32) }
}

impl Clock for TickClock {
    fn now_ms(&mut self) -> u64 {
        let t = ticks();
        // Midnight rollover (0x1800B0 ticks a day) counts as one tick.
        let d = if t >= self.last { t - self.last } else { 1 };
        self.last = t;
        self.base += u64::from(d);
        self.base * 54_925 / 1000
    }
}
