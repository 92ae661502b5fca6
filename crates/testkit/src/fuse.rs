//! An exfat-fuse mount: the independent exFAT implementation the suites compare bootshelf's
//! with, and the way "a file manager" copies files onto a stick. exfat-fuse run as root
//! wants a block device, so the mount owns the loop device it was made from; dropping the
//! mount unmounts it (retrying while the file system is busy), then detaches the device.

use crate::loopdev::LoopDev;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A mounted exFAT file system; unmounted on drop.
#[derive(Debug)]
pub struct FuseMount {
    dir: PathBuf,
    mounted: bool,
    // Dropped after `Drop::drop` has unmounted.
    _device: LoopDev,
}

impl FuseMount {
    /// `mount.exfat-fuse [-o ro] device dir`, creating `dir` if needed.
    pub fn exfat(device: LoopDev, dir: &Path, read_only: bool) -> Result<FuseMount> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut cmd = Command::new("mount.exfat-fuse");
        if read_only {
            cmd.args(["-o", "ro"]);
        }
        let out = cmd
            .arg(device.path())
            .arg(dir)
            .output()
            .with_context(|| format!("running {cmd:?} (is exfat-fuse installed?)"))?;
        if !out.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(FuseMount {
            dir: dir.to_path_buf(),
            mounted: true,
            _device: device,
        })
    }

    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unmount now, reporting failure (dropping unmounts too, silently).
    pub fn unmount(mut self) -> Result<()> {
        self.mounted = false;
        if !fusermount_u(&self.dir) {
            bail!("fusermount -u {} kept failing", self.dir.display());
        }
        Ok(())
    }
}

/// Scatter the free space of the file system mounted at `root` the way months of use
/// would: fill it with 512 KiB files (`fill000`, `fill001`, ...), then delete every other
/// one. A file copied in afterwards is stored FAT-chained in several pieces. Returns how
/// many filler files were written (the odd-numbered ones stay).
pub fn scatter_free_space(root: &Path) -> usize {
    let filler = |i: usize| root.join(format!("fill{i:03}"));
    let mut n = 0;
    while std::fs::write(filler(n), vec![7u8; 512 * 1024]).is_ok() {
        n += 1;
    }
    // The write that failed may have left a partial file.
    let _ = std::fs::remove_file(filler(n));
    for i in (0..n).step_by(2) {
        std::fs::remove_file(filler(i))
            .unwrap_or_else(|e| panic!("removing {}: {e}", filler(i).display()));
    }
    n
}

/// `fusermount -u dir`, retried for up to 10 s while the file system is busy.
fn fusermount_u(dir: &Path) -> bool {
    for _ in 0..100 {
        let st = Command::new("fusermount").arg("-u").arg(dir).status();
        if matches!(st, Ok(s) if s.success()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        if self.mounted {
            fusermount_u(&self.dir);
        }
    }
}
