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
use std::path::{Path, PathBuf};
use std::time::Duration;
use testkit::fuse::FuseMount;

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

    /// `bootshelf add --force`: for ISOs `add` refuses (broken ones), to test the loaders'
    /// own guards.
    pub fn add_forced(&self, iso: &Path) -> Result<()> {
        let iso = iso.to_str().context("non-UTF-8 ISO path")?;
        run_bootshelf(&["add", "--quiet", "--force", self.arg(), iso]).map(|_| ())
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
        write_copy(iso, &mount.dir().join(name), fragmented)?;
        mount.unmount()
    }

    /// Mount the data partition through exfat-fuse (on a loop device over the image), as
    /// a file manager's exFAT would see it; [`FuseMount::unmount`] waits until exfat-fuse
    /// has written everything back.
    pub fn mount_data(&self) -> Result<FuseMount> {
        let device = testkit::stick::attach_data(self.path())?;
        FuseMount::exfat(device, &fixtures::scratch_path("e2e-mnt")?, false)
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

    /// A headless UEFI machine with Secure Boot on (OVMF with Microsoft's keys, SMM) and
    /// this stick on USB storage; with `enroll`, the tests' signing certificate is put into
    /// shim's MokList first (`boot-test --enroll`), as if enrolled in MokManager.
    pub fn secure_boot_config(&self, enroll: bool) -> Result<Config> {
        let mut cfg = Config::uefi_secure_boot();
        cfg.drives = self.uefi_config().drives;
        if enroll {
            cfg.enroll_mok = Some(test_cert_der()?);
        }
        Ok(cfg)
    }

    /// A headless UEFI machine of architecture `arch` (OVMF, OVMF IA32 or AAVMF) with this
    /// stick on USB storage (snapshot).
    pub fn uefi_arch_config(&self, arch: qemu_harness::Arch) -> Config {
        let mut cfg = self.uefi_config();
        let drives = std::mem::take(&mut cfg.drives);
        let mut cfg = Config::uefi_arch(arch);
        cfg.drives = drives;
        cfg
    }

    /// Boot it under OVMF and wait for bootshelf's menu.
    pub fn boot_uefi_to_menu(&self) -> Result<Qemu> {
        let mut q = Qemu::start(&self.uefi_config())?;
        q.wait_for("bootshelf: menu drawn", Duration::from_secs(90))?;
        Ok(q)
    }
}

/// The tests' Secure Boot signing certificate (made by the first `install`), in DER.
pub fn test_cert_der() -> Result<Vec<u8>> {
    let pem = testkit::cli::test_signing_cert()?;
    let cert = stick::secure_boot::UserKey::load_cert(&pem)
        .map_err(|e| anyhow::anyhow!("the tests' signing certificate: {e}"))?;
    stick::secure_boot::cert_der(&cert).map_err(|e| anyhow::anyhow!("{e}"))
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
///
/// If no row shows `name`, the bar is first moved over every row, which makes the loader
/// repaint each one, and the rows are read again: the firmware's mirror of the screen on
/// COM1 can lose a burst of bytes on a loaded machine (seen once in CI under OVMF: one row
/// missing, its neighbour's text run into it), and a user would just look again.
pub fn select(q: &mut Qemu, name: &str) -> Result<()> {
    let mut rows = q.menu_entries();
    if !rows.iter().any(|(_, t)| t.contains(name)) {
        let last = rows.iter().map(|(n, _)| *n).max().unwrap_or(0);
        let mut keys = b"\x1b[H".to_vec();
        for _ in 0..=last {
            keys.extend_from_slice(b"\x1b[B");
        }
        q.send_serial(&keys)?;
        wait_quiet(q, Duration::from_millis(400), Duration::from_secs(10));
        rows = q.menu_entries();
    }
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

/// Wait until the serial output has not grown for `quiet` (at most `limit`).
fn wait_quiet(q: &Qemu, quiet: Duration, limit: Duration) {
    let start = std::time::Instant::now();
    let mut len = q.serial_text().len();
    let mut since = std::time::Instant::now();
    while start.elapsed() < limit && since.elapsed() < quiet {
        std::thread::sleep(Duration::from_millis(50));
        let now = q.serial_text().len();
        if now != len {
            len = now;
            since = std::time::Instant::now();
        }
    }
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
