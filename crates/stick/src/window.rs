//! The ISO window from the CLI's side (docs/window.md): a bootloader writes partition
//! entry 4 over the ISO it chain-boots so that the booted system finds its medium; the
//! entry stays until the next boot or the next `bootshelf` command that writes the stick.
//! [`Stick::open`] with `writable` calls [`Stick::clear_window`] first, so every writing
//! command removes a stale window before it touches anything else.
//!
//! The table is rewritten by `ptable::clear_window` (both GPT copies and their CRCs, or
//! the MBR's fourth record). On a block device the kernel's view is updated too: its
//! partition 4 is deleted with the BLKPG ioctl, so `/dev/sdX4` goes away without
//! re-reading the whole table (which fails while the data partition is mounted).

use crate::layout::{Error, Result, SectorRange, Stick};
use blockdev::BlockDevice;

impl Stick {
    /// Remove the ISO window a boot left behind, if there is one; returns the range it
    /// covered. Needs a stick opened writable. Writes nothing when there is no window.
    pub fn clear_window(&mut self) -> Result<Option<SectorRange>> {
        if self.layout().window.is_none() {
            return Ok(None);
        }
        let path = self.path().to_owned();
        let cleared = ptable::clear_window(self.device()).map_err(|e| match e {
            ptable::Error::Io { error, .. } => Error::Io {
                what: "clearing the ISO window (partition 4)",
                source: error,
            },
            other => Error::Refused {
                path: path.clone(),
                reason: format!(
                    "its ISO window (partition 4) cannot be cleared: {other}; `bootshelf check` \
                     shows the partition table"
                ),
            },
        })?;
        self.device().flush().map_err(|source| Error::Io {
            what: "flushing the cleared ISO window",
            source,
        })?;
        let old = self.forget_window();
        if self.disk_info().is_some() {
            // The table on the disk is right already; a kernel that keeps a stale sdX4
            // only confuses tools until the next re-plug, so a failure is not an error.
            let _ =
                crate::kernel::forget_partition(self.device().file(), crate::layout::WINDOW_ENTRY);
        }
        Ok(cleared
            .and_then(|r| SectorRange::new(r.first(), r.last() - r.first() + 1))
            .or(old))
    }
}

#[cfg(test)]
mod tests {
    use crate::{install, BootCode, InstallOptions, Scheme, Stick};
    use blockdev::{Extent, FileDevice};
    use std::process::Command;

    fn image(scheme: Scheme, sector: u32) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("stick.img");
        let opts = InstallOptions {
            scheme,
            create_size: Some(96 << 20),
            image_sector_size: Some(sector),
            ..InstallOptions::default()
        };
        install(&img, &opts, &BootCode::placeholder()).unwrap();
        (dir, img)
    }

    /// Write a window over 3 MiB at 8 MiB into the data partition, as a loader would.
    fn set_window(img: &std::path::Path, sector: u32) -> ptable::LbaRange {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(img)
            .unwrap();
        let len = file.metadata().unwrap().len();
        let mut dev = FileDevice::new(file, sector, len);
        let ext = [Extent {
            start: 8 << 20,
            len: 3 << 20,
        }];
        ptable::set_window(&mut dev, &ext).unwrap()
    }

    fn verify(img: &std::path::Path, scheme: Scheme) -> (bool, String) {
        let out = match scheme {
            Scheme::Gpt => Command::new("sgdisk").arg("-v").arg(img).output(),
            Scheme::Mbr => Command::new("sfdisk").arg("--verify").arg(img).output(),
        }
        .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    #[test]
    fn a_writable_open_clears_a_stale_window_and_a_read_only_one_reports_it() {
        for (scheme, sector) in [(Scheme::Gpt, 512), (Scheme::Gpt, 4096), (Scheme::Mbr, 512)] {
            let (_dir, img) = image(scheme, sector);
            let r = set_window(&img, sector);
            let ro = Stick::open(&img, false).unwrap();
            let w = ro
                .layout()
                .window
                .expect("read-only open reports the window");
            assert_eq!(
                (w.first_lba(), w.last_lba()),
                (r.first(), r.last()),
                "{scheme} {sector}"
            );
            assert_eq!(w.byte_start(sector), 8 << 20);
            drop(ro);
            // sgdisk reads image files in 512-byte sectors only.
            let checkable = sector == 512;
            if scheme == Scheme::Gpt && checkable {
                let (_, text) = verify(&img, scheme);
                assert!(text.contains("overlap"), "{scheme} {sector}: {text}");
            }
            let before = std::fs::read(&img).unwrap();
            let rw = Stick::open(&img, true).unwrap();
            assert_eq!(rw.layout().window, None, "{scheme} {sector}");
            drop(rw);
            let after = std::fs::read(&img).unwrap();
            assert_ne!(before, after, "the table was rewritten");
            assert_eq!(Stick::open(&img, false).unwrap().layout().window, None);
            if checkable {
                let (ok, text) = verify(&img, scheme);
                assert!(ok && !text.contains("overlap"), "{scheme} {sector}: {text}");
                if scheme == Scheme::Gpt {
                    assert!(text.contains("No problems found"), "{text}");
                }
            }
            // No window: a writable open writes nothing.
            drop(Stick::open(&img, true).unwrap());
            assert_eq!(std::fs::read(&img).unwrap(), after, "{scheme} {sector}");
        }
    }
}
