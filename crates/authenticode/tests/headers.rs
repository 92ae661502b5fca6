//! [`authenticode::signed_from_headers`] (what the index records per EFI loader, from the
//! loader's first 4 KiB) agrees with the whole-image reader [`PeImage::is_signed`] on
//! bootshelf's own loaders (unsigned, and signed with a fresh key), on Debian's
//! Microsoft-signed shim and MokManager and their unsigned builds, and says "not known"
//! rather than "unsigned" for what it cannot read.

use authenticode::sign;
use authenticode::{signed_from_headers, PeImage};

/// The answer from the first 4 KiB of `image` and 8-byte reads of its certificate table.
fn from_headers(image: &[u8]) -> Option<bool> {
    let head = &image[..image.len().min(4096)];
    signed_from_headers(head, image.len() as u64, |at, buf| {
        let at = usize::try_from(at).ok()?;
        buf.copy_from_slice(image.get(at..at + 8)?);
        Some(())
    })
}

#[test]
fn agrees_with_the_whole_image_reader_on_our_loaders() {
    let (key, cert) = sign::new_signing_key("bootshelf headers test", 1_700_000_000).unwrap();
    for loader in [
        loaders::UEFI_BOOTX64,
        loaders::UEFI_BOOTIA32,
        loaders::UEFI_BOOTAA64,
    ] {
        assert_eq!(from_headers(loader), Some(false));
        assert!(!PeImage::parse(loader).unwrap().is_signed());
        let signed = sign::sign(loader, &key, &cert).unwrap();
        assert_eq!(from_headers(&signed), Some(true));
        assert!(PeImage::parse(&signed).unwrap().is_signed());
    }
}

#[test]
fn agrees_with_the_whole_image_reader_on_debian_shim() {
    // Installed by `./x setup` (shim-signed, shim-helpers-amd64-signed, and the unsigned
    // builds beside them from shim-unsigned).
    for (path, signed) in [
        ("/usr/lib/shim/shimx64.efi.signed", true),
        ("/usr/lib/shim/mmx64.efi.signed", true),
        ("/usr/lib/shim/shimx64.efi", false),
        ("/usr/lib/shim/mmx64.efi", false),
    ] {
        let image = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(from_headers(&image), Some(signed), "{path}");
        assert_eq!(
            PeImage::parse(&image).unwrap().is_signed(),
            signed,
            "{path}"
        );
    }
}

#[test]
fn what_cannot_be_read_is_not_known_rather_than_unsigned() {
    let (key, cert) = sign::new_signing_key("bootshelf headers test", 1_700_000_000).unwrap();
    let signed = sign::sign(loaders::UEFI_BOOTX64, &key, &cert).unwrap();
    // Not a PE image at all.
    assert_eq!(from_headers(&[0u8; 4096]), None);
    assert_eq!(from_headers(b"MZ"), None);
    // Headers cut before the data directories.
    assert_eq!(
        signed_from_headers(&signed[..0x90], signed.len() as u64, |_, _| Some(())),
        None
    );
    // A certificate table past the end of the file (the file was cut).
    let cut = &signed[..signed.len() - 16];
    assert_eq!(from_headers(cut), None);
    // The entry cannot be read.
    assert_eq!(
        signed_from_headers(&signed[..4096], signed.len() as u64, |_, _| None),
        None
    );
    // A malformed entry header (length 0).
    let pe = PeImage::parse(&signed).unwrap();
    let (offset, _) = pe.certificate_table().unwrap();
    let mut bad = signed.clone();
    bad[offset as usize..offset as usize + 4].copy_from_slice(&0u32.to_le_bytes());
    assert_eq!(from_headers(&bad), None);
    // A well-formed entry of another type is no Authenticode signature.
    let mut other = signed.clone();
    other[offset as usize + 6..offset as usize + 8].copy_from_slice(&1u16.to_le_bytes());
    assert_eq!(from_headers(&other), Some(false));
    assert!(!PeImage::parse(&other).unwrap().is_signed());
}
