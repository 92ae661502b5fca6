//! Discovery as the loaders use it: crates/shelf's discovery (the one reading of a stick,
//! shared with `bootshelf list`) read through a [`ReadCache`], and the menu's view of it
//! ([`DiscoveryMenu`], [`EntryMenu`]: the menu types live in this crate, so the view is
//! added here as extension traits; bring them into scope to call `disc.items(machine)`,
//! `disc.menu_config(title)` and `entry.item(machine)`; a bare [`Firmware`] is a machine
//! with Secure Boot off).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use blockdev::BlockDevice;
use bootshelf_index::{BootEntry as CatalogEntry, Timeout};

use crate::cache::ReadCache;
use crate::menu;

pub use shelf::discovery::{
    consume_boot_next, human_size, DiscoverError, Discovery, Entry as BootEntry, Firmware, Machine,
    Source, NOT_SIGNED_MESSAGE, NOT_TRUSTED_MESSAGE,
};
pub use shelf::Limits;

/// Discover every ISO on the stick `dev` (the whole disk) with [`shelf::discover`]. Reads
/// go through a [`ReadCache`]: folder scans read one sector at a time, which costs a
/// firmware call each.
pub fn discover<D: BlockDevice>(dev: &mut D, limits: &Limits) -> Result<Discovery, DiscoverError> {
    shelf::discover(&mut ReadCache::new(dev), limits)
}

/// Label and El Torito entries of an ISO ([`shelf::read_iso`], the conversion discovery
/// uses for ISOs the index lacks).
pub fn parse_iso<R: blockdev::ReadAt>(r: R) -> Result<(String, Vec<CatalogEntry>), iso9660::Error> {
    shelf::read_iso(r)
        .map(|facts| (facts.label, facts.boot))
        .map_err(shelf::IsoError::into_inner)
}

/// The menu's view of one discovered ISO.
pub trait EntryMenu {
    /// The menu entry on `machine`: title; size, label, modes and state as detail;
    /// blocked (dimmed, with the reason) when it cannot boot there ([`BootEntry::blocked`]).
    fn item(&self, machine: impl Into<Machine>) -> menu::Item;
}

impl EntryMenu for BootEntry {
    fn item(&self, machine: impl Into<Machine>) -> menu::Item {
        let modes = match (self.uefi(), self.bios()) {
            (true, true) => "UEFI+BIOS",
            (true, false) => "UEFI",
            (false, true) => "BIOS",
            (false, false) => "not bootable",
        };
        let mut detail = format!("{}  {}", human_size(self.size), modes);
        if !self.label.is_empty() && self.label != self.title {
            detail = format!("{}  {}", self.label, detail);
        }
        if self.persistence.is_some() {
            detail.push_str("  +persistence");
        }
        if self.changed {
            detail.push_str("  (changed since indexed)");
        } else if self.source == Source::Scanned {
            detail.push_str("  (not indexed)");
        }
        menu::Item {
            title: self.title.clone(),
            detail,
            blocked: self.blocked(machine),
            args: self
                .options
                .as_ref()
                .map(|o| o.append.clone())
                .unwrap_or_default(),
        }
    }
}

/// The menu's view of a whole discovery.
pub trait DiscoveryMenu {
    /// The menu configuration the index's settings give.
    fn menu_config(&self, title: &str) -> menu::Config;
    /// The menu entries on `machine`, in discovery's order.
    fn items(&self, machine: impl Into<Machine>) -> Vec<menu::Item>;
}

impl DiscoveryMenu for Discovery {
    fn menu_config(&self, title: &str) -> menu::Config {
        menu::Config {
            timeout_secs: match self.index().settings.timeout {
                Timeout::Never => None,
                Timeout::Seconds(s) => Some(u32::from(s)),
            },
            preselect: self.preselect,
            boot_next: self.boot_next,
            title: String::from(title),
        }
    }

    fn items(&self, machine: impl Into<Machine>) -> Vec<menu::Item> {
        let machine = machine.into();
        self.entries.iter().map(|e| e.item(machine)).collect()
    }
}
