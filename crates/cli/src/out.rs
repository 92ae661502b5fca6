//! How `bootshelf` writes, decided once for every command (docs/cli.md):
//!
//! * the level set by the global `-q`/`-v`: [`quiet`] hides progress bars and narration
//!   ([`note!`]: what is being done, as `demo` tells it); never a command's result lines
//!   (what was added, removed, found: scripts read them), data asked for, warnings or
//!   errors. [`verbose`] adds developer detail (timings, the loaders' timing notes in
//!   `boot-test --headless`);
//! * colour only on a terminal and never when `NO_COLOR` is set (no-color.org): the
//!   `error:` and `warning:` words on stderr;
//! * `--json`: one pretty-printed JSON document on stdout ([`json`]), and nothing else on
//!   stdout.

use serde::Serialize;
use std::io::IsTerminal;
use std::sync::OnceLock;

/// How much `bootshelf` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `-q`: errors, warnings and the data asked for.
    Quiet,
    /// The default: also progress and what was done.
    Normal,
    /// `-v`: also developer detail (timings).
    Verbose,
}

static LEVEL: OnceLock<Level> = OnceLock::new();

/// Set the level once, from the command line (later calls change nothing).
pub fn set_level(level: Level) {
    let _ = LEVEL.set(level);
}

/// The level in force.
pub fn level() -> Level {
    LEVEL.get().copied().unwrap_or(Level::Normal)
}

/// `-q` was given.
pub fn quiet() -> bool {
    level() == Level::Quiet
}

/// `-v` was given.
pub fn verbose() -> bool {
    level() == Level::Verbose
}

/// Whether colour may be written to stderr: it is a terminal and `NO_COLOR` is unset or
/// empty.
pub fn color_on_stderr() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// `word` in bold `sgr` colour when colour is allowed.
fn tag(word: &str, sgr: &str) -> String {
    if color_on_stderr() {
        format!("\x1b[1;{sgr}m{word}\x1b[0m")
    } else {
        word.to_string()
    }
}

/// `bootshelf: error: MESSAGE` on stderr.
pub fn error(message: &str) {
    eprintln!("bootshelf: {}: {message}", tag("error", "31"));
}

/// `bootshelf: warning: MESSAGE` on stderr (shown even with `-q`).
pub fn warn(message: &str) {
    eprintln!("bootshelf: {}: {message}", tag("warning", "33"));
}

/// Print `value` as the command's one JSON document on stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `eprintln!` narration (what is being done); hidden by `-q`.
macro_rules! note {
    ($($arg:tt)*) => {
        if !$crate::out::quiet() {
            eprintln!($($arg)*);
        }
    };
}
pub(crate) use note;
