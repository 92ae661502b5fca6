//! Telling the kernel about a block device's partition table after we wrote it: `install`
//! and `update` re-read the whole table (BLKRRPART), the ISO window's removal deletes one
//! partition (BLKPG). The table on the disk is right either way; these only update the
//! kernel's view (`/dev/sdX1`, udev's labels), so a failure is reported, never an error.
//!
//! BLKRRPART fails with EBUSY while any partition of the disk is open: udev's probing
//! after our writes holds them for a moment, so it is retried for up to 3 s. If it stays
//! busy, the partitions are changed one by one with BLKPG (delete every old one that is not
//! in use, add ours), as `partx` does. What is left then is [`KernelTable::Stale`], whose
//! message says to unplug and replug the stick (docs/safety.md).

use crate::layout::{Layout, Scheme, SectorRange};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// What the kernel was told about a rewritten partition table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KernelTable {
    /// It re-read the table (BLKRRPART).
    Reread,
    /// BLKRRPART stayed busy; the partitions were deleted and added one by one (BLKPG).
    UpdatedPartitions,
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
            KernelTable::UpdatedPartitions => f.write_str(
                "the kernel's partitions were updated one by one (re-reading the table stayed busy)",
            ),
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

/// Ask the kernel to re-read the partition table of the whole-disk device `file`, which
/// now holds `layout` (see the module documentation for retries and the fallback).
pub fn reread_partition_table(file: &File, layout: &Layout) -> KernelTable {
    let deadline = Instant::now() + BUSY_RETRY;
    loop {
        // SAFETY: `file` is an open block device; BLKRRPART takes no argument.
        match unsafe { blkrrpart(file.as_raw_fd()) } {
            Ok(_) => return KernelTable::Reread,
            Err(nix::errno::Errno::EBUSY) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(nix::errno::Errno::EBUSY) => break,
            Err(nix::errno::Errno::EINVAL) => return KernelTable::NoPartitionScan,
            Err(e) => {
                return KernelTable::Stale {
                    reason: format!("BLKRRPART: {}", std::io::Error::from(e)),
                }
            }
        }
    }
    match update_partitions(file, layout) {
        Ok(()) => KernelTable::UpdatedPartitions,
        Err(e) => KernelTable::Stale {
            reason: format!("BLKRRPART stayed busy, and BLKPG: {e}"),
        },
    }
}

/// The fallback: delete the kernel's partitions 1..=128 (those in use stay, and fail the
/// whole), then add the stick's.
fn update_partitions(file: &File, layout: &Layout) -> std::io::Result<()> {
    for n in 1..=128 {
        forget_partition(file, n)?;
    }
    let ss = u64::from(layout.sector_size);
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
    for (n, r) in parts {
        let start = r.first_lba() * ss;
        let len = r.sectors() * ss;
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
