//! Fuzz the index decoder and slot selection: hostile bytes must give an error, never a
//! panic, and whatever decodes must survive a re-encode round trip. Each input is tried
//! as is and with its checksum patched to match, so the fuzzer gets past the CRC and
//! reaches the structural checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn check(data: &[u8]) {
    if let Ok(idx) = bootshelf_index::decode(data) {
        let again = bootshelf_index::encode(&idx).expect("a decoded index encodes");
        assert_eq!(bootshelf_index::decode(&again).expect("re-decodes"), idx);
    }
}

fuzz_target!(|data: &[u8]| {
    // Split the input into two slots to exercise selection as well.
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (a, b) = data.split_at(cut);
    let _ = bootshelf_index::select(Some(a), Some(b));
    check(data);
    if data.len() >= 64 {
        let mut m = data.to_vec();
        m[..8].copy_from_slice(&bootshelf_index::raw::MAGIC);
        m[8..10].copy_from_slice(&bootshelf_index::raw::VERSION.to_le_bytes());
        let total = (u32::from_le_bytes([m[24], m[25], m[26], m[27]]) as usize).min(m.len());
        m[12..16].fill(0);
        let crc = bootshelf_index::crc32::crc32(&m[..total]);
        m[12..16].copy_from_slice(&crc.to_le_bytes());
        check(&m);
    }
});
