//! Hints of what an ISO is, from the files it holds: `/casper` (Ubuntu live), `/live`
//! (Debian live), `/arch`, `/isolinux`, `/boot/grub`, `/EFI/BOOT`, `/sources/boot.wim`
//! (Windows), and more. A hint is a name and the paths whose presence sets it.

use crate::dir::{self, Dir};
use crate::error::{Error, Result};
use blockdev::ReadAt;

/// One kind of ISO and the paths that reveal it (any one of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hint {
    /// Stable short name, used in `bootshelf inspect --json`.
    pub name: &'static str,
    /// Paths whose presence sets the hint.
    pub paths: &'static [&'static str],
    /// What it means, for people.
    pub what: &'static str,
}

/// Every hint this crate knows, in report order.
pub const HINTS: &[Hint] = &[
    Hint {
        name: "casper",
        paths: &["/casper"],
        what: "Ubuntu-style live system (casper)",
    },
    Hint {
        name: "debian-live",
        paths: &["/live"],
        what: "Debian live system (live-boot)",
    },
    Hint {
        name: "archiso",
        paths: &["/arch"],
        what: "Arch Linux (archiso)",
    },
    Hint {
        name: "fedora-liveos",
        paths: &["/LiveOS"],
        what: "Fedora/RHEL live image (dracut dmsquash-live)",
    },
    Hint {
        name: "anaconda",
        paths: &["/images/pxeboot"],
        what: "Fedora/RHEL installer (anaconda)",
    },
    Hint {
        name: "debian-installer",
        paths: &["/install.amd", "/install.386", "/install.a64"],
        what: "Debian installer",
    },
    Hint {
        name: "suse",
        paths: &["/boot/x86_64/loader"],
        what: "openSUSE / SUSE",
    },
    Hint {
        name: "alpine",
        paths: &["/apks"],
        what: "Alpine Linux",
    },
    Hint {
        name: "freebsd",
        paths: &["/boot/kernel/kernel"],
        what: "FreeBSD",
    },
    Hint {
        name: "windows",
        paths: &["/sources/boot.wim"],
        what: "Windows setup (boot.wim)",
    },
    Hint {
        name: "isolinux",
        paths: &[
            "/isolinux",
            "/boot/isolinux",
            "/isolinux.bin",
            "/isolinux.cfg",
        ],
        what: "ISOLINUX (BIOS)",
    },
    Hint {
        name: "syslinux",
        paths: &["/syslinux", "/boot/syslinux"],
        what: "SYSLINUX",
    },
    Hint {
        name: "grub",
        paths: &["/boot/grub", "/boot/grub2"],
        what: "GRUB",
    },
    Hint {
        name: "efi-boot",
        paths: &["/EFI/BOOT"],
        what: "UEFI removable-media loader directory (/EFI/BOOT)",
    },
    Hint {
        name: "ipxe",
        paths: &["/ipxe.krn", "/ipxe.lkrn"],
        what: "iPXE",
    },
    Hint {
        name: "disk-info",
        paths: &["/.disk/info"],
        what: "Debian/Ubuntu disc info (/.disk/info)",
    },
];

const _: () = assert!(HINTS.len() <= 32, "Hints is a u32 bit set");

/// A set of [`HINTS`], by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Hints(pub u32);

impl Hints {
    /// Whether the hint named `name` is set.
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|h| h.name == name)
    }

    /// The hints set, in [`HINTS`] order.
    pub fn iter(&self) -> impl Iterator<Item = &'static Hint> + '_ {
        HINTS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, h)| h)
    }
}

/// Look every hint's paths up under `root`. Paths that are missing, or whose parent is
/// a file, do not set the hint; any other error (a malformed directory) is returned.
pub fn detect<R: ReadAt + ?Sized>(r: &mut R, root: Dir) -> Result<Hints> {
    let mut set = 0u32;
    for (i, hint) in HINTS.iter().enumerate() {
        for path in hint.paths {
            match dir::lookup(r, root, path) {
                Ok(_) => {
                    set |= 1 << i;
                    break;
                }
                Err(Error::NotFound | Error::NotADirectory { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(Hints(set))
}
