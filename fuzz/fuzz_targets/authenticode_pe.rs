//! Fuzz the PE/Authenticode reader (`authenticode::PeImage`), which reads EFI loaders from
//! ISOs and sticks: hostile bytes must give an error, never a panic; what parses must give
//! digest ranges inside the image (sections may overlap, as in any PE the firmware
//! hashes: at most the headers plus 96 sections, each at most the whole image) and a
//! certificate table that iterates to its end.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(pe) = authenticode::PeImage::parse(data) else {
        return;
    };
    let mut total = 0usize;
    pe.digest_ranges(|r| total += r.len());
    assert!(total <= data.len() * 97, "digest ranges beyond headers + 96 sections");
    assert!(pe.data_end() <= data.len());
    let _ = pe.certificates().count();
    let _ = pe.is_signed();
});
