//! The MBR and GPT on-disk structures, named as the UEFI specification (chapter 5, "GUID
//! Partition Table Disk Layout") names them, with their byte offsets: the one definition
//! every bootshelf crate reads and writes partition tables through (ptable, iso9660's
//! hybrid detection, the BIOS loader, the test fixtures). Plain data: fixed-size byte
//! arrays decoded and encoded little-endian; nothing here validates (ptable's `mbr` and
//! `gpt` modules do). `no_std`, no allocation.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

mod guid;

pub use guid::Guid;

/// Byte offset of the four partition records in the MBR.
pub const MBR_PARTITION_RECORDS_OFFSET: usize = 446;
/// Byte offset of the 0x55 0xAA signature in the MBR.
pub const MBR_SIGNATURE_OFFSET: usize = 510;
/// The MBR signature as a little-endian u16 (bytes 0x55, 0xAA).
pub const MBR_SIGNATURE: u16 = 0xAA55;
/// Byte offset of the 32-bit disk signature in the MBR.
pub const MBR_DISK_SIGNATURE_OFFSET: usize = 440;

/// `"EFI PART"`.
pub const GPT_SIGNATURE: [u8; 8] = *b"EFI PART";
/// Revision 1.0.
pub const GPT_REVISION_1_0: u32 = 0x0001_0000;
/// Size of the header fields defined by the specification.
pub const GPT_HEADER_SIZE: usize = 92;
/// Size of the fields of a partition entry defined by the specification.
pub const GPT_ENTRY_SIZE: usize = 128;
/// UTF-16 code units in a partition name.
pub const GPT_NAME_UNITS: usize = 36;
/// Byte offset of `HeaderCRC32` in the GPT header.
pub const GPT_HEADER_CRC32_OFFSET: usize = 16;

/// The `M` bytes of `b` at `off` (zero past its end: decoding never panics).
fn bytes_at<const M: usize, const N: usize>(b: &[u8; N], off: usize) -> [u8; M] {
    let mut a = [0u8; M];
    if let Some(s) = b.get(off..off + M) {
        a.copy_from_slice(s);
    }
    a
}

fn u16_at<const N: usize>(b: &[u8; N], off: usize) -> u16 {
    u16::from_le_bytes(bytes_at(b, off))
}

fn u32_at<const N: usize>(b: &[u8; N], off: usize) -> u32 {
    u32::from_le_bytes(bytes_at(b, off))
}

fn u64_at<const N: usize>(b: &[u8; N], off: usize) -> u64 {
    u64::from_le_bytes(bytes_at(b, off))
}

fn put<const N: usize>(b: &mut [u8; N], off: usize, v: &[u8]) {
    if let Some(d) = b.get_mut(off..off + v.len()) {
        d.copy_from_slice(v);
    }
}

/// A cylinder-head-sector address as an MBR record packs it into three bytes
/// (`StartingCHS` / `EndingCHS`): byte 0 the head, byte 1 the sector (bits 0-5) and bits
/// 8-9 of the cylinder (bits 6-7), byte 2 bits 0-7 of the cylinder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Chs {
    /// Cylinder, 0..=1023.
    pub cylinder: u16,
    /// Head, 0..=255.
    pub head: u8,
    /// Sector, 1..=63 (0 is not a valid sector).
    pub sector: u8,
}

impl Chs {
    /// What tools store for an address beyond cylinder 1023: `FE FF FF` (cylinder 1023,
    /// head 254, sector 63).
    pub const BEYOND_1024_CYLINDERS: Chs = Chs {
        cylinder: 1023,
        head: 254,
        sector: 63,
    };

    /// Unpack the three bytes.
    pub fn from_bytes(b: [u8; 3]) -> Chs {
        Chs {
            cylinder: (u16::from(b[1] & 0xC0) << 2) | u16::from(b[2]),
            head: b[0],
            sector: b[1] & 0x3F,
        }
    }

    /// Pack into three bytes (cylinder bits above 9 and sector bits above 5 are dropped).
    pub fn to_bytes(self) -> [u8; 3] {
        [
            self.head,
            (self.sector & 0x3F) | (((self.cylinder >> 8) as u8 & 0x03) << 6),
            self.cylinder as u8,
        ]
    }
}

/// One of the four 16-byte MBR partition records (UEFI spec table 5-2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct MbrPartitionRecord {
    /// 0: 0x80 = bootable (legacy), 0x00 otherwise.
    pub boot_indicator: u8,
    /// 1: CHS address of the first sector.
    pub starting_chs: [u8; 3],
    /// 4: partition type ("OS type").
    pub os_type: u8,
    /// 5: CHS address of the last sector.
    pub ending_chs: [u8; 3],
    /// 8: LBA of the first sector.
    pub starting_lba: u32,
    /// 12: number of sectors.
    pub size_in_lba: u32,
}

impl MbrPartitionRecord {
    /// Size of a record in bytes.
    pub const SIZE: usize = 16;

    /// Decode a record.
    pub fn from_bytes(b: &[u8; 16]) -> Self {
        MbrPartitionRecord {
            boot_indicator: b[0],
            starting_chs: bytes_at(b, 1),
            os_type: b[4],
            ending_chs: bytes_at(b, 5),
            starting_lba: u32_at(b, 8),
            size_in_lba: u32_at(b, 12),
        }
    }

    /// Encode a record.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.boot_indicator;
        put(&mut b, 1, &self.starting_chs);
        b[4] = self.os_type;
        put(&mut b, 5, &self.ending_chs);
        put(&mut b, 8, &self.starting_lba.to_le_bytes());
        put(&mut b, 12, &self.size_in_lba.to_le_bytes());
        b
    }

    /// Whether the record is unused (type 0x00).
    pub fn is_unused(&self) -> bool {
        self.os_type == 0
    }

    /// [`MbrPartitionRecord::starting_chs`] unpacked.
    pub fn starting(&self) -> Chs {
        Chs::from_bytes(self.starting_chs)
    }

    /// [`MbrPartitionRecord::ending_chs`] unpacked.
    pub fn ending(&self) -> Chs {
        Chs::from_bytes(self.ending_chs)
    }
}

/// The first 512 bytes of LBA 0.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MbrSector {
    /// 0..440: boot code (kept as is).
    pub boot_code: [u8; 440],
    /// 440: disk signature.
    pub unique_mbr_disk_signature: u32,
    /// 444: unknown / reserved.
    pub unknown: u16,
    /// 446: the four partition records.
    pub partition_record: [MbrPartitionRecord; 4],
    /// 510: 0xAA55.
    pub signature: u16,
}

impl MbrSector {
    /// Size of the sector in bytes (the MBR of a 4096-byte-sector disk is its first 512).
    pub const SIZE: usize = 512;

    /// Decode.
    pub fn from_bytes(b: &[u8; 512]) -> Self {
        let mut recs = [MbrPartitionRecord::default(); 4];
        for (i, r) in recs.iter_mut().enumerate() {
            let off = MBR_PARTITION_RECORDS_OFFSET + i * MbrPartitionRecord::SIZE;
            *r = MbrPartitionRecord::from_bytes(&bytes_at(b, off));
        }
        MbrSector {
            boot_code: bytes_at(b, 0),
            unique_mbr_disk_signature: u32_at(b, MBR_DISK_SIGNATURE_OFFSET),
            unknown: u16_at(b, 444),
            partition_record: recs,
            signature: u16_at(b, MBR_SIGNATURE_OFFSET),
        }
    }

    /// Encode.
    pub fn to_bytes(&self) -> [u8; 512] {
        let mut b = [0u8; 512];
        b[..440].copy_from_slice(&self.boot_code);
        put(
            &mut b,
            MBR_DISK_SIGNATURE_OFFSET,
            &self.unique_mbr_disk_signature.to_le_bytes(),
        );
        put(&mut b, 444, &self.unknown.to_le_bytes());
        for (i, r) in self.partition_record.iter().enumerate() {
            put(&mut b, MBR_PARTITION_RECORDS_OFFSET + i * 16, &r.to_bytes());
        }
        put(&mut b, MBR_SIGNATURE_OFFSET, &self.signature.to_le_bytes());
        b
    }

    /// Whether the sector ends with the 0x55 0xAA signature.
    pub fn has_signature(&self) -> bool {
        self.signature == MBR_SIGNATURE
    }
}

/// The GPT header (UEFI spec table 5-5); bytes past 92 up to `header_size` are kept by the
/// writer from the sector it read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GptHeader {
    /// 0: `"EFI PART"`.
    pub signature: [u8; 8],
    /// 8: 0x00010000.
    pub revision: u32,
    /// 12: size of the header in bytes (92 up to the sector size).
    pub header_size: u32,
    /// 16: CRC-32 of the header (`header_size` bytes) with this field zeroed.
    pub header_crc32: u32,
    /// 20: must be zero.
    pub reserved: u32,
    /// 24: LBA of this header.
    pub my_lba: u64,
    /// 32: LBA of the other header.
    pub alternate_lba: u64,
    /// 40: first LBA a partition may use.
    pub first_usable_lba: u64,
    /// 48: last LBA a partition may use.
    pub last_usable_lba: u64,
    /// 56: the disk GUID.
    pub disk_guid: Guid,
    /// 72: first LBA of the partition entry array.
    pub partition_entry_lba: u64,
    /// 80: number of entries in the array.
    pub number_of_partition_entries: u32,
    /// 84: size of one entry (128 x 2^n).
    pub size_of_partition_entry: u32,
    /// 88: CRC-32 of the entry array (`number * size` bytes).
    pub partition_entry_array_crc32: u32,
}

impl GptHeader {
    /// Decode the 92 defined bytes.
    pub fn from_bytes(b: &[u8; GPT_HEADER_SIZE]) -> Self {
        GptHeader {
            signature: bytes_at(b, 0),
            revision: u32_at(b, 8),
            header_size: u32_at(b, 12),
            header_crc32: u32_at(b, 16),
            reserved: u32_at(b, 20),
            my_lba: u64_at(b, 24),
            alternate_lba: u64_at(b, 32),
            first_usable_lba: u64_at(b, 40),
            last_usable_lba: u64_at(b, 48),
            disk_guid: Guid(bytes_at(b, 56)),
            partition_entry_lba: u64_at(b, 72),
            number_of_partition_entries: u32_at(b, 80),
            size_of_partition_entry: u32_at(b, 84),
            partition_entry_array_crc32: u32_at(b, 88),
        }
    }

    /// Encode the 92 defined bytes.
    pub fn to_bytes(&self) -> [u8; GPT_HEADER_SIZE] {
        let mut b = [0u8; GPT_HEADER_SIZE];
        put(&mut b, 0, &self.signature);
        put(&mut b, 8, &self.revision.to_le_bytes());
        put(&mut b, 12, &self.header_size.to_le_bytes());
        put(&mut b, 16, &self.header_crc32.to_le_bytes());
        put(&mut b, 20, &self.reserved.to_le_bytes());
        put(&mut b, 24, &self.my_lba.to_le_bytes());
        put(&mut b, 32, &self.alternate_lba.to_le_bytes());
        put(&mut b, 40, &self.first_usable_lba.to_le_bytes());
        put(&mut b, 48, &self.last_usable_lba.to_le_bytes());
        put(&mut b, 56, &self.disk_guid.0);
        put(&mut b, 72, &self.partition_entry_lba.to_le_bytes());
        put(&mut b, 80, &self.number_of_partition_entries.to_le_bytes());
        put(&mut b, 84, &self.size_of_partition_entry.to_le_bytes());
        put(&mut b, 88, &self.partition_entry_array_crc32.to_le_bytes());
        b
    }

    /// Whether the header starts with `"EFI PART"`.
    pub fn has_signature(&self) -> bool {
        self.signature == GPT_SIGNATURE
    }
}

/// The `HeaderCRC32` of a header whose first `HeaderSize` bytes are `header`: CRC-32 of
/// those bytes with the CRC field itself (bytes 16..20) counted as zero.
pub fn gpt_header_crc32(header: &[u8]) -> u32 {
    let (before, rest) = header.split_at(header.len().min(GPT_HEADER_CRC32_OFFSET));
    let (field, after) = rest.split_at(rest.len().min(4));
    let mut c = crc32::Crc32::new();
    c.update(before);
    c.update(&[0u8; 4][..field.len()]);
    c.update(after);
    c.finish()
}

/// A GPT partition entry (UEFI spec table 5-6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GptPartitionEntry {
    /// 0: partition type; all zero = unused entry.
    pub partition_type_guid: Guid,
    /// 16: unique partition GUID.
    pub unique_partition_guid: Guid,
    /// 32: first LBA.
    pub starting_lba: u64,
    /// 40: last LBA (inclusive).
    pub ending_lba: u64,
    /// 48: attribute bits (0 required, 1 no Block I/O, 2 legacy BIOS bootable, 48-63
    /// type-specific).
    pub attributes: u64,
    /// 56: name, UTF-16LE, NUL-padded.
    pub partition_name: [u16; GPT_NAME_UNITS],
}

impl GptPartitionEntry {
    /// An unused entry.
    pub const UNUSED: GptPartitionEntry = GptPartitionEntry {
        partition_type_guid: Guid::ZERO,
        unique_partition_guid: Guid::ZERO,
        starting_lba: 0,
        ending_lba: 0,
        attributes: 0,
        partition_name: [0; GPT_NAME_UNITS],
    };

    /// Decode.
    pub fn from_bytes(b: &[u8; GPT_ENTRY_SIZE]) -> Self {
        let mut partition_name = [0u16; GPT_NAME_UNITS];
        for (i, u) in partition_name.iter_mut().enumerate() {
            *u = u16_at(b, 56 + 2 * i);
        }
        GptPartitionEntry {
            partition_type_guid: Guid(bytes_at(b, 0)),
            unique_partition_guid: Guid(bytes_at(b, 16)),
            starting_lba: u64_at(b, 32),
            ending_lba: u64_at(b, 40),
            attributes: u64_at(b, 48),
            partition_name,
        }
    }

    /// Encode.
    pub fn to_bytes(&self) -> [u8; GPT_ENTRY_SIZE] {
        let mut b = [0u8; GPT_ENTRY_SIZE];
        put(&mut b, 0, &self.partition_type_guid.0);
        put(&mut b, 16, &self.unique_partition_guid.0);
        put(&mut b, 32, &self.starting_lba.to_le_bytes());
        put(&mut b, 40, &self.ending_lba.to_le_bytes());
        put(&mut b, 48, &self.attributes.to_le_bytes());
        for (i, u) in self.partition_name.iter().enumerate() {
            put(&mut b, 56 + 2 * i, &u.to_le_bytes());
        }
        b
    }

    /// Whether the entry is unused (zero type GUID).
    pub fn is_unused(&self) -> bool {
        self.partition_type_guid.is_zero()
    }

    /// The name's characters, up to the first NUL (unpaired surrogates become U+FFFD).
    pub fn name(&self) -> impl Iterator<Item = char> + '_ {
        char::decode_utf16(self.partition_name.iter().copied().take_while(|&u| u != 0))
            .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let r = MbrPartitionRecord {
            boot_indicator: 0x80,
            starting_chs: [1, 2, 3],
            os_type: 0x07,
            ending_chs: [4, 5, 6],
            starting_lba: 2048,
            size_in_lba: 0x1234_5678,
        };
        assert_eq!(MbrPartitionRecord::from_bytes(&r.to_bytes()), r);
        let mut e = GptPartitionEntry::UNUSED;
        e.starting_lba = 34;
        e.ending_lba = 2047;
        e.attributes = 1 << 63;
        e.partition_name[0] = u16::from(b'x');
        e.partition_type_guid = Guid([7; 16]);
        assert_eq!(GptPartitionEntry::from_bytes(&e.to_bytes()), e);
        assert_eq!(e.to_bytes()[48..56], (1u64 << 63).to_le_bytes());
    }

    #[test]
    fn sector_fields_sit_at_the_specified_offsets() {
        let mut b = [0u8; 512];
        b[0] = 0xFA;
        b[440..444].copy_from_slice(&0xDEAD_BEEFu32.to_le_bytes());
        b[446 + 16 * 2 + 4] = 0xEE;
        b[446 + 16 * 2 + 8..446 + 16 * 2 + 12].copy_from_slice(&1u32.to_le_bytes());
        b[446 + 16 * 3] = 0x80;
        b[510] = 0x55;
        b[511] = 0xAA;
        let s = MbrSector::from_bytes(&b);
        assert_eq!(s.boot_code[0], 0xFA);
        assert_eq!(s.unique_mbr_disk_signature, 0xDEAD_BEEF);
        assert_eq!(s.partition_record[2].os_type, 0xEE);
        assert_eq!(s.partition_record[2].starting_lba, 1);
        assert_eq!(s.partition_record[3].boot_indicator, 0x80);
        assert!(s.partition_record[0].is_unused());
        assert!(s.has_signature());
        assert_eq!(s.to_bytes(), b);
        b[511] = 0;
        assert!(!MbrSector::from_bytes(&b).has_signature());
    }

    #[test]
    fn chs_packs_the_cylinder_high_bits_into_the_sector_byte() {
        // End head 15, sector 63, cylinder 0x101.
        let c = Chs::from_bytes([15, 0x40 | 63, 0x01]);
        assert_eq!(
            c,
            Chs {
                cylinder: 0x101,
                head: 15,
                sector: 63
            }
        );
        assert_eq!(c.to_bytes(), [15, 0x40 | 63, 0x01]);
        assert_eq!(Chs::BEYOND_1024_CYLINDERS.to_bytes(), [0xFE, 0xFF, 0xFF]);
        let r = MbrPartitionRecord {
            starting_chs: [1, 1, 0],
            ending_chs: [0xFE, 0xFF, 0xFF],
            ..MbrPartitionRecord::default()
        };
        assert_eq!((r.starting().head, r.starting().sector), (1, 1));
        assert_eq!(r.ending(), Chs::BEYOND_1024_CYLINDERS);
    }

    #[test]
    fn header_round_trips_and_its_crc_skips_the_crc_field() {
        let h = GptHeader {
            signature: GPT_SIGNATURE,
            revision: GPT_REVISION_1_0,
            header_size: 92,
            header_crc32: 0,
            reserved: 0,
            my_lba: 1,
            alternate_lba: 0x1_0000_0001,
            first_usable_lba: 34,
            last_usable_lba: 0xFFFF_FFDE,
            disk_guid: Guid([9; 16]),
            partition_entry_lba: 2,
            number_of_partition_entries: 128,
            size_of_partition_entry: 128,
            partition_entry_array_crc32: 0x1234_5678,
        };
        let mut b = h.to_bytes();
        assert_eq!(GptHeader::from_bytes(&b), h);
        assert!(h.has_signature());
        assert_eq!(b[32..40], 0x1_0000_0001u64.to_le_bytes());
        assert_eq!(b[56..72], [9; 16]);
        let crc = gpt_header_crc32(&b);
        assert_eq!(crc, crc32::crc32(&b), "field zero: the plain CRC");
        b[16..20].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(gpt_header_crc32(&b), crc, "the stored CRC is not counted");
        assert_eq!(GptHeader::from_bytes(&b).header_crc32, crc);
        // Short input never panics.
        assert_eq!(
            gpt_header_crc32(&b[..18]),
            crc32::crc32(&[&b[..16], &[0, 0]].concat())
        );
    }

    #[test]
    fn entry_names_stop_at_nul_and_replace_lone_surrogates() {
        let mut e = GptPartitionEntry::UNUSED;
        for (d, u) in e
            .partition_name
            .iter_mut()
            .zip("bootshelf ü".encode_utf16())
        {
            *d = u;
        }
        assert_eq!(e.name().collect::<String>(), "bootshelf ü");
        e.partition_name[1] = 0xD800;
        assert_eq!(e.name().collect::<String>(), "b\u{FFFD}otshelf ü");
        e.partition_name[0] = 0;
        assert_eq!(e.name().count(), 0);
    }
}
