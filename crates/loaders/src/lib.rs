//! The bootloaders, built from source for their own targets by `build.rs` (one table of
//! loaders) and embedded here as bytes, so that `cargo build` of the CLI yields a
//! `bootshelf` binary that carries its boot code.
#![no_std]
#![deny(missing_docs)]

/// bootshelf's UEFI loader, written to `\EFI\BOOT\BOOTX64.EFI` on the stick's ESP
/// (a PE32+ image for x86_64-unknown-uefi).
pub static UEFI_BOOTX64: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/BOOTX64.EFI"));

/// The BIOS loader's MBR boot code: exactly 440 bytes, to be written over bytes 0..440 of
/// LBA 0 after patching where stage 2 is (see docs/bios.md: u64 LBA at 0x1A8, u16 sector
/// count at 0x1B0, u8 log2(sector size) at 0x1B2).
pub static BIOS_MBR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bios-mbr.bin"));

/// The BIOS loader's stage 2, a flat image loaded at 0000:8000 ("BSH2" at offset 4),
/// written from the first sector of the BIOS boot area.
pub static BIOS_STAGE2: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bios-stage2.bin"));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uefi_loader_is_an_x86_64_pe_application() {
        // DOS header "MZ", e_lfanew at 0x3c, then "PE\0\0" and machine 0x8664 (x86_64).
        assert_eq!(&UEFI_BOOTX64[..2], b"MZ");
        let pe = u32::from_le_bytes([
            UEFI_BOOTX64[0x3c],
            UEFI_BOOTX64[0x3d],
            UEFI_BOOTX64[0x3e],
            UEFI_BOOTX64[0x3f],
        ]) as usize;
        assert_eq!(&UEFI_BOOTX64[pe..pe + 4], b"PE\0\0");
        assert_eq!(
            u16::from_le_bytes([UEFI_BOOTX64[pe + 4], UEFI_BOOTX64[pe + 5]]),
            0x8664
        );
        // Optional header magic 0x20b (PE32+) and subsystem 10 (EFI application).
        let opt = pe + 24;
        assert_eq!(
            u16::from_le_bytes([UEFI_BOOTX64[opt], UEFI_BOOTX64[opt + 1]]),
            0x20b
        );
        assert_eq!(
            u16::from_le_bytes([UEFI_BOOTX64[opt + 68], UEFI_BOOTX64[opt + 69]]),
            10
        );
    }
}
