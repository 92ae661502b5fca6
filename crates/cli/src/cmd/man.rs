//! `bootshelf man [--dir DIR]`: the man page, generated from the clap definitions by
//! clap_mangen: `bootshelf.1` on stdout, or with `--dir` one page per command
//! (`bootshelf.1`, `bootshelf-install.1`, ...) written into DIR (docs/cli.md).

use crate::exit::Outcome;
use anyhow::Context;
use std::path::PathBuf;

/// Arguments of `bootshelf man`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Write bootshelf.1 and one bootshelf-COMMAND.1 per command into this folder
    /// (e.g. /usr/local/share/man/man1) instead of printing bootshelf.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Run the command.
pub fn run(args: Args, cli: clap::Command) -> anyhow::Result<Outcome> {
    let cli = cli.after_help(crate::exit::help_section());
    match args.dir {
        None => {
            clap_mangen::Man::new(cli)
                .render(&mut std::io::stdout())
                .context("writing the man page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cli, &dir)
                .with_context(|| format!("writing the man pages into {}", dir.display()))?;
            println!("wrote the man pages into {}", dir.display());
        }
    }
    Ok(Outcome::Success)
}
