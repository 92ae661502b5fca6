//! A loop device over an image file (`losetup -f --show`), with an optional logical
//! sector size, byte offset and size limit, detached when dropped whatever the test did.
//! Loop devices need root; the suites that use them run as root in CI.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// How to attach: all optional (`Default` is the whole file, 512-byte sectors,
/// read-write).
#[derive(Clone, Copy, Debug, Default)]
pub struct LoopOptions {
    /// Logical sector size of the device (`--sector-size`).
    pub sector_size: Option<u32>,
    /// First byte of the file the device starts at (`--offset`).
    pub offset: Option<u64>,
    /// Bytes of the file the device covers (`--sizelimit`).
    pub size_limit: Option<u64>,
    /// Attach read-only (`-r`).
    pub read_only: bool,
    /// Scan the partition table (`-P`): the kernel shows `/dev/loopNpM` and re-reads the
    /// table on BLKRRPART, as it does for a USB stick.
    pub partscan: bool,
}

impl LoopOptions {
    /// The whole file with `sector_size`-byte logical sectors.
    pub fn sector_size(sector_size: u32) -> LoopOptions {
        LoopOptions {
            sector_size: Some(sector_size),
            ..LoopOptions::default()
        }
    }

    /// `len` bytes from byte `offset` of the file (a partition of an image).
    pub fn range(offset: u64, len: u64) -> LoopOptions {
        LoopOptions {
            offset: Some(offset),
            size_limit: Some(len),
            ..LoopOptions::default()
        }
    }
}

/// An attached loop device; detached on drop.
#[derive(Debug)]
pub struct LoopDev {
    dev: PathBuf,
    /// The image file the device reads and writes.
    file: PathBuf,
}

impl LoopDev {
    /// Attach `file` with `options`.
    pub fn attach(file: &Path, options: LoopOptions) -> Result<LoopDev> {
        let mut cmd = Command::new("losetup");
        cmd.args(["-f", "--show"]);
        if let Some(ss) = options.sector_size {
            cmd.args(["--sector-size", &ss.to_string()]);
        }
        if let Some(offset) = options.offset {
            cmd.args(["--offset", &offset.to_string()]);
        }
        if let Some(len) = options.size_limit {
            cmd.args(["--sizelimit", &len.to_string()]);
        }
        if options.read_only {
            cmd.arg("-r");
        }
        if options.partscan {
            cmd.arg("-P");
        }
        let out = cmd
            .arg(file)
            .output()
            .with_context(|| format!("running {cmd:?}"))?;
        if !out.status.success() {
            bail!(
                "{cmd:?} failed (loop devices need root): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if dev.is_empty() {
            bail!("{cmd:?} named no device");
        }
        Ok(LoopDev {
            dev: PathBuf::from(dev),
            file: file.to_path_buf(),
        })
    }

    /// The device node (`/dev/loopN`).
    pub fn path(&self) -> &Path {
        &self.dev
    }

    /// The image file the device reads and writes.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The device node as a string, for command lines.
    pub fn name(&self) -> &str {
        self.dev.to_str().unwrap_or_default()
    }

    /// Detach now, reporting failure (dropping detaches too, silently).
    pub fn detach(self) -> Result<()> {
        let out = Command::new("losetup").arg("-d").arg(&self.dev).output();
        let dev = self.dev.clone();
        std::mem::forget(self);
        let out = out.with_context(|| format!("running losetup -d {}", dev.display()))?;
        if !out.status.success() {
            bail!(
                "losetup -d {} failed: {}",
                dev.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

/// Whether this process runs as root (loop devices can be attached).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A loop device's writes limited to a USB stick's speed by the kernel's block throttle:
/// `blkio.throttle.write_bps_device` of the root group of cgroup v1, which covers the
/// kernel's write-back threads too, so buffered writes are held to the limit as direct
/// ones are. The limit is lifted when this is dropped.
#[derive(Debug)]
pub struct WriteLimit {
    rule: PathBuf,
    device: String,
}

/// Where cgroup v1 keeps the root group's write limits.
pub const BLKIO_WRITE_BPS: &str = "/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device";

impl LoopDev {
    /// Limit writes to this device to `bytes_per_sec` until the returned guard is dropped.
    pub fn limit_writes(&self, bytes_per_sec: u64) -> Result<WriteLimit> {
        use std::os::unix::fs::MetadataExt;
        let rdev = std::fs::metadata(&self.dev)
            .with_context(|| format!("reading {}", self.dev.display()))?
            .rdev();
        let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
        let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
        let device = format!("{major}:{minor}");
        let rule = PathBuf::from(BLKIO_WRITE_BPS);
        std::fs::write(&rule, format!("{device} {bytes_per_sec}")).with_context(|| {
            format!(
                "limiting writes of {} in {BLKIO_WRITE_BPS} (needs root and cgroup v1 blkio)",
                self.dev.display()
            )
        })?;
        Ok(WriteLimit { rule, device })
    }
}

impl Drop for WriteLimit {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.rule, format!("{} 0", self.device));
    }
}
