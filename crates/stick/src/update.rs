//! `bootshelf update`: rewrite the boot code (MBR code, BIOS stage 2, ESP files) of an
//! existing stick and repair what `check` finds wrong with it (crate::boot_check): a lost
//! LBA 0 in front of a surviving GPT, a bad GPT copy, a damaged or unreadable ESP, zeroed
//! or foreign boot code. The data partition is never written.
//!
//! Order (docs/stick-layout.md, "Write order of `update`"): a bad GPT copy first (from the
//! good one), then the ESP (crash-safe file replacement, see [`crate::esp`]; rebuilt whole
//! only when its file system is damaged or unreadable), then stage 2 into the slot the MBR
//! does not load from ([`Layout::stage2_slots`]), then LBA 0 last, one sector write: its
//! 440 bytes of code pointing at that slot (the rest kept byte for byte) or, when it was
//! lost, the whole protective MBR or MBR partition table. Until that last write the old
//! MBR loads the old stage 2, untouched. Pieces already identical are not written. On a
//! block device the kernel then re-reads the partition table ([`crate::kernel`]).

use crate::bootcode::BootCode;
use crate::esp;
use crate::install::{info_text, write_stage2_at};
use crate::kernel::{self, KernelTable};
use crate::layout::{Error, Layout, Result, Scheme, Stick, TableDamage};
use crate::partition_write::{boot_code_area, set_boot_code};
use blockdev::BlockDevice;

/// What `update` changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpdateReport {
    /// A GPT copy rewritten from the other one (one was bad or they differed).
    pub gpt_repaired: bool,
    /// ESP sectors written (0: the ESP already held these files).
    pub esp_sectors_written: usize,
    /// Whether the ESP was rebuilt from scratch (unreadable or damaged), and why.
    pub esp_rebuilt: Option<String>,
    /// Whether stage 2 was rewritten.
    pub stage2_written: bool,
    /// Whether the MBR boot code was rewritten.
    pub mbr_written: bool,
    /// Whether a lost LBA 0 was rewritten (protective MBR and boot code).
    pub lba0_restored: bool,
    /// What the kernel was told (block devices that were written; `None` otherwise).
    pub kernel: Option<KernelTable>,
}

impl UpdateReport {
    /// Whether anything was written.
    pub fn wrote_anything(&self) -> bool {
        self.gpt_repaired
            || self.esp_sectors_written > 0
            || self.stage2_written
            || self.mbr_written
            || self.lba0_restored
    }
}

/// Rewrite the boot code of a stick opened writable (with [`Stick::open_for_repair`] to
/// repair its table too).
pub fn update(stick: &mut Stick, boot: &BootCode) -> Result<UpdateReport> {
    let layout = *stick.layout();
    let damage = stick.table_damage().to_vec();
    let mut report = update_device(stick.device(), &layout, &damage, boot)?;
    stick.set_table_damage(Vec::new());
    if report.lba0_restored {
        // The table is readable again: clear a window the open had to leave.
        stick.clear_window()?;
    }
    if let Some(name) = stick.disk_info().map(|d| d.name.clone()) {
        if report.wrote_anything() {
            let now = *stick.layout();
            report.kernel = Some(kernel::reread_partition_table(
                stick.device().file(),
                &name,
                &now,
            ));
        }
    }
    Ok(report)
}

/// The writes of [`update`] on the device of a stick with `layout`, whose table has
/// `damage` (as [`Stick::table_damage`] says), in the crash-safe order of the module
/// documentation. Leaves the ISO window and the kernel to [`update`].
pub fn update_device<D: BlockDevice>(
    dev: &mut D,
    layout: &Layout,
    damage: &[TableDamage],
    boot: &BootCode,
) -> Result<UpdateReport> {
    let layout = *layout;
    boot.check_fits(&layout)?;
    let lba0_lost = damage.iter().any(|d| {
        matches!(
            d,
            TableDamage::Lba0Lost { .. } | TableDamage::GptLost { .. }
        )
    });
    let gpt_lost = damage
        .iter()
        .any(|d| matches!(d, TableDamage::GptLost { .. }));
    let gpt_bad = damage.iter().any(|d| {
        matches!(
            d,
            TableDamage::GptCopyInvalid { .. } | TableDamage::GptCopiesDiffer
        )
    });
    let io = |what: &'static str| move |source| Error::Io { what, source };
    let mut report = UpdateReport::default();

    if gpt_bad {
        // ptable read the good copy (the primary when both validate); Gpt::write writes
        // the backup then the primary from it. The good copy is rewritten byte for byte
        // as it is, so a torn write there leaves it as it was.
        let mut gpt = ptable::Gpt::read(dev).map_err(crate::partition_write::table_error)?;
        gpt.write(dev)
            .map_err(crate::partition_write::table_error)?;
        report.gpt_repaired = true;
    }

    let info = info_text(boot);
    let efi = boot.efi_files();
    let mut files: Vec<(&str, &[u8])> = efi.iter().map(|(p, b)| (p.as_str(), *b)).collect();
    files.push((esp::INFO_PATH, info.as_bytes()));
    let current = esp::read_esp(dev, layout.esp)?;
    let rebuild = match esp::fsck(&current) {
        Err(Error::BadEsp { message }) => Some(format!("it was unreadable: {message}")),
        Err(e) => return Err(e),
        Ok(issues) => issues
            .iter()
            .find(|i| !i.is_benign())
            .map(|i| format!("it was damaged: {i}")),
    };
    let rebuild = match rebuild {
        Some(why) => Some(why),
        None => match esp::update_in_place(dev, layout.esp, &files) {
            Ok(n) => {
                report.esp_sectors_written = n;
                None
            }
            // Not as we wrote it after all (a directory missing, entries apart).
            Err(Error::BadEsp { message }) => {
                Some(format!("it was not as bootshelf wrote it: {message}"))
            }
            Err(e) => return Err(e),
        },
    };
    if let Some(why) = rebuild {
        // Nothing of ours to preserve: rebuild it whole. UEFI boot was broken already.
        let img = esp::build_image(layout.sector_size, layout.esp.sectors(), &files)?;
        dev.write_sectors(layout.esp.first_lba(), &img)
            .map_err(io("writing the ESP"))?;
        dev.flush().map_err(io("flushing the ESP"))?;
        report.esp_rebuilt = Some(why);
        report.esp_sectors_written = img.len() / layout.sector_size as usize;
    }

    // The BIOS pair: stage 2 into a slot the MBR does not load from, then LBA 0 pointing
    // at it in one sector write (module documentation).
    let ss = layout.sector_size as usize;
    let mut lba0 = vec![0u8; ss];
    let current = if lba0_lost {
        None
    } else {
        dev.read_sectors(0, &mut lba0)
            .map_err(io("reading LBA 0"))?;
        boot.loaded_slot(&layout, &lba0)
    };
    let slot = stage2_slot(dev, &layout, boot, current)?;
    if !stage2_is_at(dev, &layout, boot.stage2, slot)? {
        write_stage2_at(dev, &layout, slot, boot.stage2)?;
        dev.flush().map_err(io("flushing stage 2"))?;
        report.stage2_written = true;
    }

    let code = boot.mbr_loading(&layout, slot)?;
    if gpt_lost || (lba0_lost && layout.scheme == Scheme::Mbr) {
        // The partition table install writes (new GUIDs or disk signature), with the boot
        // code: MBR, one sector write; GPT, backup, primary, then LBA 0, each flushed.
        crate::partition_write::write_table(dev, &layout, &code)?;
        report.lba0_restored = true;
        report.gpt_repaired = gpt_lost;
    } else if lba0_lost {
        // The protective MBR install writes, with the boot code: one sector write.
        let pmbr =
            ptable::write::protective_mbr_sector(layout.disk_sectors, &boot_code_area(&code)?);
        let mut new0 = vec![0u8; ss];
        new0[..512].copy_from_slice(&pmbr);
        dev.write_sectors(0, &new0)
            .map_err(io("writing LBA 0 (the protective MBR)"))?;
        dev.flush().map_err(io("flushing LBA 0"))?;
        report.lba0_restored = true;
    } else {
        let mut new0 = lba0.clone();
        set_boot_code(&mut new0, &code)?;
        if new0 != lba0 {
            dev.write_sectors(0, &new0)
                .map_err(io("writing the MBR boot code"))?;
            dev.flush().map_err(io("flushing LBA 0"))?;
            report.mbr_written = true;
        }
    }
    Ok(report)
}

/// The slot (first LBA) stage 2 goes to: the one the MBR loads from (`current`) when it
/// holds this stage 2 already, else the other one; with no usable MBR, a slot that holds
/// it already, else slot A. A stage 2 larger than half the BIOS area has only slot A
/// (written in place).
fn stage2_slot<D: BlockDevice>(
    dev: &mut D,
    layout: &Layout,
    boot: &BootCode,
    current: Option<u64>,
) -> Result<u64> {
    let [a, b] = layout.stage2_slots();
    if boot.stage2.is_empty() || boot.stage2.len() as u64 > layout.stage2_slot_capacity() {
        return Ok(a);
    }
    Ok(match current {
        Some(c) if stage2_is_at(dev, layout, boot.stage2, c)? => c,
        Some(c) if c == a => b,
        Some(_) => a,
        None if !stage2_is_at(dev, layout, boot.stage2, a)?
            && stage2_is_at(dev, layout, boot.stage2, b)? =>
        {
            b
        }
        None => a,
    })
}

/// Whether the sectors from `lba` hold `stage2`, zero-padded to whole sectors (an empty
/// stage 2 is always there).
pub(crate) fn stage2_is_at<D: BlockDevice>(
    dev: &mut D,
    layout: &Layout,
    stage2: &[u8],
    lba: u64,
) -> Result<bool> {
    if stage2.is_empty() {
        return Ok(true);
    }
    let ss = layout.sector_size as usize;
    let n = stage2.len().div_ceil(ss);
    if lba + n as u64 > layout.bios_boot.end_lba() {
        return Ok(false);
    }
    let mut cur = vec![0u8; n * ss];
    dev.read_sectors(lba, &mut cur)
        .map_err(|source| Error::Io {
            what: "reading BIOS stage 2",
            source,
        })?;
    let (head, pad) = cur.split_at(stage2.len());
    Ok(head == stage2 && pad.iter().all(|&b| b == 0))
}
