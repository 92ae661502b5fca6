//! Building an ISO's overlay: find its boot configuration (GRUB, isolinux/syslinux,
//! systemd-boot) and what it pulls in, rewrite the kernel lines ([`crate::rewrite`]),
//! and place each changed file: in its own sectors when it still fits them, else in
//! new sectors past the ISO's end; either way every directory record of the file (the
//! primary tree, which Rock Ridge shares, and the Joliet tree) gets its new size and
//! place. Nothing else changes, and the ISO is only read.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use blockdev::{IoError, ReadAt};
use iso9660::{DirEntry, Iso, Namespace};

use crate::args::KernelArgs;
use crate::rewrite::{parent, rewrite, Syntax};
use crate::sectors::{Overlay, SECTOR};

/// Where each loader's configuration starts: GRUB's, then isolinux's search order.
const ROOTS: &[(&str, Syntax)] = &[
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
const SYSTEMD_ENTRIES: &str = "/loader/entries";

/// Bounds on the work and memory an ISO can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Config files read (roots and references together).
    pub max_files: usize,
    /// Largest config file read, in bytes (bigger ones are left alone).
    pub max_file_size: u32,
    /// Largest overlay, in bytes of replaced and added sectors.
    pub max_overlay_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_files: 64,
            max_file_size: 1 << 20,
            max_overlay_bytes: 4 << 20,
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

impl From<IoError> for BuildError {
    fn from(e: IoError) -> Self {
        BuildError::Io(e)
    }
}

/// One file the overlay changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedFile {
    /// Its absolute path in the ISO.
    pub path: String,
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

/// A config file found and rewritten, waiting to be placed.
struct Change {
    path: String,
    entry: DirEntry,
    text: Vec<u8>,
}

/// Build the overlay that gives every kernel line of the ISO `iso` the arguments `args`.
pub fn build<R: ReadAt>(
    mut iso: R,
    args: &KernelArgs,
    limits: &Limits,
) -> Result<Built, BuildError> {
    let base_len = iso.len();
    let (changes, kernel_lines) = find_and_rewrite(&mut iso, args, limits)?;
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
        let old = &change.entry;
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
            size: new_size,
            relocated,
        });
    }
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

/// Read every config file reachable from [`ROOTS`] and systemd-boot's entries, rewrite
/// it, and return the changed ones with the count of kernel lines seen.
fn find_and_rewrite<R: ReadAt>(
    iso: &mut R,
    args: &KernelArgs,
    limits: &Limits,
) -> Result<(Vec<Change>, usize), BuildError> {
    let mut fs = Iso::open(&mut *iso)?;
    let mut queue: Vec<(String, Syntax, String)> = Vec::new();
    for (path, syntax) in ROOTS {
        let prefix = String::from(parent(path));
        queue.push((String::from(*path), *syntax, prefix));
    }
    for path in systemd_entries(&mut fs)? {
        queue.push((path, Syntax::SystemdBoot, String::new()));
    }
    let mut changes: Vec<Change> = Vec::new();
    let mut kernel_lines = 0;
    let mut seen: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < queue.len() && i < limits.max_files {
        let (path, syntax, prefix) = queue[i].clone();
        i += 1;
        let entry = match fs.lookup(&path) {
            Ok(e) => e,
            Err(iso9660::Error::NotFound | iso9660::Error::NotADirectory { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        if entry.is_dir() || entry.size > limits.max_file_size {
            continue;
        }
        if seen.contains(&entry.lba) && entry.size > 0 {
            // The same extent under a second name: rewritten once, placed for both.
            if let Some(c) = changes.iter().find(|c| c.entry.lba == entry.lba) {
                let text = c.text.clone();
                changes.push(Change { path, entry, text });
            }
            continue;
        }
        seen.push(entry.lba);
        let mut text = alloc::vec![0u8; entry.size as usize];
        fs.read_file(&entry, 0, &mut text)?;
        let r = rewrite(syntax, &text, args, &prefix);
        kernel_lines += r.kernel_lines;
        for reference in r.references {
            if !queue.iter().any(|q| q.0.eq_ignore_ascii_case(&reference)) {
                queue.push((reference, syntax, prefix.clone()));
            }
        }
        if let Some(text) = r.text {
            changes.push(Change { path, entry, text });
        }
    }
    Ok((changes, kernel_lines))
}

/// The `*.conf` files of `/loader/entries`, when there is such a folder.
fn systemd_entries<R: ReadAt>(fs: &mut Iso<R>) -> Result<Vec<String>, BuildError> {
    let ns = fs.best_namespace();
    let Some(root) = fs.root(ns) else {
        return Ok(Vec::new());
    };
    let dir = match fs.lookup(SYSTEMD_ENTRIES) {
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
            if !e.is_dir() && name.to_ascii_lowercase().ends_with(".conf") {
                out.push(alloc::format!("{SYSTEMD_ENTRIES}/{name}"));
            }
        }
    }
    Ok(out)
}

/// Byte offsets of every directory record of the changed file: the one found, and the
/// same path in the primary (Rock Ridge shares it) and Joliet trees.
fn records_of<R: ReadAt>(
    iso: &mut R,
    overlay: &Overlay,
    change: &Change,
) -> Result<Vec<u64>, BuildError> {
    let mut records = alloc::vec![change.entry.record_offset];
    let reader = crate::sectors::OverlayReader::new(&mut *iso, overlay);
    let mut fs = Iso::open(reader)?;
    for ns in [Namespace::RockRidge, Namespace::Plain, Namespace::Joliet] {
        match fs.lookup_in(ns, &change.path) {
            // Only records of this file: a plain 8.3 name might be another file's.
            Ok(e) if !records.contains(&e.record_offset) && e.lba == change.entry.lba => {
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
