//! The ISO window decision for the loaders: before chain-booting an entry, write the
//! window over its extent (and the writable persistence window over its persistence file,
//! docs/persistence.md), or say in words why not so the menu can offer to boot without
//! one (docs/window.md). At start, clear windows a previous boot left behind. Also the one
//! place that says which kernel arguments a boot needs ([`kernel_arguments`]).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use blockdev::{BlockDevice, IoError};
use ptable::LbaRange;

use crate::discovery::BootEntry;

/// Why an entry gets no ISO window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The ISO is stored in several pieces.
    Fragmented {
        /// Number of pieces.
        pieces: usize,
    },
    /// The stick refuses writes.
    WriteProtected,
    /// The partition table is not the one bootshelf wrote, or the ISO's extent cannot be
    /// expressed (misaligned, outside the data partition, beyond MBR limits).
    Table(ptable::Error),
    /// The ISO could not be read at all.
    Unreadable(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Fragmented { pieces } => write!(
                f,
                "no ISO window: the ISO is stored in {pieces} pieces (bootshelf sync --defragment fixes that)"
            ),
            Refusal::WriteProtected => f.write_str("no ISO window: the stick is write-protected"),
            Refusal::Table(e) => write!(f, "no ISO window: {e}"),
            Refusal::Unreadable(e) => write!(f, "no ISO window: {e}"),
        }
    }
}

/// Decide without writing: whether `entry` can have a window at all.
pub fn check(entry: &BootEntry) -> Result<(), Refusal> {
    if let Some(p) = &entry.problem {
        return Err(Refusal::Unreadable(p.clone()));
    }
    if !entry.is_contiguous() {
        let pieces = ptable::window_range(&entry.extents, 512)
            .err()
            .and_then(|e| match e {
                ptable::Error::NotContiguous { extents } => Some(extents),
                _ => None,
            })
            .unwrap_or(entry.extents.len());
        return Err(Refusal::Fragmented { pieces });
    }
    Ok(())
}

/// The windows opened for a boot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    /// The ISO window.
    pub iso: LbaRange,
    /// The persistence window, when the entry has a persistence file and it got one.
    pub persistence: Option<LbaRange>,
    /// Why the entry's persistence file got no window (the ISO boots without it).
    pub persistence_refused: Option<String>,
}

/// Write the window for `entry` on the whole-stick device `dev` (just before
/// chain-booting it), with its persistence window when it has a persistence file. A
/// persistence file that cannot have a window does not stop the boot: the ISO window is
/// written alone and [`Opened::persistence_refused`] says why.
pub fn open<D: BlockDevice>(dev: &mut D, entry: &BootEntry) -> Result<Opened, Refusal> {
    check(entry)?;
    let pers = entry.persistence.as_ref().map(|p| p.extents.as_slice());
    let (windows, persistence_refused) = match ptable::set_windows(dev, &entry.extents, pers) {
        Ok(w) => (w, None),
        Err(e @ (ptable::Error::Persistence(_) | ptable::Error::PersistenceOverlapsIso { .. })) => {
            let w = ptable::set_windows(dev, &entry.extents, None).map_err(refusal)?;
            (w, Some(format!("{e}")))
        }
        Err(e) => return Err(refusal(e)),
    };
    // Some firmware reports success for writes the device refused (SeaBIOS on a
    // write-protected USB disk, seen under QEMU: docs/window-linux.md): read it back.
    match ptable::read_layout(dev) {
        Ok((_, layout))
            if layout.window == Some(windows.iso) && layout.persistence == windows.persistence =>
        {
            Ok(Opened {
                iso: windows.iso,
                persistence: windows.persistence,
                persistence_refused,
            })
        }
        _ => Err(Refusal::WriteProtected),
    }
}

/// The kernel arguments bootshelf itself adds to a boot of `entry` (`with_window`: the
/// windows will be opened): the family's persistence argument when the entry has a
/// persistence file. The one place the loaders ask; the flow appends them to the kernel
/// options the overlay writes into the ISO's kernel lines. Decided before the windows are
/// written (the overlay is built first); should the persistence window then be refused,
/// the live system finds no partition with that label and boots without persistence
/// (live-boot and casper do; dracut waits for the overlay device, docs/persistence.md).
pub fn kernel_arguments(entry: &BootEntry, with_window: bool) -> Vec<&'static str> {
    let mut args = Vec::new();
    if let (Some(p), true) = (&entry.persistence, with_window) {
        args.push(p.family.kernel_argument());
    }
    args
}

/// Clear a window left by an earlier boot (call when the loader starts). `Ok(None)` when
/// there was none.
pub fn clear_stale<D: BlockDevice>(dev: &mut D) -> Result<Option<LbaRange>, Refusal> {
    ptable::clear_window(dev).map_err(refusal)
}

fn refusal(e: ptable::Error) -> Refusal {
    match e {
        ptable::Error::Io {
            error: IoError::WriteProtected,
            ..
        } => Refusal::WriteProtected,
        ptable::Error::NotContiguous { extents } => Refusal::Fragmented { pieces: extents },
        other => Refusal::Table(other),
    }
}

/// The message for a chain-loaded image that returned, with its status code.
pub fn image_returned(status: u64) -> String {
    format!("the loaded image returned (status {status:#x})")
}
