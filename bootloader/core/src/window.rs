//! The ISO window decision for the loaders: before chain-booting an entry, write the
//! window over its extent, or say in words why not so the menu can offer to boot without
//! one (docs/window.md). At start, clear a window a previous boot left behind.

use alloc::format;
use alloc::string::String;
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

/// Write the window for `entry` on the whole-stick device `dev` (just before
/// chain-booting it).
pub fn open<D: BlockDevice>(dev: &mut D, entry: &BootEntry) -> Result<LbaRange, Refusal> {
    check(entry)?;
    let range = ptable::set_window(dev, &entry.extents).map_err(refusal)?;
    // Some firmware reports success for writes the device refused (SeaBIOS on a
    // write-protected USB disk, seen under QEMU: docs/window-linux.md): read it back.
    match ptable::read_layout(dev) {
        Ok((_, layout)) if layout.window == Some(range) => Ok(range),
        _ => Err(Refusal::WriteProtected),
    }
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
