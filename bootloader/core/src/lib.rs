//! What both bootshelf loaders share, free of platform code (`no_std` + `alloc`, tested on
//! the host with plain `cargo test`):
//!
//! * [`keys`]: menu keys, and terminal escape sequences from a serial line decoded into them;
//! * [`line_edit`]: the menu's one-line argument editor (text and cursor);
//! * [`menu`]: the boot menu as a pure state machine, rendered as rows for a [`Console`];
//! * [`console`]: the traits each loader implements (text console, key input, clock);
//! * [`discovery`]: crates/shelf's discovery (partition table -> exFAT data partition ->
//!   index + scan -> entries, the same reading `bootshelf list` uses) through a read cache,
//!   and its menu view ([`DiscoveryMenu`], [`EntryMenu`]);
//! * [`window`]: the ISO window decision before chain-booting, and stale-window cleanup;
//! * [`flow`]: the loader flow written once over those, behind a [`flow::Platform`] each
//!   loader implements (disk, console, input, clock, chain-boot, leave, notes).
//!
//! A loader's flow ([`flow::run`]): [`window::clear_stale`], [`discovery::discover`], build
//! a [`menu::Menu`] from [`DiscoveryMenu::items`], [`menu::run`] it, then for the
//! chosen entry [`discovery::consume_boot_next`], [`window::open`] (on refusal
//! [`menu::Menu::ask_boot_without_window`]) and chain-boot; on failure clear the window,
//! [`menu::Menu::fail`] and run the menu again. See docs/menu.md.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod cache;
pub mod console;
pub mod discovery;
pub mod flow;
pub mod keys;
pub mod line_edit;
pub mod menu;
pub mod window;

/// Kernel options as an overlay of replaced sectors (crates/overlay), for the platforms.
pub use overlay;

pub use console::{Clock, Console, Input, Line, Painter, Screen, Style};
pub use discovery::{
    discover, BootEntry, DiscoverError, Discovery, DiscoveryMenu, EntryMenu, Firmware, Limits,
};
pub use flow::{Io, Note, Platform};
pub use keys::{Key, SerialDecoder};
pub use menu::{Action, Menu};
