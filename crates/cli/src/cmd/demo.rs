//! `bootshelf demo`: the whole job on an embedded default. Builds a stick image with the
//! sample ISOs Debian ships (iPXE, memtest86+, GRUB rescue), then boots it in QEMU: in a
//! window when there is a display, otherwise headless with the serial console on this
//! terminal, choosing the iPXE entry and waiting until iPXE has started.
//!
//! It is the same code path a user takes: `install`, `add`, `list`, `boot-test`.

use crate::exit::Outcome;
use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

use super::{add, boot_test, install, list};

/// The sample ISOs, as Debian ships them, and the package that has each.
const SAMPLES: &[(&str, &str)] = &[
    ("/usr/lib/ipxe/ipxe.iso", "ipxe"),
    ("/usr/lib/memtest86+/memtest86+x64.iso", "memtest86+"),
    (
        "/usr/lib/grub-rescue/grub-rescue-cdrom.iso",
        "grub-rescue-pc",
    ),
];

/// Arguments of `bootshelf demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Where to write the demo stick image (replaced if it exists).
    #[arg(long, default_value = "bootshelf-demo.img")]
    pub out: PathBuf,
    /// Boot with legacy BIOS (SeaBIOS) instead of UEFI (OVMF).
    #[arg(long)]
    pub bios: bool,
    /// Never open a window, even when a display is available.
    #[arg(long)]
    pub headless: bool,
    /// Only build the image; do not boot it.
    #[arg(long)]
    pub no_boot: bool,
    /// Seconds to wait for the chosen ISO to start when headless.
    #[arg(long, default_value_t = 120)]
    pub timeout: u64,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let isos = samples()?;
    build_image(&args.out, &isos)?;

    if args.no_boot {
        crate::out::note!(
            "bootshelf demo: {} is ready; boot it with `bootshelf boot-test {}`",
            args.out.display(),
            args.out.display()
        );
        return Ok(Outcome::Success);
    }
    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let headless = args.headless || !has_display;
    let mode = if args.bios {
        "BIOS (SeaBIOS)"
    } else {
        "UEFI (OVMF)"
    };
    let test = if headless {
        crate::out::note!(
            "bootshelf demo: booting {} in QEMU, {mode}, headless: choosing iPXE and waiting for it",
            args.out.display()
        );
        boot_test::Args {
            target: args.out.clone(),
            uefi: !args.bios,
            bios: args.bios,
            arch: None,
            select: Some("ipxe".into()),
            expect: Some("iPXE".into()),
            timeout: Some(args.timeout),
            headless: true,
            attach: "usb".into(),
            sector_size: None,
            write: false,
        }
    } else {
        crate::out::note!(
            "bootshelf demo: booting {} in a QEMU window, {mode}; close the window to end",
            args.out.display()
        );
        boot_test::Args {
            target: args.out.clone(),
            uefi: !args.bios,
            bios: args.bios,
            arch: None,
            select: None,
            expect: None,
            timeout: None,
            headless: false,
            attach: "usb".into(),
            sector_size: None,
            write: false,
        }
    };
    boot_test::run(test)
}

/// The sample ISOs present on this machine; an error naming the packages when one is missing.
fn samples() -> anyhow::Result<Vec<PathBuf>> {
    let missing: Vec<&str> = SAMPLES
        .iter()
        .filter(|(path, _)| !Path::new(path).is_file())
        .map(|(_, pkg)| *pkg)
        .collect();
    if !missing.is_empty() {
        bail!(
            "the demo uses the sample ISOs Debian ships, and these packages are missing: {}; \
             install them (`apt-get install {}`, or `./x setup` in a checkout)",
            missing.join(", "),
            missing.join(" ")
        );
    }
    Ok(SAMPLES.iter().map(|(p, _)| PathBuf::from(p)).collect())
}

/// A fresh 256 MiB GPT stick image at `out` with `isos` added, then listed.
fn build_image(out: &Path, isos: &[PathBuf]) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(out) {
        Ok(m) if !m.file_type().is_file() => bail!(
            "{} exists and is not a regular file; the demo only writes image files (choose --out)",
            out.display()
        ),
        Ok(_) => std::fs::remove_file(out)
            .with_context(|| format!("removing the old demo image {}", out.display()))?,
        Err(_) => {}
    }
    crate::out::note!(
        "bootshelf demo: installing a 256 MiB stick image at {}",
        out.display()
    );
    install::run(install::Args {
        targets: vec![out.to_owned()],
        size: Some(256 << 20),
        mbr: false,
        yes: true,
        force: false,
        sector_size: None,
        json: false,
    })
    .context("installing the demo stick")?;
    crate::out::note!("bootshelf demo: adding {} sample ISOs", isos.len());
    add::run(add::Args {
        paths: isos.to_vec(),
        to: vec![out.to_owned()],
        verify: true,
        force: false,
        title: None,
        json: false,
    })
    .context("adding the sample ISOs")?;
    list::run(list::Args {
        target: out.to_owned(),
        json: false,
    })
    .context("listing the demo stick")?;
    Ok(())
}
