//! Fuzz the PE/Authenticode reader (`authenticode::PeImage`), which reads EFI loaders from
//! ISOs and sticks: hostile bytes must give an error, never a panic; what parses must give
//! digest ranges inside the image (sections may overlap, as in any PE the firmware
//! hashes: at most the headers plus 96 sections, each at most the whole image) and a
//! certificate table that iterates to its end. The header-level reader the index uses
//! (`authenticode::signed_from_headers`) runs on the same bytes, read from their first
//! 4 KiB as `shelf::catalog` reads an ISO's loader, and must agree with the whole-image
//! reader whenever both give an answer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let from_headers = authenticode::signed_from_headers(
        &data[..data.len().min(4096)],
        data.len() as u64,
        |at, buf| {
            let at = usize::try_from(at).ok()?;
            buf.copy_from_slice(data.get(at..at.checked_add(8)?)?);
            Some(())
        },
    );
    let Ok(pe) = authenticode::PeImage::parse(data) else {
        return;
    };
    if let Some(signed) = from_headers {
        // The header-level reader stops at 16 entries and at the first malformed one
        // (then it says "not known"), so a "yes" or "no" it gives is the whole answer.
        assert_eq!(signed, pe.is_signed(), "header-level and whole-image readers disagree");
    }
    let mut total = 0usize;
    pe.digest_ranges(|r| total += r.len());
    assert!(total <= data.len() * 97, "digest ranges beyond headers + 96 sections");
    assert!(pe.data_end() <= data.len());
    let _ = pe.certificates().count();
    let _ = pe.is_signed();
});
