//! The index store: both slot files read from the data volume, the current index chosen
//! by `bootshelf_index::select` (never by a rule of our own), and every change written as
//! the next generation into the slot the [`Selection`] names (docs/index-format.md). The
//! loaders use it to consume a boot-next; the CLI for every change it makes.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use blockdev::BlockDevice;
use bootshelf_index::{encode, select, EncodeError, Index, Selection, Slot, SlotError, SLOT_DIR};
use exfat::{DirEntry, Volume};

use crate::scan::Limits;

/// Why a slot file was not read (it then counts as missing for the selection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// A folder has the slot's name.
    Folder,
    /// The file is larger than an index may be.
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit ([`Limits::max_index_bytes`]).
        max: u64,
    },
    /// The file system failed listing the index folder or reading the file.
    Fs(exfat::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Folder => f.write_str("is a folder"),
            ReadError::TooLarge { size, max } => {
                write!(f, "{size} bytes, more than the {max} an index may have")
            }
            ReadError::Fs(e) => write!(f, "{e}"),
        }
    }
}

/// Why [`IndexStore::load`] (reading for a change) refused: it does not work from a guess,
/// nor start a change it cannot finish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The file system failed reading a slot or the index folder.
    Fs {
        /// The slot file (or the index folder) being read.
        path: &'static str,
        /// What failed.
        source: exfat::Error,
    },
    /// A slot's name is taken by something that is not an index file (a folder, a file
    /// too large to be one): the change's new generation could not be written there.
    SlotBlocked {
        /// The slot file's path.
        path: &'static str,
        /// What is there.
        why: ReadError,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Fs { path, source } => write!(f, "reading {path}: {source}"),
            LoadError::SlotBlocked { path, why } => write!(
                f,
                "{path} {why}: bootshelf keeps its index in that file; move it away (rename \
                 or delete it) and run the command again"
            ),
        }
    }
}

impl core::error::Error for LoadError {}

/// Why writing a new index generation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteError {
    /// The index could not be encoded.
    Encode(EncodeError),
    /// The file system refused creating the index folder or writing the slot file.
    Fs {
        /// The path being written.
        path: &'static str,
        /// Why.
        source: exfat::Error,
    },
    /// Flushing the device failed.
    Flush(blockdev::IoError),
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Encode(e) => write!(f, "encoding the index: {e}"),
            WriteError::Fs { path, source } => write!(f, "writing {path}: {source}"),
            WriteError::Flush(e) => write!(f, "flushing the index: {e}"),
        }
    }
}

impl core::error::Error for WriteError {}

/// The index as found on the stick, and where the next generation goes.
#[derive(Clone, Debug)]
pub struct IndexStore {
    sel: Selection,
    unread: Vec<(Slot, ReadError)>,
    /// Returned by [`IndexStore::current_index`] when no slot is valid.
    empty: Index,
}

impl IndexStore {
    /// Read both slots (one listing of the index folder serves both). Never fails: a slot
    /// that cannot be read counts as missing and is kept in [`IndexStore::unread`]. The
    /// loaders use this; they boot with what can be read.
    pub fn read<D: BlockDevice>(vol: &mut Volume<D>, limits: &Limits) -> Self {
        let mut unread = Vec::new();
        let listing = match vol.read_dir(SLOT_DIR) {
            Ok(l) => l,
            Err(exfat::Error::NotFound { .. }) => Vec::new(),
            Err(e) => {
                // Both slots live in the folder that cannot be listed.
                for slot in Slot::ALL {
                    unread.push((slot, ReadError::Fs(e.clone())));
                }
                Vec::new()
            }
        };
        let mut bytes: [Option<Vec<u8>>; 2] = [None, None];
        for (slot, out) in Slot::ALL.into_iter().zip(bytes.iter_mut()) {
            let name = slot.path().rsplit('/').next().unwrap_or(slot.path());
            let Some(de) = listing.iter().find(|d| d.name.eq_ignore_ascii_case(name)) else {
                continue;
            };
            match read_slot(vol, de, limits.max_index_bytes) {
                Ok(b) => *out = Some(b),
                Err(e) => unread.push((slot, e)),
            }
        }
        drop(listing);
        let [a, b] = &bytes;
        IndexStore {
            sel: select(a.as_deref(), b.as_deref()),
            unread,
            empty: Index::default(),
        }
    }

    /// Read both slots for a change: like [`IndexStore::read`] with the default
    /// [`Limits`], but a slot that cannot be read is an error rather than a missing slot:
    /// the CLI does not write a new generation from a guess, nor into a slot whose name
    /// something else holds (an unread slot counts as missing, so it is where the next
    /// generation would go).
    pub fn load<D: BlockDevice>(vol: &mut Volume<D>) -> Result<Self, LoadError> {
        let store = IndexStore::read(vol, &Limits::default());
        if let Some((slot, e)) = store.unread.first() {
            return Err(match e {
                ReadError::Fs(source) => LoadError::Fs {
                    path: slot.path(),
                    source: source.clone(),
                },
                why => LoadError::SlotBlocked {
                    path: slot.path(),
                    why: why.clone(),
                },
            });
        }
        Ok(store)
    }

    /// What was found in the slots.
    pub fn selection(&self) -> &Selection {
        &self.sel
    }

    /// Slots that could not be read, and why (they count as missing in the selection).
    pub fn unread(&self) -> &[(Slot, ReadError)] {
        &self.unread
    }

    /// The slot the current index came from; `None` when no slot is valid.
    pub fn slot(&self) -> Option<Slot> {
        self.sel.current.as_ref().map(|(s, _)| *s)
    }

    /// The newest valid index, or an empty one (generation 0) when there is none.
    pub fn current_index(&self) -> &Index {
        match &self.sel.current {
            Some((_, i)) => i,
            None => &self.empty,
        }
    }

    /// A copy of the current index to change and [`IndexStore::write`].
    pub fn index(&self) -> Index {
        self.sel.index()
    }

    /// Whether both slots hold a valid index.
    pub fn both_valid(&self) -> bool {
        self.sel.a_error.is_none() && self.sel.b_error.is_none()
    }

    /// One line per slot that is damaged or unreadable (a missing slot is normal: it is
    /// written at the next change), for the user.
    pub fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        for (slot, e) in &self.unread {
            notes.push(format!("index {}: {e}", slot.path()));
        }
        for (slot, err) in [(Slot::A, &self.sel.a_error), (Slot::B, &self.sel.b_error)] {
            if let Some(SlotError::Invalid(e)) = err {
                notes.push(format!("index {}: {e}", slot.path()));
            }
        }
        notes
    }

    /// Write `index` as the next generation into the slot not holding the newest valid
    /// copy ([`Selection::slot_to_write`], [`Selection::next_generation`]), and flush the
    /// device. Returns the generation written.
    pub fn write<D: BlockDevice>(
        &mut self,
        vol: &mut Volume<D>,
        mut index: Index,
    ) -> Result<u64, WriteError> {
        let slot = self.sel.slot_to_write();
        index.generation = self.sel.next_generation();
        let bytes = encode(&index).map_err(WriteError::Encode)?;
        vol.mkdir(SLOT_DIR).map_err(|source| WriteError::Fs {
            path: SLOT_DIR,
            source,
        })?;
        vol.write_file(slot.path(), &bytes)
            .map_err(|source| WriteError::Fs {
                path: slot.path(),
                source,
            })?;
        vol.device().flush().map_err(WriteError::Flush)?;
        let generation = index.generation;
        match slot {
            Slot::A => self.sel.a_error = None,
            Slot::B => self.sel.b_error = None,
        }
        self.unread.retain(|(s, _)| *s != slot);
        self.sel.current = Some((slot, index));
        Ok(generation)
    }

    /// Clear a one-shot boot-next: write the index without it as the next generation.
    /// Returns the path it named; writes nothing when there is none.
    pub fn consume_boot_next<D: BlockDevice>(
        &mut self,
        vol: &mut Volume<D>,
    ) -> Result<Option<String>, WriteError> {
        if self.current_index().settings.boot_next.is_none() {
            return Ok(None);
        }
        let mut next = self.index();
        let old = next.settings.boot_next.take();
        self.write(vol, next)?;
        Ok(old)
    }
}

fn read_slot<D: BlockDevice>(
    vol: &mut Volume<D>,
    de: &DirEntry,
    max: u64,
) -> Result<Vec<u8>, ReadError> {
    if de.is_dir {
        return Err(ReadError::Folder);
    }
    if de.size > max {
        return Err(ReadError::TooLarge { size: de.size, max });
    }
    let len = usize::try_from(de.size).map_err(|_| ReadError::TooLarge { size: de.size, max })?;
    let mut buf = vec![0u8; len];
    vol.read_at(de, 0, &mut buf).map_err(ReadError::Fs)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bootshelf_index::{IsoEntry, Settings};

    fn volume() -> Volume<blockdev::MemDevice> {
        crate::test_support::volume(8192)
    }

    fn iso(path: &str) -> IsoEntry {
        IsoEntry {
            path: path.into(),
            size: 1,
            sha256: None,
            label: String::new(),
            title: None,
            extents: vec![blockdev::Extent { start: 0, len: 1 }],
            boot: Vec::new(),
            extensions: Default::default(),
        }
    }

    #[test]
    fn generations_alternate_slots_and_boot_next_is_consumed() {
        let mut vol = volume();
        let mut store = IndexStore::load(&mut vol).unwrap();
        assert_eq!(store.slot(), None);
        assert_eq!(store.current_index().generation, 0);
        let mut index = store.index();
        index.isos.push(iso("/a.iso"));
        index.settings = Settings {
            boot_next: Some("/a.iso".into()),
            ..Settings::default()
        };
        assert_eq!(store.write(&mut vol, index).unwrap(), 1);
        assert_eq!(store.slot(), Some(Slot::A));

        let mut again = IndexStore::read(&mut vol, &Limits::default());
        assert_eq!(again.slot(), Some(Slot::A));
        assert!(!again.both_valid());
        assert!(again.notes().is_empty());
        assert_eq!(
            again.consume_boot_next(&mut vol).unwrap().as_deref(),
            Some("/a.iso")
        );
        assert_eq!(again.consume_boot_next(&mut vol).unwrap(), None);

        let last = IndexStore::load(&mut vol).unwrap();
        assert_eq!(last.slot(), Some(Slot::B));
        assert!(last.both_valid());
        assert_eq!(last.current_index().generation, 2);
        assert_eq!(last.current_index().settings.boot_next, None);
        assert_eq!(last.current_index().isos, [iso("/a.iso")]);
    }

    #[test]
    fn damaged_and_oversized_slots_are_noted_and_not_used() {
        let mut vol = volume();
        let mut store = IndexStore::load(&mut vol).unwrap();
        store.write(&mut vol, Index::default()).unwrap();
        vol.write_file(Slot::B.path(), b"garbage").unwrap();
        let store = IndexStore::read(&mut vol, &Limits::default());
        assert_eq!(store.slot(), Some(Slot::A));
        let notes = store.notes();
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with("index /bootshelf/index.b: index truncated"),
            "{notes:?}"
        );

        let tiny = Limits {
            max_index_bytes: 4,
            ..Limits::default()
        };
        let store = IndexStore::read(&mut vol, &tiny);
        assert_eq!(store.slot(), None);
        assert!(matches!(
            store.unread(),
            [
                (Slot::A, ReadError::TooLarge { max: 4, .. }),
                (Slot::B, ReadError::TooLarge { .. })
            ]
        ));
    }
}
