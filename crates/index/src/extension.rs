//! The per-ISO TLV extension area (docs/index-format.md "Extension area"): variable data
//! after a record's boot entries, covered by `record_len`, each item `type` u16, `length`
//! u32, then `length` bytes. Readers skip types they do not know; this crate keeps them
//! (and writes them back unchanged) so that a tool of this version rewriting the index
//! does not drop what a newer one stored. Known types: [`TYPE_PERSISTENCE`].

use alloc::string::String;
use alloc::vec::Vec;

/// Type of the persistence link: the ISO's persistence file (docs/persistence.md).
pub const TYPE_PERSISTENCE: u16 = 0x0010;
/// Size of an item's header: `type` u16, `length` u32.
pub const ITEM_HEADER: usize = 6;
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
    /// dracut dmsquash-live (Fedora and relatives): an overlay file system found by
    /// `rd.live.overlay=LABEL=...`.
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
                "rd.live.overlay=LABEL=bootshelf-rw rd.live.overlay.overlayfs"
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

/// An extension item of a type this version does not know, kept as it was read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownItem {
    /// Its type.
    pub kind: u16,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// What an ISO record's extension area holds.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Extensions {
    /// The ISO's persistence file, if it has one.
    pub persistence: Option<Persistence>,
    /// Items of types this version does not know, written back unchanged.
    pub unknown: Vec<UnknownItem>,
}

impl Extensions {
    /// Append the encoded area to `out`. `None` when an item is too long for its length
    /// field or the path is not absolute.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) -> Option<()> {
        if let Some(p) = &self.persistence {
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
            item(out, TYPE_PERSISTENCE, &v)?;
        }
        for u in &self.unknown {
            item(out, u.kind, &u.bytes)?;
        }
        Some(())
    }

    /// Bytes [`Extensions::encode`] appends.
    pub(crate) fn encoded_len(&self) -> usize {
        let p = self
            .persistence
            .as_ref()
            .map_or(0, |p| ITEM_HEADER + PERSISTENCE_FIXED + p.path.len());
        p + self
            .unknown
            .iter()
            .map(|u| ITEM_HEADER + u.bytes.len())
            .sum::<usize>()
    }

    /// Read the area `bytes` (the record's tail after its boot entries). Lenient, as the
    /// format asks of readers: an item that does not fit ends the area (the rest is
    /// skipped), and a known item whose value is malformed is dropped.
    pub(crate) fn decode(mut bytes: &[u8]) -> Extensions {
        let mut ext = Extensions::default();
        while bytes.len() >= ITEM_HEADER {
            let kind = u16::from_le_bytes([bytes[0], bytes[1]]);
            let len = u32::from_le_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]) as usize;
            let Some(value) = bytes.get(ITEM_HEADER..ITEM_HEADER.saturating_add(len)) else {
                break;
            };
            match kind {
                TYPE_PERSISTENCE => {
                    if let Some(p) = decode_persistence(value) {
                        ext.persistence = Some(p);
                    }
                }
                _ => ext.unknown.push(UnknownItem {
                    kind,
                    bytes: value.to_vec(),
                }),
            }
            bytes = bytes.get(ITEM_HEADER + len..).unwrap_or(&[]);
        }
        ext
    }
}

fn item(out: &mut Vec<u8>, kind: u16, value: &[u8]) -> Option<()> {
    let len = u32::try_from(value.len()).ok()?;
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(value);
    Some(())
}

fn decode_persistence(v: &[u8]) -> Option<Persistence> {
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
    fn round_trip_keeps_unknown_items_and_skips_a_torn_tail() {
        let ext = Extensions {
            persistence: Some(Persistence {
                family: PersistenceFamily::Casper,
                path: String::from("/bootshelf/persistence/u.img"),
                start: 1 << 20,
                size: 64 << 20,
            }),
            unknown: alloc::vec![UnknownItem {
                kind: 0x7777,
                bytes: alloc::vec![1, 2, 3],
            }],
        };
        let mut out = Vec::new();
        ext.encode(&mut out).unwrap();
        assert_eq!(out.len(), ext.encoded_len());
        assert_eq!(Extensions::decode(&out), ext);
        // A torn last item is skipped, the rest is kept.
        out.extend_from_slice(&[9, 9, 200, 0, 0, 0, 1]);
        assert_eq!(Extensions::decode(&out), ext);
        // A malformed persistence value (relative path) is dropped.
        let mut bad = Vec::new();
        let mut v = alloc::vec![1u8, 0, 1, 0, 0, 0, 0, 0];
        v.extend_from_slice(&[0; 16]);
        v.push(b'x');
        item(&mut bad, TYPE_PERSISTENCE, &v).unwrap();
        assert_eq!(Extensions::decode(&bad), Extensions::default());
    }
}
