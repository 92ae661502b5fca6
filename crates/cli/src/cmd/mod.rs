//! One module per subcommand; each has an `Args` (clap) and a `run`.

pub mod add;
pub mod boot_next;
pub mod boot_test;
pub mod check;
pub mod completions;
pub mod config;
pub mod demo;
pub mod devices;
pub mod inspect;
pub mod install;
pub mod list;
pub mod man;
pub mod options;
pub mod persistence;
pub mod remove;
pub mod rename;
pub mod secure_boot;
pub mod sync;
pub mod update;

use std::path::Path;

/// Open the stick at `path` (`writable`: for a command that changes it). The error names
/// the path once: stick's errors already say which file they are about.
pub fn open_stick(path: &Path, writable: bool) -> anyhow::Result<stick::Stick> {
    named_once(path, stick::Stick::open(path, writable))
}

/// [`open_stick`] for `check` and `update`: also a stick whose partition table `update`
/// repairs (`stick::Stick::open_for_repair`; every other command refuses it).
pub fn open_stick_for_repair(path: &Path, writable: bool) -> anyhow::Result<stick::Stick> {
    named_once(path, stick::Stick::open_for_repair(path, writable))
}

/// An opening error naming `path` once.
fn named_once(path: &Path, opened: stick::Result<stick::Stick>) -> anyhow::Result<stick::Stick> {
    opened.map_err(|e| {
        let message = e.to_string();
        let shown = path.display().to_string();
        if message.contains(&shown) {
            anyhow::Error::new(e)
        } else {
            anyhow::Error::new(e).context(format!("opening {shown}"))
        }
    })
}
