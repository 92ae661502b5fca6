//! An exfat-fuse mount: the independent exFAT implementation the suites compare bootshelf's
//! with, and the way "a file manager" copies files onto a stick. exfat-fuse run as root
//! wants a block device, so the mount owns the loop device it was made from.
//!
//! `fusermount -u` returns before the exfat-fuse daemon has finished writing back, so
//! detaching the loop device right after it can lose data. The daemon therefore runs in
//! the foreground (`-d`) as a child of the test, its output going to a log file next to
//! the mount point; unmounting (or dropping the mount) runs `fusermount -u` (retried while
//! the file system is busy), waits for the daemon to exit, detaches the loop device and,
//! for a writable mount, syncs the image file. A failing test leaves nothing mounted or
//! attached.

use crate::loopdev::LoopDev;
use anyhow::{anyhow, bail, Context, Result};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long exfat-fuse may take to mount, and to write back and exit after unmounting.
const DAEMON_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `fusermount -u` is retried while the file system is busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a mount, an exit or a busy file system is looked at again.
const POLL: Duration = Duration::from_millis(50);
/// How many lines of the daemon's log an error quotes.
const LOG_TAIL_LINES: usize = 20;

/// A mounted exFAT file system; [`FuseMount::unmount`] unmounts it and reports failures,
/// dropping it does the same silently.
#[derive(Debug)]
pub struct FuseMount {
    dir: PathBuf,
    /// The mount point was made by [`FuseMount::exfat`] (and is removed again).
    made_dir: bool,
    /// The daemon's output (`-d`: every FUSE request), quoted in errors.
    log: PathBuf,
    read_only: bool,
    /// The mount has appeared (else releasing just stops the daemon).
    mounted: bool,
    /// `mount.exfat-fuse -d`, until it has exited.
    daemon: Option<Child>,
    /// Detached once the daemon has exited.
    device: Option<LoopDev>,
}

impl FuseMount {
    /// `mount.exfat-fuse -d [-o ro] device dir` in the background, creating `dir` if
    /// needed; returns once the file system is mounted at `dir`.
    pub fn exfat(device: LoopDev, dir: &Path, read_only: bool) -> Result<FuseMount> {
        let made_dir = !dir.exists();
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let unmounted_dev = std::fs::metadata(dir)
            .with_context(|| format!("stat {}", dir.display()))?
            .dev();
        let log = log_path(dir);
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new("mount.exfat-fuse");
        cmd.arg("-d");
        if read_only {
            cmd.args(["-o", "ro"]);
        }
        cmd.arg(device.path())
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().context("duplicating the log file")?)
            .stderr(log_file);
        let daemon = cmd
            .spawn()
            .with_context(|| format!("starting {cmd:?} (is exfat-fuse installed?)"))?;
        // From here on, dropping `mount` undoes whatever was done.
        let mut mount = FuseMount {
            dir: dir.to_path_buf(),
            made_dir,
            log,
            read_only,
            mounted: false,
            daemon: Some(daemon),
            device: Some(device),
        };
        let deadline = Instant::now() + DAEMON_TIMEOUT;
        loop {
            if std::fs::metadata(dir).is_ok_and(|m| m.dev() != unmounted_dev) {
                mount.mounted = true;
                return Ok(mount);
            }
            let exited = mount
                .daemon
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                bail!(
                    "{cmd:?} exited ({status}) before mounting:\n{}",
                    mount.log_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "{cmd:?} did not mount within {DAEMON_TIMEOUT:?}:\n{}",
                    mount.log_tail()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Unmount, wait for exfat-fuse to finish writing back and exit, detach the loop
    /// device and sync the image file, reporting the first failure (every step is
    /// tried). Dropping the mount does the same silently.
    pub fn unmount(mut self) -> Result<()> {
        self.release()
    }

    /// The last lines of the daemon's log.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }

    /// Undo the mount: unmount (lazily when `fusermount -u` keeps failing, so nothing
    /// stays mounted), wait for the daemon, detach, sync. Returns the first failure.
    fn release(&mut self) -> Result<()> {
        let mut first: Option<anyhow::Error> = None;
        let mut note = |r: Result<()>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        if let Some(mut daemon) = self.daemon.take() {
            if self.mounted {
                let running = daemon.try_wait().ok().flatten().is_none();
                let unmounted = if running {
                    fusermount_u(&self.dir, &mut daemon)
                } else {
                    // It died while mounted: only a dead mount point is left to undo.
                    Err(anyhow!(
                        "mount.exfat-fuse exited while {} was mounted",
                        self.dir.display()
                    ))
                };
                if unmounted.is_err() {
                    let _ = Command::new("fusermount")
                        .arg("-uz")
                        .arg(&self.dir)
                        .output();
                }
                note(unmounted);
                note(
                    wait_for_exit(&mut daemon)
                        .map_err(|e| anyhow!("mount.exfat-fuse: {e}\n{}", self.log_tail())),
                );
            } else {
                // It never mounted: nothing to write back.
                let _ = daemon.kill();
                let _ = daemon.wait();
            }
        }
        if let Some(device) = self.device.take() {
            let file = device.file().to_path_buf();
            note(device.detach());
            if self.mounted && !self.read_only {
                note(
                    std::fs::File::open(&file)
                        .and_then(|f| f.sync_all())
                        .with_context(|| format!("syncing {}", file.display())),
                );
            }
        }
        let _ = std::fs::remove_file(&self.log);
        if self.made_dir {
            let _ = std::fs::remove_dir(&self.dir);
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

/// Where the daemon's output goes: `DIR.fuse.log` beside the mount point `DIR`.
fn log_path(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".fuse.log");
    dir.parent().unwrap_or(Path::new("")).join(name)
}

/// `fusermount -u dir`, retried for up to [`BUSY_TIMEOUT`] while the file system is busy
/// (and `daemon` still runs).
fn fusermount_u(dir: &Path, daemon: &mut Child) -> Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        let out = Command::new("fusermount")
            .arg("-u")
            .arg(dir)
            .output()
            .context("running fusermount -u")?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let busy = stderr.contains("busy");
        if !busy || Instant::now() > deadline || daemon.try_wait().ok().flatten().is_some() {
            bail!("fusermount -u {} failed: {}", dir.display(), stderr.trim());
        }
        std::thread::sleep(POLL);
    }
}

/// Wait for the unmounted daemon to exit by itself; kill it after [`DAEMON_TIMEOUT`] (an
/// error: what it had not written yet is lost) or report an unsuccessful exit.
fn wait_for_exit(daemon: &mut Child) -> Result<()> {
    let deadline = Instant::now() + DAEMON_TIMEOUT;
    loop {
        if let Some(status) = daemon.try_wait()? {
            if status.success() {
                return Ok(());
            }
            bail!("exited with {status}");
        }
        if Instant::now() > deadline {
            let _ = daemon.kill();
            let _ = daemon.wait();
            bail!("still running {DAEMON_TIMEOUT:?} after unmounting; killed");
        }
        std::thread::sleep(POLL);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loopdev::LoopOptions;
    use crate::{check, cmd, image, rng, TempDir};

    /// A scratch directory holding a fresh 32 MiB exFAT image file `x.img`.
    fn exfat_image(tag: &str) -> (TempDir, PathBuf) {
        let t = TempDir::new(tag);
        let img = t.path("x.img");
        image::sparse(&img, 32 << 20);
        cmd::ok(Command::new("mkfs.exfat").arg(&img));
        (t, img)
    }

    fn mount(img: &Path, dir: &Path, read_only: bool) -> FuseMount {
        let lo = LoopDev::attach(img, LoopOptions::default()).unwrap();
        FuseMount::exfat(lo, dir, read_only).unwrap()
    }

    /// The loop devices still attached to `img` (`losetup -j`).
    fn attached(img: &Path) -> String {
        cmd::ok(Command::new("losetup").arg("-j").arg(img))
    }

    /// The mount of `img` at `dir` is gone; the image is clean and holds `bytes` at
    /// `file` (read through a new, read-only mount).
    fn assert_released_with(img: &Path, dir: &Path, file: &str, bytes: &[u8], when: &str) {
        assert_eq!(attached(img), "", "a loop device is left {when}");
        check::fsck_exfat(img).assert_clean(when);
        let m = mount(img, dir, true);
        assert_eq!(std::fs::read(m.dir().join(file)).unwrap(), bytes, "{when}");
        assert!(std::fs::write(m.dir().join("other"), b"x").is_err(), "ro");
        m.unmount().unwrap();
    }

    /// What was written is in the image once `unmount` returns, although the loop device
    /// is detached right away: it waited for exfat-fuse to write back.
    #[test]
    fn unmount_leaves_everything_written_in_the_image_and_nothing_attached() {
        let (t, img) = exfat_image("fuse-unmount");
        let bytes = rng::pattern(3 << 20, 1);
        let m = mount(&img, &t.path("mnt"), false);
        std::fs::create_dir(m.dir().join("dir")).unwrap();
        std::fs::write(m.dir().join("dir/file.bin"), &bytes).unwrap();
        m.unmount().unwrap();
        assert!(!t.path("mnt").exists(), "the mount point it made is left");
        assert!(!t.path("mnt.fuse.log").exists(), "the log is left");
        assert_released_with(&img, &t.path("mnt"), "dir/file.bin", &bytes, "unmounted");
    }

    /// A mount dropped without `unmount` (a failing test) is undone the same way; a mount
    /// point it did not make stays.
    #[test]
    fn dropping_a_mount_unmounts_it_writes_back_and_detaches() {
        let (t, img) = exfat_image("fuse-drop");
        let bytes = rng::pattern(1 << 20, 2);
        let dir = t.path("mnt");
        std::fs::create_dir(&dir).unwrap();
        {
            let m = mount(&img, &dir, false);
            std::fs::write(m.dir().join("file.bin"), &bytes).unwrap();
        }
        assert!(
            std::fs::read_dir(&dir).unwrap().next().is_none(),
            "still mounted"
        );
        assert_released_with(&img, &dir, "file.bin", &bytes, "dropped");
    }

    /// exfat-fuse refusing the device is an error quoting what it said; nothing stays.
    #[test]
    fn a_device_without_exfat_is_an_error_with_the_log_and_leaves_nothing() {
        let t = TempDir::new("fuse-refused");
        let img = t.path("zero.img");
        image::sparse(&img, 8 << 20);
        let lo = LoopDev::attach(&img, LoopOptions::default()).unwrap();
        let err = FuseMount::exfat(lo, &t.path("mnt"), false).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("before mounting"), "{msg}");
        assert!(msg.to_lowercase().contains("exfat"), "{msg}");
        assert_eq!(attached(&img), "");
        assert!(!t.path("mnt").exists());
    }
}
