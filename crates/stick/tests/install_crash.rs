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

/// Stage 2 of `len` bytes with the `BSH2` signature at byte 4 and `fill` elsewhere.
fn stage2(len: usize, fill: u8) -> Vec<u8> {
    let mut v = vec![fill; len];
    v[4..8].copy_from_slice(b"BSH2");
    v
}

/// A whole `update` (ESP, stage 2, LBA 0) from one boot code version to another, killed
/// after every sector write: the BIOS pair the disk then holds is the old one (old MBR,
/// loading the untouched old stage 2) or the new one (new MBR, loading the new stage 2
/// from the other slot), the UEFI loader is the old one or the new one, and the next
/// update finishes it. GPT at 512 and MBR at 4096 bytes per sector.
#[test]
fn whole_update_killed_at_every_write_leaves_the_old_or_the_new_boot_code() {
    use stick::bootcode::MBR_CODE_MAX;
    use stick::{BootCode, InstallOptions, Scheme, Stick};
    for (scheme, ss) in [(Scheme::Gpt, 512u32), (Scheme::Mbr, 4096)] {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("stick.img");
        let (mbr_a, s2_a, efi_a) = (
            [0x11u8; MBR_CODE_MAX],
            stage2(6_000, 0xA1),
            vec![0xA2; 3_000],
        );
        let (mbr_b, s2_b, efi_b) = (
            [0x22u8; MBR_CODE_MAX],
            stage2(9_000, 0xB1),
            vec![0xB2; 9_000],
        );
        let old = BootCode {
            mbr: &mbr_a,
            stage2: &s2_a,
            efi: &[("BOOTX64.EFI", &efi_a)],
        };
        let new = BootCode {
            mbr: &mbr_b,
            stage2: &s2_b,
            efi: &[("BOOTX64.EFI", &efi_b)],
        };
        let opts = InstallOptions {
            scheme,
            create_size: Some(50 << 20),
            image_sector_size: Some(ss),
            ..InstallOptions::default()
        };
        stick::install(&img, &opts, &old).unwrap();
        let layout = *Stick::open(&img, false).unwrap().layout();
        let base = std::fs::read(&img).unwrap();
        let [a, b] = layout.stage2_slots();
        let ssz = ss as usize;
        let at = |data: &[u8], lba: u64, len: usize| data[lba as usize * ssz..][..len].to_vec();
        let esp_range = layout.esp.byte_start(ss) as usize
            ..(layout.esp.byte_start(ss) + layout.esp.byte_len(ss)) as usize;

        let mut full = CutAfter::new(
            MemDevice::from_bytes(ss, base.clone()),
            u64::MAX,
            Count::Sectors,
        );
        stick::update::update_device(&mut full, &layout, &[], &new).unwrap();
        // fatfs stamps the new file with the time, so a run may write a sector more or
        // less than this one: go on until a run finishes.
        let total = full.done() + 4;
        let (mut olds, mut news) = (0, 0);
        for budget in 0..=total {
            let mut dev = CutAfter::new(
                MemDevice::from_bytes(ss, base.clone()),
                budget,
                Count::Sectors,
            );
            let r = stick::update::update_device(&mut dev, &layout, &[], &new);
            assert!(r.is_ok() || dev.done() == budget, "{scheme} {ss}: {r:?}");
            let data = &dev.inner().data;
            let code = &data[..MBR_CODE_MAX];
            if code == old.mbr_loading(&layout, a).unwrap().as_slice() {
                assert_eq!(
                    at(data, a, s2_a.len()),
                    s2_a,
                    "{scheme} {ss} cut at {budget}: old MBR, stage 2 changed"
                );
                olds += 1;
            } else if code == new.mbr_loading(&layout, b).unwrap().as_slice() {
                assert_eq!(
                    at(data, b, s2_b.len()),
                    s2_b,
                    "{scheme} {ss} cut at {budget}: new MBR without its stage 2"
                );
                news += 1;
            } else {
                panic!("{scheme} {ss} cut at {budget}: LBA 0 holds neither MBR");
            }
            assert_eq!(
                &data[MBR_CODE_MAX..ssz],
                &base[MBR_CODE_MAX..ssz],
                "table bytes of LBA 0"
            );
            let mut esp_img = data[esp_range.clone()].to_vec();
            let loader = esp::read_image_file(&mut esp_img, LOADER_PATH)
                .unwrap()
                .unwrap();
            assert!(
                loader == efi_a || loader == efi_b,
                "{scheme} {ss} cut at {budget}: loader"
            );
            // The next update finishes it.
            let mut dev = dev.into_inner();
            stick::update::update_device(&mut dev, &layout, &[], &new).unwrap();
            assert_eq!(
                &dev.data[..MBR_CODE_MAX],
                new.mbr_loading(&layout, b).unwrap().as_slice()
            );
            let mut esp_img = dev.data[esp_range.clone()].to_vec();
            assert_eq!(esp::fsck(&esp_img).unwrap(), []);
            assert_eq!(
                esp::read_image_file(&mut esp_img, LOADER_PATH)
                    .unwrap()
                    .unwrap(),
                efi_b
            );
        }
        eprintln!("{scheme} {ss}: {total} kill points: {olds} left the old pair, {news} the new");
        assert!(olds > 0 && news > 0);
    }
}
