//! Adding a UEFI variable to a copy of an OVMF variable store file, before the machine
//! starts: how `boot-test --enroll` puts the user's certificate into shim's `MokList`
//! without going through MokManager (the firmware trusts what its flash holds; only
//! `SetVariable` checks authentication).
//!
//! The store (EDK2 "authenticated variable" format, as Debian's OVMF_VARS*.fd ship it): a
//! firmware volume header (its length at byte 48), then a variable store header (GUID
//! `aaf32c78-947b-439a-a180-2e144ec37792`, u32 size, format, state), then variables, each
//! a 60-byte header (`StartId` 0x55AA, state, attributes, monotonic count, time stamp,
//! public key index, name size, data size, vendor GUID), the UTF-16 name and the data,
//! aligned to 4 bytes. A variable is live when its state is `VAR_ADDED` (0x3F).

use std::fmt;

/// The authenticated variable store's GUID, as stored (little-endian fields).
const AUTH_STORE_GUID: [u8; 16] = guid(
    0xaaf32c78,
    0x947b,
    0x439a,
    [0xa1, 0x80, 0x2e, 0x14, 0x4e, 0xc3, 0x77, 0x92],
);
/// shim's vendor GUID (`MokList` and friends).
pub const SHIM_LOCK_GUID: [u8; 16] = guid(
    0x605dab50,
    0xe046,
    0x4300,
    [0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b, 0x23],
);
/// EFI_CERT_X509_GUID: a signature list of X.509 certificates.
const CERT_X509_GUID: [u8; 16] = guid(
    0xa5c059a1,
    0x94e4,
    0x4aa7,
    [0x87, 0xb5, 0xab, 0x15, 0x5c, 0x2b, 0xf0, 0x72],
);

/// EFI_VARIABLE_NON_VOLATILE | EFI_VARIABLE_BOOTSERVICE_ACCESS: what shim requires of
/// `MokList` (it deletes one that the OS could reach at runtime).
pub const ATTR_NV_BS: u32 = 0x3;

const HEADER_LEN: usize = 60;
const VAR_ADDED: u8 = 0x3F;
/// `VAR_ADDED & VAR_DELETED`: a variable replaced by a later one.
const VAR_DELETED_STATE: u8 = 0x3D;

/// A GUID in its stored byte order.
const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let a = a.to_le_bytes();
    let b = b.to_le_bytes();
    let c = c.to_le_bytes();
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// Why the variable could not be added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarsError {
    /// The file is not an OVMF variable store in the authenticated format.
    NotAVariableStore(&'static str),
    /// No room left in the store.
    Full {
        /// Bytes the variable takes.
        needed: usize,
        /// Bytes left in the store.
        free: usize,
    },
}

impl fmt::Display for VarsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VarsError::NotAVariableStore(why) => {
                write!(f, "not an OVMF authenticated variable store: {why}")
            }
            VarsError::Full { needed, free } => write!(
                f,
                "the variable store has {free} bytes free, the variable needs {needed}"
            ),
        }
    }
}

impl std::error::Error for VarsError {}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// An EFI_SIGNATURE_LIST holding one X.509 certificate (DER), owned by `owner`.
pub fn x509_signature_list(cert_der: &[u8], owner: [u8; 16]) -> Vec<u8> {
    let sig_size = 16 + cert_der.len();
    let list_size = 28 + sig_size;
    let mut out = Vec::with_capacity(list_size);
    out.extend_from_slice(&CERT_X509_GUID);
    out.extend_from_slice(&(list_size as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(sig_size as u32).to_le_bytes());
    out.extend_from_slice(&owner);
    out.extend_from_slice(cert_der);
    out
}

/// Sets variable `name` of `vendor` in the store image `fd` to `data` with `attributes`:
/// a live variable of that name is marked deleted, and the new one is appended after the
/// last variable.
pub fn set_variable(
    fd: &mut [u8],
    name: &str,
    vendor: [u8; 16],
    attributes: u32,
    data: &[u8],
) -> Result<(), VarsError> {
    if fd.get(40..44) != Some(b"_FVH") {
        return Err(VarsError::NotAVariableStore("no firmware volume header"));
    }
    let store = usize::from(u16_at(fd, 48).ok_or(VarsError::NotAVariableStore("short"))?);
    if fd.get(store..store + 16) != Some(&AUTH_STORE_GUID[..]) {
        return Err(VarsError::NotAVariableStore(
            "the variable store is not in the authenticated format",
        ));
    }
    let store_size = u32_at(fd, store + 16).ok_or(VarsError::NotAVariableStore("short"))? as usize;
    let store_end = (store + store_size).min(fd.len());
    let name16: Vec<u8> = name
        .encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect();
    let mut at = store + 28;
    while at + HEADER_LEN <= store_end && u16_at(fd, at) == Some(0x55AA) {
        let name_size = u32_at(fd, at + 36).unwrap_or(0) as usize;
        let data_size = u32_at(fd, at + 40).unwrap_or(0) as usize;
        let next = (at + HEADER_LEN)
            .checked_add(name_size)
            .and_then(|n| n.checked_add(data_size))
            .ok_or(VarsError::NotAVariableStore("a variable's size overflows"))?;
        if next > store_end {
            return Err(VarsError::NotAVariableStore(
                "a variable runs past the store",
            ));
        }
        if fd[at + 2] == VAR_ADDED
            && fd[at + 44..at + 60] == vendor
            && fd[at + HEADER_LEN..at + HEADER_LEN + name_size] == name16[..]
        {
            fd[at + 2] = VAR_DELETED_STATE;
        }
        at = next.next_multiple_of(4);
    }
    let needed = HEADER_LEN + name16.len() + data.len();
    let free = store_end.saturating_sub(at);
    if needed > free || fd[at..at + needed].iter().any(|&b| b != 0xFF) {
        return Err(VarsError::Full { needed, free });
    }
    let mut header = [0u8; HEADER_LEN];
    header[0..2].copy_from_slice(&0x55AAu16.to_le_bytes());
    header[2] = VAR_ADDED;
    header[4..8].copy_from_slice(&attributes.to_le_bytes());
    header[36..40].copy_from_slice(&(name16.len() as u32).to_le_bytes());
    header[40..44].copy_from_slice(&(data.len() as u32).to_le_bytes());
    header[44..60].copy_from_slice(&vendor);
    fd[at..at + HEADER_LEN].copy_from_slice(&header);
    fd[at + HEADER_LEN..at + HEADER_LEN + name16.len()].copy_from_slice(&name16);
    fd[at + HEADER_LEN + name16.len()..at + needed].copy_from_slice(data);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds MokList to Debian's Secure Boot store and reads it back by walking the store
    /// again: the new variable is live, after every old one, and the old ones are intact.
    #[test]
    fn mok_list_is_appended_to_the_ms_store() {
        let orig = std::fs::read(crate::OVMF_SECURE_BOOT_VARS).unwrap();
        let mut fd = orig.clone();
        let list = x509_signature_list(b"not really a certificate", SHIM_LOCK_GUID);
        set_variable(&mut fd, "MokList", SHIM_LOCK_GUID, ATTR_NV_BS, &list).unwrap();
        let changed: Vec<usize> = (0..fd.len()).filter(|&i| fd[i] != orig[i]).collect();
        let first = changed[0];
        assert_eq!(u16_at(&fd, first), Some(0x55AA));
        assert_eq!(fd[first + 2], VAR_ADDED);
        let name: Vec<u8> = "MokList\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(&fd[first + 60..first + 60 + name.len()], &name[..]);
        assert!(fd.windows(list.len()).any(|w| w == list));
        // Setting it again deletes the first copy.
        set_variable(&mut fd, "MokList", SHIM_LOCK_GUID, ATTR_NV_BS, &list).unwrap();
        assert_eq!(fd[first + 2], VAR_DELETED_STATE);
        assert!(matches!(
            set_variable(&mut [0u8; 64], "x", SHIM_LOCK_GUID, 3, b""),
            Err(VarsError::NotAVariableStore(_))
        ));
    }
}
