//! `bootshelf add` (not implemented yet).

use std::process::ExitCode;

/// Arguments of `bootshelf add`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Whatever the command takes.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("'bootshelf add' is not implemented yet ({:?})", args.rest)
}
