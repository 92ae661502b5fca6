//! The decoded index: ISOs, their El Torito boot entries, and the menu settings.

use alloc::string::String;
use alloc::vec::Vec;
use blockdev::Extent;
/// The UEFI architectures, and sets of them, as crates/efi-image reads them from an EFI
/// boot image.
pub use efi_image::{ArchSet, EfiArch};
/// The El Torito platform id and emulation type are iso9660's (newtypes over the catalog's
/// bytes, so codes no one knows yet pass through); the index stores their byte as is.
pub use iso9660::{Emulation, PlatformId};

/// What an El Torito EFI boot image holds, read from its FAT file system at `add`/`sync`
/// time (boot entry bytes 12..15, docs/index-format.md). `None`: not read (an index
/// written before these bytes existed, a non-EFI entry, an image that could not be read);
/// readers then assume nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EfiLoaders {
    /// The architectures whose removable-media loader (`\EFI\BOOT\BOOT<arch>.EFI`) the
    /// image holds (byte 12; byte 14 bit 0 says it was read).
    pub arches: Option<ArchSet>,
    /// Those of [`EfiLoaders::arches`] whose loader file carries an Authenticode
    /// signature (byte 13; byte 14 bit 1 says it was read).
    pub signed: Option<ArchSet>,
}

/// One El Torito boot entry of an ISO, as its catalog describes it plus the real size of
/// the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BootEntry {
    /// Platform of the section the entry is in (the validation entry for the initial one).
    pub platform: PlatformId,
    /// Boot media type.
    pub emulation: Emulation,
    /// Whether the catalog marked the entry bootable (indicator 0x88).
    pub bootable: bool,
    /// System type (partition type byte for hard-disk emulation).
    pub system_type: u8,
    /// Load segment; 0 means the default 0x07C0.
    pub load_segment: u16,
    /// Number of 512-byte virtual sectors the catalog says to load.
    pub sector_count: u16,
    /// First 2048-byte sector of the image inside the ISO.
    pub load_rba: u32,
    /// The real size of the image in bytes: for EFI images the size of the FAT image
    /// (catalogs often say 0 or 1 sector), for floppy emulation the floppy's size.
    pub image_size: u64,
    /// EFI entries: the loaders the image holds ([`EfiLoaders`]); default (nothing read)
    /// for the others.
    pub efi: EfiLoaders,
}

impl BootEntry {
    /// Byte offset in the ISO where the image ends (saturating: a corrupt entry cannot
    /// overflow).
    pub fn image_end(&self) -> u64 {
        (u64::from(self.load_rba) * 2048).saturating_add(self.image_size)
    }
}

/// One ISO on the stick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsoEntry {
    /// Absolute path on the data partition, `/` separated (for example `/ubuntu.iso`).
    pub path: String,
    /// File size in bytes.
    pub size: u64,
    /// SHA-256 of the file's bytes, when it was computed (by `add`, or `sync --hash`).
    pub sha256: Option<[u8; 32]>,
    /// ISO 9660 volume label (may be empty).
    pub label: String,
    /// A title chosen by the user, shown in the menu instead of the file name.
    pub title: Option<String>,
    /// Where the file's bytes are on the device, in file order; one extent when the file
    /// is contiguous.
    pub extents: Vec<Extent>,
    /// Every El Torito boot entry of the ISO, in catalog order.
    pub boot: Vec<BootEntry>,
    /// The record's extension area (kernel options, and types this version does not know,
    /// kept as they are).
    pub extensions: Extensions,
}

/// Kernel arguments for one ISO (`bootshelf options`), applied by the loaders to every
/// kernel line of the ISO's own boot configuration. Tied to the ISO's SHA-256: an ISO
/// replaced by another file under the same name does not inherit them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelOptions {
    /// SHA-256 of the ISO the options were saved for.
    pub sha256: [u8; 32],
    /// Arguments to append, as typed (blank separated).
    pub append: String,
    /// Arguments to remove (a bare name removes `name` and `name=...`).
    pub remove: Vec<String>,
}

/// The TLV extension area after a record's boot entries (type u16, length u32, bytes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    /// Type 1: kernel options.
    pub kernel_options: Option<KernelOptions>,
    /// Type 0x0010: the ISO's persistence file (docs/persistence.md).
    pub persistence: Option<crate::extension::Persistence>,
    /// Types this version does not know, in order, kept so that rewriting the index does
    /// not lose what a newer bootshelf stored.
    pub unknown: Vec<(u16, Vec<u8>)>,
}

impl IsoEntry {
    /// Whether the file is one contiguous run on the device (needed for the ISO window).
    pub fn is_contiguous(&self) -> bool {
        self.extents.len() == 1
    }

    /// Whether some bootable entry is for the given platform.
    pub fn boots_on(&self, platform: PlatformId) -> bool {
        self.boot
            .iter()
            .any(|b| b.bootable && b.platform == platform)
    }

    /// The kernel options that apply to this ISO: saved, and saved for the SHA-256 the
    /// index has for the file now (none when the ISO was replaced or never hashed).
    pub fn kernel_options(&self) -> Option<&KernelOptions> {
        let o = self.extensions.kernel_options.as_ref()?;
        (self.sha256 == Some(o.sha256)).then_some(o)
    }

    /// The file name, the last component of [`IsoEntry::path`].
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// What the menu shows: the custom title, else the file name.
    pub fn display_title(&self) -> &str {
        match &self.title {
            Some(t) => t,
            None => self.file_name(),
        }
    }
}

/// How long the menu waits before booting the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timeout {
    /// Wait for a key, for ever.
    Never,
    /// Boot the default after this many seconds (0: at once). At most 65534.
    Seconds(u16),
}

impl Timeout {
    /// The value stored in the header.
    pub(crate) const NEVER_RAW: u16 = 0xFFFF;

    pub(crate) fn to_raw(self) -> u16 {
        match self {
            Timeout::Never => Self::NEVER_RAW,
            Timeout::Seconds(s) => s.min(Self::NEVER_RAW - 1),
        }
    }

    pub(crate) fn from_raw(v: u16) -> Self {
        if v == Self::NEVER_RAW {
            Timeout::Never
        } else {
            Timeout::Seconds(v)
        }
    }
}

/// Menu settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Menu timeout.
    pub timeout: Timeout,
    /// Path of the ISO selected when the menu opens; `None`: the first one.
    pub default: Option<String>,
    /// Path of an ISO to boot once at the next boot; the loader clears it (writing a new
    /// generation) before it boots it.
    pub boot_next: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeout: Timeout::Seconds(10),
            default: None,
            boot_next: None,
        }
    }
}

/// A whole index: one generation of the file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Index {
    /// Generation counter; each write stores the previous one plus one.
    pub generation: u64,
    /// Menu settings.
    pub settings: Settings,
    /// The ISOs, in menu order.
    pub isos: Vec<IsoEntry>,
}

/// Path comparison as exFAT does it for ASCII: case-insensitive.
pub(crate) fn same_path(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl Index {
    /// The entry for `path` (case-insensitive for ASCII, as exFAT).
    pub fn find(&self, path: &str) -> Option<&IsoEntry> {
        self.isos.iter().find(|e| same_path(&e.path, path))
    }

    /// Position of the entry for `path`.
    pub fn position(&self, path: &str) -> Option<usize> {
        self.isos.iter().position(|e| same_path(&e.path, path))
    }

    /// Insert or replace the entry with the same path; a new entry goes last.
    pub fn upsert(&mut self, entry: IsoEntry) {
        match self.position(&entry.path) {
            Some(i) => {
                if let Some(slot) = self.isos.get_mut(i) {
                    *slot = entry;
                }
            }
            None => self.isos.push(entry),
        }
    }

    /// Remove the entry for `path`, and any default or boot-next setting naming it.
    /// Returns the removed entry.
    pub fn remove(&mut self, path: &str) -> Option<IsoEntry> {
        let i = self.position(path)?;
        let e = self.isos.remove(i);
        if self
            .settings
            .default
            .as_deref()
            .is_some_and(|d| same_path(d, path))
        {
            self.settings.default = None;
        }
        if self
            .settings
            .boot_next
            .as_deref()
            .is_some_and(|d| same_path(d, path))
        {
            self.settings.boot_next = None;
        }
        Some(e)
    }

    /// The entry the menu should boot without asking: boot-next if set and present,
    /// else the default if present, else the first entry.
    pub fn preselected(&self) -> Option<&IsoEntry> {
        let by = |p: &Option<String>| p.as_deref().and_then(|p| self.find(p));
        by(&self.settings.boot_next)
            .or_else(|| by(&self.settings.default))
            .or_else(|| self.isos.first())
    }
}
