//! ISO 9660 and El Torito, read-only and `no_std`: volume descriptors (primary, Joliet,
//! boot record, terminator), directory lookup by path in the plain, Joliet and Rock
//! Ridge namespaces, the whole El Torito boot catalog, the real size of boot images,
//! hybrid (MBR / GPT / appended partition) detection and hints of what an ISO is.
//!
//! Everything reads through [`blockdev::ReadAt`], so the same code runs in the CLI (an
//! image file), in the UEFI loader (Block I/O) and in the BIOS loader (INT 13h). No
//! allocator is needed anywhere: iterators and fixed buffers instead of vectors. Hostile
//! input gives an [`Error`] naming the problem and its byte offset; every loop is
//! bounded (descriptors, catalog entries, continuation areas, directory depth and
//! count).
//!
//! Layers: [`raw`] holds the on-disk structs named as the specs name them; the modules
//! above it validate one rule per function; [`Iso`] ties them together.
//!
//! ```no_run
//! # fn demo(bytes: &[u8]) -> Result<(), iso9660::Error> {
//! let mut iso = iso9660::Iso::open(bytes)?;
//! println!("label {}", iso.volume().label());
//! if let Some(catalog) = iso.boot_catalog()? {
//!     for entry in catalog.entries(iso.reader()) {
//!         let entry = entry?;
//!         println!("{:?} {:?} at {}", entry.platform, entry.emulation(), entry.load_rba);
//!     }
//! }
//! let efi = iso.lookup("/EFI/BOOT/BOOTX64.EFI")?;
//! println!("{} bytes at block {}", efi.size, efi.lba);
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod bootimage;
pub mod descriptor;
pub mod dir;
pub mod eltorito;
pub mod error;
pub mod hints;
pub mod hybrid;
pub mod raw;
pub mod susp;

pub use blockdev::ReadAt;
pub use bootimage::{ImageSize, SizeSource};
pub use descriptor::{DecDateTime, DirExtent, Joliet, Volume};
pub use dir::{Dir, DirEntry, Entries, FileFlags, Name, Namespace};
pub use eltorito::{
    BootCatalog, BootEntries, BootEntry, Emulation, MediaType, PlatformId, Section,
};
pub use error::{Error, Result};
pub use hints::{Hint, Hints, HINTS};
pub use hybrid::{Gpt, Hybrid, Mbr};

use raw::{DIRECTORY_RECORD_FIXED_LEN, SECTOR_SIZE};

/// An opened ISO image.
pub struct Iso<R> {
    r: R,
    volume: Volume,
    /// Rock Ridge: the SP skip length, when the root's `.` record carries SUSP with RRIP.
    rock_ridge: Option<u8>,
}

impl<R: ReadAt> Iso<R> {
    /// Read and validate the volume descriptors and detect Rock Ridge.
    pub fn open(mut r: R) -> Result<Self> {
        let volume = Volume::read(&mut r)?;
        let rock_ridge = detect_rock_ridge(&mut r, &volume)?;
        Ok(Iso {
            r,
            volume,
            rock_ridge,
        })
    }

    /// The volume descriptor set.
    pub fn volume(&self) -> &Volume {
        &self.volume
    }

    /// The reader, for the iterators that borrow it.
    pub fn reader(&mut self) -> &mut R {
        &mut self.r
    }

    /// Give the reader back.
    pub fn into_inner(self) -> R {
        self.r
    }

    /// Whether the primary tree carries Rock Ridge names.
    pub fn has_rock_ridge(&self) -> bool {
        self.rock_ridge.is_some()
    }

    /// The Joliet level (1-3), if there is a Joliet tree.
    pub fn joliet_level(&self) -> Option<u8> {
        self.volume.joliet.map(|j| j.level)
    }

    /// The best namespace present: Rock Ridge, else Joliet, else plain ISO 9660.
    pub fn best_namespace(&self) -> Namespace {
        if self.rock_ridge.is_some() {
            Namespace::RockRidge
        } else if self.volume.joliet.is_some() {
            Namespace::Joliet
        } else {
            Namespace::Plain
        }
    }

    /// The root directory in `ns`, or `None` when the image lacks that namespace.
    pub fn root(&self, ns: Namespace) -> Option<Dir> {
        match ns {
            Namespace::Plain => Some(Dir {
                extent: self.volume.root,
                namespace: ns,
                susp_skip: 0,
            }),
            Namespace::RockRidge => self.rock_ridge.map(|skip| Dir {
                extent: self.volume.root,
                namespace: ns,
                susp_skip: skip,
            }),
            Namespace::Joliet => self.volume.joliet.map(|j| Dir {
                extent: j.root,
                namespace: ns,
                susp_skip: 0,
            }),
        }
    }

    fn best_root(&self) -> Dir {
        let ns = self.best_namespace();
        self.root(ns).unwrap_or(Dir {
            extent: self.volume.root,
            namespace: Namespace::Plain,
            susp_skip: 0,
        })
    }

    /// Iterate the entries of `dir` (from [`Iso::root`] or [`Iso::open_dir`]).
    pub fn entries(&mut self, dir: Dir) -> Result<Entries<'_, R>> {
        Entries::new(&mut self.r, dir, 0)
    }

    /// The directory an entry stands for.
    pub fn open_dir(&mut self, parent: Dir, entry: &DirEntry) -> Result<Dir> {
        if !entry.is_dir() {
            return Err(Error::NotADirectory {
                offset: entry.record_offset,
            });
        }
        dir::subdir(&mut self.r, &parent, entry)
    }

    /// Look up an absolute path in the best namespace, ignoring ASCII case.
    pub fn lookup(&mut self, path: &str) -> Result<DirEntry> {
        let root = self.best_root();
        dir::lookup(&mut self.r, root, path)
    }

    /// Look up an absolute path in namespace `ns` ([`Error::NotFound`] if it is absent).
    pub fn lookup_in(&mut self, ns: Namespace, path: &str) -> Result<DirEntry> {
        let root = self.root(ns).ok_or(Error::NotFound)?;
        dir::lookup(&mut self.r, root, path)
    }

    /// Read `buf.len()` bytes of a file from `offset` within it.
    pub fn read_file(&mut self, entry: &DirEntry, offset: u64, buf: &mut [u8]) -> Result<()> {
        let end = offset.checked_add(buf.len() as u64);
        if end.is_none_or(|e| e > u64::from(entry.size)) {
            return Err(Error::ExtentPastEnd {
                offset: entry.record_offset,
                lba: entry.lba,
                len: offset.saturating_add(buf.len() as u64),
                image_size: u64::from(entry.size),
            });
        }
        descriptor::validate_extent(
            entry.record_offset,
            entry.lba,
            u64::from(entry.size),
            self.r.len(),
        )?;
        error::read_at(&mut self.r, entry.byte_offset() + offset, buf)
    }

    /// The boot catalog, validated, if the image has an El Torito boot record.
    pub fn boot_catalog(&mut self) -> Result<Option<BootCatalog>> {
        match self.volume.boot_catalog {
            Some(lba) => BootCatalog::read(&mut self.r, lba).map(Some),
            None => Ok(None),
        }
    }

    /// The real size of a boot entry's image (see [`bootimage`]).
    pub fn image_size(&mut self, entry: &BootEntry) -> Result<ImageSize> {
        let root = self.root(Namespace::Plain).unwrap_or(self.best_root());
        bootimage::image_size(&mut self.r, root, entry)
    }

    /// What the system area holds (MBR, GPT, Apple partition map).
    pub fn hybrid(&mut self) -> Result<Hybrid> {
        Hybrid::read(&mut self.r)
    }

    /// Hints of what the ISO is.
    pub fn hints(&mut self) -> Result<Hints> {
        let root = self.best_root();
        hints::detect(&mut self.r, root)
    }
}

/// Rock Ridge is present when the root's `.` record starts its system use area with a
/// SUSP "SP" entry and the area (or its continuations) has an RRIP "ER" or RRIP entries.
fn detect_rock_ridge<R: ReadAt + ?Sized>(r: &mut R, v: &Volume) -> Result<Option<u8>> {
    if v.root.size == 0 {
        return Ok(None);
    }
    let mut sector = [0u8; SECTOR_SIZE];
    let offset = u64::from(v.root.lba) * SECTOR_SIZE as u64;
    error::read_at(r, offset, &mut sector)?;
    let len = usize::from(sector[0]);
    let name_len = usize::from(sector[32]);
    let su_start = DIRECTORY_RECORD_FIXED_LEN + name_len + (1 - name_len % 2);
    if len < DIRECTORY_RECORD_FIXED_LEN + 1 || su_start + 7 > len {
        return Ok(None);
    }
    let Some(area) = sector.get(su_start..len) else {
        return Ok(None);
    };
    if &area[..2] != b"SP" {
        return Ok(None);
    }
    let mut ce = [0u8; SECTOR_SIZE];
    let rr = susp::RockRidge::read(r, area, offset + su_start as u64, &mut ce, offset)?;
    Ok(match rr.sp_skip {
        Some(skip) if rr.rrip_extension || rr.any => Some(skip),
        _ => None,
    })
}
