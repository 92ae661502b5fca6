//! `bootshelf completions SHELL`: the shell completion script, generated from the clap
//! definitions by clap_complete (docs/cli.md says where each shell wants it).

use crate::exit::Outcome;
use clap_complete::Shell;

/// Arguments of `bootshelf completions`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell: bash, zsh, fish, powershell or elvish.
    pub shell: Shell,
}

/// Run the command: the script on stdout.
pub fn run(args: Args, mut cli: clap::Command) -> anyhow::Result<Outcome> {
    clap_complete::generate(args.shell, &mut cli, "bootshelf", &mut std::io::stdout());
    Ok(Outcome::Success)
}
