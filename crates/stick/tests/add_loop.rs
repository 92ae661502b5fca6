//! `add` through a block device: loop devices over stick images with 512- and 4096-byte
//! logical sectors (`losetup --sector-size`), `--verify` reading back with O_DIRECT from
//! the device. Then the image itself is checked (fsck.exfat, exfat-fuse, hashes).

use stick::add::{AddOptions, Verify};
use testkit::loopdev::{LoopDev, LoopOptions};
use testkit::stick::*;
use testkit::TempDir;

#[test]
fn add_and_verify_on_loop_devices_512_and_4096() {
    for ss in [512u32, 4096] {
        let t = TempDir::new(&format!("add-loop-{ss}"));
        let img = t.path("stick.img");
        new_stick(&img, 96 << 20, ss);
        let iso = iso_copy(
            &fixtures::iso::bios_uefi_hybrid().unwrap(),
            t.dir(),
            "h.iso",
            None,
        );
        {
            let lo = LoopDev::attach(&img, LoopOptions::sector_size(ss)).unwrap();
            let dev = lo.path().to_path_buf();
            let opts = AddOptions {
                verify: Verify::Uncached(dev.clone()),
                ..AddOptions::default()
            };
            let a = add_one(&dev, &iso, &opts).unwrap();
            assert!(a.verified && a.entry.is_contiguous());
            assert_eq!(a.entry.extents[0].start % u64::from(ss), 0);
            let r = {
                let mut s = stick::Stick::open(&dev, false).unwrap();
                let layout = *s.layout();
                assert_eq!(layout.sector_size, ss);
                let mut vol = stick::index_io::open_volume(&mut s).unwrap();
                stick::check::check(
                    &mut vol,
                    Some(&layout),
                    stick::check::CheckOptions { hash: true },
                    &mut |_| {},
                )
                .unwrap()
            };
            assert!(!r.has_problems(), "{:?}", r.findings);
            assert_eq!(r.hashes_checked, 1);
        }
        assert_consistent(
            &img,
            &[("/h.iso".to_string(), iso.clone())].into_iter().collect(),
            &format!("after add through a {ss}-byte-sector loop device"),
        );
    }
}
