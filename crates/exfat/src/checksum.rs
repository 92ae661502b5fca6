//! The three exFAT checksums: boot region, directory entry set, file name hash; plus the
//! up-case table checksum (same rotate-and-add as the boot checksum).

use crate::raw::boot;

/// One step of the 32-bit rotate-right-and-add checksum.
fn step32(sum: u32, byte: u8) -> u32 {
    sum.rotate_right(1).wrapping_add(u32::from(byte))
}

/// One step of the 16-bit rotate-right-and-add checksum.
fn step16(sum: u16, byte: u8) -> u16 {
    sum.rotate_right(1).wrapping_add(u16::from(byte))
}

/// Continue the boot checksum over one sector of the boot region; `first` marks the
/// main boot sector, whose VolumeFlags and PercentInUse bytes are skipped.
pub fn boot_checksum_sector(mut sum: u32, sector: &[u8], first: bool) -> u32 {
    for (i, &b) in sector.iter().enumerate() {
        if first
            && (i == boot::VOLUME_FLAGS || i == boot::VOLUME_FLAGS + 1 || i == boot::PERCENT_IN_USE)
        {
            continue;
        }
        sum = step32(sum, b);
    }
    sum
}

/// Checksum of the up-case table's bytes.
pub fn table_checksum(data: &[u8]) -> u32 {
    data.iter().fold(0u32, |s, &b| step32(s, b))
}

/// SetChecksum of a directory entry set: every byte of every entry except bytes 2 and 3
/// (the checksum itself) of the first.
pub fn entry_set_checksum(entries: &[[u8; 32]]) -> u16 {
    let mut sum = 0u16;
    for (n, e) in entries.iter().enumerate() {
        for (i, &b) in e.iter().enumerate() {
            if n == 0 && (i == 2 || i == 3) {
                continue;
            }
            sum = step16(sum, b);
        }
    }
    sum
}

/// NameHash of an already up-cased name: each UTF-16 unit as its low then high byte.
pub fn name_hash(upcased: &[u16]) -> u16 {
    let mut sum = 0u16;
    for &u in upcased {
        let [lo, hi] = u.to_le_bytes();
        sum = step16(sum, lo);
        sum = step16(sum, hi);
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_add_matches_spec_formula() {
        // The spec writes it as ((sum & 1) ? 0x80000000 : 0) + (sum >> 1) + byte.
        let data = [0x12u8, 0xff, 0x00, 0x80, 0x01];
        let mut spec = 0u32;
        for &b in &data {
            spec = (if spec & 1 != 0 { 0x8000_0000u32 } else { 0 })
                .wrapping_add(spec >> 1)
                .wrapping_add(u32::from(b));
        }
        assert_eq!(table_checksum(&data), spec);
    }

    #[test]
    fn entry_set_checksum_skips_its_own_field() {
        let mut a = [[0u8; 32]; 2];
        a[0][0] = 0x85;
        a[1][0] = 0xC0;
        let c = entry_set_checksum(&a);
        a[0][2] = 0xAB;
        a[0][3] = 0xCD;
        assert_eq!(entry_set_checksum(&a), c);
        a[1][5] = 1;
        assert_ne!(entry_set_checksum(&a), c);
    }
}
