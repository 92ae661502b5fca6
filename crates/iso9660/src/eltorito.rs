//! The El Torito boot catalog (El Torito 1.0, section 2): validation entry, initial /
//! default entry, section headers, section entries and their extensions, read lazily
//! through an iterator that needs no allocator.
//!
//! Platform ids and emulation types are newtypes with constants, not closed enums: a
//! catalog may carry codes this crate does not know, and they pass through unchanged.

use crate::descriptor::validate_extent;
use crate::error::{read_at, Error, Result};
use crate::raw::{
    catalog, SectionEntry, SectionEntryExtension, SectionHeaderEntry, ValidationEntry,
    CATALOG_ENTRY_SIZE, SECTOR_SIZE,
};
use blockdev::ReadAt;
use core::fmt;

/// At most this many 32-byte entries are read from one catalog (64 KiB of catalog;
/// real ones fill a fraction of one 2 KiB sector).
pub const MAX_CATALOG_ENTRIES: u32 = 2048;

/// Longest selection criteria kept: 19 bytes in the entry plus 8 extensions of 30.
pub const MAX_CRITERIA: usize = 19 + 8 * 30;

/// El Torito platform id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlatformId(pub u8);

impl PlatformId {
    /// 80x86 PC BIOS.
    pub const X86: Self = Self(0x00);
    /// PowerPC.
    pub const POWERPC: Self = Self(0x01);
    /// Mac.
    pub const MAC: Self = Self(0x02);
    /// UEFI.
    pub const EFI: Self = Self(0xEF);

    /// Short name: `x86`, `efi`, `powerpc`, `mac`, or `None` for unknown codes.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::X86 => Some("x86"),
            Self::EFI => Some("efi"),
            Self::POWERPC => Some("powerpc"),
            Self::MAC => Some("mac"),
            _ => None,
        }
    }
}

impl fmt::Debug for PlatformId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "PlatformId({n})"),
            None => write!(f, "PlatformId({:#04x})", self.0),
        }
    }
}

/// Boot media emulation type (bits 0-3 of the boot media type byte).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Emulation(pub u8);

impl Emulation {
    /// No emulation: the image is loaded as is.
    pub const NONE: Self = Self(0);
    /// 1.2 MB diskette.
    pub const FLOPPY_1_2M: Self = Self(1);
    /// 1.44 MB diskette.
    pub const FLOPPY_1_44M: Self = Self(2);
    /// 2.88 MB diskette.
    pub const FLOPPY_2_88M: Self = Self(3);
    /// Hard disk.
    pub const HARD_DISK: Self = Self(4);

    /// Short name: `none`, `floppy-1.2m`, `floppy-1.44m`, `floppy-2.88m`, `hard-disk`.
    pub fn name(self) -> Option<&'static str> {
        match self {
            Self::NONE => Some("none"),
            Self::FLOPPY_1_2M => Some("floppy-1.2m"),
            Self::FLOPPY_1_44M => Some("floppy-1.44m"),
            Self::FLOPPY_2_88M => Some("floppy-2.88m"),
            Self::HARD_DISK => Some("hard-disk"),
            _ => None,
        }
    }

    /// Size of the emulated diskette in bytes, for the floppy types.
    pub fn floppy_bytes(self) -> Option<u64> {
        match self {
            Self::FLOPPY_1_2M => Some(1_228_800),
            Self::FLOPPY_1_44M => Some(1_474_560),
            Self::FLOPPY_2_88M => Some(2_949_120),
            _ => None,
        }
    }
}

impl fmt::Debug for Emulation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "Emulation({n})"),
            None => write!(f, "Emulation({:#x})", self.0),
        }
    }
}

/// The boot media type byte of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MediaType(pub u8);

impl MediaType {
    /// Emulation type (bits 0-3).
    pub fn emulation(self) -> Emulation {
        Emulation(self.0 & 0x0F)
    }
    /// Bit 5 (section entries): an extension entry follows.
    pub fn continuation(self) -> bool {
        self.0 & catalog::MEDIA_CONTINUATION != 0
    }
    /// Bit 6: the image contains an ATAPI driver.
    pub fn atapi_driver(self) -> bool {
        self.0 & 0x40 != 0
    }
    /// Bit 7: the image contains SCSI drivers.
    pub fn scsi_drivers(self) -> bool {
        self.0 & 0x80 != 0
    }
}

/// The validated head of a boot catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootCatalog {
    /// Absolute sector of the catalog.
    pub lba: u32,
    /// The validation entry as stored (checksum and key already checked).
    pub validation: ValidationEntry,
}

impl BootCatalog {
    /// Byte offset of the catalog in the image.
    pub fn offset(&self) -> u64 {
        u64::from(self.lba) * SECTOR_SIZE as u64
    }

    /// Platform of the initial/default entry.
    pub fn platform(&self) -> PlatformId {
        PlatformId(self.validation.platform_id)
    }

    /// The validation entry's ID string (manufacturer), trimmed.
    pub fn id_string(&self) -> &str {
        crate::descriptor::trimmed_str(&self.validation.id_string)
    }

    /// Read the catalog at sector `lba` and validate its validation entry.
    pub fn read<R: ReadAt + ?Sized>(r: &mut R, lba: u32) -> Result<Self> {
        let offset = u64::from(lba) * SECTOR_SIZE as u64;
        validate_extent(offset, lba, SECTOR_SIZE as u64, r.len())?;
        let mut e = [0u8; CATALOG_ENTRY_SIZE];
        read_at(r, offset, &mut e)?;
        let v = ValidationEntry::parse(&e);
        validate_header_id(&v, offset)?;
        validate_key(&v, offset)?;
        validate_checksum(&e, &v, offset)?;
        Ok(BootCatalog { lba, validation: v })
    }

    /// Iterate the boot entries: the initial/default entry first, then every section
    /// entry in catalog order.
    pub fn entries<'r, R: ReadAt + ?Sized>(&self, r: &'r mut R) -> BootEntries<'r, R> {
        BootEntries {
            r,
            catalog: *self,
            next: 1,
            state: State::Initial,
            loaded: None,
            sector: [0; SECTOR_SIZE],
            sections: 0,
            count: 0,
        }
    }
}

fn validate_header_id(v: &ValidationEntry, offset: u64) -> Result<()> {
    if v.header_id == catalog::VALIDATION_HEADER_ID {
        Ok(())
    } else {
        Err(Error::BadValidationHeader {
            offset,
            value: v.header_id,
        })
    }
}

fn validate_key(v: &ValidationEntry, offset: u64) -> Result<()> {
    if (v.key_55, v.key_aa) == (0x55, 0xAA) {
        Ok(())
    } else {
        Err(Error::BadValidationKey {
            offset,
            value: [v.key_55, v.key_aa],
        })
    }
}

fn validate_checksum(e: &[u8; CATALOG_ENTRY_SIZE], v: &ValidationEntry, offset: u64) -> Result<()> {
    let sum = e.chunks_exact(2).fold(0u16, |s, w| {
        s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    });
    if sum == 0 {
        Ok(())
    } else {
        Err(Error::BadValidationChecksum {
            offset,
            stored: v.checksum,
            sum,
        })
    }
}

/// The section a section entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// 0-based number of the section in the catalog.
    pub index: u16,
    /// Platform id of the section.
    pub platform: PlatformId,
    /// Number of section entries the header announces.
    pub entry_count: u16,
    /// ID string as stored.
    pub id: [u8; 28],
    /// Whether the header is the final one (0x91).
    pub is_final: bool,
    /// Byte offset of the header.
    pub offset: u64,
}

impl Section {
    /// The ID string, trimmed.
    pub fn id_str(&self) -> &str {
        crate::descriptor::trimmed_str(&self.id)
    }
}

/// Selection criteria of a section entry: the type byte and the vendor bytes of the
/// entry and its extensions, concatenated.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SelectionCriteria {
    /// Selection criteria type (0 none, 1 language and version, others vendor).
    pub kind: u8,
    bytes: [u8; MAX_CRITERIA],
    len: usize,
    /// Number of extension entries that followed the entry.
    pub extensions: u8,
}

impl fmt::Debug for SelectionCriteria {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectionCriteria")
            .field("kind", &self.kind)
            .field("bytes", &self.bytes())
            .field("extensions", &self.extensions)
            .finish()
    }
}

impl SelectionCriteria {
    const EMPTY: Self = SelectionCriteria {
        kind: 0,
        bytes: [0; MAX_CRITERIA],
        len: 0,
        extensions: 0,
    };

    /// The vendor unique bytes (19 per entry, 30 per extension), as stored.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }

    fn push(&mut self, b: &[u8], offset: u64) -> Result<()> {
        let end = self.len + b.len();
        let dst = self.bytes.get_mut(self.len..end).ok_or(Error::AbsurdSize {
            offset,
            value: u64::from(self.extensions) + 1,
            limit: ((MAX_CRITERIA - 19) / 30) as u64,
        })?;
        dst.copy_from_slice(b);
        self.len = end;
        Ok(())
    }
}

/// One boot entry: the initial/default entry or a section entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootEntry {
    /// Byte offset of the entry in the image.
    pub offset: u64,
    /// 0 for the initial/default entry, then 1, 2, ... in catalog order.
    pub index: u16,
    /// The section it belongs to; `None` for the initial/default entry.
    pub section: Option<Section>,
    /// Platform: the validation entry's for the initial entry, else the section's.
    pub platform: PlatformId,
    /// Boot indicator 0x88.
    pub bootable: bool,
    /// Boot media type byte.
    pub media: MediaType,
    /// Load segment as stored (0 means 0x7C0).
    pub load_segment: u16,
    /// System type (partition type of a hard-disk image).
    pub system_type: u8,
    /// Sector count: 512-byte virtual sectors to load.
    pub sector_count: u16,
    /// Load RBA: first 2048-byte sector of the image.
    pub load_rba: u32,
    /// Selection criteria (section entries; empty for the initial entry).
    pub selection: SelectionCriteria,
}

impl BootEntry {
    /// Emulation type.
    pub fn emulation(&self) -> Emulation {
        self.media.emulation()
    }

    /// The segment the image is loaded at: the stored one, or 0x7C0 when it is 0.
    pub fn effective_load_segment(&self) -> u16 {
        if self.load_segment == 0 {
            0x07C0
        } else {
            self.load_segment
        }
    }

    /// Byte offset of the image in the ISO.
    pub fn image_offset(&self) -> u64 {
        u64::from(self.load_rba) * SECTOR_SIZE as u64
    }
}

#[derive(Clone, Copy, Debug)]
enum State {
    Initial,
    Header,
    Entries { section: Section, left: u16 },
    Done,
}

/// Iterator over the boot entries of a catalog. After an error it yields nothing more.
pub struct BootEntries<'r, R: ?Sized> {
    r: &'r mut R,
    catalog: BootCatalog,
    /// Index of the next 32-byte entry to read.
    next: u32,
    state: State,
    loaded: Option<u64>,
    sector: [u8; SECTOR_SIZE],
    /// Number of section headers seen.
    sections: u16,
    /// Number of the next boot entry handed out.
    count: u16,
}

impl<R: ReadAt + ?Sized> BootEntries<'_, R> {
    fn read_entry(&mut self) -> Result<([u8; CATALOG_ENTRY_SIZE], u64)> {
        let n = self.next;
        if n >= MAX_CATALOG_ENTRIES {
            return Err(Error::AbsurdSize {
                offset: self.catalog.offset(),
                value: u64::from(n) + 1,
                limit: u64::from(MAX_CATALOG_ENTRIES),
            });
        }
        self.next += 1;
        let offset = self.catalog.offset() + u64::from(n) * CATALOG_ENTRY_SIZE as u64;
        let sector_start = offset - offset % SECTOR_SIZE as u64;
        if self.loaded != Some(sector_start) {
            let lba = (sector_start / SECTOR_SIZE as u64) as u32;
            validate_extent(offset, lba, SECTOR_SIZE as u64, self.r.len())?;
            read_at(self.r, sector_start, &mut self.sector)?;
            self.loaded = Some(sector_start);
        }
        let within = (offset - sector_start) as usize;
        Ok((crate::raw::array(&self.sector, within), offset))
    }

    fn entry(&mut self, section: Option<Section>, index: u16) -> Result<BootEntry> {
        let (raw, offset) = self.read_entry()?;
        let e = SectionEntry::parse(&raw);
        let bootable = match e.boot_indicator {
            catalog::BOOTABLE => true,
            catalog::NOT_BOOTABLE => false,
            value => return Err(Error::BadBootIndicator { offset, value }),
        };
        let media = MediaType(e.boot_media_type);
        let mut selection = SelectionCriteria::EMPTY;
        if section.is_some() {
            selection.kind = e.selection_criteria_type;
            selection.push(&e.vendor_unique_selection_criteria, offset)?;
            let mut more = media.continuation();
            while more {
                let (raw, ext_offset) = self.read_entry()?;
                let x = SectionEntryExtension::parse(&raw);
                if x.extension_indicator != catalog::EXTENSION {
                    return Err(Error::BadExtension {
                        offset: ext_offset,
                        value: x.extension_indicator,
                    });
                }
                selection.push(&x.vendor_unique_selection_criteria, ext_offset)?;
                selection.extensions += 1;
                more = x.bits & catalog::EXTENSION_MORE != 0;
            }
        }
        Ok(BootEntry {
            offset,
            index,
            platform: section.map_or(self.catalog.platform(), |s| s.platform),
            section,
            bootable,
            media,
            load_segment: e.load_segment,
            system_type: e.system_type,
            sector_count: e.sector_count,
            load_rba: e.load_rba,
            selection,
        })
    }

    fn step(&mut self, index: u16) -> Result<Option<BootEntry>> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Initial => {
                    self.state = State::Header;
                    return self.entry(None, index).map(Some);
                }
                State::Header => {
                    let (raw, offset) = self.read_entry()?;
                    let h = SectionHeaderEntry::parse(&raw);
                    let is_final = match h.header_indicator {
                        catalog::HEADER_MORE => false,
                        catalog::HEADER_FINAL => true,
                        // An unused entry ends the catalog.
                        0 => {
                            self.state = State::Done;
                            return Ok(None);
                        }
                        value => return Err(Error::BadSectionHeader { offset, value }),
                    };
                    let section = Section {
                        index: self.sections,
                        platform: PlatformId(h.platform_id),
                        entry_count: h.number_of_section_entries,
                        id: h.id_string,
                        is_final,
                        offset,
                    };
                    self.sections = self.sections.saturating_add(1);
                    self.state = State::Entries {
                        section,
                        left: h.number_of_section_entries,
                    };
                }
                State::Entries { section, left } => {
                    if left == 0 {
                        self.state = if section.is_final {
                            State::Done
                        } else {
                            State::Header
                        };
                        continue;
                    }
                    self.state = State::Entries {
                        section,
                        left: left - 1,
                    };
                    return self.entry(Some(section), index).map(Some);
                }
            }
        }
    }
}

impl<R: ReadAt + ?Sized> Iterator for BootEntries<'_, R> {
    type Item = Result<BootEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        let index = self.count;
        match self.step(index) {
            Ok(Some(e)) => {
                self.count = self.count.saturating_add(1);
                Some(Ok(e))
            }
            Ok(None) => None,
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }
}
