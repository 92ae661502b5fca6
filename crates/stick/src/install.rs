//! `bootshelf install`: make a disk or image file a stick.
//!
//! Two phases so that the CLI can ask the user in between: [`prepare`] checks everything
//! (the safety rules of docs/safety.md for real disks, `--size` for image files, paths
//! under /dev), plans the [`Layout`] and says what the target holds now
//! ([`crate::contents`]), writing nothing; [`Prepared::run`] creates or resizes an image
//! file and writes.
//!
//! Write order (crash safety, docs/stick-layout.md): first every old signature is wiped
//! (LBA 0 up to 1 MiB, the backup GPT area at the end, the start of the data partition
//! and of the ESP), then the ESP, the exFAT file system and stage 2 are written, and the
//! partition table comes last: backup GPT, primary GPT, then LBA 0 (protective or real
//! MBR with the boot code), each followed by a flush. A disk killed before the last write
//! has no partition table at all, so every command calls it "not a bootshelf stick" and
//! says to run `install` again; never a stick with half a file system. On a block device
//! the kernel then re-reads the partition table ([`crate::kernel`], [`Stick::kernel_table`]).

use crate::bootcode::BootCode;
use crate::device::{self, DiskInfo, SafetyOverrides, TargetKind};
use crate::esp;
use crate::layout::{Error, Layout, Result, Scheme, Stick, DATA_NAME};
use crate::partition_write;
use blockdev::{BlockDevice, FileDevice};
use std::os::unix::fs::FileTypeExt;
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

/// A target checked, ready to be erased. Preparing wrote nothing: an image file is
/// created or resized only by [`Prepared::run`].
pub struct Prepared {
    path: PathBuf,
    target: Target,
    layout: Layout,
    contents: Option<String>,
}

/// What [`Prepared::run`] writes to.
enum Target {
    /// A block device, already opened exclusively.
    Block { dev: FileDevice, info: DiskInfo },
    /// An image file: created (`exists: false`) or resized from `old_len` to `new_len`.
    Image {
        exists: bool,
        old_len: u64,
        new_len: u64,
    },
}

impl Prepared {
    /// The planned layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Disk facts for a block device (for the confirmation prompt).
    pub fn disk_info(&self) -> Option<&DiskInfo> {
        match &self.target {
            Target::Image { .. } => None,
            Target::Block { info, .. } => Some(info),
        }
    }

    /// The target path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the target holds now, in one line (`None`: a new, empty or all-zero image
    /// file, or a block device with nothing bootshelf recognises in its first and last MiB).
    pub fn contents(&self) -> Option<&str> {
        self.contents.as_deref()
    }

    /// `(old, new)` length in bytes when an existing image file will be resized.
    pub fn resize(&self) -> Option<(u64, u64)> {
        match self.target {
            Target::Image {
                exists: true,
                old_len,
                new_len,
            } if old_len != new_len => Some((old_len, new_len)),
            _ => None,
        }
    }

    /// Whether the user must confirm (docs/safety.md): always for a block device; for an
    /// image file when it holds anything.
    pub fn needs_confirmation(&self) -> bool {
        matches!(self.target, Target::Block { .. }) || self.contents.is_some()
    }

    /// Erase the target and write the stick; `progress` is called before each step.
    /// Returns the opened stick.
    pub fn run(self, boot: &BootCode, progress: &mut dyn FnMut(Step)) -> Result<Stick> {
        let layout = self.layout;
        boot.check_fits(&layout)?;
        let ss = layout.sector_size;
        let io = |what: &'static str| move |source| Error::Io { what, source };
        let (mut owned, kind) = match self.target {
            Target::Block { dev, info } => (dev, TargetKind::Block(info)),
            Target::Image {
                exists, new_len, ..
            } => (
                open_image(&self.path, exists, new_len, ss)?,
                TargetKind::Image,
            ),
        };
        let dev = &mut owned;

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
        let efi = boot.efi_files();
        let mut files: Vec<(&str, &[u8])> = efi.iter().map(|(p, b)| (p.as_str(), *b)).collect();
        files.push((esp::INFO_PATH, info.as_bytes()));
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
        let disk = match &kind {
            TargetKind::Block(info) => Some(info.name.clone()),
            TargetKind::Image => None,
        };
        let mut stick = Stick::from_parts(self.path, owned, found, kind);
        if let Some(name) = disk {
            // The kernel still has the old partitions (or none): tell it (crate::kernel).
            let k = crate::kernel::reread_partition_table(stick.device().file(), &name, &found);
            stick.set_kernel_table(k);
        }
        Ok(stick)
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
    write_stage2_at(dev, layout, layout.bios_boot.first_lba(), stage2)
}

/// Write stage 2 from `lba` (a slot of [`Layout::stage2_slots`]), zero-padded to whole
/// sectors; it must end inside the BIOS area.
pub(crate) fn write_stage2_at<D: BlockDevice>(
    dev: &mut D,
    layout: &Layout,
    lba: u64,
    stage2: &[u8],
) -> Result<()> {
    if stage2.is_empty() {
        return Ok(());
    }
    let ss = layout.sector_size as usize;
    let mut buf = stage2.to_vec();
    buf.resize(stage2.len().div_ceil(ss) * ss, 0);
    let room = layout.bios_boot.end_lba().saturating_sub(lba) * ss as u64;
    if buf.len() as u64 > room {
        return Err(Error::BootCodeTooLarge {
            what: "BIOS stage 2",
            len: stage2.len(),
            max: layout.stage2_capacity(),
        });
    }
    dev.write_sectors(lba, &buf).map_err(|source| Error::Io {
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
    if boot.has_no_efi() {
        s.push_str("No UEFI loader was installed (\\EFI\\BOOT\\BOOT*.EFI are absent).\r\n");
    }
    if boot.is_placeholder() {
        s.push_str("The BIOS boot code is a placeholder that only prints a message.\r\n");
    }
    s
}

/// Check `target`, plan its layout and read what it holds; writes nothing (docs/safety.md).
/// Every check comes first: a path under /dev that is not a block device (nothing is ever
/// created there), the safety rules for disks, `--size` (a block device has its own; an
/// image must fit a stick, the MBR limits and the file system that holds it).
pub fn prepare(target: &Path, opts: &InstallOptions) -> Result<Prepared> {
    let refuse = |reason: String| Error::Refused {
        path: target.to_owned(),
        reason,
    };
    let meta = match std::fs::metadata(target) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => {
            return Err(Error::Open {
                path: target.to_owned(),
                source,
            })
        }
    };
    let is_block = meta
        .as_ref()
        .is_some_and(|m| m.file_type().is_block_device());
    if under_dev(target) && !is_block {
        return Err(refuse(if meta.is_none() {
            "there is no such device; `bootshelf devices` lists the disks you can use \
             (nothing is ever created under /dev, even with --size)"
                .into()
        } else {
            "it is not a block device; under /dev bootshelf only writes whole disks \
             (`bootshelf devices` lists them); keep image files elsewhere"
                .into()
        }));
    }
    let Some(meta) = meta else {
        let Some(size) = opts.create_size else {
            return Err(refuse(
                "it does not exist; to create an image file, give its size with --size \
                 (e.g. --size 8G)"
                    .into(),
            ));
        };
        let layout = plan_image(target, opts, size)?;
        return Ok(Prepared {
            path: target.to_owned(),
            target: Target::Image {
                exists: false,
                old_len: 0,
                new_len: size,
            },
            layout,
            contents: None,
        });
    };
    if is_block {
        // Safety rules first, from sysfs, before the device is even opened.
        if let Some(info) = device::inspect_target(target)? {
            device::check_safe_to_erase(&info, opts.safety)?;
        }
        if opts.create_size.is_some() {
            return Err(refuse(
                "--size is for image files; a block device has its own size".into(),
            ));
        }
        let (mut dev, kind) = device::open_target(target, true, None)?;
        let TargetKind::Block(info) = kind else {
            return Err(Error::Internal("a block device opened as an image file"));
        };
        device::check_safe_to_erase(&info, opts.safety)?;
        let layout = Layout::plan(opts.scheme, dev.sector_size(), dev.sector_count())?;
        let contents = crate::contents::describe(&mut dev, target, false)?;
        return Ok(Prepared {
            path: target.to_owned(),
            target: Target::Block { dev, info },
            layout,
            contents,
        });
    }
    if !meta.file_type().is_file() {
        return Err(refuse(
            "it is neither a regular file (a disk image) nor a block device".into(),
        ));
    }
    let old_len = meta.len();
    let new_len = opts.create_size.unwrap_or(old_len);
    let layout = plan_image(target, opts, new_len)?;
    let (mut dev, _) = device::open_target(target, false, opts.image_sector_size)?;
    let contents = crate::contents::describe(&mut dev, target, true)?;
    Ok(Prepared {
        path: target.to_owned(),
        target: Target::Image {
            exists: true,
            old_len,
            new_len,
        },
        layout,
        contents,
    })
}

/// Whether `path` is under /dev, as written or through symbolic links of its folder.
fn under_dev(path: &Path) -> bool {
    let abs = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let dev = Path::new("/dev");
    if abs.starts_with(dev) {
        return true;
    }
    abs.parent()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .is_some_and(|p| p.starts_with(dev))
}

/// Plan the layout of an image file of `size` bytes, checking first everything that can
/// be wrong with the size: too small for a stick, too large for an MBR, larger than the
/// whole file system that would hold it (a sparse file that size could never be filled:
/// surely a typo such as 1T for 1G).
fn plan_image(target: &Path, opts: &InstallOptions, size: u64) -> Result<Layout> {
    let ss = opts.image_sector_size.unwrap_or(512);
    if ss != 512 && ss != 4096 {
        return Err(Error::UnsupportedSectorSize(ss));
    }
    let layout = Layout::plan(opts.scheme, ss, size / u64::from(ss)).map_err(|e| match e {
        Error::TooSmall { size, min } if opts.create_size.is_some() => Error::Refused {
            path: target.to_owned(),
            reason: format!(
                "--size {size} bytes is too small: a stick needs at least {min} bytes ({} MiB)",
                min >> 20
            ),
        },
        e => e,
    })?;
    if opts.create_size.is_some() {
        let folder = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(st) = nix::sys::statvfs::statvfs(folder) {
            let capacity = st.blocks().saturating_mul(st.fragment_size());
            if capacity > 0 && size > capacity {
                return Err(Error::Refused {
                    path: target.to_owned(),
                    reason: format!(
                        "--size {} is larger than the whole file system that would hold it \
                         ({}); give the size of the stick you mean (e.g. --size 8G)",
                        crate::index_io::human(size),
                        crate::index_io::human(capacity)
                    ),
                });
            }
        }
    }
    Ok(layout)
}

/// Create (when it did not exist: never over a file that appeared since [`prepare`]) or
/// open the image file and give it `len` bytes (sparse), for [`Prepared::run`].
fn open_image(path: &Path, exists: bool, len: u64, sector_size: u32) -> Result<FileDevice> {
    let open_err = |source| Error::Open {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(!exists)
        .open(path)
        .map_err(open_err)?;
    // One command at a time: taken before the file is resized or written (docs/safety.md).
    device::lock(&file, path, true)?;
    let now = file.metadata().map_err(open_err)?.len();
    if now != len {
        file.set_len(len).map_err(open_err)?;
    }
    Ok(FileDevice::new(file, sector_size, len))
}

/// Install a stick on `target` without asking (the CLI asks between [`prepare`] and
/// [`Prepared::run`]); safety rules still apply.
pub fn install(target: &Path, opts: &InstallOptions, boot: &BootCode) -> Result<()> {
    prepare(target, opts)?.run(boot, &mut |_| {})?;
    Ok(())
}
