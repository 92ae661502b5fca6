//! The stick's partition table as `install` writes it, through ptable's writer
//! ([`ptable::write`], the ordered writer the loaders' ISO window uses too): backup GPT,
//! flush, primary GPT, flush, LBA 0 with the boot code last, flush.
//!
//! GPT: entry 1 data (Microsoft basic data, `BOOTSHELF`), 2 ESP (EFI System,
//! `BOOTSHELF EFI`), 3 BIOS boot (`BOOTSHELF BIOS`), entry 4 left unused for the ISO
//! window; no attribute bits; random disk and partition GUIDs. MBR (`--mbr`): record 1
//! data (0x07, active), 2 ESP (0xEF), 3 and 4 unused; a random disk signature.
//! docs/stick-layout.md says why there is no second table writer (gpt/mbrman).

use crate::layout::{
    Error, Layout, Result, Scheme, SectorRange, BIOS_ENTRY, BIOS_NAME, DATA_ENTRY, DATA_NAME,
    ESP_ENTRY, ESP_NAME, MBR_TYPE_DATA, MBR_TYPE_ESP, WINDOW_ENTRY,
};
use blockdev::BlockDevice;
use ptable::gpt::{encode_name, types};
use ptable::raw::{GptPartitionEntry, MbrPartitionRecord};
use ptable::write::{self as ptwrite, BOOT_CODE_BYTES, NEW_GPT_ENTRY_ARRAY_BYTES};
use ptable::{Guid, LbaRange, MbrType};

/// LBAs covered by a table: sectors `install` wipes before writing anything else.
pub fn table_areas(layout: &Layout) -> Vec<(u64, u64)> {
    // A backup GPT (header and 16 KiB of entries) in the last sectors.
    let gpt_sectors = 1 + NEW_GPT_ENTRY_ARRAY_BYTES.div_ceil(u64::from(layout.sector_size));
    // LBA 0 through the start of the data partition (old GPT, old boot code), and the last
    // sectors where a backup GPT lives.
    vec![
        (0, layout.data.first_lba()),
        (
            layout.disk_sectors.saturating_sub(gpt_sectors),
            gpt_sectors.min(layout.disk_sectors),
        ),
    ]
}

/// Write the partition table of `layout` with `boot_code` (at most 440 bytes) in LBA 0.
pub fn write_table<D: BlockDevice>(dev: &mut D, layout: &Layout, boot_code: &[u8]) -> Result<()> {
    let code = boot_code_area(boot_code)?;
    match layout.scheme {
        Scheme::Gpt => {
            let mut entries = [GptPartitionEntry::UNUSED; WINDOW_ENTRY as usize];
            let parts = [
                (
                    DATA_ENTRY,
                    types::MICROSOFT_BASIC_DATA,
                    layout.data,
                    DATA_NAME,
                ),
                (ESP_ENTRY, types::EFI_SYSTEM, layout.esp, ESP_NAME),
                (BIOS_ENTRY, types::BIOS_BOOT, layout.bios_boot, BIOS_NAME),
            ];
            for (number, ty, range, name) in parts {
                let slot = entries
                    .get_mut(number as usize - 1)
                    .ok_or(Error::Internal("partition number beyond the entries"))?;
                *slot = GptPartitionEntry {
                    partition_type_guid: ty,
                    unique_partition_guid: random_guid(),
                    starting_lba: range.first_lba(),
                    ending_lba: range.last_lba(),
                    attributes: 0,
                    partition_name: encode_name(name),
                };
            }
            ptwrite::write_gpt(dev, random_guid(), &entries, &code).map_err(table_error)
        }
        Scheme::Mbr => {
            let mut records = [MbrPartitionRecord::default(); 4];
            // Some BIOSes only boot a disk with an active partition: mark the data partition.
            let parts = [
                (DATA_ENTRY, MBR_TYPE_DATA, layout.data, true),
                (ESP_ENTRY, MBR_TYPE_ESP, layout.esp, false),
            ];
            for (number, ty, range, active) in parts {
                let slot = records
                    .get_mut(number as usize - 1)
                    .ok_or(Error::Internal("partition number beyond the records"))?;
                *slot = ptwrite::mbr_record(lba_range(range)?, MbrType(ty), active)
                    .map_err(table_error)?;
            }
            let signature = uuid::Uuid::new_v4().as_u128() as u32;
            ptwrite::write_mbr(dev, signature, records, &code).map_err(table_error)
        }
    }
}

/// A random (version 4) GUID in GPT's byte order.
fn random_guid() -> Guid {
    let id = uuid::Uuid::new_v4();
    let (d1, d2, d3, d4) = id.as_fields();
    Guid::from_fields(d1, d2, d3, *d4)
}

fn lba_range(r: SectorRange) -> Result<LbaRange> {
    LbaRange::new(r.first_lba(), r.last_lba()).ok_or(Error::Internal("reversed sector range"))
}

/// A write failure is an I/O error like every other of `install`; anything else means the
/// planned table was refused by the writer.
pub(crate) fn table_error(e: ptable::Error) -> Error {
    match e {
        ptable::Error::Io { what, error, .. } => Error::Io {
            what,
            source: error,
        },
        source => Error::Table { source },
    }
}

/// The 440 bytes of LBA 0's boot code area: `code`, zero-padded.
pub fn boot_code_area(code: &[u8]) -> Result<[u8; BOOT_CODE_BYTES]> {
    let mut area = [0u8; BOOT_CODE_BYTES];
    area.get_mut(..code.len())
        .ok_or(Error::BootCodeTooLarge {
            what: "MBR boot code",
            len: code.len(),
            max: BOOT_CODE_BYTES as u64,
        })?
        .copy_from_slice(code);
    Ok(area)
}

/// Put `code` (at most 440 bytes) into the boot code area of an LBA 0 sector, zeroing the
/// rest of the area; the disk signature, table and 0x55AA stay as they are.
pub fn set_boot_code(lba0: &mut [u8], code: &[u8]) -> Result<()> {
    let area = boot_code_area(code)?;
    lba0.get_mut(..BOOT_CODE_BYTES)
        .ok_or(Error::Internal("LBA 0 buffer shorter than 440 bytes"))?
        .copy_from_slice(&area);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use blockdev::MemDevice;

    #[test]
    fn boot_code_is_padded_and_limited_to_440_bytes() {
        let area = boot_code_area(&[7; 300]).unwrap();
        assert!(area[..300].iter().all(|&b| b == 7) && area[300..].iter().all(|&b| b == 0));
        assert!(matches!(
            boot_code_area(&[0; 441]),
            Err(Error::BootCodeTooLarge {
                len: 441,
                max: 440,
                ..
            })
        ));
        let mut lba0 = vec![0xEE; 512];
        set_boot_code(&mut lba0, &[1; 10]).unwrap();
        assert!(lba0[..10].iter().all(|&b| b == 1));
        assert!(lba0[10..440].iter().all(|&b| b == 0));
        assert!(lba0[440..].iter().all(|&b| b == 0xEE));
    }

    #[test]
    fn two_installs_get_different_guids_and_signatures() {
        for scheme in [Scheme::Gpt, Scheme::Mbr] {
            let layout = Layout::plan(scheme, 512, 131_072).unwrap();
            let mut images = Vec::new();
            for _ in 0..2 {
                let mut dev = MemDevice::new(512, layout.disk_sectors);
                write_table(&mut dev, &layout, &[]).unwrap();
                images.push(ptable::Table::read(&mut dev).unwrap());
            }
            match (&images[0], &images[1]) {
                (ptable::Table::Gpt { gpt: a, .. }, ptable::Table::Gpt { gpt: b, .. }) => {
                    assert_ne!(a.disk_guid(), b.disk_guid());
                    let guids: Vec<Guid> = (0..3)
                        .flat_map(|i| [a.entry(i), b.entry(i)])
                        .map(|e| e.unwrap().unique_partition_guid)
                        .collect();
                    for (i, g) in guids.iter().enumerate() {
                        assert_eq!(g.0[7] >> 4, 4, "version 4");
                        assert!(!guids[i + 1..].contains(g));
                    }
                }
                (ptable::Table::Mbr(a), ptable::Table::Mbr(b)) => assert_ne!(
                    a.sector().unique_mbr_disk_signature,
                    b.sector().unique_mbr_disk_signature
                ),
                other => panic!("{scheme}: {other:?}"),
            }
        }
    }
}
