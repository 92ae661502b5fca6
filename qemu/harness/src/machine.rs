//! What machine a run starts ([`Config`], its [`Drive`]s) and the QEMU command line that
//! starts it ([`command_line`]): a pure function of the description and of the paths of
//! the run's scratch files ([`RunFiles`]). It spawns nothing and creates no file;
//! [`crate::Qemu::start`] prepares the files and runs QEMU with these arguments.

use std::path::{Path, PathBuf};

/// OVMF's code image (read-only pflash unit 0).
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
/// OVMF's pristine variable store, copied for every run (pflash unit 1).
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// OVMF built for Secure Boot (SMM), with Microsoft's keys enrolled in its variable
/// store ([`OVMF_SECURE_BOOT_VARS`]), as on a PC sold with Windows.
pub const OVMF_SECURE_BOOT_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.ms.fd";
/// The variable store of [`OVMF_SECURE_BOOT_CODE`]: Secure Boot on, Microsoft's keys.
pub const OVMF_SECURE_BOOT_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";

/// OVMF built for 32-bit x86 UEFI (Debian's ovmf-ia32 ships only the Secure Boot build:
/// it needs SMM, and boots with Secure Boot off from [`OVMF_IA32_VARS`], which enrolls no
/// keys).
pub const OVMF_IA32_CODE: &str = "/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd";
/// The variable store of [`OVMF_IA32_CODE`].
pub const OVMF_IA32_VARS: &str = "/usr/share/OVMF/OVMF32_VARS_4M.fd";
/// AAVMF, OVMF's ARM64 sibling, for QEMU's `virt` machine (qemu-efi-aarch64).
pub const AAVMF_CODE: &str = "/usr/share/AAVMF/AAVMF_CODE.fd";
/// The variable store of [`AAVMF_CODE`].
pub const AAVMF_VARS: &str = "/usr/share/AAVMF/AAVMF_VARS.fd";

/// The CPU architecture of a UEFI machine: the architectures bootshelf has a UEFI loader
/// for (BIOS machines are always x86_64).
pub use efi_image::EfiArch as Arch;

/// The QEMU program that emulates `arch`: `qemu-system-x86_64` (q35, OVMF),
/// `qemu-system-i386` (q35 with a CPU without long mode, OVMF IA32) or
/// `qemu-system-aarch64` (`virt`, cortex-a57, AAVMF).
pub fn qemu_program(arch: Arch) -> &'static str {
    match arch {
        Arch::X64 => "qemu-system-x86_64",
        Arch::Ia32 => "qemu-system-i386",
        Arch::Aa64 => "qemu-system-aarch64",
    }
}

/// Which firmware boots the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    /// OVMF on a q35 machine.
    Uefi,
    /// SeaBIOS on a pc machine, its text console mirrored to COM1.
    Bios,
}

/// How a disk image is attached to the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    /// USB mass storage on a qemu-xhci controller: how a stick is seen.
    Usb,
    /// An IDE (pc) or AHCI (q35) hard disk.
    Ide,
    /// A virtio-blk PCI disk.
    Virtio,
    /// An IDE (pc) or AHCI (q35) CD-ROM drive; the image is read-only.
    Cdrom,
    /// A USB CD-ROM drive (bulk-only transport on qemu-xhci with a SCSI CD-ROM); the
    /// image is read-only.
    UsbCdrom,
}

/// A disk image attached to the machine.
#[derive(Clone, Debug)]
pub struct Drive {
    /// The raw image file.
    pub path: PathBuf,
    /// Where it is attached.
    pub attach: Attach,
    /// Keep the image unchanged: guest writes go to a temporary overlay.
    pub snapshot: bool,
    /// Logical (and physical) sector size presented to the guest; `None` is 512.
    pub sector_size: Option<u32>,
}

impl Drive {
    /// A stick image on USB storage, written through (no snapshot), 512-byte sectors.
    pub fn usb(path: impl Into<PathBuf>) -> Self {
        Drive {
            path: path.into(),
            attach: Attach::Usb,
            snapshot: false,
            sector_size: None,
        }
    }

    /// An image on a CD-ROM drive.
    pub fn cdrom(path: impl Into<PathBuf>) -> Self {
        Drive {
            path: path.into(),
            attach: Attach::Cdrom,
            snapshot: false,
            sector_size: None,
        }
    }

    /// Attach it elsewhere.
    pub fn attach(mut self, attach: Attach) -> Self {
        self.attach = attach;
        self
    }

    /// Keep the image file unchanged.
    pub fn snapshot(mut self, on: bool) -> Self {
        self.snapshot = on;
        self
    }

    /// Present `size`-byte logical sectors (e.g. 4096 for a 4Kn stick).
    pub fn sector_size(mut self, size: u32) -> Self {
        self.sector_size = Some(size);
        self
    }
}

/// What machine to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// The firmware.
    pub firmware: Firmware,
    /// Disks, in the order they are attached (the first one boots first).
    pub drives: Vec<Drive>,
    /// Guest memory in MiB.
    pub memory_mib: u32,
    /// No window (`-display none`); otherwise QEMU opens its default display.
    pub headless: bool,
    /// Copy what the guest prints on COM1 to this process's stdout as it arrives, without
    /// the loaders' `bootshelf: ...` notes (they stay in the serial log).
    pub echo_serial: bool,
    /// With `echo_serial`: also the loaders' developer timing notes (`... at 28307 us`).
    pub echo_timings: bool,
    /// OVMF code image (UEFI only).
    pub ovmf_code: PathBuf,
    /// OVMF variable store template, copied for each run (UEFI only).
    pub ovmf_vars: PathBuf,
    /// UEFI only: a Secure Boot machine (SMM, pflash writable only from SMM), which the
    /// Secure Boot builds of OVMF need.
    pub secure_boot: bool,
    /// The CPU architecture (UEFI only; [`Config::uefi_arch`] sets it with its firmware).
    pub arch: Arch,
    /// Extra arguments appended to the QEMU command line.
    pub extra_args: Vec<String>,
}

impl Config {
    /// A headless UEFI machine (OVMF, q35, 1 GiB) with no disks yet.
    pub fn uefi() -> Self {
        Config {
            firmware: Firmware::Uefi,
            drives: Vec::new(),
            memory_mib: 1024,
            headless: true,
            echo_serial: false,
            echo_timings: false,
            ovmf_code: OVMF_CODE.into(),
            ovmf_vars: OVMF_VARS.into(),
            secure_boot: false,
            arch: Arch::X64,
            extra_args: Vec::new(),
        }
    }

    /// A headless UEFI machine of architecture `arch` with its firmware (OVMF, OVMF IA32
    /// or AAVMF), 1 GiB and no disks yet.
    pub fn uefi_arch(arch: Arch) -> Self {
        match arch {
            Arch::X64 => Config::uefi(),
            Arch::Ia32 => Config {
                ovmf_code: OVMF_IA32_CODE.into(),
                ovmf_vars: OVMF_IA32_VARS.into(),
                secure_boot: true,
                arch,
                ..Config::uefi()
            },
            Arch::Aa64 => Config {
                ovmf_code: AAVMF_CODE.into(),
                ovmf_vars: AAVMF_VARS.into(),
                arch,
                ..Config::uefi()
            },
        }
    }

    /// A headless UEFI machine with Secure Boot on (OVMF with Microsoft's keys, q35 with
    /// SMM, 1 GiB) and no disks yet.
    pub fn uefi_secure_boot() -> Self {
        Config {
            ovmf_code: OVMF_SECURE_BOOT_CODE.into(),
            ovmf_vars: OVMF_SECURE_BOOT_VARS.into(),
            secure_boot: true,
            ..Config::uefi()
        }
    }

    /// A headless BIOS machine (SeaBIOS, pc, 1 GiB) with no disks yet.
    pub fn bios() -> Self {
        Config {
            firmware: Firmware::Bios,
            ..Config::uefi()
        }
    }

    /// Add a disk.
    pub fn drive(mut self, drive: Drive) -> Self {
        self.drives.push(drive);
        self
    }
}

/// Where a run's scratch files are: the sockets and logs QEMU creates, and the files the
/// harness prepares before starting it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunFiles {
    /// The run's own copy of the OVMF variable store (UEFI only).
    pub ovmf_vars: PathBuf,
    /// SeaBIOS's `etc/sercon-port` fw_cfg file: COM1's port as a raw little-endian u16
    /// (BIOS only).
    pub sercon_port: PathBuf,
    /// COM1's unix socket (QEMU is the server).
    pub serial_socket: PathBuf,
    /// Everything COM1 printed, as QEMU logs it.
    pub serial_log: PathBuf,
    /// The QMP unix socket (QEMU is the server).
    pub qmp_socket: PathBuf,
}

impl RunFiles {
    /// The scratch files of a run in directory `dir` (nothing is created).
    pub fn in_dir(dir: &Path) -> Self {
        RunFiles {
            ovmf_vars: dir.join("OVMF_VARS.fd"),
            sercon_port: dir.join("sercon-port.bin"),
            serial_socket: dir.join("serial.sock"),
            serial_log: dir.join("serial.log"),
            qmp_socket: dir.join("qmp.sock"),
        }
    }
}

/// COM1's I/O port, which SeaBIOS mirrors its text console to.
pub const COM1_PORT: u16 = 0x3f8;

/// The QEMU arguments (after the program name, [`qemu_program`] of `cfg.arch`) that
/// start the machine `cfg` with its scratch files at `files`: TCG, no network, no reboot,
/// isa-debug-exit (x86 only), the firmware,
/// COM1 and QMP on unix sockets, paused (`-S`) until the harness has connected, then the
/// drives in order (each one's boot index is its position), then `cfg.extra_args`.
pub fn command_line(cfg: &Config, files: &RunFiles) -> Vec<String> {
    let mut a = owned(&[
        "-accel",
        "tcg",
        "-nic",
        "none",
        "-no-reboot",
        "-monitor",
        "none",
    ]);
    a.extend(owned(&["-m", &cfg.memory_mib.to_string()]));
    if cfg.firmware == Firmware::Bios || cfg.arch != Arch::Aa64 {
        a.extend(owned(&[
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
        ]));
    }
    if cfg.headless {
        a.extend(owned(&["-display", "none"]));
    }
    a.extend(firmware_args(cfg, files));
    a.extend(console_args(files));
    a.extend(drive_args(&cfg.drives));
    a.extend(cfg.extra_args.iter().cloned());
    a
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The machine type and firmware.
fn firmware_args(cfg: &Config, files: &RunFiles) -> Vec<String> {
    match cfg.firmware {
        Firmware::Uefi => {
            let mut a = if cfg.arch == Arch::Aa64 {
                owned(&["-machine", "virt", "-cpu", "cortex-a57"])
            } else if cfg.secure_boot {
                owned(&[
                    "-machine",
                    "q35,smm=on",
                    "-global",
                    "driver=cfi.pflash01,property=secure,value=on",
                ])
            } else {
                owned(&["-machine", "q35"])
            };
            a.extend(owned(&[
                "-drive",
                &format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={}",
                    cfg.ovmf_code.display()
                ),
                "-drive",
                &format!(
                    "if=pflash,format=raw,unit=1,file={}",
                    files.ovmf_vars.display()
                ),
            ]));
            a
        }
        Firmware::Bios => owned(&[
            "-machine",
            "pc",
            "-fw_cfg",
            &format!("name=etc/sercon-port,file={}", files.sercon_port.display()),
        ]),
    }
}

/// COM1 and QMP on unix sockets, and the paused start.
fn console_args(files: &RunFiles) -> Vec<String> {
    owned(&[
        "-chardev",
        &format!(
            "socket,id=ser0,path={},server=on,wait=off,logfile={}",
            files.serial_socket.display(),
            files.serial_log.display()
        ),
        "-serial",
        "chardev:ser0",
        "-qmp",
        &format!("unix:{},server=on,wait=off", files.qmp_socket.display()),
        // Start paused; `cont` once serial and QMP are connected.
        "-S",
    ])
}

/// The drives, in order; the xHCI controller is added before the first USB drive.
fn drive_args(drives: &[Drive]) -> Vec<String> {
    let mut a = Vec::new();
    let mut xhci = false;
    for (i, d) in drives.iter().enumerate() {
        let usb = matches!(d.attach, Attach::Usb | Attach::UsbCdrom);
        if usb && !xhci {
            a.extend(owned(&["-device", "qemu-xhci,id=xhci"]));
            xhci = true;
        }
        let id = format!("disk{i}");
        let mut dev = match d.attach {
            Attach::Usb if d.sector_size.is_some() => {
                // usb-storage accepts logical_block_size but does not pass it on to its
                // SCSI disk (OVMF still sees 512-byte blocks); a bulk-only transport with
                // an explicit scsi-hd does.
                a.extend(owned(&[
                    "-device",
                    &format!("usb-bot,id=bot{i},bus=xhci.0"),
                ]));
                format!("scsi-hd,bus=bot{i}.0,drive={id}")
            }
            Attach::Usb => format!("usb-storage,bus=xhci.0,drive={id}"),
            Attach::UsbCdrom => {
                a.extend(owned(&[
                    "-device",
                    &format!("usb-bot,id=bot{i},bus=xhci.0"),
                ]));
                format!("scsi-cd,bus=bot{i}.0,drive={id}")
            }
            Attach::Ide => format!("ide-hd,drive={id}"),
            Attach::Virtio => format!("virtio-blk-pci,drive={id}"),
            Attach::Cdrom => format!("ide-cd,drive={id}"),
        };
        if let Some(ss) = d.sector_size {
            dev.push_str(&format!(
                ",logical_block_size={ss},physical_block_size={ss}"
            ));
        }
        dev.push_str(&format!(",bootindex={i}"));
        a.extend(owned(&["-drive", &backend(&id, d), "-device", &dev]));
    }
    a
}

/// The `-drive` backend of drive `d` named `id`.
fn backend(id: &str, d: &Drive) -> String {
    let mut drive = format!("if=none,id={id},format=raw,file={}", d.path.display());
    if d.snapshot {
        drive.push_str(",snapshot=on");
    }
    if matches!(d.attach, Attach::Cdrom | Attach::UsbCdrom) {
        drive.push_str(",media=cdrom,readonly=on");
    }
    drive
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> RunFiles {
        RunFiles::in_dir(Path::new("/run/q"))
    }

    // Expected command lines, written as a shell would show them (no argument has a
    // blank in these tests).
    const COMMON: &str = "-accel tcg -nic none -no-reboot -monitor none -m 1024 \
        -device isa-debug-exit,iobase=0xf4,iosize=0x04";
    const HEADLESS: &str = "-display none";
    const UEFI: &str = "-machine q35 \
        -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
        -drive if=pflash,format=raw,unit=1,file=/run/q/OVMF_VARS.fd";
    const UEFI_SECURE_BOOT: &str = "-machine q35,smm=on \
        -global driver=cfi.pflash01,property=secure,value=on \
        -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.ms.fd \
        -drive if=pflash,format=raw,unit=1,file=/run/q/OVMF_VARS.fd";
    const BIOS: &str = "-machine pc -fw_cfg name=etc/sercon-port,file=/run/q/sercon-port.bin";
    const CONSOLE: &str = "-chardev \
        socket,id=ser0,path=/run/q/serial.sock,server=on,wait=off,logfile=/run/q/serial.log \
        -serial chardev:ser0 -qmp unix:/run/q/qmp.sock,server=on,wait=off -S";

    /// `command_line(cfg)` is exactly `parts`, one after the other.
    fn assert_args(cfg: &Config, parts: &[&str]) {
        let expected: Vec<String> = parts
            .iter()
            .flat_map(|p| p.split_whitespace())
            .map(String::from)
            .collect();
        assert_eq!(command_line(cfg, &files()), expected);
    }

    #[test]
    fn uefi_usb_stick_snapshot() {
        let cfg = Config::uefi().drive(Drive::usb("/x/stick.img").snapshot(true));
        let drives = "-device qemu-xhci,id=xhci \
            -drive if=none,id=disk0,format=raw,file=/x/stick.img,snapshot=on \
            -device usb-storage,bus=xhci.0,drive=disk0,bootindex=0";
        assert_args(&cfg, &[COMMON, HEADLESS, UEFI, CONSOLE, drives]);
    }

    #[test]
    fn uefi_secure_boot_with_no_disk() {
        assert_args(
            &Config::uefi_secure_boot(),
            &[COMMON, HEADLESS, UEFI_SECURE_BOOT, CONSOLE],
        );
        // The variable store template the run copies is the one with Microsoft's keys.
        assert_eq!(
            Config::uefi_secure_boot().ovmf_vars,
            Path::new(OVMF_SECURE_BOOT_VARS)
        );
    }

    #[test]
    fn bios_usb_stick_and_ide_cdrom_with_window_and_extra_args() {
        let mut cfg = Config::bios()
            .drive(Drive::usb("/x/stick.img"))
            .drive(Drive::cdrom("/x/d.iso"));
        cfg.memory_mib = 512;
        cfg.headless = false;
        cfg.extra_args = vec!["-smp".into(), "2".into()];
        let common = COMMON.replace("-m 1024", "-m 512");
        let drives = "-device qemu-xhci,id=xhci \
            -drive if=none,id=disk0,format=raw,file=/x/stick.img \
            -device usb-storage,bus=xhci.0,drive=disk0,bootindex=0 \
            -drive if=none,id=disk1,format=raw,file=/x/d.iso,media=cdrom,readonly=on \
            -device ide-cd,drive=disk1,bootindex=1";
        assert_args(&cfg, &[&common, BIOS, CONSOLE, drives, "-smp 2"]);
    }

    #[test]
    fn bios_4k_usb_stick_usb_cdrom_ide_and_virtio_disks() {
        let cfg = Config::bios()
            .drive(Drive::usb("/x/4k.img").sector_size(4096))
            .drive(Drive::cdrom("/x/d.iso").attach(Attach::UsbCdrom))
            .drive(Drive::usb("/x/hd.img").attach(Attach::Ide))
            .drive(Drive::usb("/x/v.img").attach(Attach::Virtio).snapshot(true));
        let drives = "-device qemu-xhci,id=xhci -device usb-bot,id=bot0,bus=xhci.0 \
            -drive if=none,id=disk0,format=raw,file=/x/4k.img \
            -device scsi-hd,bus=bot0.0,drive=disk0,logical_block_size=4096,physical_block_size=4096,bootindex=0 \
            -device usb-bot,id=bot1,bus=xhci.0 \
            -drive if=none,id=disk1,format=raw,file=/x/d.iso,media=cdrom,readonly=on \
            -device scsi-cd,bus=bot1.0,drive=disk1,bootindex=1 \
            -drive if=none,id=disk2,format=raw,file=/x/hd.img \
            -device ide-hd,drive=disk2,bootindex=2 \
            -drive if=none,id=disk3,format=raw,file=/x/v.img,snapshot=on \
            -device virtio-blk-pci,drive=disk3,bootindex=3";
        assert_args(&cfg, &[COMMON, HEADLESS, BIOS, CONSOLE, drives]);
    }

    #[test]
    fn uefi_ia32_and_aarch64_machines() {
        let drives = "-device qemu-xhci,id=xhci \
            -drive if=none,id=disk0,format=raw,file=/x/stick.img,snapshot=on \
            -device usb-storage,bus=xhci.0,drive=disk0,bootindex=0";
        let cfg = Config::uefi_arch(Arch::Ia32).drive(Drive::usb("/x/stick.img").snapshot(true));
        let ia32 = "-machine q35,smm=on \
            -global driver=cfi.pflash01,property=secure,value=on \
            -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd \
            -drive if=pflash,format=raw,unit=1,file=/run/q/OVMF_VARS.fd";
        assert_args(&cfg, &[COMMON, HEADLESS, ia32, CONSOLE, drives]);
        assert_eq!(qemu_program(cfg.arch), "qemu-system-i386");
        let cfg = Config::uefi_arch(Arch::Aa64).drive(Drive::usb("/x/stick.img").snapshot(true));
        let common = "-accel tcg -nic none -no-reboot -monitor none -m 1024";
        let aa64 = "-machine virt -cpu cortex-a57 \
            -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd \
            -drive if=pflash,format=raw,unit=1,file=/run/q/OVMF_VARS.fd";
        assert_args(&cfg, &[common, HEADLESS, aa64, CONSOLE, drives]);
        assert_eq!(qemu_program(cfg.arch), "qemu-system-aarch64");
    }

    #[test]
    fn run_files_are_named_in_the_run_directory() {
        let f = RunFiles::in_dir(Path::new("/d"));
        assert_eq!(f.ovmf_vars, Path::new("/d/OVMF_VARS.fd"));
        assert_eq!(f.sercon_port, Path::new("/d/sercon-port.bin"));
        assert_eq!(f.serial_socket, Path::new("/d/serial.sock"));
        assert_eq!(f.serial_log, Path::new("/d/serial.log"));
        assert_eq!(f.qmp_socket, Path::new("/d/qmp.sock"));
    }
}
