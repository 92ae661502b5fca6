//! Fuzz the whole ISO 9660 / El Torito reader: descriptors, Rock Ridge detection, every
//! boot entry and its image size, the system area (MBR, GPT entries), hints, lookups
//! and a full tree walk. Any panic, hang or huge allocation is a bug.
//!
//! Input layout: the first byte selects how the rest becomes an image. Even: the rest
//! starts at sector 16 (after a zero system area), so mutations hit the volume
//! descriptors, directories and catalog. Odd: the rest is the image from byte 0 (MBR,
//! GPT and system area included).
#![no_main]

use iso9660::{Iso, Namespace};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let image: Vec<u8> = if mode & 1 == 0 {
        let mut v = vec![0u8; 16 * 2048];
        v.extend_from_slice(rest);
        v
    } else {
        rest.to_vec()
    };
    exercise(&image);
});

fn exercise(image: &[u8]) {
    let Ok(mut iso) = Iso::open(image) else {
        return;
    };
    let _ = iso.volume().label();
    let _ = iso.volume().creation().map(|d| d.grub_uuid());
    if let Ok(h) = iso.hybrid() {
        if let Some(gpt) = h.gpt {
            let _ = gpt.partitions(iso.reader(), |_, _| {});
        }
    }
    if let Ok(Some(cat)) = iso.boot_catalog() {
        let mut entries = Vec::new();
        for e in cat.entries(iso.reader()) {
            match e {
                Ok(e) => entries.push(e),
                Err(_) => break,
            }
        }
        for e in &entries {
            let _ = iso.image_size(e);
        }
    }
    let _ = iso.hints();
    for ns in [Namespace::Plain, Namespace::Joliet, Namespace::RockRidge] {
        for path in ["/EFI/BOOT/BOOTX64.EFI", "/boot/grub/grub.cfg", "/a/b/c/d"] {
            if let Ok(e) = iso.lookup_in(ns, path) {
                let mut buf = [0u8; 64];
                let n = (e.size as usize).min(buf.len());
                let _ = iso.read_file(&e, 0, &mut buf[..n]);
            }
        }
        if let Some(root) = iso.root(ns) {
            let _ = iso9660::dir::find(iso.reader(), root, |_| false);
        }
    }
}
