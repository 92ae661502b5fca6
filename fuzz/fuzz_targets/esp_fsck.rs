//! Fuzz the reading of an ESP that `bootshelf check` and `update` do on a stick:
//! `stick::esp::fsck` (our FAT file system check: boot sector, FAT copies, chains,
//! directories, sizes) and, when it reads the file system, fatfs reading the loader
//! (`esp::read_image_file`). Hostile bytes must give an error or findings, never a panic
//! or a hang.
//!
//! Input: first byte selects the mode. Even: the rest is a list of 4-byte patches (3-byte
//! offset into the first 2 MiB: boot sector, FATs, root directory and the first data
//! clusters; 1 byte value) applied to the ESP `install` makes (FAT16, 32 MiB, a loader and
//! the info file). Odd: the rest is an image in the sparse format of `bootshelf_fuzz`
//! (bit 1: 4096-byte sectors, else 512), at most 64 MiB.
#![no_main]

use blockdev::BlockDevice;
use bootshelf_fuzz::SparseDisk;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use stick::esp;

fn template() -> &'static Vec<u8> {
    static T: OnceLock<Vec<u8>> = OnceLock::new();
    T.get_or_init(|| {
        let loader: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        esp::build_image(
            512,
            (32 << 20) / 512,
            &[(esp::LOADER_PATH, &loader), (esp::INFO_PATH, b"fuzz")],
        )
        .expect("template ESP")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        let mut img = template().clone();
        for p in rest.chunks_exact(4) {
            let off = (usize::from(p[0]) | usize::from(p[1]) << 8 | usize::from(p[2]) << 16)
                % (2 << 20);
            img[off] = p[3];
        }
        exercise(img, rest.is_empty());
        return;
    }
    let ss = if mode & 2 != 0 { 4096 } else { 512 };
    let Some(mut d) = SparseDisk::parse(ss, rest) else {
        return;
    };
    let len = d.sector_count() * u64::from(ss);
    if len > 64 << 20 {
        return;
    }
    let mut img = vec![0u8; len as usize];
    if d.read_sectors(0, &mut img).is_ok() {
        exercise(img, false);
    }
});

fn exercise(mut img: Vec<u8>, pristine_template: bool) {
    let found = esp::fsck(&img);
    if pristine_template {
        assert_eq!(found.as_deref().ok(), Some(&[][..]), "the template is clean");
    }
    if found.is_ok() {
        let _ = esp::read_image_file(&mut img, esp::LOADER_PATH);
    }
}
