//! Reads an El Torito EFI boot image: the FAT file system (FAT12, FAT16 or FAT32, UEFI
//! spec 13.3) that UEFI firmware mounts from a CD's EFI boot entry. It answers two
//! questions, for `add`/`sync` (crates/shelf), the loaders' scan of ISOs the index lacks,
//! and the Secure Boot check:
//!
//! * which architectures the image serves: which removable-media loaders
//!   `\EFI\BOOT\BOOT{X64,IA32,AA64}.EFI` it holds ([`FatImage::loaders`], an [`ArchSet`]);
//! * the bytes of one file ([`FatImage::find`], [`FatImage::read`],
//!   [`FatImage::read_file`]), the files of a folder ([`FatImage::list`]);
//! * where a file lies, for crates/overlay, which serves a rewritten config in its place:
//!   the byte ranges of its clusters ([`FatImage::extents`]) and of its directory entry
//!   ([`FileRef::entry_offset`]).
//!
//! It is deliberately small: names are matched case-insensitively (ASCII) on the 8.3 short
//! entry or on the long (VFAT) name stored before it, when that one's checksum matches.
//! Everything read is bounded by the image: cluster chains by the cluster count (a loop
//! ends as [`Error::Corrupt`]), directories by [`MAX_DIR_ENTRIES`], files by their
//! directory size and the caller's limit. Hostile images give errors, never panics
//! (fuzzed: fuzz/fuzz_targets/efi_image.rs).
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

extern crate alloc;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use blockdev::{IoError, ReadAt};
use core::fmt;

/// A UEFI machine architecture that has a removable-media loader name (UEFI spec 3.5.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EfiArch {
    /// x86_64 (`BOOTX64.EFI`).
    X64,
    /// 32-bit x86 (`BOOTIA32.EFI`).
    Ia32,
    /// ARM64 (`BOOTAA64.EFI`).
    Aa64,
}

impl EfiArch {
    /// Every architecture, in bit order.
    pub const ALL: [EfiArch; 3] = [EfiArch::X64, EfiArch::Ia32, EfiArch::Aa64];

    /// The architecture the running program was built for (the loaders' own), if UEFI
    /// has a loader name for it.
    pub const NATIVE: Option<EfiArch> = if cfg!(target_arch = "x86_64") {
        Some(EfiArch::X64)
    } else if cfg!(target_arch = "x86") {
        Some(EfiArch::Ia32)
    } else if cfg!(target_arch = "aarch64") {
        Some(EfiArch::Aa64)
    } else {
        None
    };

    /// Its bit in an [`ArchSet`] and in the index (docs/index-format.md: boot entry byte
    /// 12): bit 0 x64, bit 1 ia32, bit 2 aa64.
    pub const fn bit(self) -> u8 {
        match self {
            EfiArch::X64 => 1,
            EfiArch::Ia32 => 2,
            EfiArch::Aa64 => 4,
        }
    }

    /// The removable-media loader's file name in `\EFI\BOOT\`.
    pub const fn file_name(self) -> &'static str {
        match self {
            EfiArch::X64 => "BOOTX64.EFI",
            EfiArch::Ia32 => "BOOTIA32.EFI",
            EfiArch::Aa64 => "BOOTAA64.EFI",
        }
    }

    /// The removable-media loader's full path, as firmware writes it.
    pub const fn boot_path(self) -> &'static str {
        match self {
            EfiArch::X64 => "\\EFI\\BOOT\\BOOTX64.EFI",
            EfiArch::Ia32 => "\\EFI\\BOOT\\BOOTIA32.EFI",
            EfiArch::Aa64 => "\\EFI\\BOOT\\BOOTAA64.EFI",
        }
    }

    /// The name users see (`list`, `inspect`, the menu, `boot-test --arch`).
    pub const fn name(self) -> &'static str {
        match self {
            EfiArch::X64 => "x86_64",
            EfiArch::Ia32 => "ia32",
            EfiArch::Aa64 => "aarch64",
        }
    }

    /// The architecture named `name` ([`EfiArch::name`], or `x64`/`aa64`/`arm64`/`i386`/
    /// `i686`), case-insensitively.
    pub fn from_name(name: &str) -> Option<EfiArch> {
        let n = name.as_bytes();
        let is = |s: &str| n.eq_ignore_ascii_case(s.as_bytes());
        if is("x86_64") || is("x64") || is("amd64") {
            Some(EfiArch::X64)
        } else if is("ia32") || is("i386") || is("i686") || is("x86") {
            Some(EfiArch::Ia32)
        } else if is("aarch64") || is("aa64") || is("arm64") {
            Some(EfiArch::Aa64)
        } else {
            None
        }
    }

    /// The PE machine type (`IMAGE_FILE_MACHINE_*`) of a loader for this architecture.
    pub const fn pe_machine(self) -> u16 {
        match self {
            EfiArch::X64 => 0x8664,
            EfiArch::Ia32 => 0x014c,
            EfiArch::Aa64 => 0xaa64,
        }
    }
}

impl fmt::Display for EfiArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`EfiArch`], stored as the bits of [`EfiArch::bit`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ArchSet(u8);

impl ArchSet {
    /// No architecture.
    pub const EMPTY: ArchSet = ArchSet(0);

    /// The set of `bits` (bits without an architecture are dropped).
    pub const fn from_bits(bits: u8) -> ArchSet {
        ArchSet(bits & 0b111)
    }

    /// The bits of the set.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Whether `arch` is in the set.
    pub const fn contains(self, arch: EfiArch) -> bool {
        self.0 & arch.bit() != 0
    }

    /// Add `arch`.
    pub fn insert(&mut self, arch: EfiArch) {
        self.0 |= arch.bit();
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The architectures in the set, in bit order.
    pub fn iter(self) -> impl Iterator<Item = EfiArch> {
        EfiArch::ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

impl fmt::Display for ArchSet {
    /// `x86_64, aarch64`; `none` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, a) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(a.name())?;
        }
        Ok(())
    }
}

/// Most directory entries read from one directory (32 bytes each: 2 MiB).
pub const MAX_DIR_ENTRIES: u64 = 65536;

/// Why the image could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Reading the image failed.
    Io(IoError),
    /// The image is not a FAT file system: what is wrong with its boot sector.
    NotFat(&'static str),
    /// The FAT file system is damaged: what was found, and at which cluster.
    Corrupt {
        /// What is wrong.
        what: &'static str,
        /// The cluster where it was found.
        cluster: u32,
    },
    /// A file is larger than the caller's limit.
    TooLarge {
        /// The file's size.
        size: u32,
        /// The limit.
        max: u64,
    },
    /// No such file (or a component of the path is not a directory).
    NotFound,
}

impl From<IoError> for Error {
    fn from(e: IoError) -> Self {
        Error::Io(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "reading the EFI boot image: {e}"),
            Error::NotFat(why) => write!(f, "the EFI boot image is not a FAT file system: {why}"),
            Error::Corrupt { what, cluster } => write!(
                f,
                "the EFI boot image's FAT file system is damaged: {what} (cluster {cluster})"
            ),
            Error::TooLarge { size, max } => {
                write!(f, "the file has {size} bytes, more than the {max} allowed")
            }
            Error::NotFound => f.write_str("no such file in the EFI boot image"),
        }
    }
}

impl core::error::Error for Error {}

/// Which FAT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FatType {
    /// 12-bit entries (under 4085 clusters).
    Fat12,
    /// 16-bit entries (under 65525 clusters).
    Fat16,
    /// 28-bit entries.
    Fat32,
}

/// A file found in the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRef {
    /// First cluster (0 for an empty file).
    pub first_cluster: u32,
    /// Size in bytes.
    pub size: u32,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Byte offset in the image of its 32-byte short directory entry (the size is the
    /// little-endian u32 at offset 28 of it).
    pub entry_offset: u64,
}

/// One entry of a folder ([`FatImage::list`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its long name when it has a valid one, else its 8.3 name (`NAME.EXT`, lower-cased
    /// where the entry says so, as Windows and Linux show it).
    pub name: String,
    /// The file.
    pub file: FileRef,
}

/// The layout of the file system, from its boot sector.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    fat_type: FatType,
    cluster_bytes: u64,
    /// Byte offset of the first FAT.
    fat_start: u64,
    /// FAT12/16: the fixed root directory (offset, entries); FAT32: unused.
    root_region: (u64, u64),
    /// FAT32: the root directory's first cluster.
    root_cluster: u32,
    /// Byte offset of cluster 2.
    data_start: u64,
    /// Data clusters: valid cluster numbers are 2 .. clusters + 2.
    clusters: u32,
}

fn le16(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

impl Geometry {
    /// Parse the boot sector (the first 512 bytes). A catalog may give the image a
    /// shorter size than its file system says (many say 1 or 4 sectors); the firmware
    /// reads what the file system says, and so do we, up to the end of the [`ReadAt`]
    /// (reads past it fail as I/O errors).
    fn parse(bs: &[u8; 512]) -> Result<Geometry, Error> {
        let bps = le16(bs, 11);
        if !(512..=4096).contains(&bps) || !bps.is_power_of_two() {
            return Err(Error::NotFat(
                "bytes per sector (offset 11) is not 512 to 4096",
            ));
        }
        let spc = u64::from(bs[13]);
        if spc == 0 || !spc.is_power_of_two() {
            return Err(Error::NotFat(
                "sectors per cluster (offset 13) is not a power of two",
            ));
        }
        let reserved = le16(bs, 14);
        if reserved == 0 {
            return Err(Error::NotFat("no reserved sectors (offset 14)"));
        }
        let fats = u64::from(bs[16]);
        if fats == 0 {
            return Err(Error::NotFat("no FAT (offset 16)"));
        }
        let root_entries = le16(bs, 17);
        let total = match le16(bs, 19) {
            0 => le32(bs, 32),
            n => n,
        };
        let fat_sectors = match le16(bs, 22) {
            0 => le32(bs, 36),
            n => n,
        };
        if fat_sectors == 0 {
            return Err(Error::NotFat("FAT size is 0 (offsets 22 and 36)"));
        }
        let root_sectors = (root_entries * 32).div_ceil(bps);
        let data_sector = reserved + fats * fat_sectors + root_sectors;
        if total <= data_sector {
            return Err(Error::NotFat("the total sector count leaves no data area"));
        }
        let clusters = (total - data_sector) / spc;
        let fat_type = if clusters < 4085 {
            FatType::Fat12
        } else if clusters < 65525 {
            FatType::Fat16
        } else {
            FatType::Fat32
        };
        if fat_type == FatType::Fat32 && root_entries != 0 {
            return Err(Error::NotFat("FAT32 with a fixed root directory"));
        }
        if fat_type != FatType::Fat32 && root_entries == 0 {
            return Err(Error::NotFat("FAT12/16 without a root directory"));
        }
        // Every FAT entry of every cluster must lie inside the FAT.
        let fat_bytes_needed = match fat_type {
            FatType::Fat12 => ((clusters + 2) * 3).div_ceil(2),
            FatType::Fat16 => (clusters + 2) * 2,
            FatType::Fat32 => (clusters + 2) * 4,
        };
        if fat_bytes_needed > fat_sectors * bps {
            return Err(Error::NotFat("the FAT is too small for the cluster count"));
        }
        Ok(Geometry {
            fat_type,
            cluster_bytes: spc * bps,
            fat_start: reserved * bps,
            root_region: ((reserved + fats * fat_sectors) * bps, root_entries),
            root_cluster: if fat_type == FatType::Fat32 {
                le32(bs, 44) as u32 & 0x0FFF_FFFF
            } else {
                0
            },
            data_start: data_sector * bps,
            clusters: u32::try_from(clusters).map_err(|_| Error::NotFat("too many clusters"))?,
        })
    }
}

/// A FAT file system read through a [`ReadAt`] (the EFI boot image: a region of an ISO).
pub struct FatImage<R> {
    r: R,
    g: Geometry,
}

/// What a FAT entry says comes after a cluster.
enum Next {
    Cluster(u32),
    End,
}

/// One 32-byte directory entry, decoded.
struct DirEntry<'n> {
    /// The 8.3 name as stored (8 + 3 bytes, space padded).
    short: [u8; 11],
    /// Byte 12: bit 3, the base is shown lower-case; bit 4, the extension.
    case_flags: u8,
    /// The long name stored before it (UTF-16), when its pieces are whole and their
    /// checksum is this short name's.
    long: Option<&'n [u16]>,
    file: FileRef,
}

/// Longest long name: 20 pieces of 13 UTF-16 units (VFAT allows 255 units).
const LONG_NAME_UNITS: usize = 260;

/// Where the 13 UTF-16 units of a long-name piece are in its 32-byte entry.
const LONG_NAME_AT: [usize; 13] = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

/// The checksum of a short name that its long-name pieces carry (byte 13).
fn short_checksum(short: &[u8; 11]) -> u8 {
    short
        .iter()
        .fold(0u8, |sum, &c| sum.rotate_right(1).wrapping_add(c))
}

/// Whether the UTF-16 long name `long` is `name`, ignoring ASCII case.
fn long_name_is(long: &[u16], name: &str) -> bool {
    let mut units = name.encode_utf16();
    let lower = |u: u16| {
        if (u16::from(b'A')..=u16::from(b'Z')).contains(&u) {
            u + 32
        } else {
            u
        }
    };
    long.iter()
        .all(|&u| units.next().is_some_and(|w| lower(w) == lower(u)))
        && units.next().is_none()
}

/// The name users see of a short entry: `NAME.EXT`, with the case flags applied.
fn short_display(short: &[u8; 11], case_flags: u8) -> String {
    let part = |b: &[u8], lower: bool| {
        b.iter()
            .take_while(|&&c| c != b' ')
            .map(|&c| {
                let c = if lower { c.to_ascii_lowercase() } else { c };
                if c.is_ascii_graphic() {
                    char::from(c)
                } else {
                    char::REPLACEMENT_CHARACTER
                }
            })
            .collect::<String>()
    };
    let mut name = part(&short[..8], case_flags & 0x08 != 0);
    let ext = part(&short[8..], case_flags & 0x10 != 0);
    if !ext.is_empty() {
        name.push('.');
        name.push_str(&ext);
    }
    name
}

impl<R: ReadAt> FatImage<R> {
    /// Open the FAT file system at the start of `r`.
    pub fn open(mut r: R) -> Result<Self, Error> {
        let mut bs = [0u8; 512];
        if r.len() < 512 {
            return Err(Error::NotFat("shorter than one sector"));
        }
        r.read_exact_at(0, &mut bs)?;
        if bs[510..512] != [0x55, 0xAA] {
            return Err(Error::NotFat("no 0x55AA signature at offset 510"));
        }
        let g = Geometry::parse(&bs)?;
        Ok(FatImage { r, g })
    }

    /// Which FAT it is.
    pub fn fat_type(&self) -> FatType {
        self.g.fat_type
    }

    /// The architectures whose removable-media loader (`\EFI\BOOT\BOOT<arch>.EFI`, a
    /// non-empty file) the image holds. An image without `\EFI\BOOT` serves none.
    pub fn loaders(&mut self) -> Result<ArchSet, Error> {
        let mut set = ArchSet::EMPTY;
        let boot = match self.find("/EFI/BOOT") {
            Ok(f) if f.is_dir => f,
            Ok(_) | Err(Error::NotFound) => return Ok(set),
            Err(e) => return Err(e),
        };
        let mut names: [Option<[u8; 11]>; 3] = [None; 3];
        for (slot, arch) in names.iter_mut().zip(EfiArch::ALL) {
            *slot = short_name(arch.file_name());
        }
        self.each_entry(Some(boot.first_cluster), |e| {
            for (name, arch) in names.iter().zip(EfiArch::ALL) {
                if name.as_ref() == Some(&e.short) && !e.file.is_dir && e.file.size > 0 {
                    set.insert(arch);
                }
            }
            true
        })?;
        Ok(set)
    }

    /// The file or directory at `path` (`/EFI/BOOT/BOOTX64.EFI` or `\EFI\BOOT\...`; each
    /// component an 8.3 or long name, matched ignoring ASCII case). The root itself is
    /// not a file.
    pub fn find(&mut self, path: &str) -> Result<FileRef, Error> {
        let mut dir: Option<u32> = None; // None: the root
        let mut found = None;
        for part in path.split(['/', '\\']).filter(|p| !p.is_empty()) {
            if let Some(f) = found {
                let f: FileRef = f;
                if !f.is_dir {
                    return Err(Error::NotFound);
                }
                dir = Some(f.first_cluster);
            }
            let want = short_name(part);
            let mut hit = None;
            self.each_entry(dir, |e| {
                if Some(e.short) == want || e.long.is_some_and(|l| long_name_is(l, part)) {
                    hit = Some(e.file);
                    false
                } else {
                    true
                }
            })?;
            found = Some(hit.ok_or(Error::NotFound)?);
        }
        found.ok_or(Error::NotFound)
    }

    /// Read `buf.len()` bytes of `file` from `offset` (following its cluster chain).
    pub fn read(&mut self, file: &FileRef, offset: u64, buf: &mut [u8]) -> Result<(), Error> {
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= u64::from(file.size))
            .ok_or(Error::Io(IoError::OutOfRange {
                offset,
                len: buf.len() as u64,
                size: u64::from(file.size),
            }))?;
        if buf.is_empty() {
            return Ok(());
        }
        let cb = self.g.cluster_bytes;
        let mut cluster = file.first_cluster;
        let mut index = 0u64; // cluster index within the file
        let mut done = 0usize;
        let mut steps = 0u32;
        while (done as u64) < buf.len() as u64 {
            let at = offset + done as u64;
            let want_index = at / cb;
            while index < want_index {
                cluster = match self.next(cluster)? {
                    Next::Cluster(c) => c,
                    Next::End => {
                        return Err(Error::Corrupt {
                            what: "a file's cluster chain is shorter than its size",
                            cluster,
                        })
                    }
                };
                index += 1;
                steps += 1;
                if steps > self.g.clusters {
                    return Err(Error::Corrupt {
                        what: "a cluster chain loops",
                        cluster,
                    });
                }
            }
            let within = at % cb;
            let n = (cb - within).min(end - at);
            // n <= cluster size <= 32 MiB, so it fits usize on every target.
            let n = n as usize;
            let pos = self.cluster_offset(cluster)? + within;
            self.r.read_exact_at(pos, &mut buf[done..done + n])?;
            done += n;
        }
        Ok(())
    }

    /// The whole of the file at `path`, if it has at most `max` bytes.
    pub fn read_file(&mut self, path: &str, max: u64) -> Result<Vec<u8>, Error> {
        let f = self.find(path)?;
        if f.is_dir {
            return Err(Error::NotFound);
        }
        if u64::from(f.size) > max {
            return Err(Error::TooLarge { size: f.size, max });
        }
        let len = usize::try_from(f.size).map_err(|_| Error::TooLarge { size: f.size, max })?;
        let mut buf = vec![0u8; len];
        self.read(&f, 0, &mut buf)?;
        Ok(buf)
    }

    /// Bytes per cluster.
    pub fn cluster_bytes(&self) -> u64 {
        self.g.cluster_bytes
    }

    /// The entries of the folder `dir` (`None`: the root), at most `max` of them, without
    /// `.` and `..`.
    pub fn list(&mut self, dir: Option<&FileRef>, max: usize) -> Result<Vec<Listed>, Error> {
        let cluster = match dir {
            Some(d) if !d.is_dir => return Err(Error::NotFound),
            Some(d) => Some(d.first_cluster),
            None => None,
        };
        let mut out = Vec::new();
        self.each_entry(cluster, |e| {
            if out.len() >= max {
                return false;
            }
            if e.short[0] == b'.' {
                return true; // `.` and `..`
            }
            let name = match e.long {
                Some(l) => char::decode_utf16(l.iter().copied())
                    .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect(),
                None => short_display(&e.short, e.case_flags),
            };
            out.push(Listed { name, file: e.file });
            true
        })?;
        Ok(out)
    }

    /// Where the first `bytes` bytes of room of `file` are: the byte ranges (offset, length)
    /// in the image of its clusters, in file order, following its cluster chain (which may
    /// hold more than its size rounds up to), merged where consecutive. They cover less
    /// than `bytes` when the chain ends first; an empty file has none.
    pub fn extents(&mut self, file: &FileRef, bytes: u64) -> Result<Vec<(u64, u64)>, Error> {
        let cb = self.g.cluster_bytes;
        let mut out: Vec<(u64, u64)> = Vec::new();
        if file.first_cluster == 0 || bytes == 0 {
            return Ok(out);
        }
        let mut cluster = file.first_cluster;
        let mut covered = 0u64;
        let mut steps = 0u32;
        loop {
            let at = self.cluster_offset(cluster)?;
            match out.last_mut() {
                Some((start, len)) if *start + *len == at => *len += cb,
                _ => out.push((at, cb)),
            }
            covered += cb;
            if covered >= bytes {
                return Ok(out);
            }
            cluster = match self.next(cluster)? {
                Next::Cluster(c) => c,
                Next::End => return Ok(out),
            };
            steps += 1;
            if steps > self.g.clusters {
                return Err(Error::Corrupt {
                    what: "a cluster chain loops",
                    cluster,
                });
            }
        }
    }

    /// Byte offset of `cluster` in the image.
    fn cluster_offset(&self, cluster: u32) -> Result<u64, Error> {
        if cluster < 2 || cluster - 2 >= self.g.clusters {
            return Err(Error::Corrupt {
                what: "a cluster number outside the data area",
                cluster,
            });
        }
        Ok(self.g.data_start + u64::from(cluster - 2) * self.g.cluster_bytes)
    }

    /// What the FAT says follows `cluster`.
    fn next(&mut self, cluster: u32) -> Result<Next, Error> {
        self.cluster_offset(cluster)?; // in range
        let n = u64::from(cluster);
        let value = match self.g.fat_type {
            FatType::Fat12 => {
                let mut b = [0u8; 2];
                self.r.read_exact_at(self.g.fat_start + n * 3 / 2, &mut b)?;
                let v = u16::from_le_bytes(b);
                u32::from(if n % 2 == 0 { v & 0x0FFF } else { v >> 4 })
            }
            FatType::Fat16 => {
                let mut b = [0u8; 2];
                self.r.read_exact_at(self.g.fat_start + n * 2, &mut b)?;
                u32::from(u16::from_le_bytes(b))
            }
            FatType::Fat32 => {
                let mut b = [0u8; 4];
                self.r.read_exact_at(self.g.fat_start + n * 4, &mut b)?;
                u32::from_le_bytes(b) & 0x0FFF_FFFF
            }
        };
        let end_mark = match self.g.fat_type {
            FatType::Fat12 => 0xFF8,
            FatType::Fat16 => 0xFFF8,
            FatType::Fat32 => 0x0FFF_FFF8,
        };
        if value >= end_mark {
            Ok(Next::End)
        } else if value < 2 || value - 2 >= self.g.clusters {
            Err(Error::Corrupt {
                what: "a FAT entry points outside the data area (free or bad cluster in a chain)",
                cluster,
            })
        } else {
            Ok(Next::Cluster(value))
        }
    }

    /// Call `f` on each used short entry of the directory starting at `cluster` (`None`:
    /// the root) until it returns false. Long-name entries, deleted entries and the
    /// volume label are skipped; the directory ends at its first never-used entry.
    fn each_entry(
        &mut self,
        cluster: Option<u32>,
        mut f: impl FnMut(&DirEntry) -> bool,
    ) -> Result<(), Error> {
        // The directory as a run of (byte offset, entries) pieces.
        let root_cluster = self.g.root_cluster;
        let fixed_root = self.g.fat_type != FatType::Fat32;
        let mut chain = match cluster {
            None if fixed_root => None,
            None => Some(root_cluster),
            Some(0) if fixed_root => None, // ".." of a top-level directory is the root
            Some(0) => Some(root_cluster),
            Some(c) => Some(c),
        };
        let per_cluster = self.g.cluster_bytes / 32;
        let mut seen = 0u64;
        let mut steps = 0u32;
        let mut sector = [0u8; 512];
        // The long name being gathered: its units, the piece expected next (they come
        // last piece first, down to 1; 0 when whole), its checksum, and its length.
        let mut long = [0u16; LONG_NAME_UNITS];
        let mut long_next: Option<u8> = None;
        let mut long_sum = 0u8;
        let mut long_len = 0usize;
        loop {
            let (start, entries) = match chain {
                None => self.g.root_region,
                Some(c) => (self.cluster_offset(c)?, per_cluster),
            };
            let mut i = 0;
            while i < entries {
                if seen >= MAX_DIR_ENTRIES {
                    return Ok(());
                }
                if i % 16 == 0 {
                    let n = ((entries - i).min(16) * 32) as usize;
                    self.r.read_exact_at(start + i * 32, &mut sector[..n])?;
                }
                let at = ((i % 16) * 32) as usize;
                let e = &sector[at..at + 32];
                let entry_offset = start + i * 32;
                i += 1;
                seen += 1;
                match e[0] {
                    0x00 => return Ok(()),
                    0xE5 => {
                        long_next = None;
                        continue;
                    }
                    _ => {}
                }
                let attr = e[11];
                if attr & 0x3F == 0x0F {
                    // A long-name piece: number (bit 6: the last piece, stored first).
                    let n = e[0] & 0x1F;
                    if e[0] & 0x40 != 0 && (1..=20).contains(&n) {
                        long_next = Some(n);
                        long_sum = e[13];
                        long_len = usize::from(n) * 13;
                    }
                    match long_next {
                        Some(want) if want == n && n > 0 && e[13] == long_sum => {
                            let base = usize::from(n - 1) * 13;
                            for (k, &p) in LONG_NAME_AT.iter().enumerate() {
                                let u = u16::from_le_bytes([e[p], e[p + 1]]);
                                long[base + k] = u;
                                if u == 0 && base + k < long_len {
                                    long_len = base + k;
                                }
                            }
                            long_next = Some(n - 1);
                        }
                        _ => long_next = None,
                    }
                    continue;
                }
                let pending_long = long_next.take();
                if attr & 0x08 != 0 {
                    continue; // the volume label
                }
                let mut short = [0u8; 11];
                short.copy_from_slice(&e[..11]);
                let long_name =
                    (pending_long == Some(0) && short_checksum(&short) == long_sum && long_len > 0)
                        .then(|| &long[..long_len]);
                if short[0] == 0x05 {
                    short[0] = 0xE5; // a name that really starts with 0xE5
                }
                let hi = if self.g.fat_type == FatType::Fat32 {
                    le16(e, 20) as u32
                } else {
                    0
                };
                let entry = DirEntry {
                    short,
                    case_flags: e[12],
                    long: long_name,
                    file: FileRef {
                        first_cluster: (hi << 16) | le16(e, 26) as u32,
                        size: le32(e, 28) as u32,
                        is_dir: attr & 0x10 != 0,
                        entry_offset,
                    },
                };
                if !f(&entry) {
                    return Ok(());
                }
            }
            let Some(c) = chain else {
                return Ok(()); // the fixed root has no chain
            };
            chain = match self.next(c)? {
                Next::Cluster(n) => Some(n),
                Next::End => return Ok(()),
            };
            steps += 1;
            if steps > self.g.clusters {
                return Err(Error::Corrupt {
                    what: "a directory's cluster chain loops",
                    cluster: c,
                });
            }
        }
    }
}

/// The 8.3 directory form of `name` (`BOOTX64.EFI` -> `BOOTX64 EFI`), upper-cased, or
/// `None` when it does not fit 8.3.
fn short_name(name: &str) -> Option<[u8; 11]> {
    let (base, ext) = match name.rsplit_once('.') {
        Some((b, e)) => (b, e),
        None => (name, ""),
    };
    if base.is_empty() || base.len() > 8 || ext.len() > 3 || base.contains('.') {
        return None;
    }
    let mut out = [b' '; 11];
    for (o, c) in out[..8].iter_mut().zip(base.bytes()) {
        *o = c.to_ascii_uppercase();
    }
    for (o, c) in out[8..].iter_mut().zip(ext.bytes()) {
        *o = c.to_ascii_uppercase();
    }
    Some(out)
}

/// The architectures an EFI boot image serves: [`FatImage::loaders`] of the FAT file
/// system at the start of `r`.
pub fn loaders_of<R: ReadAt>(r: R) -> Result<ArchSet, Error> {
    FatImage::open(r)?.loaders()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_name("BOOTX64.EFI"), Some(*b"BOOTX64 EFI"));
        assert_eq!(short_name("bootaa64.efi"), Some(*b"BOOTAA64EFI"));
        assert_eq!(short_name("EFI"), Some(*b"EFI        "));
        assert_eq!(short_name("toolongname.efi"), None);
        assert_eq!(short_name("a.b.c"), None);
    }

    #[test]
    fn arch_names_and_bits() {
        for a in EfiArch::ALL {
            assert_eq!(EfiArch::from_name(a.name()), Some(a));
            assert!(a.boot_path().ends_with(a.file_name()));
        }
        assert_eq!(EfiArch::from_name("ARM64"), Some(EfiArch::Aa64));
        assert_eq!(EfiArch::from_name("riscv64"), None);
        let mut s = ArchSet::EMPTY;
        s.insert(EfiArch::Aa64);
        s.insert(EfiArch::X64);
        assert_eq!(s.bits(), 0b101);
        assert_eq!(s.to_string(), "x86_64, aarch64");
        assert_eq!(ArchSet::from_bits(0xFF).bits(), 0b111);
        assert_eq!(ArchSet::EMPTY.to_string(), "none");
        assert_eq!(EfiArch::NATIVE, Some(EfiArch::X64));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut img = vec![0u8; 4096];
        assert!(matches!(FatImage::open(&img[..]), Err(Error::NotFat(_))));
        img[510] = 0x55;
        img[511] = 0xAA;
        assert!(matches!(FatImage::open(&img[..]), Err(Error::NotFat(_))));
        assert!(FatImage::open(&img[..100]).is_err());
    }
}
