//! `bootshelf`: the command-line front end. Parses arguments, runs one command, and maps
//! its result to the exit status in one place (`exit`: 0 success, 1 problems found,
//! 2 error).

mod ask;
mod cmd;
mod exit;
mod out;
mod progress;
mod targets;
mod terminal;

use clap::{ArgAction, CommandFactory, Parser, Subcommand};
use exit::{Exit, Outcome};
use std::path::PathBuf;
use std::process::ExitCode;

/// Multi-ISO boot USB manager.
#[derive(Parser, Debug)]
#[command(
    name = "bootshelf",
    version,
    about,
    propagate_version = true,
    after_help = exit::help_section()
)]
struct Cli {
    /// Hide progress bars and narration (results, warnings and errors stay).
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Print developer detail too: timings, the loaders' timing notes on the serial console.
    #[arg(long, short, global = true, action = ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show an ISO's label, boot entries, hybrid layout and what it looks like.
    Inspect(cmd::inspect::Args),
    /// Make TARGET (an image file or a USB disk) a bootshelf stick. Destroys its contents.
    Install(cmd::install::Args),
    /// Rewrite the boot code and the boot partition; the ISOs are not touched.
    Update(cmd::update::Args),
    /// Copy ISOs onto the stick contiguously, hash and index them.
    Add(cmd::add::Args),
    /// Remove ISOs from the stick.
    Remove(cmd::remove::Args),
    /// List the ISOs on the stick.
    List(cmd::list::Args),
    /// Make, list or remove a live ISO's persistence file (its saved changes).
    Persistence(cmd::persistence::Args),
    /// Index ISOs copied by other tools, drop entries whose files are gone.
    Sync(cmd::sync::Args),
    /// Check the index against the file system against the partition table.
    Check(cmd::check::Args),
    /// List disks that could become a stick.
    Devices(cmd::devices::Args),
    /// Boot NAME once at the next boot, then return to the usual default.
    BootNext(cmd::boot_next::Args),
    /// Kernel arguments added to (or removed from) every kernel line of an ISO at boot.
    Options(cmd::options::Args),
    /// Show or change the menu's lasting settings: the default entry and the timeout.
    Config(cmd::config::Args),
    /// Give an ISO a menu title of your choice (or its file name back).
    Rename(cmd::rename::Args),
    /// Boot the stick in QEMU (UEFI or BIOS).
    BootTest(cmd::boot_test::Args),
    /// Build a demo stick image with sample ISOs and boot it in QEMU.
    Demo(cmd::demo::Args),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(cmd::completions::Args),
    /// Print the man page (roff), or write one page per command into a folder.
    Man(cmd::man::Args),
}

/// Give SIGPIPE its default action back (Rust starts programs with it ignored), so that
/// `bootshelf list --json | head` ends quietly when the reader goes away instead of
/// panicking inside `println!`.
fn restore_default_sigpipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: runs first thing in `main`, before any other thread exists, and installs
    // the default disposition, which runs no code of ours.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version on stdout, usage errors on stderr, as clap does.
            let _ = e.print();
            return Exit::of_parse_error(&e).into();
        }
    };
    out::set_level(if cli.quiet {
        out::Level::Quiet
    } else if cli.verbose > 0 {
        out::Level::Verbose
    } else {
        out::Level::Normal
    });
    let result = run(cli.command);
    if let Err(e) = &result {
        out::error(&format!("{e:#}"));
    }
    Exit::of_command(&result).into()
}

/// Run one command.
fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Install(a) => cmd::install::run(a),
        Command::Update(a) => cmd::update::run(a),
        Command::Add(a) => cmd::add::run(a),
        Command::Remove(a) => cmd::remove::run(a),
        Command::List(a) => cmd::list::run(a),
        Command::Persistence(a) => cmd::persistence::run(a),
        Command::Sync(a) => cmd::sync::run(a),
        Command::Check(a) => cmd::check::run(a),
        Command::Devices(a) => cmd::devices::run(a),
        Command::BootNext(a) => cmd::boot_next::run(a),
        Command::Options(a) => cmd::options::run(a),
        Command::Config(a) => cmd::config::run(a),
        Command::Rename(a) => cmd::rename::run(a),
        Command::BootTest(a) => cmd::boot_test::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Completions(a) => cmd::completions::run(a, Cli::command()),
        Command::Man(a) => cmd::man::run(a, Cli::command()),
    }
}

/// A path given on the command line.
pub type PathArg = PathBuf;
