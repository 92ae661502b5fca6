//! Building an ISO's overlay: find its boot configuration (GRUB, isolinux/syslinux,
//! systemd-boot) and what it pulls in, rewrite the kernel lines ([`crate::rewrite`]),
//! and place each changed file: in its own sectors when it still fits them, else in
//! new sectors past the ISO's end; either way every directory record of the file (the
//! primary tree, which Rock Ridge shares, and the Joliet tree) gets its new size and
//! place. Nothing else changes, and the ISO is only read. Under UEFI the El Torito EFI
//! boot image's own configuration is rewritten too ([`crate::efi`]); finding and
//! rewriting files is one walk ([`find_and_rewrite`]) over either tree ([`ConfigTree`]).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use blockdev::{IoError, ReadAt};
use iso9660::{DirEntry, Iso, Namespace};

use crate::args::KernelArgs;
#[cfg(feature = "efi-image")]
use crate::efi;
use crate::rewrite::{parent, rewrite, Syntax};
use crate::sectors::{Overlay, SECTOR};

/// Where each loader's configuration starts: GRUB's, then isolinux's search order (in
/// the ISO 9660 tree and in the EFI boot image alike).
pub(crate) const ROOTS: &[(&str, Syntax)] = &[
    ("/boot/grub/grub.cfg", Syntax::Grub),
    ("/boot/grub/loopback.cfg", Syntax::Grub),
    ("/EFI/BOOT/grub.cfg", Syntax::Grub),
    ("/boot/grub/x86_64-efi/grub.cfg", Syntax::Grub),
    ("/boot/grub/i386-pc/grub.cfg", Syntax::Grub),
    ("/boot/isolinux/isolinux.cfg", Syntax::Syslinux),
    ("/isolinux/isolinux.cfg", Syntax::Syslinux),
    ("/boot/syslinux/syslinux.cfg", Syntax::Syslinux),
    ("/syslinux/syslinux.cfg", Syntax::Syslinux),
    ("/isolinux.cfg", Syntax::Syslinux),
    ("/syslinux.cfg", Syntax::Syslinux),
];

/// The folder of systemd-boot's entries.
pub(crate) const SYSTEMD_ENTRIES: &str = "/loader/entries";

/// Bounds on the work and memory an ISO can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Config files read (roots and references together).
    pub max_files: usize,
    /// Largest config file read, in bytes (bigger ones are left alone).
    pub max_file_size: u32,
    /// Largest overlay, in bytes of replaced and added sectors.
    pub max_overlay_bytes: usize,
    /// Whether the El Torito EFI boot images' own configuration is rewritten too: only
    /// UEFI firmware reads them (the BIOS loader leaves them out and keeps its small
    /// overlay memory for the files its boot loader reads).
    pub efi_image: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_files: 64,
            max_file_size: 1 << 20,
            max_overlay_bytes: 4 << 20,
            efi_image: true,
        }
    }
}

/// Why the arguments could not be applied (the menu shows it; the ISO is untouched).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// The ISO 9660 file system could not be read.
    Iso(iso9660::Error),
    /// Reading the ISO failed.
    Io(IoError),
    /// No GRUB, isolinux/syslinux or systemd-boot kernel line was found.
    NoKernelLines,
    /// The El Torito EFI boot image's FAT file system could not be read.
    #[cfg(feature = "efi-image")]
    EfiImage(efi_image::Error),
    /// A config file in the El Torito EFI boot image would outgrow the clusters it has
    /// (files there are never moved: see docs/options.md).
    EfiConfigGrows {
        /// Its path in the EFI boot image.
        path: String,
        /// Its size with the arguments.
        bytes: usize,
        /// The bytes of its clusters.
        room: u64,
    },
    /// The changed files need more memory than the loader gives them.
    TooBig {
        /// Bytes of sectors needed.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Iso(e) => write!(f, "its ISO 9660 file system is unreadable: {e}"),
            BuildError::Io(e) => write!(f, "reading it failed: {e}"),
            BuildError::NoKernelLines => f.write_str(
                "no GRUB, isolinux/syslinux or systemd-boot kernel line was found in it",
            ),
            #[cfg(feature = "efi-image")]
            BuildError::EfiImage(e) => write!(f, "{e}"),
            BuildError::EfiConfigGrows { path, bytes, room } => write!(
                f,
                "{path} in its EFI boot image would need {bytes} bytes with them, more than the {room} of its clusters (shorten the arguments)"
            ),
            BuildError::TooBig { bytes, limit } => write!(
                f,
                "its changed configuration needs {bytes} bytes, more than the {limit} the loader has for it"
            ),
        }
    }
}

impl From<iso9660::Error> for BuildError {
    fn from(e: iso9660::Error) -> Self {
        BuildError::Iso(e)
    }
}

#[cfg(feature = "efi-image")]
impl From<efi_image::Error> for BuildError {
    fn from(e: efi_image::Error) -> Self {
        BuildError::EfiImage(e)
    }
}

impl From<IoError> for BuildError {
    fn from(e: IoError) -> Self {
        BuildError::Io(e)
    }
}

/// One file the overlay changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedFile {
    /// Its absolute path in the ISO, or in the EFI boot image when [`Self::efi_image`].
    pub path: String,
    /// The El Torito EFI boot image holding it (its load RBA, the image's first ISO
    /// sector), or `None` for a file of the ISO 9660 tree.
    pub efi_image: Option<u32>,
    /// Its new size in bytes.
    pub size: u32,
    /// Whether it moved past the ISO's end (it outgrew its sectors).
    pub relocated: bool,
}

/// An overlay and what it does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    /// The replaced sectors to serve.
    pub overlay: Overlay,
    /// The files changed.
    pub files: Vec<ChangedFile>,
    /// Kernel lines that got the arguments.
    pub kernel_lines: usize,
}

/// A config file found and rewritten, waiting to be placed; `F` says where it is
/// ([`ConfigTree::File`]).
pub(crate) struct Change<F> {
    pub(crate) path: String,
    pub(crate) file: F,
    pub(crate) text: Vec<u8>,
    /// Where its data starts ([`ConfigTree::file`]).
    pub(crate) data_start: u64,
}

/// What [`find_and_rewrite`] found: the changed files, and the kernel lines seen.
pub(crate) struct Walked<F> {
    pub(crate) changes: Vec<Change<F>>,
    pub(crate) kernel_lines: usize,
}

/// A file system that holds boot configuration: the ISO 9660 tree, or the FAT of an EFI
/// boot image. [`find_and_rewrite`] walks either.
pub(crate) trait ConfigTree {
    /// A file found.
    type File: Clone;
    /// The regular file at absolute `path`: the file, its size, and where its data starts
    /// (two names with the same start are one file); `None` when absent or a folder.
    fn file(&mut self, path: &str) -> Result<Option<(Self::File, u32, u64)>, BuildError>;
    /// The whole of `file` into `buf` (its size long).
    fn read(&mut self, file: &Self::File, buf: &mut [u8]) -> Result<(), BuildError>;
    /// The names of the regular files in folder `dir` (absolute), at most 64; none when
    /// there is no such folder.
    fn files_in(&mut self, dir: &str) -> Result<Vec<String>, BuildError>;
}

/// The ISO 9660 tree (Rock Ridge or Joliet names where present).
struct IsoTree<R>(Iso<R>);

impl<R: ReadAt> ConfigTree for IsoTree<R> {
    type File = DirEntry;

    fn file(&mut self, path: &str) -> Result<Option<(DirEntry, u32, u64)>, BuildError> {
        match self.0.lookup(path) {
            Ok(e) if !e.is_dir() => Ok(Some((e.clone(), e.size, u64::from(e.lba)))),
            Ok(_) | Err(iso9660::Error::NotFound | iso9660::Error::NotADirectory { .. }) => {
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    fn read(&mut self, file: &DirEntry, buf: &mut [u8]) -> Result<(), BuildError> {
        Ok(self.0.read_file(file, 0, buf)?)
    }

    fn files_in(&mut self, dir: &str) -> Result<Vec<String>, BuildError> {
        let fs = &mut self.0;
        let ns = fs.best_namespace();
        let Some(root) = fs.root(ns) else {
            return Ok(Vec::new());
        };
        let dir = match fs.lookup(dir) {
            Ok(e) if e.is_dir() => fs.open_dir(root, &e)?,
            Ok(_) | Err(iso9660::Error::NotFound | iso9660::Error::NotADirectory { .. }) => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for e in fs.entries(dir)?.take(64) {
            let e = e?;
            if let Some(name) = e.name.as_str() {
                if !e.is_dir() {
                    out.push(String::from(name));
                }
            }
        }
        Ok(out)
    }
}

/// Build the overlay that gives every kernel line of the ISO `iso` the arguments `args`.
pub fn build<R: ReadAt>(
    mut iso: R,
    args: &KernelArgs,
    limits: &Limits,
) -> Result<Built, BuildError> {
    let base_len = iso.len();
    let Walked {
        changes,
        kernel_lines,
    } = {
        let mut tree = IsoTree(Iso::open(&mut iso)?);
        let roots = roots(&mut tree, &[])?;
        find_and_rewrite(&mut tree, roots, args, limits)?
    };
    #[cfg(feature = "efi-image")]
    let efi = if limits.efi_image {
        efi::rewrite_images(&mut iso, args, limits)?
    } else {
        efi::Rewritten::default()
    };
    #[cfg(feature = "efi-image")]
    let kernel_lines = kernel_lines + efi.kernel_lines;
    if kernel_lines == 0 {
        return Err(BuildError::NoKernelLines);
    }
    let mut overlay = Overlay::new(base_len);
    let mut files = Vec::new();
    let mut placed: Vec<(u32, u32, bool)> = Vec::new();
    for change in changes {
        let new_size = u32::try_from(change.text.len()).map_err(|_| BuildError::TooBig {
            bytes: change.text.len(),
            limit: limits.max_overlay_bytes,
        })?;
        let old = &change.file;
        // A file linked twice (isolinux.cfg and syslinux.cfg as one extent) is placed once.
        let (lba, relocated) = match placed.iter().find(|p| p.0 == old.lba) {
            Some(&(_, lba, relocated)) => (lba, relocated),
            None => {
                let room = (old.size as usize).div_ceil(SECTOR) * SECTOR;
                let place = if change.text.len() <= room {
                    let mut padded = change.text.clone();
                    padded.resize(room, 0);
                    overlay.write(&mut iso, old.byte_offset(), &padded)?;
                    (old.lba, false)
                } else {
                    (overlay.add(&change.text)?, true)
                };
                placed.push((old.lba, place.0, place.1));
                place
            }
        };
        if overlay.bytes() > limits.max_overlay_bytes {
            return Err(BuildError::TooBig {
                bytes: overlay.bytes(),
                limit: limits.max_overlay_bytes,
            });
        }
        for record in records_of(&mut iso, &overlay, &change)? {
            patch_record(&mut overlay, &mut iso, record, lba, new_size)?;
        }
        files.push(ChangedFile {
            path: change.path,
            efi_image: None,
            size: new_size,
            relocated,
        });
    }
    // The EFI images' files stay in their clusters: nothing there adds sectors.
    #[cfg(feature = "efi-image")]
    efi::place(&efi, &mut overlay, &mut iso, &mut files)?;
    if overlay.len() > base_len {
        grow_volume(&mut overlay, &mut iso)?;
    }
    if overlay.bytes() > limits.max_overlay_bytes {
        return Err(BuildError::TooBig {
            bytes: overlay.bytes(),
            limit: limits.max_overlay_bytes,
        });
    }
    Ok(Built {
        overlay,
        files,
        kernel_lines,
    })
}

/// Where a walk starts: [`ROOTS`], every systemd-boot entry, and `extra` (each with
/// the folder its references start from).
pub(crate) fn roots<T: ConfigTree>(
    tree: &mut T,
    extra: &[(String, Syntax)],
) -> Result<Vec<(String, Syntax, String)>, BuildError> {
    let mut queue: Vec<(String, Syntax, String)> = Vec::new();
    let fixed = ROOTS.iter().map(|(p, s)| (String::from(*p), *s));
    for (path, syntax) in fixed.chain(extra.iter().cloned()) {
        if !queue.iter().any(|q| q.0.eq_ignore_ascii_case(&path)) {
            let prefix = String::from(parent(&path));
            queue.push((path, syntax, prefix));
        }
    }
    for name in tree.files_in(SYSTEMD_ENTRIES)? {
        if name.to_ascii_lowercase().ends_with(".conf") {
            let path = alloc::format!("{SYSTEMD_ENTRIES}/{name}");
            queue.push((path, Syntax::SystemdBoot, String::new()));
        }
    }
    Ok(queue)
}

/// Read every config file reachable from `queue` ([`roots`]: path, syntax, the folder
/// references start from), rewrite it, and return the changed ones with the count of
/// kernel lines seen.
pub(crate) fn find_and_rewrite<T: ConfigTree>(
    tree: &mut T,
    mut queue: Vec<(String, Syntax, String)>,
    args: &KernelArgs,
    limits: &Limits,
) -> Result<Walked<T::File>, BuildError> {
    let mut changes: Vec<Change<T::File>> = Vec::new();
    let mut kernel_lines = 0;
    let mut seen: Vec<u64> = Vec::new();
    let mut i = 0;
    while i < queue.len() && i < limits.max_files {
        let (path, syntax, prefix) = queue[i].clone();
        i += 1;
        let Some((file, size, start)) = tree.file(&path)? else {
            continue;
        };
        if size > limits.max_file_size {
            continue;
        }
        if seen.contains(&start) && size > 0 {
            // The same data under a second name: rewritten once, placed for both.
            if let Some(c) = changes.iter().position(|c| c.data_start == start) {
                let text = changes[c].text.clone();
                changes.push(Change {
                    path,
                    file,
                    text,
                    data_start: start,
                });
            }
            continue;
        }
        seen.push(start);
        let mut text = alloc::vec![0u8; size as usize];
        tree.read(&file, &mut text)?;
        let r = rewrite(syntax, &text, args, &prefix);
        kernel_lines += r.kernel_lines;
        for reference in r.references {
            if !queue.iter().any(|q| q.0.eq_ignore_ascii_case(&reference)) {
                queue.push((reference, syntax, prefix.clone()));
            }
        }
        if let Some(text) = r.text {
            changes.push(Change {
                path,
                file,
                text,
                data_start: start,
            });
        }
    }
    Ok(Walked {
        changes,
        kernel_lines,
    })
}

/// Byte offsets of every directory record of the changed file: the one found, and the
/// same path in the primary (Rock Ridge shares it) and Joliet trees.
fn records_of<R: ReadAt>(
    iso: &mut R,
    overlay: &Overlay,
    change: &Change<DirEntry>,
) -> Result<Vec<u64>, BuildError> {
    let mut records = alloc::vec![change.file.record_offset];
    let reader = crate::sectors::OverlayReader::new(&mut *iso, overlay);
    let mut fs = Iso::open(reader)?;
    for ns in [Namespace::RockRidge, Namespace::Plain, Namespace::Joliet] {
        match fs.lookup_in(ns, &change.path) {
            // Only records of this file: a plain 8.3 name might be another file's.
            Ok(e) if !records.contains(&e.record_offset) && e.lba == change.file.lba => {
                records.push(e.record_offset)
            }
            Ok(_) | Err(iso9660::Error::NotFound | iso9660::Error::NotADirectory { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(records)
}

/// Give the directory record at byte `record` extent `lba` and size `size` (both-endian
/// fields at record offsets 2 and 10, ECMA-119 9.1.3 and 9.1.4).
fn patch_record<R: ReadAt>(
    overlay: &mut Overlay,
    iso: &mut R,
    record: u64,
    lba: u32,
    size: u32,
) -> Result<(), IoError> {
    let mut fields = [0u8; 16];
    fields[0..4].copy_from_slice(&lba.to_le_bytes());
    fields[4..8].copy_from_slice(&lba.to_be_bytes());
    fields[8..12].copy_from_slice(&size.to_le_bytes());
    fields[12..16].copy_from_slice(&size.to_be_bytes());
    overlay.write(iso, record + 2, &fields)
}

/// Make the primary and supplementary (Joliet) volume descriptors' volume space size
/// (both-endian at offset 80, ECMA-119 8.4.8) cover the sectors added past the end, so
/// that readers checking extents against it accept the relocated files.
fn grow_volume<R: ReadAt>(overlay: &mut Overlay, iso: &mut R) -> Result<(), IoError> {
    let Ok(sectors) = u32::try_from(overlay.next_free()) else {
        return Ok(());
    };
    let mut field = [0u8; 8];
    field[..4].copy_from_slice(&sectors.to_le_bytes());
    field[4..].copy_from_slice(&sectors.to_be_bytes());
    for lba in 16u64..16 + 64 {
        let mut head = [0u8; 6];
        overlay.read(iso, lba * SECTOR as u64, &mut head)?;
        if &head[1..6] != b"CD001" || head[0] == 255 {
            break;
        }
        if head[0] == 1 || head[0] == 2 {
            overlay.write(iso, lba * SECTOR as u64 + 80, &field)?;
        }
    }
    Ok(())
}
