//! Reading partition tables from disk, for recognising a stick: the MBR (classic or
//! protective) and the primary GPT header and entries (with their CRC32s, falling back to
//! the backup copy when the primary is damaged).
//!
//! This is our own parser rather than the `gpt` crate's reader, because that reader
//! asserts on on-disk values (an entry size other than 128 panics) and bootshelf must
//! never panic on what it finds on a disk it is pointed at. Writing uses the `gpt` and
//! `mbrman` crates (see `partition_write`).

use blockdev::{BlockDevice, IoError};
use std::fmt;

/// Raw on-disk structures, offsets as the UEFI specification (5.2, 5.3) names them.
pub mod raw {
    /// Offset of the 4 MBR partition records in LBA 0.
    pub const MBR_PART_OFFSET: usize = 446;
    /// Offset of the 0x55 0xAA boot signature.
    pub const MBR_SIGNATURE_OFFSET: usize = 510;
    /// GPT header signature "EFI PART" (offset 0 of the header).
    pub const GPT_SIGNATURE: &[u8; 8] = b"EFI PART";
    /// Offset of HeaderSize (u32).
    pub const GPT_HEADER_SIZE: usize = 12;
    /// Offset of HeaderCRC32 (u32).
    pub const GPT_HEADER_CRC: usize = 16;
    /// Offset of MyLBA (u64).
    pub const GPT_MY_LBA: usize = 24;
    /// Offset of AlternateLBA (u64).
    pub const GPT_ALTERNATE_LBA: usize = 32;
    /// Offset of FirstUsableLBA (u64).
    pub const GPT_FIRST_USABLE: usize = 40;
    /// Offset of LastUsableLBA (u64).
    pub const GPT_LAST_USABLE: usize = 48;
    /// Offset of PartitionEntryLBA (u64).
    pub const GPT_ENTRY_LBA: usize = 72;
    /// Offset of NumberOfPartitionEntries (u32).
    pub const GPT_NUM_ENTRIES: usize = 80;
    /// Offset of SizeOfPartitionEntry (u32).
    pub const GPT_ENTRY_SIZE: usize = 84;
    /// Offset of PartitionEntryArrayCRC32 (u32).
    pub const GPT_ENTRIES_CRC: usize = 88;
    /// The smallest valid GPT header.
    pub const GPT_MIN_HEADER_SIZE: u32 = 92;
    /// Entry: PartitionTypeGUID at 0, UniquePartitionGUID at 16, StartingLBA at 32,
    /// EndingLBA at 40, Attributes at 48, PartitionName (UTF-16LE, 36 units) at 56.
    pub const ENTRY_NAME_OFFSET: usize = 56;
}

/// A GPT partition type GUID in its on-disk (mixed-endian) byte order. A newtype, not an
/// enum: any GUID may appear on a foreign disk.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeGuid(pub [u8; 16]);

impl TypeGuid {
    /// An unused entry.
    pub const UNUSED: TypeGuid = TypeGuid([0; 16]);
    /// Microsoft basic data (EBD0A0A2-B9E5-4433-87C0-68B6B72699C7): the exFAT data partition.
    pub const BASIC_DATA: TypeGuid =
        TypeGuid::from_str_const("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7");
    /// EFI System Partition (C12A7328-F81F-11D2-BA4B-00A0C93EC93B).
    pub const EFI_SYSTEM: TypeGuid =
        TypeGuid::from_str_const("C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    /// BIOS boot partition (21686148-6449-6E6F-744E-656564454649): stage 2 lives here.
    pub const BIOS_BOOT: TypeGuid =
        TypeGuid::from_str_const("21686148-6449-6E6F-744E-656564454649");

    /// Parse the canonical text form at compile time (panics only on a malformed
    /// constant, which fails the build).
    const fn from_str_const(s: &str) -> TypeGuid {
        let b = s.as_bytes();
        let mut hex = [0u8; 16];
        let mut i = 0;
        let mut n = 0;
        while i < b.len() {
            if b[i] != b'-' {
                let hi = hexval(b[i]);
                let lo = hexval(b[i + 1]);
                hex[n] = hi << 4 | lo;
                n += 1;
                i += 2;
            } else {
                i += 1;
            }
        }
        assert!(n == 16, "a GUID has 16 bytes");
        // First three fields are little-endian on disk.
        TypeGuid([
            hex[3], hex[2], hex[1], hex[0], hex[5], hex[4], hex[7], hex[6], hex[8], hex[9],
            hex[10], hex[11], hex[12], hex[13], hex[14], hex[15],
        ])
    }

    /// A short human name for known types, for error messages.
    pub fn describe(&self) -> &'static str {
        match *self {
            TypeGuid::BASIC_DATA => "Microsoft basic data",
            TypeGuid::EFI_SYSTEM => "EFI System",
            TypeGuid::BIOS_BOOT => "BIOS boot",
            TypeGuid::UNUSED => "unused",
            TypeGuid(b) if b == LINUX_FS => "Linux filesystem",
            _ => "other",
        }
    }
}

const LINUX_FS: [u8; 16] = TypeGuid::from_str_const("0FC63DAF-8483-4772-8E79-3D69D8477DE4").0;

const fn hexval(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => panic!("not a hex digit"),
    }
}

impl fmt::Display for TypeGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02X}{:02X}{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-{:02X}{:02X}-",
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9]
        )?;
        for x in &b[10..] {
            write!(f, "{x:02X}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TypeGuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self} ({})", self.describe())
    }
}

/// One entry of the MBR's partition table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MbrEntry {
    /// 0x80 when active.
    pub boot: u8,
    /// Partition type byte (0x07 exFAT/NTFS, 0xEF EFI, 0xEE protective GPT, 0 unused).
    pub kind: u8,
    /// First LBA.
    pub first_lba: u32,
    /// Length in sectors.
    pub sectors: u32,
}

/// The four primary entries of LBA 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mbr {
    /// Entries 1..=4 (index 0..=3).
    pub entries: [MbrEntry; 4],
}

/// One used GPT entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GptEntry {
    /// 1-based entry number (as `sgdisk` and Linux number them).
    pub number: u32,
    /// Partition type.
    pub type_guid: TypeGuid,
    /// First LBA (inclusive).
    pub first_lba: u64,
    /// Last LBA (inclusive).
    pub last_lba: u64,
    /// Name (UTF-16LE on disk, up to 36 units).
    pub name: String,
}

/// A parsed GPT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gpt {
    /// Whether the primary header was valid (else the backup was used).
    pub primary_valid: bool,
    /// FirstUsableLBA.
    pub first_usable: u64,
    /// LastUsableLBA.
    pub last_usable: u64,
    /// Number of entries in the array.
    pub num_entries: u32,
    /// Used entries (unused ones skipped), in entry order.
    pub entries: Vec<GptEntry>,
}

impl Gpt {
    /// The entry with this 1-based number, if used.
    pub fn entry(&self, number: u32) -> Option<&GptEntry> {
        self.entries.iter().find(|e| e.number == number)
    }
}

/// What LBA 0 (and maybe LBA 1) holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Table {
    /// No 0x55AA signature: no partition table at all (blank or a bare file system).
    None,
    /// A classic MBR table.
    Mbr(Mbr),
    /// A protective MBR and a GPT.
    Gpt(Mbr, Gpt),
}

/// Why a partition table could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum TableError {
    /// Reading the device failed.
    Io(IoError),
    /// A protective MBR (type 0xEE) but neither GPT header is valid.
    BadGpt {
        /// What was wrong with the primary header.
        primary: String,
        /// What was wrong with the backup header.
        backup: String,
    },
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Io(e) => write!(f, "reading the partition table: {e}"),
            TableError::BadGpt { primary, backup } => write!(
                f,
                "the disk has a protective MBR but no valid GPT (primary: {primary}; backup: {backup})"
            ),
        }
    }
}

impl std::error::Error for TableError {}

impl From<IoError> for TableError {
    fn from(e: IoError) -> Self {
        TableError::Io(e)
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// CRC-32 (IEEE 802.3, reflected, as GPT uses).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Parse the MBR in a sector 0 buffer; `None` without the 0x55AA signature.
pub fn parse_mbr(sector0: &[u8]) -> Option<Mbr> {
    if sector0.get(raw::MBR_SIGNATURE_OFFSET..raw::MBR_SIGNATURE_OFFSET + 2) != Some(&[0x55, 0xAA])
    {
        return None;
    }
    let mut entries = [MbrEntry {
        boot: 0,
        kind: 0,
        first_lba: 0,
        sectors: 0,
    }; 4];
    for (i, e) in entries.iter_mut().enumerate() {
        let at = raw::MBR_PART_OFFSET + 16 * i;
        *e = MbrEntry {
            boot: sector0.get(at).copied().unwrap_or(0),
            kind: sector0.get(at + 4).copied().unwrap_or(0),
            first_lba: le32(sector0, at + 8),
            sectors: le32(sector0, at + 12),
        };
    }
    Some(Mbr { entries })
}

/// The largest entry array we are willing to read (a sane GPT has 128 entries of 128 bytes).
const MAX_ENTRY_ARRAY: u64 = 1 << 20;

/// Parse and validate one GPT header at `lba` and its entry array.
fn read_gpt_at<D: BlockDevice>(dev: &mut D, lba: u64) -> Result<Result<Gpt, String>, IoError> {
    let ss = dev.sector_size() as usize;
    let count = dev.sector_count();
    if lba >= count {
        return Ok(Err(format!("LBA {lba} is past the end of the disk")));
    }
    let mut hdr = vec![0u8; ss];
    dev.read_sectors(lba, &mut hdr)?;
    if hdr.get(..8) != Some(&raw::GPT_SIGNATURE[..]) {
        return Ok(Err(format!("no \"EFI PART\" signature at LBA {lba}")));
    }
    let hsize = le32(&hdr, raw::GPT_HEADER_SIZE);
    if hsize < raw::GPT_MIN_HEADER_SIZE || hsize as usize > ss {
        return Ok(Err(format!(
            "header size {hsize} at LBA {lba} (byte offset {}) is not in 92..={ss}",
            lba * ss as u64 + raw::GPT_HEADER_SIZE as u64
        )));
    }
    let want = le32(&hdr, raw::GPT_HEADER_CRC);
    let mut h = hdr[..hsize as usize].to_vec();
    h[raw::GPT_HEADER_CRC..raw::GPT_HEADER_CRC + 4].fill(0);
    let got = crc32(&h);
    if got != want {
        return Ok(Err(format!(
            "header CRC32 at LBA {lba} is {want:#010x}, computed {got:#010x}"
        )));
    }
    let my_lba = le64(&hdr, raw::GPT_MY_LBA);
    if my_lba != lba {
        return Ok(Err(format!("header at LBA {lba} says MyLBA = {my_lba}")));
    }
    let first_usable = le64(&hdr, raw::GPT_FIRST_USABLE);
    let last_usable = le64(&hdr, raw::GPT_LAST_USABLE);
    if first_usable > last_usable || last_usable >= count {
        return Ok(Err(format!(
            "usable range {first_usable}..={last_usable} does not fit a disk of {count} sectors"
        )));
    }
    let entry_lba = le64(&hdr, raw::GPT_ENTRY_LBA);
    let num = le32(&hdr, raw::GPT_NUM_ENTRIES);
    let esize = le32(&hdr, raw::GPT_ENTRY_SIZE);
    if esize < 128 || !esize.is_power_of_two() {
        return Ok(Err(format!(
            "entry size {esize} (header at LBA {lba}) is not 128 times a power of two"
        )));
    }
    let array = u64::from(num) * u64::from(esize);
    if array > MAX_ENTRY_ARRAY {
        return Ok(Err(format!(
            "entry array of {num} x {esize} bytes is implausibly large"
        )));
    }
    let array_sectors = array.div_ceil(ss as u64);
    match entry_lba.checked_add(array_sectors) {
        Some(end) if end <= count => {}
        _ => {
            return Ok(Err(format!(
                "entry array at LBA {entry_lba} runs past the end of the disk"
            )))
        }
    }
    let mut buf = vec![0u8; (array_sectors * ss as u64) as usize];
    dev.read_sectors(entry_lba, &mut buf)?;
    let arr = &buf[..array as usize];
    let want = le32(&hdr, raw::GPT_ENTRIES_CRC);
    let got = crc32(arr);
    if got != want {
        return Ok(Err(format!(
            "entry array CRC32 is {want:#010x}, computed {got:#010x} (array at LBA {entry_lba})"
        )));
    }
    let mut entries = Vec::new();
    for (i, e) in arr.chunks_exact(esize as usize).enumerate() {
        let mut t = [0u8; 16];
        t.copy_from_slice(&e[..16]);
        let type_guid = TypeGuid(t);
        if type_guid == TypeGuid::UNUSED {
            continue;
        }
        let units: Vec<u16> = (0..36)
            .map(|k| le16(e, raw::ENTRY_NAME_OFFSET + 2 * k))
            .take_while(|&u| u != 0)
            .collect();
        entries.push(GptEntry {
            number: i as u32 + 1,
            type_guid,
            first_lba: le64(e, 32),
            last_lba: le64(e, 40),
            name: String::from_utf16_lossy(&units),
        });
    }
    Ok(Ok(Gpt {
        primary_valid: lba == 1,
        first_usable,
        last_usable,
        num_entries: num,
        entries,
    }))
}

/// Read LBA 0 and, with a protective MBR, the GPT (primary, else backup at the last LBA).
pub fn read_table<D: BlockDevice>(dev: &mut D) -> Result<Table, TableError> {
    let ss = dev.sector_size() as usize;
    if dev.sector_count() < 2 {
        return Ok(Table::None);
    }
    let mut s0 = vec![0u8; ss];
    dev.read_sectors(0, &mut s0)?;
    let Some(mbr) = parse_mbr(&s0) else {
        return Ok(Table::None);
    };
    if !mbr.entries.iter().any(|e| e.kind == 0xEE) {
        return Ok(Table::Mbr(mbr));
    }
    let primary = match read_gpt_at(dev, 1)? {
        Ok(g) => return Ok(Table::Gpt(mbr, g)),
        Err(why) => why,
    };
    let last = dev.sector_count() - 1;
    match read_gpt_at(dev, last)? {
        Ok(g) => Ok(Table::Gpt(mbr, g)),
        Err(backup) => Err(TableError::BadGpt { primary, backup }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn type_guids_round_trip_through_text() {
        assert_eq!(
            TypeGuid::BIOS_BOOT.to_string(),
            "21686148-6449-6E6F-744E-656564454649"
        );
        assert_eq!(&TypeGuid::BIOS_BOOT.0[..4], &[0x48, 0x61, 0x68, 0x21]);
        assert_eq!(
            TypeGuid::EFI_SYSTEM.to_string(),
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
        );
    }

    #[test]
    fn garbage_never_panics() {
        use blockdev::MemDevice;
        let mut seed = 0x1234_5678u32;
        for _ in 0..200 {
            let mut d = MemDevice::new(512, 64);
            for b in d.data.iter_mut() {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = (seed >> 16) as u8;
            }
            d.data[510] = 0x55;
            d.data[511] = 0xAA;
            d.data[446 + 4] = 0xEE;
            d.data[512..520].copy_from_slice(b"EFI PART");
            let _ = read_table(&mut d);
        }
    }
}
