//! `bootshelf install TARGET... [--size 32G] [--mbr] [--yes] [--force] [--sector-size N]
//! [--json]`: make image files or USB disks bootshelf sticks (erasing them), several at once.

use crate::exit::Outcome;
use crate::progress::Bars;
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Mutex;
use stick::device::SafetyOverrides;
use stick::install::{InstallOptions, Step};
use stick::Scheme;

/// Arguments of `bootshelf install`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Image files or whole-disk block devices (/dev/sdX); several are written at the same
    /// time. Everything on them is erased.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<PathBuf>,
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
    /// Print the stick made as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--json` output: the stick made.
#[derive(serde::Serialize)]
struct JsonInstalled {
    target: String,
    /// `GPT` or `MBR`.
    scheme: String,
    sector_size: u32,
    data_partition_bytes: u64,
    esp_bytes: u64,
    /// Whether this build carries the BIOS loader (else a placeholder MBR).
    bios_loader: bool,
    /// Whether this build carries the UEFI loader.
    uefi_loader: bool,
    /// The ESP's Secure Boot mode: `shim`, `own_keys` or `plain` (docs/secure-boot.md).
    secure_boot: &'static str,
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
        efi: loaders::UEFI_LOADERS,
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
    let targets = &args.targets;
    crate::targets::check_distinct(targets)?;
    // Every check (safety rules, --size, /dev paths) of every target before anything is
    // written. With one target its refusal is the command's error; with several a refused
    // target is reported at the end and the others go on.
    let mut prepared = Vec::new();
    for target in targets {
        let p = stick::install::prepare(target, &opts);
        if targets.len() == 1 {
            prepared.push(Ok(p?));
        } else {
            prepared.push(p.map_err(anyhow::Error::from));
        }
    }
    let plain = boot_code();
    // Key and shim files before the question and anything written: a missing package refuses the
    // command with the sticks untouched.
    let secure = args.secure_boot.secure_esp(plain.x64_loader())?;
    let boot = stick::BootCode {
        secure_esp: secure.as_ref(),
        ..plain
    };
    // One question for every target that needs one; the answer is one decision for all.
    let asks: Vec<String> = prepared
        .iter()
        .zip(targets)
        .filter_map(|(p, t)| p.as_ref().ok().map(|p| (p, t)))
        .filter(|(p, _)| p.needs_confirmation())
        .map(|(p, t)| describe(p, t))
        .collect();
    if !asks.is_empty() && !args.yes {
        let question = if let [one] = asks.as_slice() {
            format!("This ERASES everything on {one}\nType 'yes' to continue: ")
        } else {
            format!(
                "This ERASES everything on:\n  {}\nType 'yes' to continue: ",
                asks.join("\n  ")
            )
        };
        match crate::ask::answer(&question)? {
            None => anyhow::bail!(
                "refusing to erase {} without confirmation: stdin is not a terminal; \
                 add --yes to confirm. Nothing was written.",
                asks.join("; ")
            ),
            Some(a) if a != "yes" => anyhow::bail!("not confirmed; nothing was written"),
            Some(_) => {}
        }
    }
    let mode = args.secure_boot.mode();
    let bars = Bars::new(args.json);
    let slots: Vec<Mutex<Option<anyhow::Result<stick::install::Prepared>>>> =
        prepared.into_iter().map(|p| Mutex::new(Some(p))).collect();
    let bios_loader = boot.mbr != stick::bootcode::PLACEHOLDER_MBR;
    let uefi_loader = !boot.has_no_efi();
    let results = crate::targets::in_parallel(targets, |i, target| {
        let taken = slots
            .get(i)
            .and_then(|m| m.lock().ok().and_then(|mut s| s.take()));
        let prepared = taken.unwrap_or_else(|| Err(anyhow::anyhow!("not prepared")))?;
        let bar = bars.stick(&target.display().to_string());
        let layout = *prepared.layout();
        let steps = Step::ALL.len() as u64;
        let mut done = 0;
        let made = prepared.run(&boot, &mut |step| {
            done += 1;
            bar.step(done, steps, step.describe());
        });
        bar.finish();
        let stick = made.with_context(|| format!("installing on {}", target.display()))?;
        super::update::print_kernel_table(stick.kernel_table());
        let ss = layout.sector_size;
        if !args.json {
            bars.println(&format!(
                "{}: bootshelf stick ({}, {}-byte sectors): data partition {} (exFAT \"BOOTSHELF\"), ESP {}",
                stick.path().display(),
                layout.scheme,
                ss,
                human_size(layout.data.byte_len(ss)),
                human_size(layout.esp.byte_len(ss)),
            ));
        }
        Ok(JsonInstalled {
            target: stick.path().display().to_string(),
            scheme: layout.scheme.to_string(),
            sector_size: ss,
            data_partition_bytes: layout.data.byte_len(ss),
            esp_bytes: layout.esp.byte_len(ss),
            bios_loader,
            uefi_loader,
            secure_boot: mode.json_name(),
        })
    });
    if args.json {
        crate::targets::json_report(targets, &results)?;
    }
    crate::targets::conclude(targets, results, args.json)?;
    if !bios_loader {
        crate::out::warn(
            "this build has no BIOS loader yet (crates/loaders); the MBR only prints a message",
        );
    }
    if !uefi_loader {
        crate::out::warn(
            "this build has no UEFI loader yet; \\EFI\\BOOT\\BOOT*.EFI were not written",
        );
    } else if !args.json {
        println!("UEFI: {}", mode.describe());
    }
    Ok(Outcome::Success)
}

/// "the image file X. It holds .... It is resized from A to B bytes.": what the question
/// about one target says.
fn describe(prepared: &stick::install::Prepared, target: &std::path::Path) -> String {
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
    format!("{what}.{holds}{resize}")
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

    #[test]
    fn the_loaders_of_every_architecture_fit_the_esp_with_room_to_spare() {
        let boot = super::boot_code();
        let total: u64 = boot.efi.iter().map(|(_, b)| b.len() as u64).sum();
        for (scheme, ss) in [(stick::Scheme::Gpt, 512), (stick::Scheme::Mbr, 4096)] {
            let layout =
                stick::Layout::plan(scheme, ss, stick::layout::MIN_DISK_BYTES / u64::from(ss))
                    .unwrap();
            boot.check_fits(&layout).unwrap();
            // All three with a crash-safe update's second copy of each take under a tenth.
            assert!(
                2 * total < layout.esp.byte_len(ss) / 10,
                "{total} bytes of loaders"
            );
        }
        assert_eq!(boot.efi.len(), 3);
        assert!(boot.efi.iter().all(|(_, b)| !b.is_empty()));
    }
}
