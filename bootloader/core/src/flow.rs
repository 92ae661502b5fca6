//! The loader flow, written once for both loaders: clear an ISO window an earlier boot
//! left behind, discover the stick, show the menu, and boot what is chosen: consume a
//! one-shot boot-next, check the entry, open the ISO window (on a refusal ask whether to
//! boot without one), chain-boot, and when that fails clear the window, say why and go
//! back to the menu. What differs per firmware (the stick as a block device, the screen,
//! keys and clock, how an ISO is chain-booted, how the menu is left, where notes go) is a
//! [`Platform`]; the UEFI and BIOS `main.rs` implement it and call [`run`].

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use blockdev::{BlockDevice, BlockReader, ExtentReader};
use overlay::{BuildError, Built, KernelArgs, Limits as OverlayLimits, Overlay};

use crate::console::{Clock, Console, Input, Painter};
use crate::discovery::{
    consume_boot_next, discover, BootEntry, Discovery, DiscoveryMenu, Firmware, Limits, Machine,
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

    /// Whether the firmware enforces Secure Boot (UEFI's `SecureBoot` variable); `None`
    /// where there is no such thing (BIOS). The menu's title says it, and under it an ISO
    /// whose loader the index knows to be unsigned is dimmed ([`BootEntry::blocked`]).
    fn secure_boot(&self) -> Option<bool> {
        None
    }

    /// The screen, keys and clock for the menu.
    fn io(&mut self) -> &mut Io<Self::Console, Self::Input, Self::Clock>;

    /// Tell tests and benchmarks what happened (COM1; see [`Note`] for the texts).
    fn note(&mut self, note: &Note<'_>);

    /// Get ready to chain-boot `entry` before its window is written: whatever can fail
    /// without touching the stick fails here. `overlay`: the replaced sectors to serve
    /// instead of the ISO's (its kernel options, [`overlay::build`]); the platform keeps
    /// it in [`Platform::Prepared`] for [`Platform::chain_boot`].
    fn prepare_boot(
        &mut self,
        entry: &BootEntry,
        overlay: Option<Overlay>,
    ) -> Result<Self::Prepared, Self::BootError>;

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
    /// Kernel options were applied: the overlay changes `lines` kernel lines in `files`
    /// files and replaces `sectors` sectors.
    Options {
        /// Kernel lines changed.
        lines: usize,
        /// Files changed.
        files: usize,
        /// Files moved past the ISO's end.
        relocated: usize,
        /// Sectors replaced or added.
        sectors: usize,
    },
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
    /// The kernel arguments bootshelf adds to this boot (space-separated; the persistence
    /// argument), through the same overlay as the saved options.
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
            Note::Options {
                lines,
                files,
                relocated,
                sectors,
            } => write!(
                f,
                "bootshelf: kernel options on {lines} kernel lines in {files} files ({relocated} relocated, {sectors} sectors)"
            ),
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

    let machine = Machine {
        firmware: P::FIRMWARE,
        secure_boot: platform.secure_boot() == Some(true),
    };
    let title = match platform.secure_boot() {
        Some(true) => format!("{}  [Secure Boot on]", P::TITLE),
        Some(false) => format!("{}  [Secure Boot off]", P::TITLE),
        None => String::from(P::TITLE),
    };
    let io = platform.io();
    io.console.clear();
    let (cols, rows) = io.console.size();
    let mut menu = Menu::new(
        disc.items(machine),
        Menu::view_rows_for(rows),
        &disc.menu_config(&title),
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
            Action::Boot(index) => {
                boot_entry(platform, machine, &mut disc, index, true, Args::Saved)
            }
            Action::BootWithoutWindow(index) => {
                boot_entry(platform, machine, &mut disc, index, false, Args::Saved)
            }
            Action::BootWithoutOptions(index) => {
                boot_entry(platform, machine, &mut disc, index, true, Args::None)
            }
            Action::BootWithArgs(index) => {
                let typed = menu.typed_args().unwrap_or_default();
                boot_entry(
                    platform,
                    machine,
                    &mut disc,
                    index,
                    true,
                    Args::Typed(typed),
                )
            }
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
            Attempt::AskWithoutOptions { index, reason } => {
                menu.ask_boot_without_options(index, &reason);
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
    /// The entry's kernel options could not be applied: ask whether to boot it without.
    AskWithoutOptions {
        /// The entry chosen.
        index: usize,
        /// Why they could not be applied.
        reason: String,
    },
    /// The boot failed; show this and go back to the menu.
    Failed(String),
    /// The firmware came back after the user left the menu.
    Returned,
}

/// Which kernel arguments a boot gets.
enum Args {
    /// Those saved with `bootshelf options`.
    Saved,
    /// None (they could not be applied, and the user chose to boot without).
    None,
    /// Typed in the menu's editor (which started from the saved ones): appended instead
    /// of the saved ones, for this boot only; the saved removals still apply.
    Typed(String),
}

/// Consume a one-shot boot-next, build the overlay of its kernel arguments, open the
/// ISO window (when `with_window`) and chain-boot entry `index`; on failure the window
/// is cleared again.
fn boot_entry<P: Platform>(
    platform: &mut P,
    machine: Machine,
    disc: &mut Discovery,
    index: usize,
    with_window: bool,
    args: Args,
) -> Attempt<P::Exit> {
    if let Err(e) = consume_boot_next(platform.disk(), disc) {
        platform.note(&Note::BootNextKept(&e));
    }
    let Some(entry) = disc.entries.get(index) else {
        return Attempt::Failed(format!("no entry {index}"));
    };
    if let Some(why) = entry.blocked(machine) {
        return Attempt::Failed(format!("{}: {why}", entry.title));
    }
    let removed: &[String] = entry.options.as_ref().map_or(&[], |o| &o.remove);
    // What bootshelf itself adds (the persistence argument), unless the user chose to
    // boot without any arguments because they could not be applied.
    let extra = match args {
        Args::None => Vec::new(),
        _ => window::kernel_arguments(entry, with_window),
    };
    let mut args = match (&entry.options, args) {
        (Some(o), Args::Saved) => KernelArgs::from_saved(&o.append, &o.remove),
        (_, Args::Typed(typed)) => KernelArgs::from_saved(&typed, removed),
        _ => KernelArgs::new(),
    };
    if !extra.is_empty() {
        let joined = extra.join(" ");
        platform.note(&Note::KernelArguments(&joined));
        args.append(&joined);
    }
    let overlay = match options_overlay(platform.disk(), entry, &args, P::FIRMWARE) {
        Ok(Some(built)) => {
            platform.note(&Note::Options {
                lines: built.kernel_lines,
                files: built.files.len(),
                relocated: built.files.iter().filter(|f| f.relocated).count(),
                sectors: built.overlay.sector_count(),
            });
            Some(built.overlay)
        }
        Ok(None) => None,
        Err(e) => {
            return Attempt::AskWithoutOptions {
                index,
                reason: format!("{e}"),
            }
        }
    };
    let prepared = match platform.prepare_boot(entry, overlay) {
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

/// The overlay that gives every kernel line of `entry`'s ISO `args` (none when there
/// is nothing to do), as `firmware` boots it: under UEFI the El Torito EFI boot image's
/// own configuration too (BIOS never reads that image).
pub fn options_overlay<D: BlockDevice>(
    disk: &mut D,
    entry: &BootEntry,
    args: &KernelArgs,
    firmware: Firmware,
) -> Result<Option<Built>, BuildError> {
    if args.is_empty() {
        return Ok(None);
    }
    let iso = ExtentReader::new(BlockReader::new(disk), &entry.extents, entry.size)
        .map_err(BuildError::Io)?;
    let limits = OverlayLimits {
        efi_image: firmware == Firmware::Uefi,
        ..OverlayLimits::default()
    };
    overlay::build(iso, args, &limits).map(Some)
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
                Note::Options {
                    lines: 2,
                    files: 1,
                    relocated: 1,
                    sectors: 3,
                },
                "bootshelf: kernel options on 2 kernel lines in 1 files (1 relocated, 3 sectors)",
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
