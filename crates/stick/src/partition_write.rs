//! Building the stick's partition tables with the `gpt` and `mbrman` crates, in memory:
//! the crates write into a [`Recorder`] (a seekable device of the disk's size that keeps
//! what is written), and `install` then writes the recorded sectors itself, in the order
//! that keeps a half-written disk unrecognisable (backup GPT, primary GPT, LBA 0 last).

use crate::layout::{
    Error, Layout, Result, Scheme, BIOS_ENTRY, BIOS_NAME, DATA_ENTRY, DATA_NAME, ESP_ENTRY,
    ESP_NAME, MBR_TYPE_DATA, MBR_TYPE_ESP,
};
use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// A stand-in for a disk of `size` bytes: reads see what was written (zeros elsewhere),
/// writes are kept in order.
#[derive(Debug)]
pub struct Recorder {
    size: u64,
    pos: u64,
    writes: Vec<(u64, Vec<u8>)>,
    /// What was written, in 512-byte blocks, for reads.
    blocks: BTreeMap<u64, [u8; 512]>,
}

impl Recorder {
    /// An empty recorder for a disk of `size` bytes.
    pub fn new(size: u64) -> Self {
        Recorder {
            size,
            pos: 0,
            writes: Vec::new(),
            blocks: BTreeMap::new(),
        }
    }

    /// The recorded writes folded into whole sectors (later writes win), over zeros.
    pub fn sectors(&self, sector_size: u32) -> BTreeMap<u64, Vec<u8>> {
        let ss = u64::from(sector_size);
        let mut out: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        for (off, data) in &self.writes {
            let mut done = 0usize;
            while done < data.len() {
                let pos = off + done as u64;
                let lba = pos / ss;
                let within = (pos % ss) as usize;
                let n = (ss as usize - within).min(data.len() - done);
                let sector = out.entry(lba).or_insert_with(|| vec![0; ss as usize]);
                sector[within..within + n].copy_from_slice(&data[done..done + n]);
                done += n;
            }
        }
        out
    }
}

impl Read for Recorder {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (self.size.saturating_sub(self.pos)).min(buf.len() as u64) as usize;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            let p = self.pos + i as u64;
            *b = self
                .blocks
                .get(&(p / 512))
                .map(|blk| blk[(p % 512) as usize])
                .unwrap_or(0);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.pos.saturating_add(buf.len() as u64) > self.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "write past the end of the disk",
            ));
        }
        self.writes.push((self.pos, buf.to_vec()));
        for (i, &b) in buf.iter().enumerate() {
            let p = self.pos + i as u64;
            self.blocks.entry(p / 512).or_insert([0; 512])[(p % 512) as usize] = b;
        }
        self.pos += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for Recorder {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let new = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match new {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(io::ErrorKind::InvalidInput, "bad seek")),
        }
    }
}

/// The sectors of a new partition table, grouped by when `install` writes them.
#[derive(Debug, Clone)]
pub struct Tables {
    /// Backup GPT entries and header at the end of the disk (empty for MBR).
    pub backup: BTreeMap<u64, Vec<u8>>,
    /// Primary GPT header and entries, LBA 1.. (empty for MBR).
    pub primary: BTreeMap<u64, Vec<u8>>,
    /// LBA 0: the protective or real MBR, with zeroed boot code (bytes 0..440).
    pub lba0: Vec<u8>,
}

/// LBAs covered by a table: sectors `install` wipes before writing anything else.
pub fn table_areas(layout: &Layout) -> Vec<(u64, u64)> {
    let ss = u64::from(layout.sector_size);
    let gpt_sectors = 1 + 16384 / ss;
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

fn gpt_err(e: impl std::fmt::Display) -> Error {
    Error::Table {
        message: e.to_string(),
    }
}

/// Build the tables for `layout`.
pub fn build(layout: &Layout) -> Result<Tables> {
    match layout.scheme {
        Scheme::Gpt => build_gpt(layout),
        Scheme::Mbr => build_mbr(layout),
    }
}

fn build_gpt(layout: &Layout) -> Result<Tables> {
    use gpt::disk::LogicalBlockSize;
    let ss = layout.sector_size;
    let lb = match ss {
        512 => LogicalBlockSize::Lb512,
        4096 => LogicalBlockSize::Lb4096,
        other => return Err(Error::UnsupportedSectorSize(other)),
    };
    let size = layout.disk_sectors * u64::from(ss);
    let rec = Recorder::new(size);
    let mut disk = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(lb)
        .create_from_device(rec, None)
        .map_err(gpt_err)?;
    let parts = [
        (
            DATA_NAME,
            DATA_ENTRY,
            layout.data,
            gpt::partition_types::BASIC,
        ),
        (ESP_NAME, ESP_ENTRY, layout.esp, gpt::partition_types::EFI),
        (
            BIOS_NAME,
            BIOS_ENTRY,
            layout.bios_boot,
            gpt::partition_types::BIOS,
        ),
    ];
    for (name, id, range, ty) in parts {
        disk.add_partition_at(name, id, range.first_lba(), range.sectors(), ty, 0)
            .map_err(gpt_err)?;
    }
    let rec = disk.write().map_err(gpt_err)?;
    let all = rec.sectors(ss);
    let mut backup = BTreeMap::new();
    let mut primary = BTreeMap::new();
    let half = layout.disk_sectors / 2;
    for (lba, data) in all {
        if lba == 0 {
            continue; // the gpt crate does not touch LBA 0 here; we build it below
        }
        if lba >= half {
            backup.insert(lba, data);
        } else {
            primary.insert(lba, data);
        }
    }
    let pmbr_len = u32::try_from(layout.disk_sectors - 1).unwrap_or(u32::MAX);
    let pmbr = gpt::mbr::ProtectiveMBR::with_lb_size(pmbr_len);
    let mut lba0 = vec![0u8; ss as usize];
    lba0[..512].copy_from_slice(&pmbr.to_bytes());
    Ok(Tables {
        backup,
        primary,
        lba0,
    })
}

fn build_mbr(layout: &Layout) -> Result<Tables> {
    let ss = layout.sector_size;
    let size = layout.disk_sectors * u64::from(ss);
    let mut rec = Recorder::new(size);
    let sig: [u8; 4] = uuid::Uuid::new_v4().as_bytes()[..4]
        .try_into()
        .map_err(|_| Error::Internal("uuid has 16 bytes"))?;
    let mut mbr = mbrman::MBR::new_from(&mut rec, ss, sig).map_err(gpt_err)?;
    let entry =
        |kind: u8, range: crate::layout::SectorRange| -> Result<mbrman::MBRPartitionEntry> {
            let too_big = || Error::TooLargeForMbr {
                size,
                max: u64::from(u32::MAX) * u64::from(ss),
            };
            Ok(mbrman::MBRPartitionEntry {
                boot: mbrman::BOOT_INACTIVE,
                first_chs: mbrman::CHS::empty(),
                sys: kind,
                last_chs: mbrman::CHS::empty(),
                starting_lba: u32::try_from(range.first_lba()).map_err(|_| too_big())?,
                sectors: u32::try_from(range.sectors()).map_err(|_| too_big())?,
            })
        };
    let mut data = entry(MBR_TYPE_DATA, layout.data)?;
    // Some BIOSes only boot a disk with an active partition: mark the data partition.
    data.boot = mbrman::BOOT_ACTIVE;
    let mut esp = entry(MBR_TYPE_ESP, layout.esp)?;
    for e in [&mut data, &mut esp] {
        // CHS is informational (every BIOS since the 1990s uses LBA): the usual
        // 255 heads x 63 sectors translation, saturating at 1023/254/63.
        e.first_chs = chs(e.starting_lba);
        e.last_chs = chs(e.starting_lba + (e.sectors - 1));
    }
    mbr[DATA_ENTRY as usize] = data;
    mbr[ESP_ENTRY as usize] = esp;
    let mut rec = Recorder::new(size);
    mbr.write_into(&mut rec).map_err(gpt_err)?;
    let sectors = rec.sectors(ss);
    let lba0 = sectors
        .get(&0)
        .cloned()
        .ok_or(Error::Internal("mbrman wrote no LBA 0"))?;
    Ok(Tables {
        backup: BTreeMap::new(),
        primary: BTreeMap::new(),
        lba0,
    })
}

/// CHS address of `lba` in the 255 x 63 translation, saturated as tools do (1023/254/63,
/// stored FE FF FF): ptable's encoding (the one the loaders write for the window), unpacked
/// for mbrman.
fn chs(lba: u32) -> mbrman::CHS {
    let [head, sector_cyl_hi, cyl_lo] = ptable::mbr::chs(u64::from(lba));
    let cylinder = u16::from(sector_cyl_hi & 0xC0) << 2 | u16::from(cyl_lo);
    mbrman::CHS::new(cylinder, head, sector_cyl_hi & 0x3F)
}

/// Put `code` (at most 440 bytes) into the boot code area of an LBA 0 sector, zeroing the
/// rest of the area; the disk signature, table and 0x55AA stay as they are.
pub fn set_boot_code(lba0: &mut [u8], code: &[u8]) -> Result<()> {
    let area = lba0
        .get_mut(..crate::bootcode::MBR_CODE_MAX)
        .ok_or(Error::Internal("LBA 0 buffer shorter than 440 bytes"))?;
    let dst = area.get_mut(..code.len()).ok_or(Error::BootCodeTooLarge {
        what: "MBR boot code",
        len: code.len(),
        max: crate::bootcode::MBR_CODE_MAX as u64,
    })?;
    dst.copy_from_slice(code);
    area[code.len()..].fill(0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::chs;

    #[test]
    fn chs_is_the_255_by_63_translation_saturating_at_1023_254_63() {
        for lba in (0u32..20_000_000)
            .step_by(9_973)
            .chain([16_450_559, 16_450_560, u32::MAX])
        {
            let c = lba / (255 * 63);
            let want = if c > 1023 {
                mbrman::CHS::new(1023, 254, 63)
            } else {
                mbrman::CHS::new(c as u16, ((lba / 63) % 255) as u8, (lba % 63 + 1) as u8)
            };
            assert_eq!(chs(lba), want, "LBA {lba}");
        }
        assert_eq!(chs(2048), mbrman::CHS::new(0, 32, 33));
    }
}
