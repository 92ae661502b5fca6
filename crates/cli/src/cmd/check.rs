//! `bootshelf check TARGET [--hash]`: the index against the file system against the
//! partition table (the work is in `stick::check`). Exit code 1 when a problem is found.

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use stick::check::{CheckOptions, Severity};
use stick::index_io::open_volume;

/// Arguments of `bootshelf check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// Also read every ISO and compare its SHA-256 with the index.
    #[arg(long)]
    pub hash: bool,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut stick = stick::Stick::open(&args.target, false)
        .with_context(|| format!("opening {}", args.target.display()))?;
    let layout = *stick.layout();
    let mut vol = open_volume(&mut stick)?;
    let r = stick::check::check(
        &mut vol,
        Some(&layout),
        CheckOptions { hash: args.hash },
        &mut |_| {},
    )?;
    for f in &r.findings {
        let sev = match f.severity {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Problem => "PROBLEM",
        };
        println!("{sev}: {}: {}", f.subject, f.message);
    }
    let problems = r
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Problem)
        .count();
    println!(
        "checked {} indexed ISOs{}: {}",
        r.isos_checked,
        if args.hash {
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
    Ok(if problems == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
