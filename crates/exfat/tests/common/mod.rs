//! What the exFAT integration tests share (a module of each test crate, not a test crate
//! of its own): the tree of a volume as bootshelf's reader and as the host (exfat-fuse)
//! sees it, fsck.exfat on a volume in memory, exfat-fuse mounts and mkfs.exfat images.
//! Loop devices, mounts, fsck and the RNG come from `testkit`.
#![allow(dead_code)]

use blockdev::{BlockDevice, MemDevice};
use exfat::Volume;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use testkit::fuse::FuseMount;
use testkit::loopdev::{LoopDev, LoopOptions};
use testkit::TempDir;

/// A file tree: path -> bytes (directories map to `None`).
pub type Model = BTreeMap<String, Option<Vec<u8>>>;

/// Every file and directory under `rel` of the volume, read through bootshelf's exFAT.
pub fn tree<D: BlockDevice>(v: &mut Volume<D>, rel: &str, out: &mut Model) {
    let dir = if rel.is_empty() { "/" } else { rel };
    for e in v.read_dir(dir).unwrap() {
        let p = format!("{rel}/{}", e.name);
        if e.is_dir {
            out.insert(p.clone(), None);
            tree(v, &p, out);
        } else {
            let mut buf = vec![0u8; e.size as usize];
            v.read_at(&e, 0, &mut buf).unwrap();
            out.insert(p, Some(buf));
        }
    }
}

/// Every file and directory under `root/rel` on the host (an exfat-fuse mount).
pub fn host_tree(root: &Path, rel: &str, out: &mut Model) {
    for e in std::fs::read_dir(root.join(rel.trim_start_matches('/'))).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().into_string().unwrap();
        let p = format!("{rel}/{name}");
        if e.file_type().unwrap().is_dir() {
            out.insert(p.clone(), None);
            host_tree(root, &p, out);
        } else {
            out.insert(p, Some(std::fs::read(e.path()).unwrap()));
        }
    }
}

/// Write the bytes of a volume (partition `start..start+len` bytes of `dev`) to a file
/// and fsck it; panics with fsck's output when it is not clean.
pub fn assert_fsck_clean(dev: &MemDevice, start: usize, len: usize, tag: &str) {
    let t = TempDir::new(&format!("exfat-{tag}"));
    let p = t.path("vol.img");
    std::fs::write(&p, &dev.data[start..start + len]).unwrap();
    let fsck = testkit::check::fsck_exfat(&p);
    if !fsck.clean {
        // Keep the image for a post-mortem.
        let keep = std::env::temp_dir().join(format!("exfat-fsck-failed-{tag}.img"));
        let _ = std::fs::copy(&p, &keep);
    }
    assert!(
        fsck.clean,
        "fsck.exfat -n not clean ({tag}), image kept in {}:\n{}",
        std::env::temp_dir().display(),
        fsck.report
    );
}

/// An exfat-fuse mount of the exFAT image file `image` (a loop device with
/// `sector_size`-byte sectors underneath), unmounted on drop.
pub fn mount(image: &Path, dir: &Path, sector_size: u32) -> FuseMount {
    let lo = LoopDev::attach(image, LoopOptions::sector_size(sector_size)).unwrap();
    FuseMount::exfat(lo, dir, false).unwrap()
}

/// Make an exFAT image with mkfs.exfat (through a loop device, so the sector size is
/// `sector_size`).
pub fn mkfs_image(path: &Path, bytes: u64, sector_size: u32, extra: &[&str]) {
    testkit::image::sparse(path, bytes);
    let lo = LoopDev::attach(path, LoopOptions::sector_size(sector_size)).unwrap();
    testkit::cmd::ok(Command::new("mkfs.exfat").args(extra).arg(lo.path()));
}
