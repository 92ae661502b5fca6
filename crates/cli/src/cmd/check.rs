//! `bootshelf check TARGET [--hash] [--json]`: the index against the file system against
//! the partition table (the rules and their findings are in `stick::check`). The command
//! ends in [`Outcome::Problems`] (exit status 1) when a finding is a problem.

use crate::exit::Outcome;
use anyhow::Context;
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
    let mut stick = stick::Stick::open(&args.target, false)
        .with_context(|| format!("opening {}", args.target.display()))?;
    let layout = *stick.layout();
    let current = match &args.cert {
        Some(path) => Some(UserKey::load_cert(path)?),
        None => {
            let dir = UserKey::default_dir().ok();
            let cert = dir
                .map(|d| d.join("signing-cert.pem"))
                .filter(|p| p.exists());
            match cert {
                Some(p) => Some(UserKey::load_cert(&p)?),
                None => None,
            }
        }
    };
    let mut esp = stick::esp::read_esp(stick.device(), layout.esp)?;
    let loader_findings = stick::check::uefi_loader(&mut esp, current.as_ref());
    let mut vol = open_volume(&mut stick)?;
    let mut r = stick::check::check(
        &mut vol,
        Some(&layout),
        CheckOptions { hash: args.hash },
        &mut |_| {},
    )?;
    r.findings.extend(loader_findings);
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
        "checked {} indexed ISOs{}: {}",
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
