//! `bootshelf boot-test`: boot a stick (image file or disk) in QEMU, UEFI (OVMF) or BIOS
//! (SeaBIOS), with the stick on USB storage; `--arch aarch64` or `--arch ia32` boots a UEFI
//! machine of that architecture instead (AAVMF on `qemu-system-aarch64 -machine virt`,
//! OVMF IA32 on `qemu-system-i386`), and optionally pick a menu entry and wait for
//! a text. In a window by default; `--headless` puts the serial console on the terminal
//! (keys typed there go to the guest's COM1 as they are typed: the terminal is in raw
//! mode, `crate::terminal`; Ctrl-] ends the test). Exit status 0 when `--expect` was seen.
//!
//! The stick is attached with `snapshot=on` unless `--write` is given, so a boot test
//! never changes the stick (the loader writes the one-shot default and the ISO window).

use crate::exit::Outcome;
use anyhow::{bail, Context, Result};
use qemu_harness::{Attach, Config, Drive, Qemu};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Arguments of `bootshelf boot-test`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// Boot with UEFI firmware (OVMF); the default.
    #[arg(long, conflicts_with = "bios")]
    pub uefi: bool,
    /// Boot with legacy BIOS firmware (SeaBIOS).
    #[arg(long)]
    pub bios: bool,
    /// The UEFI machine's architecture: x86_64 (default; OVMF), aarch64 (AAVMF on QEMU's
    /// virt machine) or ia32 (OVMF IA32, a 32-bit CPU).
    #[arg(long, value_name = "ARCH", conflicts_with = "bios")]
    pub arch: Option<String>,
    /// Choose the menu entry NAME selects: a path, file name, title, or a unique part of a
    /// title (the same rule as every command's NAME).
    #[arg(long, value_name = "NAME")]
    pub select: Option<String>,
    /// Succeed (exit 0) as soon as TEXT appears on the serial console; fail otherwise.
    #[arg(long, value_name = "TEXT")]
    pub expect: Option<String>,
    /// Give up after SECONDS (default: 120 with --expect or --select, else no limit).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// No window: the serial console on this terminal, keys going to the guest as they are
    /// typed (Ctrl-C too); Ctrl-] ends the test.
    #[arg(long)]
    pub headless: bool,
    /// Attach the stick as usb (default), ide or virtio.
    #[arg(long, value_name = "BUS", default_value = "usb")]
    pub attach: String,
    /// Logical sector size to present (default: the stick's own, found from its table).
    #[arg(long, value_name = "BYTES")]
    pub sector_size: Option<u32>,
    /// Let the guest write to the stick (default: changes go to a throw-away overlay).
    #[arg(long)]
    pub write: bool,
}

/// Run the command.
pub fn run(args: Args) -> Result<Outcome> {
    if !args.target.exists() {
        bail!("{} does not exist", args.target.display());
    }
    let arch = match args.arch.as_deref() {
        None => qemu_harness::Arch::X64,
        Some(name) => match qemu_harness::Arch::from_name(name) {
            Some(a) => a,
            None => bail!("--arch takes x86_64, aarch64 or ia32, not {name:?}"),
        },
    };
    let attach = match args.attach.as_str() {
        "usb" => Attach::Usb,
        "ide" => Attach::Ide,
        "virtio" => Attach::Virtio,
        other => bail!("--attach takes usb, ide or virtio, not {other:?}"),
    };
    let sector_size = match args.sector_size {
        Some(s) if s == 512 || s == 4096 => s,
        Some(s) => bail!("--sector-size must be 512 or 4096, not {s}"),
        None => stick::Stick::open(&args.target, false)
            .map(|s| s.layout().sector_size)
            .unwrap_or(512),
    };
    if !args.headless
        && std::env::var_os("DISPLAY").is_none()
        && std::env::var_os("WAYLAND_DISPLAY").is_none()
    {
        bail!("no graphical display here (DISPLAY is not set): use --headless for the serial console on this terminal");
    }
    let mut drive = Drive::usb(&args.target)
        .attach(attach)
        .snapshot(!args.write);
    if sector_size != 512 {
        drive = drive.sector_size(sector_size);
    }
    let mut cfg = if args.bios {
        Config::bios()
    } else {
        Config::uefi_arch(arch)
    };
    cfg = cfg.drive(drive);
    cfg.headless = args.headless;
    cfg.echo_serial = args.headless;
    cfg.echo_timings = crate::out::verbose();
    // The entry to choose, found on the stick before QEMU starts when it can be read.
    let chosen = match &args.select {
        Some(name) => Some(menu_position_on_stick(&args.target, name)?),
        None => None,
    };

    let limit = args.timeout.map(Duration::from_secs).or_else(|| {
        (args.expect.is_some() || args.select.is_some()).then(|| Duration::from_secs(120))
    });
    let deadline = limit.map(|l| Instant::now() + l);
    let remaining = || {
        deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(365 * 24 * 3600))
    };

    // Raw keys on a terminal, before QEMU's threads start (they must not take the signals
    // that restore the terminal).
    // The text screen the guest draws on COM1: OVMF mirrors its 100x31 console (the one
    // of its display adapter); the BIOS loader draws 80x25.
    let guest_screen = if args.bios { (80, 25) } else { (100, 31) };
    let raw = if args.headless {
        crate::terminal::RawTerminal::enter(guest_screen).context("setting up the terminal")?
    } else {
        None
    };
    let mut q = Qemu::start(&cfg).context("starting QEMU")?;
    if let Some(raw) = &raw {
        raw.set_qemu(q.pid());
    }
    if args.headless {
        forward_stdin(&q, raw.as_ref().map(|r| r.quitter()))?;
    }
    let result = wait(&mut q, &args, chosen, &remaining);
    // Stopped by a signal or the quit key: say so rather than what QEMU's death looked like.
    drop(q);
    let stopped = raw.as_ref().and_then(|r| r.stopped());
    let small = raw.as_ref().and(crate::terminal::too_small(guest_screen));
    drop(raw);
    if let Some(warning) = small {
        eprintln!("{warning}");
    }
    match stopped {
        Some(why) if why.starts_with("stopped") => bail!("{why}; QEMU was stopped"),
        Some(why) => {
            eprintln!("bootshelf: {why}; QEMU was stopped");
            Ok(Outcome::Success)
        }
        None => result,
    }
}

/// Choose the entry and wait for the text or for QEMU to end, as the arguments say.
fn wait(
    q: &mut Qemu,
    args: &Args,
    chosen: Option<Option<usize>>,
    remaining: &dyn Fn() -> Duration,
) -> Result<Outcome> {
    if let (Some(name), Some(position)) = (&args.select, chosen) {
        select(q, name, position, remaining())?;
    }
    match &args.expect {
        Some(text) => match q.wait_for(text, remaining()) {
            Ok(t) => {
                eprintln!("\nbootshelf: saw {text:?} after {:.1} s", t.as_secs_f64());
                Ok(Outcome::Success)
            }
            Err(e) => {
                eprintln!("\nbootshelf: {e}");
                Ok(Outcome::Problems)
            }
        },
        None => {
            let status = q.wait_exit(remaining());
            match status {
                Some(s) => {
                    eprintln!("\nbootshelf: QEMU ended ({s})");
                    Ok(Outcome::Success)
                }
                None => {
                    eprintln!("\nbootshelf: time is up; stopping QEMU");
                    Ok(Outcome::Problems)
                }
            }
        }
    }
}

/// Where `name` is in the menu of the stick at `target`: the menu lists `bootshelf
/// list`'s present rows in their order. `None` when the stick cannot be read here (the
/// titles the menu draws decide then).
fn menu_position_on_stick(target: &std::path::Path, name: &str) -> Result<Option<usize>> {
    let Ok(mut stick) = stick::Stick::open(target, false) else {
        return Ok(None);
    };
    let Ok(mut vol) = stick::index_io::open_volume(&mut stick) else {
        return Ok(None);
    };
    let Ok(listing) = stick::list::list(&mut vol) else {
        return Ok(None);
    };
    let menu: Vec<shelf::names::Named<'_>> = listing
        .rows
        .iter()
        .filter(|r| r.present)
        .map(|r| shelf::names::Named {
            title: &r.title,
            path: &r.path,
        })
        .collect();
    Ok(Some(shelf::names::find(name, &menu)?))
}

/// Wait for bootshelf's menu and choose the entry at `position` (or, when the stick could
/// not be read, the one `name` selects among the titles drawn) with the keys every
/// bootshelf menu takes on serial: Home, Down to the entry, Enter.
fn select(q: &mut Qemu, name: &str, position: Option<usize>, timeout: Duration) -> Result<()> {
    q.wait_for("bootshelf: menu drawn", timeout)
        .context("waiting for the bootshelf menu")?;
    let index = match position {
        Some(i) => i,
        None => {
            let entries = q.menu_entries();
            let drawn: Vec<shelf::names::Named<'_>> = entries
                .iter()
                .map(|(_, t)| shelf::names::Named {
                    title: t.as_str(),
                    path: "",
                })
                .collect();
            shelf::names::find(name, &drawn)?
        }
    };
    let mut keys = b"\x1b[H".to_vec();
    for _ in 0..index {
        keys.extend_from_slice(b"\x1b[B");
    }
    keys.push(b'\r');
    q.send_serial(&keys).context("sending keys")?;
    // A fragmented ISO gets no ISO window; the menu asks before booting it anyway.
    let answer = q
        .wait_for_any(
            &["bootshelf: booting ", "no ISO window"],
            Duration::from_secs(30).min(timeout),
        )
        .context("waiting for the loader to boot the entry")?;
    if answer == 1 {
        q.send_serial(b"\r").context("sending Enter")?;
    }
    Ok(())
}

/// Copy what is typed to the guest's COM1: key by key from a terminal in raw mode (where
/// `quit` is given, the quit key ends the test), line by line from a pipe.
fn forward_stdin(q: &Qemu, quit: Option<impl Fn() + Send + 'static>) -> Result<()> {
    let mut out = q.serial_writer()?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Some(quit) = &quit {
                if buf[..n].contains(&crate::terminal::QUIT_KEY) {
                    quit();
                    break;
                }
            }
            let bytes: Vec<u8> = buf[..n]
                .iter()
                .map(|&b| if b == b'\n' { b'\r' } else { b })
                .collect();
            if out.write_all(&bytes).is_err() {
                break;
            }
        }
    });
    Ok(())
}
