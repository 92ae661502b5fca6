//! `bootshelf check`'s rules on the boot code, against the boot code this bootshelf
//! carries ([`BootCode`]): the partition table's repairable damage
//! ([`crate::layout::TableDamage`]), the MBR boot code ([`mbr_code`]), BIOS stage 2
//! ([`stage2`]), the ESP's file system ([`crate::esp::fsck`]), the UEFI loaders on it
//! ([`uefi_loaders`]) and, in shim mode, shim and MokManager against the installed Debian
//! packages' files ([`shim_files`]). Reads only; the findings are [`Finding`]s, `bootshelf update`
//! repairs each of them (crate::update).
//!
//! A piece that is all zero, or cannot work (a loader missing, no `BSH2` signature at
//! byte 4 of stage 2, an MBR whose patched fields do not point at stage 2, a loader that
//! is no PE image) is a problem; a piece that looks like boot code but differs from ours
//! (another version's) is a warning.

use crate::bootcode::{BootCode, MBR_CODE_MAX, MBR_SECTOR_SHIFT, MBR_STAGE2_LBA};
use crate::check::{BootPiece, Finding};
use crate::esp;
use crate::layout::{Error, Layout, Result, TableDamage};
use crate::partition_write::boot_code_area;
use crate::secure_boot::{shim_version, ShimFiles};
use blockdev::BlockDevice;

/// The signature stage 2 carries at byte 4, which the MBR checks before jumping there.
pub const STAGE2_SIGNATURE: &[u8; 4] = b"BSH2";

/// Every boot code rule on a stick with `layout`, whose table has `damage` (as
/// [`crate::Stick::table_damage`] says), in order: table damage, MBR code, stage 2, the
/// ESP's file system, the UEFI loaders, shim and MokManager (against `installed_shim`, the
/// installed packages' files, or why there are none). A note [`Finding::BootCodeCurrent`]
/// when none finds anything but notes.
pub fn check_boot<D: BlockDevice>(
    dev: &mut D,
    layout: &Layout,
    damage: &[TableDamage],
    boot: &BootCode,
    installed_shim: std::result::Result<&ShimFiles, &str>,
) -> Result<Vec<Finding>> {
    let mut out: Vec<Finding> = damage
        .iter()
        .map(|d| Finding::TableDamaged { damage: d.clone() })
        .collect();
    let lba0_lost = damage.iter().any(|d| {
        matches!(
            d,
            TableDamage::Lba0Lost { .. } | TableDamage::GptLost { .. }
        )
    });
    let mut loaded = None;
    if !lba0_lost {
        let mut lba0 = vec![0u8; layout.sector_size as usize];
        dev.read_sectors(0, &mut lba0).map_err(|source| Error::Io {
            what: "reading LBA 0",
            source,
        })?;
        out.extend(mbr_code(&lba0, layout, boot)?);
        loaded = boot.loaded_slot(layout, &lba0);
    }
    out.extend(stage2(dev, layout, boot, loaded)?);
    let mut img = esp::read_esp(dev, layout.esp)?;
    match esp::fsck(&img) {
        Err(e) => out.push(Finding::EspUnreadable {
            reason: esp_reason(e),
        }),
        Ok(issues) => {
            out.extend(issues.into_iter().map(|issue| Finding::Esp { issue }));
            out.extend(uefi_loaders(&mut img, boot));
            out.extend(shim_files(&mut img, installed_shim));
        }
    }
    if out
        .iter()
        .all(|f| f.severity() == crate::check::Severity::Note)
    {
        out.push(Finding::BootCodeCurrent);
    }
    Ok(out)
}

/// Rule, in shim mode only (shim's second stage `\EFI\BOOT\grubx64.efi` present): shim
/// (`BOOTX64.EFI`) and MokManager (`mmx64.efi`) are the installed Debian packages' files
/// (`installed`: `shim-signed`'s `shimx64.efi.signed`, `shim-helpers-amd64-signed`'s
/// `mmx64.efi.signed`), byte for byte. A different one is a warning naming both versions
/// (their `.sbat` vendor lines), outdated when the stick's is older; a missing or broken
/// MokManager is a problem (a machine that does not know the key cannot enroll it).
/// Whether shim is a signed PE image is [`uefi_loaders`]' matter. Without the packages
/// (`Err(why)`), a note says they were not compared.
pub fn shim_files(
    img: &mut [u8],
    installed: std::result::Result<&ShimFiles, &str>,
) -> Vec<Finding> {
    let read = |img: &mut [u8], path: &str| esp::read_image_file(img, path).ok().flatten();
    if read(img, crate::secure_boot::SECOND_STAGE_PATH).is_none() {
        return Vec::new();
    }
    let installed = match installed {
        Ok(i) => i,
        Err(why) => {
            return vec![Finding::ShimNotCompared {
                reason: why.to_string(),
            }]
        }
    };
    let mut out = Vec::new();
    let shim = read(img, esp::LOADER_PATH);
    if let Some(have) = shim.filter(|h| signed_pe(h)) {
        if have != installed.shim {
            out.push(Finding::ShimDiffers {
                piece: BootPiece::UefiLoader(efi_image::EfiArch::X64),
                package: "shim-signed",
                on_stick: shim_version(&have),
                installed: shim_version(&installed.shim),
            });
        }
    }
    let mok = read(img, crate::secure_boot::MOK_MANAGER_PATH);
    let piece = BootPiece::MokManager;
    match loader_rule(piece, mok.as_deref(), |h| {
        signed_pe(h)
            .then_some(())
            .ok_or_else(|| "not signed (it must be Debian's signed MokManager)".to_string())
    }) {
        Some(broken) => out.push(broken),
        None => {
            let have = mok.unwrap_or_default();
            if have != installed.mok_manager {
                out.push(Finding::ShimDiffers {
                    piece,
                    package: "shim-helpers-amd64-signed",
                    on_stick: shim_version(&have),
                    installed: shim_version(&installed.mok_manager),
                });
            }
        }
    }
    out
}

fn esp_reason(e: Error) -> String {
    match e {
        Error::BadEsp { message } => {
            format!("not a FAT file system bootshelf can read ({message})")
        }
        other => other.to_string(),
    }
}

/// Rule: bytes 0..440 of LBA 0 (`lba0`) are the MBR code `install` would write for
/// `layout`. A full-size MBR (bootshelf's BIOS loader) must also load stage 2 from where
/// it is: its patched LBA and sector size (docs/bios.md); another stage 2 length is
/// another version's.
pub fn mbr_code(lba0: &[u8], layout: &Layout, boot: &BootCode) -> Result<Option<Finding>> {
    let slot = boot
        .loaded_slot(layout, lba0)
        .unwrap_or(layout.bios_boot.first_lba());
    let want = boot_code_area(&boot.mbr_loading(layout, slot)?)?;
    let have = lba0
        .get(..MBR_CODE_MAX)
        .ok_or(Error::Internal("LBA 0 buffer shorter than 440 bytes"))?;
    if have == want {
        return Ok(None);
    }
    let piece = BootPiece::MbrCode;
    if have.iter().all(|&b| b == 0) {
        return Ok(Some(Finding::BootCodeZeroed { piece }));
    }
    if boot.mbr.len() == MBR_CODE_MAX {
        let lba = u64::from_le_bytes(
            have[MBR_STAGE2_LBA..MBR_STAGE2_LBA + 8]
                .try_into()
                .map_err(|_| Error::Internal("MBR stage 2 field"))?,
        );
        let shift = have[MBR_SECTOR_SHIFT];
        let want_shift = layout.sector_size.trailing_zeros() as u8;
        let [a, b] = layout.stage2_slots();
        if ![a, b].contains(&lba) || shift != want_shift {
            return Ok(Some(Finding::BootCodeBroken {
                piece,
                reason: format!(
                    "it loads stage 2 from LBA {lba} with sectors of 2^{shift} bytes, but stage 2 \
                     is at LBA {a} or {b} with sectors of 2^{want_shift}"
                ),
            }));
        }
    }
    Ok(Some(Finding::BootCodeDiffers { piece }))
}

/// Rule: the stage 2 slot the MBR loads from (`loaded`, see [`BootCode::loaded_slot`];
/// without one, either slot) holds this bootshelf's stage 2, zero-padded to whole
/// sectors. Without the `BSH2` signature the MBR refuses it.
pub fn stage2<D: BlockDevice>(
    dev: &mut D,
    layout: &Layout,
    boot: &BootCode,
    loaded: Option<u64>,
) -> Result<Option<Finding>> {
    if boot.stage2.is_empty() {
        return Ok(None);
    }
    let ss = layout.sector_size as usize;
    let n = boot.stage2.len().div_ceil(ss);
    if n as u64 > layout.bios_boot.sectors() {
        return Err(Error::BootCodeTooLarge {
            what: "BIOS stage 2",
            len: boot.stage2.len(),
            max: layout.stage2_capacity(),
        });
    }
    let slots = match loaded {
        Some(s) => vec![s],
        None => layout.stage2_slots().to_vec(),
    };
    for &s in &slots {
        if crate::update::stage2_is_at(dev, layout, boot.stage2, s)? {
            return Ok(None);
        }
    }
    let mut cur = vec![0u8; n * ss];
    dev.read_sectors(slots[0], &mut cur)
        .map_err(|source| Error::Io {
            what: "reading BIOS stage 2",
            source,
        })?;
    let piece = BootPiece::Stage2;
    if cur.iter().all(|&b| b == 0) {
        return Ok(Some(Finding::BootCodeZeroed { piece }));
    }
    if boot.stage2.get(4..8) == Some(&STAGE2_SIGNATURE[..])
        && cur.get(4..8) != Some(&STAGE2_SIGNATURE[..])
    {
        return Ok(Some(Finding::BootCodeBroken {
            piece,
            reason: "no BSH2 signature at byte 4 (the MBR refuses to start it)".into(),
        }));
    }
    Ok(Some(Finding::BootCodeDiffers { piece }))
}

/// Rule: each UEFI loader this bootshelf carries (`\EFI\BOOT\BOOTX64.EFI`,
/// `BOOTIA32.EFI`, `BOOTAA64.EFI`) is on the ESP image `img` (whose file system
/// [`esp::fsck`] read) as this build has it. Nothing to say when this build carries none;
/// an unreadable ESP is said once.
///
/// The x64 loader follows the Secure Boot mode the ESP is in (docs/secure-boot.md), read
/// from the files: with shim's second stage `\EFI\BOOT\grubx64.efi` present (shim mode),
/// `BOOTX64.EFI` is shim (a signed PE image; its version is the installed package's, so
/// it is not compared) and `grubx64.efi` must be this build's loader with a signature
/// added; a signed `BOOTX64.EFI` alone (own-keys mode) must be this build's loader with a
/// signature added; an unsigned one (plain mode) must be this build's bytes. Who signed it
/// is [`crate::check::uefi_loader`]'s matter.
pub fn uefi_loaders(img: &mut [u8], boot: &BootCode) -> Vec<Finding> {
    let mut out = Vec::new();
    let second_stage = match esp::read_image_file(img, crate::secure_boot::SECOND_STAGE_PATH) {
        Ok(s) => s,
        Err(e) => {
            return vec![Finding::EspUnreadable {
                reason: esp_reason(e),
            }]
        }
    };
    for (path, image) in boot.efi_files() {
        if image.is_empty() {
            continue;
        }
        let Some(arch) = efi_image::EfiArch::ALL
            .into_iter()
            .find(|a| path.ends_with(a.file_name()))
        else {
            continue;
        };
        let piece = BootPiece::UefiLoader(arch);
        let have = match esp::read_image_file(img, &path) {
            Err(e) => {
                return vec![Finding::EspUnreadable {
                    reason: esp_reason(e),
                }]
            }
            Ok(have) => have,
        };
        let x64 = arch == efi_image::EfiArch::X64;
        match (x64, &second_stage) {
            (true, Some(second)) => {
                // Shim mode: BOOTX64.EFI is shim, grubx64.efi bootshelf's signed loader.
                out.extend(loader_rule(piece, have.as_deref(), |h| {
                    signed_pe(h).then_some(()).ok_or_else(|| {
                        "not signed (shim mode: it must be Debian's Microsoft-signed shim)"
                            .to_string()
                    })
                }));
                out.extend(loader_rule(BootPiece::ShimSecondStage, Some(second), |h| {
                    same_code(h, image)
                }));
            }
            (true, None) if have.as_deref().is_some_and(signed_pe) => {
                // Own-keys mode: the loader signed with the user's key.
                out.extend(loader_rule(piece, have.as_deref(), |h| same_code(h, image)));
            }
            _ => out.extend(loader_rule(piece, have.as_deref(), |h| match h == image {
                true => Ok(()),
                false => Err(String::new()),
            })),
        }
    }
    out
}

/// `signed` is `unsigned` with a signature added; `Err("")` (differs) otherwise.
fn same_code(signed: &[u8], unsigned: &[u8]) -> std::result::Result<(), String> {
    match authenticode::sign::same_code(signed, unsigned) {
        true => Ok(()),
        false => Err(String::new()),
    }
}

/// Whether `bytes` is a PE image carrying an Authenticode signature.
fn signed_pe(bytes: &[u8]) -> bool {
    authenticode::PeImage::parse(bytes).is_ok_and(|p| p.is_signed())
}

/// One loader file's finding: missing, zeroed, no PE image, or `matches` says it is not
/// what it should be (`Err("")`: a loader, but not this build's, a warning; `Err(reason)`:
/// cannot work, a problem).
fn loader_rule(
    piece: BootPiece,
    have: Option<&[u8]>,
    matches: impl FnOnce(&[u8]) -> std::result::Result<(), String>,
) -> Option<Finding> {
    let Some(have) = have else {
        return Some(Finding::BootCodeBroken {
            piece,
            reason: "missing".into(),
        });
    };
    if have.iter().all(|&b| b == 0) {
        return Some(Finding::BootCodeZeroed { piece });
    }
    if have.get(..2) != Some(b"MZ") {
        return Some(Finding::BootCodeBroken {
            piece,
            reason: format!("not a PE image (no MZ at byte 0; {} bytes)", have.len()),
        });
    }
    match matches(have) {
        Ok(()) => None,
        Err(reason) if reason.is_empty() => Some(Finding::BootCodeDiffers { piece }),
        Err(reason) => Some(Finding::BootCodeBroken { piece, reason }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::Scheme;

    #[test]
    fn mbr_rule_tells_zeroed_broken_and_other_code_apart() {
        let l = Layout::plan(Scheme::Gpt, 512, (100u64 << 20) / 512).unwrap();
        let mbr = [0x90u8; MBR_CODE_MAX];
        let boot = BootCode {
            mbr: &mbr,
            stage2: &[1u8; 5000],
            efi: &[],
            secure_esp: None,
        };
        let [a, b] = l.stage2_slots();
        let mut lba0 = vec![0u8; 512];
        // Zeroed.
        assert_eq!(
            mbr_code(&lba0, &l, &boot).unwrap(),
            Some(Finding::BootCodeZeroed {
                piece: BootPiece::MbrCode
            })
        );
        // Ours, loading either slot: nothing to say.
        for slot in [a, b] {
            lba0[..MBR_CODE_MAX].copy_from_slice(&boot.mbr_loading(&l, slot).unwrap());
            assert_eq!(mbr_code(&lba0, &l, &boot).unwrap(), None);
            assert_eq!(boot.loaded_slot(&l, &lba0), Some(slot));
        }
        // Other code loading slot B: another version's.
        lba0[0] = 0xEB;
        assert_eq!(
            mbr_code(&lba0, &l, &boot).unwrap(),
            Some(Finding::BootCodeDiffers {
                piece: BootPiece::MbrCode
            })
        );
        // Loading from no slot: broken, naming both.
        lba0[MBR_STAGE2_LBA..MBR_STAGE2_LBA + 8].copy_from_slice(&7u64.to_le_bytes());
        match mbr_code(&lba0, &l, &boot).unwrap() {
            Some(Finding::BootCodeBroken { reason, .. }) => assert!(
                reason.contains("LBA 7") && reason.contains(&format!("LBA {a} or {b}")),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(boot.loaded_slot(&l, &lba0), None);
    }
}
