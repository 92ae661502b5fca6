//! Fuzz the El Torito EFI boot image reader (crates/efi-image): hostile FAT images must
//! give errors, never panics or runaway loops, whether the loaders are listed, a path is
//! looked up (8.3 and long names), a folder is listed, a file's clusters are located or
//! a file is read (whole or a piece).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut fat) = efi_image::FatImage::open(data) else {
        return;
    };
    let _ = fat.loaders();
    let _ = fat.list(None, 64);
    for path in [
        "/EFI/BOOT/BOOTX64.EFI",
        "/EFI/BOOT/BOOTAA64.EFI",
        "\\EFI\\BOOT\\GRUB.CFG",
        "/loader/entries",
        "/loader/entries/01-archiso-x86_64-linux.conf",
        "/A/B/C/D/E",
    ] {
        if let Ok(f) = fat.find(path) {
            let mut buf = [0u8; 700];
            let _ = fat.read(&f, u64::from(f.size / 2), &mut buf[..(f.size / 2).min(700) as usize]);
            let _ = fat.extents(&f, u64::from(f.size) + 4096);
            if f.is_dir {
                let _ = fat.list(Some(&f), 64);
            }
        }
        let _ = fat.read_file(path, 1 << 20);
    }
});
