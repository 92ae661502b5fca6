//! The ISO window from the CLI's side (docs/window.md): a bootloader writes partition
//! entry 4 over the ISO it chain-boots so that the booted system finds its medium (and
//! GPT entry 5 / MBR slot 3 over its persistence file, docs/persistence.md); the entries
//! stay until the next boot or the next `bootshelf` command that writes the stick.
//! [`Stick::open`] with `writable` calls [`Stick::clear_window`] first, so every writing
//! command removes a stale window before it touches anything else.
//!
//! The table is rewritten by `ptable::clear_window` (both GPT copies and their CRCs, or
//! the MBR's records 4 and 3 and, in the same sector, the data partition's type, emptied
//! while a window is set). The kernel keeps its `sdX1` through that: Linux lists an MBR
//! record by its size, not its type. On a block device the kernel's view is updated too: its
//! partition 4 is deleted with the BLKPG ioctl, so `/dev/sdX4` goes away without
//! re-reading the whole table (which fails while the data partition is mounted).

use crate::layout::{Error, Result, SectorRange, Stick};
use blockdev::BlockDevice;

impl Stick {
    /// Remove the ISO window a boot left behind, if there is one; returns the range it
    /// covered. Needs a stick opened writable. Writes nothing when there is no window.
    pub fn clear_window(&mut self) -> Result<Option<SectorRange>> {
        if self.layout().window.is_none() && self.layout().persistence_window.is_none() {
            return Ok(None);
        }
        let persistence_number = match self.layout().scheme {
            crate::Scheme::Gpt => ptable::layout::PERSISTENCE_GPT_NUMBER,
            crate::Scheme::Mbr => ptable::layout::PERSISTENCE_MBR_NUMBER,
        };
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
            let _ = crate::kernel::forget_partition(self.device().file(), persistence_number);
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

    #[test]
    fn an_mbr_stick_after_a_boot_opens_with_its_hidden_data_partition_and_is_restored_exactly() {
        let (_dir, img) = image(Scheme::Mbr, 512);
        let installed = std::fs::read(&img).unwrap();
        let planned = *Stick::open(&img, false).unwrap().layout();
        assert!(!planned.data_hidden);
        set_window(&img, 512);
        let booted = std::fs::read(&img).unwrap();
        assert_eq!(booted[446 + 4], 0x00, "record 1's type is emptied");
        let ro = Stick::open(&img, false).unwrap();
        let found = *ro.layout();
        drop(ro);
        assert!(found.data_hidden);
        assert_eq!(
            (found.data, found.esp, found.bios_boot),
            (planned.data, planned.esp, planned.bios_boot)
        );
        assert_eq!(
            crate::check::data_entry_hidden(&found),
            Some(crate::check::Finding::DataPartitionHidden)
        );
        assert_eq!(
            std::fs::read(&img).unwrap(),
            booted,
            "a read-only open writes nothing"
        );
        let rw = Stick::open(&img, true).unwrap();
        assert!(!rw.layout().data_hidden);
        assert_eq!(rw.layout().window, None);
        drop(rw);
        assert_eq!(
            std::fs::read(&img).unwrap(),
            installed,
            "clearing gives back the installed stick byte for byte"
        );
        assert_eq!(crate::check::data_entry_hidden(&planned), None);
    }

    #[test]
    fn the_persistence_window_is_written_with_the_iso_window_and_cleared_with_it() {
        for (scheme, sector) in [(Scheme::Gpt, 512), (Scheme::Mbr, 512), (Scheme::Gpt, 4096)] {
            let (_dir, img) = image(scheme, sector);
            let before = std::fs::read(&img).unwrap();
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&img)
                .unwrap();
            let len = file.metadata().unwrap().len();
            let mut dev = FileDevice::new(file, sector, len);
            let iso = [Extent {
                start: 8 << 20,
                len: 3 << 20,
            }];
            // Overlapping the ISO: refused, nothing written.
            let overlapping = [Extent {
                start: 10 << 20,
                len: 4 << 20,
            }];
            assert!(matches!(
                ptable::set_windows(&mut dev, &iso, Some(&overlapping)),
                Err(ptable::Error::PersistenceOverlapsIso { .. })
            ));
            // Outside the data partition: refused, nothing written.
            let outside = [Extent {
                start: len - (1 << 20),
                len: 1 << 20,
            }];
            assert!(matches!(
                ptable::set_windows(&mut dev, &iso, Some(&outside)),
                Err(ptable::Error::Persistence(_))
            ));
            drop(dev);
            assert_eq!(std::fs::read(&img).unwrap(), before, "{scheme} {sector}");
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&img)
                .unwrap();
            let mut dev = FileDevice::new(file, sector, len);
            let pers = [Extent {
                start: 16 << 20,
                len: 5 << 20,
            }];
            let w = ptable::set_windows(&mut dev, &iso, Some(&pers)).unwrap();
            let p = w.persistence.unwrap();
            assert_eq!(p.first() * u64::from(sector), 16 << 20);
            drop(dev);
            let ro = Stick::open(&img, false).unwrap();
            let pw = ro.layout().persistence_window.expect("persistence window");
            assert_eq!(pw.byte_start(sector), 16 << 20, "{scheme} {sector}");
            assert_eq!(pw.byte_len(sector), 5 << 20);
            assert!(ro.layout().window.is_some());
            drop(ro);
            if sector == 512 {
                // sfdisk lists the writable window as partition 3 (MBR) / 5 (GPT).
                let out = Command::new("sfdisk").arg("-d").arg(&img).output().unwrap();
                let text = String::from_utf8_lossy(&out.stdout).to_string();
                let n = if scheme == Scheme::Gpt { 5 } else { 3 };
                let line = text
                    .lines()
                    .find(|l| l.contains(&format!("img{n} ")))
                    .unwrap_or_else(|| panic!("{text}"));
                assert!(line.contains("start=       32768"), "{line}");
                if scheme == Scheme::Gpt {
                    assert!(line.contains("bootshelf persistence window"), "{line}");
                }
            }
            let rw = Stick::open(&img, true).unwrap();
            assert_eq!(rw.layout().window, None);
            assert_eq!(rw.layout().persistence_window, None);
            drop(rw);
            let ro = Stick::open(&img, false).unwrap();
            assert_eq!(ro.layout().persistence_window, None, "{scheme} {sector}");
            drop(ro);
            if sector == 512 {
                let (ok, text) = verify(&img, scheme);
                assert!(ok && !text.contains("overlap"), "{scheme}: {text}");
            }
        }
    }
}
