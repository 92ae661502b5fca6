//! On-disk layout of exFAT, named as the Microsoft exFAT specification names it, with the
//! byte offset of every field. Plain constants and little-endian accessors only; the
//! validated, typed view is in `volume` and `dir`.

/// Main boot sector (offsets in bytes from the start of sector 0 of the volume).
pub mod boot {
    /// JumpBoot: EB 76 90.
    pub const JUMP_BOOT: usize = 0;
    /// FileSystemName: "EXFAT   ".
    pub const FILE_SYSTEM_NAME: usize = 3;
    /// MustBeZero: 53 bytes.
    pub const MUST_BE_ZERO: usize = 11;
    /// PartitionOffset (u64, sectors of the medium).
    pub const PARTITION_OFFSET: usize = 64;
    /// VolumeLength (u64, sectors).
    pub const VOLUME_LENGTH: usize = 72;
    /// FatOffset (u32, sectors from the volume start).
    pub const FAT_OFFSET: usize = 80;
    /// FatLength (u32, sectors).
    pub const FAT_LENGTH: usize = 84;
    /// ClusterHeapOffset (u32, sectors).
    pub const CLUSTER_HEAP_OFFSET: usize = 88;
    /// ClusterCount (u32).
    pub const CLUSTER_COUNT: usize = 92;
    /// FirstClusterOfRootDirectory (u32).
    pub const FIRST_CLUSTER_OF_ROOT: usize = 96;
    /// VolumeSerialNumber (u32).
    pub const VOLUME_SERIAL_NUMBER: usize = 100;
    /// FileSystemRevision (u16): 0x0100.
    pub const FILE_SYSTEM_REVISION: usize = 104;
    /// VolumeFlags (u16), excluded from the boot checksum.
    pub const VOLUME_FLAGS: usize = 106;
    /// BytesPerSectorShift (u8): 9..=12.
    pub const BYTES_PER_SECTOR_SHIFT: usize = 108;
    /// SectorsPerClusterShift (u8): at most 25 - BytesPerSectorShift.
    pub const SECTORS_PER_CLUSTER_SHIFT: usize = 109;
    /// NumberOfFats (u8): 1, or 2 for TexFAT.
    pub const NUMBER_OF_FATS: usize = 110;
    /// DriveSelect (u8): 0x80.
    pub const DRIVE_SELECT: usize = 111;
    /// PercentInUse (u8): 0..=100 or 0xFF, excluded from the boot checksum.
    pub const PERCENT_IN_USE: usize = 112;
    /// BootCode: 390 bytes.
    pub const BOOT_CODE: usize = 120;
    /// BootSignature (u16): 0xAA55.
    pub const BOOT_SIGNATURE: usize = 510;

    /// "EXFAT   ".
    pub const FS_NAME: &[u8; 8] = b"EXFAT   ";
    /// VolumeFlags bit 0: ActiveFat.
    pub const FLAG_ACTIVE_FAT: u16 = 1 << 0;
    /// VolumeFlags bit 1: VolumeDirty.
    pub const FLAG_VOLUME_DIRTY: u16 = 1 << 1;
    /// VolumeFlags bit 2: MediaFailure.
    pub const FLAG_MEDIA_FAILURE: u16 = 1 << 2;
}

/// The boot region: main boot sector, 8 extended boot sectors, OEM parameters, a reserved
/// sector and the boot checksum sector; the backup region follows immediately.
pub mod region {
    /// Sectors in one boot region.
    pub const SECTORS: u64 = 12;
    /// Index of the boot checksum sector inside a region.
    pub const CHECKSUM_SECTOR: u64 = 11;
    /// Extended boot sectors end with this u32 (bytes 00 00 55 AA).
    pub const EXTENDED_BOOT_SIGNATURE: u32 = 0xAA55_0000;
}

/// FAT entry values.
pub mod fat {
    /// Media descriptor entry FAT[0].
    pub const MEDIA: u32 = 0xFFFF_FFF8;
    /// FAT[1].
    pub const FAT1: u32 = 0xFFFF_FFFF;
    /// Bad cluster.
    pub const BAD: u32 = 0xFFFF_FFF7;
    /// End of chain.
    pub const END: u32 = 0xFFFF_FFFF;
    /// First valid cluster index.
    pub const FIRST_CLUSTER: u32 = 2;
}

/// Directory entries: 32 bytes each; `EntryType` byte 0.
pub mod entry {
    /// Size of one directory entry.
    pub const SIZE: usize = 32;
    /// End-of-directory marker.
    pub const END_OF_DIRECTORY: u8 = 0x00;
    /// InUse bit of EntryType.
    pub const IN_USE: u8 = 0x80;
    /// Allocation bitmap (critical primary).
    pub const ALLOCATION_BITMAP: u8 = 0x81;
    /// Up-case table (critical primary).
    pub const UPCASE_TABLE: u8 = 0x82;
    /// Volume label (critical primary).
    pub const VOLUME_LABEL: u8 = 0x83;
    /// File (critical primary).
    pub const FILE: u8 = 0x85;
    /// Volume GUID (benign primary).
    pub const VOLUME_GUID: u8 = 0xA0;
    /// Stream extension (critical secondary).
    pub const STREAM_EXTENSION: u8 = 0xC0;
    /// File name (critical secondary).
    pub const FILE_NAME: u8 = 0xC1;
    /// A deleted file entry, used to fill skipped slots.
    pub const DELETED_FILE: u8 = 0x05;

    /// Characters in a volume label.
    pub const LABEL_CHARS: usize = 11;
    /// UTF-16 units in one file name entry.
    pub const NAME_CHARS_PER_ENTRY: usize = 15;
    /// Longest file name.
    pub const MAX_NAME: usize = 255;
}

/// File directory entry (0x85) field offsets.
pub mod file {
    /// SecondaryCount (u8).
    pub const SECONDARY_COUNT: usize = 1;
    /// SetChecksum (u16).
    pub const SET_CHECKSUM: usize = 2;
    /// FileAttributes (u16).
    pub const FILE_ATTRIBUTES: usize = 4;
    /// CreateTimestamp (u32).
    pub const CREATE_TIMESTAMP: usize = 8;
    /// LastModifiedTimestamp (u32).
    pub const LAST_MODIFIED_TIMESTAMP: usize = 12;
    /// LastAccessedTimestamp (u32).
    pub const LAST_ACCESSED_TIMESTAMP: usize = 16;
    /// Create10msIncrement (u8).
    pub const CREATE_10MS: usize = 20;
    /// LastModified10msIncrement (u8).
    pub const LAST_MODIFIED_10MS: usize = 21;
    /// CreateUtcOffset (u8).
    pub const CREATE_UTC_OFFSET: usize = 22;
    /// LastModifiedUtcOffset (u8).
    pub const LAST_MODIFIED_UTC_OFFSET: usize = 23;
    /// LastAccessedUtcOffset (u8).
    pub const LAST_ACCESSED_UTC_OFFSET: usize = 24;

    /// Attribute: read-only.
    pub const ATTR_READ_ONLY: u16 = 0x01;
    /// Attribute: directory.
    pub const ATTR_DIRECTORY: u16 = 0x10;
    /// Attribute: archive.
    pub const ATTR_ARCHIVE: u16 = 0x20;
}

/// Stream extension entry (0xC0) field offsets.
pub mod stream {
    /// GeneralSecondaryFlags (u8).
    pub const FLAGS: usize = 1;
    /// NameLength (u8).
    pub const NAME_LENGTH: usize = 3;
    /// NameHash (u16).
    pub const NAME_HASH: usize = 4;
    /// ValidDataLength (u64).
    pub const VALID_DATA_LENGTH: usize = 8;
    /// FirstCluster (u32).
    pub const FIRST_CLUSTER: usize = 20;
    /// DataLength (u64).
    pub const DATA_LENGTH: usize = 24;

    /// GeneralSecondaryFlags bit 0: AllocationPossible.
    pub const ALLOCATION_POSSIBLE: u8 = 0x01;
    /// GeneralSecondaryFlags bit 1: NoFatChain.
    pub const NO_FAT_CHAIN: u8 = 0x02;
}

/// Allocation bitmap (0x81) and up-case table (0x82) entry field offsets.
pub mod alloc_entry {
    /// BitmapFlags (u8) of the allocation bitmap entry.
    pub const BITMAP_FLAGS: usize = 1;
    /// TableChecksum (u32) of the up-case table entry.
    pub const TABLE_CHECKSUM: usize = 4;
    /// FirstCluster (u32).
    pub const FIRST_CLUSTER: usize = 20;
    /// DataLength (u64).
    pub const DATA_LENGTH: usize = 24;
}

/// Volume label entry (0x83) field offsets.
pub mod label {
    /// CharacterCount (u8).
    pub const CHARACTER_COUNT: usize = 1;
    /// VolumeLabel (11 UTF-16 units).
    pub const VOLUME_LABEL: usize = 2;
}

/// Little-endian u16 at `off` (0 when out of bounds).
pub fn le16(b: &[u8], off: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(s) = b.get(off..off + 2) {
        a.copy_from_slice(s);
    }
    u16::from_le_bytes(a)
}

/// Little-endian u32 at `off` (0 when out of bounds).
pub fn le32(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(off..off + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

/// Little-endian u64 at `off` (0 when out of bounds).
pub fn le64(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(off..off + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// Store a little-endian u16 (ignored when out of bounds).
pub fn put16(b: &mut [u8], off: usize, v: u16) {
    if let Some(s) = b.get_mut(off..off + 2) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// Store a little-endian u32 (ignored when out of bounds).
pub fn put32(b: &mut [u8], off: usize, v: u32) {
    if let Some(s) = b.get_mut(off..off + 4) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}

/// Store a little-endian u64 (ignored when out of bounds).
pub fn put64(b: &mut [u8], off: usize, v: u64) {
    if let Some(s) = b.get_mut(off..off + 8) {
        s.copy_from_slice(&v.to_le_bytes());
    }
}
