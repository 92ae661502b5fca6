//! Image files: sparse files of a given size, block devices over them, and byte ranges
//! cut out of them (a partition to hand to fsck or mtools, a region to compare).

use blockdev::FileDevice;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Create (or truncate) `path` as a sparse file of `bytes` bytes of zeros.
pub fn sparse(path: &Path, bytes: u64) {
    File::create(path)
        .and_then(|f| f.set_len(bytes))
        .unwrap_or_else(|e| panic!("creating {} ({bytes} bytes): {e}", path.display()));
}

/// A read-write block device with `sector_size`-byte sectors over the whole file.
pub fn open_device(path: &Path, sector_size: u32) -> FileDevice {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let len = f
        .metadata()
        .unwrap_or_else(|e| panic!("size of {}: {e}", path.display()))
        .len();
    FileDevice::new(f, sector_size, len)
}

/// Copy the image `from` to `to`, keeping holes (`cp --sparse=always`): a private,
/// writable copy of a stick image for one test or one boot.
pub fn copy_sparse(from: &Path, to: &Path) {
    crate::cmd::ok(
        std::process::Command::new("cp")
            .arg("--sparse=always")
            .arg(from)
            .arg(to),
    );
}

/// The `len` bytes at byte `offset` of `path`.
pub fn read_range(path: &Path, offset: u64, len: u64) -> Vec<u8> {
    let f = File::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut buf = vec![0u8; len as usize];
    f.read_exact_at(&mut buf, offset)
        .unwrap_or_else(|e| panic!("reading {len} bytes at {offset} of {}: {e}", path.display()));
    buf
}

/// Copy the `len` bytes at byte `offset` of `image` into a new file `out`, sparse where
/// the source is zero (a partition cut out of a mostly empty stick image stays small).
pub fn cut(image: &Path, offset: u64, len: u64, out: &Path) {
    let fail = |e: std::io::Error| -> ! {
        panic!(
            "cutting {len} bytes at {offset} of {} into {}: {e}",
            image.display(),
            out.display()
        )
    };
    let mut src = File::open(image).unwrap_or_else(|e| fail(e));
    src.seek(SeekFrom::Start(offset))
        .unwrap_or_else(|e| fail(e));
    let mut src = src.take(len);
    let mut dst = File::create(out).unwrap_or_else(|e| fail(e));
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = src.read(&mut buf).unwrap_or_else(|e| fail(e));
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            dst.seek(SeekFrom::Start(at)).unwrap_or_else(|e| fail(e));
            dst.write_all(&buf[..n]).unwrap_or_else(|e| fail(e));
        }
        at += n as u64;
    }
    if at != len {
        fail(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!("only {at} bytes there"),
        ));
    }
    dst.set_len(len).unwrap_or_else(|e| fail(e));
}

/// A new `kib` KiB FAT image at `img` as ISO makers make them: `mkfs.fat -C -F bits -s
/// cluster_sectors -n label`, then `files` (path, contents) copied in with mtools (`mmd`
/// for their folders, `mcopy`).
pub fn mtools_fat(
    img: &Path,
    bits: u32,
    kib: u32,
    cluster_sectors: u32,
    label: &str,
    files: &[(&str, &[u8])],
) {
    let _ = std::fs::remove_file(img);
    crate::cmd::ok(
        std::process::Command::new("mkfs.fat")
            .args(["-C", "-F", &bits.to_string()])
            .args(["-s", &cluster_sectors.to_string(), "-n", label])
            .arg(img)
            .arg(kib.to_string()),
    );
    let src = img.with_extension("src");
    for (path, data) in files {
        let parts: Vec<&str> = path.split('/').collect();
        let mut folder = String::new();
        for d in &parts[..parts.len() - 1] {
            folder.push('/');
            folder.push_str(d);
            // Already there after the first file in it: mmd's error is expected.
            let _ = std::process::Command::new("mmd")
                .arg("-i")
                .arg(img)
                .arg(format!("::{folder}"))
                .output();
        }
        std::fs::write(&src, data).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        crate::cmd::ok(
            std::process::Command::new("mcopy")
                .arg("-i")
                .arg(img)
                .arg(&src)
                .arg(format!("::/{path}")),
        );
    }
    let _ = std::fs::remove_file(&src);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_copies_the_range_and_keeps_zeros_sparse() {
        let t = crate::TempDir::new("testkit-cut");
        let img = t.path("img");
        sparse(&img, 8 << 20);
        let f = OpenOptions::new().write(true).open(&img).unwrap();
        f.write_all_at(b"hello", (3 << 20) + 7).unwrap();
        let out = t.path("part");
        cut(&img, 3 << 20, 2 << 20, &out);
        assert_eq!(std::fs::metadata(&out).unwrap().len(), 2 << 20);
        assert_eq!(read_range(&out, 7, 5), b"hello");
        assert_eq!(read_range(&out, 0, 7), vec![0u8; 7]);
    }
}
