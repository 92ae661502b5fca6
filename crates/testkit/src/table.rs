//! Bootshelf-shaped partition tables made by the real partitioning tools, not by the code
//! under test: a data partition from 1 MiB, the ESP right after it, and (GPT, on request)
//! a BIOS boot partition 3 in sectors 34..2047. GPT on 512-byte sectors by sgdisk, GPT on
//! 4096-byte sectors by fdisk (`-b 4096`, data from sector 256), MBR by sfdisk.

use crate::cmd;
use std::path::Path;
use std::process::Command;

/// The table and sector size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableKind {
    /// GPT, 512-byte sectors (sgdisk).
    Gpt512,
    /// GPT, 4096-byte sectors (fdisk -b 4096).
    Gpt4096,
    /// MBR, 512-byte sectors (sfdisk).
    Mbr512,
}

impl TableKind {
    /// The logical sector size of the image.
    pub fn sector_size(self) -> u32 {
        match self {
            TableKind::Gpt4096 => 4096,
            TableKind::Gpt512 | TableKind::Mbr512 => 512,
        }
    }
}

/// What to partition.
#[derive(Clone, Copy, Debug)]
pub struct TableSpec {
    /// Table and sector size.
    pub kind: TableKind,
    /// Size of the data partition (partition 1) in MiB.
    pub data_mib: u64,
    /// Size of the ESP (partition 2) in MiB.
    pub esp_mib: u64,
    /// Add the BIOS boot partition 3 (sectors 34..2047; GPT on 512-byte sectors only).
    pub bios_boot: bool,
}

/// Create `path` as a sparse image of `image_bytes` and partition it as `spec` says;
/// returns the sector size.
pub fn make(path: &Path, image_bytes: u64, spec: TableSpec) -> u32 {
    crate::image::sparse(path, image_bytes);
    let (data, esp) = (spec.data_mib, spec.esp_mib);
    match spec.kind {
        TableKind::Gpt512 => {
            let mut c = Command::new("sgdisk");
            if spec.bios_boot {
                c.args(["-a", "1", "-n", "3:34:2047", "-t", "3:ef02", "-a", "2048"]);
            }
            c.args(["-n", &format!("1:2048:+{data}M"), "-t", "1:0700"])
                .args(["-n", &format!("2:0:+{esp}M"), "-t", "2:ef00"])
                .arg(path);
            cmd::ok(&mut c);
        }
        TableKind::Gpt4096 => {
            assert!(
                !spec.bios_boot,
                "no BIOS boot partition on 4096-byte sectors"
            );
            let script = format!(
                "g\nn\n1\n256\n+{data}M\nt\nEBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n\
                 n\n2\n\n+{esp}M\nt\n2\nC12A7328-F81F-11D2-BA4B-00A0C93EC93B\nw\n"
            );
            cmd::ok_with_stdin(
                Command::new("fdisk").args(["-b", "4096"]).arg(path),
                &script,
            );
        }
        TableKind::Mbr512 => {
            assert!(!spec.bios_boot, "no BIOS boot partition in an MBR");
            let (data, esp) = (data * 2048, esp * 2048);
            let script = format!(
                "label: dos\nstart=2048, size={data}, type=7\nstart={}, size={esp}, type=ef\n",
                2048 + data
            );
            cmd::ok_with_stdin(Command::new("sfdisk").arg(path), &script);
        }
    }
    spec.kind.sector_size()
}
