//! Helpers shared by the install tests (included with `#[path]`; as a test crate of its
//! own it has no tests): external checkers run on partitions cut out of an image, and a
//! loop-device guard that always detaches.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use stick::{Layout, Scheme};

/// Run a command, returning (success, stdout + stderr).
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Run a command that must succeed; returns its output.
pub fn ok(cmd: &mut Command) -> String {
    let (good, text) = run(cmd);
    assert!(good, "{cmd:?} failed:\n{text}");
    text
}

/// Copy `len` bytes from byte `offset` of `img` into a new sparse file `out`.
pub fn cut(img: &Path, offset: u64, len: u64, out: &Path) {
    ok(Command::new("dd")
        .arg(format!("if={}", img.display()))
        .arg(format!("of={}", out.display()))
        .args([
            "bs=1M",
            "iflag=skip_bytes,count_bytes",
            "conv=sparse",
            "status=none",
        ])
        .arg(format!("skip={offset}"))
        .arg(format!("count={len}")));
}

/// A loop device attached to a file, detached on drop.
pub struct Loop {
    /// /dev/loopN.
    pub dev: PathBuf,
}

impl Loop {
    /// `losetup -f --show [--sector-size N] file`; `None` when loop devices are unusable
    /// here (not root).
    pub fn attach(file: &Path, sector_size: u32, read_only: bool) -> Option<Loop> {
        if !nix_is_root() {
            return None;
        }
        let mut c = Command::new("losetup");
        c.args(["-f", "--show", "--sector-size", &sector_size.to_string()]);
        if read_only {
            c.arg("-r");
        }
        let (good, text) = run(c.arg(file));
        assert!(good, "losetup failed: {text}");
        Some(Loop {
            dev: PathBuf::from(text.trim()),
        })
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.dev).status();
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Check everything external tools can check on a stick image: the partition table
/// (sgdisk -v / sfdisk --verify, through a loop device with the right sector size when
/// it is 4096), the exFAT (fsck.exfat -n, label), the ESP (fsck.fat -n). Returns the ESP
/// cut out as a file, for mtools.
pub fn check_image(img: &Path, layout: &Layout, dir: &Path) -> PathBuf {
    let ss = layout.sector_size;
    // Partition table. sgdisk/sfdisk take 512-byte sectors for image files, so a 4Kn
    // image is checked through a 4096-byte loop device (root only; otherwise said).
    let lp;
    let table_dev: Option<&Path> = if ss == 512 {
        Some(img)
    } else {
        lp = Loop::attach(img, ss, true);
        lp.as_ref().map(|l| l.dev.as_path())
    };
    match (table_dev, layout.scheme) {
        (None, _) => eprintln!("not checked: a 4096-byte sector table needs root for losetup"),
        (Some(dev), Scheme::Gpt) => {
            let out = ok(Command::new("sgdisk").arg("-v").arg(dev));
            assert!(out.contains("No problems found"), "sgdisk -v:\n{out}");
        }
        (Some(dev), Scheme::Mbr) => {
            ok(Command::new("sfdisk").arg("--verify").arg(dev));
        }
    }
    // Data partition.
    let data = dir.join("data.part");
    cut(
        img,
        layout.data.byte_start(ss),
        layout.data.byte_len(ss),
        &data,
    );
    ok(Command::new("fsck.exfat").arg("-n").arg(&data));
    let label = ok(Command::new("exfatlabel").arg(&data));
    assert!(label.contains("BOOTSHELF"), "exfatlabel: {label}");
    // ESP.
    let esp = dir.join("esp.part");
    cut(
        img,
        layout.esp.byte_start(ss),
        layout.esp.byte_len(ss),
        &esp,
    );
    ok(Command::new("fsck.fat").arg("-n").arg(&esp));
    let label = ok(Command::new("fatlabel").arg(&esp));
    assert_eq!(label.trim(), "BSHELF-EFI", "fatlabel");
    esp
}

/// `mtype` a file out of a FAT image (mtools reads the file system itself).
pub fn mtype(esp: &Path, path: &str) -> Vec<u8> {
    let out = Command::new("mtype")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-i")
        .arg(esp)
        .arg(format!("::{path}"))
        .output()
        .expect("run mtype");
    assert!(
        out.status.success(),
        "mtype {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `mdir -b` listing of a directory of a FAT image, as upper-case names.
pub fn mdir(esp: &Path, path: &str) -> Vec<String> {
    let out = ok(Command::new("mdir")
        .env("MTOOLS_SKIP_CHECK", "1")
        .args(["-b", "-i"])
        .arg(esp)
        .arg(format!("::{path}")));
    let mut v: Vec<String> = out
        .lines()
        .map(|l| l.trim().rsplit('/').next().unwrap_or("").to_uppercase())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}

/// The bytes of a range of a file (to compare a partition before and after).
pub fn read_range(img: &Path, offset: u64, len: u64) -> Vec<u8> {
    use std::os::unix::fs::FileExt;
    let f = std::fs::File::open(img).expect("open image");
    let mut buf = vec![0u8; len as usize];
    f.read_exact_at(&mut buf, offset).expect("read range");
    buf
}
