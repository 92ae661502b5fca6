//! The `bootshelf` binary as a user runs it, after ripgrep's `tests/util.rs`: every test
//! gets a fresh directory to work in ([`Bootshelf::new`]), runs the binary there with
//! arguments, and gets the exit code, standard output and standard error back, with
//! helpers that assert success or failure and show all output when the assertion fails.
//!
//! The binary is found one way for every suite ([`bootshelf_path`]): the path cargo gives
//! the integration tests of the `bootshelf` package (`CARGO_BIN_EXE_bootshelf`, set at run
//! time too), or else (any other package's tests) `cargo build -p bootshelf` once per test
//! process with the running test's cargo, target directory and profile, so the loaders
//! embedded in it are the ones of this source tree.

use crate::TempDir;
use anyhow::{bail, Context, Result};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;

/// The `bootshelf` binary of this source tree (see the module documentation).
pub fn bootshelf_path() -> Result<&'static Path> {
    static BIN: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| find_or_build().map_err(|e| format!("{e:#}")))
        .as_deref()
        .map_err(|e| anyhow::anyhow!("building bootshelf: {e}"))
}

fn find_or_build() -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("CARGO_BIN_EXE_bootshelf") {
        return Ok(PathBuf::from(bin));
    }
    // <target>/<profile>/deps/<test binary>
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary is not in <target>/<profile>/deps")?;
    let target_dir = profile_dir.parent().context("no target directory")?;
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(p) => p,
        None => bail!("no profile directory"),
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "bootshelf", "--profile", profile])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("RUSTFLAGS")
        .status()
        .context("running cargo build -p bootshelf")?;
    if !status.success() {
        bail!("cargo build -p bootshelf failed");
    }
    let bin = profile_dir.join("bootshelf");
    if !bin.is_file() {
        bail!("{} was not built", bin.display());
    }
    Ok(bin)
}

/// A `bootshelf` command line to finish and run yourself (pipes, kills, environment).
pub fn command() -> Command {
    let bin = bootshelf_path().unwrap_or_else(|e| panic!("{e:#}"));
    Command::new(bin)
}

/// Run `bootshelf args` to completion where the test runs (for commands that write no
/// files; [`Bootshelf::run`] gives a test its own directory).
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> Run {
    let mut c = command();
    c.stdin(Stdio::null());
    finish(c, args)
}

/// Run `bootshelf args` in `cwd` with a terminal (a pty) as its standard input, type
/// `answer` there, and wait for it: how a user answers a confirmation question.
pub fn answer_on_terminal<S: AsRef<OsStr>>(cwd: &Path, args: &[S], answer: &str) -> Run {
    use std::io::Write;
    let pty = nix::pty::openpty(None, None).unwrap_or_else(|e| panic!("openpty: {e}"));
    let child = command()
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::from(pty.slave))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running bootshelf: {e}"));
    let mut master = std::fs::File::from(pty.master);
    master
        .write_all(answer.as_bytes())
        .unwrap_or_else(|e| panic!("typing on the pty: {e}"));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for bootshelf: {e}"));
    Run::of(args, out)
}

/// Run `bootshelf args` in `cwd` with its standard error on a terminal (a pty), with
/// `env` added to its environment: what a user sees there (colour, progress bars). The
/// returned [`Run::stderr`] is what the terminal received.
pub fn stderr_on_terminal<S: AsRef<OsStr>>(cwd: &Path, args: &[S], env: &[(&str, &str)]) -> Run {
    use std::io::Read;
    let pty = nix::pty::openpty(None, None).unwrap_or_else(|e| panic!("openpty: {e}"));
    let mut c = command();
    c.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(pty.slave));
    for (k, v) in env {
        c.env(k, v);
    }
    let child = c
        .spawn()
        .unwrap_or_else(|e| panic!("running bootshelf: {e}"));
    // Our copy of the slave went to the child; the master reads until it is closed.
    drop(c);
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the child's end is closed.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    });
    let mut out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for bootshelf: {e}"));
    out.stderr = reader
        .join()
        .unwrap_or_else(|_| panic!("reading the pty panicked"));
    Run::of(args, out)
}

/// Run a [`command`] the caller prepared (working directory, stdin) with `args`, to completion.
pub fn finish<S: AsRef<OsStr>>(mut cmd: Command, args: &[S]) -> Run {
    let out = cmd
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running bootshelf: {e}"));
    Run::of(args, out)
}

/// What one run of `bootshelf` did.
#[derive(Debug)]
pub struct Run {
    /// The arguments, for messages.
    pub args: Vec<String>,
    /// How it ended.
    pub status: ExitStatus,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Run {
    /// What a finished `bootshelf args` left in `out`.
    fn of<S: AsRef<OsStr>>(args: &[S], out: std::process::Output) -> Run {
        Run {
            args: args
                .iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect(),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The exit code (`None` when killed by a signal).
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// Whether it exited with 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// Standard output followed by standard error.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Panic with everything it printed unless it succeeded; returns itself.
    pub fn assert_ok(self) -> Run {
        assert!(
            self.success(),
            "bootshelf {:?} failed ({}):\n{}",
            self.args,
            self.status,
            self.text()
        );
        self
    }

    /// Panic with everything it printed unless it failed; returns itself.
    pub fn assert_failed(self) -> Run {
        assert!(
            !self.success(),
            "bootshelf {:?} succeeded:\n{}",
            self.args,
            self.text()
        );
        self
    }

    /// Panic with everything it printed unless it exited with `code`; returns itself.
    pub fn assert_code(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            Some(code),
            "bootshelf {:?} ended with {}, not {code}:\n{}",
            self.args,
            self.status,
            self.text()
        );
        self
    }
}

/// `bootshelf` run in a directory of its own: one per test, removed afterwards.
pub struct Bootshelf {
    dir: TempDir,
}

impl Bootshelf {
    /// A fresh, empty working directory whose name starts with `tag`.
    pub fn new(tag: &str) -> Bootshelf {
        Bootshelf {
            dir: TempDir::new(tag),
        }
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        self.dir.dir()
    }

    /// `name` inside the working directory (not created).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path(name)
    }

    /// `bootshelf` with the working directory set and standard input empty, to finish
    /// and run yourself.
    pub fn command(&self) -> Command {
        let mut c = command();
        c.current_dir(self.dir()).stdin(Stdio::null());
        c
    }

    /// Run `bootshelf args` to completion in the working directory.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        finish(self.command(), args)
    }

    /// Run `bootshelf args`, which must succeed; returns its standard output.
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        self.run(args).assert_ok().stdout
    }

    /// Run `bootshelf args`, which must fail; returns its standard error.
    pub fn fails<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        self.run(args).assert_failed().stderr
    }
}

/// Run `bootshelf args` in `cwd` with a terminal (a pty of `cols` x 24) as its standard
/// input and standard error, as a user at a terminal runs it: progress bars are drawn.
/// Returns the run (its `stderr` empty) and everything written on the terminal.
pub fn on_terminal<S: AsRef<OsStr>>(cwd: &Path, args: &[S], cols: u16) -> (Run, String) {
    use std::io::Read;
    let size = nix::pty::Winsize {
        ws_row: 24,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).unwrap_or_else(|e| panic!("openpty: {e}"));
    let slave_err = pty
        .slave
        .try_clone()
        .unwrap_or_else(|e| panic!("duplicating the pty: {e}"));
    let mut cmd = command();
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::from(pty.slave))
        .stdout(Stdio::piped())
        .stderr(Stdio::from(slave_err));
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("running bootshelf: {e}"));
    // The parent's copies of the slave are gone with `cmd`: the master reads EOF (EIO)
    // once the child has exited.
    drop(cmd);
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(buf.get(..n).unwrap_or(&[]));
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for bootshelf: {e}"));
    let screen = reader.join().unwrap_or_default();
    (Run::of(args, out), screen)
}
