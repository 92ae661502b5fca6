//! PE/COFF Authenticode, the signature format UEFI Secure Boot checks (firmware db, shim's
//! MokList). One reading of a PE image for every user:
//!
//! * [`PeImage`] (no_std, no allocation): the fields Authenticode needs (checksum, the
//!   certificate table directory, the section table) read from untrusted bytes, the ranges
//!   the Authenticode digest covers ([`PeImage::digest_ranges`]), and the certificate
//!   table's entries ([`PeImage::certificates`]), and [`PeImage::is_signed`];
//!   [`signed_from_headers`] answers the same question from a loader's first KiB and its
//!   certificate table's entry headers, which is what the index records per EFI loader
//!   (docs/index-format.md, boot entry byte 13).
//! * with the `sign` feature (std, RustCrypto): [`sign::sign`] signs an image with an RSA
//!   key and certificate the way `sbsign` does, and [`sign::verify`] checks that an image
//!   is signed by a given certificate (docs/secure-boot.md says which crates and why).
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(feature = "std")]
extern crate std;

mod pe;
#[cfg(feature = "sign")]
pub mod sign;

pub use pe::{
    signed_from_headers, Certificate, Certificates, PeError, PeImage, CERT_REVISION_2,
    CERT_TYPE_PKCS_SIGNED_DATA,
};
