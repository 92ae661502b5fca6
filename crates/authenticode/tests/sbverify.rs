//! Signs bootshelf's own UEFI loader with a fresh key and has `sbverify` (sbsigntool, an
//! independent Authenticode implementation on OpenSSL) check it against the certificate;
//! then checks our own [`authenticode::sign::verify`] agrees, also for a different key and
//! for a changed image.

use authenticode::sign::{self, Signed};
use authenticode::PeImage;
use std::process::Command;
use x509_cert::der::EncodePem;

fn sbverify(cert_pem: &str, image: &[u8]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let efi = dir.path().join("loader.efi");
    std::fs::write(&cert, cert_pem).unwrap();
    std::fs::write(&efi, image).unwrap();
    let out = Command::new("sbverify")
        .arg("--cert")
        .arg(&cert)
        .arg(&efi)
        .output()
        .expect("sbverify (Debian package sbsigntool, `./x setup`) runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

#[test]
fn signed_loader_passes_sbverify_and_our_verify() {
    let loader = loaders::UEFI_BOOTX64;
    assert!(!PeImage::parse(loader).unwrap().is_signed());
    let (key, cert) = sign::new_signing_key("bootshelf test key", 1_700_000_000).unwrap();
    let signed = sign::sign(loader, &key, &cert).unwrap();
    assert!(PeImage::parse(&signed).unwrap().is_signed());
    let pem = cert.to_pem(x509_cert::der::pem::LineEnding::LF).unwrap();

    let (ok, text) = sbverify(&pem, &signed);
    assert!(ok, "sbverify refused the signed loader: {text}");
    assert!(text.contains("Signature verification OK"), "{text}");
    assert_eq!(sign::verify(&signed, &cert).unwrap(), Signed::ByCertificate);

    // Re-signing replaces the signature instead of adding one.
    let again = sign::sign(&signed, &key, &cert).unwrap();
    assert_eq!(again.len(), signed.len());
    assert_eq!(PeImage::parse(&again).unwrap().certificates().count(), 1);

    // Another key: sbverify and verify both say no.
    let (_, other) = sign::new_signing_key("someone else", 1_700_000_000).unwrap();
    let other_pem = other.to_pem(x509_cert::der::pem::LineEnding::LF).unwrap();
    let (ok, text) = sbverify(&other_pem, &signed);
    assert!(!ok, "sbverify accepted a signature by another key: {text}");
    assert!(matches!(
        sign::verify(&signed, &other).unwrap(),
        Signed::Otherwise { .. }
    ));

    // A changed byte inside a section: the digest no longer matches.
    let mut changed = signed.clone();
    changed[0x500] ^= 1;
    let (ok, _) = sbverify(&pem, &changed);
    assert!(!ok);
    match sign::verify(&changed, &cert).unwrap() {
        Signed::Otherwise { reason, .. } => assert!(reason.contains("digest"), "{reason}"),
        v => panic!("changed image judged {v:?}"),
    }
    assert_eq!(sign::verify(loader, &cert).unwrap(), Signed::Unsigned);
}
