//! The boot code `install` and `update` write: the MBR's 440 bytes of code, BIOS stage 2
//! (in the BIOS boot area below 1 MiB) and the UEFI loaders (`\EFI\BOOT\BOOTX64.EFI`,
//! `BOOTAA64.EFI`, `BOOTIA32.EFI`: one per architecture, docs/uefi.md "Architectures").
//! The `bootshelf` binary installs the real loaders (crates/loaders); [`BootCode::placeholder`]
//! serves where none is built (this crate's own tests): an MBR that says so on screen.

use crate::layout::{Error, Layout, Result};

/// Largest MBR boot code: bytes 0..440 of LBA 0 (the disk signature and the partition
/// table follow and are never overwritten by boot code).
pub const MBR_CODE_MAX: usize = 440;

/// Offset in a 440-byte MBR of the patched stage 2 first LBA (u64).
pub const MBR_STAGE2_LBA: usize = 0x1A8;
/// Offset of the patched stage 2 length in sectors (u16).
pub const MBR_STAGE2_SECTORS: usize = 0x1B0;
/// Offset of the patched log2(sector size) (u8).
pub const MBR_SECTOR_SHIFT: usize = 0x1B2;

/// The boot code to install.
#[derive(Clone, Copy, Debug)]
pub struct BootCode<'a> {
    /// MBR boot code, at most [`MBR_CODE_MAX`] bytes; written to the start of LBA 0.
    pub mbr: &'a [u8],
    /// BIOS stage 2, written from the first sector of [`Layout::bios_boot`].
    pub stage2: &'a [u8],
    /// The UEFI loaders: (file name in `\EFI\BOOT\`, image), one per architecture
    /// (`BOOTX64.EFI`, `BOOTAA64.EFI`, `BOOTIA32.EFI`). An empty image or an empty list
    /// means none (the ESP then holds only `\BOOTSHELF.TXT` saying so).
    pub efi: &'a [(&'a str, &'a [u8])],
    /// The ESP's Secure Boot files ([`crate::secure_boot::esp_files`]); when given, they
    /// take the place of the x64 loader `BOOTX64.EFI` (the other architectures' loaders
    /// stay beside them, unsigned: docs/secure-boot.md).
    pub secure_esp: Option<&'a SecureEsp>,
}

/// The ESP files of a Secure Boot mode and the line BOOTSHELF.TXT gets about them.
#[derive(Debug)]
pub struct SecureEsp {
    /// Every managed path with its contents (empty: absent).
    pub files: Vec<(&'static str, Vec<u8>)>,
    /// Text for BOOTSHELF.TXT.
    pub info: String,
}

/// The share of the ESP the UEFI loaders may take: at most half of it, so that `update`
/// can always write a new loader beside the old one before swapping (docs/uefi.md,
/// "Architectures").
pub const EFI_MAX_SHARE_OF_ESP: u64 = 2;

/// Placeholder MBR code, hand-assembled 16-bit x86 (loaded at 0000:7C00):
///
/// ```text
/// 00  FA          cli
/// 01  31 C0       xor  ax, ax
/// 03  8E D8       mov  ds, ax
/// 05  8E D0       mov  ss, ax
/// 07  BC 00 7C    mov  sp, 0x7C00
/// 0A  FB          sti
/// 0B  FC          cld
/// 0C  BE 20 7C    mov  si, 0x7C20        ; the message below
/// 0F  AC          .next: lodsb
/// 10  84 C0       test al, al
/// 12  74 09       jz   .halt (0x1D)
/// 14  B4 0E       mov  ah, 0x0E          ; INT 10h teletype output
/// 16  BB 07 00    mov  bx, 0x0007        ; page 0, light grey
/// 19  CD 10       int  0x10
/// 1B  EB F2       jmp  .next (0x0F)
/// 1D  F4          .halt: hlt
/// 1E  EB FD       jmp  .halt (0x1D)
/// 20  "bootshelf: BIOS boot code not installed yet" CR LF NUL
/// ```
pub const PLACEHOLDER_MBR: &[u8] = &{
    const CODE: [u8; 32] = [
        0xFA, 0x31, 0xC0, 0x8E, 0xD8, 0x8E, 0xD0, 0xBC, 0x00, 0x7C, 0xFB, 0xFC, 0xBE, 0x20, 0x7C,
        0xAC, 0x84, 0xC0, 0x74, 0x09, 0xB4, 0x0E, 0xBB, 0x07, 0x00, 0xCD, 0x10, 0xEB, 0xF2, 0xF4,
        0xEB, 0xFD,
    ];
    const MSG: &[u8] = PLACEHOLDER_MESSAGE;
    let mut out = [0u8; 32 + PLACEHOLDER_MESSAGE.len() + 3];
    let mut i = 0;
    while i < 32 {
        out[i] = CODE[i];
        i += 1;
    }
    let mut j = 0;
    while j < MSG.len() {
        out[32 + j] = MSG[j];
        j += 1;
    }
    out[32 + MSG.len()] = b'\r';
    out[33 + MSG.len()] = b'\n';
    out
};

/// What the placeholder MBR prints.
pub const PLACEHOLDER_MESSAGE: &[u8] = b"bootshelf: BIOS boot code not installed yet";

/// Placeholder stage 2: a marker text, never executed (the placeholder MBR does not load
/// stage 2).
pub const PLACEHOLDER_STAGE2: &[u8] =
    b"bootshelf: placeholder BIOS stage 2 (the real one comes from crates/loaders)\n";

impl BootCode<'static> {
    /// Placeholder boot code: the MBR above, a marker stage 2 and no UEFI loader.
    pub fn placeholder() -> Self {
        BootCode {
            mbr: PLACEHOLDER_MBR,
            stage2: PLACEHOLDER_STAGE2,
            efi: &[],
            secure_esp: None,
        }
    }
}

impl<'a> BootCode<'a> {
    /// The files the ESP gets (with `\BOOTSHELF.TXT`'s text `info`): every architecture's
    /// loader ([`BootCode::efi_files`]), the x64 one replaced by the Secure Boot set when
    /// there is one; in plain mode the Secure Boot files are listed empty (so `update`
    /// removes them). An empty image means "remove this file".
    pub fn esp_files<'s>(&'s self, info: &'s str) -> Vec<(String, &'s [u8])> {
        use crate::secure_boot::{CERT_PATH, MOK_MANAGER_PATH, SECOND_STAGE_PATH};
        let mut files = self.efi_files();
        match self.secure_esp {
            Some(s) => {
                files.retain(|(p, _)| p != crate::esp::LOADER_PATH);
                // The other architectures first, the Secure Boot set in its own order
                // (BOOTX64.EFI placed where an interrupted update stays bootable).
                files.extend(s.files.iter().map(|(p, b)| (p.to_string(), b.as_slice())));
            }
            None => {
                for p in [SECOND_STAGE_PATH, MOK_MANAGER_PATH, CERT_PATH] {
                    files.push((p.to_string(), &[][..]));
                }
            }
        }
        files.push((crate::esp::INFO_PATH.to_string(), info.as_bytes()));
        files
    }

    /// Check that each piece fits its place in `layout`: the MBR code, stage 2, and every
    /// ESP file ([`BootCode::esp_files`], shim and MokManager included) within
    /// 1/[`EFI_MAX_SHARE_OF_ESP`] of the ESP.
    pub fn check_fits(&self, layout: &Layout) -> Result<()> {
        if self.mbr.len() > MBR_CODE_MAX {
            return Err(Error::BootCodeTooLarge {
                what: "MBR boot code",
                len: self.mbr.len(),
                max: MBR_CODE_MAX as u64,
            });
        }
        if self.stage2.len() as u64 > layout.stage2_capacity() {
            return Err(Error::BootCodeTooLarge {
                what: "BIOS stage 2",
                len: self.stage2.len(),
                max: layout.stage2_capacity(),
            });
        }
        // Every file the ESP gets: the loaders, and in a Secure Boot mode shim, MokManager,
        // the signed loader and the certificate.
        let efi_bytes: u64 = self
            .esp_files("")
            .iter()
            .map(|(_, bytes)| bytes.len() as u64)
            .sum();
        let efi_max = layout.esp.byte_len(layout.sector_size) / EFI_MAX_SHARE_OF_ESP;
        if efi_bytes > efi_max {
            return Err(Error::BootCodeTooLarge {
                what: "the UEFI loaders together (with shim and MokManager)",
                len: usize::try_from(efi_bytes).unwrap_or(usize::MAX),
                max: efi_max,
            });
        }
        Ok(())
    }

    /// The x64 loader (`BOOTX64.EFI`), the one Secure Boot signs; empty when this build
    /// has none.
    pub fn x64_loader(&self) -> &'a [u8] {
        self.efi
            .iter()
            .find(|(name, _)| *name == efi_image::EfiArch::X64.file_name())
            .map_or(&[][..], |(_, image)| *image)
    }

    /// Whether there is no UEFI loader to install.
    pub fn has_no_efi(&self) -> bool {
        self.efi.iter().all(|(_, image)| image.is_empty())
    }

    /// The ESP files of the UEFI loaders: (`EFI/BOOT/<name>`, image); an empty image
    /// stays in the list (the ESP writers then remove that file).
    pub fn efi_files(&self) -> Vec<(String, &[u8])> {
        self.efi
            .iter()
            .map(|(name, image)| (format!("{}/{name}", crate::esp::LOADER_DIR), *image))
            .collect()
    }

    /// The MBR code to write for `layout`. A full-size (440-byte) MBR is bootshelf's BIOS
    /// loader, which reads stage 2 from fields `install` patches (bootloader/bios/asm/mbr.s):
    /// [`MBR_STAGE2_LBA`] (u64, first LBA of stage 2 in device sectors),
    /// [`MBR_STAGE2_SECTORS`] (u16, its length in device sectors) and
    /// [`MBR_SECTOR_SHIFT`] (u8, log2 of the sector size). Shorter code (the placeholder)
    /// is written as it is.
    pub fn mbr_for(&self, layout: &Layout) -> Result<Vec<u8>> {
        self.mbr_loading(layout, layout.bios_boot.first_lba())
    }

    /// [`BootCode::mbr_for`] with stage 2 at `stage2_lba` (one of
    /// [`Layout::stage2_slots`]).
    pub fn mbr_loading(&self, layout: &Layout, stage2_lba: u64) -> Result<Vec<u8>> {
        let mut code = self.mbr.to_vec();
        if code.len() == MBR_CODE_MAX {
            let ss = u64::from(layout.sector_size);
            let sectors = (self.stage2.len() as u64).div_ceil(ss);
            let sectors = u16::try_from(sectors).map_err(|_| Error::BootCodeTooLarge {
                what: "BIOS stage 2 (for the MBR's 16-bit sector count)",
                len: self.stage2.len(),
                max: u64::from(u16::MAX) * ss,
            })?;
            code[MBR_STAGE2_LBA..MBR_STAGE2_LBA + 8].copy_from_slice(&stage2_lba.to_le_bytes());
            code[MBR_STAGE2_SECTORS..MBR_STAGE2_SECTORS + 2]
                .copy_from_slice(&sectors.to_le_bytes());
            code[MBR_SECTOR_SHIFT] = layout.sector_size.trailing_zeros() as u8;
        }
        Ok(code)
    }

    /// The stage 2 slot (first LBA, one of [`Layout::stage2_slots`]) that the MBR code in
    /// `lba0` loads from: `None` unless this is a full-size MBR (bootshelf's BIOS loader)
    /// and `lba0` holds a full-size MBR whose patched sector size is the disk's and whose
    /// stage 2 LBA is a slot.
    pub fn loaded_slot(&self, layout: &Layout, lba0: &[u8]) -> Option<u64> {
        if self.mbr.len() != MBR_CODE_MAX {
            return None;
        }
        let lba = u64::from_le_bytes(
            lba0.get(MBR_STAGE2_LBA..MBR_STAGE2_LBA + 8)?
                .try_into()
                .ok()?,
        );
        let shift = *lba0.get(MBR_SECTOR_SHIFT)?;
        (shift == layout.sector_size.trailing_zeros() as u8 && layout.stage2_slots().contains(&lba))
            .then_some(lba)
    }

    /// Whether this is the placeholder set (so `\BOOTSHELF.TXT` can say so).
    pub fn is_placeholder(&self) -> bool {
        self.mbr == PLACEHOLDER_MBR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_mbr_fits_and_points_at_its_message() {
        assert!(PLACEHOLDER_MBR.len() <= MBR_CODE_MAX);
        // mov si, imm16 at offset 0x0C points at 0x7C00 + 0x20.
        assert_eq!(&PLACEHOLDER_MBR[0x0C..0x0F], &[0xBE, 0x20, 0x7C]);
        assert_eq!(
            &PLACEHOLDER_MBR[0x20..0x20 + PLACEHOLDER_MESSAGE.len()],
            PLACEHOLDER_MESSAGE
        );
        assert_eq!(PLACEHOLDER_MBR.last(), Some(&0));
        // jz at 0x12 lands on hlt at 0x1D; jmp at 0x1B lands on lodsb at 0x0F.
        assert_eq!(0x14 + PLACEHOLDER_MBR[0x13] as usize, 0x1D);
        assert_eq!(PLACEHOLDER_MBR[0x1D], 0xF4);
        assert_eq!(0x1D_i32 + PLACEHOLDER_MBR[0x1C] as i8 as i32, 0x0F);
        assert_eq!(PLACEHOLDER_MBR[0x0F], 0xAC);
    }

    #[test]
    fn a_full_size_mbr_gets_the_stage2_fields_patched() {
        use crate::layout::{Layout, Scheme};
        let mbr = [0xEEu8; MBR_CODE_MAX];
        let stage2 = [1u8; 5000];
        let boot = BootCode {
            mbr: &mbr,
            stage2: &stage2,
            efi: &[],
            secure_esp: None,
        };
        let l = Layout::plan(Scheme::Gpt, 4096, 1 << 16).unwrap();
        let code = boot.mbr_for(&l).unwrap();
        assert_eq!(
            &code[MBR_STAGE2_LBA..MBR_STAGE2_LBA + 8],
            &6u64.to_le_bytes()
        );
        assert_eq!(
            &code[MBR_STAGE2_SECTORS..MBR_STAGE2_SECTORS + 2],
            &2u16.to_le_bytes()
        );
        assert_eq!(code[MBR_SECTOR_SHIFT], 12);
        assert_eq!(code[0], 0xEE);
        assert_eq!(code[MBR_SECTOR_SHIFT + 1], 0xEE);
        let l = Layout::plan(Scheme::Mbr, 512, 1 << 18).unwrap();
        let code = boot.mbr_for(&l).unwrap();
        assert_eq!(
            &code[MBR_STAGE2_LBA..MBR_STAGE2_LBA + 8],
            &1u64.to_le_bytes()
        );
        assert_eq!(
            &code[MBR_STAGE2_SECTORS..MBR_STAGE2_SECTORS + 2],
            &10u16.to_le_bytes()
        );
        assert_eq!(code[MBR_SECTOR_SHIFT], 9);
        // The placeholder is left alone.
        let p = BootCode::placeholder();
        assert_eq!(p.mbr_for(&l).unwrap(), PLACEHOLDER_MBR);
    }
}
