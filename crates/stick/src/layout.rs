//! The stick's layout (docs/stick-layout.md): where the data partition, the ESP, the BIOS
//! stage-2 area and the ISO window slot are; planning it for `install` and recognising it
//! on a disk for every other command ([`Stick::open`]).

use crate::device::{self, DiskInfo, TargetKind};
use blockdev::{BlockDevice, FileDevice, IoError};
use ptable::gpt::types as gpt_types;
use ptable::{Partition, PartitionType, Table};
use std::fmt;
use std::path::{Path, PathBuf};

/// Partitions are aligned to 1 MiB; the data partition starts at 1 MiB.
pub const ALIGN_BYTES: u64 = 1 << 20;
/// Size of the EFI System Partition.
pub const ESP_BYTES: u64 = 32 << 20;
/// The smallest data partition we make.
pub const MIN_DATA_BYTES: u64 = 16 << 20;
/// The smallest disk we accept: 1 MiB boot area + data + ESP + 1 MiB for alignment and the
/// backup GPT.
pub const MIN_DISK_BYTES: u64 = ALIGN_BYTES + MIN_DATA_BYTES + ESP_BYTES + ALIGN_BYTES;
/// GPT partition name of the data partition (also the exFAT label).
pub const DATA_NAME: &str = "BOOTSHELF";
/// GPT partition name of the ESP.
pub const ESP_NAME: &str = "BOOTSHELF EFI";
/// GPT partition name of the BIOS boot partition.
pub const BIOS_NAME: &str = "BOOTSHELF BIOS";
/// Entry number (1-based, GPT and MBR alike) of the data partition.
pub const DATA_ENTRY: u32 = 1;
/// Entry number of the ESP.
pub const ESP_ENTRY: u32 = 2;
/// Entry number of the BIOS boot partition (GPT only; MBR leaves entry 3 empty).
pub const BIOS_ENTRY: u32 = 3;
/// Entry number reserved for the ISO window, written by the bootloaders at boot.
pub const WINDOW_ENTRY: u32 = 4;
/// MBR partition type of the data partition (exFAT/NTFS).
pub const MBR_TYPE_DATA: u8 = 0x07;
/// MBR partition type of the ESP.
pub const MBR_TYPE_ESP: u8 = 0xEF;

/// Partitioning scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// GUID partition table with a protective MBR (the default).
    Gpt,
    /// Classic MBR (`install --mbr`), for firmware that dislikes GPT.
    Mbr,
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Gpt => "GPT",
            Scheme::Mbr => "MBR",
        })
    }
}

/// A run of device sectors, never empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SectorRange {
    first_lba: u64,
    sectors: u64,
}

impl SectorRange {
    /// `sectors` sectors from `first_lba`; `None` when empty or overflowing.
    pub fn new(first_lba: u64, sectors: u64) -> Option<Self> {
        if sectors == 0 || first_lba.checked_add(sectors).is_none() {
            return None;
        }
        Some(SectorRange { first_lba, sectors })
    }
    /// First sector.
    pub fn first_lba(&self) -> u64 {
        self.first_lba
    }
    /// Number of sectors.
    pub fn sectors(&self) -> u64 {
        self.sectors
    }
    /// One past the last sector.
    pub fn end_lba(&self) -> u64 {
        self.first_lba + self.sectors
    }
    /// Last sector (inclusive).
    pub fn last_lba(&self) -> u64 {
        self.end_lba() - 1
    }
    /// Byte offset of the start on a disk of `sector_size`-byte sectors.
    pub fn byte_start(&self, sector_size: u32) -> u64 {
        self.first_lba * u64::from(sector_size)
    }
    /// Length in bytes.
    pub fn byte_len(&self, sector_size: u32) -> u64 {
        self.sectors * u64::from(sector_size)
    }
}

/// The stick's layout, planned by `install` or found by [`Stick::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// GPT or MBR.
    pub scheme: Scheme,
    /// Logical sector size: 512 or 4096.
    pub sector_size: u32,
    /// Sectors on the whole disk.
    pub disk_sectors: u64,
    /// Partition 1: exFAT, label BOOTSHELF, from 1 MiB up to the ESP.
    pub data: SectorRange,
    /// Partition 2: the EFI System Partition (FAT), at the end.
    pub esp: SectorRange,
    /// Where BIOS stage 2 lives: GPT partition 3 (BIOS boot) from the first usable LBA up
    /// to 1 MiB; MBR: the gap from LBA 1 up to 1 MiB.
    pub bios_boot: SectorRange,
    /// The ISO window slot: entry [`WINDOW_ENTRY`], and the range it currently covers
    /// when a bootloader has filled it in.
    pub window: Option<SectorRange>,
    /// The persistence window slot (GPT entry 5, MBR slot 3): the range it covers when a
    /// bootloader filled it in over a persistence file (docs/persistence.md).
    pub persistence_window: Option<SectorRange>,
    /// MBR: the data partition's record is emptied (type 0x00, LBAs kept) while a
    /// bootloader's window is set, so UEFI firmware accepts the table (docs/window.md,
    /// "MBR sticks"); clearing the window restores it. Only `true` with `window`.
    pub data_hidden: bool,
}

impl Layout {
    /// Plan the layout of a fresh stick on a disk of `disk_sectors` sectors.
    pub fn plan(scheme: Scheme, sector_size: u32, disk_sectors: u64) -> Result<Layout, Error> {
        if sector_size != 512 && sector_size != 4096 {
            return Err(Error::UnsupportedSectorSize(sector_size));
        }
        let ss = u64::from(sector_size);
        let size = disk_sectors.saturating_mul(ss);
        if size < MIN_DISK_BYTES {
            return Err(Error::TooSmall {
                size,
                min: MIN_DISK_BYTES,
            });
        }
        let align = ALIGN_BYTES / ss;
        // GPT: the primary header and entries take LBA 1 up to the first usable LBA, the
        // backup entries and header the sectors after the last usable one.
        let gpt = ptable::write::GptGeometry::new(sector_size, disk_sectors)
            .map_err(crate::partition_write::table_error)?;
        let usable_end = match scheme {
            Scheme::Gpt => gpt.last_usable_lba() + 1,
            Scheme::Mbr => {
                if disk_sectors > u64::from(u32::MAX) {
                    return Err(Error::TooLargeForMbr {
                        size,
                        max: u64::from(u32::MAX) * ss,
                    });
                }
                disk_sectors
            }
        };
        let esp_sectors = ESP_BYTES / ss;
        let esp_end = usable_end / align * align;
        let esp_first = esp_end - esp_sectors;
        let data_first = align;
        let bios_first = match scheme {
            Scheme::Gpt => gpt.first_usable_lba(),
            Scheme::Mbr => 1,
        };
        let bad = |what| Error::Internal(what);
        Ok(Layout {
            scheme,
            sector_size,
            disk_sectors,
            data: SectorRange::new(data_first, esp_first - data_first)
                .ok_or(bad("empty data partition"))?,
            esp: SectorRange::new(esp_first, esp_sectors).ok_or(bad("empty ESP"))?,
            bios_boot: SectorRange::new(bios_first, data_first - bios_first)
                .ok_or(bad("empty BIOS area"))?,
            window: None,
            persistence_window: None,
            data_hidden: false,
        })
    }

    /// Bytes available to BIOS stage 2.
    pub fn stage2_capacity(&self) -> u64 {
        self.bios_boot.byte_len(self.sector_size)
    }

    /// The two places stage 2 can be, by first LBA: slot A at the start of the BIOS boot
    /// area (where `install` writes it), slot B in its second half. `update` writes a new
    /// stage 2 into the slot the MBR does not load from, then points the MBR at it in one
    /// sector write (docs/stick-layout.md, "Write order of `update`").
    pub fn stage2_slots(&self) -> [u64; 2] {
        let first = self.bios_boot.first_lba();
        [first, first + self.bios_boot.sectors() / 2]
    }

    /// Bytes a stage 2 may have to fit one slot (half the BIOS boot area).
    pub fn stage2_slot_capacity(&self) -> u64 {
        self.bios_boot.sectors() / 2 * u64::from(self.sector_size)
    }

    /// Recognise a bootshelf layout in a partition table read by `ptable` (the reader the
    /// bootloaders use). On top of [`ptable::Layout::of`] (data partition, ESP, window
    /// slot) a stick has its data partition at 1 MiB, the ESP after it, and (GPT) the data
    /// partition named [`DATA_NAME`] and a BIOS boot partition before it, (MBR) slot 3
    /// unused. The error is a description of the table, for [`Error::NotAStick`].
    fn recognise(table: &Table, sector_size: u32, disk_sectors: u64) -> Result<Layout, String> {
        let describe = || table.describe();
        let found = ptable::Layout::of(table).map_err(|_| describe())?;
        // A foreign partition 4 is no stick of ours to write to (the loaders still boot it).
        // (The description lists partition 4 with its type.)
        if found.foreign_slot.is_some() {
            return Err(describe());
        }
        let align = ALIGN_BYTES / u64::from(sector_size);
        let range = |p: &Partition| {
            if p.last_lba < p.first_lba || p.last_lba >= disk_sectors {
                None
            } else {
                SectorRange::new(p.first_lba, p.last_lba - p.first_lba + 1)
            }
        };
        if found.data.first_lba != align {
            return Err(describe());
        }
        let data = range(&found.data).ok_or_else(describe)?;
        let esp = range(&found.esp)
            .filter(|r| r.first_lba() >= data.end_lba())
            .ok_or_else(describe)?;
        let window = found
            .window
            .and_then(|w| SectorRange::new(w.first(), w.sectors()));
        let persistence_window = found
            .persistence
            .and_then(|w| SectorRange::new(w.first(), w.sectors()));
        let (scheme, bios_boot) = match table.scheme() {
            ptable::Scheme::Gpt => {
                let bios = table
                    .partition(BIOS_ENTRY)
                    .filter(|b| b.kind == PartitionType::Gpt(gpt_types::BIOS_BOOT))
                    .and_then(|b| range(&b))
                    .filter(|r| r.end_lba() <= data.first_lba());
                match bios {
                    Some(b) if found.data.name == DATA_NAME => (Scheme::Gpt, b),
                    _ => return Err(describe()),
                }
            }
            ptable::Scheme::Mbr => {
                // Slot 3 is unused or the persistence window.
                if found.foreign_persistence_slot.is_some() {
                    return Err(describe());
                }
                let gap = SectorRange::new(1, align - 1).ok_or_else(describe)?;
                (Scheme::Mbr, gap)
            }
        };
        Ok(Layout {
            scheme,
            sector_size,
            disk_sectors,
            data,
            esp,
            bios_boot,
            window,
            persistence_window,
            data_hidden: found.data_hidden,
        })
    }
}

/// Damage to a stick's partition table that `bootshelf update` repairs, found by
/// [`Stick::open_for_repair`] and reported by `bootshelf check`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableDamage {
    /// LBA 0 holds no MBR (no 0x55AA signature), but the stick is still recognised: by
    /// its GPT (the protective MBR and the boot code are gone), or, for an MBR stick whose
    /// partition table was in LBA 0, by its partitions exactly where `install` puts them
    /// (an exFAT at 1 MiB whose length is the planned data partition's, the ESP's FAT
    /// right after it).
    Lba0Lost {
        /// The stick's scheme.
        scheme: Scheme,
        /// Whether its first 512 bytes are all zero.
        zeroed: bool,
    },
    /// One GPT copy does not validate; the other is in use.
    GptCopyInvalid {
        /// The bad copy.
        copy: ptable::GptCopy,
        /// Why it does not validate (LBA, field, value).
        error: ptable::Error,
    },
    /// Both GPT copies validate but describe different tables (an interrupted table
    /// write); the primary is in use.
    GptCopiesDiffer,
    /// Neither GPT copy validates and LBA 0 says nothing either, but the data partition
    /// and the ESP are exactly where `install` puts them on a GPT disk this size (as
    /// [`TableDamage::Lba0Lost`] finds an MBR stick).
    GptLost {
        /// Why no table was read (ptable's error: both GPT copies, or no table in LBA 0).
        why: String,
    },
}

impl fmt::Display for TableDamage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableDamage::Lba0Lost { scheme, zeroed } => write!(
                f,
                "LBA 0 is {}: {}",
                if *zeroed {
                    "zeroed"
                } else {
                    "not an MBR (no 0x55AA)"
                },
                match scheme {
                    Scheme::Gpt =>
                        "the protective MBR and the MBR boot code are gone (the GPT is intact)",
                    Scheme::Mbr =>
                        "the MBR partition table and boot code are gone (the data partition \
                         and the ESP are where install put them)",
                }
            ),
            TableDamage::GptCopyInvalid { copy, error } => {
                write!(
                    f,
                    "the {copy} does not validate ({error}); the other copy is in use"
                )
            }
            TableDamage::GptCopiesDiffer => f.write_str(
                "the primary and backup GPT describe different tables; the primary is in use",
            ),
            TableDamage::GptLost { why } => write!(
                f,
                "no partition table can be read ({why}), but the data partition and the ESP \
                 are where install puts them on a GPT disk"
            ),
        }
    }
}

/// Errors of the stick's layout, opening and installing.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Opening or inspecting the target failed.
    Open {
        /// The target.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A sector read or write failed.
    Io {
        /// What we were doing.
        what: &'static str,
        /// The device's error.
        source: IoError,
    },
    /// The disk holds something else than a bootshelf stick.
    NotAStick {
        /// The target.
        path: PathBuf,
        /// What was found instead.
        found: String,
    },
    /// The partition table could not be read.
    BadTable {
        /// The target.
        path: PathBuf,
        /// Why, as `ptable` found it (with the LBA and the bad value).
        source: ptable::Error,
    },
    /// The logical sector size is neither 512 nor 4096.
    UnsupportedSectorSize(u32),
    /// The disk is too small for a stick.
    TooSmall {
        /// Its size in bytes.
        size: u64,
        /// The minimum.
        min: u64,
    },
    /// An MBR stick can address at most 2^32 sectors.
    TooLargeForMbr {
        /// Disk size in bytes.
        size: u64,
        /// The largest size MBR can address with this sector size.
        max: u64,
    },
    /// The boot code does not fit its place.
    BootCodeTooLarge {
        /// Which piece ("MBR boot code", "BIOS stage 2").
        what: &'static str,
        /// Its length.
        len: usize,
        /// Room available.
        max: u64,
    },
    /// Formatting or reading the exFAT data partition failed.
    Exfat {
        /// What we were doing.
        what: &'static str,
        /// The exFAT error, as text.
        message: String,
    },
    /// Building or changing the ESP's FAT file system failed.
    Esp {
        /// What we were doing.
        what: &'static str,
        /// The detail.
        message: String,
    },
    /// ptable's writer refused the planned partition table (a bug: the plan is checked).
    Table {
        /// What the writer found wrong.
        source: ptable::Error,
    },
    /// The ESP is not the FAT file system bootshelf wrote.
    BadEsp {
        /// What is wrong, with offsets.
        message: String,
    },
    /// Refused for safety: the target is in use, the system disk, or not removable.
    Refused {
        /// The target.
        path: PathBuf,
        /// Why, and what the user can do.
        reason: String,
    },
    /// Another bootshelf command is using the stick (its lock, see [`device::lock_holder`]).
    Locked {
        /// The target.
        path: PathBuf,
        /// Who holds the lock, when /proc/locks says.
        holder: Option<device::LockHolder>,
    },
    /// LBA 0 of a GPT stick is lost ([`TableDamage::Lba0Lost`]); only `check` and
    /// `update` open such a stick ([`Stick::open_for_repair`]).
    Lba0Lost {
        /// The target.
        path: PathBuf,
        /// The stick's scheme.
        scheme: Scheme,
        /// Whether LBA 0 is all zero.
        zeroed: bool,
    },
    /// The GPT of a stick is gone ([`TableDamage::GptLost`]); only `check` and `update`
    /// open such a stick ([`Stick::open_for_repair`]).
    GptLost {
        /// The target.
        path: PathBuf,
        /// Why no table was read.
        why: String,
    },
    /// An invariant of our own code failed (a bug, reported rather than a panic).
    Internal(&'static str),
    /// Secure Boot setup failed: the user's key, or the shim files (the message says which
    /// and what to do).
    SecureBoot(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Open { path, source } => write!(f, "cannot open {}: {source}", path.display()),
            Error::Io { what, source } => write!(f, "{what}: {source}"),
            Error::NotAStick { path, found } => write!(
                f,
                "{} is not a bootshelf stick (found {found}); to make it one, run \
                 `bootshelf install {}` (this erases it)",
                path.display(),
                path.display()
            ),
            Error::BadTable { path, source } => write!(
                f,
                "{}: {source}; if this is a bootshelf stick, its partition table is damaged \
                 (reinstall with `bootshelf install`, which erases it)",
                path.display()
            ),
            Error::UnsupportedSectorSize(s) => write!(
                f,
                "logical sector size {s} is not supported (only 512 and 4096)"
            ),
            Error::TooSmall { size, min } => write!(
                f,
                "the disk has {size} bytes; a stick needs at least {min} bytes ({} MiB)",
                min >> 20
            ),
            Error::TooLargeForMbr { size, max } => write!(
                f,
                "the disk has {size} bytes but an MBR can address only {max}; use GPT (drop --mbr)"
            ),
            Error::BootCodeTooLarge { what, len, max } => {
                write!(f, "{what} is {len} bytes but only {max} bytes fit")
            }
            Error::Exfat { what, message } => write!(f, "{what}: {message}"),
            Error::Esp { what, message } => write!(f, "EFI system partition: {what}: {message}"),
            Error::Table { source } => write!(f, "writing the partition table: {source}"),
            Error::BadEsp { message } => write!(
                f,
                "the EFI system partition is not as bootshelf wrote it: {message}"
            ),
            Error::Refused { path, reason } => {
                write!(f, "refusing to touch {}: {reason}", path.display())
            }
            Error::Locked { path, holder } => match holder {
                Some(h) => write!(f, "{h} is using {}; wait for it to finish", path.display()),
                None => write!(
                    f,
                    "another bootshelf command is using {} (it holds its lock); wait for it \
                     to finish",
                    path.display()
                ),
            },
            Error::Lba0Lost {
                path,
                scheme,
                zeroed,
            } => write!(
                f,
                "{}: {}; run `bootshelf update {}` to rewrite it (the ISOs are kept)",
                path.display(),
                TableDamage::Lba0Lost {
                    scheme: *scheme,
                    zeroed: *zeroed
                },
                path.display()
            ),
            Error::GptLost { path, why } => write!(
                f,
                "{}: {}; run `bootshelf update {}` to rewrite the partition table (the ISOs are \
                 kept)",
                path.display(),
                TableDamage::GptLost { why: why.clone() },
                path.display()
            ),
            Error::Internal(what) => write!(f, "internal error (a bug in bootshelf): {what}"),
            Error::SecureBoot(message) => write!(f, "Secure Boot: {message}"),
        }
    }
}

/// The messages above already include their cause's text, so no `source()` is
/// reported (anyhow's `{:#}` would print it twice).
impl std::error::Error for Error {}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An opened stick: its device and its layout.
pub struct Stick {
    path: PathBuf,
    dev: FileDevice,
    layout: Layout,
    kind: TargetKind,
    damage: Vec<TableDamage>,
    kernel: Option<crate::kernel::KernelTable>,
}

impl fmt::Debug for Stick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stick")
            .field("path", &self.path)
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl Stick {
    /// Open an image file or a block device (exclusively) and find the stick's layout.
    /// Fails with [`Error::NotAStick`] when the disk holds something else. Read-only
    /// unless `writable`. The sector size of an image file is found from its table.
    pub fn open(path: &Path, writable: bool) -> Result<Stick> {
        let stick = Stick::open_for_repair(path, writable)?;
        match stick.damage.iter().find_map(|d| match d {
            TableDamage::Lba0Lost { scheme, zeroed } => Some((*scheme, *zeroed)),
            _ => None,
        }) {
            Some((scheme, zeroed)) => Err(Error::Lba0Lost {
                path: path.to_owned(),
                scheme,
                zeroed,
            }),
            None => match stick.damage.iter().find_map(|d| match d {
                TableDamage::GptLost { why } => Some(why.clone()),
                _ => None,
            }) {
                Some(why) => Err(Error::GptLost {
                    path: path.to_owned(),
                    why,
                }),
                None => Ok(stick),
            },
        }
    }

    /// [`Stick::open`] that also accepts a stick whose partition table `update` can
    /// repair ([`Stick::table_damage`] says what is wrong): for `check` and `update`.
    /// A GPT stick whose LBA 0 is lost is opened from its GPT; its ISO window (if any)
    /// is not cleared then, since the table cannot be rewritten before LBA 0 is.
    pub fn open_for_repair(path: &Path, writable: bool) -> Result<Stick> {
        let (mut dev, kind) = device::open_target(path, writable, None)?;
        if matches!(kind, TargetKind::Image) {
            if let Some(ss) = detect_image_sector_size(&mut dev)? {
                if ss != dev.sector_size() {
                    let len = dev
                        .file()
                        .metadata()
                        .map_err(|source| Error::Open {
                            path: path.to_owned(),
                            source,
                        })?
                        .len();
                    let file = dev.file().try_clone().map_err(|source| Error::Open {
                        path: path.to_owned(),
                        source,
                    })?;
                    dev = FileDevice::new(file, ss, len);
                }
            }
        }
        let (layout, damage) = read_layout_for_repair(&mut dev, path)?;
        let lba0_lost = damage.iter().any(|d| {
            matches!(
                d,
                TableDamage::Lba0Lost { .. } | TableDamage::GptLost { .. }
            )
        });
        let mut stick = Stick {
            path: path.to_owned(),
            dev,
            layout,
            kind,
            damage,
            kernel: None,
        };
        if writable && !lba0_lost {
            // Every command that writes the stick removes a stale ISO window first
            // (docs/window.md; crate::window).
            stick.clear_window()?;
        }
        Ok(stick)
    }

    /// Drop the window from the layout after it was cleared on the disk (crate::window).
    pub(crate) fn forget_window(&mut self) -> Option<SectorRange> {
        self.layout.persistence_window = None;
        self.layout.data_hidden = false;
        self.layout.window.take()
    }

    pub(crate) fn from_parts(
        path: PathBuf,
        dev: FileDevice,
        layout: Layout,
        kind: TargetKind,
    ) -> Stick {
        Stick {
            path,
            dev,
            layout,
            kind,
            damage: Vec::new(),
            kernel: None,
        }
    }

    /// What the kernel was told after `install` wrote the partition table of a block
    /// device (`None` for image files and sticks only opened).
    pub fn kernel_table(&self) -> Option<&crate::kernel::KernelTable> {
        self.kernel.as_ref()
    }

    pub(crate) fn set_kernel_table(&mut self, k: crate::kernel::KernelTable) {
        self.kernel = Some(k);
    }

    /// What is wrong with the partition table (empty when nothing), as found when it was
    /// opened.
    pub fn table_damage(&self) -> &[TableDamage] {
        &self.damage
    }

    /// Forget the damage `update` repaired.
    pub(crate) fn set_table_damage(&mut self, damage: Vec<TableDamage>) {
        self.damage = damage;
    }

    /// The layout found.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The device (image file or block device), in its logical sectors.
    pub fn device(&mut self) -> &mut FileDevice {
        &mut self.dev
    }

    /// Give the device back.
    pub fn into_device(self) -> FileDevice {
        self.dev
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Disk facts when it is a block device (model, vendor, removable), `None` for images.
    pub fn disk_info(&self) -> Option<&DiskInfo> {
        match &self.kind {
            TargetKind::Image => None,
            TargetKind::Block(info) => Some(info),
        }
    }
}

/// Read the partition table of `dev` and recognise a stick in it.
pub fn read_layout<D: BlockDevice>(dev: &mut D, path: &Path) -> Result<Layout> {
    let (layout, damage) = read_layout_for_repair(dev, path)?;
    for d in damage {
        match d {
            TableDamage::Lba0Lost { scheme, zeroed } => {
                return Err(Error::Lba0Lost {
                    path: path.to_owned(),
                    scheme,
                    zeroed,
                })
            }
            TableDamage::GptLost { why } => {
                return Err(Error::GptLost {
                    path: path.to_owned(),
                    why,
                })
            }
            _ => {}
        }
    }
    Ok(layout)
}

/// [`read_layout`] that also recognises a stick with repairable table damage: a GPT
/// stick whose LBA 0 holds no MBR (its GPT is read without the protective MBR), one GPT
/// copy bad or the copies differing (ptable reads the good one).
pub fn read_layout_for_repair<D: BlockDevice>(
    dev: &mut D,
    path: &Path,
) -> Result<(Layout, Vec<TableDamage>)> {
    let mut damage = Vec::new();
    let table = match Table::read(dev) {
        Ok(t) => t,
        Err(e @ ptable::Error::MbrSignature { .. }) => match gpt_without_lba0(dev)? {
            Some((t, zeroed)) => {
                damage.push(TableDamage::Lba0Lost {
                    scheme: Scheme::Gpt,
                    zeroed,
                });
                t
            }
            None => {
                if let Some((layout, zeroed)) = stick_by_its_partitions(dev, Scheme::Mbr)? {
                    let damage = vec![TableDamage::Lba0Lost {
                        scheme: Scheme::Mbr,
                        zeroed,
                    }];
                    return Ok((layout, damage));
                }
                if let Some((layout, _)) = stick_by_its_partitions(dev, Scheme::Gpt)? {
                    let why = "no MBR in LBA 0, no GPT".to_owned();
                    return Ok((layout, vec![TableDamage::GptLost { why }]));
                }
                return Err(table_error(e, path));
            }
        },
        Err(e @ ptable::Error::NoValidGpt { .. }) => {
            if let Some((layout, _)) = stick_by_its_partitions(dev, Scheme::Gpt)? {
                let why = e.to_string();
                return Ok((layout, vec![TableDamage::GptLost { why }]));
            }
            return Err(table_error(e, path));
        }
        Err(e) => return Err(table_error(e, path)),
    };
    if let Table::Gpt { gpt, .. } = &table {
        match gpt.health() {
            ptable::GptHealth::Clean => {}
            ptable::GptHealth::PrimaryInvalid(error) => damage.push(TableDamage::GptCopyInvalid {
                copy: ptable::GptCopy::Primary,
                error: error.clone(),
            }),
            ptable::GptHealth::BackupInvalid(error) => damage.push(TableDamage::GptCopyInvalid {
                copy: ptable::GptCopy::Backup,
                error: error.clone(),
            }),
            ptable::GptHealth::CopiesDiffer => damage.push(TableDamage::GptCopiesDiffer),
        }
    }
    let layout =
        Layout::recognise(&table, dev.sector_size(), dev.sector_count()).map_err(|found| {
            Error::NotAStick {
                path: path.to_owned(),
                found,
            }
        })?;
    // The table is written last by install, but check the data partition really holds
    // exFAT so that an MBR disk with an NTFS partition 1 is not taken for a stick.
    let ss = dev.sector_size() as usize;
    let mut boot = vec![0u8; ss];
    dev.read_sectors(layout.data.first_lba(), &mut boot)
        .map_err(|source| Error::Io {
            what: "reading the data partition's boot sector",
            source,
        })?;
    if boot.get(3..11) != Some(&exfat::raw::boot::FS_NAME[..]) {
        let oem = String::from_utf8_lossy(boot.get(3..11).unwrap_or(&[])).into_owned();
        return Err(Error::NotAStick {
            path: path.to_owned(),
            found: format!(
                "the partition table of a stick, but partition 1 holds no exFAT (OEM name {oem:?} \
                 at byte offset {})",
                layout.data.byte_start(layout.sector_size) + 3
            ),
        });
    }
    Ok((layout, damage))
}

/// LBA 0 holds no MBR: is there a GPT behind where its protective MBR was? Returns the
/// table as if LBA 0 were the protective MBR `install` writes, and whether LBA 0 is all
/// zero; `None` when no GPT copy validates either.
fn gpt_without_lba0<D: BlockDevice>(dev: &mut D) -> Result<Option<(Table, bool)>> {
    let Ok(gpt) = ptable::Gpt::read(dev) else {
        return Ok(None);
    };
    let disk = dev.sector_count();
    let pmbr = ptable::write::protective_mbr_sector(disk, &[0; ptable::write::BOOT_CODE_BYTES]);
    let protective = ptable::Mbr::parse(&pmbr, disk).map_err(|source| Error::Table { source })?;
    let mut lba0 = vec![0u8; dev.sector_size() as usize];
    dev.read_sectors(0, &mut lba0).map_err(|source| Error::Io {
        what: "reading LBA 0",
        source,
    })?;
    let zeroed = lba0.iter().take(512).all(|&b| b == 0);
    Ok(Some((
        Table::Gpt {
            protective,
            gpt: Box::new(gpt),
        },
        zeroed,
    )))
}

/// No partition table can be read: is this a `scheme` stick whose table is lost? Only
/// when both partitions are exactly where `install` puts them on a disk this size with
/// this scheme: the data partition's exFAT at 1 MiB, as long as planned, and a FAT
/// labelled [`crate::esp::LABEL`] at the planned ESP (the two schemes' plans differ by
/// the room the backup GPT takes, so at most one matches). Returns the planned layout
/// and whether LBA 0 is all zero.
fn stick_by_its_partitions<D: BlockDevice>(
    dev: &mut D,
    scheme: Scheme,
) -> Result<Option<(Layout, bool)>> {
    let Ok(plan) = Layout::plan(scheme, dev.sector_size(), dev.sector_count()) else {
        return Ok(None);
    };
    let ss = dev.sector_size() as usize;
    let io = |what| move |source| Error::Io { what, source };
    let mut sector = vec![0u8; ss];
    dev.read_sectors(plan.data.first_lba(), &mut sector)
        .map_err(io("reading the data partition's boot sector"))?;
    use exfat::raw::boot as xb;
    let u64_at = |b: &[u8], at: usize| {
        b.get(at..at + 8)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .map(u64::from_le_bytes)
    };
    let exfat_len = sector
        .get(xb::BYTES_PER_SECTOR_SHIFT)
        .filter(|&&shift| (9..=12).contains(&shift))
        .and_then(|&shift| Some(u64_at(&sector, xb::VOLUME_LENGTH)? << shift));
    if sector.get(xb::FILE_SYSTEM_NAME..xb::FILE_SYSTEM_NAME + 8) != Some(&xb::FS_NAME[..])
        || exfat_len != Some(plan.data.byte_len(plan.sector_size))
    {
        return Ok(None);
    }
    dev.read_sectors(plan.esp.first_lba(), &mut sector)
        .map_err(io("reading the ESP's boot sector"))?;
    // FAT16 BS_VolLab at byte 43, FAT32 at 71.
    let labelled = [43usize, 71]
        .iter()
        .any(|&at| sector.get(at..at + 11) == Some(&crate::esp::LABEL[..]));
    if sector.get(510..512) != Some(&[0x55, 0xAA][..]) || !labelled {
        return Ok(None);
    }
    dev.read_sectors(0, &mut sector)
        .map_err(io("reading LBA 0"))?;
    let zeroed = sector.iter().take(512).all(|&b| b == 0);
    Ok(Some((plan, zeroed)))
}

/// What a table that `ptable` refuses to read means for `Stick::open`: no table at all,
/// an MBR that is not a partition table we can use (both: not a stick, saying what was
/// found), a damaged GPT, or a failed read.
fn table_error(e: ptable::Error, path: &Path) -> Error {
    let not_a_stick = |found: String| Error::NotAStick {
        path: path.to_owned(),
        found,
    };
    match e {
        ptable::Error::Io { error, .. } => Error::Io {
            what: "reading the partition table",
            source: error,
        },
        ptable::Error::MbrSignature { .. } | ptable::Error::DiskTooSmall { .. } => {
            not_a_stick("no partition table".into())
        }
        e @ (ptable::Error::MbrBootIndicator { .. } | ptable::Error::MbrRecordRange { .. }) => {
            not_a_stick(format!("an MBR that is not a valid partition table ({e})"))
        }
        source => Error::BadTable {
            path: path.to_owned(),
            source,
        },
    }
}

/// Guess an image file's logical sector size from its partition table: a GPT header at
/// byte 512 or 4096, else an MBR whose first partition starts at 1 MiB in 512- or
/// 4096-byte sectors. `None` when nothing tells.
pub(crate) fn detect_image_sector_size(dev: &mut FileDevice) -> Result<Option<u32>> {
    use std::os::unix::fs::FileExt;
    let mut head = vec![0u8; 8192];
    let n = dev.file().read_at(&mut head, 0).map_err(|e| Error::Io {
        what: "reading the first sectors",
        source: IoError::Device {
            code: e.raw_os_error().unwrap_or(-1) as u32 as u64,
            offset: 0,
        },
    })?;
    head.truncate(n);
    for ss in [512u32, 4096] {
        let at = ss as usize;
        if head.get(at..at + 8) == Some(&ptable::raw::GPT_SIGNATURE[..]) {
            return Ok(Some(ss));
        }
    }
    let mbr = head
        .get(..512)
        .and_then(|s| <&[u8; 512]>::try_from(s).ok())
        .map(ptable::raw::MbrSector::from_bytes)
        .filter(|m| m.signature == ptable::raw::MBR_SIGNATURE);
    if let Some(mbr) = mbr {
        let first = u64::from(mbr.partition_record[0].starting_lba);
        if first * 512 == ALIGN_BYTES {
            return Ok(Some(512));
        }
        if first * 4096 == ALIGN_BYTES {
            return Ok(Some(4096));
        }
        return Ok(None);
    }
    // No table in LBA 0 (an MBR stick whose LBA 0 was lost): the data partition's exFAT
    // at 1 MiB says its sector size.
    let mut boot = [0u8; 512];
    let n = dev.file().read_at(&mut boot, ALIGN_BYTES).unwrap_or(0);
    let fs = exfat::raw::boot::FILE_SYSTEM_NAME;
    if n == boot.len() && boot[fs..fs + 8] == exfat::raw::boot::FS_NAME[..] {
        match boot[exfat::raw::boot::BYTES_PER_SECTOR_SHIFT] {
            9 => return Ok(Some(512)),
            12 => return Ok(Some(4096)),
            _ => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_gpt_512_puts_data_at_1mib_and_esp_at_the_end() {
        let sectors = (256u64 << 20) / 512;
        let l = Layout::plan(Scheme::Gpt, 512, sectors).unwrap();
        assert_eq!(l.data.first_lba(), 2048);
        assert_eq!(l.bios_boot.first_lba(), 34);
        assert_eq!(l.bios_boot.end_lba(), 2048);
        assert_eq!(l.esp.sectors(), ESP_BYTES / 512);
        assert_eq!(l.data.end_lba(), l.esp.first_lba());
        assert_eq!(l.esp.first_lba() % 2048, 0);
        // Room for the backup GPT (33 sectors) after the ESP.
        assert!(l.esp.end_lba() <= sectors - 33);
    }

    #[test]
    fn plan_gpt_4096_has_a_smaller_table() {
        let sectors = (256u64 << 20) / 4096;
        let l = Layout::plan(Scheme::Gpt, 4096, sectors).unwrap();
        assert_eq!(l.data.first_lba(), 256);
        assert_eq!(l.bios_boot.first_lba(), 6);
        assert!(l.esp.end_lba() <= sectors - 5);
    }

    #[test]
    fn plan_mbr_uses_the_gap_and_refuses_huge_disks() {
        let l = Layout::plan(Scheme::Mbr, 512, (100u64 << 20) / 512).unwrap();
        assert_eq!(l.bios_boot.first_lba(), 1);
        assert_eq!(l.esp.end_lba(), (100u64 << 20) / 512);
        assert!(matches!(
            Layout::plan(Scheme::Mbr, 512, 1 << 33),
            Err(Error::TooLargeForMbr { .. })
        ));
        assert!(Layout::plan(Scheme::Mbr, 4096, 1 << 31).is_ok());
    }

    fn installed(scheme: Scheme) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("stick.img");
        let opts = crate::InstallOptions {
            scheme,
            create_size: Some(64 << 20),
            ..Default::default()
        };
        crate::install(&img, &opts, &crate::BootCode::placeholder()).unwrap();
        (dir, img)
    }

    fn poke(img: &Path, offset: u64, bytes: &[u8]) {
        let f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, bytes, offset).unwrap();
    }

    /// MBR record `slot` (1-4) of a 512-byte-sector image.
    fn mbr_record(img: &Path, slot: u64, kind: u8, first: u32, sectors: u32) {
        let mut r = [0u8; 16];
        r[4] = kind;
        r[8..12].copy_from_slice(&first.to_le_bytes());
        r[12..16].copy_from_slice(&sectors.to_le_bytes());
        poke(img, 446 + 16 * (slot - 1), &r);
    }

    #[test]
    fn a_damaged_primary_gpt_falls_back_to_the_backup_and_two_are_a_lost_gpt_or_a_bad_table() {
        let (_dir, img) = installed(Scheme::Gpt);
        let good = *Stick::open(&img, false).unwrap().layout();
        // HeaderCRC32 of the primary header (LBA 1, byte 16).
        poke(&img, 512 + 16, &[0xFF; 4]);
        assert_eq!(*Stick::open(&img, false).unwrap().layout(), good);
        let len = std::fs::metadata(&img).unwrap().len();
        poke(&img, len - 512 + 16, &[0xFF; 4]);
        // Both copies bad: the partitions are still where install puts them, so it is a
        // stick whose GPT `update` rewrites, and the message says why no copy was read.
        let err = Stick::open(&img, false).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::GptLost { .. }), "{msg}");
        assert!(
            msg.contains("primary GPT header at LBA 1: CRC-32")
                && msg.contains(&format!("backup GPT header at LBA {}", len / 512 - 1)),
            "{msg}"
        );
        // Nor are the partitions found (the exFAT's boot sector gone too): a bad table.
        poke(&img, good.data.byte_start(512), &[0; 512]);
        let err = Stick::open_for_repair(&img, false).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::BadTable { .. }), "{msg}");
        assert!(msg.contains("primary GPT header at LBA 1: CRC-32"), "{msg}");
    }

    #[test]
    fn mbr_slot_4_is_the_window_or_else_not_a_stick() {
        let (_dir, img) = installed(Scheme::Mbr);
        assert_eq!(Stick::open(&img, false).unwrap().layout().window, None);
        // A window (type 0x17) inside the data partition, as a loader writes it.
        mbr_record(&img, 4, 0x17, 4096, 2048);
        let w = Stick::open(&img, false).unwrap().layout().window.unwrap();
        assert_eq!((w.first_lba(), w.sectors()), (4096, 2048));
        // Anything else there: the disk is not taken for a stick, and the message says
        // what is in each slot.
        mbr_record(&img, 4, 0x83, 4096, 2048);
        match Stick::open(&img, false) {
            Err(Error::NotAStick { found, .. }) => assert!(
                found.starts_with("an MBR partition table with 1: type 0x07 at LBA 2048")
                    && found.ends_with("4: type 0x83 at LBA 4096 (2048 sectors)"),
                "{found}"
            ),
            other => panic!("{other:?}"),
        }
        // An MBR that is no valid table at all (boot indicator 0x12 in slot 2).
        mbr_record(&img, 4, 0, 0, 0);
        poke(&img, 446 + 16, &[0x12]);
        match Stick::open(&img, false) {
            Err(Error::NotAStick { found, .. }) => {
                assert!(found.contains("boot indicator 0x12"), "{found}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn iso_images_written_raw_are_named_not_taken_for_damaged_sticks() {
        // What a stick holds after `dd if=some.iso`: isohybrid MBRs (partition at LBA 0),
        // grub-mkrescue's GPT, appended ESPs, or no table at all.
        for (name, iso) in fixtures::iso::all().unwrap() {
            match Stick::open(&iso, false) {
                Err(Error::NotAStick { found, .. }) => {
                    assert!(
                        found == "no partition table"
                            || found.starts_with("an MBR partition table with ")
                            || found.starts_with("a GPT with "),
                        "{name}: {found}"
                    );
                    eprintln!("{name}: {found}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn garbage_tables_are_refused_without_panic() {
        use blockdev::MemDevice;
        let mut seed = 0x1234_5678u32;
        for round in 0..200 {
            let mut d = MemDevice::new(512, 64);
            for b in d.data.iter_mut() {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = (seed >> 16) as u8;
            }
            d.data[510] = 0x55;
            d.data[511] = 0xAA;
            d.data[446 + 4] = 0xEE;
            if round % 2 == 0 {
                d.data[512..520].copy_from_slice(b"EFI PART");
            }
            let r = read_layout(&mut d, Path::new("garbage.img"));
            assert!(
                matches!(r, Err(Error::NotAStick { .. } | Error::BadTable { .. })),
                "{r:?}"
            );
        }
    }

    #[test]
    fn plan_refuses_small_disks_and_odd_sectors() {
        assert!(matches!(
            Layout::plan(Scheme::Gpt, 512, (32u64 << 20) / 512),
            Err(Error::TooSmall { .. })
        ));
        assert!(matches!(
            Layout::plan(Scheme::Gpt, 1024, 1 << 20),
            Err(Error::UnsupportedSectorSize(1024))
        ));
    }
}
