//! The loader flow, written once for both loaders: clear an ISO window an earlier boot
//! left behind, discover the stick, show the menu, and boot what is chosen: consume a
//! one-shot boot-next, check the entry, open the ISO window (on a refusal ask whether to
//! boot without one), chain-boot, and when that fails clear the window, say why and go
//! back to the menu. What differs per firmware (the stick as a block device, the screen,
//! keys and clock, how an ISO is chain-booted, how the menu is left, where notes go) is a
//! [`Platform`]; the UEFI and BIOS `main.rs` implement it and call [`run`].

use alloc::format;
use alloc::string::String;
use core::fmt;

use blockdev::BlockDevice;

use crate::console::{Clock, Console, Input, Painter};
use crate::discovery::{
    consume_boot_next, discover, BootEntry, Discovery, DiscoveryMenu, Firmware, Limits,
};
use crate::menu::{self, Action, Menu};
use crate::window;

/// The screen, keys and clock the menu runs on, kept together by a [`Platform`].
pub struct Io<C, I, T> {
    /// The text screen.
    pub console: C,
    /// Keys (keyboard and serial).
    pub input: I,
    /// Milliseconds, for the countdown.
    pub clock: T,
}

/// What a loader provides to [`run`]: firmware glue only, no decisions.
pub trait Platform {
    /// The firmware the loader runs on (decides which El Torito entries boot).
    const FIRMWARE: Firmware;
    /// The menu's title bar.
    const TITLE: &'static str;

    /// The whole stick.
    type Disk: BlockDevice;
    /// The menu's screen.
    type Console: Console;
    /// The menu's keys.
    type Input: Input;
    /// The menu's clock.
    type Clock: Clock;
    /// What [`Platform::prepare_boot`] makes of an entry before its window is opened
    /// (BIOS: the boot image to emulate; UEFI: nothing).
    type Prepared;
    /// Why preparing or chain-booting an entry failed.
    type BootError: fmt::Display;
    /// What [`run`] returns with: how the loader ends (UEFI: the status for the firmware;
    /// BIOS: never, it halts or boots).
    type Exit;

    /// The stick, for discovery, boot-next and the ISO window.
    fn disk(&mut self) -> &mut Self::Disk;

    /// The screen, keys and clock for the menu.
    fn io(&mut self) -> &mut Io<Self::Console, Self::Input, Self::Clock>;

    /// Tell tests and benchmarks what happened (COM1; see [`Note`] for the texts).
    fn note(&mut self, note: &Note<'_>);

    /// Get ready to chain-boot `entry` before its window is written: whatever can fail
    /// without touching the stick fails here.
    fn prepare_boot(&mut self, entry: &BootEntry) -> Result<Self::Prepared, Self::BootError>;

    /// Chain-boot `entry` (its window, if any, is open). Returns `Ok` only when the loader
    /// is done for good; `Err` when the ISO did not boot or its loader came back, with
    /// the firmware state restored so the menu can run again.
    fn chain_boot(
        &mut self,
        entry: &BootEntry,
        prepared: Self::Prepared,
    ) -> Result<Self::Exit, Self::BootError>;

    /// The user left the menu (the screen is already cleared): hand back to the firmware.
    /// `None` when the firmware came back (BIOS INT 18h may return): the menu shows again.
    fn leave(&mut self) -> Option<Self::Exit>;

    /// The stick cannot be read at all: show `message` and end the loader.
    fn fatal(&mut self, message: fmt::Arguments<'_>) -> Self::Exit;
}

/// A note for tests and benchmarks. Its text ([`fmt::Display`]) is what they look for on
/// the serial port; a platform may frame it (line breaks, escape sequences) or append to
/// it (UEFI adds timings), but writes it unchanged.
#[derive(Clone, Copy)]
pub enum Note<'a> {
    /// A window left by an earlier boot could not be cleared.
    OldWindowKept(&'a dyn fmt::Display),
    /// Discovery finished with this many entries.
    Discovered {
        /// Entries found.
        entries: usize,
    },
    /// The menu is on the screen for the first time.
    MenuDrawn,
    /// The one-shot boot-next could not be cleared before booting.
    BootNextKept(&'a dyn fmt::Display),
    /// The entry with this title is about to be chain-booted.
    Booting {
        /// The entry's menu title.
        title: &'a str,
    },
    /// The window opened for an entry that did not boot could not be cleared.
    WindowKept(&'a dyn fmt::Display),
    /// The entry's persistence file is exposed at these LBAs.
    PersistenceWindow {
        /// First LBA.
        first: u64,
        /// Last LBA.
        last: u64,
    },
    /// The entry's persistence file got no window; the ISO boots without it.
    PersistenceRefused(&'a dyn fmt::Display),
    /// The kernel arguments this boot needs from bootshelf (space-separated).
    KernelArguments(&'a str),
    /// Booting failed; the menu shows this message.
    BootFailed {
        /// What the menu shows.
        message: &'a str,
    },
}

impl fmt::Display for Note<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::OldWindowKept(e) => {
                write!(f, "bootshelf: could not clear an old ISO window: {e}")
            }
            Note::Discovered { entries } => write!(f, "bootshelf: discovered {entries} entries"),
            Note::MenuDrawn => f.write_str("bootshelf: menu drawn"),
            Note::BootNextKept(e) => {
                write!(f, "bootshelf: could not clear the one-shot default: {e}")
            }
            Note::Booting { title } => write!(f, "bootshelf: booting {title}"),
            Note::WindowKept(e) => write!(f, "bootshelf: could not clear the ISO window: {e}"),
            Note::PersistenceWindow { first, last } => {
                write!(f, "bootshelf: persistence window at LBAs {first}..={last}")
            }
            Note::PersistenceRefused(e) => write!(f, "bootshelf: {e}; booting without it"),
            Note::KernelArguments(a) => write!(f, "bootshelf: kernel arguments: {a}"),
            Note::BootFailed { message } => write!(f, "bootshelf: boot failed: {message}"),
        }
    }
}

/// Run the loader on `platform`: clear a stale window, discover, then menu and boot
/// attempts until an entry boots or the user leaves. Returns what the platform ends with.
pub fn run<P: Platform>(platform: &mut P) -> P::Exit {
    // A window left by an earlier boot goes first, so the firmware and the next OS see
    // the stick as installed.
    if let Err(e) = window::clear_stale(platform.disk()) {
        platform.note(&Note::OldWindowKept(&e));
    }
    let mut disc = match discover(platform.disk(), &Limits::default()) {
        Ok(d) => d,
        Err(e) => return platform.fatal(format_args!("cannot read the stick: {e}")),
    };
    platform.note(&Note::Discovered {
        entries: disc.entries.len(),
    });

    let io = platform.io();
    io.console.clear();
    let (cols, rows) = io.console.size();
    let mut menu = Menu::new(
        disc.items(P::FIRMWARE),
        Menu::view_rows_for(rows),
        &disc.menu_config(P::TITLE),
    );
    if let Some(note) = disc.notes.first() {
        menu.fail(note);
    }
    let mut painter = Painter::new();
    painter.paint(&mut io.console, &menu.render(cols, rows));
    platform.note(&Note::MenuDrawn);

    loop {
        let io = platform.io();
        let action = menu::run(
            &mut menu,
            &mut io.console,
            &mut io.input,
            &mut io.clock,
            &mut painter,
        );
        let attempt = match action {
            Action::Boot(index) => boot_entry(platform, &mut disc, index, true),
            Action::BootWithoutWindow(index) => boot_entry(platform, &mut disc, index, false),
            Action::Exit => {
                io.console.clear();
                match platform.leave() {
                    Some(exit) => return exit,
                    None => Attempt::Returned,
                }
            }
            Action::Idle | Action::Redraw => continue,
        };
        match attempt {
            Attempt::Booted(exit) => return exit,
            Attempt::AskWithoutWindow { index, reason } => {
                menu.ask_boot_without_window(index, &reason);
            }
            Attempt::Failed(message) => {
                platform.note(&Note::BootFailed { message: &message });
                menu.fail(&message);
            }
            Attempt::Returned => {}
        }
        // Something else drew on the screen: draw the whole menu again.
        let io = platform.io();
        io.console.clear();
        painter.invalidate();
        painter.paint(&mut io.console, &menu.render(cols, rows));
    }
}

/// How leaving the menu for an entry or for the firmware ended.
enum Attempt<E> {
    /// The entry booted: the loader is done.
    Booted(E),
    /// The ISO window could not be written: ask whether to boot entry `index` without it.
    AskWithoutWindow {
        /// The entry chosen.
        index: usize,
        /// Why it gets no window.
        reason: String,
    },
    /// The boot failed; show this and go back to the menu.
    Failed(String),
    /// The firmware came back after the user left the menu.
    Returned,
}

/// Consume a one-shot boot-next, open the ISO window (when `with_window`) and chain-boot
/// entry `index`; on failure the window is cleared again.
fn boot_entry<P: Platform>(
    platform: &mut P,
    disc: &mut Discovery,
    index: usize,
    with_window: bool,
) -> Attempt<P::Exit> {
    if let Err(e) = consume_boot_next(platform.disk(), disc) {
        platform.note(&Note::BootNextKept(&e));
    }
    let Some(entry) = disc.entries.get(index) else {
        return Attempt::Failed(format!("no entry {index}"));
    };
    if let Some(why) = entry.blocked(P::FIRMWARE) {
        return Attempt::Failed(format!("{}: {why}", entry.title));
    }
    let prepared = match platform.prepare_boot(entry) {
        Ok(p) => p,
        Err(e) => return Attempt::Failed(format!("{}: {e}", entry.title)),
    };
    let mut opened = None;
    if with_window {
        match window::open(platform.disk(), entry) {
            Ok(o) => opened = Some(o),
            Err(refusal) => {
                return Attempt::AskWithoutWindow {
                    index,
                    reason: format!("{refusal}"),
                }
            }
        }
    }
    if let Some(o) = &opened {
        if let Some(p) = o.persistence {
            platform.note(&Note::PersistenceWindow {
                first: p.first(),
                last: p.last(),
            });
        }
        if let Some(why) = &o.persistence_refused {
            platform.note(&Note::PersistenceRefused(why));
        }
    }
    // The arguments go to the ISO's kernel lines through the boot-configuration overlay
    // once it exists; until then they are only announced.
    let args = window::kernel_arguments(entry, opened.as_ref()).join(" ");
    if !args.is_empty() {
        platform.note(&Note::KernelArguments(&args));
    }
    platform.note(&Note::Booting {
        title: &entry.title,
    });
    let message = match platform.chain_boot(entry, prepared) {
        Ok(exit) => return Attempt::Booted(exit),
        Err(e) => format!("{}: {e}", entry.title),
    };
    // The entry did not boot: the window must not stay behind.
    if with_window {
        if let Err(e) = window::clear_stale(platform.disk()) {
            platform.note(&Note::WindowKept(&e));
        }
    }
    Attempt::Failed(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// The end-to-end tests read these texts from COM1: they must not change.
    #[test]
    fn note_texts() {
        let e = "E";
        let texts = [
            (
                Note::OldWindowKept(&e),
                "bootshelf: could not clear an old ISO window: E",
            ),
            (
                Note::Discovered { entries: 3 },
                "bootshelf: discovered 3 entries",
            ),
            (Note::MenuDrawn, "bootshelf: menu drawn"),
            (
                Note::BootNextKept(&e),
                "bootshelf: could not clear the one-shot default: E",
            ),
            (
                Note::Booting { title: "Debian" },
                "bootshelf: booting Debian",
            ),
            (
                Note::WindowKept(&e),
                "bootshelf: could not clear the ISO window: E",
            ),
            (
                Note::BootFailed { message: "x: y" },
                "bootshelf: boot failed: x: y",
            ),
            (
                Note::PersistenceWindow { first: 8, last: 9 },
                "bootshelf: persistence window at LBAs 8..=9",
            ),
            (
                Note::PersistenceRefused(&e),
                "bootshelf: E; booting without it",
            ),
            (
                Note::KernelArguments("persistence"),
                "bootshelf: kernel arguments: persistence",
            ),
        ];
        for (note, text) in texts {
            assert_eq!(note.to_string(), text);
        }
    }
}
