//! The El Torito EFI boot image's own configuration (crates/overlay, `efi`), on FAT
//! images made by mkfs.fat and mtools inside ISOs made by xorriso the ways archiso and
//! Fedora make them (the image as a file of the ISO, or as an appended partition only
//! the boot catalog names): systemd-boot entries (long names) and a `grub.cfg` with
//! kernel lines get the arguments. The served image's FAT is read back by mtools
//! (`mtype`) and checked by `fsck.fat -n`; a config that would outgrow its clusters is
//! refused; with `efi_image: false` (BIOS) the image is left alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use iso9660::{Emulation, Iso, PlatformId};
use overlay::{build, BuildError, Built, KernelArgs, Limits};
use testkit::cmd::ok;
use testkit::TempDir;

fn args() -> KernelArgs {
    let mut a = KernelArgs::new();
    a.append("nomodeset console=ttyS0").remove("quiet");
    a
}

const ARCH_ENTRY: &str = "01-archiso-x86_64-linux.conf";
const ARCH_CONF: &str = "title    Arch Linux install medium (x86_64, UEFI)\n\
     sort-key 01\n\
     linux    /arch/boot/x86_64/vmlinuz-linux\n\
     initrd   /arch/boot/x86_64/initramfs-linux.img\n\
     options  archisobasedir=arch archisosearchuuid=2024-12-01-08-13-47-00 quiet\n";
const SPEECH_ENTRY: &str = "02-archiso-x86_64-speech-linux.conf";
const SPEECH_CONF: &str = "title    Arch Linux with speech\n\
     linux    /arch/boot/x86_64/vmlinuz-linux\n\
     initrd   /arch/boot/x86_64/initramfs-linux.img\n";
const GRUB_CFG: &str = "set default=\"0\"\n\
     search --no-floppy --set=root -l 'Fedora-WS-Live-41'\n\
     menuentry 'Start Fedora' --class fedora {\n\
     \tlinux /images/pxeboot/vmlinuz root=live:CDLABEL=Fedora-WS-Live-41 rd.live.image quiet rhgb\n\
     \tinitrd /images/pxeboot/initrd.img\n\
     }\n";

/// A `kib` KiB FAT image (`mkfs.fat -F bits -s spc`) holding `files` (path, contents).
fn fat_image(dir: &Path, bits: u32, kib: u32, spc: u32, files: &[(&str, &[u8])]) -> PathBuf {
    let img = dir.join(format!("efiboot-{bits}.img"));
    testkit::image::mtools_fat(&img, bits, kib, spc, "ARCHISO_EFI", files);
    img
}

/// An ISO whose El Torito EFI entry is `fat`: a file of the ISO (`/EFI/efiboot.img`), or
/// (`appended`) an appended partition outside the ISO 9660 tree, as archiso makes it.
fn iso_with(dir: &Path, fat: &Path, appended: bool) -> Vec<u8> {
    let src = dir.join("tree");
    let _ = std::fs::remove_dir_all(&src);
    std::fs::create_dir_all(src.join("EFI")).unwrap();
    std::fs::write(
        src.join("README.txt"),
        "an ISO without kernel lines of its own\n",
    )
    .unwrap();
    let out = dir.join("efi.iso");
    let _ = std::fs::remove_file(&out);
    let mut cmd = Command::new("xorriso");
    cmd.args(["-as", "mkisofs", "-R", "-J", "-V", "EFICFG", "-o"])
        .arg(&out);
    if appended {
        cmd.args(["-append_partition", "2", "0xef"]).arg(fat).args([
            "-e",
            "--interval:appended_partition_2:all::",
            "-no-emul-boot",
        ]);
    } else {
        std::fs::copy(fat, src.join("EFI/efiboot.img")).unwrap();
        cmd.args(["-e", "EFI/efiboot.img", "-no-emul-boot"]);
    }
    ok(cmd.arg(&src));
    std::fs::read(&out).unwrap()
}

/// The served ISO's EFI boot image (from its load RBA to the ISO's end), in a file.
fn served_fat(dir: &Path, iso: &[u8], built: &Built) -> PathBuf {
    let mut served = vec![0u8; built.overlay.len() as usize];
    built.overlay.read(&mut &iso[..], 0, &mut served).unwrap();
    let mut fs = Iso::open(served.as_slice()).unwrap();
    let cat = fs.boot_catalog().unwrap().unwrap();
    let efi = cat
        .entries(fs.reader())
        .map(Result::unwrap)
        .find(|e| e.platform == PlatformId::EFI && e.emulation() == Emulation::NONE)
        .unwrap();
    let path = dir.join("served-efiboot.img");
    std::fs::write(&path, &served[efi.image_offset() as usize..]).unwrap();
    path
}

/// `path` of the FAT image `img`, as mtools reads it.
fn mtype(img: &Path, path: &str) -> String {
    ok(Command::new("mtype")
        .arg("-i")
        .arg(img)
        .arg(format!("::{path}")))
}

/// `fsck.fat -n` finds nothing to fix in `img`.
fn fsck_clean(img: &Path) {
    let out = Command::new("fsck.fat")
        .arg("-n")
        .arg(img)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
}

#[test]
fn systemd_boot_entries_and_grub_cfg_in_the_efi_image_get_the_arguments() {
    let tmp = TempDir::new("overlay-efi");
    let files: [(&str, &[u8]); 4] = [
        ("EFI/BOOT/BOOTx64.EFI", b"MZ not really systemd-boot"),
        (
            &format!("loader/entries/{ARCH_ENTRY}"),
            ARCH_CONF.as_bytes(),
        ),
        (
            &format!("loader/entries/{SPEECH_ENTRY}"),
            SPEECH_CONF.as_bytes(),
        ),
        ("EFI/BOOT/grub.cfg", GRUB_CFG.as_bytes()),
    ];
    // FAT12 with 512-byte clusters and FAT16 with 2 KiB ones; a file in the ISO and an
    // appended partition.
    for (bits, kib, spc, appended) in [(12, 1440, 1, false), (16, 16 * 1024, 4, true)] {
        let fat = fat_image(tmp.dir(), bits, kib, spc, &files);
        let iso = iso_with(tmp.dir(), &fat, appended);
        let before = iso.clone();
        let built = build(iso.as_slice(), &args(), &Limits::default()).unwrap();
        assert_eq!(iso, before, "the ISO is only read");
        assert_eq!(built.kernel_lines, 3, "FAT{bits}: {:?}", built.files);
        let mut paths: Vec<&str> = built.files.iter().map(|f| f.path.as_str()).collect();
        paths.sort();
        assert_eq!(
            paths,
            [
                "/EFI/BOOT/grub.cfg",
                &format!("/loader/entries/{ARCH_ENTRY}"),
                &format!("/loader/entries/{SPEECH_ENTRY}"),
            ]
        );
        assert!(built
            .files
            .iter()
            .all(|f| f.efi_image.is_some() && !f.relocated));
        // Nothing was added past the ISO's end: the files stayed in their clusters.
        assert_eq!(built.overlay.len(), iso.len() as u64);

        let served = served_fat(tmp.dir(), &iso, &built);
        fsck_clean(&served);
        let arch = mtype(&served, &format!("/loader/entries/{ARCH_ENTRY}"));
        assert_eq!(
            arch,
            // The rewriter writes `options ARGS` with one space.
            ARCH_CONF.replace(
                "options  archisobasedir=arch archisosearchuuid=2024-12-01-08-13-47-00 quiet\n",
                "options archisobasedir=arch archisosearchuuid=2024-12-01-08-13-47-00 nomodeset console=ttyS0\n"
            ),
            "FAT{bits}"
        );
        let speech = mtype(&served, &format!("/loader/entries/{SPEECH_ENTRY}"));
        assert_eq!(
            speech,
            format!("{SPEECH_CONF}options nomodeset console=ttyS0\n")
        );
        let grub = mtype(&served, "/EFI/BOOT/grub.cfg");
        assert!(
            grub.contains("\tlinux /images/pxeboot/vmlinuz root=live:CDLABEL=Fedora-WS-Live-41 rd.live.image rhgb nomodeset console=ttyS0\n"),
            "{grub}"
        );
        // The rest of the image is the same: the loader and the untouched bytes.
        assert_eq!(
            mtype(&served, "/EFI/BOOT/BOOTX64.EFI"),
            "MZ not really systemd-boot"
        );
        // crates/efi-image reads the same through its long names.
        let image = std::fs::read(&served).unwrap();
        let mut reader = efi_image::FatImage::open(image.as_slice()).unwrap();
        let text = reader
            .read_file(&format!("/LOADER/Entries/{ARCH_ENTRY}"), 1 << 20)
            .unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), arch);

        // Under BIOS the EFI image is left alone, and this ISO has nothing else.
        let bios = Limits {
            efi_image: false,
            ..Limits::default()
        };
        assert_eq!(
            build(iso.as_slice(), &args(), &bios),
            Err(BuildError::NoKernelLines)
        );
    }
}

#[test]
fn a_removed_argument_that_frees_a_cluster_pads_the_file_with_empty_lines() {
    let tmp = TempDir::new("overlay-efi-shrink");
    // 600 bytes over two 512-byte clusters; removing the long argument leaves one.
    let long = "x".repeat(400);
    let conf = format!("title T\nlinux /vmlinuz\noptions root=live long={long} quiet\n");
    let conf = format!("{conf}{}", "#".repeat(600 - conf.len() - 1) + "\n");
    assert_eq!(conf.len(), 600);
    let fat = fat_image(
        tmp.dir(),
        12,
        1440,
        1,
        &[("loader/entries/t.conf", conf.as_bytes())],
    );
    let iso = iso_with(tmp.dir(), &fat, false);
    let mut a = KernelArgs::new();
    a.remove("long");
    let built = build(iso.as_slice(), &a, &Limits::default()).unwrap();
    let served = served_fat(tmp.dir(), &iso, &built);
    fsck_clean(&served);
    let text = mtype(&served, "/loader/entries/t.conf");
    let want = conf.replace(&format!(" long={long}"), "");
    assert_eq!(text, want.clone() + &"\n".repeat(513 - want.len()));
}

#[test]
fn a_config_that_would_outgrow_its_clusters_is_refused() {
    let tmp = TempDir::new("overlay-efi-full");
    // Exactly one 512-byte cluster: any added argument needs a second.
    let head = "title Full\nlinux /vmlinuz\noptions root=live\n";
    let conf = format!("{head}#{}\n", "-".repeat(512 - head.len() - 2));
    assert_eq!(conf.len(), 512);
    let fat = fat_image(
        tmp.dir(),
        12,
        1440,
        1,
        &[("loader/entries/full.conf", conf.as_bytes())],
    );
    let iso = iso_with(tmp.dir(), &fat, false);
    let err = build(iso.as_slice(), &args(), &Limits::default()).unwrap_err();
    assert_eq!(
        err,
        BuildError::EfiConfigGrows {
            path: "/loader/entries/full.conf".into(),
            bytes: 512 + " nomodeset console=ttyS0".len(),
            room: 512,
        }
    );
    assert!(err
        .to_string()
        .starts_with("/loader/entries/full.conf in its EFI boot image would need 536 bytes"));
}
