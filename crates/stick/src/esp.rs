//! The EFI System Partition: a small FAT file system built with `fatfs`, holding the UEFI
//! loaders `\EFI\BOOT\BOOTX64.EFI`, `BOOTAA64.EFI`, `BOOTIA32.EFI` and `\BOOTSHELF.TXT`.
//!
//! Two things `fatfs` 0.3.6 does not do for us live here:
//!
//! * **`.` and `..` fix-up.** `create_dir` writes a long-name (LFN) entry in front of `.`
//!   and of `..`, and on FAT32 points a top-level `..` at the root cluster instead of 0;
//!   `fsck.fat` rejects both. [`fix_dot_entries`] rewrites a freshly made directory's first
//!   two slots as plain short entries (`.` -> itself, `..` -> parent or 0 for the root)
//!   and clears the rest of the cluster (the directory is still empty then).
//! * **Crash-safe replacement** ([`update_in_place`]). A file is replaced by writing the
//!   new contents as a temporary file into free clusters, then swapping the two short
//!   entries' cluster and size fields in ONE sector write, then deleting the temporary
//!   (which now holds the old data). Killed at any instant, `\EFI\BOOT\BOOTX64.EFI` is the
//!   complete old loader or the complete new one; at worst `fsck.fat` then finds lost
//!   clusters or a leftover `BSNEW.TMP` (benign; the next `update` removes it).
//!
//! The whole ESP (32 MiB) is edited in memory and only the sectors that changed are
//! written, in the order given above.

use crate::layout::{Error, Result, SectorRange};
use blockdev::BlockDevice;
use std::collections::BTreeSet;
use std::io::{Cursor, Read, Write};

/// Directory of the UEFI loaders (the removable-media boot path, UEFI spec 3.5.1.1).
pub const LOADER_DIR: &str = "EFI/BOOT";
/// Path of the x86_64 UEFI loader (the others are `BOOTAA64.EFI` and `BOOTIA32.EFI` beside
/// it, see [`crate::BootCode::efi_files`]).
pub const LOADER_PATH: &str = "EFI/BOOT/BOOTX64.EFI";
/// Path of the text file saying what wrote the ESP.
pub const INFO_PATH: &str = "BOOTSHELF.TXT";
/// Directories bootshelf creates, parents first.
pub const DIRS: [&str; 2] = ["EFI", "EFI/BOOT"];
/// Temporary name used while replacing a file (a valid 8.3 name, so it has no LFN).
const TEMP_NAME: &str = "BSNEW.TMP";
/// FAT volume label: not `BOOTSHELF`, which names the data partition alone (so that
/// `/dev/disk/by-label/BOOTSHELF` and the like are unambiguous).
pub const LABEL: &[u8; 11] = b"BSHELF-EFI ";

/// What goes into the ESP: (path relative to the root, contents). A file with empty
/// contents is absent.
pub type EspFiles<'a> = [(&'a str, &'a [u8])];

fn esp_err(what: &'static str) -> impl Fn(std::io::Error) -> Error {
    move |e| Error::Esp {
        what,
        message: e.to_string(),
    }
}

/// Raw FAT boot sector fields (offsets per the Microsoft FAT specification).
mod raw {
    /// BPB_BytsPerSec (u16).
    pub const BYTES_PER_SECTOR: usize = 11;
    /// BPB_SecPerClus (u8).
    pub const SECTORS_PER_CLUSTER: usize = 13;
    /// BPB_RsvdSecCnt (u16).
    pub const RESERVED_SECTORS: usize = 14;
    /// BPB_NumFATs (u8).
    pub const NUM_FATS: usize = 16;
    /// BPB_RootEntCnt (u16).
    pub const ROOT_ENTRIES: usize = 17;
    /// BPB_TotSec16 (u16).
    pub const TOTAL_SECTORS_16: usize = 19;
    /// BPB_FATSz16 (u16).
    pub const FAT_SIZE_16: usize = 22;
    /// BPB_TotSec32 (u32).
    pub const TOTAL_SECTORS_32: usize = 32;
    /// BPB_FATSz32 (u32, FAT32 only).
    pub const FAT_SIZE_32: usize = 36;
    /// BPB_RootClus (u32, FAT32 only).
    pub const ROOT_CLUSTER: usize = 44;
    /// Directory entry: DIR_Attr.
    pub const DIR_ATTR: usize = 11;
    /// Directory entry: DIR_FstClusHI.
    pub const DIR_CLUSTER_HI: usize = 20;
    /// Directory entry: DIR_FstClusLO.
    pub const DIR_CLUSTER_LO: usize = 26;
    /// Directory entry: DIR_FileSize.
    pub const DIR_SIZE: usize = 28;
    /// Attribute value marking a long-name entry.
    pub const ATTR_LFN: u8 = 0x0F;
    /// Directory attribute bit.
    pub const ATTR_DIR: u8 = 0x10;
}

fn le16(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 2)
        .map(|s| u64::from(u16::from_le_bytes([s[0], s[1]])))
        .unwrap_or(0)
}
fn le32(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 4)
        .map(|s| u64::from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])))
        .unwrap_or(0)
}

/// FAT geometry from the boot sector.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    bytes_per_sector: u64,
    sectors_per_cluster: u64,
    reserved: u64,
    num_fats: u64,
    fat_sectors: u64,
    root_dir_sectors: u64,
    first_data_sector: u64,
    /// FAT32 root cluster, `None` on FAT12/16 (fixed root region).
    root_cluster: Option<u64>,
    total_bytes: u64,
    /// Number of data clusters (clusters 2 .. clusters + 2 exist).
    clusters: u64,
}

impl Geometry {
    fn parse(img: &[u8]) -> Result<Geometry> {
        let bad = |message: String| Err(Error::BadEsp { message });
        if img.get(510..512) != Some(&[0x55, 0xAA][..]) {
            return bad("no 0x55AA boot sector signature at byte 510".into());
        }
        let bps = le16(img, raw::BYTES_PER_SECTOR);
        if !(512..=4096).contains(&bps) || !bps.is_power_of_two() {
            return bad(format!("bytes per sector {bps} at byte 11"));
        }
        let spc = img
            .get(raw::SECTORS_PER_CLUSTER)
            .copied()
            .map(u64::from)
            .unwrap_or(0);
        if spc == 0 || !spc.is_power_of_two() {
            return bad(format!("sectors per cluster {spc} at byte 13"));
        }
        let reserved = le16(img, raw::RESERVED_SECTORS);
        let num_fats = img.get(raw::NUM_FATS).copied().map(u64::from).unwrap_or(0);
        let root_entries = le16(img, raw::ROOT_ENTRIES);
        let fat16 = le16(img, raw::FAT_SIZE_16);
        let fat_sectors = if fat16 != 0 {
            fat16
        } else {
            le32(img, raw::FAT_SIZE_32)
        };
        let tot16 = le16(img, raw::TOTAL_SECTORS_16);
        let total = if tot16 != 0 {
            tot16
        } else {
            le32(img, raw::TOTAL_SECTORS_32)
        };
        if reserved == 0 || num_fats == 0 || fat_sectors == 0 {
            return bad(format!(
                "reserved {reserved}, FATs {num_fats}, FAT sectors {fat_sectors}"
            ));
        }
        let root_dir_sectors = (root_entries * 32).div_ceil(bps);
        let first_data_sector = reserved + num_fats * fat_sectors + root_dir_sectors;
        let total_bytes = total * bps;
        if first_data_sector >= total || total_bytes > img.len() as u64 {
            return bad(format!(
                "{total} sectors of {bps} bytes do not fit the {} byte partition",
                img.len()
            ));
        }
        let clusters = (total - first_data_sector) / spc;
        let root_cluster = if clusters >= 65525 {
            Some(le32(img, raw::ROOT_CLUSTER))
        } else {
            None
        };
        Ok(Geometry {
            bytes_per_sector: bps,
            sectors_per_cluster: spc,
            reserved,
            num_fats,
            fat_sectors,
            root_dir_sectors,
            first_data_sector,
            root_cluster,
            total_bytes,
            clusters,
        })
    }

    fn cluster_bytes(&self) -> u64 {
        self.bytes_per_sector * self.sectors_per_cluster
    }

    /// Byte range of a data cluster.
    fn cluster_range(&self, cluster: u64) -> Result<std::ops::Range<usize>> {
        if cluster < 2 {
            return Err(Error::BadEsp {
                message: format!("cluster number {cluster} in a directory entry"),
            });
        }
        let start = (self.first_data_sector + (cluster - 2) * self.sectors_per_cluster)
            * self.bytes_per_sector;
        let end = start + self.cluster_bytes();
        if end > self.total_bytes {
            return Err(Error::BadEsp {
                message: format!("cluster {cluster} lies past the end of the file system"),
            });
        }
        Ok(start as usize..end as usize)
    }

    /// Byte range of the FAT copies.
    fn fat_range(&self) -> std::ops::Range<u64> {
        let start = self.reserved * self.bytes_per_sector;
        start..start + self.num_fats * self.fat_sectors * self.bytes_per_sector
    }

    /// Byte range of a directory's first cluster or, for the root, its region.
    fn dir_range(&self, cluster: Option<u64>) -> Result<std::ops::Range<usize>> {
        match (cluster, self.root_cluster) {
            (Some(c), _) | (None, Some(c)) => self.cluster_range(c),
            (None, None) => {
                let start =
                    (self.reserved + self.num_fats * self.fat_sectors) * self.bytes_per_sector;
                Ok(
                    start as usize
                        ..(start + self.root_dir_sectors * self.bytes_per_sector) as usize,
                )
            }
        }
    }
}

/// Bits per FAT entry: 12, 16 or 32 (by cluster count, as the specification says).
fn fat_bits(g: &Geometry) -> u32 {
    if g.clusters < 4085 {
        12
    } else if g.clusters < 65525 {
        16
    } else {
        32
    }
}

/// Entry `n` of FAT copy `copy` (FAT16/32 only).
fn fat_get(img: &[u8], g: &Geometry, copy: u64, n: u64) -> u64 {
    let base = ((g.reserved + copy * g.fat_sectors) * g.bytes_per_sector) as usize;
    match fat_bits(g) {
        16 => le16(img, base + 2 * n as usize),
        _ => le32(img, base + 4 * n as usize) & 0x0FFF_FFFF,
    }
}

fn fat_set(img: &mut [u8], g: &Geometry, copy: u64, n: u64, v: u64) {
    let base = ((g.reserved + copy * g.fat_sectors) * g.bytes_per_sector) as usize;
    match fat_bits(g) {
        16 => {
            let at = base + 2 * n as usize;
            if let Some(d) = img.get_mut(at..at + 2) {
                d.copy_from_slice(&(v as u16).to_le_bytes());
            }
        }
        _ => {
            let at = base + 4 * n as usize;
            if let Some(d) = img.get_mut(at..at + 4) {
                let keep = u32::from_le_bytes([d[0], d[1], d[2], d[3]]) & 0xF000_0000;
                d.copy_from_slice(&(keep | (v as u32 & 0x0FFF_FFFF)).to_le_bytes());
            }
        }
    }
}

/// Free every allocated cluster that no directory entry reaches (what a killed update
/// can leave), and make every FAT copy equal to the first (a kill between the copies).
/// Only ever frees unreachable clusters, so it is itself safe to interrupt. FAT12 (never
/// made by `install`, whose ESP is 32 MiB) is left alone.
fn collect_garbage(img: &mut [u8]) -> Result<()> {
    let g = Geometry::parse(img)?;
    let bits = fat_bits(&g);
    if bits == 12 {
        return Ok(());
    }
    let eoc_min = if bits == 16 { 0xFFF7 } else { 0x0FFF_FFF7 };
    let end = g.clusters + 2;
    let mut reach = vec![false; end as usize];
    // Mark a chain; returns its clusters (empty when it starts out of range).
    let mark = |img: &[u8], first: u64, reach: &mut Vec<bool>| -> Vec<u64> {
        let mut out = Vec::new();
        let mut c = first;
        while (2..end).contains(&c) && !reach[c as usize] {
            reach[c as usize] = true;
            out.push(c);
            let next = fat_get(img, &g, 0, c);
            if next >= eoc_min || next < 2 {
                break;
            }
            c = next;
        }
        out
    };
    let mut dirs: Vec<Vec<u8>> = Vec::new();
    match g.root_cluster {
        None => {
            let r = g.dir_range(None)?;
            dirs.push(img.get(r).ok_or(Error::Internal("root range"))?.to_vec());
        }
        Some(rc) => {
            let mut v = Vec::new();
            for c in mark(img, rc, &mut reach) {
                v.extend_from_slice(&img[g.cluster_range(c)?]);
            }
            dirs.push(v);
        }
    }
    while let Some(dir) = dirs.pop() {
        for e in dir.chunks_exact(32) {
            if e[0] == 0 {
                break;
            }
            let attr = e[raw::DIR_ATTR];
            if e[0] == 0xE5 || attr == raw::ATTR_LFN || attr & 0x08 != 0 || e[0] == b'.' {
                continue;
            }
            let chain = mark(img, entry_cluster(e), &mut reach);
            if attr & raw::ATTR_DIR != 0 {
                let mut v = Vec::new();
                for c in chain {
                    v.extend_from_slice(&img[g.cluster_range(c)?]);
                }
                dirs.push(v);
            }
        }
    }
    for n in 2..end {
        if !reach[n as usize] && fat_get(img, &g, 0, n) != 0 {
            fat_set(img, &g, 0, n, 0);
        }
    }
    let fat_bytes = (g.fat_sectors * g.bytes_per_sector) as usize;
    let first = (g.reserved * g.bytes_per_sector) as usize;
    for copy in 1..g.num_fats as usize {
        let at = first + copy * fat_bytes;
        img.copy_within(first..first + fat_bytes, at);
    }
    Ok(())
}

/// What [`fsck`] finds wrong in an ESP whose FAT it can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EspIssue {
    /// FAT copy `copy` (counted from 0) differs from FAT 0: what an update killed
    /// between the copies leaves. Benign: the next `update` copies FAT 0 over it.
    FatCopiesDiffer {
        /// The copy that differs.
        copy: u64,
    },
    /// Allocated clusters that no directory entry reaches (a killed update). Benign: the
    /// next `update` frees them.
    LostClusters {
        /// How many.
        clusters: u64,
    },
    /// The temporary of a killed update. Benign: the next `update` removes it.
    LeftoverTemp {
        /// Its path in the ESP.
        path: String,
    },
    /// A cluster chain starts outside the volume, runs into a free or reserved cluster, or
    /// points past the volume.
    BadChain {
        /// The file or directory.
        path: String,
        /// The cluster where the chain breaks.
        cluster: u64,
        /// What the FAT (or the directory entry, for the first cluster) says comes next.
        next: u64,
    },
    /// A cluster already belongs to another file or directory (or the chain loops).
    CrossLinked {
        /// The file or directory whose chain reaches it second.
        path: String,
        /// The shared cluster.
        cluster: u64,
    },
    /// A file's size does not match the length of its cluster chain.
    SizeMismatch {
        /// The file.
        path: String,
        /// Its size in bytes.
        size: u64,
        /// Clusters in its chain.
        clusters: u64,
        /// Clusters the size needs.
        needed: u64,
    },
    /// A directory bootshelf makes (`EFI`, `EFI/BOOT`) is missing.
    MissingDirectory {
        /// Its path.
        path: String,
    },
}

impl EspIssue {
    /// Whether it is what a killed `update` leaves, which the next `update` clears in
    /// place ([`update_in_place`]); anything else makes `update` rebuild the ESP.
    pub fn is_benign(&self) -> bool {
        matches!(
            self,
            EspIssue::FatCopiesDiffer { .. }
                | EspIssue::LostClusters { .. }
                | EspIssue::LeftoverTemp { .. }
        )
    }

    /// A stable name for scripts (`bootshelf check --json`).
    pub fn kind(&self) -> &'static str {
        match self {
            EspIssue::FatCopiesDiffer { .. } => "esp_fat_copies_differ",
            EspIssue::LostClusters { .. } => "esp_lost_clusters",
            EspIssue::LeftoverTemp { .. } => "esp_leftover_temp",
            EspIssue::BadChain { .. } => "esp_bad_chain",
            EspIssue::CrossLinked { .. } => "esp_cross_linked",
            EspIssue::SizeMismatch { .. } => "esp_size_mismatch",
            EspIssue::MissingDirectory { .. } => "esp_missing_directory",
        }
    }
}

impl std::fmt::Display for EspIssue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EspIssue::FatCopiesDiffer { copy } => write!(
                f,
                "FAT copy {copy} differs from FAT 0 (an interrupted update; `bootshelf update` \
                 copies FAT 0 over it)"
            ),
            EspIssue::LostClusters { clusters } => write!(
                f,
                "{clusters} allocated cluster(s) belong to no file (an interrupted update; \
                 `bootshelf update` frees them)"
            ),
            EspIssue::LeftoverTemp { path } => write!(
                f,
                "{path} is left from an interrupted update (`bootshelf update` removes it)"
            ),
            EspIssue::BadChain {
                path,
                cluster,
                next,
            } => write!(
                f,
                "{path}: its cluster chain breaks at cluster {cluster} (next {next:#x})"
            ),
            EspIssue::CrossLinked { path, cluster } => write!(
                f,
                "{path}: cluster {cluster} also belongs to another file (cross-linked) or its \
                 chain loops"
            ),
            EspIssue::SizeMismatch {
                path,
                size,
                clusters,
                needed,
            } => write!(
                f,
                "{path}: size {size} bytes needs {needed} cluster(s), its chain has {clusters}"
            ),
            EspIssue::MissingDirectory { path } => write!(f, "directory {path} is missing"),
        }
    }
}

/// A file system check of an ESP image, reading the FAT as `fsck.fat -n` would (our own
/// reading, no repair): the boot sector (`Err(BadEsp)` when it is not a FAT we can
/// read), FAT copies equal, every chain inside the volume and ending properly, no
/// cluster shared, sizes matching chains, no lost clusters, bootshelf's directories
/// there, no leftover temporary. FAT12 (never made by `install`, whose ESP is 32 MiB) is
/// checked only as far as its boot sector.
pub fn fsck(img: &[u8]) -> Result<Vec<EspIssue>> {
    let g = Geometry::parse(img)?;
    let bits = fat_bits(&g);
    let mut issues = Vec::new();
    if bits == 12 {
        return Ok(issues);
    }
    let fat_bytes = (g.fat_sectors * g.bytes_per_sector) as usize;
    let first = (g.reserved * g.bytes_per_sector) as usize;
    let fat0 = img.get(first..first + fat_bytes);
    for copy in 1..g.num_fats {
        let at = first + copy as usize * fat_bytes;
        if img.get(at..at + fat_bytes) != fat0 {
            issues.push(EspIssue::FatCopiesDiffer { copy });
        }
    }
    let bad_mark = if bits == 16 { 0xFFF7 } else { 0x0FFF_FFF7 };
    let end = g.clusters + 2;
    let mut reach = vec![false; end as usize];
    // Follow a chain from `first`, marking it; returns its clusters and what broke it.
    let mut chain = |path: &str, first: u64, issues: &mut Vec<EspIssue>| -> Vec<u64> {
        let mut out = Vec::new();
        if !(2..end).contains(&first) {
            issues.push(EspIssue::BadChain {
                path: path.to_owned(),
                cluster: 0,
                next: first,
            });
            return out;
        }
        let mut c = first;
        loop {
            if reach[c as usize] {
                issues.push(EspIssue::CrossLinked {
                    path: path.to_owned(),
                    cluster: c,
                });
                break;
            }
            reach[c as usize] = true;
            out.push(c);
            let next = fat_get(img, &g, 0, c);
            // Above the bad-cluster mark (0xFFF7 / 0x0FFFFFF7): end of chain.
            if next > bad_mark {
                break;
            }
            if next < 2 || next >= end {
                issues.push(EspIssue::BadChain {
                    path: path.to_owned(),
                    cluster: c,
                    next,
                });
                break;
            }
            c = next;
        }
        out
    };
    let read_dir = |clusters: &[u64]| -> Result<Vec<u8>> {
        let mut v = Vec::new();
        for &c in clusters {
            v.extend_from_slice(
                img.get(g.cluster_range(c)?)
                    .ok_or(Error::Internal("cluster range"))?,
            );
        }
        Ok(v)
    };
    let mut dirs: Vec<(String, Vec<u8>)> = Vec::new();
    match g.root_cluster {
        None => {
            let r = g.dir_range(None)?;
            dirs.push((
                String::new(),
                img.get(r).ok_or(Error::Internal("root range"))?.to_vec(),
            ));
        }
        Some(rc) => {
            let cl = chain("/", rc, &mut issues);
            dirs.push((String::new(), read_dir(&cl)?));
        }
    }
    let cluster_bytes = g.cluster_bytes();
    while let Some((dir_path, dir)) = dirs.pop() {
        for e in dir.chunks_exact(32) {
            if e[0] == 0 {
                break;
            }
            let attr = e[raw::DIR_ATTR];
            if e[0] == 0xE5 || attr == raw::ATTR_LFN || attr & 0x08 != 0 || e[0] == b'.' {
                continue;
            }
            let path = format!("{dir_path}/{}", short_name_text(e));
            let first_cluster = entry_cluster(e);
            if attr & raw::ATTR_DIR != 0 {
                let cl = chain(&path, first_cluster, &mut issues);
                dirs.push((path, read_dir(&cl)?));
                continue;
            }
            let size = le32(e, raw::DIR_SIZE);
            let needed = size.div_ceil(cluster_bytes);
            let clusters = if first_cluster == 0 {
                0
            } else {
                chain(&path, first_cluster, &mut issues).len() as u64
            };
            if clusters != needed {
                issues.push(EspIssue::SizeMismatch {
                    path: path.clone(),
                    size,
                    clusters,
                    needed,
                });
            }
            if short_name_text(e) == TEMP_NAME {
                issues.push(EspIssue::LeftoverTemp { path });
            }
        }
    }
    for d in DIRS {
        if dir_cluster(img, &g, d).is_err() {
            issues.push(EspIssue::MissingDirectory {
                path: format!("/{d}"),
            });
        }
    }
    // Allocated (neither free nor marked bad) and reached by nothing.
    let lost = (2..end)
        .filter(|&n| !reach[n as usize] && ![0, bad_mark].contains(&fat_get(img, &g, 0, n)))
        .count() as u64;
    if lost > 0 {
        issues.push(EspIssue::LostClusters { clusters: lost });
    }
    Ok(issues)
}

/// "NAME.EXT" of a short directory entry.
fn short_name_text(e: &[u8]) -> String {
    let base = String::from_utf8_lossy(&e[..8]).trim_end().to_owned();
    let ext = String::from_utf8_lossy(&e[8..11]).trim_end().to_owned();
    if ext.is_empty() {
        base
    } else {
        format!("{base}.{ext}")
    }
}

/// The 11-byte on-disk short name of "NAME.EXT".
fn sfn_bytes(short: &str) -> [u8; 11] {
    let mut out = [b' '; 11];
    let (base, ext) = short.split_once('.').unwrap_or((short, ""));
    for (d, s) in out[..8].iter_mut().zip(base.bytes()) {
        *d = s.to_ascii_uppercase();
    }
    for (d, s) in out[8..].iter_mut().zip(ext.bytes()) {
        *d = s.to_ascii_uppercase();
    }
    out
}

/// Find the short entry named `sfn` in the first cluster (or root region) of a directory;
/// returns its byte offset in the image.
fn find_sfn(img: &[u8], g: &Geometry, dir: Option<u64>, sfn: &[u8; 11]) -> Result<Option<usize>> {
    let range = g.dir_range(dir)?;
    let region = img.get(range.clone()).ok_or(Error::Internal("dir range"))?;
    for (i, e) in region.chunks_exact(32).enumerate() {
        match e[0] {
            0 => break,
            0xE5 => continue,
            _ => {}
        }
        if e[raw::DIR_ATTR] == raw::ATTR_LFN {
            continue;
        }
        if &e[..11] == sfn {
            return Ok(Some(range.start + i * 32));
        }
    }
    Ok(None)
}

fn entry_cluster(e: &[u8]) -> u64 {
    le16(e, raw::DIR_CLUSTER_HI) << 16 | le16(e, raw::DIR_CLUSTER_LO)
}

/// First cluster of the directory at `path` ("EFI/BOOT"), `None` for the root.
fn dir_cluster(img: &[u8], g: &Geometry, path: &str) -> Result<Option<u64>> {
    let mut cur: Option<u64> = None;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let sfn = sfn_bytes(part);
        let at = find_sfn(img, g, cur, &sfn)?.ok_or_else(|| Error::BadEsp {
            message: format!("directory {path} is missing (no entry {part})"),
        })?;
        let e = &img[at..at + 32];
        if e[raw::DIR_ATTR] & raw::ATTR_DIR == 0 {
            return Err(Error::BadEsp {
                message: format!("{part} in {path} is not a directory (entry at byte {at})"),
            });
        }
        cur = Some(entry_cluster(e));
    }
    Ok(cur)
}

/// Rewrite the first cluster of the freshly made, still empty directory `path`: `.` and
/// `..` as plain short entries, nothing else. See the module documentation.
pub fn fix_dot_entries(img: &mut [u8], path: &str) -> Result<()> {
    let g = Geometry::parse(img)?;
    let me = dir_cluster(img, &g, path)?.ok_or(Error::Internal("root has no dot entries"))?;
    let parent_path = path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    // `..` of a top-level directory is 0, also on FAT32.
    let parent = dir_cluster(img, &g, parent_path)?.unwrap_or(0);
    let range = g.cluster_range(me)?;
    // Keep the creation time fatfs wrote on the directory's own entry.
    let (time, date) = {
        let leaf = path.rsplit('/').next().unwrap_or(path);
        let parent_cluster = if parent == 0 { None } else { Some(parent) };
        match find_sfn(img, &g, parent_cluster, &sfn_bytes(leaf))? {
            Some(at) => ([img[at + 22], img[at + 23]], [img[at + 24], img[at + 25]]),
            None => ([0, 0], [0x21, 0]),
        }
    };
    let region = img.get_mut(range).ok_or(Error::Internal("cluster range"))?;
    region.fill(0);
    for (slot, name, cluster) in [(0usize, b".          ", me), (1, b"..         ", parent)] {
        let e = &mut region[slot * 32..slot * 32 + 32];
        e[..11].copy_from_slice(name);
        e[raw::DIR_ATTR] = raw::ATTR_DIR;
        e[20..22].copy_from_slice(&((cluster >> 16) as u16).to_le_bytes());
        e[26..28].copy_from_slice(&(cluster as u16).to_le_bytes());
        // creation and write time/date
        e[14..16].copy_from_slice(&time);
        e[16..18].copy_from_slice(&date);
        e[18..20].copy_from_slice(&date);
        e[22..24].copy_from_slice(&time);
        e[24..26].copy_from_slice(&date);
    }
    Ok(())
}

fn mount(img: &mut [u8]) -> Result<fatfs::FileSystem<Cursor<&mut [u8]>>> {
    fatfs::FileSystem::new(Cursor::new(img), fatfs::FsOptions::new()).map_err(esp_err("mounting"))
}

fn write_file(img: &mut [u8], path: &str, data: &[u8]) -> Result<()> {
    let fs = mount(img)?;
    {
        let mut f = fs
            .root_dir()
            .create_file(path)
            .map_err(esp_err("creating a file"))?;
        f.truncate().map_err(esp_err("truncating a file"))?;
        f.write_all(data).map_err(esp_err("writing a file"))?;
        f.flush().map_err(esp_err("writing a file"))?;
    }
    fs.unmount().map_err(esp_err("unmounting"))
}

fn read_file(img: &mut [u8], path: &str) -> Result<Option<Vec<u8>>> {
    let fs = mount(img)?;
    let out = match fs.root_dir().open_file(path) {
        Ok(mut f) => {
            let mut v = Vec::new();
            f.read_to_end(&mut v).map_err(esp_err("reading a file"))?;
            Some(v)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(esp_err("opening a file")(e)),
    };
    fs.unmount().map_err(esp_err("unmounting"))?;
    Ok(out)
}

fn remove_file(img: &mut [u8], path: &str) -> Result<()> {
    let fs = mount(img)?;
    fs.root_dir()
        .remove(path)
        .map_err(esp_err("removing a file"))?;
    fs.unmount().map_err(esp_err("unmounting"))
}

/// Build a complete ESP image of `sectors` sectors of `sector_size` bytes.
pub fn build_image(sector_size: u32, sectors: u64, files: &EspFiles) -> Result<Vec<u8>> {
    let len = usize::try_from(sectors * u64::from(sector_size))
        .map_err(|_| Error::Internal("ESP size"))?;
    let mut img = vec![0u8; len];
    let opts = fatfs::FormatVolumeOptions::new()
        .bytes_per_sector(sector_size as u16)
        .total_sectors(u32::try_from(sectors).map_err(|_| Error::Internal("ESP sectors"))?)
        .volume_label(*LABEL)
        .volume_id(uuid::Uuid::new_v4().as_u128() as u32);
    fatfs::format_volume(Cursor::new(&mut img[..]), opts).map_err(esp_err("formatting"))?;
    for dir in DIRS {
        {
            let fs = mount(&mut img)?;
            fs.root_dir()
                .create_dir(dir)
                .map_err(esp_err("creating a directory"))?;
            fs.unmount().map_err(esp_err("unmounting"))?;
        }
        fix_dot_entries(&mut img, dir)?;
    }
    for (path, data) in files {
        if !data.is_empty() {
            write_file(&mut img, path, data)?;
        }
    }
    Ok(img)
}

/// Read the ESP of a stick into memory.
pub fn read_esp<D: BlockDevice>(dev: &mut D, esp: SectorRange) -> Result<Vec<u8>> {
    let len = usize::try_from(esp.byte_len(dev.sector_size()))
        .map_err(|_| Error::Internal("ESP size"))?;
    let mut img = vec![0u8; len];
    dev.read_sectors(esp.first_lba(), &mut img)
        .map_err(|source| Error::Io {
            what: "reading the ESP",
            source,
        })?;
    Ok(img)
}

/// Read one file of an ESP image (`None` when absent).
pub fn read_image_file(img: &mut [u8], path: &str) -> Result<Option<Vec<u8>>> {
    Geometry::parse(img)?;
    read_file(img, path)
}

/// Which part of the file system a changed sector belongs to, for write ordering.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Class {
    Data,
    Fat,
    Dir,
    Other,
}

struct Writer<'d, D> {
    dev: &'d mut D,
    first_lba: u64,
    ss: usize,
    dir_sectors: BTreeSet<u64>,
    geometry: Geometry,
}

impl<D: BlockDevice> Writer<'_, D> {
    fn class(&self, sector: u64) -> Class {
        let byte = sector * self.ss as u64;
        if self.dir_sectors.contains(&sector) {
            Class::Dir
        } else if self.geometry.fat_range().contains(&byte) {
            Class::Fat
        } else if byte >= self.geometry.first_data_sector * self.geometry.bytes_per_sector {
            Class::Data
        } else {
            Class::Other
        }
    }

    /// Write the sectors where `new` differs from `old`, class by class in `order`, with a
    /// flush after each class; `old` becomes `new`.
    fn apply(&mut self, old: &mut [u8], new: &[u8], order: &[Class]) -> Result<usize> {
        let mut written = 0;
        for &class in order {
            let mut any = false;
            for (i, (o, n)) in old
                .chunks_exact_mut(self.ss)
                .zip(new.chunks_exact(self.ss))
                .enumerate()
            {
                if o != n && self.class(i as u64) == class {
                    self.dev
                        .write_sectors(self.first_lba + i as u64, n)
                        .map_err(|source| Error::Io {
                            what: "writing the ESP",
                            source,
                        })?;
                    o.copy_from_slice(n);
                    any = true;
                    written += 1;
                }
            }
            if any {
                self.dev.flush().map_err(|source| Error::Io {
                    what: "flushing the ESP",
                    source,
                })?;
            }
        }
        Ok(written)
    }
}

/// Replace the ESP's files in place, crash-safely (module documentation). `files` lists
/// every file bootshelf keeps there; one given with empty contents is removed. Returns
/// the number of sectors written (0 when nothing changed).
pub fn update_in_place<D: BlockDevice>(
    dev: &mut D,
    esp: SectorRange,
    files: &EspFiles,
) -> Result<usize> {
    let ss = dev.sector_size() as usize;
    let mut disk = read_esp(dev, esp)?;
    let g = Geometry::parse(&disk)?;
    if g.bytes_per_sector != ss as u64 {
        return Err(Error::BadEsp {
            message: format!(
                "FAT sector size {} differs from the disk's {ss}",
                g.bytes_per_sector
            ),
        });
    }
    let mut dir_sectors = BTreeSet::new();
    let mut add_dir = |r: std::ops::Range<usize>| {
        for s in (r.start / ss)..(r.end / ss) {
            dir_sectors.insert(s as u64);
        }
    };
    add_dir(g.dir_range(None)?);
    for d in DIRS {
        add_dir(g.dir_range(dir_cluster(&disk, &g, d)?)?);
    }
    let mut w = Writer {
        dev,
        first_lba: esp.first_lba(),
        ss,
        dir_sectors,
        geometry: g,
    };
    let grow = [Class::Data, Class::Fat, Class::Dir, Class::Other];
    let shrink = [Class::Dir, Class::Fat, Class::Data, Class::Other];
    let mut written = 0;
    // Leftovers of a killed update: lost clusters, differing FAT copies.
    let mut img = disk.clone();
    collect_garbage(&mut img)?;
    written += w.apply(&mut disk, &img, &[Class::Fat])?;
    for (path, data) in files {
        let (dir_path, name) = path.rsplit_once('/').unwrap_or(("", path));
        let dir = dir_cluster(&disk, &g, dir_path)?;
        let temp_path = if dir_path.is_empty() {
            TEMP_NAME.to_owned()
        } else {
            format!("{dir_path}/{TEMP_NAME}")
        };
        // A temporary left by a killed update: remove it first.
        let mut img = disk.clone();
        if read_file(&mut img, &temp_path)?.is_some() {
            remove_file(&mut img, &temp_path)?;
            written += w.apply(&mut disk, &img, &shrink)?;
        }
        let current = read_file(&mut img, path)?;
        match (&current, data.is_empty()) {
            (Some(c), false) if c.as_slice() == *data => continue,
            (None, true) => continue,
            (Some(_), true) => {
                remove_file(&mut img, path)?;
                written += w.apply(&mut disk, &img, &shrink)?;
            }
            (None, false) => {
                write_file(&mut img, path, data)?;
                written += w.apply(&mut disk, &img, &grow)?;
            }
            (Some(_), false) => {
                // 1. the new contents as the temporary, in free clusters
                write_file(&mut img, &temp_path, data)?;
                written += w.apply(&mut disk, &img, &grow)?;
                // 2. swap cluster and size of the two short entries: one sector
                let short = short_name_of(&mut img, path)?;
                let a = find_sfn(&img, &g, dir, &sfn_bytes(&short))?;
                let b = find_sfn(&img, &g, dir, &sfn_bytes(TEMP_NAME))?;
                let (Some(a), Some(b)) = (a, b) else {
                    return Err(Error::BadEsp {
                        message: format!("cannot find the entries of {name} and {TEMP_NAME}"),
                    });
                };
                if a / ss != b / ss {
                    return Err(Error::BadEsp {
                        message: format!(
                            "entries of {name} and {TEMP_NAME} are in different sectors \
                             (bytes {a} and {b}); cannot swap them atomically"
                        ),
                    });
                }
                for field in [
                    raw::DIR_CLUSTER_HI..raw::DIR_CLUSTER_HI + 2,
                    raw::DIR_CLUSTER_LO..raw::DIR_SIZE + 4,
                ] {
                    let (x, y) = (a + field.start, b + field.start);
                    for k in 0..field.len() {
                        img.swap(x + k, y + k);
                    }
                }
                written += w.apply(&mut disk, &img, &[Class::Dir])?;
                // 3. delete the temporary, which now holds the old contents
                remove_file(&mut img, &temp_path)?;
                written += w.apply(&mut disk, &img, &shrink)?;
            }
        }
    }
    Ok(written)
}

/// The short name fatfs gave `path` ("BOOTSH~1.TXT" for "BOOTSHELF.TXT").
fn short_name_of(img: &mut [u8], path: &str) -> Result<String> {
    let (dir_path, name) = path.rsplit_once('/').unwrap_or(("", path));
    let fs = mount(img)?;
    let out = {
        let dir = if dir_path.is_empty() {
            fs.root_dir()
        } else {
            fs.root_dir()
                .open_dir(dir_path)
                .map_err(esp_err("opening a directory"))?
        };
        let mut found = None;
        for e in dir.iter() {
            let e = e.map_err(esp_err("listing a directory"))?;
            if e.file_name().eq_ignore_ascii_case(name) {
                found = Some(e.short_file_name());
                break;
            }
        }
        found
    };
    fs.unmount().map_err(esp_err("unmounting"))?;
    out.ok_or_else(|| Error::BadEsp {
        message: format!("{path} vanished during the update"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sfn_bytes_pads_name_and_extension() {
        assert_eq!(&sfn_bytes("BOOTX64.EFI"), b"BOOTX64 EFI");
        assert_eq!(&sfn_bytes("EFI"), b"EFI        ");
        assert_eq!(&sfn_bytes("BOOTSH~1.TXT"), b"BOOTSH~1TXT");
    }

    #[test]
    fn built_image_has_plain_dot_entries() {
        for ss in [512u32, 4096] {
            let sectors = (32u64 << 20) / u64::from(ss);
            let mut img =
                build_image(ss, sectors, &[(LOADER_PATH, b"x"), (INFO_PATH, b"info")]).unwrap();
            let g = Geometry::parse(&img).unwrap();
            let efi = dir_cluster(&img, &g, "EFI").unwrap().unwrap();
            let boot = dir_cluster(&img, &g, "EFI/BOOT").unwrap().unwrap();
            let r = g.cluster_range(boot).unwrap();
            assert_eq!(&img[r.start..r.start + 11], b".          ");
            assert_eq!(entry_cluster(&img[r.start..r.start + 32]), boot);
            assert_eq!(&img[r.start + 32..r.start + 43], b"..         ");
            assert_eq!(entry_cluster(&img[r.start + 32..r.start + 64]), efi);
            let r = g.cluster_range(efi).unwrap();
            assert_eq!(entry_cluster(&img[r.start + 32..r.start + 64]), 0);
            assert_eq!(
                read_image_file(&mut img, LOADER_PATH).unwrap().unwrap(),
                b"x"
            );
        }
    }

    #[test]
    fn update_swaps_contents_and_removes_files() {
        for ss in [512u32, 4096] {
            let sectors = (32u64 << 20) / u64::from(ss);
            let img = build_image(
                ss,
                sectors,
                &[(LOADER_PATH, b"old loader"), (INFO_PATH, b"v1")],
            )
            .unwrap();
            let mut dev = blockdev::MemDevice::from_bytes(ss, img);
            let esp = SectorRange::new(0, sectors).unwrap();
            let big = vec![0x5Au8; 100_000];
            let n =
                update_in_place(&mut dev, esp, &[(LOADER_PATH, &big), (INFO_PATH, b"v2")]).unwrap();
            assert!(n > 0);
            let mut img = dev.data.clone();
            assert_eq!(
                read_image_file(&mut img, LOADER_PATH).unwrap().unwrap(),
                big
            );
            assert_eq!(
                read_image_file(&mut img, INFO_PATH).unwrap().unwrap(),
                b"v2"
            );
            assert_eq!(
                read_image_file(&mut img, "EFI/BOOT/BSNEW.TMP").unwrap(),
                None
            );
            // unchanged contents: nothing written
            assert_eq!(
                update_in_place(&mut dev, esp, &[(LOADER_PATH, &big), (INFO_PATH, b"v2")]).unwrap(),
                0
            );
            update_in_place(&mut dev, esp, &[(LOADER_PATH, b""), (INFO_PATH, b"v3")]).unwrap();
            let mut img = dev.data.clone();
            assert_eq!(read_image_file(&mut img, LOADER_PATH).unwrap(), None);
        }
    }
}

#[cfg(test)]
mod fsck_tests {
    use super::*;

    /// A 32 MiB ESP as install makes it, its geometry, and the first cluster of the loader.
    fn esp() -> (Vec<u8>, Geometry, u64) {
        let loader = vec![0x5Au8; 5000];
        let img = build_image(
            512,
            (32 << 20) / 512,
            &[(LOADER_PATH, &loader), (INFO_PATH, b"info")],
        )
        .unwrap();
        let g = Geometry::parse(&img).unwrap();
        let dir = dir_cluster(&img, &g, "EFI/BOOT").unwrap();
        let at = find_sfn(&img, &g, dir, &sfn_bytes("BOOTX64.EFI"))
            .unwrap()
            .unwrap();
        let first = entry_cluster(&img[at..at + 32]);
        (img, g, first)
    }

    fn kinds(img: &[u8]) -> Vec<&'static str> {
        fsck(img).unwrap().iter().map(|i| i.kind()).collect()
    }

    #[test]
    fn a_fresh_esp_is_clean_and_each_damage_is_named() {
        let (img, g, first) = esp();
        assert_eq!(fsck(&img).unwrap(), []);
        let chain_len = 5000u64.div_ceil(g.cluster_bytes());
        assert!(chain_len >= 2, "the loader spans {chain_len} clusters");

        // The chain cut short: its second link points at a free cluster.
        let mut x = img.clone();
        let free = g.clusters; // the last cluster, unused on a fresh ESP
        fat_set(&mut x, &g, 0, first, free);
        fat_set(&mut x, &g, 1, first, free);
        let k = kinds(&x);
        assert!(k.contains(&"esp_bad_chain"), "{k:?}");
        assert!(k.contains(&"esp_lost_clusters"), "{k:?}");

        // Cross-linked: the chain runs into the root of another chain (the info file).
        let mut x = img.clone();
        let info_at = find_sfn(
            &x,
            &g,
            None,
            &sfn_bytes(&short_name_of(&mut x.clone(), INFO_PATH).unwrap()),
        )
        .unwrap()
        .unwrap();
        let info_first = entry_cluster(&x[info_at..info_at + 32]);
        fat_set(&mut x, &g, 0, first, info_first);
        assert!(kinds(&x).contains(&"esp_cross_linked"), "{:?}", kinds(&x));

        // Size larger than the chain.
        let mut x = img.clone();
        let dir = dir_cluster(&x, &g, "EFI/BOOT").unwrap();
        let at = find_sfn(&x, &g, dir, &sfn_bytes("BOOTX64.EFI"))
            .unwrap()
            .unwrap();
        x[at + raw::DIR_SIZE..at + raw::DIR_SIZE + 4].copy_from_slice(&100_000u32.to_le_bytes());
        assert_eq!(kinds(&x), ["esp_size_mismatch"]);

        // FAT copies differ; a lost cluster; both benign.
        let mut x = img.clone();
        fat_set(&mut x, &g, 1, free, 0xFFFF);
        assert_eq!(kinds(&x), ["esp_fat_copies_differ"]);
        fat_set(&mut x, &g, 0, free, 0xFFFF);
        assert_eq!(kinds(&x), ["esp_lost_clusters"]);
        assert!(fsck(&x).unwrap().iter().all(|i| i.is_benign()));

        // A directory gone: its entry deleted.
        let mut x = img.clone();
        let at = find_sfn(&x, &g, None, &sfn_bytes("EFI")).unwrap().unwrap();
        x[at] = 0xE5;
        let k = kinds(&x);
        assert!(k.contains(&"esp_missing_directory"), "{k:?}");

        // Not a FAT at all.
        let mut x = img.clone();
        x[510] = 0;
        assert!(matches!(fsck(&x), Err(Error::BadEsp { .. })));
    }
}

#[cfg(test)]
mod fuzz_tests {
    use super::*;

    /// A damaged ESP (random bytes over the FAT and the directories) must give an error
    /// or a repaired ESP, never a panic; [`fsck`] reads it without panicking too.
    #[test]
    fn damaged_esp_never_panics() {
        let ss = 512u32;
        let sectors = (32u64 << 20) / 512;
        let base =
            build_image(ss, sectors, &[(LOADER_PATH, b"loader"), (INFO_PATH, b"i")]).unwrap();
        let g = Geometry::parse(&base).unwrap();
        let fat = g.fat_range();
        let data0 = (g.first_data_sector * g.bytes_per_sector) as usize;
        let mut seed = 0x9E37_79B9u32;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for round in 0..40 {
            let mut img = base.clone();
            for _ in 0..(1 + rnd() % 40) {
                let region = rnd() % 3;
                let at = match region {
                    0 => fat.start as usize + (rnd() as usize % (fat.end - fat.start) as usize),
                    1 => {
                        data0 - g.root_dir_sectors as usize * 512
                            + rnd() as usize % (g.root_dir_sectors as usize * 512)
                    }
                    _ => data0 + rnd() as usize % 65536,
                };
                img[at] = rnd() as u8;
            }
            let checked = std::panic::catch_unwind(|| fsck(&img));
            assert!(checked.is_ok(), "round {round}: fsck panicked");
            let mut dev = blockdev::MemDevice::from_bytes(ss, img);
            let esp = SectorRange::new(0, sectors).unwrap();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                update_in_place(
                    &mut dev,
                    esp,
                    &[(LOADER_PATH, b"new loader"), (INFO_PATH, b"i2")],
                )
            }));
            assert!(r.is_ok(), "round {round}: update_in_place panicked");
        }
    }
}
