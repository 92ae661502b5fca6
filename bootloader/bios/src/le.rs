//! Little-endian fields of byte buffers: the one reader and writer this crate and stage 2
//! use (the boot plan record, the BIOS's EDD and E820h replies, the INT 13h disk address
//! packet, the resident image's parameter block). Out-of-range offsets never panic.

/// The `N` bytes at `at`, or `None` when `b` ends before `at + N`.
fn field<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The u16 at byte `at`, or `None` when `b` is too short.
pub fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    field(b, at).map(u16::from_le_bytes)
}

/// The u32 at byte `at`, or `None` when `b` is too short.
pub fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    field(b, at).map(u32::from_le_bytes)
}

/// The u64 at byte `at`, or `None` when `b` is too short.
pub fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    field(b, at).map(u64::from_le_bytes)
}

/// Store `v` at byte `at`; `None` (and `b` unchanged) when `b` is too short.
fn put<const N: usize>(b: &mut [u8], at: usize, v: [u8; N]) -> Option<()> {
    b.get_mut(at..at.checked_add(N)?)?.copy_from_slice(&v);
    Some(())
}

/// Store u16 `v` at byte `at`; `None` (and `b` unchanged) when `b` is too short.
pub fn put_u16(b: &mut [u8], at: usize, v: u16) -> Option<()> {
    put(b, at, v.to_le_bytes())
}

/// Store u32 `v` at byte `at`; `None` (and `b` unchanged) when `b` is too short.
pub fn put_u32(b: &mut [u8], at: usize, v: u32) -> Option<()> {
    put(b, at, v.to_le_bytes())
}

/// Store u64 `v` at byte `at`; `None` (and `b` unchanged) when `b` is too short.
pub fn put_u64(b: &mut [u8], at: usize, v: u64) -> Option<()> {
    put(b, at, v.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_fields() {
        let b = [1, 2, 3, 4, 5, 6, 7, 8, 9];
        assert_eq!(u16_at(&b, 0), Some(0x0201));
        assert_eq!(u32_at(&b, 1), Some(0x0504_0302));
        assert_eq!(u64_at(&b, 1), Some(0x0908_0706_0504_0302));
    }

    #[test]
    fn short_buffers_and_huge_offsets_are_none() {
        let b = [0u8; 8];
        assert_eq!(u16_at(&b, 7), None);
        assert_eq!(u32_at(&b, 5), None);
        assert_eq!(u64_at(&b, 1), None);
        assert_eq!(u64_at(&b, usize::MAX), None);
        assert_eq!(u16_at(&[], 0), None);
    }

    #[test]
    fn writes_round_trip_and_refuse_out_of_range() {
        let mut b = [0u8; 8];
        assert_eq!(put_u16(&mut b, 0, 0xBEEF), Some(()));
        assert_eq!(put_u32(&mut b, 2, 0x1234_5678), Some(()));
        assert_eq!(b, [0xEF, 0xBE, 0x78, 0x56, 0x34, 0x12, 0, 0]);
        assert_eq!(u32_at(&b, 2), Some(0x1234_5678));
        assert_eq!(put_u64(&mut b, 0, u64::MAX), Some(()));
        assert_eq!(b, [0xFF; 8]);
        assert_eq!(put_u64(&mut b, 1, 0), None);
        assert_eq!(put_u16(&mut b, usize::MAX, 0), None);
        assert_eq!(b, [0xFF; 8]);
    }
}
