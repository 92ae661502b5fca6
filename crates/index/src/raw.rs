//! Byte offsets and sizes of the index format, named as `docs/index-format.md` names them.
//! All integers are little-endian.

/// `magic` at offset 0 of the file: identifies a bootshelf index.
pub const MAGIC: [u8; 8] = *b"BSHLFIDX";
/// The format version this crate writes and the only one it reads.
pub const VERSION: u16 = 1;

/// File header: 64 bytes.
pub mod header {
    /// `magic`, 8 bytes.
    pub const MAGIC: usize = 0;
    /// `version`, u16.
    pub const VERSION: usize = 8;
    /// `header_len`, u16: bytes from the start of the file to the settings block.
    pub const HEADER_LEN: usize = 10;
    /// `crc32`, u32: CRC-32 of bytes `[0, total_len)` with these four bytes read as zero.
    pub const CRC32: usize = 12;
    /// `generation`, u64.
    pub const GENERATION: usize = 16;
    /// `total_len`, u32: bytes covered by the checksum; trailing bytes are ignored.
    pub const TOTAL_LEN: usize = 24;
    /// `iso_count`, u32.
    pub const ISO_COUNT: usize = 28;
    /// `timeout_secs`, u16 (`0xFFFF`: wait for a key).
    pub const TIMEOUT: usize = 32;
    /// `flags`, u16: no flags are defined; written as 0, ignored on read.
    pub const FLAGS: usize = 34;
    /// `settings_len`, u32: length of the settings block.
    pub const SETTINGS_LEN: usize = 36;
    /// Bytes 40..64 are reserved, written as zero, ignored on read.
    pub const RESERVED: usize = 40;
    /// Size of the header this version writes (and the minimum it reads).
    pub const SIZE: usize = 64;
}

/// One ISO record: a 64-byte fixed part, then strings, extents and boot entries.
pub mod record {
    /// `record_len`, u32: bytes of the whole record, this field included.
    pub const RECORD_LEN: usize = 0;
    /// `flags`, u32: see [`FLAG_SHA256`].
    pub const FLAGS: usize = 4;
    /// `size`, u64: file size in bytes.
    pub const SIZE: usize = 8;
    /// `sha256`, 32 bytes (zero when [`FLAG_SHA256`] is clear).
    pub const SHA256: usize = 16;
    /// `path_len`, u16.
    pub const PATH_LEN: usize = 48;
    /// `label_len`, u16.
    pub const LABEL_LEN: usize = 50;
    /// `title_len`, u16 (0: no custom title).
    pub const TITLE_LEN: usize = 52;
    /// `boot_count`, u16: number of El Torito boot entries.
    pub const BOOT_COUNT: usize = 54;
    /// `extent_count`, u32.
    pub const EXTENT_COUNT: usize = 56;
    /// Bytes 60..64 reserved, zero.
    pub const RESERVED: usize = 60;
    /// Size of the fixed part.
    pub const FIXED_SIZE: usize = 64;
    /// `flags` bit 0: `sha256` holds the SHA-256 of the file's `size` bytes.
    pub const FLAG_SHA256: u32 = 1;
    /// Size of one extent: `start` u64, `len` u64 (device byte offsets).
    pub const EXTENT_SIZE: usize = 16;
}

/// One El Torito boot entry: 24 bytes.
pub mod boot {
    /// `platform_id`, u8 (0 x86 BIOS, 0xEF UEFI, ...).
    pub const PLATFORM: usize = 0;
    /// `emulation`, u8: boot media type (0 none, 1-3 floppy, 4 hard disk).
    pub const EMULATION: usize = 1;
    /// `system_type`, u8 (partition type byte of a hard-disk image).
    pub const SYSTEM_TYPE: usize = 2;
    /// `flags`, u8: bit 0 = bootable indicator (0x88) was set in the catalog.
    pub const FLAGS: usize = 3;
    /// `load_segment`, u16 (0 means the default 0x07C0).
    pub const LOAD_SEGMENT: usize = 4;
    /// `sector_count`, u16: 512-byte virtual sectors the catalog says to load.
    pub const SECTOR_COUNT: usize = 6;
    /// `load_rba`, u32: the image's first 2048-byte sector in the ISO.
    pub const LOAD_RBA: usize = 8;
    /// `efi_arches`, u8: the architectures the EFI boot image serves (bit 0 x64
    /// `BOOTX64.EFI`, bit 1 ia32 `BOOTIA32.EFI`, bit 2 aa64 `BOOTAA64.EFI`); meaningful
    /// when [`EFI_VALID`] bit [`VALID_ARCHES`] is set.
    pub const EFI_ARCHES: usize = 12;
    /// `efi_signed`, u8: those of them whose loader carries an Authenticode signature
    /// (same bits); meaningful when [`EFI_VALID`] bit [`VALID_SIGNED`] is set.
    pub const EFI_SIGNED: usize = 13;
    /// `efi_valid`, u8: which of bytes 12 and 13 were read (0 in indexes written before
    /// they existed, which read as "not known").
    pub const EFI_VALID: usize = 14;
    /// Byte 15 reserved, zero.
    pub const RESERVED: usize = 15;
    /// [`EFI_VALID`] bit 0: [`EFI_ARCHES`] was read.
    pub const VALID_ARCHES: u8 = 1;
    /// [`EFI_VALID`] bit 1: [`EFI_SIGNED`] was read.
    pub const VALID_SIGNED: u8 = 2;
    /// `image_size`, u64: the real size of the image in bytes.
    pub const IMAGE_SIZE: usize = 16;
    /// Size of a boot entry.
    pub const SIZE: usize = 24;
    /// `flags` bit 0.
    pub const FLAG_BOOTABLE: u8 = 1;
}

/// The TLV extension area after a record's boot entries, up to `record_len`.
pub mod ext {
    /// Size of a TLV header: `type` u16, `length` u32.
    pub const HEADER_SIZE: usize = 6;
    /// Type 1: kernel options. `sha256` (32 bytes), `append_len` u16, `append`,
    /// `remove_count` u16, then per removed argument `len` u16 and its bytes.
    pub const KERNEL_OPTIONS: u16 = 1;
}
