//! `bootshelf boot-test`: boot a stick (image file or disk) in QEMU, UEFI (OVMF) or BIOS
//! (SeaBIOS), with the stick on USB storage, and optionally pick a menu entry and wait for
//! a text. In a window by default; `--headless` puts the serial console on the terminal
//! (keys typed there go to the guest's COM1). Exit status 0 when `--expect` was seen.
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
    /// Choose the menu entry whose title contains NAME (case-insensitive).
    #[arg(long, value_name = "NAME")]
    pub select: Option<String>,
    /// Succeed (exit 0) as soon as TEXT appears on the serial console; fail otherwise.
    #[arg(long, value_name = "TEXT")]
    pub expect: Option<String>,
    /// Give up after SECONDS (default: 120 with --expect or --select, else no limit).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// No window: the serial console on this terminal.
    #[arg(long)]
    pub headless: bool,
    /// Attach the stick as usb (default), ide or virtio; or cdrom for an ISO booted alone.
    #[arg(long, value_name = "BUS", default_value = "usb")]
    pub attach: String,
    /// Logical sector size to present (default: the stick's own, found from its table).
    #[arg(long, value_name = "BYTES")]
    pub sector_size: Option<u32>,
    /// Let the guest write to the stick (default: changes go to a throw-away overlay).
    #[arg(long)]
    pub write: bool,
    /// UEFI with Secure Boot on: OVMF's Secure Boot build with Microsoft's keys
    /// (OVMF_CODE_4M.ms.fd / OVMF_VARS_4M.ms.fd), q35 with SMM.
    #[arg(long, conflicts_with = "bios")]
    pub secure_boot: bool,
    /// With --secure-boot: put a certificate into shim's MokList before booting, as if it
    /// had been enrolled in MokManager: your signing key's (the one in the config directory)
    /// or the one given with --cert.
    #[arg(long, requires = "secure_boot")]
    pub enroll: bool,
    /// The certificate (PEM or DER) --enroll puts into MokList.
    #[arg(long, requires = "enroll", value_name = "CERT")]
    pub cert: Option<PathBuf>,
    /// OVMF code and variable store to use instead (two files, e.g. the snakeoil pair for
    /// own-keys mode); with --secure-boot the machine gets SMM and a secure flash.
    #[arg(long, num_args = 2, value_names = ["CODE", "VARS"], conflicts_with = "bios")]
    pub firmware: Option<Vec<PathBuf>>,
}

/// Run the command.
pub fn run(args: Args) -> Result<Outcome> {
    if !args.target.exists() {
        bail!("{} does not exist", args.target.display());
    }
    let attach = match args.attach.as_str() {
        "usb" => Attach::Usb,
        "ide" => Attach::Ide,
        "virtio" => Attach::Virtio,
        // An ISO as a CD-ROM drive: the same ISO booted alone, for comparisons.
        "cdrom" => Attach::Cdrom,
        other => bail!("--attach takes usb, ide, virtio or cdrom, not {other:?}"),
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
    } else if args.secure_boot {
        Config::uefi_secure_boot()
    } else {
        Config::uefi()
    };
    if let Some([code, vars]) = args.firmware.as_deref() {
        cfg.ovmf_code = code.clone();
        cfg.ovmf_vars = vars.clone();
    }
    if args.enroll {
        let cert = match &args.cert {
            Some(path) => stick::secure_boot::UserKey::load_cert(path)?,
            None => {
                let dir = stick::secure_boot::UserKey::default_dir()?;
                stick::secure_boot::UserKey::load_or_create(&dir)?.cert
            }
        };
        cfg.enroll_mok = Some(stick::secure_boot::cert_der(&cert)?);
    }
    cfg = cfg.drive(drive);
    cfg.headless = args.headless;
    cfg.echo_serial = args.headless;

    let limit = args.timeout.map(Duration::from_secs).or_else(|| {
        (args.expect.is_some() || args.select.is_some()).then(|| Duration::from_secs(120))
    });
    let deadline = limit.map(|l| Instant::now() + l);
    let remaining = || {
        deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_secs(365 * 24 * 3600))
    };

    let mut q = Qemu::start(&cfg).context("starting QEMU")?;
    if args.headless {
        forward_stdin(&q)?;
    }
    if let Some(name) = &args.select {
        select(&mut q, name, remaining())?;
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

/// Wait for bootshelf's menu, find `name` among its entries and choose it with the
/// keys every bootshelf menu takes on serial: Home, Down to the entry, Enter.
fn select(q: &mut Qemu, name: &str, timeout: Duration) -> Result<()> {
    q.wait_for("bootshelf: menu drawn", timeout)
        .context("waiting for the bootshelf menu")?;
    let entries = q.menu_entries();
    let wanted = name.to_lowercase();
    let Some(index) = entries
        .iter()
        .position(|(_, t)| t.to_lowercase().contains(&wanted))
    else {
        let titles: Vec<&str> = entries.iter().map(|(_, t)| t.as_str()).collect();
        bail!("no menu entry matches {name:?}; the menu has {titles:?}");
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

/// Copy what is typed on this terminal to the guest's COM1 (line by line: the terminal
/// stays in its normal mode).
fn forward_stdin(q: &Qemu) -> Result<()> {
    let mut out = q.serial_writer()?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        let mut stdin = std::io::stdin();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 {
                break;
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
