//! Helpers shared by the add/remove/sync/check/crash tests (included with `#[path]`):
//! fresh stick images, fsck.exfat on the data partition, an exfat-fuse mount as the
//! independent reader, and the invariant every test checks after every command.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use stick::index_io::{open_volume, IndexStore};
use stick::{InstallOptions, Stick};

/// A temp directory removed on drop (under target/fixtures/tmp, a real disk, not tmpfs).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = fixtures::scratch_path(&format!("stick-{tag}")).unwrap();
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

/// Make a stick image of `bytes` with `sector_size` sectors (GPT).
pub fn new_stick(path: &Path, bytes: u64, sector_size: u32) {
    let opts = InstallOptions {
        create_size: Some(bytes),
        image_sector_size: Some(sector_size),
        ..InstallOptions::default()
    };
    stick::install(path, &opts, &stick::BootCode::placeholder()).unwrap();
}

/// SHA-256 of a file, hex.
pub fn sha256_file(p: &Path) -> String {
    let mut f = std::fs::File::open(p).unwrap();
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).unwrap();
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Byte range of the data partition and the sector size.
pub fn data_partition(img: &Path) -> (u64, u64, u32) {
    let s = Stick::open(img, false).unwrap();
    let l = *s.layout();
    (
        l.data.byte_start(l.sector_size),
        l.data.byte_len(l.sector_size),
        l.sector_size,
    )
}

/// A loop device over the data partition of an image, detached on drop.
pub struct Loop {
    pub dev: String,
}

impl Loop {
    pub fn data_partition(img: &Path) -> Self {
        let (start, len, ss) = data_partition(img);
        let out = Command::new("losetup")
            .args([
                "-f",
                "--show",
                "--offset",
                &start.to_string(),
                "--sizelimit",
                &len.to_string(),
                "--sector-size",
                &ss.to_string(),
            ])
            .arg(img)
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

/// The rest of the stick is untouched by the ISO commands: `sgdisk -v` (GPT) or
/// `sfdisk --verify` (MBR) on the table, `fsck.fat -n` on the ESP.
pub fn assert_table_and_esp_clean(img: &Path, when: &str) {
    let s = Stick::open(img, false).unwrap();
    let l = *s.layout();
    drop(s);
    let (prog, args, ok_text): (&str, &[&str], &str) = match l.scheme {
        stick::Scheme::Gpt => ("sgdisk", &["-v"], "No problems found"),
        stick::Scheme::Mbr => ("sfdisk", &["--verify"], ""),
    };
    let out = Command::new(prog)
        .args(args)
        .arg(img)
        .output()
        .expect("gdisk/fdisk installed");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.contains(ok_text),
        "{prog} {args:?} {when}:\n{text}"
    );
    let (start, len) = (
        l.esp.byte_start(l.sector_size),
        l.esp.byte_len(l.sector_size),
    );
    let lo = Command::new("losetup")
        .args([
            "-f",
            "--show",
            "--offset",
            &start.to_string(),
            "--sizelimit",
            &len.to_string(),
        ])
        .arg(img)
        .output()
        .expect("losetup runs");
    assert!(lo.status.success(), "losetup: {lo:?}");
    let lo = Loop {
        dev: String::from_utf8_lossy(&lo.stdout).trim().to_string(),
    };
    let out = Command::new("fsck.fat")
        .arg("-n")
        .arg(&lo.dev)
        .output()
        .expect("dosfstools installed");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fsck.fat -n on the ESP {when}:\n{text}"
    );
}

/// `fsck.exfat -n` on the data partition; panics with its output unless clean.
pub fn assert_fsck_clean(img: &Path, when: &str) {
    let lo = Loop::data_partition(img);
    let out = Command::new("fsck.exfat")
        .arg("-n")
        .arg(&lo.dev)
        .output()
        .expect("fsck.exfat runs (exfatprogs)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("clean"),
        "fsck.exfat -n not clean {when}:\n{text}"
    );
}

/// An exfat-fuse mount of the data partition, unmounted on drop.
pub struct Mount {
    pub dir: PathBuf,
    _lo: Loop,
}

impl Mount {
    pub fn new(img: &Path, dir: &Path, read_only: bool) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let lo = Loop::data_partition(img);
        let mut cmd = Command::new("mount.exfat-fuse");
        if read_only {
            cmd.args(["-o", "ro"]);
        }
        let out = cmd
            .arg(&lo.dev)
            .arg(dir)
            .output()
            .expect("mount.exfat-fuse runs");
        assert!(
            out.status.success(),
            "mount.exfat-fuse: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Mount {
            dir: dir.to_path_buf(),
            _lo: lo,
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        for _ in 0..100 {
            let st = Command::new("fusermount").arg("-u").arg(&self.dir).status();
            if matches!(st, Ok(s) if s.success()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// Every file under the exfat-fuse mount (outside /bootshelf unless `all`), path -> size.
pub fn fuse_files(root: &Path, all: bool) -> BTreeMap<String, u64> {
    fn walk(root: &Path, dir: &Path, all: bool, out: &mut BTreeMap<String, u64>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = format!("/{}", p.strip_prefix(root).unwrap().display());
            if e.file_type().unwrap().is_dir() {
                if all || !rel.eq_ignore_ascii_case("/bootshelf") {
                    walk(root, &p, all, out);
                }
            } else {
                out.insert(rel, e.metadata().unwrap().len());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, all, &mut out);
    out
}

/// The index as our code reads it: path -> (size, sha256 hex, extents count).
pub fn indexed(img: &Path) -> BTreeMap<String, (u64, Option<String>, usize)> {
    let mut s = Stick::open(img, false).unwrap();
    let mut vol = open_volume(&mut s).unwrap();
    let store = IndexStore::load(&mut vol).unwrap();
    store
        .index()
        .isos
        .iter()
        .map(|e| {
            (
                e.path.clone(),
                (
                    e.size,
                    e.sha256.as_ref().map(stick::copy::hex),
                    e.extents.len(),
                ),
            )
        })
        .collect()
}

/// The checks run after every command: fsck.exfat clean, the table and the ESP clean; the independent reader (exfat-fuse)
/// sees the same files as our reader, with the same sizes; every indexed ISO is there
/// with the size and (when recorded, or `expect` names it) the SHA-256 of its source.
/// `expect` maps stick paths to source files. Returns the fuse listing.
pub fn assert_consistent(
    img: &Path,
    expect: &BTreeMap<String, PathBuf>,
    when: &str,
) -> BTreeMap<String, u64> {
    assert_fsck_clean(img, when);
    assert_table_and_esp_clean(img, when);
    let idx = indexed(img);
    let ours: BTreeMap<String, u64> = {
        let mut s = Stick::open(img, false).unwrap();
        let mut vol = open_volume(&mut s).unwrap();
        stick::index_io::find_iso_files(&mut vol)
            .unwrap()
            .into_iter()
            .map(|(p, e)| (p, e.size))
            .collect()
    };
    let mnt = img.with_extension("mnt");
    let m = Mount::new(img, &mnt, true);
    let fuse = fuse_files(&m.dir, false);
    let fuse_isos: BTreeMap<String, u64> = fuse
        .iter()
        .filter(|(p, _)| p.to_ascii_lowercase().ends_with(".iso"))
        .map(|(p, s)| (p.clone(), *s))
        .collect();
    assert_eq!(ours, fuse_isos, "our reader and exfat-fuse disagree {when}");
    for (path, (size, sha, _)) in &idx {
        let on = m.dir.join(path.trim_start_matches('/'));
        let meta = std::fs::metadata(&on).unwrap_or_else(|e| {
            panic!("indexed {path} not visible through exfat-fuse {when}: {e}")
        });
        assert_eq!(meta.len(), *size, "{path} size {when}");
        let want = expect.get(path).map(|src| sha256_file(src));
        let got = sha256_file(&on);
        if let Some(sha) = sha {
            assert_eq!(
                &got, sha,
                "{path}: bytes read by exfat-fuse differ from the index hash {when}"
            );
        }
        if let Some(w) = want {
            assert_eq!(
                got, w,
                "{path}: bytes on the stick differ from the source {when}"
            );
        }
    }
    drop(m);
    let _ = std::fs::remove_dir(&mnt);
    fuse
}

/// `add` through the library, as the CLI does it.
pub fn add_one(
    img: &Path,
    src: &Path,
    opts: &stick::add::AddOptions,
) -> Result<stick::add::Added, stick::index_io::OpError> {
    let mut s = Stick::open(img, true).unwrap();
    let mut vol = open_volume(&mut s)?;
    let mut store = IndexStore::load(&mut vol)?;
    let p = stick::add::prepare(&mut vol, src, opts)?;
    stick::add::check_space(&mut vol, std::slice::from_ref(&p))?;
    stick::add::add_prepared(&mut vol, &mut store, &p, opts, &mut |_| {})
}

/// A copy of `src` under `dir` named `name`, optionally extended with a sparse tail to
/// `len` bytes (still a valid ISO: the tail is past the volume).
pub fn iso_copy(src: &Path, dir: &Path, name: &str, len: Option<u64>) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(src, &p).unwrap();
    if let Some(len) = len {
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_len(len).unwrap();
    }
    p
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
