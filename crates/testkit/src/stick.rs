//! Stick images made, changed and checked through the stick crate (feature `stick`): a
//! fresh installed image, `add` as the CLI does it, and the checks the stick and CLI
//! suites run after every command: the external checkers on the table, the ESP and the
//! data partition, and exfat-fuse (an independent exFAT) seeing the same files and bytes
//! as bootshelf's own reader and the index.

use crate::check;
use crate::cmd;
use crate::fuse::FuseMount;
use crate::loopdev::{self, LoopDev, LoopOptions};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use stick::index_io::{open_volume, IndexStore};
use stick::{InstallOptions, Layout, Scheme, Stick};

/// Make a GPT stick image of `bytes` with `sector_size`-byte sectors at `path`, through
/// the library (placeholder boot code: no loaders are built).
pub fn new_stick(path: &Path, bytes: u64, sector_size: u32) {
    let opts = InstallOptions {
        create_size: Some(bytes),
        image_sector_size: Some(sector_size),
        ..InstallOptions::default()
    };
    stick::install(path, &opts, &stick::BootCode::placeholder())
        .unwrap_or_else(|e| panic!("installing {}: {e}", path.display()));
}

/// The layout of the stick image `img`.
pub fn layout(img: &Path) -> Layout {
    let s = Stick::open(img, false).unwrap_or_else(|e| panic!("opening {}: {e}", img.display()));
    *s.layout()
}

/// SHA-256 of a file, lower-case hex.
pub fn sha256_file(p: &Path) -> String {
    let mut f = std::fs::File::open(p).unwrap_or_else(|e| panic!("opening {}: {e}", p.display()));
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Byte start and length of the data partition, and the sector size.
pub fn data_partition(img: &Path) -> (u64, u64, u32) {
    let l = layout(img);
    (
        l.data.byte_start(l.sector_size),
        l.data.byte_len(l.sector_size),
        l.sector_size,
    )
}

/// A loop device over the data partition of `img` (with the stick's sector size).
pub fn data_loop(img: &Path) -> LoopDev {
    attach_data(img).unwrap_or_else(|e| panic!("{e:#}"))
}

/// [`data_loop`] reporting failure (for the e2e library, whose helpers return errors).
pub fn attach_data(img: &Path) -> anyhow::Result<LoopDev> {
    let s = Stick::open(img, false)
        .map_err(|e| anyhow::anyhow!("opening the stick {}: {e}", img.display()))?;
    let l = s.layout();
    LoopDev::attach(
        img,
        LoopOptions {
            sector_size: Some(l.sector_size),
            ..LoopOptions::range(
                l.data.byte_start(l.sector_size),
                l.data.byte_len(l.sector_size),
            )
        },
    )
}

/// The data partition of `img` mounted with exfat-fuse at `dir`.
pub fn mount_data(img: &Path, dir: &Path, read_only: bool) -> FuseMount {
    FuseMount::exfat(data_loop(img), dir, read_only).unwrap_or_else(|e| panic!("{e:#}"))
}

/// The rest of the stick is untouched by the ISO commands: `sgdisk -v` (GPT) or
/// `sfdisk --verify` (MBR) on the table, `fsck.fat -n` on the ESP.
pub fn assert_table_and_esp_clean(img: &Path, when: &str) {
    let l = layout(img);
    let table = match l.scheme {
        Scheme::Gpt => check::sgdisk_verify(img),
        Scheme::Mbr => check::sfdisk_verify(img),
    };
    table.assert_clean(&format!("the partition table {when}"));
    let esp = LoopDev::attach(
        img,
        LoopOptions::range(
            l.esp.byte_start(l.sector_size),
            l.esp.byte_len(l.sector_size),
        ),
    )
    .unwrap_or_else(|e| panic!("{e:#}"));
    check::fsck_fat(esp.path()).assert_clean(&format!("fsck.fat -n on the ESP {when}"));
}

/// `fsck.exfat -n` on the data partition; panics with its output unless clean.
pub fn assert_fsck_clean(img: &Path, when: &str) {
    let lo = data_loop(img);
    check::fsck_exfat(lo.path()).assert_clean(&format!("fsck.exfat -n {when}"));
}

/// Every file under the exfat-fuse mount `root` (outside /bootshelf unless `all`),
/// path -> size.
pub fn fuse_files(root: &Path, all: bool) -> BTreeMap<String, u64> {
    fn walk(root: &Path, dir: &Path, all: bool, out: &mut BTreeMap<String, u64>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
        for e in entries {
            let e = e.unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
            let p = e.path();
            let rel = format!("/{}", p.strip_prefix(root).unwrap_or(&p).display());
            let meta = e
                .metadata()
                .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
            if meta.is_dir() {
                if all || !rel.eq_ignore_ascii_case("/bootshelf") {
                    walk(root, &p, all, out);
                }
            } else {
                out.insert(rel, meta.len());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, all, &mut out);
    out
}

/// The index as bootshelf reads it: path -> (size, SHA-256 hex, number of extents).
pub fn indexed(img: &Path) -> BTreeMap<String, (u64, Option<String>, usize)> {
    let mut s = Stick::open(img, false).unwrap_or_else(|e| panic!("{e}"));
    let mut vol = open_volume(&mut s).unwrap_or_else(|e| panic!("{e}"));
    let store = IndexStore::load(&mut vol).unwrap_or_else(|e| panic!("{e}"));
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

/// The checks run after every command: fsck.exfat clean, the table and the ESP clean; the
/// independent reader (exfat-fuse) sees the same ISO files as our reader, with the same
/// sizes; every indexed ISO is there with the size and (when recorded, or `expect` names
/// it) the SHA-256 of its source. `expect` maps stick paths to source files. Returns the
/// exfat-fuse listing.
pub fn assert_consistent(
    img: &Path,
    expect: &BTreeMap<String, PathBuf>,
    when: &str,
) -> BTreeMap<String, u64> {
    assert_fsck_clean(img, when);
    assert_table_and_esp_clean(img, when);
    let idx = indexed(img);
    let ours: BTreeMap<String, u64> = {
        let mut s = Stick::open(img, false).unwrap_or_else(|e| panic!("{e}"));
        let mut vol = open_volume(&mut s).unwrap_or_else(|e| panic!("{e}"));
        stick::index_io::find_iso_files(&mut vol)
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|(p, e)| (p, e.size))
            .collect()
    };
    let mnt = img.with_extension("mnt");
    let m = mount_data(img, &mnt, true);
    let fuse = fuse_files(m.dir(), false);
    let fuse_isos: BTreeMap<String, u64> = fuse
        .iter()
        .filter(|(p, _)| p.to_ascii_lowercase().ends_with(".iso"))
        .map(|(p, s)| (p.clone(), *s))
        .collect();
    assert_eq!(ours, fuse_isos, "our reader and exfat-fuse disagree {when}");
    for (path, (size, sha, _)) in &idx {
        let on = m.dir().join(path.trim_start_matches('/'));
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
    m.unmount()
        .unwrap_or_else(|e| panic!("unmounting exfat-fuse {when}: {e:#}"));
    fuse
}

/// `add` of one ISO through the library, as the CLI does it.
pub fn add_one(
    img: &Path,
    src: &Path,
    opts: &stick::add::AddOptions,
) -> Result<stick::add::Added, stick::index_io::OpError> {
    let mut s = Stick::open(img, true).unwrap_or_else(|e| panic!("{e}"));
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
    std::fs::copy(src, &p).unwrap_or_else(|e| panic!("copying {}: {e}", src.display()));
    if let Some(len) = len {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .and_then(|f| f.set_len(len))
            .unwrap_or_else(|e| panic!("extending {}: {e}", p.display()));
    }
    p
}

/// Check everything external tools can check on an installed stick image: the partition
/// table (sgdisk -v / sfdisk --verify, through a read-only loop device with the right
/// sector size when it is 4096), the exFAT (fsck.exfat -n, label), the ESP (fsck.fat -n,
/// label). Partitions are cut out into `dir`. Returns the ESP cut out, for mtools.
pub fn check_image(img: &Path, layout: &Layout, dir: &Path) -> PathBuf {
    let ss = layout.sector_size;
    // sgdisk/sfdisk take 512-byte sectors for image files, so a 4Kn image is checked
    // through a 4096-byte loop device (root only; otherwise said).
    let lp;
    let table_dev: Option<&Path> = if ss == 512 {
        Some(img)
    } else if loopdev::is_root() {
        lp = LoopDev::attach(
            img,
            LoopOptions {
                read_only: true,
                ..LoopOptions::sector_size(ss)
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        Some(lp.path())
    } else {
        None
    };
    match (table_dev, layout.scheme) {
        (None, _) => eprintln!("not checked: a 4096-byte sector table needs root for losetup"),
        (Some(dev), Scheme::Gpt) => check::sgdisk_verify(dev).assert_clean("sgdisk -v"),
        (Some(dev), Scheme::Mbr) => check::sfdisk_verify(dev).assert_clean("sfdisk --verify"),
    }
    let cut_out = |range: stick::SectorRange, name: &str| {
        let part = dir.join(name);
        crate::image::cut(img, range.byte_start(ss), range.byte_len(ss), &part);
        part
    };
    let data = cut_out(layout.data, "data.part");
    check::fsck_exfat(&data).assert_clean("fsck.exfat -n on the data partition");
    let label = cmd::ok(Command::new("exfatlabel").arg(&data));
    assert!(label.contains("BOOTSHELF"), "exfatlabel: {label}");
    let esp = cut_out(layout.esp, "esp.part");
    check::fsck_fat(&esp).assert_clean("fsck.fat -n on the ESP");
    let label = cmd::ok(Command::new("fatlabel").arg(&esp));
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
        .unwrap_or_else(|e| panic!("running mtype (mtools): {e}"));
    assert!(
        out.status.success(),
        "mtype {path}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `mdir -b` listing of a directory of a FAT image, as sorted upper-case names.
pub fn mdir(esp: &Path, path: &str) -> Vec<String> {
    let out = cmd::ok(
        Command::new("mdir")
            .env("MTOOLS_SKIP_CHECK", "1")
            .args(["-b", "-i"])
            .arg(esp)
            .arg(format!("::{path}")),
    );
    let mut v: Vec<String> = out
        .lines()
        .map(|l| l.trim().rsplit('/').next().unwrap_or("").to_uppercase())
        .filter(|l| !l.is_empty())
        .collect();
    v.sort();
    v
}
