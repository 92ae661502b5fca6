//! Opening a target (an image file or a block device) and the facts about real disks that
//! safety decisions need (docs/safety.md): size and logical sector size by ioctl,
//! exclusive open, model and vendor, removable, mounted partitions, the disk holding `/`.

use crate::layout::{Error, Result};
use blockdev::FileDevice;
use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

mod ioctl {
    // BLKSSZGET = _IO(0x12, 104): logical sector size, an int.
    nix::ioctl_read_bad!(blksszget, 0x1268, nix::libc::c_int);
    // BLKGETSIZE64 = _IOR(0x12, 114, size_t): size in bytes, a u64.
    nix::ioctl_read!(blkgetsize64, 0x12, 114, u64);
}

/// What a target path is.
#[derive(Clone, Debug)]
pub enum TargetKind {
    /// A regular file holding a disk image.
    Image,
    /// A whole-disk block device.
    Block(DiskInfo),
}

/// Facts about a whole disk from /sys/block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskInfo {
    /// Kernel name (`sdb`, `loop0`).
    pub name: String,
    /// Device node (`/dev/sdb`).
    pub dev_path: PathBuf,
    /// Model string, trimmed (empty when the kernel has none).
    pub model: String,
    /// Vendor string, trimmed.
    pub vendor: String,
    /// Size in bytes.
    pub size: u64,
    /// Logical sector size.
    pub sector_size: u32,
    /// /sys/block/NAME/removable.
    pub removable: bool,
    /// Attached over USB (its sysfs device path goes through a USB bus).
    pub usb: bool,
    /// Mount points of the disk or any of its partitions (or devices built on them).
    pub mounts: Vec<String>,
    /// Partitions or the disk are held by another kernel device (device mapper, RAID) or
    /// used as swap.
    pub holders: Vec<String>,
    /// It holds the root file system.
    pub system: bool,
}

fn open_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Open {
        path: path.to_owned(),
        source,
    }
}

/// Open `path` for the stick code: an image file (sector size `image_sector_size` or
/// 512) or a whole-disk block device, opened with O_EXCL when `writable` so that the
/// kernel refuses while any of its partitions is mounted and other programs cannot claim
/// it meanwhile.
pub fn open_target(
    path: &Path,
    writable: bool,
    image_sector_size: Option<u32>,
) -> Result<(FileDevice, TargetKind)> {
    let meta = fs::metadata(path).map_err(open_err(path))?;
    let ft = meta.file_type();
    if ft.is_file() {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(open_err(path))?;
        lock(&file, path, writable)?;
        let ss = image_sector_size.unwrap_or(512);
        if ss != 512 && ss != 4096 {
            return Err(Error::UnsupportedSectorSize(ss));
        }
        return Ok((FileDevice::new(file, ss, meta.len()), TargetKind::Image));
    }
    if !ft.is_block_device() {
        return Err(Error::Refused {
            path: path.to_owned(),
            reason: "it is neither a regular file (a disk image) nor a block device".into(),
        });
    }
    let file = open_block_exclusive(path, writable)?;
    lock(&file, path, writable)?;
    let (size, ss) = block_geometry(&file, path)?;
    let info = disk_info_for_rdev(meta.rdev(), path)?;
    let info = DiskInfo {
        size,
        sector_size: ss,
        ..info
    };
    if ss != 512 && ss != 4096 {
        return Err(Error::UnsupportedSectorSize(ss));
    }
    Ok((FileDevice::new(file, ss, size), TargetKind::Block(info)))
}

/// Facts about `path` when it is a block device (`None` for a regular file), read from
/// sysfs without opening the device, so that safety rules apply before any open.
pub fn inspect_target(path: &Path) -> Result<Option<DiskInfo>> {
    let meta = fs::metadata(path).map_err(open_err(path))?;
    if meta.file_type().is_block_device() {
        disk_info_for_rdev(meta.rdev(), path).map(Some)
    } else {
        Ok(None)
    }
}

/// Writable opens are exclusive (O_EXCL); read-only ones are not, so that `list` and
/// `check` work on a stick whose data partition the desktop mounted.
fn open_block_exclusive(path: &Path, writable: bool) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(writable)
        .custom_flags(if writable { nix::libc::O_EXCL } else { 0 })
        .open(path)
        .map_err(|source| {
            if source.raw_os_error() == Some(nix::libc::EBUSY) {
                // Another bootshelf command's exclusive open: say who, as the lock would.
                if let Some(holder) = lock_holder(path) {
                    return Error::Locked {
                        path: path.to_owned(),
                        holder: Some(holder),
                    };
                }
                Error::Refused {
                    path: path.to_owned(),
                    reason: "it is in use (a partition is mounted, or another program holds \
                             it open exclusively); unmount its partitions first"
                        .into(),
                }
            } else {
                Error::Open {
                    path: path.to_owned(),
                    source,
                }
            }
        })
}

/// One bootshelf command at a time per stick (docs/safety.md, "One command at a time"):
/// an advisory `flock` on the opened image file or device node, exclusive for a command
/// that writes, shared for one that only reads, never waited for. It lasts as long as the
/// open file (every descriptor cloned from it), so it ends with the command, even killed.
pub(crate) fn lock(file: &File, path: &Path, writable: bool) -> Result<()> {
    use nix::fcntl::FlockArg;
    let arg = if writable {
        FlockArg::LockExclusiveNonblock
    } else {
        FlockArg::LockSharedNonblock
    };
    // A lock seen held is tried again for a moment: a lock lives as long as its open file
    // description, which a child being forked elsewhere in the same process (a test
    // harness running threads) keeps alive until it execs. A command that holds the
    // lock holds it for seconds; the refusal still comes at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(300);
    loop {
        // `fcntl::Flock` would own the file and unlock when dropped; the device needs the
        // `File` itself, and the lock must follow the open file description, as `flock`
        // does.
        #[allow(deprecated)]
        let r = nix::fcntl::flock(file.as_raw_fd(), arg);
        match r {
            Err(nix::errno::Errno::EWOULDBLOCK) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            r => return lock_result(r, path),
        }
    }
}

fn lock_result(r: nix::Result<()>, path: &Path) -> Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(nix::errno::Errno::EWOULDBLOCK) => Err(Error::Locked {
            path: path.to_owned(),
            holder: lock_holder(path),
        }),
        // File systems without flock support: nothing to share a lock through.
        Err(nix::errno::Errno::ENOLCK) | Err(nix::errno::Errno::EOPNOTSUPP) => Ok(()),
        Err(e) => Err(Error::Open {
            path: path.to_owned(),
            source: std::io::Error::from(e),
        }),
    }
}

/// Who holds a `flock` on `path`: the first holder /proc/locks names for its device and
/// inode, with its command line from /proc/PID/cmdline (`None` when not found).
pub fn lock_holder(path: &Path) -> Option<LockHolder> {
    let meta = fs::metadata(path).ok()?;
    let dev = meta.dev();
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0xff);
    let want = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; waiters have "->" after "1:".
    let locks = fs::read_to_string("/proc/locks").ok()?;
    let pid = locks.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            [_, "FLOCK", _, _, pid, id, ..] if *id == want => pid.parse::<u32>().ok(),
            _ => None,
        }
    })?;
    let command = fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|c| !c.is_empty());
    Some(LockHolder { pid, command })
}

/// The process holding a stick's lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    /// Its process id (as this process sees it).
    pub pid: u32,
    /// Its command line, when /proc shows it.
    pub command: Option<String>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bootshelf = self.command.as_deref().is_some_and(|c| {
            c.split(' ')
                .next()
                .and_then(|a| Path::new(a).file_name())
                .is_some_and(|n| n.to_string_lossy().starts_with("bootshelf"))
        });
        let who = if bootshelf || self.command.is_none() {
            "another bootshelf command"
        } else {
            "another program"
        };
        match &self.command {
            Some(c) => write!(f, "{who} (pid {}, `{c}`)", self.pid),
            None => write!(f, "{who} (pid {})", self.pid),
        }
    }
}

/// Size in bytes (BLKGETSIZE64) and logical sector size (BLKSSZGET) of a block device.
pub fn block_geometry(file: &File, path: &Path) -> Result<(u64, u32)> {
    let fd = file.as_raw_fd();
    let mut size: u64 = 0;
    let mut ss: nix::libc::c_int = 0;
    // SAFETY: `fd` is an open block device for the lifetime of `file`; BLKGETSIZE64 writes
    // one u64 through the pointer, which points at a live local.
    unsafe { ioctl::blkgetsize64(fd, &mut size) }.map_err(|e| Error::Open {
        path: path.to_owned(),
        source: std::io::Error::from(e),
    })?;
    // SAFETY: as above; BLKSSZGET writes one int through the pointer to a live local.
    unsafe { ioctl::blksszget(fd, &mut ss) }.map_err(|e| Error::Open {
        path: path.to_owned(),
        source: std::io::Error::from(e),
    })?;
    let ss = u32::try_from(ss).map_err(|_| Error::UnsupportedSectorSize(0))?;
    Ok((size, ss))
}

fn read_trim(p: &Path) -> String {
    fs::read_to_string(p)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The whole-disk sysfs directory (/sys/block/NAME) of a block device number, and whether
/// the number is a partition of it.
fn sys_disk_of(major: u64, minor: u64) -> Option<(String, bool)> {
    let link = PathBuf::from(format!("/sys/dev/block/{major}:{minor}"));
    let real = fs::canonicalize(&link).ok()?;
    let is_part = real.join("partition").exists();
    let dir = if is_part { real.parent()? } else { &real };
    Some((dir.file_name()?.to_string_lossy().into_owned(), is_part))
}

fn split_dev(rdev: u64) -> (u64, u64) {
    (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev))
}

/// Whole disks that a device (by kernel name) ultimately sits on, following
/// /sys/block/NAME/slaves (device mapper, MD RAID) and partitions.
fn underlying_disks(name: &str, out: &mut BTreeSet<String>, depth: u32) {
    if depth > 8 {
        return;
    }
    let slaves = PathBuf::from(format!("/sys/class/block/{name}/slaves"));
    let mut any = false;
    if let Ok(rd) = fs::read_dir(&slaves) {
        for e in rd.flatten() {
            any = true;
            let child = e.file_name().to_string_lossy().into_owned();
            // A slave may be a partition: map it to its disk.
            let whole = fs::canonicalize(format!("/sys/class/block/{child}"))
                .ok()
                .and_then(|p| {
                    if p.join("partition").exists() {
                        p.parent()
                            .and_then(|d| d.file_name())
                            .map(|n| n.to_string_lossy().into_owned())
                    } else {
                        None
                    }
                })
                .unwrap_or(child);
            underlying_disks(&whole, out, depth + 1);
        }
    }
    if !any {
        out.insert(name.to_owned());
    }
}

/// Mount points per whole disk, from /proc/self/mountinfo.
fn mounts_by_disk() -> Vec<(BTreeSet<String>, String)> {
    let Ok(text) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (Some(majmin), Some(mnt)) = (f.get(2), f.get(4)) else {
            continue;
        };
        let Some((ma, mi)) = majmin.split_once(':') else {
            continue;
        };
        let (Ok(ma), Ok(mi)) = (ma.parse::<u64>(), mi.parse::<u64>()) else {
            continue;
        };
        if ma == 0 {
            continue; // virtual file systems (tmpfs, proc, overlay upper dirs...)
        }
        if let Some((disk, _)) = sys_disk_of(ma, mi) {
            let mut set = BTreeSet::new();
            underlying_disks(&disk, &mut set, 0);
            out.push((set, mnt.replace("\\040", " ")));
        }
    }
    out
}

/// Whole disks under the root file system.
pub fn system_disks() -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    if let Ok(m) = fs::metadata("/") {
        let (ma, mi) = split_dev(m.dev());
        if let Some((disk, _)) = sys_disk_of(ma, mi) {
            underlying_disks(&disk, &mut set, 0);
        }
    }
    // Overlay or container roots have a virtual device: fall back to mountinfo's "/".
    for (disks, mnt) in mounts_by_disk() {
        if mnt == "/" {
            set.extend(disks);
        }
    }
    set
}

/// Holders of the disk or its partitions (device mapper, RAID), and swap areas on it.
fn holders_of(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let base = PathBuf::from(format!("/sys/block/{name}"));
    let mut dirs = vec![base.clone()];
    if let Ok(rd) = fs::read_dir(&base) {
        for e in rd.flatten() {
            if e.path().join("partition").exists() {
                dirs.push(e.path());
            }
        }
    }
    for d in &dirs {
        if let Ok(rd) = fs::read_dir(d.join("holders")) {
            for h in rd.flatten() {
                out.push(h.file_name().to_string_lossy().into_owned());
            }
        }
    }
    if let Ok(swaps) = fs::read_to_string("/proc/swaps") {
        for line in swaps.lines().skip(1) {
            if let Some(dev) = line.split_whitespace().next() {
                if let Ok(m) = fs::metadata(dev) {
                    let (ma, mi) = split_dev(m.rdev());
                    if sys_disk_of(ma, mi).is_some_and(|(d, _)| d == name) {
                        out.push(format!("swap on {dev}"));
                    }
                }
            }
        }
    }
    out
}

/// Facts about the whole disk named `name` in /sys/block (size from sysfs).
pub fn disk_info(name: &str) -> Option<DiskInfo> {
    let sys = PathBuf::from(format!("/sys/block/{name}"));
    if !sys.exists() {
        return None;
    }
    let sectors512: u64 = read_trim(&sys.join("size")).parse().unwrap_or(0);
    let ss: u32 = read_trim(&sys.join("queue/logical_block_size"))
        .parse()
        .unwrap_or(512);
    let usb = fs::canonicalize(&sys)
        .map(|p| p.to_string_lossy().contains("/usb"))
        .unwrap_or(false);
    let mut mounts = Vec::new();
    for (disks, mnt) in mounts_by_disk() {
        if disks.contains(name) {
            mounts.push(mnt);
        }
    }
    Some(DiskInfo {
        name: name.to_owned(),
        dev_path: PathBuf::from(format!("/dev/{name}")),
        model: read_trim(&sys.join("device/model")),
        vendor: read_trim(&sys.join("device/vendor")),
        size: sectors512 * 512,
        sector_size: ss,
        removable: read_trim(&sys.join("removable")) == "1",
        usb,
        mounts,
        holders: holders_of(name),
        system: system_disks().contains(name),
    })
}

fn disk_info_for_rdev(rdev: u64, path: &Path) -> Result<DiskInfo> {
    let (ma, mi) = split_dev(rdev);
    let Some((name, is_part)) = sys_disk_of(ma, mi) else {
        return Err(Error::Refused {
            path: path.to_owned(),
            reason: format!("block device {ma}:{mi} is unknown to /sys/dev/block"),
        });
    };
    if is_part {
        return Err(Error::Refused {
            path: path.to_owned(),
            reason: format!(
                "it is a partition of /dev/{name}; give the whole disk (/dev/{name}) instead"
            ),
        });
    }
    disk_info(&name).ok_or_else(|| Error::Refused {
        path: path.to_owned(),
        reason: format!("/sys/block/{name} does not exist"),
    })
}

/// How careful to be with a real disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SafetyOverrides {
    /// Accept a disk that does not say it is removable (`--force`).
    pub allow_fixed: bool,
}

/// The safety rules of docs/safety.md for a disk about to be erased: never the system
/// disk, never one with mounted partitions, holders or swap; a non-removable disk only
/// with `--force`.
pub fn check_safe_to_erase(info: &DiskInfo, ov: SafetyOverrides) -> Result<()> {
    let refuse = |reason: String| {
        Err(Error::Refused {
            path: info.dev_path.clone(),
            reason,
        })
    };
    if info.system {
        return refuse("it holds the running system's root file system".into());
    }
    if !info.mounts.is_empty() {
        return refuse(format!(
            "it is mounted at {}; unmount it first",
            info.mounts.join(", ")
        ));
    }
    if !info.holders.is_empty() {
        return refuse(format!(
            "it is in use by {}; stop that first",
            info.holders.join(", ")
        ));
    }
    if !info.removable && !info.usb && !ov.allow_fixed {
        return refuse("it is not a removable or USB disk; if you are sure, add --force".into());
    }
    Ok(())
}
