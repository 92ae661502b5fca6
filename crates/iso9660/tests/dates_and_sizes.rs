//! Volume dates and GRUB's UUID (checked with `grub-probe -t fs_uuid`), and the real size
//! of EFI boot images when the catalog says 0 or 1 sectors.

mod common;

use common::*;
use iso9660::{Error, Iso, PlatformId, SizeSource};
use std::process::Command;

fn grub_probe_uuid(path: &std::path::Path) -> String {
    let out = Command::new("grub-probe")
        .args(["-t", "fs_uuid", "-d"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn grub_uuid_agrees_with_grub_probe() {
    for (name, path, bytes) in all_isos() {
        let iso = Iso::open(&bytes[..]).unwrap();
        let ours = iso.volume().modification().map(|d| d.grub_uuid());
        let ours = String::from_utf8(ours.unwrap().to_vec()).unwrap();
        assert_eq!(ours, grub_probe_uuid(&path), "{name}");
    }
}

#[test]
fn grub_uuid_comes_from_the_modification_date() {
    // A volume whose creation and modification dates differ.
    let iso = fixtures::scratch_path("dates.iso").unwrap();
    let src = fixtures::scratch_path("dates-src").unwrap();
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("a.txt"), b"a").unwrap();
    fixtures::xorriso([
        "-outdev",
        iso.to_str().unwrap(),
        "-volid",
        "DATES",
        "-volume_date",
        "c",
        "2020010203040506",
        "-volume_date",
        "m",
        "2021111213141516",
        "-map",
        src.to_str().unwrap(),
        "/",
    ])
    .unwrap();
    let bytes = std::fs::read(&iso).unwrap();
    let i = Iso::open(&bytes[..]).unwrap();
    let c = i.volume().creation().unwrap();
    let m = i.volume().modification().unwrap();
    assert_eq!(
        (c.year, c.month, c.day, c.hour, c.minute, c.second),
        (2020, 1, 2, 3, 4, 5)
    );
    assert_eq!((m.year, m.month, m.day), (2021, 11, 12));
    // (xorriso stores no hundredths.)
    assert_eq!(&m.grub_uuid(), b"2021-11-12-13-14-15-00");
    assert_eq!(grub_probe_uuid(&iso), "2021-11-12-13-14-15-00");
    std::fs::remove_file(&iso).unwrap();
    std::fs::remove_dir_all(&src).unwrap();
}

/// The bytes of `name` and the catalog offset of its first EFI entry.
fn efi_entry(name: &str) -> (Vec<u8>, usize, iso9660::BootEntry) {
    let (_, _, bytes) = all_isos().into_iter().find(|(n, _, _)| *n == name).unwrap();
    let mut iso = Iso::open(&bytes[..]).unwrap();
    let cat = iso.boot_catalog().unwrap().unwrap();
    let e = cat
        .entries(iso.reader())
        .map(Result::unwrap)
        .find(|e| e.platform == PlatformId::EFI)
        .unwrap();
    (bytes.clone(), e.offset as usize, e)
}

fn size_with_count(
    bytes: &mut [u8],
    entry_off: usize,
    count: u16,
) -> Result<iso9660::ImageSize, Error> {
    bytes[entry_off + 6..entry_off + 8].copy_from_slice(&count.to_le_bytes());
    let mut iso = Iso::open(&bytes[..]).unwrap();
    let cat = iso.boot_catalog().unwrap().unwrap();
    let e = cat
        .entries(iso.reader())
        .map(Result::unwrap)
        .find(|e| e.offset as usize == entry_off)
        .unwrap();
    assert_eq!(e.sector_count, count);
    iso.image_size(&e)
}

#[test]
fn efi_image_size_from_fat_boot_sector_or_directory_record() {
    for name in [
        "uefi-only",
        "bios-uefi-hybrid",
        "appended-esp",
        "ipxe",
        "memtest",
    ] {
        let (mut bytes, off, e) = efi_entry(name);
        let real = u64::from(e.sector_count) * 512;
        for count in [0u16, 1] {
            let s = size_with_count(&mut bytes, off, count).unwrap();
            assert_eq!(
                s,
                iso9660::ImageSize {
                    bytes: real,
                    source: SizeSource::FatBootSector
                },
                "{name} count {count}"
            );
        }
        // Without a FAT boot sector, the directory record that points at the image.
        let img = e.load_rba as usize * 2048;
        bytes[img + 510] = 0;
        let s = size_with_count(&mut bytes, off, 0);
        if name == "appended-esp" || name == "memtest" {
            // The image lies in an appended partition: no file points at it.
            assert_eq!(
                s.unwrap_err(),
                Error::UnknownImageSize {
                    offset: off as u64,
                    lba: e.load_rba
                },
                "{name}"
            );
        } else {
            let s = s.unwrap();
            assert_eq!(s.source, SizeSource::DirectoryRecord, "{name}");
            assert_eq!(s.bytes.div_ceil(512), real.div_ceil(512), "{name}");
        }
    }
}
