//! The exit status of `bootshelf`, decided here and nowhere else. A command returns
//! `anyhow::Result<Outcome>`; `main` maps that, or clap's parse error, to an [`Exit`]
//! and only [`Exit::code`] knows the numbers:
//!
//! * 0: success (`--help` and `--version` too);
//! * 1: the command ran to its end and found problems;
//! * 2: error: bad arguments (clap's usage errors and ours), an I/O failure, a refusal.
//!
//! A refusal is an error because nothing was done: a mounted or system disk, a disk that
//! is not removable without `--force`, a non-ISO or broken ISO without `--force`, a stick
//! another bootshelf command is using (its lock, docs/safety.md), and a confirmation
//! that could not be asked (no terminal) or was not answered `yes`. A user declining is
//! code 2, not 0 and not 1: the stick was not made, and a script must not go on as if it
//! were; 1 stays reserved for "ran and found problems".
//!
//! Several sticks in one run (`install A B`, `add --to A --to B`, docs/multi.md): 0 when
//! every stick was done, 2 when any failed or was refused (the others still ran to their
//! end; the summary lines say which).

use std::process::ExitCode;

/// What a command that ran to its end concluded (errors are the `Err` beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; nothing wrong.
    Success,
    /// The command ran and found problems: a `check` finding of severity problem, an
    /// `inspect`ed file that is not a bootable ISO, a `boot-test` that did not see the
    /// `--expect` text in time.
    Problems,
}

/// The exit status of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0.
    Success,
    /// 1: see [`Outcome::Problems`].
    Problems,
    /// 2: bad arguments, I/O failure, refusal.
    Error,
}

impl Exit {
    /// Every exit status, in the order of their codes.
    pub const ALL: [Exit; 3] = [Exit::Success, Exit::Problems, Exit::Error];

    /// The number the process exits with.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Problems => 1,
            Exit::Error => 2,
        }
    }

    /// What it means, as `--help` and README.md say it (one line each).
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Success => "success (`check`: no problem found; notes and warnings do not count)",
            Exit::Problems => {
                "the command ran and found problems: `check` found a problem, `inspect` read a \
                 file that is not a bootable ISO, `boot-test` did not see the --expect text"
            }
            Exit::Error => {
                "error: bad arguments, a file or device that cannot be read or written, or a \
                 refusal (mounted or system disk, non-ISO or broken ISO without --force, the \
                 stick in use by another bootshelf command, confirmation not given or \
                 answered no); nothing more was done. With several sticks: any of them \
                 failed (the others were still written)"
            }
        }
    }

    /// The exit status of a command's result. The caller prints the error.
    pub fn of_command(result: &anyhow::Result<Outcome>) -> Exit {
        match result {
            Ok(Outcome::Success) => Exit::Success,
            Ok(Outcome::Problems) => Exit::Problems,
            Err(_) => Exit::Error,
        }
    }

    /// The exit status when clap did not hand over a command: `--help` and `--version`
    /// succeed, usage errors (and a bare `bootshelf`) are errors.
    pub fn of_parse_error(e: &clap::Error) -> Exit {
        if e.use_stderr() {
            Exit::Error
        } else {
            Exit::Success
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e.code())
    }
}

/// The "Exit status" section of `bootshelf --help`.
pub fn help_section() -> String {
    let mut s = String::from("Exit status:");
    for e in Exit::ALL {
        s.push_str(&format!("\n  {}  ", e.code()));
        // Wrap at about 88 columns, continuation lines under the text.
        let mut col = 5;
        for (i, word) in e.meaning().split(' ').enumerate() {
            if i > 0 && col + 1 + word.len() > 88 {
                s.push_str("\n     ");
                col = 5;
            } else if i > 0 {
                s.push(' ');
                col += 1;
            }
            s.push_str(word);
            col += word.len();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    #[test]
    fn codes_are_0_1_2_and_results_map_onto_them() {
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(codes, [0, 1, 2]);
        assert_eq!(Exit::of_command(&Ok(Outcome::Success)), Exit::Success);
        assert_eq!(Exit::of_command(&Ok(Outcome::Problems)), Exit::Problems);
        assert_eq!(
            Exit::of_command(&Err(anyhow::anyhow!("no such file"))),
            Exit::Error
        );
    }

    #[test]
    fn help_and_version_succeed_usage_errors_do_not() {
        let cmd = clap::Command::new("t");
        for (kind, exit) in [
            (ErrorKind::DisplayHelp, Exit::Success),
            (ErrorKind::DisplayVersion, Exit::Success),
            (ErrorKind::UnknownArgument, Exit::Error),
            (ErrorKind::MissingRequiredArgument, Exit::Error),
            (
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand,
                Exit::Error,
            ),
        ] {
            let e = clap::Error::new(kind).with_cmd(&cmd);
            assert_eq!(Exit::of_parse_error(&e), exit, "{kind:?}");
        }
    }

    #[test]
    fn help_section_lists_every_code_with_its_whole_meaning() {
        let h = help_section();
        assert!(h.starts_with("Exit status:\n"), "{h}");
        let flat = h.split_whitespace().collect::<Vec<_>>().join(" ");
        for e in Exit::ALL {
            assert!(
                flat.contains(&format!("{} {}", e.code(), e.meaning())),
                "{e:?} in {h}"
            );
        }
        assert!(h.lines().all(|l| l.len() <= 90), "{h}");
    }
}
