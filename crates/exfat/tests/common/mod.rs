//! Helpers shared by the integration tests: temp files, fsck.exfat, mkfs.exfat,
//! exfat-fuse mounts.
#![allow(dead_code)]

use blockdev::MemDevice;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A temp directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "exfat-test-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Run `fsck.exfat -n` on an image file; returns (clean, output).
pub fn fsck_file(path: &Path) -> (bool, String) {
    let out = Command::new("fsck.exfat")
        .arg("-n")
        .arg(path)
        .output()
        .expect("fsck.exfat runs (exfatprogs installed)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && text.contains("clean"), text)
}

/// Write the bytes of a volume (partition `start..start+len` bytes of `dev`) to a file
/// and fsck it; panics with fsck's output when it is not clean.
pub fn assert_fsck_clean(dev: &MemDevice, start: usize, len: usize, tag: &str) {
    let t = TempDir::new(tag);
    let p = t.path("vol.img");
    std::fs::write(&p, &dev.data[start..start + len]).unwrap();
    let (ok, text) = fsck_file(&p);
    if !ok {
        // Keep the image for a post-mortem.
        let keep = std::env::temp_dir().join(format!("exfat-fsck-failed-{tag}.img"));
        let _ = std::fs::copy(&p, &keep);
    }
    assert!(
        ok,
        "fsck.exfat -n not clean ({tag}), image kept in {}:\n{text}",
        std::env::temp_dir().display()
    );
}

/// A loop device over an image file, detached on drop.
pub struct Loop {
    pub dev: String,
}

impl Loop {
    pub fn new(image: &Path, sector_size: u32) -> Self {
        let out = Command::new("losetup")
            .args(["-f", "--show", "--sector-size", &sector_size.to_string()])
            .arg(image)
            .output()
            .expect("losetup runs");
        assert!(
            out.status.success(),
            "losetup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Loop {
            dev: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        }
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// An exfat-fuse mount of an image through a loop device (exfat-fuse run as root wants a
/// block device), unmounted on drop.
pub struct Mount {
    pub dir: PathBuf,
    _loop: Loop,
}

impl Mount {
    pub fn new(image: &Path, dir: &Path, sector_size: u32) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let lo = Loop::new(image, sector_size);
        let out = Command::new("mount.exfat-fuse")
            .arg(&lo.dev)
            .arg(dir)
            .output()
            .expect("mount.exfat-fuse runs");
        assert!(
            out.status.success(),
            "mount.exfat-fuse {image:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Mount {
            dir: dir.to_path_buf(),
            _loop: lo,
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        for _ in 0..50 {
            let st = Command::new("fusermount").arg("-u").arg(&self.dir).status();
            if matches!(st, Ok(s) if s.success()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// Make an exFAT image with mkfs.exfat (through a loop device, so the sector size is
/// `sector_size`).
pub fn mkfs_image(path: &Path, bytes: u64, sector_size: u32, extra: &[&str]) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(bytes).unwrap();
    drop(f);
    let lo = Loop::new(path, sector_size);
    let out = Command::new("mkfs.exfat")
        .args(extra)
        .arg(&lo.dev)
        .output()
        .expect("mkfs.exfat runs");
    assert!(
        out.status.success(),
        "mkfs.exfat: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
