//! Hostile and corrupt volumes: every damage gives a typed error naming the structure
//! and its device byte offset; nothing panics, loops forever or allocates without bound.

mod common;

use blockdev::MemDevice;
use common::assert_fsck_clean;
use exfat::{format, Error, FormatOptions, Volume};
use testkit::rng::pattern;
use testkit::Rng;

const SS: usize = 512;
const START: u64 = 64;

/// A 4 MiB volume at sector 64 holding a directory tree and a few files.
fn template() -> (Vec<u8>, u64) {
    let sectors = (4u64 << 20) / SS as u64;
    let mut dev = MemDevice::new(SS as u32, START + sectors);
    format(
        &mut dev,
        START,
        sectors,
        &FormatOptions {
            label: "HOSTILE",
            cluster_size: Some(4096),
            volume_serial: 9,
        },
    )
    .unwrap();
    let mut v = Volume::open(dev, START, sectors).unwrap();
    v.mkdir("/d").unwrap();
    v.mkdir("/d/e").unwrap();
    v.write_file("/d/e/f.txt", &pattern(9000, 1)).unwrap();
    v.write_file("/root.bin", &pattern(20_000, 2)).unwrap();
    for i in 0..5 {
        v.write_file(&format!("/d/n{i}"), &pattern(100, i)).unwrap();
    }
    (v.into_inner().data, sectors)
}

/// Everything a bootloader does with a volume: list every directory, stat, extents,
/// read. Depth-bounded (a directory may claim the root's clusters).
fn walk(v: &mut Volume<MemDevice>, path: &str, depth: u32) -> Result<usize, Error> {
    let mut seen = 0;
    let entries = v.read_dir(if path.is_empty() { "/" } else { path })?;
    for e in entries {
        seen += 1;
        let p = format!("{path}/{}", e.name);
        let s = v.stat(&p)?;
        let ext = v.extents(&s)?;
        assert!(ext.iter().map(|x| x.len).sum::<u64>() == s.size);
        let mut buf = vec![0u8; s.size.min(8192) as usize];
        v.read_at(&s, 0, &mut buf)?;
        if s.is_dir && depth < 6 {
            seen += walk(v, &p, depth + 1)?;
        }
    }
    v.free_bytes()?;
    v.largest_free_run()?;
    Ok(seen)
}

fn open(data: Vec<u8>, sectors: u64) -> Result<Volume<MemDevice>, Error> {
    Volume::open(MemDevice::from_bytes(SS as u32, data), START, sectors)
}

fn boot(data: &mut [u8], off: usize) -> &mut u8 {
    &mut data[START as usize * SS + off]
}

#[test]
fn template_walks() {
    let (data, sectors) = template();
    let dev = MemDevice::from_bytes(SS as u32, data.clone());
    assert_fsck_clean(&dev, START as usize * SS, sectors as usize * SS, "template");
    let mut v = open(data, sectors).unwrap();
    assert_eq!(walk(&mut v, "", 0).unwrap(), 9);
}

#[test]
fn boot_sector_damage_names_the_field_and_offset() {
    let (data, sectors) = template();
    let base = START * SS as u64;
    let cases: &[(usize, u8, &str)] = &[
        (3, b'X', "FileSystemName"),
        (30, 1, "MustBeZero"),
        (108, 8, "BytesPerSectorShift"),
        (109, 20, "SectorsPerClusterShift"),
        (110, 3, "NumberOfFats"),
        (80, 2, "FatOffset"),
        (95, 0x40, "ClusterCount"),
        (99, 0x40, "FirstClusterOfRootDirectory"),
        (510, 0, "BootSignature"),
    ];
    for &(off, val, field) in cases {
        // Both regions damaged alike: no fallback possible.
        let mut d = data.clone();
        *boot(&mut d, off) = val;
        *boot(&mut d, 12 * SS + off) = val;
        match open(d, sectors) {
            Err(Error::Corrupt { what, offset, .. }) => {
                assert!(what.contains(field), "{field}: {what}");
                assert!(offset >= base && offset < base + 24 * SS as u64, "{offset}");
            }
            other => panic!("{field}: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn main_boot_region_damage_falls_back_to_the_backup() {
    let (data, sectors) = template();
    let mut d = data.clone();
    // A flipped bit in the main boot region breaks its checksum.
    *boot(&mut d, 5 * SS + 17) ^= 1;
    let mut v = open(d.clone(), sectors).unwrap();
    assert_eq!(v.label(), "HOSTILE");
    assert_eq!(walk(&mut v, "", 0).unwrap(), 9);
    // Readable, but not writable until fsck repairs the main region.
    assert!(matches!(
        v.write_file("/new", b"x"),
        Err(Error::Unsupported { .. })
    ));
    // Both broken: the main region's checksum error is reported.
    *boot(&mut d, 12 * SS + 5 * SS + 17) ^= 1;
    match open(d, sectors) {
        Err(Error::BadChecksum { what, offset, .. }) => {
            assert_eq!(what, "boot region");
            assert_eq!(offset, (START as usize * SS + 11 * SS) as u64);
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn truncated_volume_is_an_error() {
    let (data, sectors) = template();
    for keep in [0usize, 10, 200, 2000, 4000, 8000] {
        let d = data[..(START as usize * SS + keep * SS).min(data.len())].to_vec();
        let n = d.len() as u64 / SS as u64;
        // Either the partition does not fit the device or the structures reach past it.
        assert!(Volume::open(MemDevice::from_bytes(512, d.clone()), START, sectors).is_err());
        if n > START {
            if let Ok(mut v) = Volume::open(MemDevice::from_bytes(512, d), START, n - START) {
                let _ = walk(&mut v, "", 0);
            }
        }
    }
}

/// Find the file entry of `name` (ASCII) in the raw image.
fn find_set(data: &[u8], name: &str) -> usize {
    let units: Vec<u8> = name.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    (0..data.len() - 96)
        .step_by(32)
        .find(|&i| {
            data[i] == 0x85
                && data[i + 32] == 0xC0
                && data[i + 66..i + 66 + units.len()] == units[..]
        })
        .unwrap()
}

#[test]
fn entry_set_damage_is_a_checksum_error_with_offset() {
    let (mut data, sectors) = template();
    let at = find_set(&data, "root.bin");
    data[at + 32 + 24] ^= 0x10; // DataLength
    let mut v = open(data, sectors).unwrap();
    match v.read_dir("/") {
        Err(Error::BadChecksum { what, offset, .. }) => {
            assert_eq!(what, "directory entry set");
            assert_eq!(offset, at as u64 + 2);
        }
        other => panic!("{other:?}"),
    }
    // The tolerant listing keeps the rest and reports the damaged set.
    let (entries, bad) = v.read_dir_tolerant("/").unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0].name, "d");
    assert!(
        matches!(bad.as_slice(), [Error::BadChecksum { .. }]),
        "{bad:?}"
    );
    // Writing into a directory with a damaged set is refused.
    assert!(v.write_file("/new", b"x").is_err());
}

/// Set a u32 in the FAT of the template.
fn fat_put(data: &mut [u8], c: u32, v: u32) {
    let b = START as usize * SS;
    let fat = u32::from_le_bytes(data[b + 80..b + 84].try_into().unwrap()) as usize;
    let o = b + fat * SS + c as usize * 4;
    data[o..o + 4].copy_from_slice(&v.to_le_bytes());
}

fn fix_set_checksum(data: &mut [u8], at: usize) {
    let n = data[at + 1] as usize + 1;
    let mut sum = 0u16;
    for k in 0..n * 32 {
        if k == 2 || k == 3 {
            continue;
        }
        sum = sum.rotate_right(1).wrapping_add(u16::from(data[at + k]));
    }
    data[at + 2..at + 4].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn fat_chain_cycles_and_short_chains_are_errors() {
    let (mut data, sectors) = template();
    let at = find_set(&data, "root.bin");
    let first = u32::from_le_bytes(data[at + 52..at + 56].try_into().unwrap());
    // Make root.bin FAT-chained with a cycle: c -> c+1 -> c.
    data[at + 33] &= !0x02;
    fix_set_checksum(&mut data, at);
    fat_put(&mut data, first, first + 1);
    fat_put(&mut data, first + 1, first);
    let mut v = open(data.clone(), sectors).unwrap();
    let e = v.stat("/root.bin").unwrap();
    assert!(!e.contiguous);
    // 20000 bytes need 5 clusters; the cycle yields them (c, c+1, c, c+1, c): bounded.
    let x = v.extents(&e).unwrap();
    assert_eq!(x.iter().map(|x| x.len).sum::<u64>(), 20_000);
    // An end mark too early is an error naming the FAT entry.
    fat_put(&mut data, first + 1, 0xFFFF_FFFF);
    let mut v = open(data.clone(), sectors).unwrap();
    let e = v.stat("/root.bin").unwrap();
    match v.extents(&e) {
        Err(Error::Corrupt { what, .. }) => assert!(what.contains("shorter"), "{what}"),
        other => panic!("{other:?}"),
    }
    // A file with a damaged chain can still be deleted (its clusters stay marked).
    {
        let mut v = open(data.clone(), sectors).unwrap();
        let free = v.free_bytes().unwrap();
        v.delete("/root.bin").unwrap();
        assert!(matches!(v.stat("/root.bin"), Err(Error::NotFound { .. })));
        assert_eq!(v.free_bytes().unwrap(), free);
    }
    // A cycle in the root directory's chain (no size to stop at) is an error.
    let b = START as usize * SS;
    let root = u32::from_le_bytes(data[b + 96..b + 100].try_into().unwrap());
    fat_put(&mut data, root, root);
    match open(data, sectors) {
        Err(Error::Corrupt { what, .. }) => assert!(what.contains("root directory"), "{what}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[test]
fn random_damage_never_panics() {
    let (data, sectors) = template();
    let mut rng = Rng::new(0x1234_5678_9ABC_DEF1);
    let mut rnd = || rng.next_u64();
    let interesting: Vec<usize> = {
        // Boot region, FAT head, and the first clusters of the heap (bitmap, up-case,
        // root, directories, file entries) are where damage matters.
        let b = START as usize * SS;
        let mut v: Vec<usize> = (b..b + 24 * SS).collect();
        let heap = u32::from_le_bytes(data[b + 88..b + 92].try_into().unwrap()) as usize;
        let fat = u32::from_le_bytes(data[b + 80..b + 84].try_into().unwrap()) as usize;
        v.extend(b + fat * SS..b + fat * SS + 512);
        v.extend(b + heap * SS..b + heap * SS + 20 * 4096);
        v
    };
    let (mut opened, mut walked) = (0, 0);
    for _ in 0..1500 {
        let mut d = data.clone();
        for _ in 0..(rnd() % 6 + 1) {
            let i = interesting[(rnd() % interesting.len() as u64) as usize];
            d[i] = rnd() as u8;
        }
        if let Ok(mut v) = open(d, sectors) {
            opened += 1;
            if walk(&mut v, "", 0).is_ok() {
                walked += 1;
            }
        }
    }
    eprintln!("opened {opened}, walked {walked} of 1500");
    assert!(opened > 100);
}

#[test]
fn volume_dirty_set_by_someone_else_is_reported_and_kept() {
    let (mut data, sectors) = template();
    *boot(&mut data, 106) |= 2;
    let mut v = open(data, sectors).unwrap();
    assert!(v.was_dirty());
    v.mkdir("/x").unwrap();
    // A move across directories sets and would clear the flag: it must stay set.
    v.rename("/d/n1", "/x/n1").unwrap();
    v.rename("/d/e", "/x/e").unwrap();
    let data = v.into_inner().data;
    assert_eq!(data[START as usize * SS + 106] & 2, 2);
    let dev = MemDevice::from_bytes(SS as u32, data.clone());
    assert_fsck_clean(
        &dev,
        START as usize * SS,
        sectors as usize * SS,
        "dirty-kept",
    );
    let v = open(data, sectors).unwrap();
    assert!(v.was_dirty());
}

#[test]
fn directory_move_clears_the_dirty_flag_it_set() {
    let (data, sectors) = template();
    let mut v = open(data, sectors).unwrap();
    assert!(!v.was_dirty());
    v.mkdir("/x").unwrap();
    v.rename("/d/e", "/x/e").unwrap();
    assert_eq!(v.read_dir("/x/e").unwrap().len(), 1);
    let dev = v.into_inner();
    assert_fsck_clean(
        &dev,
        START as usize * SS,
        sectors as usize * SS,
        "dirty-cleared",
    );
    let v = open(dev.data, sectors).unwrap();
    assert!(!v.was_dirty());
}

#[test]
fn cluster_device_offset_matches_extents() {
    let (data, sectors) = template();
    let mut v = open(data, sectors).unwrap();
    let e = v.stat("/root.bin").unwrap();
    let x = v.extents(&e).unwrap();
    assert_eq!(v.cluster_device_offset(e.first_cluster), Some(x[0].start));
    assert_eq!(v.cluster_device_offset(0), None);
    assert_eq!(v.cluster_device_offset(1), None);
    assert_eq!(v.cluster_device_offset(v.cluster_count() + 2), None);
}
