//! What a target holds before `install` erases it (docs/safety.md), in one line for the
//! confirmation prompt: a bootshelf stick with its ISOs (read through crates/shelf, as
//! `list` does), an ISO 9660 image with its label, a file system found by its signature,
//! a partition table with its partitions (ptable's description), else "N bytes of data".
//! Reads only; `None` when there is nothing to lose (an empty or all-zero image file).

use crate::layout::{detect_image_sector_size, read_layout_for_repair, Error, Result};
use blockdev::{BlockDevice, BlockReader, FileDevice};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// How many ISO names the description lists before "...".
const MAX_NAMED: usize = 8;

/// One line saying what `dev` holds, or `None` when it holds nothing: an image file of
/// length 0 or whose every byte is zero (holes are skipped with `SEEK_DATA`, so a sparse
/// image is checked quickly). A block device is not read through: when nothing is
/// recognised, its first and last MiB decide.
pub fn describe(dev: &mut FileDevice, path: &Path, whole_file: bool) -> Result<Option<String>> {
    let len = dev.sector_count() * u64::from(dev.sector_size());
    let file = dev.file().try_clone().map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let file_len = if whole_file {
        file.metadata()
            .map_err(|source| Error::Open {
                path: path.to_owned(),
                source,
            })?
            .len()
    } else {
        len
    };
    if file_len == 0 {
        return Ok(None);
    }
    // The sector size an image was made with (a 4Kn stick image), else the device's.
    let ss = if whole_file {
        detect_image_sector_size(dev)?.unwrap_or(dev.sector_size())
    } else {
        dev.sector_size()
    };
    let clone = file.try_clone().map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let mut view = FileDevice::new(clone, ss, file_len);
    if let Some(s) = describe_stick(&mut view, path) {
        return Ok(Some(s));
    }
    if let Ok(facts) = shelf::read_iso(BlockReader::new(&mut view)) {
        let label = if facts.label.is_empty() {
            "with no label".to_owned()
        } else {
            format!("labelled \"{}\"", facts.label)
        };
        return Ok(Some(format!(
            "an ISO 9660 image {label} ({})",
            crate::index_io::human(file_len)
        )));
    }
    let head = read_up_to(&file, 0, 64 << 10);
    if let Some(fs) = file_system(&head) {
        return Ok(Some(fs));
    }
    match ptable::Table::read(&mut view) {
        Ok(t) => return Ok(Some(t.describe())),
        Err(ptable::Error::MbrSignature { .. } | ptable::Error::DiskTooSmall { .. }) => {}
        Err(ptable::Error::Io { .. }) => {}
        Err(e) => {
            return Ok(Some(format!(
                "a partition table bootshelf cannot read ({e})"
            )))
        }
    }
    let data = if whole_file {
        has_data(&file)
    } else {
        let mib = 1u64 << 20;
        let tail = read_up_to(&file, file_len.saturating_sub(mib), mib);
        let head = read_up_to(&file, 0, mib);
        head.iter().chain(tail.iter()).any(|&b| b != 0)
    };
    Ok(data.then(|| {
        format!(
            "{file_len} bytes of data that bootshelf does not recognise (no stick, ISO, \
             file system or partition table)"
        )
    }))
}

/// "a bootshelf stick with 2 ISOs: "a.iso" (label "A"), ..." when `dev` holds one.
fn describe_stick(dev: &mut FileDevice, path: &Path) -> Option<String> {
    let (layout, damage) = read_layout_for_repair(dev, path).ok()?;
    let what = if damage.is_empty() {
        format!("a bootshelf stick ({})", layout.scheme)
    } else {
        // Still a stick with ISOs: say so, and that `update` repairs it without erasing.
        format!(
            "a bootshelf stick ({}) whose partition table `bootshelf update` can repair",
            layout.scheme
        )
    };
    let data = layout.data;
    let mut vol = match exfat::Volume::open(&mut *dev, data.first_lba(), data.sectors()) {
        Ok(v) => v,
        Err(e) => return Some(format!("{what} whose data partition cannot be read ({e})")),
    };
    let listing = match crate::list::list(&mut vol) {
        Ok(l) => l,
        Err(e) => return Some(format!("{what} whose ISOs cannot be listed ({e})")),
    };
    let n = listing.rows.len();
    if n == 0 {
        return Some(format!("{what} with no ISOs"));
    }
    let mut names: Vec<String> = listing
        .rows
        .iter()
        .take(MAX_NAMED)
        .map(|r| {
            if r.label.is_empty() {
                format!("\"{}\"", r.title)
            } else {
                format!("\"{}\" (label \"{}\")", r.title, r.label)
            }
        })
        .collect();
    if n > MAX_NAMED {
        names.push("...".into());
    }
    Some(format!(
        "{what} with {n} ISO{}: {}",
        if n == 1 { "" } else { "s" },
        names.join(", ")
    ))
}

/// Up to `len` bytes at `offset` (fewer at the end of the file or on a read error).
fn read_up_to(file: &File, offset: u64, len: u64) -> Vec<u8> {
    let mut buf = vec![0u8; len as usize];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    buf.truncate(got);
    buf
}

fn text(b: &[u8], at: usize, len: usize) -> Option<String> {
    let s = b.get(at..at + len)?;
    Some(
        String::from_utf8_lossy(s)
            .trim_matches(|c: char| c == '\0' || c.is_whitespace())
            .to_owned(),
    )
}

/// A file system (or swap, LUKS) starting at byte 0, by its signature.
fn file_system(b: &[u8]) -> Option<String> {
    let labelled = |kind: &str, label: Option<String>| match label.filter(|l| !l.is_empty()) {
        Some(l) if l != "NO NAME" => format!("{kind} labelled \"{l}\""),
        _ => kind.to_owned(),
    };
    if b.get(3..11) == Some(b"EXFAT   ") {
        return Some("an exFAT file system".into());
    }
    if b.get(3..11) == Some(b"NTFS    ") {
        return Some("an NTFS file system".into());
    }
    if b.get(0x52..0x5A) == Some(b"FAT32   ") {
        return Some(labelled("a FAT32 file system", text(b, 0x47, 11)));
    }
    if matches!(b.get(0x36..0x3B), Some(b"FAT12" | b"FAT16" | b"FAT  ")) {
        return Some(labelled("a FAT file system", text(b, 0x2B, 11)));
    }
    if b.get(1024 + 56..1024 + 58) == Some(&[0x53, 0xEF]) {
        return Some(labelled("an ext2/3/4 file system", text(b, 1024 + 120, 16)));
    }
    if b.get(0..4) == Some(b"XFSB") {
        return Some(labelled("an XFS file system", text(b, 108, 12)));
    }
    if b.get(0..6) == Some(b"LUKS\xba\xbe") {
        return Some("a LUKS encrypted volume".into());
    }
    if b.get(4086..4096) == Some(b"SWAPSPACE2") {
        return Some("a Linux swap area".into());
    }
    None
}

/// Whether an image file has a non-zero byte anywhere: only its data extents are read
/// (`SEEK_DATA`/`SEEK_HOLE`), stopping at the first non-zero byte.
fn has_data(file: &File) -> bool {
    use nix::unistd::{lseek, Whence};
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut at: u64 = 0;
    let mut buf = vec![0u8; 1 << 20];
    while at < len {
        let start = match lseek(file, at as i64, Whence::SeekData) {
            Ok(s) => s,
            // No data after `at`.
            Err(nix::errno::Errno::ENXIO) => return false,
            // No SEEK_DATA here: read the rest.
            Err(_) => return plain_scan(file, at, len, &mut buf),
        };
        let end = lseek(file, start, Whence::SeekHole)
            .map(|e| e as u64)
            .unwrap_or(len);
        if plain_scan(file, start as u64, end.min(len), &mut buf) {
            return true;
        }
        at = end.max(start as u64 + 1);
    }
    false
}

/// Whether bytes `from..to` of `file` hold a non-zero byte (a read error counts as data:
/// what cannot be read cannot be called empty).
fn plain_scan(file: &File, from: u64, to: u64, buf: &mut [u8]) -> bool {
    let mut at = from;
    while at < to {
        let n = (to - at).min(buf.len() as u64) as usize;
        match file.read_at(&mut buf[..n], at) {
            Ok(0) => return false,
            Ok(k) => {
                if buf[..k].iter().any(|&b| b != 0) {
                    return true;
                }
                at += k as u64;
            }
            Err(_) => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::file_system;

    #[test]
    fn file_systems_by_signature() {
        let mut b = vec![0u8; 8192];
        assert_eq!(file_system(&b), None);
        b[0x52..0x5A].copy_from_slice(b"FAT32   ");
        b[0x47..0x52].copy_from_slice(b"MYSTICK    ");
        assert_eq!(
            file_system(&b).as_deref(),
            Some("a FAT32 file system labelled \"MYSTICK\"")
        );
        let mut e = vec![0u8; 8192];
        e[1024 + 56] = 0x53;
        e[1024 + 57] = 0xEF;
        e[1024 + 120..1024 + 124].copy_from_slice(b"root");
        assert_eq!(
            file_system(&e).as_deref(),
            Some("an ext2/3/4 file system labelled \"root\"")
        );
    }
}
