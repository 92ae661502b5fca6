//! Log output of stage 2: text to COM1 (port I/O) and the VGA text screen (0xB8000),
//! plus the raw COM1 byte I/O the menu's console and input use.

use crate::bios::{self, Regs};
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

const COM1: u16 = 0x3F8;

/// Whether a UART answers at COM1 (without one, every port reads 0xFF, which would look
/// like an endless stream of input).
static COM1_PRESENT: AtomicBool = AtomicBool::new(false);

fn outb(port: u16, v: u8) {
    // SAFETY: port I/O on COM1's registers has no memory effects.
    unsafe { core::arch::asm!("out dx, al", in("dx") port, in("al") v, options(nomem, nostack)) }
}

fn inb(port: u16) -> u8 {
    let v: u8;
    // SAFETY: port I/O on COM1's registers has no memory effects.
    unsafe { core::arch::asm!("in al, dx", in("dx") port, out("al") v, options(nomem, nostack)) };
    v
}

/// The console: COM1 plus the VGA text buffer with a cursor.
pub struct Console {
    row: usize,
    col: usize,
}

const VGA: usize = 0xB8000;
const COLS: usize = 80;
const ROWS: usize = 25;

impl Console {
    /// Initialise COM1 (115200 8N1) and clear the screen (INT 10h mode 3).
    pub fn init() -> Console {
        outb(COM1 + 7, 0x5A);
        let scratch_ok = inb(COM1 + 7) == 0x5A;
        outb(COM1 + 7, 0xA5);
        let present = scratch_ok && inb(COM1 + 7) == 0xA5 && inb(COM1 + 5) != 0xFF;
        COM1_PRESENT.store(present, Ordering::Relaxed);
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x80);
        outb(COM1, 0x01);
        outb(COM1 + 1, 0x00);
        outb(COM1 + 3, 0x03);
        outb(COM1 + 2, 0xC7);
        outb(COM1 + 4, 0x03);
        let mut r = Regs {
            eax: 0x0003,
            ..Regs::default()
        };
        bios::int(0x10, &mut r);
        // Hide the BIOS cursor: we draw into video memory directly.
        let mut r = Regs {
            eax: 0x0100,
            ecx: 0x2000,
            ..Regs::default()
        };
        bios::int(0x10, &mut r);
        Console { row: 0, col: 0 }
    }

    fn serial_byte(&self, b: u8) {
        com1_write(&[b]);
    }

    /// Log a line on COM1 only (machine-readable notes for tests; the screen stays as is).
    pub fn note(&mut self, args: fmt::Arguments) {
        struct Serial;
        impl fmt::Write for Serial {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                com1_write(s.as_bytes());
                Ok(())
            }
        }
        let _ = fmt::write(&mut Serial, args);
        com1_write(b"\r\n");
    }

    fn vga_put(&mut self, b: u8) {
        match b {
            b'\n' => {
                self.col = 0;
                self.row += 1;
            }
            b'\r' => self.col = 0,
            _ => {
                if self.col >= COLS {
                    self.col = 0;
                    self.row += 1;
                }
                self.scroll_if_needed();
                let cell = VGA + 2 * (self.row * COLS + self.col);
                // SAFETY: the VGA text buffer is identity-mapped MMIO; cell is inside
                // the 80x25 screen (row < ROWS after scrolling, col < COLS).
                unsafe { core::ptr::write_volatile(cell as *mut u16, 0x0700 | u16::from(b)) };
                self.col += 1;
            }
        }
        self.scroll_if_needed();
    }

    fn scroll_if_needed(&mut self) {
        while self.row >= ROWS {
            for i in 0..(ROWS - 1) * COLS {
                // SAFETY: both cells are inside the 80x25 text buffer.
                unsafe {
                    let v = core::ptr::read_volatile((VGA + 2 * (i + COLS)) as *const u16);
                    core::ptr::write_volatile((VGA + 2 * i) as *mut u16, v);
                }
            }
            for i in (ROWS - 1) * COLS..ROWS * COLS {
                // SAFETY: inside the text buffer.
                unsafe { core::ptr::write_volatile((VGA + 2 * i) as *mut u16, 0x0720) };
            }
            self.row -= 1;
        }
    }

    /// Write raw bytes to both outputs (`\n` becomes CR LF on serial).
    pub fn write_bytes(&mut self, s: &[u8]) {
        for &b in s {
            if b == b'\n' {
                self.serial_byte(b'\r');
            }
            self.serial_byte(b);
            self.vga_put(b);
        }
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Write bytes to COM1 as they are, waiting for the transmitter each time (bounded).
pub fn com1_write(bytes: &[u8]) {
    if !COM1_PRESENT.load(Ordering::Relaxed) {
        return;
    }
    for &b in bytes {
        for _ in 0..100_000 {
            if inb(COM1 + 5) & 0x20 != 0 {
                break;
            }
        }
        outb(COM1, b);
    }
}

/// A byte from COM1, if one is waiting.
pub fn com1_read() -> Option<u8> {
    if !COM1_PRESENT.load(Ordering::Relaxed) {
        return None;
    }
    (inb(COM1 + 5) & 1 != 0).then(|| inb(COM1))
}
