//! `format`: lay out a fresh exFAT volume: boot regions (main and backup, each with its
//! checksum sector), one FAT, the allocation bitmap, the up-case table and a root
//! directory holding the volume label, bitmap and up-case entries.
//!
//! Cluster sizes follow the table mkfs.exfat (exfatprogs) and Windows use: 4 KiB below
//! 256 MiB, 32 KiB below 32 GiB, 128 KiB above. The FAT and the cluster heap start on
//! 1 MiB boundaries (as mkfs.exfat does) on volumes of 32 MiB and more, and on cluster
//! boundaries below that, so that tiny volumes keep most of their space.

use crate::checksum::boot_checksum_sector;
use crate::error::Error;
use crate::raw::{self, boot, entry, put16, put32, put64, region};
use crate::upcase;
use alloc::vec;
use alloc::vec::Vec;
use blockdev::BlockDevice;

/// What `format` should write.
#[derive(Clone, Copy, Debug)]
pub struct FormatOptions<'a> {
    /// Volume label, at most 11 UTF-16 units (may be empty).
    pub label: &'a str,
    /// Cluster size in bytes (a power of two from the sector size to 32 MiB); `None`
    /// picks it from the volume size like mkfs.exfat.
    pub cluster_size: Option<u32>,
    /// VolumeSerialNumber.
    pub volume_serial: u32,
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// Largest cluster size exFAT allows.
pub const MAX_CLUSTER_SIZE: u32 = 32 * 1024 * 1024;
/// Largest cluster count exFAT allows.
pub const MAX_CLUSTER_COUNT: u64 = 0xFFFF_FFF5;

/// The cluster size mkfs.exfat and Windows pick for a volume of `volume_bytes`.
pub fn default_cluster_size(volume_bytes: u64) -> u32 {
    if volume_bytes < 256 * MIB {
        4096
    } else if volume_bytes < 32 * GIB {
        32 * 1024
    } else {
        128 * 1024
    }
}

/// Where everything goes, in sectors from the start of the volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Bytes per sector.
    pub sector_size: u32,
    /// VolumeLength.
    pub volume_length: u64,
    /// FatOffset.
    pub fat_offset: u32,
    /// FatLength.
    pub fat_length: u32,
    /// ClusterHeapOffset.
    pub heap_offset: u32,
    /// ClusterCount.
    pub cluster_count: u32,
    /// log2(sectors per cluster).
    pub cluster_shift: u8,
    /// Clusters of the allocation bitmap (from cluster 2).
    pub bitmap_clusters: u32,
    /// Clusters of the up-case table (after the bitmap).
    pub upcase_clusters: u32,
    /// The root directory's single cluster.
    pub root_cluster: u32,
}

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

/// Compute the layout of a volume of `sectors` sectors of `sector_size` bytes.
pub fn layout(sector_size: u32, sectors: u64, cluster_size: u32) -> Result<Layout, Error> {
    if !(512..=4096).contains(&sector_size) || !sector_size.is_power_of_two() {
        return Err(Error::InvalidParameter {
            what: "sector size",
            value: u64::from(sector_size),
        });
    }
    if cluster_size < sector_size
        || cluster_size > MAX_CLUSTER_SIZE
        || !cluster_size.is_power_of_two()
    {
        return Err(Error::InvalidParameter {
            what: "cluster size",
            value: u64::from(cluster_size),
        });
    }
    let ss = u64::from(sector_size);
    let spc = u64::from(cluster_size / sector_size);
    let volume_bytes = sectors.saturating_mul(ss);
    let align_bytes = if volume_bytes >= 32 * MIB {
        MIB.max(u64::from(cluster_size))
    } else {
        u64::from(cluster_size)
    };
    let align = (align_bytes / ss).max(1);
    let fat_offset = align_up(2 * region::SECTORS, align);
    let too_small = Error::InvalidParameter {
        what: "volume size in sectors (too small for exFAT)",
        value: sectors,
    };
    let cs = u64::from(cluster_size);
    // The specification's minimum VolumeLength is 1 MiB.
    if fat_offset >= sectors || volume_bytes < MIB {
        return Err(too_small);
    }
    // As mkfs.exfat: one FAT entry per cluster of the whole volume, rounded up to whole
    // clusters; that is more than the heap's clusters + 2, since the heap starts at
    // least two clusters in (checked below all the same).
    let all_clusters = (volume_bytes / cs).min(MAX_CLUSTER_COUNT);
    let fat_length = align_up(all_clusters * 4, cs.max(ss)) / ss;
    let heap_offset = align_up(fat_offset + fat_length, align);
    let cluster_count =
        (sectors.checked_sub(heap_offset).ok_or(too_small.clone())? / spc).min(MAX_CLUSTER_COUNT);
    if (cluster_count + 2) * 4 > fat_length * ss {
        return Err(too_small);
    }
    let bitmap_clusters = cluster_count.div_ceil(8).div_ceil(cs);
    let upcase_clusters = (upcase::generate().0.len() as u64).div_ceil(cs);
    let system = bitmap_clusters + upcase_clusters + 1;
    // Room for the system clusters and at least a few of data.
    if cluster_count < system + 4 {
        return Err(too_small);
    }
    let to_u32 = |what: &'static str, v: u64| {
        u32::try_from(v).map_err(|_| Error::InvalidParameter { what, value: v })
    };
    Ok(Layout {
        sector_size,
        volume_length: sectors,
        fat_offset: to_u32("FAT offset", fat_offset)?,
        fat_length: to_u32("FAT length", fat_length)?,
        heap_offset: to_u32("cluster heap offset", heap_offset)?,
        cluster_count: to_u32("cluster count", cluster_count)?,
        cluster_shift: spc.trailing_zeros() as u8,
        bitmap_clusters: bitmap_clusters as u32,
        upcase_clusters: upcase_clusters as u32,
        root_cluster: (2 + bitmap_clusters + upcase_clusters) as u32,
    })
}

/// Encode a volume label as UTF-16 (at most 11 units).
pub(crate) fn encode_label(label: &str) -> Result<Vec<u16>, Error> {
    let units: Vec<u16> = label.encode_utf16().collect();
    if units.len() > entry::LABEL_CHARS {
        return Err(Error::InvalidName {
            name: label.into(),
            reason: "a volume label holds at most 11 UTF-16 units",
        });
    }
    if units.iter().any(|&u| u < 0x20) {
        return Err(Error::InvalidName {
            name: label.into(),
            reason: "control characters are not allowed in a volume label",
        });
    }
    Ok(units)
}

/// One boot region (12 sectors): main boot sector, 8 extended boot sectors, OEM
/// parameters, reserved, boot checksum.
fn boot_region(l: &Layout, start_lba: u64, serial: u32) -> Vec<u8> {
    let ss = l.sector_size as usize;
    let mut r = vec![0u8; ss * region::SECTORS as usize];
    {
        let b = &mut r[..ss];
        b[boot::JUMP_BOOT..boot::JUMP_BOOT + 3].copy_from_slice(&[0xEB, 0x76, 0x90]);
        b[boot::FILE_SYSTEM_NAME..boot::FILE_SYSTEM_NAME + 8].copy_from_slice(boot::FS_NAME);
        put64(b, boot::PARTITION_OFFSET, start_lba);
        put64(b, boot::VOLUME_LENGTH, l.volume_length);
        put32(b, boot::FAT_OFFSET, l.fat_offset);
        put32(b, boot::FAT_LENGTH, l.fat_length);
        put32(b, boot::CLUSTER_HEAP_OFFSET, l.heap_offset);
        put32(b, boot::CLUSTER_COUNT, l.cluster_count);
        put32(b, boot::FIRST_CLUSTER_OF_ROOT, l.root_cluster);
        put32(b, boot::VOLUME_SERIAL_NUMBER, serial);
        put16(b, boot::FILE_SYSTEM_REVISION, 0x0100);
        put16(b, boot::VOLUME_FLAGS, 0);
        b[boot::BYTES_PER_SECTOR_SHIFT] = l.sector_size.trailing_zeros() as u8;
        b[boot::SECTORS_PER_CLUSTER_SHIFT] = l.cluster_shift;
        b[boot::NUMBER_OF_FATS] = 1;
        b[boot::DRIVE_SELECT] = 0x80;
        b[boot::PERCENT_IN_USE] = 0xFF;
        // Boot code: hlt; jmp $-1 (this volume is not bootable by itself).
        b[boot::BOOT_CODE..boot::BOOT_CODE + 3].copy_from_slice(&[0xF4, 0xEB, 0xFD]);
        put16(b, boot::BOOT_SIGNATURE, 0xAA55);
    }
    for s in 1..=8 {
        put32(
            &mut r[s * ss..(s + 1) * ss],
            ss - 4,
            region::EXTENDED_BOOT_SIGNATURE,
        );
    }
    let mut sum = 0u32;
    for s in 0..region::CHECKSUM_SECTOR as usize {
        sum = boot_checksum_sector(sum, &r[s * ss..(s + 1) * ss], s == 0);
    }
    let cs = region::CHECKSUM_SECTOR as usize;
    for i in (0..ss).step_by(4) {
        put32(&mut r[cs * ss..(cs + 1) * ss], i, sum);
    }
    r
}

/// Write `len` zero bytes from partition sector `lba`, in chunks of at most 1 MiB.
fn zero_sectors<D: BlockDevice>(dev: &mut D, lba: u64, count: u64) -> Result<(), Error> {
    let ss = u64::from(dev.sector_size());
    let chunk_sectors = (MIB / ss).max(1);
    let zeros = vec![0u8; (chunk_sectors.min(count.max(1)) * ss) as usize];
    let mut done = 0;
    while done < count {
        let n = chunk_sectors.min(count - done);
        dev.write_sectors(lba + done, &zeros[..(n * ss) as usize])?;
        done += n;
    }
    Ok(())
}

/// Format device sectors `[start_lba, start_lba + sectors)` as exFAT.
///
/// Write order: the old main boot sector is zeroed first (so a half-formatted volume is
/// not mistaken for a valid one), then FAT, bitmap, up-case table and root directory,
/// then the backup boot region, and the main boot region last.
pub fn format<D: BlockDevice>(
    dev: &mut D,
    start_lba: u64,
    sectors: u64,
    opts: &FormatOptions,
) -> Result<(), Error> {
    let sector_size = dev.sector_size();
    crate::volume::check_partition_fits(dev.sector_count(), start_lba, sectors)?;
    let volume_bytes = sectors.saturating_mul(u64::from(sector_size));
    let cluster_size = opts
        .cluster_size
        .unwrap_or_else(|| default_cluster_size(volume_bytes).max(sector_size));
    let l = layout(sector_size, sectors, cluster_size)?;
    let label = encode_label(opts.label)?;
    let ss = u64::from(sector_size);
    let cs = u64::from(cluster_size);
    let spc = cs / ss;
    let cluster_lba = |c: u32| start_lba + u64::from(l.heap_offset) + u64::from(c - 2) * spc;

    // 1. Invalidate the old main boot sector.
    zero_sectors(dev, start_lba, 1)?;

    // 2. FAT: media entries, then the chains of bitmap, up-case table and root.
    let system = l.bitmap_clusters + l.upcase_clusters + 1;
    let head_entries = 2 + system as usize;
    let head_sectors = (head_entries as u64 * 4).div_ceil(ss);
    let mut head = vec![0u8; (head_sectors * ss) as usize];
    put32(&mut head, 0, raw::fat::MEDIA);
    put32(&mut head, 4, raw::fat::FAT1);
    let mut chain = |first: u32, n: u32| {
        for i in 0..n {
            let c = first + i;
            let next = if i + 1 == n { raw::fat::END } else { c + 1 };
            put32(&mut head, c as usize * 4, next);
        }
    };
    chain(2, l.bitmap_clusters);
    chain(2 + l.bitmap_clusters, l.upcase_clusters);
    chain(l.root_cluster, 1);
    let fat_lba = start_lba + u64::from(l.fat_offset);
    dev.write_sectors(fat_lba, &head)?;
    zero_sectors(
        dev,
        fat_lba + head_sectors,
        u64::from(l.fat_length).saturating_sub(head_sectors),
    )?;

    // 3. Allocation bitmap, written in chunks of at most 1 MiB.
    let bitmap_bytes = u64::from(l.cluster_count).div_ceil(8);
    let bitmap_area = u64::from(l.bitmap_clusters) * cs;
    let chunk = MIB.min(bitmap_area) as usize;
    let mut buf = vec![0u8; chunk];
    let mut off = 0u64;
    while off < bitmap_area {
        let n = (chunk as u64).min(bitmap_area - off) as usize;
        buf.iter_mut().for_each(|b| *b = 0);
        for bit in 0..u64::from(system) {
            let byte = bit / 8;
            if byte >= off && byte < off + n as u64 {
                buf[(byte - off) as usize] |= 1 << (bit % 8);
            }
        }
        dev.write_sectors(cluster_lba(2) + off / ss, &buf[..n])?;
        off += n as u64;
    }

    // 4. Up-case table.
    let (table, table_sum) = upcase::generate();
    let mut up = vec![0u8; (u64::from(l.upcase_clusters) * cs) as usize];
    up[..table.len()].copy_from_slice(&table);
    dev.write_sectors(cluster_lba(2 + l.bitmap_clusters), &up)?;

    // 5. Root directory: label, bitmap and up-case entries.
    let mut root = vec![0u8; cs as usize];
    let mut at = 0usize;
    if !label.is_empty() {
        let e = &mut root[at..at + 32];
        e[0] = entry::VOLUME_LABEL;
        e[raw::label::CHARACTER_COUNT] = label.len() as u8;
        for (i, u) in label.iter().enumerate() {
            put16(e, raw::label::VOLUME_LABEL + 2 * i, *u);
        }
        at += 32;
    }
    {
        let e = &mut root[at..at + 32];
        e[0] = entry::ALLOCATION_BITMAP;
        put32(e, raw::alloc_entry::FIRST_CLUSTER, 2);
        put64(e, raw::alloc_entry::DATA_LENGTH, bitmap_bytes);
        at += 32;
    }
    {
        let e = &mut root[at..at + 32];
        e[0] = entry::UPCASE_TABLE;
        put32(e, raw::alloc_entry::TABLE_CHECKSUM, table_sum);
        put32(e, raw::alloc_entry::FIRST_CLUSTER, 2 + l.bitmap_clusters);
        put64(e, raw::alloc_entry::DATA_LENGTH, table.len() as u64);
    }
    dev.write_sectors(cluster_lba(l.root_cluster), &root)?;

    // 6. Backup boot region, then the main one (its first sector last).
    let region_bytes = boot_region(&l, start_lba, opts.volume_serial);
    dev.write_sectors(start_lba + region::SECTORS, &region_bytes)?;
    dev.write_sectors(start_lba + 1, &region_bytes[ss as usize..])?;
    dev.write_sectors(start_lba, &region_bytes[..ss as usize])?;
    dev.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_size_table() {
        assert_eq!(default_cluster_size(8 * MIB), 4096);
        assert_eq!(default_cluster_size(256 * MIB - 1), 4096);
        assert_eq!(default_cluster_size(256 * MIB), 32768);
        assert_eq!(default_cluster_size(32 * GIB), 131072);
        assert_eq!(default_cluster_size(2048 * GIB), 131072);
    }

    #[test]
    fn layout_matches_mkfs_exfat_for_1_gib() {
        // mkfs.exfat 1.2.0 on a 1 GiB image: FAT at 2048, 256 sectors, heap at 4096,
        // 32704 clusters of 32 KiB.
        let l = layout(512, 2 * 1024 * 1024, 32768).unwrap();
        assert_eq!(
            (l.fat_offset, l.fat_length, l.heap_offset, l.cluster_count),
            (2048, 256, 4096, 32704)
        );
    }

    #[test]
    fn layout_of_2_tib_and_of_tiny_volumes() {
        let l = layout(512, 4 * GIB, 131072).unwrap();
        assert!(u64::from(l.cluster_count) * 131072 <= 2048 * GIB);
        assert!(u64::from(l.fat_length) * 512 >= (u64::from(l.cluster_count) + 2) * 4);
        let l = layout(4096, 4 * 256, 4096).unwrap(); // 4 MiB, 4Kn
        assert!(l.cluster_count > 990, "{}", l.cluster_count);
        assert!(layout(512, 40, 4096).is_err());
        assert!(layout(512, 2047, 4096).is_err());
        assert!(layout(512, 2048, 4096).is_ok());
        assert_eq!(upcase::generate().0.len(), 3774);
        assert!(layout(512, 1 << 20, 1000).is_err());
        assert!(layout(4096, 1 << 20, 2048).is_err());
    }
}
