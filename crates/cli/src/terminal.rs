//! The terminal of `boot-test --headless`: the guest's serial console is this terminal,
//! so keys must reach it one by one as typed (raw input: no line buffering, no echo of
//! `^[[B` into the menu the guest draws), and the terminal must come back as it was
//! whatever ends the run: QEMU ending, `--expect` seen, the time limit, Ctrl-] (the quit
//! key, as telnet's; Ctrl-C goes to the guest), or a signal (SIGINT, SIGTERM, SIGHUP,
//! SIGQUIT), after which QEMU is stopped too.
//!
//! Output processing stays on (a guest's bare `\n` still starts a new line); everything
//! else is `cfmakeraw`.

use nix::sys::signal::{SigSet, Signal};
use nix::sys::termios::{self, OutputFlags, SetArg, Termios};
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The key that ends a headless boot test: Ctrl-].
pub const QUIT_KEY: u8 = 0x1d;

/// Standard input's terminal in raw mode, restored when dropped, on the quit key and on
/// the signals above.
pub struct RawTerminal {
    saved: Termios,
    stop: Arc<Stop>,
}

/// How the run is stopped from another thread: QEMU is killed (the main thread then
/// sees it end and returns as usual, restoring the terminal and removing QEMU's scratch
/// files), and why is kept for the final message.
#[derive(Default)]
struct Stop {
    qemu_pid: AtomicU32,
    why: std::sync::Mutex<Option<String>>,
}

impl RawTerminal {
    /// Put standard input's terminal in raw mode (`None` when it is not a terminal) and
    /// start the thread that restores it on a signal. Call before any other thread is
    /// started: the signals are blocked in this thread and in the ones it starts later,
    /// and received by that one thread.
    pub fn enter(guest: (u16, u16)) -> anyhow::Result<Option<RawTerminal>> {
        let stdin = std::io::stdin();
        let Ok(saved) = termios::tcgetattr(&stdin) else {
            return Ok(None);
        };
        let signals = stop_signals();
        signals.thread_block()?;
        let stop = Arc::new(Stop::default());
        let raw = RawTerminal {
            saved: saved.clone(),
            stop: Arc::clone(&stop),
        };
        std::thread::spawn(move || {
            if let Ok(sig) = signals.wait() {
                stop.now(&saved, &format!("stopped by {sig}"));
            }
        });
        let mut t = raw.saved.clone();
        termios::cfmakeraw(&mut t);
        t.output_flags |= OutputFlags::OPOST | OutputFlags::ONLCR;
        termios::tcsetattr(&stdin, SetArg::TCSADRAIN, &t)?;
        // The guest draws its menu at absolute positions: start from a clear screen, or,
        // when the menu cannot fit, from a warning that stays until the firmware clears.
        let mut out = std::io::stdout().lock();
        match too_small(guest) {
            Some(warning) => {
                let _ = write!(out, "{warning}\r\n");
            }
            None => {
                let _ = out.write_all(b"\x1b[2J\x1b[H");
            }
        }
        let _ = out.flush();
        Ok(Some(raw))
    }

    /// QEMU's process, stopped when the run is ended by a signal or the quit key.
    pub fn set_qemu(&self, pid: u32) {
        self.stop.qemu_pid.store(pid, Ordering::SeqCst);
    }

    /// What ends the run when the quit key is typed, for the thread that reads the keys.
    pub fn quitter(&self) -> impl Fn() + Send + 'static {
        let saved = self.saved.clone();
        let stop = Arc::clone(&self.stop);
        move || stop.now(&saved, "quit (Ctrl-])")
    }

    /// Why the run was stopped by a signal or the quit key, if it was.
    pub fn stopped(&self) -> Option<String> {
        self.stop.why.lock().ok().and_then(|w| w.clone())
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        restore(&self.saved);
    }
}

/// The size of standard output's terminal, columns and rows.
fn size() -> Option<(u16, u16)> {
    let mut ws = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `winsize` into the valid, exclusively borrowed `ws`;
    // on a descriptor that is not a terminal it fails and writes nothing.
    let r = unsafe { nix::libc::ioctl(nix::libc::STDOUT_FILENO, nix::libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some((ws.ws_col, ws.ws_row))
}

/// A warning when this terminal is smaller than the screen the guest draws, `guest`
/// columns and rows (its rows would wrap and scroll over each other).
pub fn too_small(guest: (u16, u16)) -> Option<String> {
    let (cols, rows) = size()?;
    (cols < guest.0 || rows < guest.1).then(|| {
        format!(
            "bootshelf: warning: this terminal is {cols}x{rows}; the firmware draws the menu \
             for {}x{}, so rows will overlap: enlarge the window (or boot-test without \
             --headless)",
            guest.0, guest.1
        )
    })
}

fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        set.add(s);
    }
    set
}

fn restore(saved: &Termios) {
    // Attributes the guest may have left set (colours, reverse video), then the modes.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"\x1b[0m\r\n");
    let _ = out.flush();
    let _ = termios::tcsetattr(std::io::stdin(), SetArg::TCSADRAIN, saved);
}

impl Stop {
    /// Stop the run for `why`: kill QEMU, whose end the main thread is waiting for; before
    /// QEMU runs there is nothing to wait for, so restore the terminal and exit (code 2).
    fn now(&self, saved: &Termios, why: &str) {
        if let Ok(mut w) = self.why.lock() {
            *w = Some(why.to_string());
        }
        let pid = self.qemu_pid.load(Ordering::SeqCst);
        match i32::try_from(pid) {
            Ok(pid) if pid > 0 => {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
            }
            _ => {
                restore(saved);
                eprintln!("bootshelf: {why}");
                std::process::exit(2);
            }
        }
    }
}
