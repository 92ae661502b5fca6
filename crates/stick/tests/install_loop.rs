//! The block-device path on loop devices (root only; skipped with a message otherwise):
//! BLKGETSIZE64/BLKSSZGET sizing on 512- and 4096-byte loop devices, exclusive open,
//! the safety rules, and the result checked by external tools on the backing file.

use std::os::unix::fs::OpenOptionsExt;
use stick::device::{self, SafetyOverrides};
use stick::install::InstallOptions;
use stick::{BootCode, Error, Scheme, Stick};
use testkit::image::read_range;
use testkit::loopdev::{LoopDev, LoopOptions};
use testkit::stick::{check_image, mtype};

const SIZE: u64 = 96 << 20;

fn backing(dir: &std::path::Path) -> std::path::PathBuf {
    let f = dir.join("backing.img");
    std::fs::File::create(&f).unwrap().set_len(SIZE).unwrap();
    f
}

fn forced(scheme: Scheme) -> InstallOptions {
    InstallOptions {
        scheme,
        safety: SafetyOverrides { allow_fixed: true },
        ..Default::default()
    }
}

#[test]
fn install_and_update_on_loop_devices_512_and_4096() {
    for (scheme, ss) in [(Scheme::Gpt, 512), (Scheme::Gpt, 4096), (Scheme::Mbr, 4096)] {
        let dir = tempfile::tempdir().unwrap();
        let file = backing(dir.path());
        let lp = LoopDev::attach(&file, LoopOptions::sector_size(ss)).unwrap();
        let boot = BootCode {
            efi: &[("BOOTX64.EFI", b"MZ loop loader")],
            ..BootCode::placeholder()
        };
        // A loop device is not removable: refused without --force, with the reason.
        let err = stick::install(lp.path(), &InstallOptions::default(), &boot).unwrap_err();
        assert!(
            matches!(&err, Error::Refused { reason, .. } if reason.contains("--force")),
            "{err}"
        );
        // --size makes no sense for a block device.
        let with_size = InstallOptions {
            create_size: Some(SIZE),
            ..forced(scheme)
        };
        assert!(matches!(
            stick::install(lp.path(), &with_size, &boot),
            Err(Error::Refused { .. })
        ));
        stick::install(lp.path(), &forced(scheme), &boot).unwrap();

        let stick = Stick::open(lp.path(), true).unwrap();
        let layout = *stick.layout();
        assert_eq!(layout.sector_size, ss, "BLKSSZGET");
        assert_eq!(layout.disk_sectors * u64::from(ss), SIZE, "BLKGETSIZE64");
        assert_eq!(layout.scheme, scheme);
        let info = stick.disk_info().unwrap().clone();
        assert_eq!(info.dev_path, lp.path());
        assert!(!info.removable);

        // Held open for writing (O_EXCL and the exclusive lock): a second writer and a
        // reader are refused, naming this process as the holder (docs/safety.md).
        for writable in [true, false] {
            match Stick::open(lp.path(), writable) {
                Err(Error::Locked {
                    holder: Some(h), ..
                }) => assert_eq!(h.pid, std::process::id()),
                other => panic!("second open (writable: {writable}): {other:?}"),
            }
        }
        drop(stick);
        // Read-only opens share the lock.
        let r1 = Stick::open(lp.path(), false).unwrap();
        assert_eq!(Stick::open(lp.path(), false).unwrap().layout(), &layout);
        drop(r1);
        let mut stick = Stick::open(lp.path(), true).unwrap();
        let new_efi = vec![0x42u8; 200_000];
        let new_files: [(&str, &[u8]); 1] = [("BOOTX64.EFI", &new_efi)];
        let boot2 = BootCode {
            efi: &new_files,
            ..boot
        };
        let r = stick::update::update(&mut stick, &boot2).unwrap();
        assert!(r.esp_sectors_written > 0);
        drop(stick);

        let esp = check_image(&file, &layout, dir.path());
        assert!(mtype(&esp, "/EFI/BOOT/BOOTX64.EFI") == new_efi);
    }
}

#[test]
fn a_disk_opened_exclusively_elsewhere_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = backing(dir.path());
    let lp = LoopDev::attach(&file, LoopOptions::sector_size(512)).unwrap();
    let _holder = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_EXCL)
        .open(lp.path())
        .unwrap();
    let err =
        stick::install(lp.path(), &forced(Scheme::Gpt), &BootCode::placeholder()).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    // Nothing was written.
    assert!(read_range(&file, 0, 1 << 20).iter().all(|&b| b == 0));
}

#[test]
fn the_system_disk_is_refused_even_with_force() {
    let system = device::system_disks();
    let Some(name) = system.iter().next() else {
        eprintln!("skipped: no block device under / (container root)");
        return;
    };
    let info = device::disk_info(name).unwrap();
    assert!(info.system);
    let err =
        device::check_safe_to_erase(&info, SafetyOverrides { allow_fixed: true }).unwrap_err();
    assert!(err.to_string().contains("root file system"), "{err}");
    // And through install itself (nothing is written: the check comes first).
    let err = stick::install(
        &info.dev_path,
        &forced(Scheme::Gpt),
        &BootCode::placeholder(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
}
