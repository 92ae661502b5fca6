//! The reader against FAT images made by the tools ISOs are made with (`mkfs.fat` and
//! mtools, as grub-mkrescue and xorriso recipes do): FAT12, FAT16 and FAT32, loaders and
//! files in several clusters, lower-case and long names, and a truncated image.

use efi_image::{ArchSet, EfiArch, Error, FatImage, FatType};
use std::path::Path;
use testkit::TempDir;

/// A pseudo-random payload of `len` bytes (so a misread cluster shows).
fn payload(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// `mkfs.fat -F <bits>` on a new `kib` KiB image holding `files` (path, contents).
fn fat_image(
    dir: &Path,
    bits: u32,
    kib: u32,
    cluster_sectors: u32,
    files: &[(&str, &[u8])],
) -> Vec<u8> {
    let img = dir.join(format!("fat{bits}.img"));
    testkit::image::mtools_fat(&img, bits, kib, cluster_sectors, "NO NAME", files);
    std::fs::read(&img).unwrap()
}

#[test]
fn lists_loaders_and_reads_files_on_fat12_16_32() {
    let tmp = TempDir::new("efi-image");
    let x64 = payload(70_000, 1);
    let aa64 = payload(5_000, 2);
    let cfg = payload(1_300, 3);
    let files: [(&str, &[u8]); 4] = [
        ("EFI/BOOT/BOOTX64.EFI", &x64),
        ("efi/boot/bootaa64.efi", &aa64),
        ("EFI/BOOT/grub.cfg", &cfg),
        ("EFI/BOOT/A LONG FILE NAME.TXT", b"long"),
    ];
    for (bits, kib, spc, want) in [
        (12, 1440, 1, FatType::Fat12),
        (16, 16 * 1024, 4, FatType::Fat16),
        (32, 40 * 1024, 1, FatType::Fat32),
    ] {
        let img = fat_image(tmp.dir(), bits, kib, spc, &files);
        let mut fat = FatImage::open(&img[..]).unwrap();
        assert_eq!(fat.fat_type(), want);
        let set = fat.loaders().unwrap();
        assert_eq!(
            set,
            ArchSet::from_bits(EfiArch::X64.bit() | EfiArch::Aa64.bit())
        );
        assert_eq!(
            fat.read_file("/EFI/BOOT/BOOTX64.EFI", 1 << 20).unwrap(),
            x64,
            "FAT{bits}"
        );
        assert_eq!(
            fat.read_file("\\efi\\boot\\BOOTAA64.EFI", 1 << 20).unwrap(),
            aa64
        );
        assert_eq!(fat.read_file("/EFI/BOOT/GRUB.CFG", 1 << 20).unwrap(), cfg);
        // A piece from the middle, across a cluster boundary.
        let f = fat.find("/EFI/BOOT/BOOTX64.EFI").unwrap();
        assert_eq!(f.size, 70_000);
        let mut buf = [0u8; 3000];
        fat.read(&f, 60_000, &mut buf).unwrap();
        assert_eq!(&buf[..], &x64[60_000..63_000]);
        assert!(fat.read(&f, 69_000, &mut buf).is_err());
        assert_eq!(fat.find("/EFI/BOOT/BOOTIA32.EFI"), Err(Error::NotFound));
        assert_eq!(fat.find("/EFI/BOOT/BOOTX64.EFI/X"), Err(Error::NotFound));
        assert_eq!(
            fat.read_file("/EFI/BOOT/BOOTX64.EFI", 1000),
            Err(Error::TooLarge {
                size: 70_000,
                max: 1000
            })
        );
        // Cut short: the loaders' directory entries are still there (or an I/O error),
        // reading the whole loader fails, nothing panics.
        let cut = &img[..img.len().min(20_000)];
        if let Ok(mut fat) = FatImage::open(cut) {
            let _ = fat.loaders();
            assert!(fat.read_file("/EFI/BOOT/BOOTX64.EFI", 1 << 20).is_err());
        }
    }
}

#[test]
fn an_image_without_efi_boot_serves_no_architecture() {
    let tmp = TempDir::new("efi-image-none");
    let img = fat_image(tmp.dir(), 12, 360, 1, &[("README.TXT", b"hello")]);
    assert_eq!(efi_image::loaders_of(&img[..]).unwrap(), ArchSet::EMPTY);
    // An empty BOOTIA32.EFI is no loader.
    let img = fat_image(tmp.dir(), 12, 360, 1, &[("EFI/BOOT/BOOTIA32.EFI", b"")]);
    assert_eq!(efi_image::loaders_of(&img[..]).unwrap(), ArchSet::EMPTY);
}

#[test]
fn long_names_listing_and_where_a_file_lies() {
    let tmp = TempDir::new("efi-image-long");
    let conf = payload(1_500, 4);
    for (bits, kib, spc) in [(12, 1440, 1), (32, 40 * 1024, 1)] {
        let img = fat_image(
            tmp.dir(),
            bits,
            kib,
            spc,
            &[
                ("loader/entries/01-archiso-x86_64-linux.conf", &conf),
                ("loader/entries/short.conf", b"x"),
                ("loader/entries/sub/a.txt", b"y"),
                ("loader/loader.conf", b"timeout 3\n"),
            ],
        );
        let mut fat = FatImage::open(&img[..]).unwrap();
        // A long name is found ignoring ASCII case; its 8.3 alias too.
        let f = fat
            .find("/LOADER/entries/01-ARCHISO-x86_64-linux.CONF")
            .unwrap();
        assert_eq!(f.size, 1_500);
        assert_eq!(fat.find("/loader/entries/01-ARC~1.CON").unwrap(), f);
        let dir = fat.find("/loader/entries").unwrap();
        let mut names: Vec<(String, bool)> = fat
            .list(Some(&dir), 64)
            .unwrap()
            .into_iter()
            .map(|l| (l.name, l.file.is_dir))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("01-archiso-x86_64-linux.conf".to_string(), false),
                ("short.conf".to_string(), false),
                ("sub".to_string(), true),
            ],
            "FAT{bits}"
        );
        assert_eq!(fat.list(Some(&dir), 1).unwrap().len(), 1);
        assert_eq!(fat.list(None, 64).unwrap()[0].name, "loader");
        // Where it lies: its clusters hold its bytes, its entry its size.
        let cb = fat.cluster_bytes();
        assert_eq!(cb, 512);
        let extents = fat.extents(&f, u64::from(f.size)).unwrap();
        assert_eq!(extents.iter().map(|e| e.1).sum::<u64>(), 1_536);
        let mut joined = Vec::new();
        for (at, len) in &extents {
            joined.extend_from_slice(&img[*at as usize..(*at + *len) as usize]);
        }
        assert_eq!(&joined[..1_500], &conf[..]);
        // Asking for more than the chain has gives what it has.
        assert_eq!(fat.extents(&f, 1 << 20).unwrap(), extents);
        let e = f.entry_offset as usize;
        assert_eq!(&img[e + 28..e + 32], &1_500u32.to_le_bytes());
        assert_eq!(&img[e..e + 11], b"01-ARC~1CON");
    }
}
