//! `bootshelf boot-next TARGET NAME`: boot NAME once at the next boot (the loader clears
//! the setting before booting it); `--clear` cancels it. The same command sets the menu's
//! lasting choices: `--default` makes NAME the entry selected at every boot, `--timeout`
//! the seconds before it boots (`never`: wait for a key).

use crate::exit::Outcome;
use anyhow::{bail, Context};
use std::path::PathBuf;
use stick::index_io::{
    clear_boot_next, open_volume, set_boot_next, set_menu, IndexStore, MenuChange,
};

/// Arguments of `bootshelf boot-next`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The stick: an image file or a block device.
    pub target: PathBuf,
    /// The ISO: path on the stick, file name or menu title.
    pub name: Option<String>,
    /// Cancel a pending boot-next.
    #[arg(long, conflicts_with = "name")]
    pub clear: bool,
    /// Make NAME the lasting default (selected at every boot) instead of booting it once;
    /// without NAME, go back to the first entry.
    #[arg(long = "default")]
    pub make_default: bool,
    /// Menu timeout in seconds before the default boots, or `never`.
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<stick::index_io::Timeout>,
}

fn parse_timeout(s: &str) -> Result<stick::index_io::Timeout, String> {
    use stick::index_io::Timeout;
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

/// Run the command.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let mut stick = stick::Stick::open(&args.target, true)
        .with_context(|| format!("opening {}", args.target.display()))?;
    let mut vol = open_volume(&mut stick)?;
    let mut store = IndexStore::load(&mut vol)?;
    if args.make_default || args.timeout.is_some() {
        if args.clear {
            bail!("--clear cancels a boot-next; it does not go with --default or --timeout");
        }
        let change = MenuChange {
            default: args.make_default.then(|| args.name.clone()),
            timeout: args.timeout,
        };
        let s = set_menu(&mut vol, &mut store, &change)?;
        println!(
            "menu default: {}, timeout: {}",
            s.default.as_deref().unwrap_or("the first entry"),
            match s.timeout {
                stick::index_io::Timeout::Never => "never (waits for a key)".to_string(),
                stick::index_io::Timeout::Seconds(n) => format!("{n} s"),
            }
        );
        return Ok(Outcome::Success);
    }
    match (&args.name, args.clear) {
        (_, true) => match clear_boot_next(&mut vol, &mut store)? {
            Some(p) => println!("cleared boot-next (was {p})"),
            None => println!("no boot-next was set"),
        },
        (Some(name), false) => {
            let p = set_boot_next(&mut vol, &mut store, name)?;
            println!("the next boot starts {p} once");
        }
        (None, false) => bail!("give an ISO name, --clear, --default or --timeout"),
    }
    Ok(Outcome::Success)
}
