//! `bootshelf check`'s rules on the boot code, against the boot code this bootshelf
//! carries ([`BootCode`]): the partition table's repairable damage
//! ([`crate::layout::TableDamage`]), the MBR boot code ([`mbr_code`]), BIOS stage 2
//! ([`stage2`]), the ESP's file system ([`crate::esp::fsck`]) and the UEFI loader on it
//! ([`uefi_loader`]). Reads only; the findings are [`Finding`]s, `bootshelf update`
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
use blockdev::BlockDevice;

/// The signature stage 2 carries at byte 4, which the MBR checks before jumping there.
pub const STAGE2_SIGNATURE: &[u8; 4] = b"BSH2";

/// Every boot code rule on a stick with `layout`, whose table has `damage` (as
/// [`crate::Stick::table_damage`] says), in order: table damage, MBR code, stage 2, the
/// ESP's file system, the UEFI loader. A note [`Finding::BootCodeCurrent`] when none finds
/// anything.
pub fn check_boot<D: BlockDevice>(
    dev: &mut D,
    layout: &Layout,
    damage: &[TableDamage],
    boot: &BootCode,
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
        }
    }
    if out.is_empty() {
        out.push(Finding::BootCodeCurrent);
    }
    Ok(out)
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
pub fn uefi_loaders(img: &mut [u8], boot: &BootCode) -> Vec<Finding> {
    let mut out = Vec::new();
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
        let finding = match esp::read_image_file(img, &path) {
            Err(e) => {
                return vec![Finding::EspUnreadable {
                    reason: esp_reason(e),
                }]
            }
            Ok(None) => Some(Finding::BootCodeBroken {
                piece,
                reason: "missing".into(),
            }),
            Ok(Some(have)) if have == image => None,
            Ok(Some(have)) if have.iter().all(|&b| b == 0) => {
                Some(Finding::BootCodeZeroed { piece })
            }
            Ok(Some(have)) if have.get(..2) != Some(b"MZ") => Some(Finding::BootCodeBroken {
                piece,
                reason: format!("not a PE image (no MZ at byte 0; {} bytes)", have.len()),
            }),
            Ok(Some(_)) => Some(Finding::BootCodeDiffers { piece }),
        };
        out.extend(finding);
    }
    out
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
