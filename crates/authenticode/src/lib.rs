//! PE/COFF Authenticode, the signature format UEFI Secure Boot checks (firmware db, shim's
//! MokList). One reading of a PE image for every user:
//!
//! * [`PeImage`] (no_std, no allocation): the fields Authenticode needs (checksum, the
//!   certificate table directory, the section table) read from untrusted bytes, the ranges
//!   the Authenticode digest covers ([`PeImage::digest_ranges`]), and the certificate
//!   table's entries ([`PeImage::certificates`]); [`PeImage::is_signed`] is what the index
//!   records per EFI loader (docs/index-format.md).
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
    Certificate, Certificates, PeError, PeImage, CERT_REVISION_2, CERT_TYPE_PKCS_SIGNED_DATA,
};
