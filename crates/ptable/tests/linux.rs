//! The ISO window as a booted Linux sees it (QEMU, stick on USB storage): Debian's kernel
//! with a busybox initramfs that loads the USB, SCSI disk and iso9660 modules, then finds
//! its medium the two ways live systems do, with no help from bootshelf:
//!
//! * by label (`findfs LABEL=...`, waiting for it to appear, as dracut and archiso do);
//! * by probing every block device for a file unique to the ISO (as live-boot and casper
//!   do), mounting each as iso9660.
//!
//! Two ISOs lie in the data partition; the window is set over one of them by this crate.
//! That one must be found, and the other must not. GPT with 512- and 4096-byte sectors,
//! and MBR. The kernel is booted directly (`-kernel`): the loaders' own boot tests cover
//! the way there.

use blockdev::{BlockDevice, Extent};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::image::open_device;
use testkit::table::{self, TableKind, TableSpec};

const MIB: u64 = 1 << 20;

/// Modules needed for a USB stick and iso9660 on Debian's 6.1 kernel, in load order.
const MODULES: &[&str] = &[
    "usb-common",
    "usbcore",
    "xhci-hcd",
    "xhci-pci",
    "scsi_common",
    "scsi_mod",
    "crc64",
    "crc64-rocksoft",
    "crct10dif_common",
    "crc-t10dif",
    "t10-pi",
    "sd_mod",
    "usb-storage",
    "cdrom",
    "isofs",
    "loop",
];

/// Run `cmd args` (in `dir`, with `stdin` as its input), which must succeed; returns its
/// standard output.
fn sh(cmd: &str, args: &[&str], dir: Option<&Path>, stdin: Option<&str>) -> String {
    let mut c = Command::new(cmd);
    c.args(args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    let ran = testkit::cmd::feed(&mut c, stdin);
    assert!(ran.success, "{cmd} {args:?}: {}", ran.stderr);
    ran.stdout
}

/// The kernel release in a bzImage's header ("6.1.0-56-amd64 (...) #1 SMP ...").
fn kernel_release(bz: &[u8]) -> String {
    let ptr = u16::from_le_bytes([bz[0x20E], bz[0x20F]]) as usize + 0x200;
    let s = &bz[ptr..];
    let end = s.iter().position(|&b| b == b' ' || b == 0).unwrap();
    String::from_utf8(s[..end].to_vec()).unwrap()
}

/// A directory with `vmlinuz` (the fixtures' Debian kernel) and `initrd.gz` holding the
/// modules of that very kernel package and an `/init` that reports what it finds.
fn kernel_and_initramfs() -> PathBuf {
    let kernel = fixtures::uefi::debian_kernel().unwrap();
    fixtures::cached("ptable-linux-window-v4", |tmp| {
        let bz = std::fs::read(&kernel)?;
        let release = kernel_release(&bz);
        let work = tmp.with_extension("work");
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work)?;
        let pkg = format!("linux-image-{release}");
        sh("apt-get", &["download", "-q", &pkg], Some(&work), None);
        let deb = std::fs::read_dir(&work)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .unwrap();
        let root = work.join("root");
        sh("dpkg-deb", &["-x", deb.to_str().unwrap(), root.to_str().unwrap()], None, None);
        let ir = work.join("ir");
        for d in ["bin", "dev", "proc", "sys", "m", "mnt"] {
            std::fs::create_dir_all(ir.join(d))?;
        }
        let busybox = fixtures::debian_file("/bin/busybox", "busybox-static")?;
        std::fs::copy(busybox, ir.join("bin/busybox"))?;
        std::os::unix::fs::symlink("busybox", ir.join("bin/sh"))?;
        let mods = root.join("lib/modules").join(&release);
        for m in MODULES {
            let found = sh("find", &[mods.to_str().unwrap(), "-name", &format!("{m}.ko")], None, None);
            let path = found.lines().next().unwrap_or_else(|| panic!("{m}.ko not in {pkg}"));
            std::fs::copy(path, ir.join("m").join(format!("{m}.ko")))?;
        }
        let init = format!(
            "#!/bin/sh\n\
             /bin/busybox --install -s /bin\n\
             mount -t devtmpfs dev /dev\n\
             mount -t proc proc /proc\n\
             mount -t sysfs sys /sys\n\
             for m in {mods}; do insmod /m/$m.ko || echo WIN-INSMOD-FAILED $m; done\n\
             for want in $(sed -n 's/.*labels=\\([^ ]*\\).*/\\1/p' /proc/cmdline | tr , ' '); do\n\
               i=0; d=\n\
               while [ $i -lt 40 ]; do d=$(findfs LABEL=$want 2>/dev/null) && break; sleep 0.1; i=$((i+1)); done\n\
               if [ -n \"$d\" ]; then echo WIN-LABEL $want $d; else echo WIN-NO-LABEL $want; fi\n\
               if [ -n \"$d\" ]; then mount -t iso9660 -o ro $d /mnt 2>&1 | sed 's/^/WIN-MOUNT-ERROR /'; umount /mnt 2>/dev/null; fi\n\
               if [ -n \"$d\" ]; then l=$(losetup -f); losetup -r $l $d && mount -t iso9660 -o ro $l /mnt && echo WIN-LOOP-FILE $d $(cat /mnt/MARKER.TXT); umount /mnt; losetup -d $l; fi\n\
             done\n\
             for dev in /dev/sd*; do\n\
               mount -t iso9660 -o ro $dev /mnt 2>/dev/null || continue\n\
               [ -f /mnt/MARKER.TXT ] && echo WIN-FILE $dev $(cat /mnt/MARKER.TXT)\n\
               umount /mnt\n\
             done\n\
             dmesg | grep -i -E 'isofs|iso9660|block size' | sed 's/^/WIN-DMESG /'\n\
             echo WIN-DONE\n\
             poweroff -f\n",
            mods = MODULES.join(" ")
        );
        let mut f = File::create(ir.join("init"))?;
        f.write_all(init.as_bytes())?;
        let mut perm = f.metadata()?.permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        f.set_permissions(perm)?;
        drop(f);
        std::fs::create_dir_all(tmp)?;
        std::fs::copy(&kernel, tmp.join("vmlinuz"))?;
        let script = format!(
            "cd '{}' && find . | cpio -o -H newc --quiet | gzip -1 > '{}'",
            ir.display(),
            tmp.join("initrd.gz").display()
        );
        sh("sh", &["-c", &script], None, None);
        let _ = std::fs::remove_dir_all(&work);
        Ok(())
    })
    .unwrap()
}

fn iso(dir: &Path, label: &str) -> Vec<u8> {
    let src = dir.join(format!("src-{label}"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("MARKER.TXT"), format!("MARKER-{label}\n")).unwrap();
    std::fs::write(src.join("PAD.BIN"), vec![0xA5u8; 200 * 1024]).unwrap();
    let out = dir.join(format!("{label}.iso"));
    sh(
        "xorriso",
        &[
            "-as",
            "mkisofs",
            "-V",
            label,
            "-o",
            out.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
        None,
        None,
    );
    std::fs::read(out).unwrap()
}

/// A bootshelf-shaped table (data partition from 1 MiB) with ALPHA_LIVE at 4 MiB and
/// BETA_LIVE at 12 MiB inside the data partition.
fn stick(dir: &Path, kind: TableKind) -> (PathBuf, u32, [Extent; 2]) {
    let p = dir.join(format!("{kind:?}.img"));
    let spec = TableSpec {
        kind,
        data_mib: 40,
        esp_mib: 8,
        bios_boot: false,
    };
    let ss = table::make(&p, 64 * MIB, spec);
    let mut dev = open_device(&p, ss);
    let mut put = |at: u64, data: &[u8]| {
        let mut padded = data.to_vec();
        padded.resize(data.len().div_ceil(ss as usize) * ss as usize, 0);
        dev.write_sectors(at / u64::from(ss), &padded).unwrap();
        Extent {
            start: at,
            len: data.len() as u64,
        }
    };
    let a = put(4 * MIB, &iso(dir, "ALPHA_LIVE"));
    let b = put(12 * MIB, &iso(dir, "BETA_LIVE"));
    (p, ss, [a, b])
}

/// Kills QEMU when dropped, whatever happened.
struct Machine(std::process::Child);

impl Drop for Machine {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Boot Linux on the stick (USB storage on xHCI, `ss`-byte logical sectors) and return
/// what its init reported. QEMU is started directly: `-kernel` takes boot index 0, which
/// the harness gives the first drive.
fn boot_linux(img: &Path, ss: u32) -> String {
    // One guest at a time: each TCG guest takes a core, and the machine has two.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let k = kernel_and_initramfs();
    let log = img.with_extension("serial.log");
    let _ = std::fs::remove_file(&log);
    let drive = format!(
        "if=none,id=stick,format=raw,file={},snapshot=on",
        img.display()
    );
    let mut args: Vec<String> = [
        "-accel",
        "tcg",
        "-machine",
        "pc",
        "-m",
        "512",
        "-display",
        "none",
        "-monitor",
        "none",
        "-nic",
        "none",
        "-no-reboot",
        "-device",
        "qemu-xhci,id=xhci",
        "-drive",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(drive);
    if ss == 512 {
        args.extend([
            "-device".into(),
            "usb-storage,bus=xhci.0,drive=stick".into(),
        ]);
    } else {
        // usb-storage does not pass logical_block_size on; usb-bot + scsi-hd does.
        args.extend([
            "-device".into(),
            "usb-bot,id=bot,bus=xhci.0".into(),
            "-device".into(),
            format!(
                "scsi-hd,bus=bot.0,drive=stick,logical_block_size={ss},physical_block_size={ss}"
            ),
        ]);
    }
    args.extend([
        "-serial".into(),
        format!("file:{}", log.display()),
        "-kernel".into(),
        k.join("vmlinuz").to_str().unwrap().into(),
        "-initrd".into(),
        k.join("initrd.gz").to_str().unwrap().into(),
        "-append".into(),
        "console=ttyS0 quiet panic=-1 labels=ALPHA_LIVE,BETA_LIVE".into(),
    ]);
    let child = Command::new("qemu-system-x86_64")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-system-x86_64 starts");
    let mut m = Machine(child);
    let deadline = Instant::now() + Duration::from_secs(120);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("WIN-DONE") {
            break text;
        }
        if let Ok(Some(st)) = m.0.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = m.0.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            panic!("QEMU ended ({st}) before the init finished: {err}\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "no WIN-DONE within 120 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(m);
    assert!(!text.contains("WIN-INSMOD-FAILED"), "{text}");
    text
}

fn linux_finds_only_the_windowed_iso(kind: TableKind) {
    let dir = tempfile::tempdir().unwrap();
    let (img, ss, [alpha, beta]) = stick(dir.path(), kind);
    for (name, other, ext) in [
        ("ALPHA_LIVE", "BETA_LIVE", alpha),
        ("BETA_LIVE", "ALPHA_LIVE", beta),
    ] {
        let mut dev = open_device(&img, ss);
        let r = ptable::set_window(&mut dev, &[ext]).unwrap();
        drop(dev);
        let text = boot_linux(&img, ss);
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.contains(prefix))
                .unwrap_or_else(|| panic!("{kind:?} {name}: no {prefix:?} in\n{text}"))
                .trim()
                .to_string()
        };
        // By label: the windowed ISO is /dev/sda4, the other one is not there at all.
        assert!(
            line(&format!("WIN-LABEL {name}")).ends_with("/dev/sda4"),
            "{kind:?}\n{text}"
        );
        assert!(
            text.contains(&format!("WIN-NO-LABEL {other}")),
            "{kind:?}\n{text}"
        );
        // Through a loop device (512-byte blocks), as live systems mount ISO files.
        assert!(
            line("WIN-LOOP-FILE").ends_with(&format!("/dev/sda4 MARKER-{name}")),
            "{kind:?}\n{text}"
        );
        let files: Vec<&str> = text.lines().filter(|l| l.contains("WIN-FILE")).collect();
        if ss == 512 {
            // By probing every block device for the ISO's file, mounting it directly.
            assert_eq!(files.len(), 1, "{kind:?}\n{text}");
            assert!(
                files[0]
                    .trim()
                    .ends_with(&format!("/dev/sda4 MARKER-{name}")),
                "{text}"
            );
            assert!(!text.contains("WIN-MOUNT-ERROR"), "{kind:?}\n{text}");
        } else {
            // Linux's isofs refuses block devices with sectors over 2048 bytes: on a 4Kn
            // stick the window is found by label but cannot be mounted directly
            // (docs/window.md).
            assert!(files.is_empty(), "{kind:?}\n{text}");
            assert!(
                text.contains("ISOFS: unsupported/invalid hardware sector size 4096"),
                "{kind:?}\n{text}"
            );
        }
        eprintln!("{kind:?}: window {r:?} over {name}: found as /dev/sda4");
    }
    let mut dev = open_device(&img, ss);
    assert!(ptable::clear_window(&mut dev).unwrap().is_some());
}

#[test]
fn linux_finds_the_windowed_iso_gpt_512() {
    linux_finds_only_the_windowed_iso(TableKind::Gpt512);
}

#[test]
fn linux_finds_the_windowed_iso_gpt_4096() {
    linux_finds_only_the_windowed_iso(TableKind::Gpt4096);
}

#[test]
fn linux_finds_the_windowed_iso_mbr() {
    linux_finds_only_the_windowed_iso(TableKind::Mbr512);
}
