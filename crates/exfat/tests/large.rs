//! Volume sizes up to 2 TiB on sparse image files (FileDevice), 512- and 4096-byte
//! sectors: format, fsck.exfat, a file over 4 GiB reserved, written at both ends,
//! committed and read back.

use blockdev::{BlockDevice, FileDevice};
use exfat::{format, FormatOptions, Volume};
use std::time::Instant;
use testkit::check::fsck_exfat;
use testkit::loopdev::{LoopDev, LoopOptions};
use testkit::rng::pattern;
use testkit::TempDir;

#[test]
fn two_tib_volume_with_a_5_gib_file() {
    for ss in [512u32, 4096] {
        let t = TempDir::new(&format!("large{ss}"));
        let img = t.path("big.img");
        let start_bytes = 1u64 << 20;
        let vol_bytes = 2u64 << 40;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&img)
            .unwrap();
        f.set_len(start_bytes + vol_bytes).unwrap();
        let mut dev = FileDevice::new(f, ss, start_bytes + vol_bytes);
        let start = start_bytes / u64::from(ss);
        let sectors = vol_bytes / u64::from(ss);
        let t0 = Instant::now();
        format(
            &mut dev,
            start,
            sectors,
            &FormatOptions {
                label: "BOOTSHELF",
                cluster_size: None,
                volume_serial: 42,
            },
        )
        .unwrap();
        let t_format = t0.elapsed();
        let mut v = Volume::open(dev, start, sectors).unwrap();
        assert_eq!(v.cluster_size(), 128 * 1024);
        let free = v.free_bytes().unwrap();
        assert!(free > vol_bytes - (100 << 20), "{free}");
        let size = (5u64 << 30) + 12345;
        let t_reserve = Instant::now();
        let p = v.reserve_contiguous("/big.iso", size).unwrap();
        let t_reserve = t_reserve.elapsed();
        let x = p.extent();
        let head: Vec<u8> = pattern(1 << 20, 1);
        let tail: Vec<u8> = pattern(12345, 2);
        let ssz = u64::from(ss);
        v.device().write_sectors(x.start / ssz, &head).unwrap();
        let tail_off = x.start + size - 12345;
        let mut padded = tail.clone();
        padded.resize(12345usize.div_ceil(ss as usize) * ss as usize, 0);
        v.device().write_sectors(tail_off / ssz, &padded).unwrap();
        let t_commit = Instant::now();
        let e = v.commit(p).unwrap();
        let t_commit = t_commit.elapsed();
        assert!(e.contiguous);
        let mut buf = vec![0u8; 1 << 20];
        v.read_at(&e, 0, &mut buf).unwrap();
        assert!(buf == head);
        let mut buf = vec![0u8; 12345];
        v.read_at(&e, size - 12345, &mut buf).unwrap();
        assert!(buf == tail);
        assert_eq!(v.extents(&e).unwrap(), vec![x]);
        drop(v);
        // fsck the partition through a loop device at the partition offset.
        let t1 = Instant::now();
        let lo = LoopDev::attach(
            &img,
            LoopOptions {
                sector_size: Some(ss),
                offset: Some(start_bytes),
                ..LoopOptions::default()
            },
        )
        .unwrap();
        let fsck = fsck_exfat(lo.path());
        drop(lo);
        let (ok, text) = (fsck.clean, fsck.report);
        assert!(ok, "{ss}: {text}");
        eprintln!(
            "{ss}-byte sectors: format of 2 TiB took {:?}, reserve {:?}, commit {:?}, fsck {:?}; {text}",
            t_format,
            t_reserve,
            t_commit,
            t1.elapsed()
        );
    }
}
