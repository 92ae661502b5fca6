//! `bootshelf check TARGET [--hash] [--json]`: the index against the file system against
//! the partition table, and the boot code against what this bootshelf carries (the rules
//! and their findings are in `stick::check` and `stick::boot_check`). The command
//! ends in [`Outcome::Problems`] (exit status 1) when a finding is a problem.

use crate::exit::Outcome;
use serde::Serialize;
use std::path::PathBuf;
use stick::check::{CheckOptions, CheckReport, Finding, Severity};
use stick::index_io::open_volume;
use stick::secure_boot::UserKey;

/// Arguments of `bootshelf check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// Also read every ISO and compare its SHA-256 with the index.
    #[arg(long)]
    pub hash: bool,
    /// Print the findings as a JSON array instead of text.
    #[arg(long)]
    pub json: bool,
    /// The certificate (PEM or DER) the UEFI loader should be signed with (default: your
    /// Secure Boot key's, in ~/.config/bootshelf/secure-boot, when there is one).
    #[arg(long, value_name = "CERT")]
    pub cert: Option<PathBuf>,
}

/// One finding in `--json` output.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct JsonFinding {
    /// Stable name of the kind of finding (`iso_gone`, `hash_mismatch`, ...).
    pub kind: &'static str,
    /// `note`, `warning` or `problem`.
    pub severity: &'static str,
    /// The ISO or structure concerned.
    pub subject: String,
    /// What was found, as the text output says it.
    pub message: String,
}

impl From<&Finding> for JsonFinding {
    fn from(f: &Finding) -> Self {
        JsonFinding {
            kind: f.kind(),
            severity: f.severity().as_str(),
            subject: f.subject().to_string(),
            message: f.to_string(),
        }
    }
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = super::open_stick_for_repair(&args.target, false)?;
    let layout = *stick.layout();
    let current = match &args.cert {
        Some(path) => Some(UserKey::load_cert(path)?),
        None => match UserKey::default_cert() {
            Some(p) => Some(UserKey::load_cert(&p)?),
            None => None,
        },
    };
    let damage = stick.table_damage().to_vec();
    let boot = super::install::boot_code();
    // shim and MokManager on a stick in shim mode are compared with the installed packages'.
    let installed_shim = stick::secure_boot::ShimFiles::from_system().map_err(|e| e.to_string());
    let mut boot_findings = stick::boot_check::check_boot(
        stick.device(),
        &layout,
        &damage,
        &boot,
        installed_shim.as_ref().map_err(String::as_str),
    )?;
    // Which loader and who signed it; an unreadable ESP is said once, by the boot rules.
    if !boot_findings
        .iter()
        .any(|f| matches!(f, Finding::EspUnreadable { .. }))
    {
        let mut esp = stick::esp::read_esp(stick.device(), layout.esp)?;
        boot_findings.extend(stick::check::uefi_loader(&mut esp, current.as_ref()));
    }
    let mut vol = open_volume(&mut stick)?;
    // Reading every ISO back is long work: its bytes and speed are shown.
    let bars = crate::progress::Bars::new(!args.hash);
    let bar = bars.stick("");
    if args.hash {
        bar.count("hashing the ISOs");
    }
    let r = stick::check::check(
        &mut vol,
        Some(&layout),
        CheckOptions { hash: args.hash },
        &mut |n| bar.inc(n),
    );
    bar.finish();
    let mut r = r?;
    r.findings.extend(boot_findings);
    if args.json {
        let rows: Vec<JsonFinding> = r.findings.iter().map(JsonFinding::from).collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_text(&r, args.hash);
    }
    Ok(if r.has_problems() {
        Outcome::Problems
    } else {
        Outcome::Success
    })
}

/// One line per finding, then a summary line.
fn print_text(r: &CheckReport, hash: bool) {
    for f in &r.findings {
        let sev = match f.severity() {
            Severity::Problem => "PROBLEM",
            s => s.as_str(),
        };
        println!("{sev}: {}: {f}", f.subject());
    }
    let problems = r.problems();
    println!(
        "checked the boot code and {} indexed ISOs{}: {}",
        r.isos_checked,
        if hash {
            format!(" ({} hashes match)", r.hashes_checked)
        } else {
            String::new()
        },
        if problems == 0 {
            "no problems".to_string()
        } else {
            format!("{problems} problem(s)")
        }
    );
}
