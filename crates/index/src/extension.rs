//! The persistence link, one item of the per-ISO TLV extension area (docs/index-format.md
//! "Extension area"; the area itself is read and written by `decode`/`encode` into
//! [`crate::Extensions`]): the ISO's persistence file and the live-system family it is
//! laid out for (docs/persistence.md).

use alloc::string::String;
use alloc::vec::Vec;

/// Type of the persistence link: the ISO's persistence file (docs/persistence.md).
pub const TYPE_PERSISTENCE: u16 = 0x0010;
/// Size of the persistence link's fixed part, before its path.
pub const PERSISTENCE_FIXED: usize = 24;

/// The live-system family a persistence file is laid out for: decides its label, its
/// contents and the kernel argument that turns it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PersistenceFamily {
    /// Debian live-boot: label `persistence`, `/persistence.conf` holding `/ union`,
    /// kernel argument `persistence`.
    LiveBoot,
    /// Ubuntu casper: label `casper-rw`, kernel argument `persistent`.
    Casper,
    /// dracut dmsquash-live (Fedora and relatives): label `bootshelf-rw` holding the
    /// overlayfs upper directory `/LiveOS/overlay` and its `/LiveOS/ovlwork`, kernel
    /// arguments `rd.live.overlay=LABEL=bootshelf-rw:/LiveOS/overlay
    /// rd.live.overlay.overlayfs`.
    Dracut,
}

impl PersistenceFamily {
    /// The byte stored in the link.
    pub fn to_raw(self) -> u8 {
        match self {
            PersistenceFamily::LiveBoot => 1,
            PersistenceFamily::Casper => 2,
            PersistenceFamily::Dracut => 3,
        }
    }

    /// The family of a stored byte; `None` for unknown values.
    pub fn from_raw(v: u8) -> Option<Self> {
        match v {
            1 => Some(PersistenceFamily::LiveBoot),
            2 => Some(PersistenceFamily::Casper),
            3 => Some(PersistenceFamily::Dracut),
            _ => None,
        }
    }

    /// A short name for people and JSON: `live-boot`, `casper`, `dracut`.
    pub fn name(self) -> &'static str {
        match self {
            PersistenceFamily::LiveBoot => "live-boot",
            PersistenceFamily::Casper => "casper",
            PersistenceFamily::Dracut => "dracut",
        }
    }

    /// The ext4 label the family looks for.
    pub fn label(self) -> &'static str {
        match self {
            PersistenceFamily::LiveBoot => "persistence",
            PersistenceFamily::Casper => "casper-rw",
            PersistenceFamily::Dracut => "bootshelf-rw",
        }
    }

    /// The kernel argument that turns persistence on for this family.
    pub fn kernel_argument(self) -> &'static str {
        match self {
            PersistenceFamily::LiveBoot => "persistence",
            PersistenceFamily::Casper => "persistent",
            PersistenceFamily::Dracut => {
                "rd.live.overlay=LABEL=bootshelf-rw:/LiveOS/overlay rd.live.overlay.overlayfs"
            }
        }
    }
}

/// The link from an ISO to its persistence file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Persistence {
    /// The family the file is laid out for.
    pub family: PersistenceFamily,
    /// Absolute path of the file on the data partition.
    pub path: String,
    /// Device byte offset of the file's first byte (the file is one contiguous run).
    pub start: u64,
    /// File size in bytes.
    pub size: u64,
}

/// The value of a persistence item ([`TYPE_PERSISTENCE`]); `None` when a path is not
/// absolute or too long.
pub(crate) fn encode_persistence(p: &Persistence) -> Option<Vec<u8>> {
    if !p.path.starts_with('/') {
        return None;
    }
    let path_len = u16::try_from(p.path.len()).ok()?;
    let mut v = Vec::with_capacity(PERSISTENCE_FIXED + p.path.len());
    v.push(p.family.to_raw());
    v.push(0);
    v.extend_from_slice(&path_len.to_le_bytes());
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&p.start.to_le_bytes());
    v.extend_from_slice(&p.size.to_le_bytes());
    v.extend_from_slice(p.path.as_bytes());
    Some(v)
}

/// A persistence item's value; `None` (the item is dropped) when it is malformed.
pub(crate) fn decode_persistence(v: &[u8]) -> Option<Persistence> {
    let fixed = v.get(..PERSISTENCE_FIXED)?;
    let family = PersistenceFamily::from_raw(fixed[0])?;
    let path_len = usize::from(u16::from_le_bytes([fixed[2], fixed[3]]));
    let mut a = [0u8; 8];
    a.copy_from_slice(&fixed[8..16]);
    let start = u64::from_le_bytes(a);
    a.copy_from_slice(&fixed[16..24]);
    let size = u64::from_le_bytes(a);
    let path =
        core::str::from_utf8(v.get(PERSISTENCE_FIXED..PERSISTENCE_FIXED + path_len)?).ok()?;
    if !path.starts_with('/') || size == 0 || start.checked_add(size).is_none() {
        return None;
    }
    Some(Persistence {
        family,
        path: String::from(path),
        start,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistence_value_round_trips_and_malformed_ones_are_dropped() {
        let p = Persistence {
            family: PersistenceFamily::Casper,
            path: String::from("/bootshelf/persistence/u.ext4"),
            start: 1 << 20,
            size: 64 << 20,
        };
        let v = encode_persistence(&p).unwrap();
        assert_eq!(v.len(), PERSISTENCE_FIXED + p.path.len());
        assert_eq!(decode_persistence(&v), Some(p.clone()));
        // Too short, unknown family, relative path, zero size: dropped.
        assert_eq!(decode_persistence(&v[..PERSISTENCE_FIXED + 3]), None);
        let mut bad = v.clone();
        bad[0] = 9;
        assert_eq!(decode_persistence(&bad), None);
        let rel = Persistence {
            path: String::from("x"),
            ..p.clone()
        };
        assert_eq!(encode_persistence(&rel), None);
        let mut zero = v.clone();
        zero[16..24].copy_from_slice(&[0; 8]);
        assert_eq!(decode_persistence(&zero), None);
    }
}
