//! `bootshelf check`: the index against the file system against the partition table.
//! Reads only. Each rule is one function below and reports typed [`Finding`]s: a variant
//! per kind of finding, carrying the values that disagree; its `Display` is the message
//! `bootshelf check` prints and [`Finding::severity`] says how bad it is.
//!
//! The rules, in the order they run (findings come out in this order):
//!
//! * the index: which slot is current ([`index_in_use`]), why the other is not
//!   ([`slot_state`]);
//! * per indexed ISO ([`indexed_iso`]): the file exists and is a file ([`iso_file`]), has
//!   the indexed size ([`size_matches`]), the file system's extents equal the indexed ones
//!   ([`extents_match`]), it is in one piece ([`contiguous`]), each extent lies inside the
//!   data partition ([`inside_data_partition`]) and overlaps no other ISO
//!   ([`overlapping`]), the boot images lie inside the file ([`boot_images_inside`]), and
//!   with `--hash` the SHA-256 ([`hash_matches`]);
//! * the file system: ISO files the index does not list ([`unindexed`]), leftovers of an
//!   interrupted `add --force` ([`partial_leftovers`]);
//! * the settings: default and boot-next name indexed ISOs ([`settings_name_indexed`]);
//! * the partition table: the ISO window entry, when set, covers exactly one indexed,
//!   contiguous ISO ([`window_matches`]); on MBR, the data partition's record emptied
//!   while it is set ([`data_entry_hidden`]: normal after a boot, a note);
//! * persistence files (docs/persistence.md): each linked file is on the stick where its
//!   link says ([`persistence_present`]), every file in the persistence folder is linked
//!   ([`persistence_orphans`]), and the persistence window, when set, covers exactly one
//!   linked file ([`persistence_window_matches`]).
//! * the boot code, by [`crate::boot_check`] (the CLI appends its findings): repairable
//!   damage to the partition table, the MBR boot code, BIOS stage 2, the ESP's file
//!   system and the UEFI loader on it, against the boot code this bootshelf carries.

use crate::copy::{hash_on_device, hex};
use crate::esp::EspIssue;
use crate::index_io::{find_iso_files, find_partial_files, IndexStore, OpError};
use crate::layout::{Layout, SectorRange, TableDamage};
use blockdev::{BlockDevice, Extent};
use bootshelf_index::{DecodeError, Index, IsoEntry, Selection, Slot, SlotError};
use exfat::{DirEntry, Volume};
use std::fmt;

/// Severity of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing, nothing wrong.
    Note,
    /// Works, but not as intended (unindexed file, fragmented ISO, stale setting).
    Warning,
    /// The stick disagrees with itself: a menu entry would fail or boot the wrong bytes.
    Problem,
}

impl Severity {
    /// Stable lower-case name: `note`, `warning`, `problem`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Problem => "problem",
        }
    }
}

/// A setting of the index that names an ISO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// The entry selected at every boot.
    Default,
    /// The entry booted once at the next boot.
    BootNext,
}

impl Setting {
    /// Its name as the CLI spells it: `default`, `boot-next`.
    pub fn name(self) -> &'static str {
        match self {
            Setting::Default => "default",
            Setting::BootNext => "boot-next",
        }
    }
}

/// A piece of boot code `install` writes and `update` rewrites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootPiece {
    /// Bytes 0..440 of LBA 0.
    MbrCode,
    /// BIOS stage 2, from the first sector of the BIOS boot area.
    Stage2,
    /// `\EFI\BOOT\BOOTX64.EFI` (or the loader of another architecture) on the ESP.
    UefiLoader(efi_image::EfiArch),
    /// `\EFI\BOOT\grubx64.efi`: bootshelf's x64 loader signed with the user's key, which
    /// shim starts (Secure Boot via shim, docs/secure-boot.md).
    ShimSecondStage,
    /// `\EFI\BOOT\mmx64.efi`: MokManager, which shim starts when the loader's key is not
    /// enrolled (Secure Boot via shim).
    MokManager,
}

impl BootPiece {
    /// Its name in messages: `MBR boot code`, `BIOS stage 2`, `\EFI\BOOT\BOOTX64.EFI`
    /// (`BOOTIA32.EFI`, `BOOTAA64.EFI`).
    pub fn name(self) -> &'static str {
        match self {
            BootPiece::MbrCode => "MBR boot code",
            BootPiece::Stage2 => "BIOS stage 2",
            BootPiece::UefiLoader(arch) => arch.boot_path(),
            BootPiece::ShimSecondStage => "\\EFI\\BOOT\\grubx64.efi",
            BootPiece::MokManager => "\\EFI\\BOOT\\mmx64.efi",
        }
    }

    /// What breaks when it is broken.
    fn consequence(self) -> &'static str {
        match self {
            BootPiece::MbrCode | BootPiece::Stage2 => "the stick does not boot on BIOS",
            BootPiece::UefiLoader(efi_image::EfiArch::X64) | BootPiece::ShimSecondStage => {
                "the stick does not boot on x86_64 UEFI"
            }
            BootPiece::UefiLoader(efi_image::EfiArch::Ia32) => {
                "the stick does not boot on 32-bit (ia32) UEFI"
            }
            BootPiece::UefiLoader(efi_image::EfiArch::Aa64) => {
                "the stick does not boot on ARM64 UEFI"
            }
            BootPiece::MokManager => {
                "with Secure Boot on, a machine that does not know your key cannot enroll it"
            }
        }
    }
}

/// What `check` found. `Display` gives the message (without the subject).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// The index in use (note).
    CurrentIndex {
        /// The slot it was read from.
        slot: Slot,
        /// Its generation.
        generation: u64,
    },
    /// No index and no ISO: a fresh stick (note).
    NoIndexYet,
    /// ISOs are on the stick but neither slot holds a valid index (problem).
    NoValidIndex,
    /// A slot file is missing while the other slot holds the index (note).
    SlotMissing {
        /// The missing slot.
        slot: Slot,
    },
    /// A slot file could not be read at all: a folder has its name, it is larger than an
    /// index may be, or the file system failed reading it (warning; a problem for the file
    /// system failing). The next change cannot write that slot until it is mended.
    SlotUnreadable {
        /// The slot.
        slot: Slot,
        /// Why.
        error: shelf::store::ReadError,
    },
    /// A slot file is not a valid index; the other slot is used (warning).
    SlotInvalid {
        /// The slot.
        slot: Slot,
        /// Why it does not decode.
        error: DecodeError,
    },
    /// An indexed ISO's file is gone (problem).
    IsoGone {
        /// Path on the stick.
        path: String,
    },
    /// Looking an indexed ISO up in the file system failed (problem).
    IsoLookupFailed {
        /// Path on the stick.
        path: String,
        /// What the file system said.
        error: exfat::Error,
    },
    /// An indexed path is a directory (problem).
    IsoIsDirectory {
        /// Path on the stick.
        path: String,
    },
    /// The file's size differs from the indexed one (problem).
    SizeMismatch {
        /// Path on the stick.
        path: String,
        /// Size in the index.
        indexed: u64,
        /// Size in the file system.
        on_file_system: u64,
    },
    /// The file system has the file elsewhere than the index says (problem).
    ExtentsMismatch {
        /// Path on the stick.
        path: String,
        /// Extents in the index.
        indexed: Vec<Extent>,
        /// Extents in the file system.
        on_file_system: Vec<Extent>,
    },
    /// The file's extents could not be read from the file system (problem).
    ExtentsUnreadable {
        /// Path on the stick.
        path: String,
        /// What the file system said.
        error: exfat::Error,
    },
    /// The ISO is in several pieces: no ISO window for it (warning).
    Fragmented {
        /// Path on the stick.
        path: String,
        /// Number of extents.
        extents: usize,
    },
    /// An indexed extent lies (partly) outside the data partition (problem).
    OutsideDataPartition {
        /// Path on the stick.
        path: String,
        /// The extent (device bytes).
        extent: Extent,
        /// First device byte of the data partition.
        data_start: u64,
        /// Device byte just past the data partition.
        data_end: u64,
    },
    /// An indexed extent overlaps an extent of an ISO indexed before it (problem).
    Overlap {
        /// Path on the stick.
        path: String,
        /// The extent (device bytes).
        extent: Extent,
        /// The other ISO.
        other: String,
    },
    /// A boot entry's image reaches past the end of the file (problem).
    BootImagePastEnd {
        /// Path on the stick.
        path: String,
        /// Index of the boot entry in the index.
        entry: usize,
        /// ISO sector (2048 bytes) of the image.
        load_rba: u32,
        /// Size of the image in bytes.
        image_size: u64,
    },
    /// `--hash`: the index has no SHA-256 for this ISO (note).
    NoHashRecorded {
        /// Path on the stick.
        path: String,
    },
    /// `--hash`: the bytes on the stick do not have the indexed SHA-256 (problem).
    HashMismatch {
        /// Path on the stick.
        path: String,
        /// SHA-256 in the index.
        indexed: [u8; 32],
        /// SHA-256 of the bytes on the stick.
        on_stick: [u8; 32],
    },
    /// `--hash`: reading the ISO failed (problem).
    HashUnreadable {
        /// Path on the stick.
        path: String,
        /// The read error's message (the copy error carries an `io::Error`, which can be
        /// neither cloned nor compared).
        error: String,
    },
    /// An ISO file the index does not list (warning).
    Unindexed {
        /// Path on the stick.
        path: String,
    },
    /// The temporary copy of an interrupted `add --force` (warning).
    PartialLeftover {
        /// Path on the stick.
        path: String,
        /// Its size in bytes.
        size: u64,
    },
    /// A setting names an ISO that is not indexed (warning).
    SettingNotIndexed {
        /// Which setting.
        setting: Setting,
        /// The path it names.
        names: String,
    },
    /// The ISO window covers an indexed ISO (note).
    WindowCovers {
        /// Path on the stick.
        path: String,
    },
    /// The ISO window covers sectors that match no indexed ISO (warning).
    WindowStale {
        /// First sector.
        first_lba: u64,
        /// Sector just past the end.
        end_lba: u64,
    },
    /// MBR: the data partition's record is emptied while the ISO window is set, as the
    /// loader leaves it after booting an ISO (note; docs/window.md, "MBR sticks").
    DataPartitionHidden,
    /// Which UEFI loader the ESP holds and who signed bootshelf's (note).
    UefiLoader {
        /// The mode, as [`crate::secure_boot::Mode::describe`] says it.
        mode: &'static str,
        /// Whose key signed it, when the current key did: its certificate's subject.
        signed_by_current_key: Option<String>,
    },
    /// bootshelf's loader on the ESP is not signed by the user's current key (warning):
    /// it boots where its own key is enrolled, not where the current one is.
    LoaderNotSignedByCurrentKey {
        /// The ESP file.
        path: &'static str,
        /// The current key's certificate subject.
        current: String,
        /// Who signed it (as the signature names them) and why it is not a match.
        found: String,
    },
    /// The ESP holds no bootshelf UEFI loader, or its signature cannot be read (warning).
    UefiLoaderUnreadable {
        /// What is wrong.
        message: String,
    },
    /// An ISO's persistence file is not where its link says (problem: the loaders give it
    /// no window, so the live system boots without its saved changes).
    PersistenceMissing {
        /// The ISO.
        path: String,
        /// The linked file.
        file: String,
    },
    /// A file in the persistence folder that no ISO links to (warning).
    PersistenceOrphan {
        /// The file.
        path: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The persistence window covers a linked persistence file (note).
    PersistenceWindowCovers {
        /// The file.
        path: String,
    },
    /// The persistence window covers sectors that match no linked file (warning).
    PersistenceWindowStale {
        /// First sector.
        first_lba: u64,
        /// Sector just past the end.
        end_lba: u64,
    },
    /// The partition table is damaged in a way `update` repairs (problem).
    TableDamaged {
        /// What is wrong.
        damage: TableDamage,
    },
    /// A piece of boot code is all zero (problem).
    BootCodeZeroed {
        /// Which.
        piece: BootPiece,
    },
    /// A piece of boot code cannot work: missing, no signature, pointing elsewhere
    /// (problem).
    BootCodeBroken {
        /// Which.
        piece: BootPiece,
        /// What is wrong with it.
        reason: String,
    },
    /// A piece of boot code differs from the one this bootshelf carries but looks like
    /// boot code (another version's, or changed) (warning).
    BootCodeDiffers {
        /// Which.
        piece: BootPiece,
    },
    /// Shim mode: shim (`piece` `BOOTX64.EFI`) or MokManager (`mmx64.efi`) on the ESP is
    /// not the installed Debian package's file (warning; `update` copies the package's).
    /// Outdated when the stick's version is older.
    ShimDiffers {
        /// Which.
        piece: BootPiece,
        /// The Debian package the file comes from.
        package: &'static str,
        /// The version the stick's file gives (its `.sbat` vendor line).
        on_stick: Option<String>,
        /// The version the installed package's file gives.
        installed: Option<String>,
    },
    /// Shim mode, but shim and MokManager could not be compared with the installed
    /// packages' (note): why.
    ShimNotCompared {
        /// Why (the packages are not installed here).
        reason: String,
    },
    /// The ESP is not a FAT file system bootshelf can read (problem).
    EspUnreadable {
        /// Why, with offsets.
        reason: String,
    },
    /// The ESP's file system check found something: a leftover of an interrupted update
    /// (warning) or damage (problem).
    Esp {
        /// What.
        issue: EspIssue,
    },
    /// The boot code is exactly what this bootshelf carries (note).
    BootCodeCurrent,
}

impl Finding {
    /// How bad it is.
    pub fn severity(&self) -> Severity {
        use Finding::*;
        match self {
            CurrentIndex { .. }
            | NoIndexYet
            | SlotMissing { .. }
            | NoHashRecorded { .. }
            | UefiLoader { .. }
            | ShimNotCompared { .. }
            | WindowCovers { .. }
            | DataPartitionHidden
            | PersistenceWindowCovers { .. } => Severity::Note,
            SlotInvalid { .. }
            | SlotUnreadable {
                error: shelf::store::ReadError::Folder | shelf::store::ReadError::TooLarge { .. },
                ..
            }
            | Fragmented { .. }
            | Unindexed { .. }
            | PartialLeftover { .. }
            | SettingNotIndexed { .. }
            | LoaderNotSignedByCurrentKey { .. }
            | ShimDiffers { .. }
            | UefiLoaderUnreadable { .. }
            | WindowStale { .. }
            | PersistenceOrphan { .. }
            | PersistenceWindowStale { .. } => Severity::Warning,
            Esp { issue } if issue.is_benign() => Severity::Warning,
            BootCodeCurrent => Severity::Note,
            BootCodeDiffers { .. } => Severity::Warning,
            TableDamaged { .. }
            | BootCodeZeroed { .. }
            | BootCodeBroken { .. }
            | EspUnreadable { .. }
            | Esp { .. } => Severity::Problem,
            NoValidIndex
            | SlotUnreadable { .. }
            | IsoGone { .. }
            | IsoLookupFailed { .. }
            | IsoIsDirectory { .. }
            | SizeMismatch { .. }
            | ExtentsMismatch { .. }
            | ExtentsUnreadable { .. }
            | OutsideDataPartition { .. }
            | Overlap { .. }
            | BootImagePastEnd { .. }
            | HashMismatch { .. }
            | HashUnreadable { .. }
            | PersistenceMissing { .. } => Severity::Problem,
        }
    }

    /// What it is about: an ISO's path on the stick, an index slot's path, `index`, a
    /// setting's name or `ISO window`.
    pub fn subject(&self) -> &str {
        use Finding::*;
        match self {
            CurrentIndex { slot, .. }
            | SlotMissing { slot }
            | SlotInvalid { slot, .. }
            | SlotUnreadable { slot, .. } => slot.path(),
            NoIndexYet | NoValidIndex => "index",
            IsoGone { path }
            | IsoLookupFailed { path, .. }
            | IsoIsDirectory { path }
            | SizeMismatch { path, .. }
            | ExtentsMismatch { path, .. }
            | ExtentsUnreadable { path, .. }
            | Fragmented { path, .. }
            | OutsideDataPartition { path, .. }
            | Overlap { path, .. }
            | BootImagePastEnd { path, .. }
            | NoHashRecorded { path }
            | HashMismatch { path, .. }
            | HashUnreadable { path, .. }
            | Unindexed { path }
            | PartialLeftover { path, .. }
            | PersistenceMissing { path, .. }
            | PersistenceOrphan { path, .. } => path,
            SettingNotIndexed { setting, .. } => setting.name(),
            WindowCovers { .. } | WindowStale { .. } => "ISO window",
            DataPartitionHidden => "partition table",
            UefiLoader { .. } | UefiLoaderUnreadable { .. } => "ESP",
            LoaderNotSignedByCurrentKey { path, .. } => path,
            PersistenceWindowCovers { .. } | PersistenceWindowStale { .. } => "persistence window",
            TableDamaged { .. } => "partition table",
            BootCodeZeroed { piece }
            | BootCodeBroken { piece, .. }
            | BootCodeDiffers { piece }
            | ShimDiffers { piece, .. } => piece.name(),
            EspUnreadable { .. } | Esp { .. } | ShimNotCompared { .. } => "ESP",
            BootCodeCurrent => "boot code",
        }
    }

    /// A stable name of the kind of finding, for scripts (`bootshelf check --json`).
    pub fn kind(&self) -> &'static str {
        use Finding::*;
        match self {
            CurrentIndex { .. } => "current_index",
            NoIndexYet => "no_index_yet",
            NoValidIndex => "no_valid_index",
            SlotMissing { .. } => "slot_missing",
            SlotInvalid { .. } => "slot_invalid",
            SlotUnreadable { .. } => "slot_unreadable",
            IsoGone { .. } => "iso_gone",
            IsoLookupFailed { .. } => "iso_lookup_failed",
            IsoIsDirectory { .. } => "iso_is_directory",
            SizeMismatch { .. } => "size_mismatch",
            ExtentsMismatch { .. } => "extents_mismatch",
            ExtentsUnreadable { .. } => "extents_unreadable",
            Fragmented { .. } => "fragmented",
            OutsideDataPartition { .. } => "outside_data_partition",
            Overlap { .. } => "overlap",
            BootImagePastEnd { .. } => "boot_image_past_end",
            NoHashRecorded { .. } => "no_hash_recorded",
            HashMismatch { .. } => "hash_mismatch",
            HashUnreadable { .. } => "hash_unreadable",
            Unindexed { .. } => "unindexed",
            PartialLeftover { .. } => "partial_leftover",
            SettingNotIndexed { .. } => "setting_not_indexed",
            WindowCovers { .. } => "window_covers",
            WindowStale { .. } => "window_stale",
            DataPartitionHidden => "data_partition_hidden",
            UefiLoader { .. } => "uefi_loader",
            LoaderNotSignedByCurrentKey { .. } => "loader_not_signed_by_current_key",
            UefiLoaderUnreadable { .. } => "uefi_loader_unreadable",
            PersistenceMissing { .. } => "persistence_missing",
            PersistenceOrphan { .. } => "persistence_orphan",
            PersistenceWindowCovers { .. } => "persistence_window_covers",
            PersistenceWindowStale { .. } => "persistence_window_stale",
            TableDamaged { damage } => match damage {
                TableDamage::Lba0Lost { .. } => "lba0_lost",
                TableDamage::GptCopyInvalid { .. } => "gpt_copy_invalid",
                TableDamage::GptCopiesDiffer => "gpt_copies_differ",
                TableDamage::GptLost { .. } => "gpt_lost",
            },
            BootCodeZeroed { .. } => "boot_code_zeroed",
            BootCodeBroken { .. } => "boot_code_broken",
            BootCodeDiffers { .. } => "boot_code_differs",
            ShimDiffers {
                on_stick: Some(have),
                installed: Some(want),
                ..
            } if crate::secure_boot::compare_versions(have, want)
                == Some(std::cmp::Ordering::Less) =>
            {
                "shim_outdated"
            }
            ShimDiffers { .. } => "shim_differs",
            ShimNotCompared { .. } => "shim_not_compared",
            EspUnreadable { .. } => "esp_unreadable",
            Esp { issue } => issue.kind(),
            BootCodeCurrent => "boot_code_current",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Finding::*;
        match self {
            CurrentIndex { generation, .. } => {
                write!(f, "current index, generation {generation}")
            }
            NoIndexYet => f.write_str("no index yet and no ISO on the stick"),
            NoValidIndex => f.write_str("no valid index slot (run `bootshelf sync`)"),
            SlotMissing { .. } => f.write_str("missing (written at the next change)"),
            SlotInvalid { error, .. } => write!(
                f,
                "not usable ({error}); the other slot is used and this one is rewritten at the next change"
            ),
            SlotUnreadable { error, slot } => match error {
                shelf::store::ReadError::Fs(_) => write!(
                    f,
                    "cannot be read ({error}); the other slot is used; run `fsck.exfat` on the \
                     data partition"
                ),
                _ => write!(
                    f,
                    "{error}: not an index file; the other slot is used, and no change can be \
                     written to this one until it is moved away (rename or delete {})",
                    slot.path()
                ),
            },
            IsoGone { .. } => f.write_str("indexed but the file is gone"),
            IsoLookupFailed { error, .. } => write!(f, "cannot look it up: {error}"),
            IsoIsDirectory { .. } => f.write_str("indexed but it is a directory"),
            SizeMismatch {
                indexed,
                on_file_system,
                ..
            } => write!(
                f,
                "size {indexed} in the index, {on_file_system} on the file system"
            ),
            ExtentsMismatch {
                indexed,
                on_file_system,
                ..
            } => write!(
                f,
                "extents {indexed:?} in the index, {on_file_system:?} on the file system"
            ),
            ExtentsUnreadable { error, .. } => write!(f, "cannot read its extents: {error}"),
            Fragmented { extents, .. } => write!(
                f,
                "fragmented into {extents} extents: the ISO window cannot expose it to the booted system"
            ),
            OutsideDataPartition {
                extent,
                data_start,
                data_end,
                ..
            } => write!(
                f,
                "extent at device byte {} ({} bytes) lies outside the data partition [{data_start}, {data_end})",
                extent.start, extent.len
            ),
            Overlap { extent, other, .. } => {
                write!(f, "extent at device byte {} overlaps {other}", extent.start)
            }
            BootImagePastEnd {
                entry,
                load_rba,
                image_size,
                ..
            } => write!(
                f,
                "boot entry {entry}: image at ISO sector {load_rba} ({image_size} bytes) reaches past the end of the file"
            ),
            NoHashRecorded { .. } => f.write_str("no SHA-256 recorded (indexed by sync)"),
            HashMismatch {
                indexed, on_stick, ..
            } => write!(
                f,
                "SHA-256 {} in the index, {} on the stick",
                hex(indexed),
                hex(on_stick)
            ),
            HashUnreadable { error, .. } => write!(f, "cannot read it: {error}"),
            Unindexed { .. } => {
                f.write_str("on the stick but not in the index (run `bootshelf sync`)")
            }
            PartialLeftover { size, .. } => write!(
                f,
                "leftover of an interrupted `add --force` ({size} bytes); `bootshelf sync` deletes it"
            ),
            SettingNotIndexed { names, .. } => write!(f, "names {names}, which is not indexed"),
            WindowCovers { path } => write!(f, "covers {path} (left by the last boot)"),
            WindowStale { first_lba, end_lba } => write!(
                f,
                "covers sectors {first_lba}..{end_lba} which match no indexed ISO (stale; the next boot rewrites it)"
            ),
            DataPartitionHidden => f.write_str(
                "the data partition's MBR entry is emptied while the ISO window is set (UEFI \
                 firmware ignores an MBR whose entries overlap); normal after booting an ISO: \
                 the next boot of the stick restores it. Until then Windows does not show the \
                 data partition; any writing command, e.g. `bootshelf sync STICK`, restores \
                 it now",
            ),
            UefiLoader {
                mode,
                signed_by_current_key,
            } => match signed_by_current_key {
                Some(subject) => write!(f, "UEFI loader: {mode}; signed by your current key \"{subject}\""),
                None => write!(f, "UEFI loader: {mode}"),
            },
            LoaderNotSignedByCurrentKey {
                current, found, ..
            } => write!(
                f,
                "bootshelf's loader is not signed by your current key \"{current}\" ({found}); \
                 it boots only where its own key is enrolled: run `bootshelf update` to sign it \
                 with your current key"
            ),
            UefiLoaderUnreadable { message } => write!(f, "{message}"),
            PersistenceMissing { file, .. } => write!(
                f,
                "its persistence file {file} is missing or not where the index says, so it \
                 boots without its saved changes; `bootshelf persistence STICK NAME --remove` \
                 drops the link"
            ),
            PersistenceOrphan { size, .. } => write!(
                f,
                "persistence file ({size} bytes) that no ISO links to; `bootshelf persistence \
                 STICK --remove-orphans` deletes it"
            ),
            PersistenceWindowCovers { path } => {
                write!(f, "covers {path} (left by the last boot)")
            }
            PersistenceWindowStale { first_lba, end_lba } => write!(
                f,
                "covers sectors {first_lba}..{end_lba} which match no persistence file (stale; \
                 the next boot or writing command clears it)"
            ),
            TableDamaged { damage } => write!(
                f,
                "{damage}; `bootshelf update` rewrites it (the ISOs are kept)"
            ),
            BootCodeZeroed { piece } => write!(
                f,
                "zeroed: {}; `bootshelf update` rewrites it",
                piece.consequence()
            ),
            BootCodeBroken { piece, reason } => write!(
                f,
                "{reason}: {}; `bootshelf update` rewrites it",
                piece.consequence()
            ),
            BootCodeDiffers { .. } => write!(
                f,
                "differs from the one this bootshelf ({}) carries (another version's, or \
                 changed); `bootshelf update` writes this one",
                env!("CARGO_PKG_VERSION")
            ),
            ShimDiffers {
                piece,
                package,
                on_stick,
                installed,
            } => {
                let what = match piece {
                    BootPiece::MokManager => "MokManager",
                    _ => "shim",
                };
                let version = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".into());
                let (have, want) = (version(on_stick), version(installed));
                let order = on_stick
                    .as_deref()
                    .zip(installed.as_deref())
                    .and_then(|(a, b)| crate::secure_boot::compare_versions(a, b));
                match order {
                    Some(std::cmp::Ordering::Less) => write!(
                        f,
                        "{what} {have} is older than the installed {package}'s {want}; a \
                         machine whose SbatLevel revokes it refuses the stick: `bootshelf \
                         update` copies the installed one"
                    ),
                    Some(std::cmp::Ordering::Greater) => write!(
                        f,
                        "{what} {have} is newer than the installed {package}'s {want}; \
                         `bootshelf update` would put the older one back: upgrade {package} \
                         first"
                    ),
                    _ => write!(
                        f,
                        "{what} differs from the installed {package}'s (stick: {have}, \
                         installed: {want}); `bootshelf update` copies the installed one"
                    ),
                }
            }
            ShimNotCompared { reason } => write!(
                f,
                "shim and MokManager not compared with the installed packages: {reason}"
            ),
            EspUnreadable { reason } => write!(
                f,
                "{reason}: the stick does not boot on UEFI; `bootshelf update` rebuilds the ESP"
            ),
            Esp { issue } if issue.is_benign() => write!(f, "{issue}"),
            Esp { issue } => write!(f, "{issue}; `bootshelf update` rebuilds the ESP"),
            BootCodeCurrent => write!(
                f,
                "MBR boot code, BIOS stage 2 and UEFI loader are the ones this bootshelf ({}) carries",
                env!("CARGO_PKG_VERSION")
            ),
        }
    }
}

/// The result of `check`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Generation of the current index (0: none).
    pub generation: u64,
    /// Indexed ISOs checked.
    pub isos_checked: usize,
    /// ISOs whose hash was verified.
    pub hashes_checked: usize,
    /// Findings, in the order found.
    pub findings: Vec<Finding>,
}

impl CheckReport {
    /// Whether anything is a [`Severity::Problem`].
    pub fn has_problems(&self) -> bool {
        self.problems() > 0
    }

    /// How many findings are a [`Severity::Problem`].
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity() == Severity::Problem)
            .count()
    }
}

/// Options of `check`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Read every indexed ISO and compare its SHA-256.
    pub hash: bool,
}

/// Run the checks. `layout` is the partition table's view (`None` for a bare exFAT image).
pub fn check<D: BlockDevice + Send>(
    vol: &mut Volume<D>,
    layout: Option<&Layout>,
    opts: CheckOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<CheckReport, OpError> {
    // `read`, not `load`: a slot that cannot be read is a finding here, not a refusal.
    let store = IndexStore::read(vol, &shelf::scan::Limits::default());
    let sel = store.selection();
    let mut r = CheckReport::default();
    let files = find_iso_files(vol)?;

    if let Some((_, idx)) = &sel.current {
        r.generation = idx.generation;
    }
    r.findings.push(index_in_use(sel, !files.is_empty()));
    let has_current = sel.current.is_some();
    for (slot, err) in [(Slot::A, &sel.a_error), (Slot::B, &sel.b_error)] {
        let unread = store.unread().iter().find(|(s, _)| *s == slot);
        r.findings.extend(match unread {
            Some((_, error)) => Some(Finding::SlotUnreadable {
                slot,
                error: error.clone(),
            }),
            None => slot_state(slot, err.as_ref(), has_current),
        });
    }
    let index = store.index();

    let data = layout.map(DataPartition::of);
    let mut placed: Vec<(String, Extent)> = Vec::new();
    for e in &index.isos {
        r.isos_checked += 1;
        let hashed = indexed_iso(vol, e, data, &mut placed, opts, progress, &mut r.findings);
        if hashed {
            r.hashes_checked += 1;
        }
    }
    r.findings.extend(unindexed(&files, &index));
    r.findings
        .extend(partial_leftovers(&find_partial_files(vol)?));
    r.findings.extend(settings_name_indexed(&index));
    if let Some(l) = layout {
        r.findings.extend(window_matches(l, &index));
        r.findings.extend(data_entry_hidden(l));
    }
    r.findings.extend(persistence_present(vol, &index));
    r.findings.extend(persistence_orphans(vol, &store)?);
    if let Some(l) = layout {
        r.findings.extend(persistence_window_matches(l, &index));
    }
    Ok(r)
}

/// Rule: every linked persistence file is on the volume where its link says (a problem
/// per missing one).
pub fn persistence_present<D: BlockDevice>(vol: &mut Volume<D>, index: &Index) -> Vec<Finding> {
    let mut out = Vec::new();
    for e in &index.isos {
        if let Some(link) = &e.extensions.persistence {
            if !crate::persistence::on_volume(vol, link) {
                out.push(Finding::PersistenceMissing {
                    path: e.path.clone(),
                    file: link.path.clone(),
                });
            }
        }
    }
    out
}

/// Rule: every file in the persistence folder is linked from an ISO (a warning per
/// orphan).
pub fn persistence_orphans<D: BlockDevice>(
    vol: &mut Volume<D>,
    store: &IndexStore,
) -> Result<Vec<Finding>, OpError> {
    let orphans = crate::persistence::orphans(vol, store).map_err(|e| match e {
        crate::persistence::PersistenceError::Op(op) => op,
        other => OpError::Io {
            what: "listing persistence files".into(),
            source: std::io::Error::other(other.to_string()),
        },
    })?;
    Ok(orphans
        .into_iter()
        .map(|path| {
            let size = vol.stat(&path).map(|d| d.size).unwrap_or(0);
            Finding::PersistenceOrphan { path, size }
        })
        .collect())
}

/// Rule (MBR): the data partition's record is emptied while a window is set; normal after
/// a boot, so a note that says how it comes back.
pub fn data_entry_hidden(layout: &Layout) -> Option<Finding> {
    layout.data_hidden.then_some(Finding::DataPartitionHidden)
}

/// Rule: the persistence window entry, when set, covers exactly one linked persistence
/// file (a note naming it), else it is stale (a warning).
pub fn persistence_window_matches(layout: &Layout, index: &Index) -> Option<Finding> {
    let w = layout.persistence_window?;
    let ss = layout.sector_size;
    let (ws, wl) = (w.byte_start(ss), w.byte_len(ss));
    let found = index.isos.iter().find_map(|e| {
        e.extensions
            .persistence
            .as_ref()
            .filter(|l| l.start == ws && wl >= l.size && wl - l.size < u64::from(ss))
    });
    Some(match found {
        Some(l) => Finding::PersistenceWindowCovers {
            path: l.path.clone(),
        },
        None => Finding::PersistenceWindowStale {
            first_lba: w.first_lba(),
            end_lba: w.end_lba(),
        },
    })
}

/// The data partition in device bytes, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataPartition {
    /// First device byte.
    pub start: u64,
    /// Device byte just past the end.
    pub end: u64,
}

impl DataPartition {
    /// The data partition of `layout`.
    pub fn of(layout: &Layout) -> Self {
        let start = layout.data.byte_start(layout.sector_size);
        DataPartition {
            start,
            end: start + layout.data.byte_len(layout.sector_size),
        }
    }
}

/// Rule: which index is in use. A note naming its slot and generation; without one, a
/// note on a fresh stick, a problem when there are ISOs.
pub fn index_in_use(sel: &Selection, isos_on_stick: bool) -> Finding {
    match &sel.current {
        Some((slot, idx)) => Finding::CurrentIndex {
            slot: *slot,
            generation: idx.generation,
        },
        None if !isos_on_stick => Finding::NoIndexYet,
        None => Finding::NoValidIndex,
    }
}

/// Rule: why a slot is not in use. A missing slot beside a current index is a note (it
/// is written at the next change); an invalid one is a warning.
pub fn slot_state(slot: Slot, error: Option<&SlotError>, has_current: bool) -> Option<Finding> {
    match error? {
        SlotError::Missing if has_current => Some(Finding::SlotMissing { slot }),
        SlotError::Missing => None,
        SlotError::Invalid(e) => Some(Finding::SlotInvalid {
            slot,
            error: e.clone(),
        }),
    }
}

/// Every per-ISO rule on one indexed ISO, in order; findings go to `out`. `placed` holds
/// the extents of the ISOs checked before it (this one's are added). Returns whether its
/// SHA-256 was read and matched.
fn indexed_iso<D: BlockDevice + Send>(
    vol: &mut Volume<D>,
    e: &IsoEntry,
    data: Option<DataPartition>,
    placed: &mut Vec<(String, Extent)>,
    opts: CheckOptions,
    progress: &mut dyn FnMut(u64),
    out: &mut Vec<Finding>,
) -> bool {
    let de = match iso_file(vol, e) {
        Ok(de) => de,
        Err(f) => {
            out.push(f);
            return false;
        }
    };
    out.extend(size_matches(e, &de));
    out.extend(extents_match(vol, e, &de));
    out.extend(contiguous(e));
    for x in &e.extents {
        if let Some(data) = data {
            out.extend(inside_data_partition(&e.path, x, data));
        }
        out.extend(overlapping(&e.path, x, placed));
    }
    placed.extend(e.extents.iter().map(|x| (e.path.clone(), *x)));
    out.extend(boot_images_inside(e));
    if !opts.hash {
        return false;
    }
    match hash_matches(vol, e, progress) {
        None => true,
        Some(f) => {
            out.push(f);
            false
        }
    }
}

/// Rule: the indexed ISO's file exists and is a file. `Err` holds the finding that makes
/// the other per-ISO rules moot.
pub fn iso_file<D: BlockDevice>(vol: &mut Volume<D>, e: &IsoEntry) -> Result<DirEntry, Finding> {
    let path = || e.path.clone();
    match vol.stat(&e.path) {
        Ok(de) if de.is_dir => Err(Finding::IsoIsDirectory { path: path() }),
        Ok(de) => Ok(de),
        Err(exfat::Error::NotFound { .. }) => Err(Finding::IsoGone { path: path() }),
        Err(error) => Err(Finding::IsoLookupFailed {
            path: path(),
            error,
        }),
    }
}

/// Rule: the file has the indexed size.
pub fn size_matches(e: &IsoEntry, de: &DirEntry) -> Option<Finding> {
    (de.size != e.size).then(|| Finding::SizeMismatch {
        path: e.path.clone(),
        indexed: e.size,
        on_file_system: de.size,
    })
}

/// Rule: the file system has the file where the index says.
pub fn extents_match<D: BlockDevice>(
    vol: &mut Volume<D>,
    e: &IsoEntry,
    de: &DirEntry,
) -> Option<Finding> {
    match vol.extents(de) {
        Ok(fs) if fs != e.extents => Some(Finding::ExtentsMismatch {
            path: e.path.clone(),
            indexed: e.extents.clone(),
            on_file_system: fs,
        }),
        Ok(_) => None,
        Err(error) => Some(Finding::ExtentsUnreadable {
            path: e.path.clone(),
            error,
        }),
    }
}

/// Rule: the ISO is in one piece (else the ISO window cannot expose it).
pub fn contiguous(e: &IsoEntry) -> Option<Finding> {
    (!e.is_contiguous()).then(|| Finding::Fragmented {
        path: e.path.clone(),
        extents: e.extents.len(),
    })
}

/// Rule: an extent lies inside the data partition.
pub fn inside_data_partition(path: &str, x: &Extent, data: DataPartition) -> Option<Finding> {
    (x.start < data.start || x.start.saturating_add(x.len) > data.end).then(|| {
        Finding::OutsideDataPartition {
            path: path.to_string(),
            extent: *x,
            data_start: data.start,
            data_end: data.end,
        }
    })
}

/// Rule: an extent overlaps no extent of the ISOs `placed` before it; one finding per
/// overlapped extent.
pub fn overlapping(path: &str, x: &Extent, placed: &[(String, Extent)]) -> Vec<Finding> {
    placed
        .iter()
        .filter(|(_, y)| overlaps(x, y))
        .map(|(other, _)| Finding::Overlap {
            path: path.to_string(),
            extent: *x,
            other: other.clone(),
        })
        .collect()
}

fn overlaps(a: &Extent, b: &Extent) -> bool {
    a.start < b.start.saturating_add(b.len) && b.start < a.start.saturating_add(a.len)
}

/// Rule: every boot entry's image lies inside the file.
pub fn boot_images_inside(e: &IsoEntry) -> Vec<Finding> {
    e.boot
        .iter()
        .enumerate()
        .filter(|(_, b)| b.image_end() > e.size)
        .map(|(entry, b)| Finding::BootImagePastEnd {
            path: e.path.clone(),
            entry,
            load_rba: b.load_rba,
            image_size: b.image_size,
        })
        .collect()
}

/// Rule (`--hash`): the bytes on the stick have the indexed SHA-256. `None` when they
/// were read and match.
pub fn hash_matches<D: BlockDevice + Send>(
    vol: &mut Volume<D>,
    e: &IsoEntry,
    progress: &mut dyn FnMut(u64),
) -> Option<Finding> {
    let path = || e.path.clone();
    let Some(indexed) = e.sha256 else {
        return Some(Finding::NoHashRecorded { path: path() });
    };
    match hash_on_device(vol.device(), &e.extents, e.size, progress) {
        Ok(on_stick) if on_stick == indexed => None,
        Ok(on_stick) => Some(Finding::HashMismatch {
            path: path(),
            indexed,
            on_stick,
        }),
        Err(err) => Some(Finding::HashUnreadable {
            path: path(),
            error: err.to_string(),
        }),
    }
}

/// Rule: every ISO file on the stick is indexed.
pub fn unindexed(files: &[(String, DirEntry)], index: &Index) -> Vec<Finding> {
    files
        .iter()
        .filter(|(path, _)| index.find(path).is_none())
        .map(|(path, _)| Finding::Unindexed { path: path.clone() })
        .collect()
}

/// Rule: no leftover of an interrupted `add --force` (`partials` as
/// [`find_partial_files`] returns them).
pub fn partial_leftovers(partials: &[(String, DirEntry)]) -> Vec<Finding> {
    partials
        .iter()
        .map(|(path, de)| Finding::PartialLeftover {
            path: path.clone(),
            size: de.size,
        })
        .collect()
}

/// Rule: the default and boot-next settings name indexed ISOs.
pub fn settings_name_indexed(index: &Index) -> Vec<Finding> {
    [
        (Setting::Default, &index.settings.default),
        (Setting::BootNext, &index.settings.boot_next),
    ]
    .into_iter()
    .filter_map(|(setting, named)| {
        let p = named.as_ref()?;
        index.find(p).is_none().then(|| Finding::SettingNotIndexed {
            setting,
            names: p.clone(),
        })
    })
    .collect()
}

/// Rule: the ISO window entry, when set, covers exactly one indexed, contiguous ISO
/// (a note naming it), else it is stale (a warning).
pub fn window_matches(layout: &Layout, index: &Index) -> Option<Finding> {
    let w = layout.window?;
    Some(match window_iso(layout.sector_size, &w, index) {
        Some(e) => Finding::WindowCovers {
            path: e.path.clone(),
        },
        None => Finding::WindowStale {
            first_lba: w.first_lba(),
            end_lba: w.end_lba(),
        },
    })
}

/// The indexed, contiguous ISO that window `w` covers: it starts at the ISO's first byte
/// and is the ISO's size rounded up to a sector.
fn window_iso<'i>(sector_size: u32, w: &SectorRange, index: &'i Index) -> Option<&'i IsoEntry> {
    let ws = w.byte_start(sector_size);
    let wl = w.byte_len(sector_size);
    index.isos.iter().find(|e| {
        e.extents.first().is_some_and(|x| {
            e.is_contiguous()
                && x.start == ws
                && wl >= e.size
                && wl - e.size < u64::from(sector_size)
        })
    })
}

/// What the ESP says about the UEFI loader (docs/secure-boot.md): which one is there, and
/// whether bootshelf's is signed by `current` (the user's current certificate; `None`: no
/// key to compare with).
pub fn uefi_loader(
    esp_image: &mut [u8],
    current: Option<&crate::secure_boot::Certificate>,
) -> Vec<Finding> {
    use crate::secure_boot::{inspect_esp, Mode, Signed};
    let loader = match inspect_esp(esp_image, current) {
        Ok(l) => l,
        Err(e) => {
            return vec![Finding::UefiLoaderUnreadable {
                message: e.to_string(),
            }]
        }
    };
    let (Some(mode), Some(path)) = (loader.mode, loader.loader_path) else {
        return vec![Finding::UefiLoaderUnreadable {
            message: "the ESP holds no \\EFI\\BOOT\\BOOTX64.EFI (run `bootshelf update`)".into(),
        }];
    };
    let subject = current.map(crate::secure_boot::cert_subject);
    let mut out = Vec::new();
    match (&loader.signed, mode) {
        (_, Mode::Plain) | (None, _) => out.push(Finding::UefiLoader {
            mode: mode.describe(),
            signed_by_current_key: None,
        }),
        (Some(Signed::ByCertificate), _) => out.push(Finding::UefiLoader {
            mode: mode.describe(),
            signed_by_current_key: subject,
        }),
        (Some(other), _) => {
            out.push(Finding::UefiLoader {
                mode: mode.describe(),
                signed_by_current_key: None,
            });
            let found = match other {
                Signed::Otherwise { signers, reason } => {
                    format!("{reason}; signed by {}", signers.join(", "))
                }
                _ => "it is not signed".to_string(),
            };
            out.push(Finding::LoaderNotSignedByCurrentKey {
                path,
                current: subject.unwrap_or_default(),
                found,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bootshelf_index::{BootEntry, Emulation, PlatformId};

    fn iso(path: &str, size: u64, extents: &[(u64, u64)]) -> IsoEntry {
        IsoEntry {
            path: path.into(),
            size,
            sha256: None,
            label: String::new(),
            title: None,
            extents: extents
                .iter()
                .map(|&(start, len)| Extent { start, len })
                .collect(),
            boot: Vec::new(),
            extensions: Default::default(),
        }
    }

    #[test]
    fn messages_are_the_ones_check_printed_before_typed_findings() {
        let cases: [(Finding, Severity, &str, &str); 6] = [
            (
                Finding::CurrentIndex {
                    slot: Slot::B,
                    generation: 7,
                },
                Severity::Note,
                "/bootshelf/index.b",
                "current index, generation 7",
            ),
            (
                Finding::NoValidIndex,
                Severity::Problem,
                "index",
                "no valid index slot (run `bootshelf sync`)",
            ),
            (
                Finding::SizeMismatch {
                    path: "/a.iso".into(),
                    indexed: 10,
                    on_file_system: 12,
                },
                Severity::Problem,
                "/a.iso",
                "size 10 in the index, 12 on the file system",
            ),
            (
                Finding::HashMismatch {
                    path: "/a.iso".into(),
                    indexed: [0xAB; 32],
                    on_stick: [0x01; 32],
                },
                Severity::Problem,
                "/a.iso",
                &format!("SHA-256 {} in the index, {} on the stick", "ab".repeat(32), "01".repeat(32)),
            ),
            (
                Finding::SettingNotIndexed {
                    setting: Setting::BootNext,
                    names: "/x.iso".into(),
                },
                Severity::Warning,
                "boot-next",
                "names /x.iso, which is not indexed",
            ),
            (
                Finding::WindowStale {
                    first_lba: 100,
                    end_lba: 200,
                },
                Severity::Warning,
                "ISO window",
                "covers sectors 100..200 which match no indexed ISO (stale; the next boot rewrites it)",
            ),
        ];
        for (f, sev, subject, message) in cases {
            assert_eq!(f.severity(), sev, "{f:?}");
            assert_eq!(f.subject(), subject, "{f:?}");
            assert_eq!(f.to_string(), message, "{f:?}");
        }
    }

    #[test]
    fn index_rules_name_the_slot_and_why() {
        let empty = Selection {
            current: None,
            a_error: Some(SlotError::Missing),
            b_error: Some(SlotError::Missing),
        };
        assert_eq!(index_in_use(&empty, false), Finding::NoIndexYet);
        assert_eq!(index_in_use(&empty, true), Finding::NoValidIndex);
        assert_eq!(slot_state(Slot::A, Some(&SlotError::Missing), false), None);
        assert_eq!(
            slot_state(Slot::A, Some(&SlotError::Missing), true),
            Some(Finding::SlotMissing { slot: Slot::A })
        );
        assert_eq!(slot_state(Slot::B, None, true), None);
        let bad = bootshelf_index::decode(&[0u8; 8]).unwrap_err();
        let f = slot_state(Slot::B, Some(&SlotError::Invalid(bad.clone())), true).unwrap();
        assert_eq!(f.severity(), Severity::Warning);
        assert_eq!(f.subject(), "/bootshelf/index.b");
        assert!(f.to_string().contains(&bad.to_string()), "{f}");
    }

    #[test]
    fn placement_rules_report_each_extent() {
        let data = DataPartition {
            start: 1 << 20,
            end: 64 << 20,
        };
        let inside = Extent {
            start: 2 << 20,
            len: 4096,
        };
        let across_end = Extent {
            start: (64 << 20) - 2048,
            len: 4096,
        };
        assert_eq!(inside_data_partition("/a.iso", &inside, data), None);
        let f = inside_data_partition("/a.iso", &across_end, data).unwrap();
        assert_eq!(f.kind(), "outside_data_partition");
        assert!(
            f.to_string()
                .ends_with(&format!("[{}, {})", 1 << 20, 64 << 20)),
            "{f}"
        );

        let placed = vec![
            (
                "/b.iso".to_string(),
                Extent {
                    start: 0x20_0800,
                    len: 10,
                },
            ),
            (
                "/c.iso".to_string(),
                Extent {
                    start: 0x30_0000,
                    len: 10,
                },
            ),
            (
                "/d.iso".to_string(),
                Extent {
                    start: 0x20_0000,
                    len: 1,
                },
            ),
        ];
        let hits: Vec<String> = overlapping("/a.iso", &inside, &placed)
            .iter()
            .map(|f| match f {
                Finding::Overlap { other, .. } => other.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(hits, ["/b.iso", "/d.iso"]);
        // Touching is not overlapping.
        let next = Extent {
            start: inside.start + inside.len,
            len: 1,
        };
        assert!(overlapping("/e.iso", &next, &[("/a.iso".into(), inside)]).is_empty());
    }

    #[test]
    fn entry_rules_fragmented_and_boot_images() {
        let one = iso("/one.iso", 8192, &[(1 << 20, 8192)]);
        assert_eq!(contiguous(&one), None);
        let two = iso("/two.iso", 8192, &[(1 << 20, 4096), (2 << 20, 4096)]);
        assert_eq!(
            contiguous(&two),
            Some(Finding::Fragmented {
                path: "/two.iso".into(),
                extents: 2
            })
        );
        let mut e = one.clone();
        let boot = |load_rba, image_size| BootEntry {
            platform: PlatformId::X86,
            emulation: Emulation(0),
            bootable: true,
            system_type: 0,
            load_segment: 0,
            sector_count: 4,
            load_rba,
            image_size,
            efi: Default::default(),
        };
        // Sector 3 of an 8192-byte file ends at byte 8192: inside; sector 3 + 1 byte: not.
        e.boot = vec![boot(3, 2048), boot(3, 2049), boot(u32::MAX, u64::MAX)];
        let past: Vec<usize> = boot_images_inside(&e)
            .iter()
            .map(|f| match f {
                Finding::BootImagePastEnd { entry, .. } => *entry,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(past, [1, 2]);
    }

    #[test]
    fn settings_and_window_rules() {
        let mut index = Index::default();
        index.isos.push(iso("/a.iso", 5000, &[(1 << 20, 8192)]));
        index.settings.default = Some("/a.iso".into());
        index.settings.boot_next = Some("/gone.iso".into());
        assert_eq!(
            settings_name_indexed(&index),
            [Finding::SettingNotIndexed {
                setting: Setting::BootNext,
                names: "/gone.iso".into()
            }]
        );

        let mut layout = Layout::plan(crate::Scheme::Gpt, 512, 256 << 11).unwrap();
        assert_eq!(window_matches(&layout, &index), None, "no window set");
        // 5000 bytes round up to 10 sectors of 512.
        layout.window = SectorRange::new(2048, 10);
        assert_eq!(
            window_matches(&layout, &index),
            Some(Finding::WindowCovers {
                path: "/a.iso".into()
            })
        );
        layout.window = SectorRange::new(2048, 11);
        assert_eq!(
            window_matches(&layout, &index),
            Some(Finding::WindowStale {
                first_lba: 2048,
                end_lba: 2059
            })
        );
    }
}
