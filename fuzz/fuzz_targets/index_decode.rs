//! Fuzz the index decoder and slot selection: hostile bytes must give an error, never a
//! panic, and whatever decodes must survive a re-encode round trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Split the input into two slots to exercise selection as well.
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (a, b) = data.split_at(cut);
    let _ = bootshelf_index::select(Some(a), Some(b));
    if let Ok(idx) = bootshelf_index::decode(data) {
        let again = bootshelf_index::encode(&idx).expect("a decoded index encodes");
        assert_eq!(bootshelf_index::decode(&again).expect("re-decodes"), idx);
    }
});
