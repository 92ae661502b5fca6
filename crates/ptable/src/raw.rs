//! The on-disk structures (MBR sector and partition record, GPT header and partition
//! entry, GUID), as the UEFI specification names them: crate `partition-raw`, the one
//! definition that ptable, iso9660's hybrid detection, the BIOS loader and the test
//! fixtures share. Re-exported here so `ptable::raw::…` names them; validation lives in
//! [`crate::mbr`] and [`crate::gpt`].

pub use partition_raw::*;
