//! The one reading of a bootshelf stick, shared unchanged by the CLI (`crates/stick`) and
//! both loaders (through `bootloader/core`); `no_std` + `alloc`, tested on the host:
//!
//! * [`open`]: the whole disk -> bootshelf's partition layout -> the exFAT data volume;
//! * [`store`]: the two index slots, read and selected through `bootshelf_index::select`,
//!   the next generation written into the slot the selection names, boot-next consumed;
//! * [`scan`]: the one ISO scan policy (one [`Limits`], one set of skip rules, one order),
//!   also used to find the leftovers of interrupted `add` and `sync --defragment` runs;
//! * [`catalog`]: the one conversion from an ISO's El Torito catalog to index entries;
//! * [`discovery`]: index + scan -> the entries, in the order the menu shows them.
//! * [`names`]: the one rule that turns a name a user typed into one ISO.
//!
//! What `bootshelf list` prints and what the loaders' menus draw both come from
//! [`discovery`], so they cannot disagree.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod catalog;
pub mod discovery;
pub mod names;
pub mod open;
pub mod scan;
pub mod store;

pub use catalog::{efi_arches_of, efi_signed_of, read_iso, Broken, IsoError, IsoFacts};
pub use discovery::{
    consume_boot_next, discover, discover_volume, human_size, Contents, DiscoverError, Discovery,
    Entry, Firmware, Machine, Source, NOT_SIGNED_MESSAGE, NOT_TRUSTED_MESSAGE,
};
pub use scan::Limits;
pub use store::IndexStore;

/// What the unit tests share.
#[cfg(test)]
mod test_support {
    use blockdev::MemDevice;
    use exfat::Volume;

    /// A freshly formatted exFAT volume of `sectors` 512-byte sectors, in memory.
    pub fn volume(sectors: u64) -> Volume<MemDevice> {
        let mut dev = MemDevice::new(512, sectors);
        let opts = exfat::FormatOptions {
            label: "T",
            cluster_size: None,
            volume_serial: 1,
        };
        exfat::format(&mut dev, 0, sectors, &opts).unwrap();
        Volume::open(dev, 0, sectors).unwrap()
    }
}
