//! The one conversion from an ISO's El Torito boot catalog (crates/iso9660) to the index's
//! boot entries (crates/index): what `add` and `sync` store, and what discovery shows for
//! ISOs the index lacks. [`read_iso`] reads; [`inspect`] also judges, for `add`, whether
//! a PC can boot the result.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use blockdev::{BlockDevice, BlockReader, Extent, ExtentReader, ReadAt};
use bootshelf_index::{BootEntry, PlatformId};
use exfat::{DirEntry, Volume};

/// What an ISO says about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IsoFacts {
    /// Volume label (trailing spaces removed).
    pub label: String,
    /// Every El Torito entry, in catalog order (empty when there is no catalog).
    pub boot: Vec<BootEntry>,
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
            boot.push(BootEntry {
                platform: b.platform,
                emulation: b.emulation(),
                bootable: b.bootable,
                system_type: b.system_type,
                load_segment: b.load_segment,
                sector_count: b.sector_count,
                load_rba: b.load_rba,
                image_size,
            });
        }
    }
    Ok(IsoFacts { label, boot })
}

/// Why `add` (without `--force`) refuses a file, and why `sync` does not index one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InspectError {
    /// Not ISO 9660 at all.
    NotIso(String),
    /// ISO 9660 but nothing bootable on a PC.
    NotBootable(String),
}

/// [`read_iso`], then [`judge`].
pub fn inspect<R: ReadAt>(r: R) -> Result<IsoFacts, InspectError> {
    judge(read_iso(r))
}

/// Judge what [`read_iso`] returned: not an ISO, not bootable on a PC (no catalog, an
/// unreadable one, no bootable BIOS or UEFI entry), or usable.
pub fn judge(read: Result<IsoFacts, IsoError>) -> Result<IsoFacts, InspectError> {
    let facts = match read {
        Ok(f) => f,
        Err(IsoError::NotIso(e)) => return Err(InspectError::NotIso(e.to_string())),
        Err(IsoError::Catalog(e)) => {
            return Err(InspectError::NotBootable(format!(
                "its El Torito boot catalog is unreadable: {e}"
            )))
        }
    };
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
}
