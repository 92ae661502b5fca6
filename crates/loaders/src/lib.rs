//! The bootloaders, built from source for their own targets by `build.rs` (one table of
//! loaders) and embedded here as bytes, so that `cargo build` of the CLI yields a
//! `bootshelf` binary that carries its boot code.
#![no_std]
#![deny(missing_docs)]

/// bootshelf's UEFI loader, written to `\EFI\BOOT\BOOTX64.EFI` on the stick's ESP
/// (a PE32+ image for x86_64-unknown-uefi).
pub static UEFI_BOOTX64: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/BOOTX64.EFI"));

/// The same UEFI loader for ARM64, written to `\EFI\BOOT\BOOTAA64.EFI` (a PE32+ image
/// for aarch64-unknown-uefi).
pub static UEFI_BOOTAA64: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/BOOTAA64.EFI"));

/// The same UEFI loader for 32-bit x86 UEFI, written to `\EFI\BOOT\BOOTIA32.EFI` (a PE32
/// image for i686-unknown-uefi).
pub static UEFI_BOOTIA32: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/BOOTIA32.EFI"));

/// Every UEFI loader with the removable-media file name (UEFI spec 3.5.1.1) it is
/// installed under in `\EFI\BOOT\`, x86_64 first.
pub static UEFI_LOADERS: &[(&str, &[u8])] = &[
    ("BOOTX64.EFI", UEFI_BOOTX64),
    ("BOOTAA64.EFI", UEFI_BOOTAA64),
    ("BOOTIA32.EFI", UEFI_BOOTIA32),
];

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

    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    /// Checks `image` is a PE EFI application for `machine` with optional header `magic`
    /// (0x20b PE32+, 0x10b PE32).
    fn assert_efi_application(image: &[u8], machine: u16, magic: u16) {
        // DOS header "MZ", e_lfanew at 0x3c, then "PE\0\0" and the machine type.
        assert_eq!(&image[..2], b"MZ");
        let pe = u32::from_le_bytes([image[0x3c], image[0x3d], image[0x3e], image[0x3f]]) as usize;
        assert_eq!(&image[pe..pe + 4], b"PE\0\0");
        assert_eq!(u16_at(image, pe + 4), machine);
        let opt = pe + 24;
        assert_eq!(u16_at(image, opt), magic);
        // Subsystem 10 (EFI application): at 68 in both PE32 and PE32+ optional headers.
        assert_eq!(u16_at(image, opt + 68), 10);
    }

    #[test]
    fn uefi_loaders_are_efi_applications_for_their_machines() {
        assert_efi_application(UEFI_BOOTX64, 0x8664, 0x20b);
        assert_efi_application(UEFI_BOOTAA64, 0xaa64, 0x20b);
        assert_efi_application(UEFI_BOOTIA32, 0x014c, 0x10b);
        let names: [&str; 3] = [UEFI_LOADERS[0].0, UEFI_LOADERS[1].0, UEFI_LOADERS[2].0];
        assert_eq!(names, ["BOOTX64.EFI", "BOOTAA64.EFI", "BOOTIA32.EFI"]);
    }
}
