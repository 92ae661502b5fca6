//! `bootshelf list` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `bootshelf list`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Whatever the command takes.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'bootshelf list' is not implemented yet ({:?})", args.rest)
}
