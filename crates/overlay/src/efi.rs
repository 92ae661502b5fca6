//! The El Torito EFI boot image's own configuration. UEFI firmware mounts the FAT file
//! system of each EFI boot entry's image (read through the virtual CD) and starts its
//! loader, which reads its configuration from that FAT: archiso's systemd-boot reads
//! `/loader/entries/*.conf`, some GRUB images hold a `grub.cfg` with `linux` lines (others
//! only `source` the ISO's own `grub.cfg`, rewritten by [`crate::iso`]: nothing to do
//! there). The same walk and rewriters as for the ISO 9660 tree find and rewrite them.
//!
//! Placement: the image's byte `x` is the ISO's byte `load RBA * 2048 + x` (the image is
//! read up to the ISO's end, its FAT geometry bounds it, as in shelf::catalog), so a
//! rewritten file is served in its own clusters, the rest of them zeroed, and the size in
//! its 32-byte directory entry is patched: both are replaced ISO sectors. A file that
//! would outgrow the clusters its chain has is not moved (that would mean allocating
//! clusters in the image's FAT copies): the build fails with
//! [`BuildError::EfiConfigGrows`] and the menu says the arguments could not be applied.

use alloc::string::String;
use alloc::vec::Vec;

use blockdev::{IoError, ReadAt, Region};
use efi_image::{FatImage, FileRef};
use iso9660::{Emulation, Iso, PlatformId};

use crate::args::KernelArgs;
use crate::iso::{find_and_rewrite, roots, BuildError, ChangedFile, ConfigTree, Limits};
use crate::rewrite::Syntax;
use crate::sectors::{Overlay, SECTOR};

/// Most EFI boot images looked at in one ISO (catalogs list one or two).
const MAX_IMAGES: usize = 8;

/// The FAT of an EFI boot image as a [`ConfigTree`].
struct FatTree<R>(FatImage<R>);

impl<R: ReadAt> ConfigTree for FatTree<R> {
    type File = FileRef;

    fn file(&mut self, path: &str) -> Result<Option<(FileRef, u32, u64)>, BuildError> {
        match self.0.find(path) {
            Ok(f) if !f.is_dir => Ok(Some((f, f.size, u64::from(f.first_cluster)))),
            Ok(_) | Err(efi_image::Error::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn read(&mut self, file: &FileRef, buf: &mut [u8]) -> Result<(), BuildError> {
        Ok(self.0.read(file, 0, buf)?)
    }

    fn files_in(&mut self, dir: &str) -> Result<Vec<String>, BuildError> {
        self.names_in(dir, false)
    }
}

/// What rewriting the EFI boot images gave, ready to be written: new bytes at ISO byte
/// offsets.
#[derive(Default)]
pub(crate) struct Rewritten {
    /// Kernel lines seen in the images' configuration.
    pub(crate) kernel_lines: usize,
    /// (ISO byte offset, bytes) to write: file contents and directory entry sizes.
    writes: Vec<(u64, Vec<u8>)>,
    /// The files changed.
    files: Vec<ChangedFile>,
}

/// The load RBAs of the ISO's El Torito EFI (no emulation) boot images, without repeats.
/// An ISO without a readable catalog has none (the ISO 9660 side decides the rest).
fn efi_images<R: ReadAt>(iso: &mut R) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(mut fs) = Iso::open(&mut *iso) else {
        return out;
    };
    let Ok(Some(cat)) = fs.boot_catalog() else {
        return out;
    };
    for entry in cat.entries(fs.reader()).map_while(Result::ok) {
        if entry.platform == PlatformId::EFI
            && entry.emulation() == Emulation::NONE
            && !out.contains(&entry.load_rba)
            && out.len() < MAX_IMAGES
        {
            out.push(entry.load_rba);
        }
    }
    out
}

/// Find and rewrite the configuration in every EFI boot image of `iso`, and plan where
/// each changed file goes (nothing is written yet: see [`place`]).
pub(crate) fn rewrite_images<R: ReadAt>(
    iso: &mut R,
    args: &KernelArgs,
    limits: &Limits,
) -> Result<Rewritten, BuildError> {
    let mut out = Rewritten::default();
    let iso_len = iso.len();
    for load_rba in efi_images(iso) {
        let start = u64::from(load_rba) * SECTOR as u64;
        let Some(len) = iso_len.checked_sub(start) else {
            continue;
        };
        let Ok(region) = Region::new(&mut *iso, start, len) else {
            continue;
        };
        // Not a FAT: the firmware cannot mount it either; nothing to rewrite.
        let Ok(fat) = FatImage::open(region) else {
            continue;
        };
        let mut tree = FatTree(fat);
        // Vendor folders' grub.cfg (`/EFI/<vendor>/grub.cfg`), where GRUB's prefix is.
        let mut extra = Vec::new();
        for vendor in tree.folders_in("/EFI")? {
            extra.push((alloc::format!("/EFI/{vendor}/grub.cfg"), Syntax::Grub));
        }
        let queue = roots(&mut tree, &extra)?;
        let walked = find_and_rewrite(&mut tree, queue, args, limits)?;
        out.kernel_lines += walked.kernel_lines;
        // First cluster and size of each file written (a second name gets the size).
        let mut placed: Vec<(u32, u32)> = Vec::new();
        for change in walked.changes {
            let file = change.file;
            let size = match placed.iter().find(|p| p.0 == file.first_cluster) {
                Some(&(_, size)) => size,
                None => {
                    let size = plan_file(
                        &mut tree.0,
                        start,
                        iso_len,
                        &file,
                        change.text,
                        &change.path,
                        &mut out.writes,
                    )?;
                    placed.push((file.first_cluster, size));
                    size
                }
            };
            out.writes
                .push((start + file.entry_offset + 28, size.to_le_bytes().to_vec()));
            out.files.push(ChangedFile {
                path: change.path,
                efi_image: Some(load_rba),
                size,
                relocated: false,
            });
        }
        let pending: usize = out.writes.iter().map(|w| w.1.len()).sum();
        if pending > limits.max_overlay_bytes {
            return Err(BuildError::TooBig {
                bytes: pending,
                limit: limits.max_overlay_bytes,
            });
        }
    }
    Ok(out)
}

/// Plan the writes that put `text`, the new content of `file` (of the image at ISO byte
/// `start`, in an ISO of `iso_len` bytes), in the file's clusters, the rest of them
/// zeroed; returns its new size.
fn plan_file<R: ReadAt>(
    fat: &mut FatImage<R>,
    start: u64,
    iso_len: u64,
    file: &FileRef,
    mut text: Vec<u8>,
    path: &str,
    writes: &mut Vec<(u64, Vec<u8>)>,
) -> Result<u32, BuildError> {
    // A file that shrank past a cluster boundary (arguments removed) is padded with empty
    // lines, which every loader's syntax skips: its size still needs every cluster of its
    // chain, and fsck.fat finds nothing to fix.
    let cb = fat.cluster_bytes();
    let old_clusters = u64::from(file.size).div_ceil(cb);
    let least = old_clusters.saturating_sub(1) * cb + u64::from(old_clusters > 0);
    if (text.len() as u64) < least {
        text.resize(least as usize, b'\n');
    }
    let bytes = text.len();
    let extents = fat.extents(file, bytes as u64)?;
    let room: u64 = extents.iter().map(|e| e.1).sum();
    let size = u32::try_from(bytes).ok().filter(|_| room >= bytes as u64);
    let Some(size) = size else {
        return Err(BuildError::EfiConfigGrows {
            path: String::from(path),
            bytes,
            room,
        });
    };
    let mut rest = text.as_slice();
    for (at, n) in extents {
        // Clusters past the old size were never read: a damaged FAT may place them past
        // the ISO's end, where nothing is to be written.
        let end = start.saturating_add(at).saturating_add(n);
        if end > iso_len {
            return Err(BuildError::Io(IoError::OutOfRange {
                offset: start + at,
                len: n,
                size: iso_len,
            }));
        }
        // Extents merge consecutive clusters of a file of at most `max_file_size` plus
        // its arguments: memory the loader has.
        let n = n as usize;
        let take = rest.len().min(n);
        let mut piece = alloc::vec![0u8; n];
        piece[..take].copy_from_slice(&rest[..take]);
        rest = &rest[take..];
        writes.push((start + at, piece));
    }
    Ok(size)
}

impl<R: ReadAt> FatTree<R> {
    /// The names of the folders in folder `dir` (at most 64; none when there is none).
    fn folders_in(&mut self, dir: &str) -> Result<Vec<String>, BuildError> {
        self.names_in(dir, true)
    }

    /// The names of the folders (`folders`) or files in folder `dir` (at most 64; none
    /// when there is no such folder).
    fn names_in(&mut self, dir: &str, folders: bool) -> Result<Vec<String>, BuildError> {
        let d = match self.0.find(dir) {
            Ok(d) if d.is_dir => d,
            Ok(_) | Err(efi_image::Error::NotFound) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        Ok(self
            .0
            .list(Some(&d), 64)?
            .into_iter()
            .filter(|l| l.file.is_dir == folders)
            .map(|l| l.name)
            .collect())
    }
}

/// Write what [`rewrite_images`] planned into `overlay` (read-modify-write of the ISO's
/// sectors of `iso`), and add its files to `files`.
pub(crate) fn place<R: ReadAt>(
    planned: &Rewritten,
    overlay: &mut Overlay,
    iso: &mut R,
    files: &mut Vec<ChangedFile>,
) -> Result<(), BuildError> {
    for (at, bytes) in &planned.writes {
        overlay.write(iso, *at, bytes)?;
    }
    files.extend(planned.files.iter().cloned());
    Ok(())
}
