//! The boot region: reading and validating the main boot region (falling back to the
//! backup), the geometry it gives, which volumes must stay read-only, and the
//! VolumeDirty flag in the main boot sector.

use super::Volume;
use crate::error::Error;
use crate::raw::{self, boot, le16, le32, region};
use alloc::vec;
use alloc::vec::Vec;
use blockdev::BlockDevice;

/// Validated geometry of a volume, in partition-relative sectors and bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// Bytes per sector (the device's).
    pub ss: u32,
    /// Bytes per cluster.
    pub cs: u64,
    /// First sector of the active FAT.
    pub fat_lba: u64,
    /// First sector of the cluster heap.
    pub heap_lba: u64,
    /// ClusterCount.
    pub cluster_count: u32,
    /// FirstClusterOfRootDirectory.
    pub root: u32,
    /// VolumeSerialNumber.
    pub serial: u32,
}

/// What `open` learns from the boot region it accepted.
pub(super) struct BootRegion {
    /// The validated geometry.
    pub geometry: Geometry,
    /// VolumeFlags of that region.
    pub flags: u16,
    /// Why the volume must not be written, if it must not.
    pub read_only_reason: Option<&'static str>,
}

/// Read the main boot region of the volume on device sectors
/// `[start_lba, start_lba + sectors)`, or the backup region when the main one is damaged
/// (the volume is then read-only). The main region's error is returned when both fail.
pub(super) fn open_boot_region<D: BlockDevice>(
    dev: &mut D,
    start_lba: u64,
    sectors: u64,
) -> Result<BootRegion, Error> {
    let (bytes, geometry, from_backup) = match read_region(dev, start_lba, 0, sectors) {
        Ok((b, g)) => (b, g, false),
        Err(e) => match read_region(dev, start_lba, region::SECTORS, sectors) {
            Ok((b, g)) => (b, g, true),
            Err(_) => return Err(e),
        },
    };
    let flags = le16(&bytes, boot::VOLUME_FLAGS);
    let read_only_reason = if from_backup {
        Some("writes to a volume whose main boot region is damaged (run fsck.exfat)")
    } else if bytes.get(boot::NUMBER_OF_FATS) == Some(&2) {
        Some("writes to a TexFAT volume (two FATs)")
    } else if flags & boot::FLAG_MEDIA_FAILURE != 0 {
        Some("writes to a volume flagged MediaFailure")
    } else {
        None
    };
    Ok(BootRegion {
        geometry,
        flags,
        read_only_reason,
    })
}

/// Read and validate one boot region (at partition sector `first`).
fn read_region<D: BlockDevice>(
    dev: &mut D,
    start_lba: u64,
    first: u64,
    sectors: u64,
) -> Result<(Vec<u8>, Geometry), Error> {
    let ss = dev.sector_size();
    let ssz = ss as usize;
    let mut r = vec![0u8; ssz * region::SECTORS as usize];
    dev.read_sectors(start_lba + first, &mut r)?;
    let at = (start_lba + first) * u64::from(ss);
    let b = &r[..ssz];
    rules::signature(b, at)?;
    rules::fs_name(b, at)?;
    rules::must_be_zero(b, at)?;
    rules::sector_shift(b, at, ss)?;
    rules::cluster_shift(b, at)?;
    rules::number_of_fats(b, at)?;
    rules::revision(b, at)?;
    let volume_length = rules::volume_length(b, at, sectors)?;
    rules::fat_region(b, at)?;
    rules::cluster_count(b, at, volume_length)?;
    rules::root_cluster(b, at)?;
    rules::checksum(&r, ssz, at)?;
    let g = geometry(b, ss);
    Ok((r, g))
}

/// The geometry a validated main boot sector `b` describes.
fn geometry(b: &[u8], ss: u32) -> Geometry {
    let flags = le16(b, boot::VOLUME_FLAGS);
    let fat_length = u64::from(le32(b, boot::FAT_LENGTH));
    let active = if b[boot::NUMBER_OF_FATS] == 2 && flags & boot::FLAG_ACTIVE_FAT != 0 {
        1
    } else {
        0
    };
    Geometry {
        ss,
        cs: u64::from(ss) << b[boot::SECTORS_PER_CLUSTER_SHIFT],
        fat_lba: u64::from(le32(b, boot::FAT_OFFSET)) + active * fat_length,
        heap_lba: u64::from(le32(b, boot::CLUSTER_HEAP_OFFSET)),
        cluster_count: le32(b, boot::CLUSTER_COUNT),
        root: le32(b, boot::FIRST_CLUSTER_OF_ROOT),
        serial: le32(b, boot::VOLUME_SERIAL_NUMBER),
    }
}

impl<D: BlockDevice> Volume<D> {
    /// Set or clear VolumeDirty in the main boot sector (excluded from the checksum, so
    /// this is one sector write). A flag that was set when the volume was opened is left
    /// set: that inconsistency is not ours to declare fixed.
    pub(crate) fn set_dirty(&mut self, dirty: bool) -> Result<(), Error> {
        if !dirty && self.was_dirty {
            return Ok(());
        }
        let ss = self.g.ss as usize;
        let mut b = vec![0u8; ss];
        self.read_bytes(0, &mut b)?;
        let mut flags = le16(&b, boot::VOLUME_FLAGS);
        if dirty {
            flags |= boot::FLAG_VOLUME_DIRTY;
        } else {
            flags &= !boot::FLAG_VOLUME_DIRTY;
        }
        raw::put16(&mut b, boot::VOLUME_FLAGS, flags);
        self.write_bytes(0, &b)?;
        self.dev.flush()?;
        Ok(())
    }

    /// Fail if this volume must not be written (opened from the backup boot region,
    /// TexFAT, MediaFailure).
    pub(crate) fn check_writable(&self) -> Result<(), Error> {
        match self.read_only_reason {
            Some(what) => Err(Error::Unsupported { what, value: 0 }),
            None => Ok(()),
        }
    }
}

/// One rule per function: each checks a field of the main boot sector.
mod rules {
    use crate::checksum::boot_checksum_sector;
    use crate::error::Error;
    use crate::raw::{boot, le16, le32, le64, region};

    pub fn signature(b: &[u8], at: u64) -> Result<(), Error> {
        let v = le16(b, boot::BOOT_SIGNATURE);
        if v != 0xAA55 {
            return Err(Error::Corrupt {
                what: "boot sector BootSignature",
                offset: at + boot::BOOT_SIGNATURE as u64,
                value: u64::from(v),
            });
        }
        Ok(())
    }

    pub fn fs_name(b: &[u8], at: u64) -> Result<(), Error> {
        if b.get(boot::FILE_SYSTEM_NAME..boot::FILE_SYSTEM_NAME + 8) != Some(&boot::FS_NAME[..]) {
            return Err(Error::Corrupt {
                what: "boot sector FileSystemName (not exFAT)",
                offset: at + boot::FILE_SYSTEM_NAME as u64,
                value: le64(b, boot::FILE_SYSTEM_NAME),
            });
        }
        Ok(())
    }

    pub fn must_be_zero(b: &[u8], at: u64) -> Result<(), Error> {
        if let Some(i) = (boot::MUST_BE_ZERO..boot::PARTITION_OFFSET).find(|&i| b[i] != 0) {
            return Err(Error::Corrupt {
                what: "boot sector MustBeZero",
                offset: at + i as u64,
                value: u64::from(b[i]),
            });
        }
        Ok(())
    }

    pub fn sector_shift(b: &[u8], at: u64, device_ss: u32) -> Result<(), Error> {
        let v = b[boot::BYTES_PER_SECTOR_SHIFT];
        if !(9..=12).contains(&v) {
            return Err(Error::Corrupt {
                what: "boot sector BytesPerSectorShift",
                offset: at + boot::BYTES_PER_SECTOR_SHIFT as u64,
                value: u64::from(v),
            });
        }
        if 1u32 << v != device_ss {
            return Err(Error::Unsupported {
                what: "exFAT sector size different from the device's logical sector size",
                value: 1u64 << v,
            });
        }
        Ok(())
    }

    pub fn cluster_shift(b: &[u8], at: u64) -> Result<(), Error> {
        let v = b[boot::SECTORS_PER_CLUSTER_SHIFT];
        if u32::from(v) + u32::from(b[boot::BYTES_PER_SECTOR_SHIFT]) > 25 {
            return Err(Error::Corrupt {
                what: "boot sector SectorsPerClusterShift",
                offset: at + boot::SECTORS_PER_CLUSTER_SHIFT as u64,
                value: u64::from(v),
            });
        }
        Ok(())
    }

    pub fn number_of_fats(b: &[u8], at: u64) -> Result<(), Error> {
        let v = b[boot::NUMBER_OF_FATS];
        if v != 1 && v != 2 {
            return Err(Error::Corrupt {
                what: "boot sector NumberOfFats",
                offset: at + boot::NUMBER_OF_FATS as u64,
                value: u64::from(v),
            });
        }
        Ok(())
    }

    pub fn revision(b: &[u8], at: u64) -> Result<(), Error> {
        let v = le16(b, boot::FILE_SYSTEM_REVISION);
        if v >> 8 != 1 {
            return Err(Error::Corrupt {
                what: "boot sector FileSystemRevision (major version not 1)",
                offset: at + boot::FILE_SYSTEM_REVISION as u64,
                value: u64::from(v),
            });
        }
        Ok(())
    }

    pub fn volume_length(b: &[u8], at: u64, sectors: u64) -> Result<u64, Error> {
        let v = le64(b, boot::VOLUME_LENGTH);
        let min = (1u64 << 20) >> b[boot::BYTES_PER_SECTOR_SHIFT];
        if v < min || v > sectors {
            return Err(Error::Corrupt {
                what: "boot sector VolumeLength (below 1 MiB or beyond the partition)",
                offset: at + boot::VOLUME_LENGTH as u64,
                value: v,
            });
        }
        Ok(v)
    }

    pub fn fat_region(b: &[u8], at: u64) -> Result<(), Error> {
        let off = u64::from(le32(b, boot::FAT_OFFSET));
        let len = u64::from(le32(b, boot::FAT_LENGTH));
        let nfats = u64::from(b[boot::NUMBER_OF_FATS]);
        let heap = u64::from(le32(b, boot::CLUSTER_HEAP_OFFSET));
        if off < 24 {
            return Err(Error::Corrupt {
                what: "boot sector FatOffset (inside the boot regions)",
                offset: at + boot::FAT_OFFSET as u64,
                value: off,
            });
        }
        if off + len * nfats > heap {
            return Err(Error::Corrupt {
                what: "boot sector ClusterHeapOffset (overlaps the FAT)",
                offset: at + boot::CLUSTER_HEAP_OFFSET as u64,
                value: heap,
            });
        }
        Ok(())
    }

    pub fn cluster_count(b: &[u8], at: u64, volume_length: u64) -> Result<(), Error> {
        let count = u64::from(le32(b, boot::CLUSTER_COUNT));
        let ss_shift = b[boot::BYTES_PER_SECTOR_SHIFT];
        let spc_shift = b[boot::SECTORS_PER_CLUSTER_SHIFT];
        let heap = u64::from(le32(b, boot::CLUSTER_HEAP_OFFSET));
        let fat_len = u64::from(le32(b, boot::FAT_LENGTH));
        let bad = |what| Error::Corrupt {
            what,
            offset: at + boot::CLUSTER_COUNT as u64,
            value: count,
        };
        if count == 0 || count > crate::format::MAX_CLUSTER_COUNT {
            return Err(bad("boot sector ClusterCount"));
        }
        if heap + (count << spc_shift) > volume_length {
            return Err(bad(
                "boot sector ClusterCount (heap reaches past VolumeLength)",
            ));
        }
        if (fat_len << ss_shift) < (count + 2) * 4 {
            return Err(bad(
                "boot sector ClusterCount (more clusters than the FAT holds)",
            ));
        }
        Ok(())
    }

    pub fn root_cluster(b: &[u8], at: u64) -> Result<(), Error> {
        let root = le32(b, boot::FIRST_CLUSTER_OF_ROOT);
        let count = le32(b, boot::CLUSTER_COUNT);
        if root < 2 || u64::from(root) > u64::from(count) + 1 {
            return Err(Error::Corrupt {
                what: "boot sector FirstClusterOfRootDirectory",
                offset: at + boot::FIRST_CLUSTER_OF_ROOT as u64,
                value: u64::from(root),
            });
        }
        Ok(())
    }

    pub fn checksum(region_bytes: &[u8], ss: usize, at: u64) -> Result<(), Error> {
        let mut sum = 0u32;
        for s in 0..region::CHECKSUM_SECTOR as usize {
            sum = boot_checksum_sector(sum, &region_bytes[s * ss..(s + 1) * ss], s == 0);
        }
        let cs = region::CHECKSUM_SECTOR as usize * ss;
        for i in (0..ss).step_by(4) {
            let stored = le32(region_bytes, cs + i);
            if stored != sum {
                return Err(Error::BadChecksum {
                    what: "boot region",
                    offset: at + (cs + i) as u64,
                    stored,
                    computed: sum,
                });
            }
        }
        Ok(())
    }
}
