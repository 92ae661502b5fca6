//! On-disk structures exactly as ECMA-119 (ISO 9660), the El Torito Bootable CD-ROM
//! Format Specification 1.0, SUSP 1.12 / RRIP 1.12 and a FAT boot sector lay them out:
//! plain structs with the spec's field names and byte offsets, decoded from fixed size
//! byte arrays with `from_le_bytes` / `from_be_bytes`. Nothing here validates; the typed
//! modules on top do ([`crate::descriptor`], [`crate::eltorito`], [`crate::dir`]). The
//! MBR and GPT structures of a hybrid image's system area are the workspace's one
//! definition in crate `partition-raw` (re-exported by [`crate::hybrid`]).

/// Size of a logical sector (logical block) of every ISO 9660 image we accept.
pub const SECTOR_SIZE: usize = 2048;

/// Sector of the first volume descriptor (after the 16-sector system area).
pub const FIRST_DESCRIPTOR_SECTOR: u64 = 16;

/// Standard identifier in every volume descriptor.
pub const STANDARD_ID: [u8; 5] = *b"CD001";

/// Boot system identifier of an El Torito boot record (zero-padded to 32 bytes).
pub const EL_TORITO_ID: &[u8] = b"EL TORITO SPECIFICATION";

pub(crate) fn u16_le(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

pub(crate) fn u16_be(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        a.copy_from_slice(s);
    }
    u16::from_be_bytes(a)
}

pub(crate) fn u32_le(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

pub(crate) fn u32_be(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_be_bytes(a)
}

pub(crate) fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    if let Some(s) = b.get(at..at + N) {
        a.copy_from_slice(s);
    }
    a
}

/// A "both-byte orders" field (ECMA-119 7.2.3 / 7.3.3): little-endian then big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BothEndian<T> {
    /// The little-endian half.
    pub le: T,
    /// The big-endian half.
    pub be: T,
}

impl BothEndian<u32> {
    fn read(b: &[u8], at: usize) -> Self {
        BothEndian {
            le: u32_le(b, at),
            be: u32_be(b, at + 4),
        }
    }
}

impl BothEndian<u16> {
    fn read(b: &[u8], at: usize) -> Self {
        BothEndian {
            le: u16_le(b, at),
            be: u16_be(b, at + 2),
        }
    }
}

/// Volume descriptor header (ECMA-119 8.1), the first 7 bytes of every descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VolumeDescriptorHeader {
    /// 0: volume descriptor type (0 boot record, 1 primary, 2 supplementary, 3 partition,
    /// 255 terminator).
    pub volume_descriptor_type: u8,
    /// 1..6: standard identifier, "CD001".
    pub standard_identifier: [u8; 5],
    /// 6: volume descriptor version (1; 2 for an ISO 9660:1999 enhanced descriptor).
    pub volume_descriptor_version: u8,
}

impl VolumeDescriptorHeader {
    /// Decode from a descriptor sector.
    pub fn parse(s: &[u8; SECTOR_SIZE]) -> Self {
        VolumeDescriptorHeader {
            volume_descriptor_type: s[0],
            standard_identifier: array(s, 1),
            volume_descriptor_version: s[6],
        }
    }
}

/// Descriptor type codes (ECMA-119 8.1.1).
pub mod descriptor_type {
    /// Boot record (El Torito).
    pub const BOOT_RECORD: u8 = 0;
    /// Primary volume descriptor.
    pub const PRIMARY: u8 = 1;
    /// Supplementary (Joliet) or enhanced volume descriptor.
    pub const SUPPLEMENTARY: u8 = 2;
    /// Volume partition descriptor.
    pub const PARTITION: u8 = 3;
    /// Volume descriptor set terminator.
    pub const TERMINATOR: u8 = 255;
}

/// Primary (ECMA-119 8.4) and supplementary (8.5) volume descriptor: the fields this
/// crate uses. The two share one layout; the supplementary one adds volume flags and
/// escape sequences.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrimaryVolumeDescriptor {
    /// 0..7: the header.
    pub header: VolumeDescriptorHeader,
    /// 7: volume flags (supplementary only; 0 in a primary).
    pub volume_flags: u8,
    /// 8..40: system identifier.
    pub system_identifier: [u8; 32],
    /// 40..72: volume identifier (the label).
    pub volume_identifier: [u8; 32],
    /// 80..88: volume space size in logical blocks.
    pub volume_space_size: BothEndian<u32>,
    /// 88..120: escape sequences (supplementary only: Joliet's `%/@`, `%/C`, `%/E`).
    pub escape_sequences: [u8; 32],
    /// 120..124: volume set size.
    pub volume_set_size: BothEndian<u16>,
    /// 124..128: volume sequence number.
    pub volume_sequence_number: BothEndian<u16>,
    /// 128..132: logical block size (2048).
    pub logical_block_size: BothEndian<u16>,
    /// 132..140: path table size.
    pub path_table_size: BothEndian<u32>,
    /// 156..190: directory record of the root directory.
    pub root_directory_record: [u8; 34],
    /// 190..318: volume set identifier.
    pub volume_set_identifier: [u8; 128],
    /// 318..446: publisher identifier.
    pub publisher_identifier: [u8; 128],
    /// 446..574: data preparer identifier.
    pub data_preparer_identifier: [u8; 128],
    /// 574..702: application identifier.
    pub application_identifier: [u8; 128],
    /// 813..830: volume creation date and time (8.4.26.1 format).
    pub volume_creation_date: [u8; 17],
    /// 830..847: volume modification date and time.
    pub volume_modification_date: [u8; 17],
    /// 847..864: volume expiration date and time.
    pub volume_expiration_date: [u8; 17],
    /// 864..881: volume effective date and time.
    pub volume_effective_date: [u8; 17],
    /// 881: file structure version (1; 2 for ISO 9660:1999).
    pub file_structure_version: u8,
}

impl PrimaryVolumeDescriptor {
    /// Decode from a descriptor sector.
    pub fn parse(s: &[u8; SECTOR_SIZE]) -> Self {
        PrimaryVolumeDescriptor {
            header: VolumeDescriptorHeader::parse(s),
            volume_flags: s[7],
            system_identifier: array(s, 8),
            volume_identifier: array(s, 40),
            volume_space_size: BothEndian::<u32>::read(s, 80),
            escape_sequences: array(s, 88),
            volume_set_size: BothEndian::<u16>::read(s, 120),
            volume_sequence_number: BothEndian::<u16>::read(s, 124),
            logical_block_size: BothEndian::<u16>::read(s, 128),
            path_table_size: BothEndian::<u32>::read(s, 132),
            root_directory_record: array(s, 156),
            volume_set_identifier: array(s, 190),
            publisher_identifier: array(s, 318),
            data_preparer_identifier: array(s, 446),
            application_identifier: array(s, 574),
            volume_creation_date: array(s, 813),
            volume_modification_date: array(s, 830),
            volume_expiration_date: array(s, 847),
            volume_effective_date: array(s, 864),
            file_structure_version: s[881],
        }
    }
}

/// Boot record volume descriptor (ECMA-119 8.2) as El Torito fills it (El Torito 2.0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootRecordVolumeDescriptor {
    /// 0..7: the header (type 0).
    pub header: VolumeDescriptorHeader,
    /// 7..39: boot system identifier, "EL TORITO SPECIFICATION" padded with zeros.
    pub boot_system_identifier: [u8; 32],
    /// 39..71: boot identifier (unused by El Torito, zeros).
    pub boot_identifier: [u8; 32],
    /// 71..75 (0x47): absolute sector of the boot catalog, little-endian.
    pub boot_catalog_pointer: u32,
}

impl BootRecordVolumeDescriptor {
    /// Decode from a descriptor sector.
    pub fn parse(s: &[u8; SECTOR_SIZE]) -> Self {
        BootRecordVolumeDescriptor {
            header: VolumeDescriptorHeader::parse(s),
            boot_system_identifier: array(s, 7),
            boot_identifier: array(s, 39),
            boot_catalog_pointer: u32_le(s, 71),
        }
    }
}

/// Length of the fixed part of a directory record, before the file identifier.
pub const DIRECTORY_RECORD_FIXED_LEN: usize = 33;

/// Directory record (ECMA-119 9.1), fixed part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectoryRecord {
    /// 0: length of directory record (LEN_DR).
    pub length_of_directory_record: u8,
    /// 1: extended attribute record length.
    pub extended_attribute_record_length: u8,
    /// 2..10: location of extent (logical block).
    pub location_of_extent: BothEndian<u32>,
    /// 10..18: data length in bytes.
    pub data_length: BothEndian<u32>,
    /// 18..25: recording date and time (9.1.5: years since 1900, month, day, hour,
    /// minute, second, GMT offset in 15-minute units).
    pub recording_date_and_time: [u8; 7],
    /// 25: file flags (bit 0 hidden, 1 directory, 2 associated, 3 record, 4 protection,
    /// 7 multi-extent).
    pub file_flags: u8,
    /// 26: file unit size (interleaved files).
    pub file_unit_size: u8,
    /// 27: interleave gap size.
    pub interleave_gap_size: u8,
    /// 28..32: volume sequence number.
    pub volume_sequence_number: BothEndian<u16>,
    /// 32: length of file identifier (LEN_FI).
    pub length_of_file_identifier: u8,
}

impl DirectoryRecord {
    /// Decode the fixed part of a record from its first 33 bytes.
    pub fn parse(b: &[u8; DIRECTORY_RECORD_FIXED_LEN]) -> Self {
        DirectoryRecord {
            length_of_directory_record: b[0],
            extended_attribute_record_length: b[1],
            location_of_extent: BothEndian::<u32>::read(b, 2),
            data_length: BothEndian::<u32>::read(b, 10),
            recording_date_and_time: array(b, 18),
            file_flags: b[25],
            file_unit_size: b[26],
            interleave_gap_size: b[27],
            volume_sequence_number: BothEndian::<u16>::read(b, 28),
            length_of_file_identifier: b[32],
        }
    }
}

/// Size of every boot catalog entry.
pub const CATALOG_ENTRY_SIZE: usize = 32;

/// El Torito validation entry (El Torito 2.1), the first catalog entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationEntry {
    /// 0: header ID, 0x01.
    pub header_id: u8,
    /// 1: platform ID of the initial/default entry.
    pub platform_id: u8,
    /// 2..4: reserved, 0.
    pub reserved: u16,
    /// 4..28: ID string: manufacturer/developer of the CD.
    pub id_string: [u8; 24],
    /// 28..30: checksum: the sixteen little-endian words of the entry sum to 0.
    pub checksum: u16,
    /// 30: key byte 0x55.
    pub key_55: u8,
    /// 31: key byte 0xAA.
    pub key_aa: u8,
}

impl ValidationEntry {
    /// Decode a 32-byte entry.
    pub fn parse(e: &[u8; CATALOG_ENTRY_SIZE]) -> Self {
        ValidationEntry {
            header_id: e[0],
            platform_id: e[1],
            reserved: u16_le(e, 2),
            id_string: array(e, 4),
            checksum: u16_le(e, 28),
            key_55: e[30],
            key_aa: e[31],
        }
    }
}

/// El Torito initial/default entry (2.2) and section entry (2.4): one layout; the
/// initial entry leaves bytes 12..32 unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionEntry {
    /// 0: boot indicator, 0x88 bootable, 0x00 not bootable.
    pub boot_indicator: u8,
    /// 1: boot media type: bits 0-3 emulation; section entries: bit 5 continuation
    /// (extension) entry follows, bit 6 image has an ATAPI driver, bit 7 SCSI drivers.
    pub boot_media_type: u8,
    /// 2..4: load segment (0 means the traditional 0x7C0).
    pub load_segment: u16,
    /// 4: system type: the partition type byte of the image's partition table (hard disk
    /// emulation).
    pub system_type: u8,
    /// 5: unused, 0.
    pub unused: u8,
    /// 6..8: sector count: virtual (512-byte) sectors to load.
    pub sector_count: u16,
    /// 8..12: load RBA: start of the image, in 2048-byte sectors.
    pub load_rba: u32,
    /// 12: selection criteria type (section entries: 0 none, 1 language and version).
    pub selection_criteria_type: u8,
    /// 13..32: vendor unique selection criteria.
    pub vendor_unique_selection_criteria: [u8; 19],
}

impl SectionEntry {
    /// Decode a 32-byte entry.
    pub fn parse(e: &[u8; CATALOG_ENTRY_SIZE]) -> Self {
        SectionEntry {
            boot_indicator: e[0],
            boot_media_type: e[1],
            load_segment: u16_le(e, 2),
            system_type: e[4],
            unused: e[5],
            sector_count: u16_le(e, 6),
            load_rba: u32_le(e, 8),
            selection_criteria_type: e[12],
            vendor_unique_selection_criteria: array(e, 13),
        }
    }
}

/// El Torito section header entry (2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionHeaderEntry {
    /// 0: header indicator, 0x90 more headers follow, 0x91 final header.
    pub header_indicator: u8,
    /// 1: platform ID.
    pub platform_id: u8,
    /// 2..4: number of section entries following this header.
    pub number_of_section_entries: u16,
    /// 4..32: ID string identifying the section.
    pub id_string: [u8; 28],
}

impl SectionHeaderEntry {
    /// Decode a 32-byte entry.
    pub fn parse(e: &[u8; CATALOG_ENTRY_SIZE]) -> Self {
        SectionHeaderEntry {
            header_indicator: e[0],
            platform_id: e[1],
            number_of_section_entries: u16_le(e, 2),
            id_string: array(e, 4),
        }
    }
}

/// El Torito section entry extension (2.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionEntryExtension {
    /// 0: extension indicator, 0x44.
    pub extension_indicator: u8,
    /// 1: bits: bit 5 set when another extension follows.
    pub bits: u8,
    /// 2..32: vendor unique selection criteria, continued.
    pub vendor_unique_selection_criteria: [u8; 30],
}

impl SectionEntryExtension {
    /// Decode a 32-byte entry.
    pub fn parse(e: &[u8; CATALOG_ENTRY_SIZE]) -> Self {
        SectionEntryExtension {
            extension_indicator: e[0],
            bits: e[1],
            vendor_unique_selection_criteria: array(e, 2),
        }
    }
}

/// Catalog entry codes (El Torito 2.1-2.5).
pub mod catalog {
    /// Validation entry header ID.
    pub const VALIDATION_HEADER_ID: u8 = 0x01;
    /// Boot indicator: bootable.
    pub const BOOTABLE: u8 = 0x88;
    /// Boot indicator: not bootable.
    pub const NOT_BOOTABLE: u8 = 0x00;
    /// Section header: more headers follow.
    pub const HEADER_MORE: u8 = 0x90;
    /// Section header: final header.
    pub const HEADER_FINAL: u8 = 0x91;
    /// Section entry extension indicator.
    pub const EXTENSION: u8 = 0x44;
    /// Boot media type bit: an extension entry follows (section entries).
    pub const MEDIA_CONTINUATION: u8 = 0x20;
    /// Extension bits: another extension follows.
    pub const EXTENSION_MORE: u8 = 0x20;
}

/// A SUSP system use entry header (SUSP 1.12, 4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemUseEntryHeader {
    /// 0..2: signature word, e.g. "SP", "CE", "NM", "PX".
    pub signature: [u8; 2],
    /// 2: length of the whole entry (LEN_SUE).
    pub length: u8,
    /// 3: system use entry version.
    pub version: u8,
}

/// FAT boot sector / BPB fields used to size an EFI boot image (Microsoft FAT spec).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FatBootSector {
    /// 0..3: jump instruction (0xEB xx 0x90 or 0xE9 xx xx).
    pub bs_jmp_boot: [u8; 3],
    /// 11..13: bytes per sector.
    pub bpb_bytes_per_sec: u16,
    /// 13: sectors per cluster.
    pub bpb_sec_per_clus: u8,
    /// 19..21: total sectors, 16-bit (0 if BPB_TotSec32 is used).
    pub bpb_tot_sec16: u16,
    /// 32..36: total sectors, 32-bit.
    pub bpb_tot_sec32: u32,
    /// 510..512: signature 0x55 0xAA.
    pub signature_word: [u8; 2],
}

impl FatBootSector {
    /// Decode from the first 512 bytes of the image.
    pub fn parse(b: &[u8; 512]) -> Self {
        FatBootSector {
            bs_jmp_boot: array(b, 0),
            bpb_bytes_per_sec: u16_le(b, 11),
            bpb_sec_per_clus: b[13],
            bpb_tot_sec16: u16_le(b, 19),
            bpb_tot_sec32: u32_le(b, 32),
            signature_word: array(b, 510),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_entry_offsets() {
        let mut e = [0u8; 32];
        e[0] = 0x88;
        e[1] = 0x24;
        e[2..4].copy_from_slice(&0x07c0u16.to_le_bytes());
        e[4] = 6;
        e[6..8].copy_from_slice(&4u16.to_le_bytes());
        e[8..12].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        e[12] = 1;
        e[13] = 0xAB;
        e[31] = 0xCD;
        let s = SectionEntry::parse(&e);
        assert_eq!(s.boot_indicator, 0x88);
        assert_eq!(s.boot_media_type, 0x24);
        assert_eq!(s.load_segment, 0x07c0);
        assert_eq!(s.system_type, 6);
        assert_eq!(s.sector_count, 4);
        assert_eq!(s.load_rba, 0x1234_5678);
        assert_eq!(s.selection_criteria_type, 1);
        assert_eq!(s.vendor_unique_selection_criteria[0], 0xAB);
        assert_eq!(s.vendor_unique_selection_criteria[18], 0xCD);
    }

    #[test]
    fn directory_record_offsets() {
        let mut r = [0u8; 33];
        r[0] = 40;
        r[2..6].copy_from_slice(&20u32.to_le_bytes());
        r[6..10].copy_from_slice(&20u32.to_be_bytes());
        r[10..14].copy_from_slice(&4096u32.to_le_bytes());
        r[14..18].copy_from_slice(&4096u32.to_be_bytes());
        r[25] = 2;
        r[32] = 5;
        let d = DirectoryRecord::parse(&r);
        assert_eq!(d.length_of_directory_record, 40);
        assert_eq!(d.location_of_extent, BothEndian { le: 20, be: 20 });
        assert_eq!(d.data_length.le, 4096);
        assert_eq!(d.file_flags, 2);
        assert_eq!(d.length_of_file_identifier, 5);
    }
}
