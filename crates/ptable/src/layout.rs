//! bootshelf's own layout on a partition table: which partition is the exFAT data
//! partition, which the ESP, and whether the ISO window slot holds a window.
//!
//! | number | GPT | MBR |
//! | --- | --- | --- |
//! | 1 | data: Microsoft basic data | data: 0x07 |
//! | 2 | ESP: EFI System | ESP: 0xEF |
//! | 3 | BIOS boot (not checked) | the persistence window slot: unused, or the window |
//! | 4 | the window slot: unused, or the window | unused, or the window |
//! | 5 | the persistence window slot: unused, or the window | - |
//!
//! The window is recognised by its type (GPT: Windows Recovery Environment with the name
//! [`WINDOW_NAME`]; MBR: 0x17 inside the data partition). Anything else in slot 4 is a
//! foreign partition: the layout is still found (the loaders list the ISOs and boot them
//! without a window), but no window is ever written or cleared over it. docs/window.md
//! explains the choice of type and attributes.
//!
//! On MBR, the data partition's record is emptied (type 0x00, its LBAs kept) while a
//! window is set: UEFI firmware built on EDK2 rejects an MBR whose used records overlap,
//! and a window lies inside the data partition. [`Layout::of`] still finds the data
//! partition then, from that record's LBAs, and says so ([`Layout::data_hidden`]); the
//! window writer hides and restores it (docs/window.md, "MBR sticks").
//!
//! The persistence window (docs/persistence.md) is a second, writable window over the
//! persistence file of the ISO being booted: GPT entry 5 / MBR slot 3, recognised the same
//! way with its own name ([`PERSISTENCE_NAME`]; MBR: 0x17 inside the data partition). A
//! foreign partition in that slot rules out persistence only; it is never written.

use crate::error::{Error, FoundType};
use crate::gpt::{attributes, types};
use crate::mbr::MbrType;
use crate::table::{Partition, PartitionType, Scheme, Table};
use crate::Guid;

/// Number of the data partition.
pub const DATA_NUMBER: u32 = 1;
/// Number of the EFI System Partition.
pub const ESP_NUMBER: u32 = 2;
/// Number of the ISO window slot (GPT entry 4, MBR slot 4).
pub const WINDOW_NUMBER: u32 = 4;
/// GPT name of the window entry.
pub const WINDOW_NAME: &str = "bootshelf ISO window";
/// GPT type of the window entry.
pub const WINDOW_GPT_TYPE: Guid = types::WINDOWS_RECOVERY;
/// GPT attributes of the window entry: firmware makes no Block I/O for it (bit 1), and
/// Windows treats it as read-only (60), hidden (62), without drive letter (63).
pub const WINDOW_GPT_ATTRIBUTES: u64 = attributes::NO_BLOCK_IO_PROTOCOL
    | attributes::MS_READ_ONLY
    | attributes::MS_HIDDEN
    | attributes::MS_NO_DRIVE_LETTER;
/// MBR type of the data partition's record (restored when a window is cleared).
pub const DATA_MBR_TYPE: MbrType = MbrType::EXFAT;
/// MBR type of the window entry.
pub const WINDOW_MBR_TYPE: MbrType = MbrType::HIDDEN_EXFAT;

/// GPT entry number of the persistence window.
pub const PERSISTENCE_GPT_NUMBER: u32 = 5;
/// MBR slot number of the persistence window (MBR has four primary slots; 3 is unused).
pub const PERSISTENCE_MBR_NUMBER: u32 = 3;
/// GPT name of the persistence window entry.
pub const PERSISTENCE_NAME: &str = "bootshelf persistence window";
/// GPT attributes of the persistence window: as the ISO window's, but not read-only.
pub const PERSISTENCE_GPT_ATTRIBUTES: u64 =
    attributes::NO_BLOCK_IO_PROTOCOL | attributes::MS_HIDDEN | attributes::MS_NO_DRIVE_LETTER;

/// The partition number of the persistence window slot on `scheme`.
pub fn persistence_number(scheme: Scheme) -> u32 {
    match scheme {
        Scheme::Gpt => PERSISTENCE_GPT_NUMBER,
        Scheme::Mbr => PERSISTENCE_MBR_NUMBER,
    }
}

/// An inclusive LBA range with `first <= last`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LbaRange {
    first: u64,
    last: u64,
}

impl LbaRange {
    /// `first..=last`; `None` when reversed.
    pub fn new(first: u64, last: u64) -> Option<LbaRange> {
        (first <= last).then_some(LbaRange { first, last })
    }

    /// First LBA.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// Last LBA (inclusive).
    pub fn last(&self) -> u64 {
        self.last
    }

    /// Number of sectors.
    pub fn sectors(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Whether the two ranges share a sector.
    pub fn overlaps(&self, other: &LbaRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    /// Whether `self` lies inside `outer`.
    pub fn within(&self, outer: &LbaRange) -> bool {
        self.first >= outer.first && self.last <= outer.last
    }
}

/// bootshelf's partitions found in a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// GPT or MBR.
    pub scheme: Scheme,
    /// The exFAT data partition (number 1). While [`Layout::data_hidden`], its record's
    /// type is 0x00 on the disk and `kind` says so; the LBAs are the record's.
    pub data: Partition,
    /// MBR only: the data partition's record is emptied (type 0x00, LBAs kept) because a
    /// window is set (so no two used records overlap). Only ever `true` together with
    /// [`Layout::window`]; the next window clear restores type 0x07.
    pub data_hidden: bool,
    /// The EFI System Partition (number 2).
    pub esp: Partition,
    /// The ISO window, when slot 4 holds one (a stale one when no booted OS uses it).
    /// Always `None` when [`Layout::foreign_slot`] is set.
    pub window: Option<LbaRange>,
    /// What slot 4 holds when it is neither unused nor bootshelf's window (then no window
    /// may be written or cleared there). Always `None` when [`Layout::window`] is set.
    pub foreign_slot: Option<FoundType>,
    /// The persistence window, when its slot ([`persistence_number`]) holds one.
    pub persistence: Option<LbaRange>,
    /// What the persistence slot holds when it is neither unused nor bootshelf's
    /// persistence window (then no persistence window may be written or cleared there).
    pub foreign_persistence_slot: Option<FoundType>,
}

/// What the window slot (partition 4) holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot4 {
    /// Unused: a window may be written.
    Empty,
    /// bootshelf's ISO window over these LBAs.
    Window(LbaRange),
    /// A partition that is not bootshelf's: no window may be written or cleared.
    Foreign(FoundType),
}

impl Layout {
    /// Find bootshelf's layout in `table`, or say which partition does not match.
    pub fn of(table: &Table) -> Result<Layout, Error> {
        let scheme = table.scheme();
        let (data, data_hidden) = match expect(
            table,
            DATA_NUMBER,
            scheme,
            "the exFAT data partition",
            |k| k == data_type(scheme),
        ) {
            // Never at LBA 0 (where the table itself is; a record there is an isohybrid
            // ISO's): the same rule as for the emptied record while a window is set, so
            // what the window writer writes always reads back.
            Ok(p) if p.first_lba == 0 => {
                return Err(Error::NotBootshelf {
                    number: DATA_NUMBER,
                    expected: "the exFAT data partition, which never starts at LBA 0",
                    found: found(Some(p.kind), scheme),
                })
            }
            Ok(p) => (p, false),
            Err(e) => (hidden_data(table).ok_or(e)?, true),
        };
        let esp = expect(table, ESP_NUMBER, scheme, "the EFI System Partition", |k| {
            k == esp_type(scheme)
        })?;
        let data_range = LbaRange {
            first: data.first_lba,
            last: data.last_lba,
        };
        let (window, foreign_slot) = match table.partition(WINDOW_NUMBER) {
            None => (None, None),
            Some(w) => match recognise_window(&w, &data_range, WINDOW_NAME) {
                Ok(r) => (Some(r), None),
                Err(found) => (None, Some(found)),
            },
        };
        if data_hidden && window.is_none() {
            // An emptied record is bootshelf's data partition only while the window it was
            // emptied for is there (both are written in one sector).
            return Err(Error::NotBootshelf {
                number: DATA_NUMBER,
                expected: "the exFAT data partition",
                found: FoundType::Mbr(MbrType::UNUSED.0),
            });
        }
        let (persistence, foreign_persistence_slot) =
            match table.partition(persistence_number(scheme)) {
                None => (None, None),
                Some(p) => match recognise_window(&p, &data_range, PERSISTENCE_NAME) {
                    Ok(r) => (Some(r), None),
                    Err(found) => (None, Some(found)),
                },
            };
        Ok(Layout {
            scheme,
            data,
            data_hidden,
            esp,
            window,
            foreign_slot,
            persistence,
            foreign_persistence_slot,
        })
    }

    /// What slot 4 holds.
    pub fn slot4(&self) -> Slot4 {
        match (self.window, self.foreign_slot) {
            (_, Some(found)) => Slot4::Foreign(found),
            (Some(r), None) => Slot4::Window(r),
            (None, None) => Slot4::Empty,
        }
    }

    /// The error for writing or clearing a window in a foreign slot 4, if it is foreign.
    pub fn foreign_slot_error(&self) -> Option<Error> {
        self.foreign_slot.map(|found| Error::NotBootshelf {
            number: WINDOW_NUMBER,
            expected: WINDOW_SLOT_EXPECTED,
            found,
        })
    }

    /// The error for writing or clearing a persistence window in a foreign slot.
    pub fn foreign_persistence_error(&self) -> Option<Error> {
        self.foreign_persistence_slot
            .map(|found| Error::NotBootshelf {
                number: persistence_number(self.scheme),
                expected: PERSISTENCE_SLOT_EXPECTED,
                found,
            })
    }

    /// The data partition's LBAs.
    pub fn data_range(&self) -> LbaRange {
        LbaRange {
            first: self.data.first_lba,
            last: self.data.last_lba,
        }
    }
}

/// MBR: the data partition's record emptied while a window is set (type 0x00, its LBAs
/// kept), as partition 1 of type 0x00. [`Layout::of`] accepts it only with a window
/// inside it.
fn hidden_data(table: &Table) -> Option<Partition> {
    let Table::Mbr(mbr) = table else {
        return None;
    };
    let slot = DATA_NUMBER as usize - 1;
    let (first_lba, last_lba) = mbr.unused_record_range(slot)?;
    Some(Partition {
        number: DATA_NUMBER,
        kind: PartitionType::Mbr(MbrType::UNUSED),
        first_lba,
        last_lba,
        attributes: 0,
        name: alloc::string::String::new(),
        unique_guid: Guid::ZERO,
        bootable: mbr.records().get(slot)?.boot_indicator == 0x80,
    })
}

fn data_type(s: Scheme) -> PartitionType {
    match s {
        Scheme::Gpt => PartitionType::Gpt(types::MICROSOFT_BASIC_DATA),
        Scheme::Mbr => PartitionType::Mbr(DATA_MBR_TYPE),
    }
}

fn esp_type(s: Scheme) -> PartitionType {
    match s {
        Scheme::Gpt => PartitionType::Gpt(types::EFI_SYSTEM),
        Scheme::Mbr => PartitionType::Mbr(MbrType::EFI_SYSTEM),
    }
}

fn found(k: Option<PartitionType>, s: Scheme) -> FoundType {
    match (k, s) {
        (Some(PartitionType::Gpt(g)), _) => FoundType::Gpt(g),
        (Some(PartitionType::Mbr(t)), _) => FoundType::Mbr(t.0),
        (None, Scheme::Gpt) => FoundType::Gpt(Guid::ZERO),
        (None, Scheme::Mbr) => FoundType::Mbr(0),
    }
}

fn expect(
    table: &Table,
    number: u32,
    scheme: Scheme,
    expected: &'static str,
    ok: impl Fn(PartitionType) -> bool,
) -> Result<Partition, Error> {
    match table.partition(number) {
        Some(p) if ok(p.kind) => Ok(p),
        other => Err(Error::NotBootshelf {
            number,
            expected,
            found: found(other.map(|p| p.kind), scheme),
        }),
    }
}

/// What [`Error::NotBootshelf`] expects of slot 4.
pub(crate) const WINDOW_SLOT_EXPECTED: &str = "unused or bootshelf's ISO window";

/// What [`Error::NotBootshelf`] expects of the persistence slot.
pub(crate) const PERSISTENCE_SLOT_EXPECTED: &str = "unused or bootshelf's persistence window";

/// A window slot's range (the ISO window's in slot 4, the persistence window's in its
/// slot), or what foreign partition the slot holds instead. On GPT the window is told
/// by its type and `gpt_name` (WINDOW_NAME, PERSISTENCE_NAME); on MBR by its type and
/// lying inside the data partition.
fn recognise_window(w: &Partition, data: &LbaRange, gpt_name: &str) -> Result<LbaRange, FoundType> {
    let range = LbaRange {
        first: w.first_lba,
        last: w.last_lba,
    };
    match w.kind {
        PartitionType::Gpt(t) if t == WINDOW_GPT_TYPE => {
            if w.name == gpt_name {
                Ok(range)
            } else {
                Err(FoundType::ForeignName(t))
            }
        }
        PartitionType::Mbr(t) if t == WINDOW_MBR_TYPE => {
            if range.within(data) {
                Ok(range)
            } else {
                Err(FoundType::MbrWindowOutside(t.0))
            }
        }
        PartitionType::Gpt(t) => Err(FoundType::Gpt(t)),
        PartitionType::Mbr(t) => Err(FoundType::Mbr(t.0)),
    }
}
