//! End-to-end tests: build sticks with bootshelf and boot them under QEMU. This library
//! holds what the test files share; the tests are in `tests/` (`uefi_*.rs` for the UEFI
//! loader, `bios_*.rs` for the BIOS loader).
//!
//! Sticks are made by the real `bootshelf` binary ([`bootshelf`] builds it once per test
//! process into the test's own target directory), ISOs are copied "as a file manager
//! would" through exfat-fuse ([`TestStick::copy_unindexed`], or any file operations on a
//! [`TestStick::mount_data`] mount), and boots run through
//! `qemu-harness` with the stick on USB storage in snapshot mode, so one stick image can
//! serve several boots at once.

use anyhow::{bail, Context, Result};
use qemu_harness::{Config, Drive, Qemu};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A scratch file removed when dropped (stick images of one test).
pub struct TempImage(pub PathBuf);

impl TempImage {
    /// The image's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The `bootshelf` binary of this source tree (built once per test process with the
/// running test's cargo, target directory and profile; see `testkit::cli`).
pub fn bootshelf() -> Result<&'static Path> {
    testkit::cli::bootshelf_path()
}

/// Run `bootshelf ARGS`; fail with its output when it fails.
pub fn run_bootshelf(args: &[&str]) -> Result<String> {
    // A failed build is an error here, not a panic in testkit::cli::run.
    bootshelf()?;
    let out = testkit::cli::run(args);
    if !out.success() {
        bail!(
            "bootshelf {args:?} failed ({}):
{}",
            out.status,
            out.text()
        );
    }
    Ok(out.stdout)
}

/// How to install a test stick.
#[derive(Clone, Copy, Debug)]
pub struct StickSpec {
    /// Image size in MiB.
    pub size_mib: u64,
    /// MBR instead of GPT.
    pub mbr: bool,
    /// Logical sector size: 512 or 4096.
    pub sector: u32,
}

impl Default for StickSpec {
    fn default() -> Self {
        StickSpec {
            size_mib: 128,
            mbr: false,
            sector: 512,
        }
    }
}

/// A stick image made by `bootshelf install`, removed when dropped.
pub struct TestStick {
    image: TempImage,
    spec: StickSpec,
}

impl TestStick {
    /// `bootshelf install` a fresh image.
    pub fn install(spec: StickSpec) -> Result<TestStick> {
        let image = TempImage(fixtures::scratch_path("e2e-stick.img")?);
        let img = image.path().to_str().context("non-UTF-8 scratch path")?;
        let size = format!("{}M", spec.size_mib);
        let sector = spec.sector.to_string();
        let mut args = vec![
            "install",
            "--yes",
            "--size",
            &size,
            "--sector-size",
            &sector,
        ];
        if spec.mbr {
            args.push("--mbr");
        }
        args.push(img);
        run_bootshelf(&args)?;
        Ok(TestStick { image, spec })
    }

    /// The image file.
    pub fn path(&self) -> &Path {
        self.image.path()
    }

    fn arg(&self) -> &str {
        self.image.path().to_str().unwrap_or_default()
    }

    /// `bootshelf add` (with `--title` when given).
    pub fn add(&self, iso: &Path, title: Option<&str>) -> Result<()> {
        let iso = iso.to_str().context("non-UTF-8 ISO path")?;
        let mut args = vec!["add", "--quiet"];
        if let Some(t) = title {
            args.extend(["--title", t]);
        }
        args.extend([self.arg(), iso]);
        run_bootshelf(&args).map(|_| ())
    }

    /// `bootshelf boot-next NAME`.
    pub fn boot_next(&self, name: &str) -> Result<()> {
        run_bootshelf(&["boot-next", self.arg(), name]).map(|_| ())
    }

    /// Copy `iso` to `/name` on the data partition as a file manager would: through
    /// another exFAT implementation (exfat-fuse on a loop device), without bootshelf and
    /// without the index. With `fragmented`, the copy is written in 1 MiB pieces
    /// interleaved with a filler file that is deleted afterwards, so the ISO ends up in
    /// many FAT-chained fragments.
    pub fn copy_unindexed(&self, iso: &Path, name: &str, fragmented: bool) -> Result<()> {
        let mount = self.mount_data()?;
        write_copy(iso, &mount.path().join(name), fragmented)?;
        mount.unmount()
    }

    /// Mount the data partition through exfat-fuse (on a loop device over the image), as
    /// a file manager's exFAT would see it. See [`DataMount`].
    pub fn mount_data(&self) -> Result<DataMount> {
        let (start, len) = {
            let s = stick::Stick::open(self.path(), false)
                .map_err(|e| anyhow::anyhow!("opening the stick: {e}"))?;
            let l = s.layout();
            (
                l.data.byte_start(l.sector_size),
                l.data.byte_len(l.sector_size),
            )
        };
        DataMount::mount(self.path(), start, len)
    }

    /// Extents of `/name` on the data partition, read with bootshelf's exFAT.
    pub fn extents_of(&self, name: &str) -> Result<Vec<blockdev::Extent>> {
        let mut s = stick::Stick::open(self.path(), false)
            .map_err(|e| anyhow::anyhow!("opening the stick: {e}"))?;
        let data = s.layout().data;
        let mut vol = exfat::Volume::open(s.device(), data.first_lba(), data.sectors())
            .map_err(|e| anyhow::anyhow!("opening exFAT: {e}"))?;
        let e = vol
            .stat(&format!("/{name}"))
            .map_err(|e| anyhow::anyhow!("stat /{name}: {e}"))?;
        vol.extents(&e)
            .map_err(|e| anyhow::anyhow!("extents of /{name}: {e}"))
    }

    /// A headless UEFI machine with this stick on USB storage (snapshot: the image never
    /// changes, so several machines may boot it at once).
    pub fn uefi_config(&self) -> Config {
        let mut d = Drive::usb(self.path()).snapshot(true);
        if self.spec.sector != 512 {
            d = d.sector_size(self.spec.sector);
        }
        Config::uefi().drive(d)
    }

    /// Boot it under OVMF and wait for bootshelf's menu.
    pub fn boot_uefi_to_menu(&self) -> Result<Qemu> {
        let mut q = Qemu::start(&self.uefi_config())?;
        q.wait_for("bootshelf: menu drawn", Duration::from_secs(90))?;
        Ok(q)
    }
}

/// A stick's data partition mounted through exfat-fuse: a loop device over the image's
/// data partition and a `mount.exfat-fuse` process kept in the foreground (`-d`), so that
/// unmounting can wait until it has written everything back. [`DataMount::unmount`]
/// unmounts, waits for exfat-fuse to exit, detaches the loop device and syncs the image,
/// reporting any failure; dropping a `DataMount` without it does the same on a best-effort
/// basis, so a failing test leaves nothing mounted or attached.
pub struct DataMount {
    image: PathBuf,
    dir: PathBuf,
    log: PathBuf,
    loop_dev: Option<String>,
    fuse: Option<Child>,
}

/// How long exfat-fuse may take to mount, and to write back and exit after `fusermount -u`.
const FUSE_TIMEOUT: Duration = Duration::from_secs(30);

impl DataMount {
    fn mount(image: &Path, start: u64, len: u64) -> Result<DataMount> {
        let dir = fixtures::scratch_path("e2e-mnt")?;
        let log = dir.with_extension("fuse.log");
        let out = fixtures::run(
            Command::new("losetup")
                .args(["-f", "--show", "--offset", &start.to_string()])
                .args(["--sizelimit", &len.to_string()])
                .arg(image),
        )?;
        let mut m = DataMount {
            image: image.to_path_buf(),
            dir,
            log,
            loop_dev: Some(String::from_utf8_lossy(&out.stdout).trim().to_string()),
            fuse: None,
        };
        // From here on, dropping `m` undoes whatever was done.
        std::fs::create_dir_all(&m.dir)?;
        let dev = m.loop_dev.clone().unwrap_or_default();
        let log_file = std::fs::File::create(&m.log)?;
        let child = Command::new("mount.exfat-fuse")
            .arg("-d")
            .arg(&dev)
            .arg(&m.dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .context("starting mount.exfat-fuse")?;
        m.fuse = Some(child);
        let parent = m.dir.parent().context("mount point has no parent")?;
        let parent_dev = std::fs::metadata(parent)?.dev();
        let deadline = Instant::now() + FUSE_TIMEOUT;
        loop {
            if std::fs::metadata(&m.dir).is_ok_and(|md| md.dev() != parent_dev) {
                return Ok(m);
            }
            if let Some(status) = m.fuse.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                bail!(
                    "mount.exfat-fuse {dev} exited ({status}) before mounting:\n{}",
                    m.log_tail()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "mount.exfat-fuse {dev} did not mount within {FUSE_TIMEOUT:?}:\n{}",
                    m.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The mount point: the data partition's root folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Unmount, wait for exfat-fuse to finish writing, detach the loop device and sync
    /// the image file.
    pub fn unmount(mut self) -> Result<()> {
        self.release(false)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Undo the mount; the first failure is returned, but every step is tried. With
    /// `lazy`, a busy mount point is detached lazily (used when dropped).
    fn release(&mut self, lazy: bool) -> Result<()> {
        let mut first: Option<anyhow::Error> = None;
        let mut note = |r: Result<()>| {
            if let Err(e) = r {
                first.get_or_insert(e);
            }
        };
        if let Some(mut child) = self.fuse.take() {
            if child.try_wait().ok().flatten().is_none() {
                let mut r =
                    fixtures::run(Command::new("fusermount").arg("-u").arg(&self.dir)).map(|_| ());
                if r.is_err() && lazy {
                    r = fixtures::run(Command::new("fusermount").arg("-uz").arg(&self.dir))
                        .map(|_| ());
                }
                note(r);
            }
            note(
                wait_child(&mut child, FUSE_TIMEOUT)
                    .map_err(|e| anyhow::anyhow!("mount.exfat-fuse: {e}\n{}", self.log_tail())),
            );
        }
        if let Some(dev) = self.loop_dev.take() {
            note(fixtures::run(Command::new("losetup").args(["-d", &dev])).map(|_| ()));
            note(fixtures::run(Command::new("sync").arg(&self.image)).map(|_| ()));
        }
        let _ = std::fs::remove_dir(&self.dir);
        let _ = std::fs::remove_file(&self.log);
        first.map_or(Ok(()), Err)
    }
}

impl Drop for DataMount {
    fn drop(&mut self) {
        let _ = self.release(true);
    }
}

/// Wait for `child` to exit by itself; kill it after `timeout` (an error: what it had
/// not written yet is lost) or when it exits unsuccessfully.
fn wait_child(child: &mut Child, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            if status.success() {
                return Ok(());
            }
            bail!("exited with {status}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("still running {timeout:?} after unmounting; killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn write_copy(src: &Path, dest: &Path, fragmented: bool) -> Result<()> {
    let mut input = std::fs::File::open(src).with_context(|| format!("{}", src.display()))?;
    let mut out = std::fs::File::create(dest).with_context(|| format!("{}", dest.display()))?;
    let filler_path = dest.with_extension("filler");
    let mut filler = if fragmented {
        Some(std::fs::File::create(&filler_path)?)
    } else {
        None
    };
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        if let Some(f) = filler.as_mut() {
            out.sync_data()?;
            f.write_all(&buf[..64 * 1024])?;
            f.sync_data()?;
        }
    }
    out.sync_all()?;
    drop(out);
    if filler.take().is_some() {
        std::fs::remove_file(&filler_path)?;
    }
    Ok(())
}

/// Choose the menu entry whose row contains `name` with Home, Down... and Enter over
/// serial, as a user at a terminal would.
pub fn select(q: &mut Qemu, name: &str) -> Result<()> {
    let rows = q.menu_entries();
    let Some(index) = rows.iter().position(|(_, t)| t.contains(name)) else {
        bail!("no menu entry contains {name:?}: {rows:?}");
    };
    let mut keys = b"\x1b[H".to_vec();
    for _ in 0..index {
        keys.extend_from_slice(b"\x1b[B");
    }
    keys.push(b'\r');
    q.send_serial(&keys)?;
    Ok(())
}

/// After choosing an entry: when the loader asks whether to boot without an ISO window
/// (a fragmented ISO cannot have one), answer Enter. Returns whether it asked.
pub fn confirm_without_window(q: &mut Qemu) -> Result<bool> {
    let i = q.wait_for_any(
        &["bootshelf: booting ", "no ISO window"],
        Duration::from_secs(20),
    )?;
    if i == 1 {
        q.send_serial(b"\r")?;
        return Ok(true);
    }
    Ok(false)
}
