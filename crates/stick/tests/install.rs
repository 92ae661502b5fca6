//! `install` and `update` on image files, 512- and 4096-byte sectors, GPT and MBR,
//! checked by external tools (sgdisk/sfdisk, fsck.exfat, exfatlabel, fsck.fat, mtools).

use std::path::Path;
use stick::install::{prepare, InstallOptions, Step};
use stick::{BootCode, Error, Layout, Scheme, Stick};
use testkit::cmd::ok;
use testkit::image::read_range;
use testkit::stick::{check_image, mdir, mtype};

const SIZE: u64 = 128 << 20;

fn opts(scheme: Scheme, ss: u32) -> InstallOptions {
    InstallOptions {
        scheme,
        create_size: Some(SIZE),
        image_sector_size: Some(ss),
        ..Default::default()
    }
}

fn boot_a() -> BootCode<'static> {
    BootCode {
        mbr: stick::bootcode::PLACEHOLDER_MBR,
        stage2: b"stage two, version A",
        efi: &[("BOOTX64.EFI", b"MZ fake UEFI loader A")],
        secure_esp: None,
    }
}

fn lba0(img: &Path, ss: u32) -> Vec<u8> {
    read_range(img, 0, u64::from(ss))
}

const CASES: [(Scheme, u32); 4] = [
    (Scheme::Gpt, 512),
    (Scheme::Gpt, 4096),
    (Scheme::Mbr, 512),
    (Scheme::Mbr, 4096),
];

#[test]
fn install_makes_a_stick_every_checker_accepts() {
    for (scheme, ss) in CASES {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("stick.img");
        stick::install(&img, &opts(scheme, ss), &boot_a()).unwrap();
        // Sparse: far fewer blocks allocated than the size.
        let blocks = std::os::unix::fs::MetadataExt::blocks(&std::fs::metadata(&img).unwrap());
        assert!(blocks * 512 < SIZE / 2, "{scheme} {ss}: image not sparse");

        let stick = Stick::open(&img, false).unwrap();
        let layout = *stick.layout();
        assert_eq!(layout, {
            let plan = Layout::plan(scheme, ss, SIZE / u64::from(ss)).unwrap();
            Layout {
                window: None,
                ..plan
            }
        });
        assert_eq!(layout.data.byte_start(ss), 1 << 20);
        let esp = check_image(&img, &layout, dir.path());
        assert_eq!(mdir(&esp, "/EFI/BOOT"), vec!["BOOTX64.EFI"]);
        assert_eq!(mtype(&esp, "/EFI/BOOT/BOOTX64.EFI"), boot_a().efi[0].1);
        assert!(String::from_utf8(mtype(&esp, "/BOOTSHELF.TXT"))
            .unwrap()
            .contains("written by bootshelf"));
        let s0 = lba0(&img, ss);
        assert_eq!(&s0[..boot_a().mbr.len()], boot_a().mbr);
        assert_eq!(&s0[510..512], &[0x55, 0xAA]);
        let st2 = read_range(
            &img,
            layout.bios_boot.byte_start(ss),
            boot_a().stage2.len() as u64,
        );
        assert_eq!(st2, boot_a().stage2);
    }
}

#[test]
fn update_rewrites_boot_code_and_leaves_the_data_partition_alone() {
    for (scheme, ss) in CASES {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("stick.img");
        stick::install(&img, &opts(scheme, ss), &boot_a()).unwrap();
        let layout = *Stick::open(&img, false).unwrap().layout();
        // Put a pattern into free clusters near the end of the data partition so that
        // "untouched" covers non-zero bytes too (free space content is irrelevant to exFAT).
        {
            let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
            let at = layout.data.byte_start(ss) + layout.data.byte_len(ss) - (2 << 20);
            let pat: Vec<u8> = (0..1u32 << 20).map(|i| (i % 253) as u8).collect();
            std::os::unix::fs::FileExt::write_all_at(&f, &pat, at).unwrap();
        }
        let data_before = read_range(&img, layout.data.byte_start(ss), layout.data.byte_len(ss));
        let table_before = lba0(&img, ss)[440..].to_vec();
        // Primary GPT header and entries (MBR: nothing, that range is stage 2).
        let gpt_range = (
            u64::from(ss),
            layout.bios_boot.byte_start(ss) - u64::from(ss),
        );
        let gpt_before = read_range(&img, gpt_range.0, gpt_range.1);

        let big_efi: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let aa64_efi = vec![0xAAu8; 250_000];
        let ia32_efi = vec![0x32u8; 240_000];
        let mbr_b = [0x90u8; 300];
        // The update brings the loaders of the other architectures beside BOOTX64.EFI.
        let efi_b: [(&str, &[u8]); 3] = [
            ("BOOTX64.EFI", &big_efi),
            ("BOOTAA64.EFI", &aa64_efi),
            ("BOOTIA32.EFI", &ia32_efi),
        ];
        let boot_b = BootCode {
            mbr: &mbr_b,
            stage2: &[0xABu8; 70_000],
            efi: &efi_b,
            secure_esp: None,
        };
        let mut stick = Stick::open(&img, true).unwrap();
        let r = stick::update::update(&mut stick, &boot_b).unwrap();
        assert!(
            r.esp_sectors_written > 0
                && r.stage2_written
                && r.mbr_written
                && r.esp_rebuilt.is_none()
        );
        drop(stick);

        let data_after = read_range(&img, layout.data.byte_start(ss), layout.data.byte_len(ss));
        assert!(
            data_before == data_after,
            "{scheme} {ss}: data partition changed"
        );
        let s0 = lba0(&img, ss);
        assert_eq!(&s0[..300], &mbr_b[..]);
        assert!(s0[300..440].iter().all(|&b| b == 0));
        assert_eq!(
            &s0[440..],
            &table_before[..],
            "table bytes of LBA 0 changed"
        );
        if scheme == Scheme::Gpt {
            assert!(
                read_range(&img, gpt_range.0, gpt_range.1) == gpt_before,
                "GPT changed"
            );
        }
        assert!(
            read_range(&img, layout.bios_boot.byte_start(ss), 70_000) == vec![0xAB; 70_000],
            "stage 2 not rewritten"
        );
        let esp = check_image(&img, &layout, dir.path());
        assert!(
            mtype(&esp, "/EFI/BOOT/BOOTX64.EFI") == big_efi,
            "loader differs"
        );
        assert!(mtype(&esp, "/EFI/BOOT/BOOTAA64.EFI") == aa64_efi);
        assert!(mtype(&esp, "/EFI/BOOT/BOOTIA32.EFI") == ia32_efi);
        let mut names = mdir(&esp, "/EFI/BOOT");
        names.sort();
        assert_eq!(names, vec!["BOOTAA64.EFI", "BOOTIA32.EFI", "BOOTX64.EFI"]);
        // A second update with the same code writes nothing.
        let r = stick::update::update(&mut Stick::open(&img, true).unwrap(), &boot_b).unwrap();
        assert_eq!(r, stick::update::UpdateReport::default());
    }
}

#[test]
fn a_half_installed_disk_is_not_a_stick() {
    for (scheme, ss) in CASES {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("stick.img");
        // An existing stick is being reinstalled and killed at each step.
        stick::install(&img, &opts(scheme, ss), &boot_a()).unwrap();
        for stop in Step::ALL {
            let snap = dir.path().join(format!("{stop:?}.img"));
            let prepared = prepare(&img, &opts(scheme, ss)).unwrap();
            let mut taken = false;
            prepared
                .run(&boot_a(), &mut |step| {
                    if step == stop && !taken {
                        // Everything written before this step has been flushed.
                        std::process::Command::new("cp")
                            .args(["--sparse=always"])
                            .arg(&img)
                            .arg(&snap)
                            .status()
                            .unwrap();
                        taken = true;
                    }
                })
                .unwrap();
            if stop == Step::Wipe {
                // Killed before anything was written: still the old stick.
                Stick::open(&snap, false).unwrap();
                continue;
            }
            match Stick::open(&snap, false) {
                Err(Error::NotAStick { found, .. }) => {
                    assert!(found.contains("no partition table"), "{found}")
                }
                // A stick killed once its ESP and exFAT were complete (the exFAT's boot
                // sector is written last) is a stick whose table is lost (MBR: LBA 0;
                // GPT: all of it): `update` finishes it.
                Err(Error::Lba0Lost {
                    scheme: Scheme::Mbr,
                    ..
                })
                | Err(Error::GptLost { .. })
                    if matches!(stop, Step::Stage2 | Step::Table) =>
                {
                    let mut st = Stick::open_for_repair(&snap, true).unwrap();
                    let r = stick::update::update(&mut st, &boot_a()).unwrap();
                    assert!(r.lba0_restored, "{scheme} {ss} killed at {stop:?}: {r:?}");
                    drop(st);
                    let layout = *Stick::open(&snap, false).unwrap().layout();
                    check_image(&snap, &layout, dir.path());
                }
                other => panic!("{scheme} {ss} killed at {stop:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn foreign_disks_are_named_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("foreign.img");
    std::fs::File::create(&img).unwrap().set_len(SIZE).unwrap();
    let err = Stick::open(&img, false).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no partition table") && msg.contains("bootshelf install"),
        "{msg}"
    );

    ok(std::process::Command::new("sgdisk")
        .args(["-n", "1:2048:+20M", "-t", "1:8300", "-c", "1:root"])
        .arg(&img));
    let msg = Stick::open(&img, false).unwrap_err().to_string();
    assert!(
        msg.contains("a GPT with 1: Linux filesystem \"root\" at LBA 2048"),
        "{msg}"
    );

    // The right partitions but no exFAT inside: still refused, with the offset.
    let img2 = dir.path().join("noexfat.img");
    stick::install(&img2, &opts(Scheme::Mbr, 512), &boot_a()).unwrap();
    stick::install::prepare(&img2, &opts(Scheme::Mbr, 512)).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&img2).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, &[0u8; 512], 1 << 20).unwrap();
    let msg = Stick::open(&img2, false).unwrap_err().to_string();
    assert!(
        msg.contains("holds no exFAT") && msg.contains("1048579"),
        "{msg}"
    );
}

#[test]
fn boot_code_that_does_not_fit_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("stick.img");
    let mbr = [0u8; 441];
    let boot = BootCode {
        mbr: &mbr,
        ..boot_a()
    };
    let err = stick::install(&img, &opts(Scheme::Gpt, 512), &boot).unwrap_err();
    assert!(
        matches!(err, Error::BootCodeTooLarge { len: 441, .. }),
        "{err}"
    );
    let stage2 = vec![1u8; 1 << 20];
    let boot = BootCode {
        stage2: &stage2,
        ..boot_a()
    };
    let err = stick::install(&img, &opts(Scheme::Gpt, 512), &boot).unwrap_err();
    assert!(matches!(err, Error::BootCodeTooLarge { .. }), "{err}");
    // Nothing was written: the image file was not even created.
    assert!(!img.exists(), "a refused install created {}", img.display());
    // An existing file is left as it was (same length, all zeros, no table).
    std::fs::File::create(&img).unwrap().set_len(SIZE).unwrap();
    let err = stick::install(&img, &opts(Scheme::Gpt, 512), &boot).unwrap_err();
    assert!(matches!(err, Error::BootCodeTooLarge { .. }), "{err}");
    assert_eq!(std::fs::metadata(&img).unwrap().len(), SIZE);
    assert!(read_range(&img, 0, 1 << 20).iter().all(|&b| b == 0));
}

/// The ESP share counts every file the ESP gets: in shim mode shim, MokManager, the signed
/// loader and the certificate with the other architectures' loaders. A set whose loaders
/// alone fit but whose shim and MokManager make it more than half the ESP is refused
/// before anything is written; the same set with a real-sized shim fits.
#[test]
fn shim_and_mok_manager_count_in_the_esp_share() {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("stick.img");
    let layout = Layout::plan(Scheme::Gpt, 512, SIZE / 512).unwrap();
    let half = layout.esp.byte_len(512) / stick::bootcode::EFI_MAX_SHARE_OF_ESP;
    let secure = |shim_len: u64| stick::bootcode::SecureEsp {
        files: vec![
            (stick::secure_boot::SECOND_STAGE_PATH, b"MZ signed".to_vec()),
            (
                stick::secure_boot::MOK_MANAGER_PATH,
                vec![1u8; (half / 2) as usize],
            ),
            (stick::secure_boot::CERT_PATH, b"cert".to_vec()),
            ("EFI/BOOT/BOOTX64.EFI", vec![2u8; shim_len as usize]),
        ],
        info: String::new(),
    };
    let too_big = secure(half / 2);
    let boot = BootCode {
        secure_esp: Some(&too_big),
        ..boot_a()
    };
    boot_a().check_fits(&layout).unwrap();
    let err = stick::install(&img, &opts(Scheme::Gpt, 512), &boot).unwrap_err();
    match &err {
        Error::BootCodeTooLarge { what, max, .. } => {
            assert!(what.contains("shim and MokManager"), "{err}");
            assert_eq!(*max, half);
        }
        other => panic!("{other}"),
    }
    assert!(!img.exists(), "a refused install created {}", img.display());
    let fits = secure(1 << 20);
    BootCode {
        secure_esp: Some(&fits),
        ..boot_a()
    }
    .check_fits(&layout)
    .unwrap();
}
