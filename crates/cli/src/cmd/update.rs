//! `bootshelf update TARGET`: rewrite the boot code and the ESP; the ISOs are not touched.

use crate::exit::Outcome;
use anyhow::Context;
use std::path::PathBuf;

/// Arguments of `bootshelf update`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// Secure Boot setup of the ESP (default: shim + loader signed with your key; the
    /// loader is re-signed and shim and MokManager refreshed from the installed packages).
    #[command(flatten)]
    pub secure_boot: super::secure_boot::SecureBootArgs,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = stick::Stick::open(&args.target, true)?;
    let plain = super::install::boot_code();
    let secure = args.secure_boot.secure_esp(plain.efi)?;
    let boot = stick::BootCode {
        secure_esp: secure.as_ref(),
        ..plain
    };
    let r = stick::update::update(&mut stick, &boot)
        .with_context(|| format!("updating {}", args.target.display()))?;
    let mut changed = Vec::new();
    if r.esp_rebuilt {
        changed.push("ESP rebuilt (it was unreadable)".to_owned());
    } else if r.esp_sectors_written > 0 {
        changed.push(format!("ESP ({} sectors)", r.esp_sectors_written));
    }
    if r.stage2_written {
        changed.push("BIOS stage 2".into());
    }
    if r.mbr_written {
        changed.push("MBR boot code".into());
    }
    if changed.is_empty() {
        println!("{}: boot code already up to date", args.target.display());
    } else {
        println!("{}: updated {}", args.target.display(), changed.join(", "));
    }
    Ok(Outcome::Success)
}
