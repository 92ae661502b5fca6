//! Running external programs (the partitioning tools, checkers, mkfs, xorriso...) from
//! tests: exit status and output collected, and a panic naming the command and showing
//! its output when a program that must succeed does not.

use std::io::Write;
use std::process::{Command, Stdio};

/// What a finished program said.
#[derive(Debug)]
pub struct Ran {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Ran {
    /// Standard output followed by standard error (what a user would see).
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Run `cmd` to completion (standard input empty); panics only when it cannot start.
pub fn run(cmd: &mut Command) -> Ran {
    feed(cmd, None)
}

/// Run `cmd` with `stdin` as its standard input (fdisk and sfdisk scripts).
pub fn run_with_stdin(cmd: &mut Command, stdin: &str) -> Ran {
    feed(cmd, Some(stdin))
}

/// Run `cmd`, which must succeed; returns its standard output followed by standard error.
pub fn ok(cmd: &mut Command) -> String {
    let ran = run(cmd);
    assert!(ran.success, "{cmd:?} failed:\n{}", ran.text());
    ran.text()
}

/// [`ok`] with `stdin` as its standard input.
pub fn ok_with_stdin(cmd: &mut Command, stdin: &str) -> String {
    let ran = run_with_stdin(cmd, stdin);
    assert!(ran.success, "{cmd:?} failed:\n{}", ran.text());
    ran.text()
}

/// Run `cmd` to completion with `stdin` (or nothing) as its standard input; panics only
/// when it cannot start.
pub fn feed(cmd: &mut Command, stdin: Option<&str>) -> Ran {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (is its Debian package installed?): {e}"));
    if let Some(input) = stdin {
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(input.as_bytes())
                .unwrap_or_else(|e| panic!("writing to {cmd:?}: {e}"));
        }
    }
    drop(child.stdin.take());
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {cmd:?}: {e}"));
    Ran {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
