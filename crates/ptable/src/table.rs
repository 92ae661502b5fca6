//! A whole partition table, GPT or MBR, and its partitions in one typed list.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use blockdev::BlockDevice;

use crate::error::Error;
use crate::gpt::Gpt;
use crate::mbr::{Mbr, MbrType};
use crate::Guid;

/// GPT or MBR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// GUID Partition Table behind a protective MBR.
    Gpt,
    /// A real MBR partition table.
    Mbr,
}

/// A partition type as the table stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartitionType {
    /// A GPT type GUID.
    Gpt(Guid),
    /// An MBR type byte.
    Mbr(MbrType),
}

/// One partition in use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    /// Partition number as operating systems count it: GPT entry index + 1, or MBR slot
    /// 1-4.
    pub number: u32,
    /// Type GUID or type byte.
    pub kind: PartitionType,
    /// First LBA.
    pub first_lba: u64,
    /// Last LBA (inclusive).
    pub last_lba: u64,
    /// GPT attribute bits (0 for MBR).
    pub attributes: u64,
    /// GPT partition name (empty for MBR).
    pub name: String,
    /// GPT unique partition GUID (zero for MBR).
    pub unique_guid: Guid,
    /// MBR boot indicator 0x80 (false for GPT).
    pub bootable: bool,
}

impl Partition {
    /// Number of sectors.
    pub fn sectors(&self) -> u64 {
        self.last_lba - self.first_lba + 1
    }

    /// Device byte offset of the first sector.
    pub fn start_bytes(&self, sector_size: u32) -> u64 {
        self.first_lba * u64::from(sector_size)
    }

    /// Size in bytes.
    pub fn len_bytes(&self, sector_size: u32) -> u64 {
        self.sectors() * u64::from(sector_size)
    }
}

/// A validated partition table.
#[derive(Clone, Debug)]
pub enum Table {
    /// GPT (and its protective MBR).
    Gpt {
        /// LBA 0.
        protective: Mbr,
        /// Both GPT copies.
        gpt: Box<Gpt>,
    },
    /// A real MBR.
    Mbr(Mbr),
}

impl Table {
    /// Read and validate the table on `dev`: the MBR, and when it is protective, the GPT.
    pub fn read<D: BlockDevice>(dev: &mut D) -> Result<Table, Error> {
        crate::check_sector_size(dev.sector_size())?;
        let mbr = Mbr::read(dev)?;
        if mbr.is_protective() {
            let gpt = Box::new(Gpt::read(dev)?);
            Ok(Table::Gpt {
                protective: mbr,
                gpt,
            })
        } else {
            Ok(Table::Mbr(mbr))
        }
    }

    /// GPT or MBR.
    pub fn scheme(&self) -> Scheme {
        match self {
            Table::Gpt { .. } => Scheme::Gpt,
            Table::Mbr(_) => Scheme::Mbr,
        }
    }

    /// The partitions in use, by number.
    pub fn partitions(&self) -> Vec<Partition> {
        let mut out = Vec::new();
        match self {
            Table::Gpt { gpt, .. } => {
                for i in 0..gpt.entry_count() {
                    if let Some(e) = gpt.entry(i) {
                        if e.is_unused() {
                            continue;
                        }
                        out.push(Partition {
                            number: i + 1,
                            kind: PartitionType::Gpt(e.partition_type_guid),
                            first_lba: e.starting_lba,
                            last_lba: e.ending_lba,
                            attributes: e.attributes,
                            name: e.name().collect(),
                            unique_guid: e.unique_partition_guid,
                            bootable: false,
                        });
                    }
                }
            }
            Table::Mbr(mbr) => {
                for (i, r) in mbr.records().iter().enumerate() {
                    if r.is_unused() {
                        continue;
                    }
                    out.push(Partition {
                        number: i as u32 + 1,
                        kind: PartitionType::Mbr(MbrType(r.os_type)),
                        first_lba: u64::from(r.starting_lba),
                        // Validated: size >= 1.
                        last_lba: u64::from(r.starting_lba) + u64::from(r.size_in_lba) - 1,
                        attributes: 0,
                        name: String::new(),
                        unique_guid: Guid::ZERO,
                        bootable: r.boot_indicator == 0x80,
                    });
                }
            }
        }
        out
    }

    /// Partition `number`, if in use.
    pub fn partition(&self, number: u32) -> Option<Partition> {
        self.partitions().into_iter().find(|p| p.number == number)
    }
}
