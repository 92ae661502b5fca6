//! The one conversion from an ISO's El Torito boot catalog (crates/iso9660) to the index's
//! boot entries (crates/index): what `add` and `sync` store, and what discovery shows for
//! ISOs the index lacks. [`read_iso`] reads, and finds a [`Broken`] ISO (truncated, a
//! boot image past the end); [`inspect`] also judges, for `add` and `sync`, whether a PC
//! can boot the result. Discovery shows a broken ISO blocked with the same reason.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use blockdev::{BlockDevice, BlockReader, Extent, ExtentReader, ReadAt, Region};
use bootshelf_index::{ArchSet, BootEntry, EfiArch, EfiLoaders, Emulation, PlatformId};
use exfat::{DirEntry, Volume};

/// What an ISO says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IsoFacts {
    /// Volume label (trailing spaces removed).
    pub label: String,
    /// Every El Torito entry, in catalog order (empty when there is no catalog).
    pub boot: Vec<BootEntry>,
    /// Why the file cannot be the whole ISO it says it is (then `boot` may be empty: a
    /// catalog past the end of a truncated file is not read).
    pub broken: Option<Broken>,
}

/// Why an ISO is broken: it says more than the file holds, or its catalog is unreadable.
/// A truncated download is the usual cause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Broken {
    /// The ISO 9660 volume is larger than the file.
    Truncated {
        /// Volume space size times 2048.
        volume_bytes: u64,
        /// The file's size.
        file_bytes: u64,
    },
    /// A bootable El Torito entry's image reaches past the end of the file.
    BootImagePastEnd {
        /// The entry's place in the catalog (0: the initial entry).
        entry: usize,
        /// Byte offset of the image's end.
        end: u64,
        /// The file's size.
        file_bytes: u64,
    },
    /// The El Torito boot catalog is there but cannot be read.
    CatalogUnreadable {
        /// The parser's error.
        error: String,
    },
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::discovery::human_size;
        match self {
            Broken::Truncated {
                volume_bytes,
                file_bytes,
            } => write!(
                f,
                "truncated: the ISO says {}, the file has {} (an incomplete download or copy?)",
                human_size(*volume_bytes),
                human_size(*file_bytes)
            ),
            Broken::BootImagePastEnd {
                entry,
                end,
                file_bytes,
            } => write!(
                f,
                "boot image past the end: El Torito entry {entry} ends at byte {end}, the file \
                 has {file_bytes} bytes"
            ),
            Broken::CatalogUnreadable { error } => {
                write!(f, "its El Torito boot catalog is unreadable: {error}")
            }
        }
    }
}

impl IsoFacts {
    /// Whether some entry is bootable on BIOS or UEFI PCs.
    pub fn bootable(&self) -> bool {
        self.boot
            .iter()
            .any(|b| b.bootable && (b.platform == PlatformId::X86 || b.platform == PlatformId::EFI))
    }
}

/// Why an ISO could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IsoError {
    /// Not an ISO 9660 image (its volume descriptors are not there or not valid).
    NotIso(iso9660::Error),
    /// ISO 9660, but its El Torito boot catalog is unreadable.
    Catalog(iso9660::Error),
}

impl IsoError {
    /// The parser's error.
    pub fn into_inner(self) -> iso9660::Error {
        match self {
            IsoError::NotIso(e) | IsoError::Catalog(e) => e,
        }
    }
}

impl fmt::Display for IsoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsoError::NotIso(e) | IsoError::Catalog(e) => write!(f, "{e}"),
        }
    }
}

impl core::error::Error for IsoError {}

/// Read the label and every El Torito entry of an ISO, with the real size of each boot
/// image (what the catalog says when that cannot be found). An ISO without a catalog
/// reads as one with no entries.
pub fn read_iso<R: ReadAt>(r: R) -> Result<IsoFacts, IsoError> {
    let mut iso = iso9660::Iso::open(r).map_err(IsoError::NotIso)?;
    let label = String::from(iso.volume().label());
    let file_bytes = iso.volume().image_size;
    let volume_bytes = u64::from(iso.volume().volume_space_size) * 2048;
    if volume_bytes > file_bytes {
        // Whatever else it says may lie past the end: this is the reason to give.
        return Ok(IsoFacts {
            label,
            boot: Vec::new(),
            broken: Some(Broken::Truncated {
                volume_bytes,
                file_bytes,
            }),
        });
    }
    let mut boot = Vec::new();
    if let Some(cat) = iso.boot_catalog().map_err(IsoError::Catalog)? {
        let mut raw = Vec::new();
        for entry in cat.entries(iso.reader()) {
            raw.push(entry.map_err(IsoError::Catalog)?);
        }
        for b in raw {
            let image_size = match iso.image_size(&b) {
                Ok(s) => s.bytes,
                Err(_) => u64::from(b.sector_count) * 512,
            };
            let efi = if b.platform == PlatformId::EFI && b.emulation() == Emulation::NONE {
                efi_loaders(iso.reader(), b.load_rba, file_bytes)
            } else {
                EfiLoaders::default()
            };
            boot.push(BootEntry {
                platform: b.platform,
                emulation: b.emulation(),
                bootable: b.bootable,
                system_type: b.system_type,
                load_segment: b.load_segment,
                sector_count: b.sector_count,
                load_rba: b.load_rba,
                image_size,
                efi,
            });
        }
    }
    let broken = boot
        .iter()
        .enumerate()
        .filter(|(_, b)| b.bootable)
        .map(|(entry, b)| (entry, b.image_end()))
        .find(|&(_, end)| end > file_bytes)
        .map(|(entry, end)| Broken::BootImagePastEnd {
            entry,
            end,
            file_bytes,
        });
    Ok(IsoFacts {
        label,
        boot,
        broken,
    })
}

/// Why `add` (without `--force`) refuses a file, and why `sync` does not index one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InspectError {
    /// Not ISO 9660 at all.
    NotIso(String),
    /// ISO 9660 but nothing bootable on a PC.
    NotBootable(String),
    /// ISO 9660, but broken (truncated, a boot image past the end, an unreadable
    /// catalog): `facts` holds what was read.
    Broken {
        /// Why.
        why: Broken,
        /// What was read anyway (what `add --force` indexes).
        facts: IsoFacts,
    },
}

impl fmt::Display for InspectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InspectError::NotIso(r) => write!(f, "not an ISO 9660 image ({r})"),
            InspectError::NotBootable(r) => write!(f, "not bootable ({r})"),
            InspectError::Broken { why, .. } => write!(f, "broken ISO ({why})"),
        }
    }
}

/// [`read_iso`], then [`judge`].
pub fn inspect<R: ReadAt>(r: R) -> Result<IsoFacts, InspectError> {
    judge(read_iso(r))
}

/// Bytes read from the start of an EFI loader to find its certificate table directory:
/// the DOS header, `e_lfanew`, the COFF header and the optional header's data directories
/// lie in the first KiB of every loader seen (GRUB, shim, systemd-boot, bootshelf's); what
/// lies further is "not known".
pub const PE_HEADER_BYTES: u32 = 4096;

/// What the EFI boot image at 2048-byte sector `load_rba` holds (index boot entry bytes
/// 12 to 14): the architectures it serves (which `\EFI\BOOT\BOOT*.EFI` its FAT holds,
/// crates/efi-image), and which of those loaders carry an Authenticode signature
/// ([`loader_signed`]). Each is `None` when it cannot be read (then nothing is assumed:
/// the firmware may still manage). The image is read up to the end of the ISO, not to the
/// catalog's size, which is often 0 or 1 sector: the FAT's own geometry bounds it, as the
/// firmware's El Torito driver does.
pub fn efi_loaders<R: ReadAt>(r: &mut R, load_rba: u32, file_bytes: u64) -> EfiLoaders {
    let start = u64::from(load_rba) * 2048;
    let Some(len) = file_bytes.checked_sub(start) else {
        return EfiLoaders::default();
    };
    let Ok(region) = Region::new(r, start, len) else {
        return EfiLoaders::default();
    };
    let Ok(mut fat) = efi_image::FatImage::open(region) else {
        return EfiLoaders::default();
    };
    let Ok(arches) = fat.loaders() else {
        return EfiLoaders::default();
    };
    let mut signed = Some(ArchSet::EMPTY);
    for arch in arches.iter() {
        match loader_signed(&mut fat, arch) {
            Some(true) => {
                if let Some(s) = signed.as_mut() {
                    s.insert(arch);
                }
            }
            Some(false) => {}
            // One loader not read: the whole byte is "not read", never "unsigned".
            None => signed = None,
        }
    }
    EfiLoaders {
        arches: Some(arches),
        signed,
    }
}

/// Whether `arch`'s removable-media loader in `fat` carries an Authenticode signature
/// ([`authenticode::signed_from_headers`]: its first [`PE_HEADER_BYTES`] and the 8-byte
/// header of each certificate table entry, never the whole file), `None` when that cannot
/// be read. A signature present says nothing of whether the firmware trusts it.
pub fn loader_signed<R: ReadAt>(fat: &mut efi_image::FatImage<R>, arch: EfiArch) -> Option<bool> {
    let file = fat.find(arch.boot_path()).ok()?;
    if file.is_dir {
        return None;
    }
    let mut head = vec![0u8; file.size.min(PE_HEADER_BYTES) as usize];
    fat.read(&file, 0, &mut head).ok()?;
    authenticode::signed_from_headers(&head, u64::from(file.size), |at, buf| {
        fat.read(&file, at, buf).ok()
    })
}

/// The UEFI architectures an ISO with El Torito entries `boot` serves: the union of what
/// its bootable EFI entries' images serve, or `None` when it has no bootable EFI entry or
/// one of them was not read (an index written before architectures were recorded).
pub fn efi_arches_of(boot: &[BootEntry]) -> Option<ArchSet> {
    union_over_efi_entries(boot, |l| l.arches)
}

/// The UEFI architectures whose loader carries an Authenticode signature in an ISO with El
/// Torito entries `boot` (index byte 13): the union over its bootable EFI entries, or `None`
/// when it has no bootable EFI entry or one of them was not read (an index written before
/// signatures were recorded, or a loader whose headers could not be read).
pub fn efi_signed_of(boot: &[BootEntry]) -> Option<ArchSet> {
    union_over_efi_entries(boot, |l| l.signed)
}

/// The union of `field` over the bootable EFI entries of `boot`; `None` when there is no
/// such entry or `field` is unknown for one of them.
fn union_over_efi_entries(
    boot: &[BootEntry],
    field: impl Fn(&bootshelf_index::EfiLoaders) -> Option<ArchSet>,
) -> Option<ArchSet> {
    let mut set = ArchSet::EMPTY;
    let mut any = false;
    for b in boot
        .iter()
        .filter(|b| b.bootable && b.platform == PlatformId::EFI)
    {
        any = true;
        for arch in field(&b.efi)?.iter() {
            set.insert(arch);
        }
    }
    any.then_some(set)
}

/// Judge what [`read_iso`] returned: not an ISO, broken (truncated, a boot image past the
/// end, an unreadable catalog), not bootable on a PC (no catalog, no bootable BIOS or
/// UEFI entry), or usable.
pub fn judge(read: Result<IsoFacts, IsoError>) -> Result<IsoFacts, InspectError> {
    let mut facts = match read {
        Ok(f) => f,
        Err(IsoError::NotIso(e)) => return Err(InspectError::NotIso(e.to_string())),
        Err(IsoError::Catalog(e)) => {
            return Err(InspectError::Broken {
                why: Broken::CatalogUnreadable {
                    error: e.to_string(),
                },
                facts: IsoFacts::default(),
            })
        }
    };
    if let Some(why) = facts.broken.take() {
        return Err(InspectError::Broken { why, facts });
    }
    if facts.boot.is_empty() {
        // A catalog always has its initial entry: no entries means no catalog.
        return Err(InspectError::NotBootable(
            "it has no El Torito boot catalog".into(),
        ));
    }
    if !facts.bootable() {
        return Err(InspectError::NotBootable(
            "its El Torito catalog has no bootable entry for BIOS or UEFI".into(),
        ));
    }
    Ok(facts)
}

/// An ISO file read in place on the volume.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnVolume {
    /// The file's device byte extents, in file order.
    pub extents: Vec<Extent>,
    /// What it says about itself, or why it could not be read.
    pub facts: Result<IsoFacts, OnVolumeError>,
}

impl OnVolume {
    /// The extents, and the facts [`judge`]d as `add` and `sync` judge them.
    pub fn judged(self) -> (Vec<Extent>, Result<IsoFacts, InspectError>) {
        let facts = match self.facts {
            Ok(f) => judge(Ok(f)),
            Err(OnVolumeError::Iso(e)) => judge(Err(e)),
            Err(OnVolumeError::Extents(e)) => Err(InspectError::NotIso(format!(
                "its extents do not fit the device: {e}"
            ))),
        };
        (self.extents, facts)
    }
}

/// Why an ISO on the volume could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnVolumeError {
    /// Its extents do not fit the device.
    Extents(blockdev::IoError),
    /// The ISO itself.
    Iso(IsoError),
}

impl fmt::Display for OnVolumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OnVolumeError::Extents(e) => write!(f, "{e}"),
            OnVolumeError::Iso(e) => write!(f, "{e}"),
        }
    }
}

/// Read the ISO file `de` where it lies: its extents, then [`read_iso`] through them. The
/// error is the file system's (the extents could not be read).
pub fn read_on_volume<D: BlockDevice>(
    vol: &mut Volume<D>,
    de: &DirEntry,
) -> Result<OnVolume, exfat::Error> {
    let extents = vol.extents(de)?;
    let reader = BlockReader::new(vol.device());
    let facts = match ExtentReader::new(reader, &extents, de.size) {
        Ok(r) => read_iso(r).map_err(OnVolumeError::Iso),
        Err(e) => Err(OnVolumeError::Extents(e)),
    };
    Ok(OnVolume { extents, facts })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_an_iso_is_told_apart() {
        let zeros = alloc::vec![0u8; 64 * 2048];
        assert!(matches!(read_iso(&zeros[..]), Err(IsoError::NotIso(_))));
        assert!(matches!(inspect(&zeros[..]), Err(InspectError::NotIso(_))));
    }

    #[test]
    fn truncation_says_both_sizes() {
        let t = Broken::Truncated {
            volume_bytes: 4_700 << 20,
            file_bytes: 1 << 20,
        };
        assert_eq!(
            t.to_string(),
            "truncated: the ISO says 4.5 GiB, the file has 1.0 MiB (an incomplete download or copy?)"
        );
    }
}
