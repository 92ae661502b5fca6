//! `update` killed after every possible number of ESP sector writes: the UEFI loader is
//! always the whole old file or the whole new one (read by our fatfs code and by mtools),
//! `fsck.fat -n` finds at most benign leftovers, and the next update repairs them.

use blockdev::MemDevice;
use stick::esp::{self, INFO_PATH, LOADER_PATH};
use stick::SectorRange;
use testkit::check::fsck_fat;
use testkit::cutdev::{Count, CutAfter};
use testkit::stick::{mdir, mtype};

#[test]
fn update_killed_at_every_write_leaves_old_or_new_loader() {
    for ss in [512u32, 4096] {
        let sectors = (32u64 << 20) / u64::from(ss);
        let range = SectorRange::new(0, sectors).unwrap();
        // Small files keep the number of kill points (one per sector written) modest.
        let old: Vec<u8> = (0..3_000u32).map(|i| (i % 241) as u8).collect();
        let new: Vec<u8> = (0..9_000u32).map(|i| (i % 239) as u8 ^ 0x5A).collect();
        let img =
            esp::build_image(ss, sectors, &[(LOADER_PATH, &old), (INFO_PATH, b"v1")]).unwrap();
        let files: [(&str, &[u8]); 2] = [(LOADER_PATH, &new), (INFO_PATH, b"v2")];

        // How many sector writes a full update takes.
        let mut full = CutAfter::new(
            MemDevice::from_bytes(ss, img.clone()),
            u64::MAX,
            Count::Sectors,
        );
        esp::update_in_place(&mut full, range, &files).unwrap();
        let total = full.done();
        assert!(total > 10, "{total}");

        // 2 x 32 MiB written per kill point: keep it in RAM when possible.
        let dir = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        let path = dir.path().join("esp.img");
        let mut unclean = 0;
        for budget in 0..=total {
            let mut dev = CutAfter::new(
                MemDevice::from_bytes(ss, img.clone()),
                budget,
                Count::Sectors,
            );
            let r = esp::update_in_place(&mut dev, range, &files);
            let mut after = dev.inner().data.clone();
            let loader = esp::read_image_file(&mut after, LOADER_PATH)
                .unwrap()
                .unwrap();
            if r.is_ok() {
                assert!(
                    loader == new,
                    "update succeeded but the loader is not the new one"
                );
            } else {
                assert_eq!(
                    dev.done(),
                    budget,
                    "failed without running out of writes: {r:?}"
                );
            }
            assert!(
                loader == old || loader == new,
                "{ss}: killed after {budget} writes: loader is neither old nor new"
            );
            // Our own check (what `bootshelf check` reports, and what decides between
            // repairing in place and rebuilding) sees only what the next update clears.
            let ours = esp::fsck(&after).unwrap();
            assert!(
                ours.iter().all(|i| i.is_benign()),
                "{ss}: killed after {budget} writes: esp::fsck finds {ours:?}"
            );
            std::fs::write(&path, &after).unwrap();
            assert!(
                mtype(&path, "/EFI/BOOT/BOOTX64.EFI") == loader,
                "mtools disagrees"
            );
            let fsck = fsck_fat(&path);
            let (clean, report) = (fsck.clean, fsck.report);
            if !clean {
                unclean += 1;
                // Only lost clusters or the temporary may be left behind.
                let lower = report.to_lowercase();
                assert!(
                    lower.contains("unused cluster")
                        || lower.contains("fats differ")
                        || lower.contains("bsnew.tmp")
                        || lower.contains("file size"),
                    "{ss}: killed after {budget} writes:\n{report}"
                );
            }
            // The next update repairs everything.
            let mut dev = dev.into_inner();
            esp::update_in_place(&mut dev, range, &files).unwrap();
            let mut fixed = dev.data.clone();
            assert!(
                esp::read_image_file(&mut fixed, LOADER_PATH)
                    .unwrap()
                    .unwrap()
                    == new
            );
            assert_eq!(esp::fsck(&fixed).unwrap(), [], "esp::fsck after the repair");
            std::fs::write(&path, &fixed).unwrap();
            fsck_fat(&path).assert_clean("fsck.fat -n after the repairing update");
            assert_eq!(mdir(&path, "/EFI/BOOT"), vec!["BOOTX64.EFI"]);
        }
        eprintln!("{ss}: {total} kill points, {unclean} left benign fsck findings");
    }
}
