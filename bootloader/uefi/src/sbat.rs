//! The loader's `.sbat` section: the Secure Boot Advanced Targeting metadata that shim reads
//! before it starts a second stage (shim refuses a second stage without one). Each line is
//! `component,generation,vendor,package,version,url`; the first line names the SBAT format
//! itself. shim compares each component's generation with the revocation level stored in
//! the machine's `SbatLevel` variable, so bumping `bootshelf`'s generation here is how a
//! loader with a security hole would be revoked (docs/secure-boot.md).
//!
//! Also here, the other thing shim's PE loader needs of us: every section must have its
//! raw data after the headers. The linker gives a `.data` holding only zero-initialised
//! statics (the heap) no file data at all (PointerToRawData 0), which shim refuses
//! ("Section 2 is inside image headers"); [`DATA_HAS_FILE_BYTES`] makes `.data` carry at
//! least one initialised byte.

/// The section's bytes: CSV, one record per line, NUL-terminated as shim's parser expects.
const SBAT_CSV: &[u8] =
    b"sbat,1,SBAT Version,sbat,1,https://github.com/rhboot/shim/blob/main/SBAT.md\n\
bootshelf,1,bootshelf,bootshelf-uefi,0.1.0,https://github.com/bootshelf/bootshelf\n\0";

/// Placed in its own PE section named `.sbat` by the linker; `#[used]` keeps it although
/// nothing in the loader reads it.
#[used]
#[link_section = ".sbat"]
static SBAT: [u8; SBAT_CSV.len()] = {
    let mut out = [0u8; SBAT_CSV.len()];
    let mut i = 0;
    while i < SBAT_CSV.len() {
        out[i] = SBAT_CSV[i];
        i += 1;
    }
    out
};

/// One initialised writable byte, so that `.data` has file data (see the module docs).
/// Exported (`no_mangle`) so that the optimiser cannot turn it into a constant in `.rdata`.
#[used]
#[no_mangle]
static DATA_HAS_FILE_BYTES: core::sync::atomic::AtomicU8 = core::sync::atomic::AtomicU8::new(1);
