//! Telling the kernel about a block device's partition table after we wrote it: `install`
//! and `update` re-read the whole table (BLKRRPART), the ISO window's removal deletes one
//! partition (BLKPG). The table on the disk is right either way; these only update the
//! kernel's view (`/dev/sdX1`, udev's labels), so a failure is reported, never an error.
//!
//! BLKRRPART fails with EBUSY while any partition of the disk is open: udev's probing
//! after our writes holds them for a moment, so it is retried for up to 3 s. Whether the
//! kernel then shows the stick's partitions is checked in sysfs: it may have no parser
//! for the table (a kernel built without `CONFIG_EFI_PARTITION` / `CONFIG_MSDOS_PARTITION`,
//! as some VMs' are). If re-reading stays busy or does not give them, the partitions are
//! set one by one with BLKPG (delete the old ones, add ours), as `partx` does. If that
//! fails too (a partition in use), the result is [`KernelTable::Stale`], whose message
//! says to unplug and replug the stick (docs/safety.md).

use crate::layout::{Layout, Scheme, SectorRange};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// What the kernel was told about a rewritten partition table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelTable {
    /// It re-read the table (BLKRRPART) and shows the stick's partitions.
    Reread,
    /// It shows the stick's partitions after they were deleted and added one by one
    /// (BLKPG), because re-reading did not give them.
    UpdatedPartitions {
        /// Why re-reading did not do: busy, or the kernel has no parser for the table.
        why: String,
    },
    /// The device has no partitions in the kernel's view (a loop device attached without
    /// partition scanning): nothing to re-read.
    NoPartitionScan,
    /// Its view may be stale: why, for the user.
    Stale {
        /// What failed.
        reason: String,
    },
}

impl std::fmt::Display for KernelTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelTable::Reread => f.write_str("the kernel re-read the partition table"),
            KernelTable::UpdatedPartitions { why } => {
                write!(f, "the kernel's partitions were set one by one ({why})")
            }
            KernelTable::NoPartitionScan => f.write_str(
                "the kernel does not scan partitions on this device (a loop device attached \
                 without `losetup -P`), so it shows none",
            ),
            KernelTable::Stale { reason } => write!(
                f,
                "the kernel may still show the old partitions ({reason}); the stick itself is \
                 written correctly: unplug and replug it (or run `partprobe`) before using its \
                 partitions"
            ),
        }
    }
}

// BLKRRPART = _IO(0x12, 95): re-read the partition table.
nix::ioctl_none_bad!(blkrrpart, 0x125F);
// BLKPG = _IO(0x12, 105), argument a pointer to struct blkpg_ioctl_arg.
nix::ioctl_write_ptr_bad!(blkpg, 0x1269, BlkpgIoctlArg);

/// `struct blkpg_partition` of `<linux/blkpg.h>`.
#[repr(C)]
struct BlkpgPartition {
    start: i64,
    length: i64,
    pno: i32,
    devname: [u8; 64],
    volname: [u8; 64],
}

/// `struct blkpg_ioctl_arg` of `<linux/blkpg.h>`.
#[repr(C)]
struct BlkpgIoctlArg {
    op: i32,
    flags: i32,
    datalen: i32,
    data: *mut BlkpgPartition,
}

/// `BLKPG_ADD_PARTITION`.
const BLKPG_ADD_PARTITION: i32 = 1;
/// `BLKPG_DEL_PARTITION`.
const BLKPG_DEL_PARTITION: i32 = 2;

/// How long a busy BLKRRPART is retried.
const BUSY_RETRY: Duration = Duration::from_secs(3);

/// Ask the kernel to re-read the partition table of the whole-disk device `file`
/// (kernel name `name`, as in /sys/block), which now holds `layout`, and check in sysfs
/// that it shows the stick's partitions (see the module documentation for retries and the
/// fallback).
pub fn reread_partition_table(file: &File, name: &str, layout: &Layout) -> KernelTable {
    let want = partitions_of(layout);
    let deadline = Instant::now() + BUSY_RETRY;
    let why = loop {
        // SAFETY: `file` is an open block device; BLKRRPART takes no argument.
        match unsafe { blkrrpart(file.as_raw_fd()) } {
            Ok(_) if kernel_partitions(name).as_ref() == Some(&want) => return KernelTable::Reread,
            Ok(_) => {
                break "re-reading the table did not give them: the kernel has no parser for \
                       this partition table"
                    .to_owned()
            }
            Err(nix::errno::Errno::EBUSY) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(nix::errno::Errno::EBUSY) => {
                break "re-reading the table stayed busy: a partition is open".to_owned()
            }
            Err(nix::errno::Errno::EINVAL) => return KernelTable::NoPartitionScan,
            Err(e) => {
                return KernelTable::Stale {
                    reason: format!("BLKRRPART: {}", std::io::Error::from(e)),
                }
            }
        }
    };
    match set_partitions(file, name, &want) {
        Ok(()) if kernel_partitions(name).as_ref() == Some(&want) => {
            KernelTable::UpdatedPartitions { why }
        }
        Ok(()) => KernelTable::Stale {
            reason: format!("{why}; after setting them one by one sysfs still differs"),
        },
        Err(e) => KernelTable::Stale {
            reason: format!("{why}; setting them one by one (BLKPG): {e}"),
        },
    }
}

/// A partition as the kernel shows it: number, first byte, length in bytes.
type KernelPartition = (u32, u64, u64);

/// The partitions the kernel should show for `layout`, by number.
fn partitions_of(layout: &Layout) -> Vec<KernelPartition> {
    let ss = layout.sector_size;
    let mut parts: Vec<(u32, SectorRange)> = vec![
        (crate::layout::DATA_ENTRY, layout.data),
        (crate::layout::ESP_ENTRY, layout.esp),
    ];
    if layout.scheme == Scheme::Gpt {
        parts.push((crate::layout::BIOS_ENTRY, layout.bios_boot));
    }
    if let Some(w) = layout.window {
        parts.push((crate::layout::WINDOW_ENTRY, w));
    }
    parts
        .into_iter()
        .map(|(n, r)| (n, r.byte_start(ss), r.byte_len(ss)))
        .collect()
}

/// The partitions of disk `name` in the kernel's view (/sys/block/NAME/*/partition, start
/// and size, the last two in 512-byte units), by number; `None` when sysfs cannot say.
fn kernel_partitions(name: &str) -> Option<Vec<KernelPartition>> {
    let dir = std::path::Path::new("/sys/block").join(name);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).ok()? {
        let p = e.ok()?.path();
        let read = |f: &str| -> Option<u64> {
            std::fs::read_to_string(p.join(f)).ok()?.trim().parse().ok()
        };
        let Some(number) = read("partition") else {
            continue;
        };
        out.push((
            u32::try_from(number).ok()?,
            read("start")? * 512,
            read("size")? * 512,
        ));
    }
    out.sort_unstable();
    Some(out)
}

/// The fallback: delete every partition the kernel shows (one in use fails the whole),
/// then add `want`.
fn set_partitions(file: &File, name: &str, want: &[KernelPartition]) -> std::io::Result<()> {
    for (n, _, _) in kernel_partitions(name).unwrap_or_default() {
        forget_partition(file, n)?;
    }
    for &(n, start, len) in want {
        partition_op(file, BLKPG_ADD_PARTITION, n, start, len)?;
    }
    Ok(())
}

/// Ask the kernel to drop partition `number` of the whole-disk device `file` from its
/// view (the on-disk table is not touched). `Ok` also when it had no such partition.
pub fn forget_partition(file: &File, number: u32) -> std::io::Result<()> {
    match partition_op(file, BLKPG_DEL_PARTITION, number, 0, 0) {
        Err(e) if e.raw_os_error() == Some(nix::libc::ENXIO) => Ok(()),
        r => r,
    }
}

/// One BLKPG operation on partition `number` (`start` and `len` in bytes, for adding).
fn partition_op(file: &File, op: i32, number: u32, start: u64, len: u64) -> std::io::Result<()> {
    let too_big = || std::io::Error::from(std::io::ErrorKind::InvalidInput);
    let mut part = BlkpgPartition {
        start: i64::try_from(start).map_err(|_| too_big())?,
        length: i64::try_from(len).map_err(|_| too_big())?,
        pno: i32::try_from(number).map_err(|_| too_big())?,
        devname: [0; 64],
        volname: [0; 64],
    };
    let arg = BlkpgIoctlArg {
        op,
        flags: 0,
        datalen: std::mem::size_of::<BlkpgPartition>() as i32,
        data: &mut part,
    };
    // SAFETY: `file` is an open block device; BLKPG reads `arg` and the `part` it points
    // to, both live locals of the layout <linux/blkpg.h> defines, and writes nothing back.
    unsafe { blkpg(file.as_raw_fd(), &arg) }
        .map(|_| ())
        .map_err(std::io::Error::from)
}
