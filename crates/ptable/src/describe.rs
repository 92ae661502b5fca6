//! One-line descriptions of a partition table for messages such as "… is not a bootshelf
//! stick (found a GPT with 1: Linux filesystem "root" at LBA 2048)": what a user needs to
//! recognise the disk, not every field.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::gpt::types;
use crate::table::{PartitionType, Table};
use crate::Guid;

/// Linux filesystem data (0FC63DAF-8483-4772-8E79-3D69D8477DE4), the most common type on
/// a foreign disk.
const LINUX_FILESYSTEM: Guid = Guid::from_fields(
    0x0FC6_3DAF,
    0x8483,
    0x4772,
    [0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4],
);

/// How many GPT partitions [`Table::describe`] lists before "...".
const MAX_LISTED: usize = 6;

/// A short human name for a GPT partition type: the ones bootshelf writes and Linux's,
/// "unused" for the zero GUID, "other" for the rest.
pub fn gpt_type_name(t: Guid) -> &'static str {
    match t {
        types::MICROSOFT_BASIC_DATA => "Microsoft basic data",
        types::EFI_SYSTEM => "EFI System",
        types::BIOS_BOOT => "BIOS boot",
        types::WINDOWS_RECOVERY => "Windows recovery",
        LINUX_FILESYSTEM => "Linux filesystem",
        Guid::ZERO => "unused",
        _ => "other",
    }
}

impl Table {
    /// What the table holds, in one line: `a GPT with 1: Linux filesystem "root" at LBA
    /// 2048` (up to six partitions), `an MBR partition table with 1: type 0x07 at LBA 2048
    /// (20480 sectors)`, or `a GPT with no partitions` / `an MBR with no partitions`.
    pub fn describe(&self) -> String {
        let parts = self.partitions();
        match self {
            Table::Mbr(_) => {
                let used: Vec<String> = parts
                    .iter()
                    .map(|p| {
                        let kind = match p.kind {
                            PartitionType::Mbr(t) => t.0,
                            PartitionType::Gpt(_) => 0,
                        };
                        format!(
                            "{}: type {:#04x} at LBA {} ({} sectors)",
                            p.number,
                            kind,
                            p.first_lba,
                            p.sectors()
                        )
                    })
                    .collect();
                if used.is_empty() {
                    "an MBR with no partitions".into()
                } else {
                    format!("an MBR partition table with {}", used.join(", "))
                }
            }
            Table::Gpt { .. } => {
                if parts.is_empty() {
                    return "a GPT with no partitions".into();
                }
                let used: Vec<String> = parts
                    .iter()
                    .take(MAX_LISTED)
                    .map(|p| {
                        let name = match p.kind {
                            PartitionType::Gpt(g) => gpt_type_name(g),
                            PartitionType::Mbr(_) => "other",
                        };
                        format!(
                            "{}: {} \"{}\" at LBA {}",
                            p.number, name, p.name, p.first_lba
                        )
                    })
                    .collect();
                let more = if parts.len() > MAX_LISTED {
                    ", ..."
                } else {
                    ""
                };
                format!("a GPT with {}{more}", used.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names() {
        assert_eq!(
            gpt_type_name(Guid::parse("0FC63DAF-8483-4772-8E79-3D69D8477DE4").unwrap()),
            "Linux filesystem"
        );
        assert_eq!(gpt_type_name(types::BIOS_BOOT), "BIOS boot");
        assert_eq!(gpt_type_name(Guid::ZERO), "unused");
        assert_eq!(
            gpt_type_name(Guid::parse("E6D6D379-F507-44C2-A23C-238F2A3DF928").unwrap()),
            "other"
        );
    }

    #[test]
    fn an_mbr_lists_its_used_slots() {
        let mut s = [0u8; 512];
        s[510] = 0x55;
        s[511] = 0xAA;
        // Slot 2: type 0x83, LBA 2048, 4096 sectors.
        s[446 + 16 + 4] = 0x83;
        s[446 + 16 + 8..446 + 16 + 12].copy_from_slice(&2048u32.to_le_bytes());
        s[446 + 16 + 12..446 + 16 + 16].copy_from_slice(&4096u32.to_le_bytes());
        let t = Table::Mbr(crate::Mbr::parse(&s, 10_000).unwrap());
        assert_eq!(
            t.describe(),
            "an MBR partition table with 2: type 0x83 at LBA 2048 (4096 sectors)"
        );
        s[446 + 16 + 4] = 0;
        let t = Table::Mbr(crate::Mbr::parse(&s, 10_000).unwrap());
        assert_eq!(t.describe(), "an MBR with no partitions");
    }
}
