//! The two index slots: which one to read, which one to overwrite next.

use crate::decode::{decode, DecodeError};
use crate::model::Index;
use core::fmt;

/// The folder holding the slots on the data partition.
pub const SLOT_DIR: &str = "/bootshelf";

/// Paths of slot A and slot B on the data partition.
pub const SLOT_PATHS: [&str; 2] = ["/bootshelf/index.a", "/bootshelf/index.b"];

/// One of the two slot files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// `/bootshelf/index.a`.
    A,
    /// `/bootshelf/index.b`.
    B,
}

impl Slot {
    /// Both slots.
    pub const ALL: [Slot; 2] = [Slot::A, Slot::B];

    /// The file's path on the data partition.
    pub fn path(self) -> &'static str {
        match self {
            Slot::A => SLOT_PATHS[0],
            Slot::B => SLOT_PATHS[1],
        }
    }

    /// The other slot.
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }
}

/// Why a slot was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// The file does not exist (or could not be read; the caller decides).
    Missing,
    /// The file exists but is not a valid index.
    Invalid(DecodeError),
}

impl fmt::Display for SlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SlotError::Missing => f.write_str("missing"),
            SlotError::Invalid(e) => write!(f, "invalid: {e}"),
        }
    }
}

/// The outcome of reading both slots.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The newest valid index and the slot it came from; `None` when neither is valid.
    pub current: Option<(Slot, Index)>,
    /// Why slot A was not chosen, if it is not valid.
    pub a_error: Option<SlotError>,
    /// Why slot B was not chosen, if it is not valid.
    pub b_error: Option<SlotError>,
}

impl Selection {
    /// The index to work from: the newest valid one, or an empty index (generation 0) when
    /// there is none.
    pub fn index(&self) -> Index {
        match &self.current {
            Some((_, i)) => i.clone(),
            None => Index::default(),
        }
    }

    /// The slot the next write goes to: never the one holding the newest valid copy.
    pub fn slot_to_write(&self) -> Slot {
        match &self.current {
            Some((s, _)) => s.other(),
            None => Slot::A,
        }
    }

    /// The generation the next write must carry.
    pub fn next_generation(&self) -> u64 {
        match &self.current {
            Some((_, i)) => i.generation.wrapping_add(1),
            None => 1,
        }
    }
}

fn read_slot(bytes: Option<&[u8]>) -> Result<Index, SlotError> {
    match bytes {
        None => Err(SlotError::Missing),
        Some(b) => decode(b).map_err(SlotError::Invalid),
    }
}

/// Decode both slots (`None`: the file is missing) and take the valid one with the higher
/// generation; on a tie, slot A.
pub fn select(a: Option<&[u8]>, b: Option<&[u8]>) -> Selection {
    let ra = read_slot(a);
    let rb = read_slot(b);
    let (current, a_error, b_error) = match (ra, rb) {
        (Ok(ia), Ok(ib)) => {
            if ib.generation > ia.generation {
                (Some((Slot::B, ib)), None, None)
            } else {
                (Some((Slot::A, ia)), None, None)
            }
        }
        (Ok(ia), Err(eb)) => (Some((Slot::A, ia)), None, Some(eb)),
        (Err(ea), Ok(ib)) => (Some((Slot::B, ib)), Some(ea), None),
        (Err(ea), Err(eb)) => (None, Some(ea), Some(eb)),
    };
    Selection {
        current,
        a_error,
        b_error,
    }
}
