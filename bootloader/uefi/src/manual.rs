//! Temporary discovery for bringing up the virtual CD before bootloader/core's discovery
//! exists: entries listed in `\bootshelf\entries.txt` on the ESP, one per line,
//! `title<TAB>size<TAB>start:len[,start:len...]` (device byte offsets).

use crate::Entry;
use alloc::string::String;
use alloc::vec::Vec;
use blockdev::Extent;
use uefi::boot;
use uefi::fs::FileSystem;

/// The entries of `\bootshelf\entries.txt`, or none.
pub fn entries() -> Vec<Entry> {
    let Ok(sfs) = boot::get_image_file_system(boot::image_handle()) else {
        return Vec::new();
    };
    let mut fs = FileSystem::new(sfs);
    let Ok(text) = fs.read(uefi::cstr16!("\\bootshelf\\entries.txt")) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&text);
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Entry> {
    let mut f = line.split('\t');
    let title = f.next()?.trim();
    let size = f.next()?.trim().parse().ok()?;
    let extents = f
        .next()?
        .split(',')
        .map(|e| {
            let (s, l) = e.trim().split_once(':')?;
            Some(Extent {
                start: s.parse().ok()?,
                len: l.parse().ok()?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Entry {
        title: title.into(),
        size,
        extents,
    })
}
