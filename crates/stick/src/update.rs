//! `bootshelf update`: rewrite the boot code (MBR code, BIOS stage 2, ESP files) of an
//! existing stick. The data partition is never written.
//!
//! Order: ESP first (crash-safe file replacement, see [`crate::esp`]), then stage 2,
//! then the MBR's 440 bytes of code (the rest of LBA 0, disk signature and partition
//! table, is kept byte for byte). Pieces already identical are not written.

use crate::bootcode::BootCode;
use crate::esp;
use crate::install::{info_text, write_stage2};
use crate::layout::{Error, Result, Stick};
use crate::partition_write::set_boot_code;
use blockdev::BlockDevice;

/// What `update` changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpdateReport {
    /// ESP sectors written (0: the ESP already held these files).
    pub esp_sectors_written: usize,
    /// Whether the ESP was unreadable and rebuilt from scratch.
    pub esp_rebuilt: bool,
    /// Whether stage 2 was rewritten.
    pub stage2_written: bool,
    /// Whether the MBR boot code was rewritten.
    pub mbr_written: bool,
}

/// Rewrite the boot code of an opened (writable) stick.
pub fn update(stick: &mut Stick, boot: &BootCode) -> Result<UpdateReport> {
    let layout = *stick.layout();
    boot.check_fits(&layout)?;
    let dev = stick.device();
    let io = |what: &'static str| move |source| Error::Io { what, source };
    let mut report = UpdateReport::default();

    let info = info_text(boot);
    let files = boot.esp_files(&info);
    match esp::update_in_place(dev, layout.esp, &files) {
        Ok(n) => report.esp_sectors_written = n,
        Err(Error::BadEsp { .. }) => {
            // Nothing of ours to preserve: rebuild it whole.
            let img = esp::build_image(layout.sector_size, layout.esp.sectors(), &files)?;
            dev.write_sectors(layout.esp.first_lba(), &img)
                .map_err(io("writing the ESP"))?;
            dev.flush().map_err(io("flushing the ESP"))?;
            report.esp_rebuilt = true;
            report.esp_sectors_written = img.len() / layout.sector_size as usize;
        }
        Err(e) => return Err(e),
    }

    let ss = layout.sector_size as usize;
    if !boot.stage2.is_empty() {
        let n = boot.stage2.len().div_ceil(ss);
        let mut cur = vec![0u8; n * ss];
        dev.read_sectors(layout.bios_boot.first_lba(), &mut cur)
            .map_err(io("reading BIOS stage 2"))?;
        if cur.get(..boot.stage2.len()) != Some(boot.stage2)
            || cur[boot.stage2.len()..].iter().any(|&b| b != 0)
        {
            write_stage2(dev, &layout, boot.stage2)?;
            dev.flush().map_err(io("flushing stage 2"))?;
            report.stage2_written = true;
        }
    }

    let mut lba0 = vec![0u8; ss];
    dev.read_sectors(0, &mut lba0)
        .map_err(io("reading LBA 0"))?;
    let mut new0 = lba0.clone();
    set_boot_code(&mut new0, &boot.mbr_for(&layout)?)?;
    if new0 != lba0 {
        dev.write_sectors(0, &new0)
            .map_err(io("writing the MBR boot code"))?;
        dev.flush().map_err(io("flushing LBA 0"))?;
        report.mbr_written = true;
    }
    Ok(report)
}
