//! `bootshelf install`: make a disk or image file a stick.
//!
//! Two phases so that the CLI can ask the user in between: [`prepare`] opens the target
//! (creating a sparse image file if asked), applies the safety rules of docs/safety.md to
//! real disks and plans the [`Layout`]; [`Prepared::run`] writes.
//!
//! Write order (crash safety, docs/stick-layout.md): first every old signature is wiped
//! (LBA 0 up to 1 MiB, the backup GPT area at the end, the start of the data partition
//! and of the ESP), then the ESP, the exFAT file system and stage 2 are written, and the
//! partition table comes last: backup GPT, primary GPT, then LBA 0 (protective or real
//! MBR with the boot code), each followed by a flush. A disk killed before the last write
//! has no partition table at all, so every command calls it "not a bootshelf stick" and
//! says to run `install` again; never a stick with half a file system.

use crate::bootcode::BootCode;
use crate::device::{self, DiskInfo, SafetyOverrides, TargetKind};
use crate::esp;
use crate::layout::{Error, Layout, Result, Scheme, Stick, DATA_NAME};
use crate::partition_write;
use blockdev::{BlockDevice, FileDevice};
use std::path::{Path, PathBuf};

/// How to install.
#[derive(Clone, Debug)]
pub struct InstallOptions {
    /// GPT (default) or MBR.
    pub scheme: Scheme,
    /// For image files: create the file (or resize an existing one) sparse to this many
    /// bytes. Refused for block devices.
    pub create_size: Option<u64>,
    /// For image files: the logical sector size (512 or 4096; default 512). Block devices
    /// use their own (BLKSSZGET).
    pub image_sector_size: Option<u32>,
    /// Safety overrides (`--force`).
    pub safety: SafetyOverrides,
}

impl Default for InstallOptions {
    fn default() -> Self {
        InstallOptions {
            scheme: Scheme::Gpt,
            create_size: None,
            image_sector_size: None,
            safety: SafetyOverrides::default(),
        }
    }
}

/// The steps of [`Prepared::run`], reported to a progress callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Wiping old partition tables and file system signatures.
    Wipe,
    /// Writing the EFI System Partition.
    Esp,
    /// Formatting the exFAT data partition.
    Format,
    /// Writing BIOS stage 2.
    Stage2,
    /// Writing the partition table and MBR boot code.
    Table,
}

impl Step {
    /// All steps, in order.
    pub const ALL: [Step; 5] = [
        Step::Wipe,
        Step::Esp,
        Step::Format,
        Step::Stage2,
        Step::Table,
    ];

    /// Human description.
    pub fn describe(&self) -> &'static str {
        match self {
            Step::Wipe => "wiping old signatures",
            Step::Esp => "writing the EFI system partition",
            Step::Format => "formatting the exFAT data partition",
            Step::Stage2 => "writing BIOS stage 2",
            Step::Table => "writing the partition table and MBR",
        }
    }
}

/// A target opened and checked, ready to be erased.
pub struct Prepared {
    path: PathBuf,
    dev: FileDevice,
    kind: TargetKind,
    layout: Layout,
}

impl Prepared {
    /// The planned layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Disk facts for a block device (for the confirmation prompt).
    pub fn disk_info(&self) -> Option<&DiskInfo> {
        match &self.kind {
            TargetKind::Image => None,
            TargetKind::Block(i) => Some(i),
        }
    }

    /// The target path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Erase the target and write the stick; `progress` is called before each step.
    /// Returns the opened stick.
    pub fn run(mut self, boot: &BootCode, progress: &mut dyn FnMut(Step)) -> Result<Stick> {
        let layout = self.layout;
        boot.check_fits(&layout)?;
        let ss = layout.sector_size;
        let io = |what: &'static str| move |source| Error::Io { what, source };
        let dev = &mut self.dev;

        progress(Step::Wipe);
        let mut areas = partition_write::table_areas(&layout);
        let mib = crate::layout::ALIGN_BYTES / u64::from(ss);
        areas.push((layout.data.first_lba(), mib.min(layout.data.sectors())));
        areas.push((layout.esp.first_lba(), mib.min(layout.esp.sectors())));
        for (lba, n) in areas {
            zero_sectors(dev, lba, n)?;
        }
        dev.flush().map_err(io("flushing the wipe"))?;

        progress(Step::Esp);
        let info = info_text(boot);
        let files: [(&str, &[u8]); 2] = [
            (esp::LOADER_PATH, boot.efi),
            (esp::INFO_PATH, info.as_bytes()),
        ];
        let img = esp::build_image(ss, layout.esp.sectors(), &files)?;
        dev.write_sectors(layout.esp.first_lba(), &img)
            .map_err(io("writing the ESP"))?;
        dev.flush().map_err(io("flushing the ESP"))?;

        progress(Step::Format);
        let serial = uuid::Uuid::new_v4().as_u128() as u32;
        exfat::format(
            dev,
            layout.data.first_lba(),
            layout.data.sectors(),
            &exfat::FormatOptions {
                label: DATA_NAME,
                cluster_size: None,
                volume_serial: serial,
            },
        )
        .map_err(|e| Error::Exfat {
            what: "formatting the data partition",
            message: e.to_string(),
        })?;
        dev.flush().map_err(io("flushing the data partition"))?;

        progress(Step::Stage2);
        write_stage2(dev, &layout, boot.stage2)?;
        dev.flush().map_err(io("flushing stage 2"))?;

        progress(Step::Table);
        partition_write::write_table(dev, &layout, &boot.mbr_for(&layout)?)?;

        // Read back what we wrote through the same code every other command uses.
        let found = crate::layout::read_layout(dev, &self.path)?;
        if found.data != layout.data
            || found.esp != layout.esp
            || found.bios_boot != layout.bios_boot
        {
            return Err(Error::Internal(
                "the layout read back differs from the one written",
            ));
        }
        Ok(Stick::from_parts(self.path, self.dev, found, self.kind))
    }
}

/// Zero `n` sectors from `lba`, in 1 MiB pieces.
pub(crate) fn zero_sectors<D: BlockDevice>(dev: &mut D, lba: u64, n: u64) -> Result<()> {
    let ss = u64::from(dev.sector_size());
    let chunk = (crate::layout::ALIGN_BYTES / ss).max(1);
    let zeros = vec![0u8; (chunk * ss) as usize];
    let mut done = 0;
    while done < n {
        let k = chunk.min(n - done);
        dev.write_sectors(lba + done, &zeros[..(k * ss) as usize])
            .map_err(|source| Error::Io {
                what: "wiping old signatures",
                source,
            })?;
        done += k;
    }
    Ok(())
}

/// Write stage 2 from the first sector of the BIOS area, zero-padded to whole sectors.
pub(crate) fn write_stage2<D: BlockDevice>(
    dev: &mut D,
    layout: &Layout,
    stage2: &[u8],
) -> Result<()> {
    if stage2.is_empty() {
        return Ok(());
    }
    let ss = layout.sector_size as usize;
    let mut buf = stage2.to_vec();
    buf.resize(stage2.len().div_ceil(ss) * ss, 0);
    if buf.len() as u64 > layout.stage2_capacity() {
        return Err(Error::BootCodeTooLarge {
            what: "BIOS stage 2",
            len: stage2.len(),
            max: layout.stage2_capacity(),
        });
    }
    dev.write_sectors(layout.bios_boot.first_lba(), &buf)
        .map_err(|source| Error::Io {
            what: "writing BIOS stage 2",
            source,
        })
}

/// The contents of `\BOOTSHELF.TXT`.
pub(crate) fn info_text(boot: &BootCode) -> String {
    let mut s = format!(
        "This EFI system partition was written by bootshelf {}.\r\n\
         It is rewritten by `bootshelf update`; the ISOs live on the BOOTSHELF partition.\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if boot.efi.is_empty() {
        s.push_str("No UEFI loader was installed (\\EFI\\BOOT\\BOOTX64.EFI is absent).\r\n");
    }
    if boot.is_placeholder() {
        s.push_str("The BIOS boot code is a placeholder that only prints a message.\r\n");
    }
    s
}

/// Open and check `target`, and plan its layout. Nothing is written except the creation
/// or resizing of an image file when `opts.create_size` is given.
pub fn prepare(target: &Path, opts: &InstallOptions) -> Result<Prepared> {
    // Safety rules first, from sysfs, before the device is even opened.
    if std::fs::metadata(target).is_ok() {
        if let Some(info) = device::inspect_target(target)? {
            device::check_safe_to_erase(&info, opts.safety)?;
        }
    }
    if let Some(size) = opts.create_size {
        create_sparse_image(target, size)?;
    }
    let (dev, kind) = device::open_target(target, true, opts.image_sector_size)?;
    if let TargetKind::Block(info) = &kind {
        if opts.create_size.is_some() {
            return Err(Error::Refused {
                path: target.to_owned(),
                reason: "--size is for image files; a block device has its own size".into(),
            });
        }
        device::check_safe_to_erase(info, opts.safety)?;
    }
    let layout = Layout::plan(opts.scheme, dev.sector_size(), dev.sector_count())?;
    Ok(Prepared {
        path: target.to_owned(),
        dev,
        kind,
        layout,
    })
}

/// Create (or resize) a sparse image file of `size` bytes.
fn create_sparse_image(path: &Path, size: u64) -> Result<()> {
    if let Ok(m) = std::fs::metadata(path) {
        if !m.file_type().is_file() {
            return Err(Error::Refused {
                path: path.to_owned(),
                reason: "--size is for image files; a block device has its own size".into(),
            });
        }
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| Error::Open {
            path: path.to_owned(),
            source,
        })?;
    f.set_len(size).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })
}

/// Install a stick on `target` without asking (the CLI asks between [`prepare`] and
/// [`Prepared::run`]); safety rules still apply.
pub fn install(target: &Path, opts: &InstallOptions, boot: &BootCode) -> Result<()> {
    prepare(target, opts)?.run(boot, &mut |_| {})?;
    Ok(())
}
