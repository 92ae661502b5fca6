//! Kernel arguments for a chain-booted ISO without initrd hooks and without writing the
//! ISO: the loader builds, before chain-booting, a table of replaced sectors
//! ([`Overlay`]) in which the ISO's own boot configuration has the user's arguments on
//! every kernel line; the UEFI virtual CD and the BIOS INT 13h emulation serve those
//! sectors instead of the ISO's. `no_std` + `alloc`, shared by both loaders.
//!
//! * [`args`]: [`KernelArgs`], what to append and remove, and the one argument edit;
//! * [`rewrite`]: the GRUB, isolinux/syslinux and systemd-boot rewriters (pure);
//! * [`sectors`]: the [`Overlay`] table and [`OverlayReader`], the ISO as served;
//! * [`iso`]: [`build`], from an ISO and arguments to an overlay (file placement and
//!   directory record patching);
//! * [`efi`]: the El Torito EFI boot image's own configuration (its FAT's files served
//!   rewritten in their clusters), under UEFI; feature `efi-image` (default; the BIOS
//!   loader, which never serves that image, builds without it).
//!
//! ```no_run
//! # fn demo(iso: &[u8]) -> Result<(), overlay::BuildError> {
//! let mut args = overlay::KernelArgs::new();
//! args.append("nomodeset console=ttyS0").remove("quiet");
//! let built = overlay::build(iso, &args, &overlay::Limits::default())?;
//! println!("{} kernel lines, {} sectors", built.kernel_lines, built.overlay.sector_count());
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod args;
#[cfg(feature = "efi-image")]
pub mod efi;
pub mod iso;
pub mod rewrite;
pub mod sectors;

pub use args::KernelArgs;
pub use iso::{build, BuildError, Built, ChangedFile, Limits};
pub use rewrite::{rewrite, Rewrite, Syntax};
pub use sectors::{Overlay, OverlayReader, Run, SECTOR};
