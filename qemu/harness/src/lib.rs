//! Runs QEMU for bootshelf's tests and for `bootshelf boot-test`.
//!
//! [`Qemu::start`] boots a machine described by a [`Config`] (the command line is the pure
//! function [`command_line`], in `machine.rs`): OVMF (UEFI, q35, a fresh copy
//! of the variable store for every run; [`Config::uefi_secure_boot`]: the Secure Boot
//! build with Microsoft's keys, SMM on; [`Config::uefi_arch`]: 32-bit x86 UEFI with OVMF
//! IA32 on `qemu-system-i386`, or ARM64 with AAVMF on `qemu-system-aarch64 -machine virt`)
//! or SeaBIOS (pc, serial console mirrored to COM1),
//! one or more disks attached as USB storage on an xHCI controller, IDE/AHCI, virtio or a
//! CD-ROM, always with TCG. The machine starts paused and runs only once the serial console
//! and the QMP socket are connected, so no output is ever lost.
//!
//! While it runs, the harness captures COM1 ([`Qemu::wait_for`], [`Qemu::serial_text`]),
//! sends keys over serial ([`Qemu::send_serial`]) or as keyboard events through QMP
//! ([`Qemu::send_key`]), reads the VGA text buffer ([`Qemu::vga_text`]) or takes a
//! screendump ([`Qemu::screendump`]). Dropping a [`Qemu`] always kills the process.
//!
//! See docs/qemu.md for the facts about QEMU on the build machines this rests on.
#![deny(missing_docs)]

mod echo;
mod machine;
mod qmp;
mod screen;

pub use machine::{
    command_line, qemu_program, Arch, Attach, Config, Drive, Firmware, RunFiles, AAVMF_CODE,
    AAVMF_VARS, COM1_PORT, OVMF_CODE, OVMF_IA32_CODE, OVMF_IA32_VARS, OVMF_SECURE_BOOT_CODE,
    OVMF_SECURE_BOOT_VARS, OVMF_VARS,
};
pub use screen::{decode_vga_text, Ppm};

use qmp::Qmp;
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Why the harness failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Starting QEMU or talking to it failed.
    Io {
        /// What the harness was doing.
        what: String,
        /// The error.
        source: io::Error,
    },
    /// QEMU answered a QMP command with an error, or with something unexpected.
    Qmp(String),
    /// The expected text did not appear in time; `tail` is the end of the serial output.
    Timeout {
        /// What was awaited.
        expected: String,
        /// How long the harness waited.
        waited: Duration,
        /// The last part of the serial output.
        tail: String,
    },
    /// QEMU ended before the expected text appeared.
    Exited {
        /// What was awaited.
        expected: String,
        /// How QEMU ended.
        status: ExitStatus,
        /// The last part of the serial output.
        tail: String,
    },
    /// A screendump was not a binary PPM the harness understands.
    BadScreendump(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The cause is the error's source(), printed by whoever walks the chain.
            Error::Io { what, .. } => f.write_str(what),
            Error::Qmp(m) => write!(f, "QMP: {m}"),
            Error::Timeout {
                expected,
                waited,
                tail,
            } => write!(
                f,
                "{expected:?} did not appear on serial within {:.1} s; last output:\n{tail}",
                waited.as_secs_f64()
            ),
            Error::Exited {
                expected,
                status,
                tail,
            } => write!(
                f,
                "QEMU ended ({status}) before {expected:?} appeared on serial; last output:\n{tail}"
            ),
            Error::BadScreendump(m) => write!(f, "screendump: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Everything COM1 has printed so far, shared with the reader thread.
#[derive(Default)]
struct SerialLog {
    bytes: Mutex<Vec<u8>>,
    grew: Condvar,
}

/// A scratch directory removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "bootshelf-qemu-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(WorkDir(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if std::env::var_os("BOOTSHELF_KEEP_QEMU_DIR").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A running QEMU. Dropping it kills QEMU.
pub struct Qemu {
    child: Child,
    serial: UnixStream,
    qmp: Qmp,
    log: Arc<SerialLog>,
    /// Byte position in the serial log where the next [`Qemu::wait_for`] starts looking.
    cursor: usize,
    started: Instant,
    exit: Option<ExitStatus>,
    // Last field: removed after QEMU is dead.
    dir: WorkDir,
}

/// Create the files QEMU reads at start: a fresh copy of the OVMF variable store (UEFI)
/// or SeaBIOS's sercon-port fw_cfg file (BIOS).
fn prepare_run_files(cfg: &Config, files: &RunFiles) -> Result<(), Error> {
    match cfg.firmware {
        Firmware::Uefi => {
            std::fs::copy(&cfg.ovmf_vars, &files.ovmf_vars).map_err(io_err(format!(
                "copying the OVMF variable store {}",
                cfg.ovmf_vars.display()
            )))?;
        }
        Firmware::Bios => {
            // SeaBIOS wants a raw little-endian u16, not a string (docs/qemu.md).
            std::fs::write(&files.sercon_port, COM1_PORT.to_le_bytes())
                .map_err(io_err("writing the sercon-port fw_cfg file"))?;
        }
    }
    Ok(())
}

/// Connect to a unix socket QEMU is about to create, retrying for a few seconds.
fn connect(path: &Path, child: &mut Child) -> Result<UnixStream, Error> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match UnixStream::connect(path) {
            Ok(s) => return Ok(s),
            Err(e) => {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut stderr = String::new();
                    if let Some(mut s) = child.stderr.take() {
                        let _ = s.read_to_string(&mut stderr);
                    }
                    return Err(Error::Io {
                        what: format!("QEMU exited at start ({status}): {}", stderr.trim()),
                        source: e,
                    });
                }
                if Instant::now() > deadline {
                    return Err(Error::Io {
                        what: format!("connecting to {}", path.display()),
                        source: e,
                    });
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Numbered menu rows (`   N  text`) in serial output, latest text per number.
pub fn menu_rows(serial: &str) -> Vec<(usize, String)> {
    let mut rows: std::collections::BTreeMap<usize, String> = std::collections::BTreeMap::new();
    for line in split_rows(serial) {
        let t = line.trim_start();
        let digits = t.len() - t.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            continue;
        }
        let (num, rest) = t.split_at(digits);
        let Some(text) = rest.strip_prefix("  ") else {
            continue;
        };
        let (Ok(n), text) = (num.parse::<usize>(), text.trim()) else {
            continue;
        };
        if !text.is_empty() {
            rows.insert(n, text.to_string());
        }
    }
    rows.into_iter().collect()
}

/// Split serial output into screen rows: at CR, LF and at cursor-positioning sequences
/// (`ESC [ row ; col H`) that go to another row; a cursor move within the same row (a
/// skipped run of blanks) becomes blanks. Every other escape sequence is removed.
fn split_rows(s: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut cur = String::new();
    let mut row: Option<u32> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\n' => {
                rows.push(std::mem::take(&mut cur));
                if c == '\n' {
                    row = row.map(|r| r + 1);
                }
            }
            '\u{1b}' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut params = String::new();
                let mut last = ' ';
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        last = c;
                        break;
                    }
                    params.push(c);
                }
                if last == 'H' || last == 'f' {
                    let mut it = params.split(';').map(|p| p.parse::<u32>().unwrap_or(1));
                    let r = it.next().unwrap_or(1);
                    let col = it.next().unwrap_or(1) as usize;
                    if row == Some(r) && col > cur.chars().count() {
                        let pad = col - 1 - cur.chars().count();
                        cur.extend(std::iter::repeat_n(' ', pad.max(2)));
                    } else {
                        rows.push(std::mem::take(&mut cur));
                    }
                    row = Some(r);
                }
            }
            c => cur.push(c),
        }
    }
    rows.push(cur);
    rows
}

/// Remove ANSI escape sequences (`ESC [ ... letter`, `ESC ( x`, lone ESC) from a line.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('[') => {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            Some('(') | Some(')') => {
                chars.next();
                chars.next();
            }
            _ => {}
        }
    }
    out
}

/// The last `n` characters of the serial log, for error messages.
fn tail(bytes: &[u8], n: usize) -> String {
    let start = bytes.len().saturating_sub(n);
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// Find `needle` in `hay` from `from`; returns the end of the first match.
fn find_from(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(from.min(hay.len()));
    }
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p + needle.len())
}

impl Qemu {
    /// Start QEMU as configured and let the guest run.
    pub fn start(cfg: &Config) -> Result<Qemu, Error> {
        let dir = WorkDir::new().map_err(io_err("creating a scratch directory"))?;
        let files = RunFiles::in_dir(&dir.0);
        prepare_run_files(cfg, &files)?;
        let args = command_line(cfg, &files);
        let program = match cfg.firmware {
            Firmware::Uefi => machine::qemu_program(cfg.arch),
            Firmware::Bios => "qemu-system-x86_64",
        };
        let mut child = Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(io_err(format!("starting {program}")))?;
        // From here on a failure must not leave QEMU running.
        let connected = (|| {
            let serial = connect(&files.serial_socket, &mut child)?;
            let qmp_stream = connect(&files.qmp_socket, &mut child)?;
            let qmp = Qmp::handshake(qmp_stream)?;
            Ok::<_, Error>((serial, qmp))
        })();
        let (serial, mut qmp) = match connected {
            Ok(v) => v,
            Err(e) => {
                // QEMU may have died at start (bad option, no display): its stderr says why.
                let mut exited = None;
                for _ in 0..50 {
                    exited = child.try_wait().ok().flatten();
                    if exited.is_some() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
                let _ = child.wait();
                let mut stderr = String::new();
                if let Some(mut s) = child.stderr.take() {
                    let _ = s.read_to_string(&mut stderr);
                }
                return Err(match (exited, stderr.trim()) {
                    (Some(status), msg) if !msg.is_empty() => Error::Io {
                        what: format!("QEMU exited at start ({status}): {msg}"),
                        source: io::Error::other(e.to_string()),
                    },
                    _ => e,
                });
            }
        };
        let log = Arc::new(SerialLog::default());
        let reader = serial
            .try_clone()
            .map_err(io_err("cloning the serial socket"));
        let mut reader = match reader {
            Ok(r) => r,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        let thread_log = Arc::clone(&log);
        let echo = cfg.echo_serial;
        let mut shown = echo::Echo::new(cfg.echo_timings);
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if echo {
                            let mut out = io::stdout().lock();
                            let _ = out.write_all(&shown.feed(&buf[..n]));
                            let _ = out.flush();
                        }
                        if let Ok(mut bytes) = thread_log.bytes.lock() {
                            bytes.extend_from_slice(&buf[..n]);
                        }
                        thread_log.grew.notify_all();
                    }
                }
            }
            // Wake waiters so they notice QEMU is gone.
            thread_log.grew.notify_all();
        });
        if let Err(e) = qmp.execute("cont", None) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e);
        }
        Ok(Qemu {
            child,
            serial,
            qmp,
            log,
            cursor: 0,
            started: Instant::now(),
            exit: None,
            dir,
        })
    }

    /// When the guest was let run.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// The scratch directory of this run (serial.log, screendumps).
    pub fn dir(&self) -> &Path {
        &self.dir.0
    }

    /// QEMU's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// CPU time QEMU has used so far (user + system, all threads, from
    /// `/proc/<pid>/stat`; 10 ms resolution). Unlike wall time it barely depends on how
    /// busy the host is, which makes it the steadier measure for benchmarks.
    pub fn cpu_time(&self) -> Result<Duration, Error> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .map_err(io_err("reading QEMU's /proc stat"))?;
        // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .ok_or_else(|| Error::Qmp(format!("unexpected /proc stat {stat:?}")))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
        match (ticks(11), ticks(12)) {
            (Some(u), Some(s)) => Ok(Duration::from_millis((u + s) * 10)),
            _ => Err(Error::Qmp(format!("unexpected /proc stat {stat:?}"))),
        }
    }

    /// Whether QEMU has ended, and how.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// Everything the guest printed on COM1 so far (lossy UTF-8).
    pub fn serial_text(&self) -> String {
        match self.log.bytes.lock() {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(_) => String::new(),
        }
    }

    /// Wait until `text` appears on COM1 after the previous match (or the start), and
    /// return the time since the guest was let run. Later calls look only after this match.
    pub fn wait_for(&mut self, text: &str, timeout: Duration) -> Result<Duration, Error> {
        let deadline = Instant::now() + timeout;
        let t0 = Instant::now();
        let log = Arc::clone(&self.log);
        let mut bytes = log
            .bytes
            .lock()
            .map_err(|_| Error::Qmp("poisoned".into()))?;
        loop {
            if let Some(end) = find_from(&bytes, text.as_bytes(), self.cursor) {
                self.cursor = end;
                return Ok(self.started.elapsed());
            }
            if let Some(status) = self.try_exit() {
                // Let the reader thread drain what QEMU wrote last.
                drop(bytes);
                thread::sleep(Duration::from_millis(100));
                bytes = log
                    .bytes
                    .lock()
                    .map_err(|_| Error::Qmp("poisoned".into()))?;
                if let Some(end) = find_from(&bytes, text.as_bytes(), self.cursor) {
                    self.cursor = end;
                    return Ok(self.started.elapsed());
                }
                return Err(Error::Exited {
                    expected: text.to_string(),
                    status,
                    tail: tail(&bytes, 3000),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    expected: text.to_string(),
                    waited: t0.elapsed(),
                    tail: tail(&bytes, 3000),
                });
            }
            let wait = (deadline - now).min(Duration::from_millis(100));
            bytes = log
                .grew
                .wait_timeout(bytes, wait)
                .map_err(|_| Error::Qmp("poisoned".into()))?
                .0;
        }
    }

    /// Wait until any of `texts` appears (after the previous match); returns its index.
    pub fn wait_for_any(&mut self, texts: &[&str], timeout: Duration) -> Result<usize, Error> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let bytes = self
                    .log
                    .bytes
                    .lock()
                    .map_err(|_| Error::Qmp("poisoned".into()))?;
                let best = texts
                    .iter()
                    .enumerate()
                    .filter_map(|(i, t)| {
                        find_from(&bytes, t.as_bytes(), self.cursor).map(|e| (e, i))
                    })
                    .min();
                if let Some((end, i)) = best {
                    self.cursor = end;
                    return Ok(i);
                }
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() || self.try_exit().is_some() {
                // One last, precise attempt produces the right error.
                return self
                    .wait_for(texts.first().copied().unwrap_or(""), Duration::ZERO)
                    .map(|_| 0);
            }
            thread::sleep(remaining.min(Duration::from_millis(50)));
        }
    }

    /// Send raw bytes to COM1, e.g. `b"\x1b[B"` (down) or `b"\r"` (enter).
    pub fn send_serial(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.serial
            .write_all(bytes)
            .map_err(io_err("writing to the serial console"))
    }

    /// A second handle on COM1's input, for a thread that forwards keys (e.g. a terminal's
    /// stdin) while this [`Qemu`] waits for output.
    pub fn serial_writer(&self) -> Result<UnixStream, Error> {
        self.serial
            .try_clone()
            .map_err(io_err("cloning the serial socket"))
    }

    /// The entries of bootshelf's menu as drawn on COM1: rows `   N  title ... detail`,
    /// the latest text drawn for each number N, sorted by N. Rows are delimited by line
    /// breaks and by cursor-positioning escape sequences (firmware terminals mirror a
    /// text screen that way).
    pub fn menu_entries(&self) -> Vec<(usize, String)> {
        menu_rows(&self.serial_text())
    }

    /// Press and release a key on the emulated keyboard (a QEMU qcode: `ret`, `down`, `esc`,
    /// `1`, `pgdn`, ...).
    pub fn send_key(&mut self, qcode: &str) -> Result<(), Error> {
        self.qmp.execute(
            "send-key",
            Some(serde_json::json!({"keys": [{"type": "qcode", "data": qcode}]})),
        )?;
        Ok(())
    }

    /// The 80x25 VGA text screen (0xB8000), one line per row, trailing blanks trimmed.
    pub fn vga_text(&mut self) -> Result<String, Error> {
        let file = self.dir.0.join("vga.bin");
        let _ = std::fs::remove_file(&file);
        self.qmp.execute(
            "pmemsave",
            Some(serde_json::json!({"val": 0xb8000, "size": 80 * 25 * 2,
                "filename": file.display().to_string()})),
        )?;
        let raw = std::fs::read(&file).map_err(io_err("reading the VGA text dump"))?;
        Ok(decode_vga_text(&raw, 80))
    }

    /// Take a screendump of the display (whatever mode it is in).
    pub fn screendump(&mut self) -> Result<Ppm, Error> {
        let file = self.dir.0.join("screen.ppm");
        let _ = std::fs::remove_file(&file);
        self.qmp.execute(
            "screendump",
            Some(serde_json::json!({"filename": file.display().to_string()})),
        )?;
        let raw = std::fs::read(&file).map_err(io_err("reading the screendump"))?;
        Ppm::parse(&raw)
    }

    /// Wait for QEMU to end by itself (guest shutdown, isa-debug-exit).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.try_exit() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// The value the guest wrote to isa-debug-exit (port 0xf4), when QEMU ended that way.
    pub fn debug_exit_value(status: ExitStatus) -> Option<u32> {
        status
            .code()
            .filter(|c| c & 1 == 1)
            .map(|c| (c as u32) >> 1)
    }

    /// Kill QEMU now (also done on drop).
    pub fn kill(&mut self) {
        if self.try_exit().is_none() {
            let _ = self.child.kill();
            self.exit = self.child.wait().ok();
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_from_respects_cursor() {
        assert_eq!(find_from(b"abcabc", b"abc", 0), Some(3));
        assert_eq!(find_from(b"abcabc", b"abc", 1), Some(6));
        assert_eq!(find_from(b"abcabc", b"abc", 4), None);
        assert_eq!(find_from(b"ab", b"abc", 9), None);
    }

    #[test]
    fn strip_ansi_removes_colour_and_cursor_codes() {
        assert_eq!(
            strip_ansi("\u{1b}[0m\u{1b}[37m\u{1b}[40m  1. Debian\u{1b}[01;01H"),
            "  1. Debian"
        );
        assert_eq!(strip_ansi("\u{1b}[=3hx"), "x");
    }

    #[test]
    fn menu_rows_from_a_mirrored_screen() {
        let serial = "\u{1b}[1;1Hbootshelf  (1 of 2)\u{1b}[3;1H\u{1b}[0;7m   1  alpha   5 MiB  UEFI\u{1b}[4;1H   2  beta gamma\u{1b}[04;30H7 MiB\r\n\u{1b}[3;1H   1  alpha   5 MiB  UEFI  \r\nBooting 3 things";
        assert_eq!(
            menu_rows(serial),
            vec![
                (1, "alpha   5 MiB  UEFI".to_string()),
                (2, format!("beta gamma{}7 MiB", " ".repeat(13)))
            ]
        );
    }

    #[test]
    fn run_files_prepared_for_uefi_and_bios() {
        let dir = WorkDir::new().unwrap();
        let files = RunFiles::in_dir(&dir.0);
        let mut cfg = Config::uefi();
        let template = dir.0.join("vars-template.fd");
        std::fs::write(&template, b"pristine vars").unwrap();
        cfg.ovmf_vars = template;
        prepare_run_files(&cfg, &files).unwrap();
        assert_eq!(std::fs::read(&files.ovmf_vars).unwrap(), b"pristine vars");
        assert!(!files.sercon_port.exists());
        prepare_run_files(&Config::bios(), &files).unwrap();
        assert_eq!(std::fs::read(&files.sercon_port).unwrap(), [0xf8, 0x03]);
    }

    /// Boots OVMF with no disk and sees its first words on COM1: the harness's own
    /// smoke test (about 4 s under TCG).
    #[test]
    fn ovmf_prints_on_serial_and_is_killed_on_drop() {
        let mut q = Qemu::start(&Config::uefi()).unwrap();
        q.wait_for("BdsDxe", Duration::from_secs(60)).unwrap();
        let pid = q.child.id();
        drop(q);
        // kill() also reaps the process, so not even a zombie is left.
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }

    /// OVMF IA32 (on qemu-system-i386) and AAVMF (on qemu-system-aarch64) start and reach
    /// their boot managers.
    #[test]
    fn ia32_and_aarch64_firmware_print_on_serial() {
        for arch in [Arch::Ia32, Arch::Aa64] {
            let mut q = Qemu::start(&Config::uefi_arch(arch)).unwrap();
            q.wait_for("BdsDxe", Duration::from_secs(120)).unwrap();
        }
    }

    /// The Secure Boot OVMF (SMM under TCG) starts and reaches its boot manager.
    #[test]
    fn secure_boot_ovmf_prints_on_serial() {
        let mut q = Qemu::start(&Config::uefi_secure_boot()).unwrap();
        q.wait_for("BdsDxe", Duration::from_secs(90)).unwrap();
    }

    #[test]
    fn seabios_prints_on_serial_and_vga_text_is_readable() {
        let mut q = Qemu::start(&Config::bios()).unwrap();
        q.wait_for("SeaBIOS", Duration::from_secs(30)).unwrap();
        q.wait_for("No bootable device", Duration::from_secs(30))
            .unwrap();
        let screen = q.vga_text().unwrap();
        assert!(screen.contains("No bootable device"), "{screen}");
    }
}
