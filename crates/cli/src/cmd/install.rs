//! `bootshelf install TARGET [--size 32G] [--mbr] [--yes] [--force] [--sector-size N]`:
//! make an image file or a USB disk a bootshelf stick (erasing it).

use crate::exit::Outcome;
use anyhow::Context;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use stick::device::SafetyOverrides;
use stick::install::{InstallOptions, Step};
use stick::Scheme;

/// Arguments of `bootshelf install`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// An image file or a whole-disk block device (/dev/sdX). Everything on it is erased.
    pub target: PathBuf,
    /// Create the image file sparse with this size (e.g. 32G, 512M, 100MiB, bytes); an
    /// existing image file is resized to it (asked first when it holds anything).
    #[arg(long, value_parser = parse_size)]
    pub size: Option<u64>,
    /// Classic MBR partition table instead of GPT (for firmware that dislikes GPT).
    #[arg(long)]
    pub mbr: bool,
    /// Do not ask for confirmation before erasing a disk or an image file that holds anything.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Accept a disk that does not say it is removable or USB (never a mounted or system disk).
    #[arg(long)]
    pub force: bool,
    /// Logical sector size of an image file (block devices use their own).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["512", "4096"]))]
    pub sector_size: Option<String>,
    /// Secure Boot setup of the ESP (default: shim + loader signed with your key).
    #[command(flatten)]
    pub secure_boot: super::secure_boot::SecureBootArgs,
}

/// Parse "32G", "512M", "100MiB", "1T", "4096" (binary units: K = 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 32G or 512M"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        other => {
            return Err(format!(
                "unknown size unit {other:?} in {s:?} (use K, M, G or T)"
            ))
        }
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// The boot code this binary carries: the real loaders where crates/loaders has them,
/// otherwise the placeholders of `stick::bootcode`.
pub fn boot_code() -> stick::BootCode<'static> {
    let placeholder = stick::BootCode::placeholder();
    stick::BootCode {
        mbr: if loaders::BIOS_MBR.is_empty() {
            placeholder.mbr
        } else {
            loaders::BIOS_MBR
        },
        stage2: if loaders::BIOS_STAGE2.is_empty() {
            placeholder.stage2
        } else {
            loaders::BIOS_STAGE2
        },
        efi: loaders::UEFI_BOOTX64,
        secure_esp: None,
    }
}

/// "16.0 GB (14.9 GiB)", or "32 MiB" below 1 GiB.
pub fn human_size(bytes: u64) -> String {
    if bytes < 1 << 30 {
        return format!("{} MiB", bytes >> 20);
    }
    format!(
        "{:.1} GB ({:.1} GiB)",
        bytes as f64 / 1e9,
        bytes as f64 / f64::from(1u32 << 30)
    )
}

/// Progress bar over the install steps (hidden when stderr is not a terminal).
pub fn step_bar(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let opts = InstallOptions {
        scheme: if args.mbr { Scheme::Mbr } else { Scheme::Gpt },
        create_size: args.size,
        image_sector_size: args.sector_size.as_deref().and_then(|s| s.parse().ok()),
        safety: SafetyOverrides {
            allow_fixed: args.force,
        },
    };
    let target = &args.target;
    // Every check (safety rules, --size, /dev paths) before anything is written.
    let prepared = stick::install::prepare(target, &opts)?;
    if prepared.needs_confirmation() {
        let what = match prepared.disk_info() {
            Some(info) => format!(
                "{} {} {}, {}{}",
                info.dev_path.display(),
                info.vendor,
                info.model,
                human_size(info.size),
                if info.removable || info.usb {
                    ""
                } else {
                    ", NOT removable"
                }
            ),
            None => format!("the image file {}", target.display()),
        };
        let holds = match prepared.contents() {
            Some(c) => format!(" It holds {c}."),
            None => String::new(),
        };
        let resize = match prepared.resize() {
            Some((old, new)) => format!(" It is resized from {old} to {new} bytes."),
            None => String::new(),
        };
        if !args.yes {
            let stdin = std::io::stdin();
            if !stdin.is_terminal() {
                anyhow::bail!(
                    "refusing to erase {what} without confirmation: stdin is not a terminal; \
                     add --yes to confirm.{holds} Nothing was written."
                );
            }
            eprint!("This ERASES everything on {what}.{holds}{resize}\nType 'yes' to continue: ");
            std::io::stderr().flush().ok();
            let mut line = String::new();
            stdin
                .lock()
                .read_line(&mut line)
                .context("reading the answer")?;
            if line.trim() != "yes" {
                anyhow::bail!("not confirmed; nothing was written");
            }
        }
    }
    let layout = *prepared.layout();
    let plain = boot_code();
    // Key and shim files before anything is written: a missing package refuses the
    // command with the stick untouched.
    let secure = args.secure_boot.secure_esp(plain.efi)?;
    let boot = stick::BootCode {
        secure_esp: secure.as_ref(),
        ..plain
    };
    let bar = step_bar(Step::ALL.len() as u64);
    let stick = prepared
        .run(&boot, &mut |step| {
            bar.set_message(step.describe());
            bar.inc(1);
        })
        .with_context(|| format!("installing on {}", target.display()))?;
    bar.finish_and_clear();
    let ss = layout.sector_size;
    println!(
        "{}: bootshelf stick ({}, {}-byte sectors): data partition {} (exFAT \"BOOTSHELF\"), ESP {}",
        stick.path().display(),
        layout.scheme,
        ss,
        human_size(layout.data.byte_len(ss)),
        human_size(layout.esp.byte_len(ss)),
    );
    if boot.mbr == stick::bootcode::PLACEHOLDER_MBR {
        println!(
            "note: this build has no BIOS loader yet (crates/loaders); the MBR only prints a message"
        );
    }
    if boot.efi.is_empty() {
        println!(
            "note: this build has no UEFI loader yet; \\EFI\\BOOT\\BOOTX64.EFI was not written"
        );
    } else {
        println!("UEFI: {}", args.secure_boot.mode().describe());
    }
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("32G"), Ok(32 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("100MiB"), Ok(100 << 20));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
    }
}
