//! `bootshelf config TARGET [--default NAME|--no-default] [--timeout N|never] [--json]`:
//! show or change the menu's lasting settings (the entry selected at every boot and the
//! seconds before it boots). Without options it shows them.

use crate::exit::Outcome;
use serde::Serialize;
use std::path::PathBuf;
use stick::index_io::{open_volume, set_menu, IndexStore, MenuChange, Timeout};

/// Arguments of `bootshelf config`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// Select NAME at every boot (a path, file name, title, or a unique part of a title).
    #[arg(long, value_name = "NAME")]
    pub default: Option<String>,
    /// Select the first entry at every boot (forget --default).
    #[arg(long, conflicts_with = "default")]
    pub no_default: bool,
    /// Seconds before the selected entry boots, or `never` (wait for a key).
    #[arg(long, value_name = "N|never", value_parser = parse_timeout)]
    pub timeout: Option<Timeout>,
    /// Print the settings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parse `--timeout`: seconds (0-65534) or `never`.
pub fn parse_timeout(s: &str) -> Result<Timeout, String> {
    if s.eq_ignore_ascii_case("never") {
        return Ok(Timeout::Never);
    }
    match s.parse::<u16>() {
        Ok(n) if n < u16::MAX => Ok(Timeout::Seconds(n)),
        _ => Err(format!(
            "{s:?} is not a number of seconds (0-65534) or `never`"
        )),
    }
}

/// `--json` output: the settings in force after the command.
#[derive(Serialize)]
struct JsonConfig {
    /// Path of the default entry; null: the first entry.
    default: Option<String>,
    /// Seconds before the selected entry boots; null: waits for a key.
    timeout_secs: Option<u16>,
    /// Path of a pending one-shot boot-next, else null.
    boot_next: Option<String>,
    /// Whether this run changed the settings.
    changed: bool,
}

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let change = MenuChange {
        default: match (&args.default, args.no_default) {
            (Some(name), _) => Some(Some(name.clone())),
            (None, true) => Some(None),
            (None, false) => None,
        },
        timeout: args.timeout,
    };
    let changing = change.default.is_some() || change.timeout.is_some();
    let mut stick = super::open_stick(&args.target, changing)?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    let settings = if changing {
        set_menu(&mut vol, &mut store, &change)?
    } else {
        store.index().settings
    };
    let timeout_secs = match settings.timeout {
        Timeout::Never => None,
        Timeout::Seconds(n) => Some(n),
    };
    if args.json {
        crate::out::json(&JsonConfig {
            default: settings.default,
            timeout_secs,
            boot_next: settings.boot_next,
            changed: changing,
        })?;
        return Ok(Outcome::Success);
    }
    println!(
        "default: {}",
        settings.default.as_deref().unwrap_or("the first entry")
    );
    println!(
        "timeout: {}",
        match timeout_secs {
            None => "never (waits for a key)".to_string(),
            Some(n) => format!("{n} s"),
        }
    );
    if let Some(p) = &settings.boot_next {
        println!("boot-next: {p} (once, at the next boot)");
    }
    Ok(Outcome::Success)
}
