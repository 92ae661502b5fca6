//! The ISO window proven with Linux (issue 6, docs/window-linux.md): live ISOs whose
//! Debian kernel and busybox initramfs find their own medium again after bootshelf's
//! loader has chain-booted them, by label or by probing for a unique file, as real live
//! systems do. Sticks made by `bootshelf install` + `bootshelf add`, on USB storage,
//! booted under SeaBIOS and OVMF, GPT and MBR.

use e2e::{run_bootshelf, select, StickSpec, TempImage, TestStick};
use fixtures::live::{self, FindBy};
use qemu_harness::{strip_ansi, Config, Drive, Firmware, Qemu};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// From power-on to the live system's verdict, under TCG with up to four guests on two
/// cores (alone, a boot takes 25 to 40 s).
const BOOT_TIMEOUT: Duration = Duration::from_secs(240);

/// Wait until the live init printed its verdict; return the (escape-free) serial text.
fn verdict(q: &mut Qemu) -> String {
    let i = q.wait_for_any(&["BOOTSHELF-LIVE-FOUND", live::NOT_FOUND], BOOT_TIMEOUT);
    // The verdict line ends with the device; wait for the line to be complete.
    let _ = q.wait_exit(Duration::from_secs(10));
    let text = strip_ansi(&q.serial_text());
    if let Err(e) = i {
        panic!("no verdict from the live system: {e}\n--- serial ---\n{text}");
    }
    text
}

/// Control: the live ISO written as it is to a USB stick (as `dd` would) finds itself
/// both ways, under both firmwares. This is what the window has to reproduce.
#[test]
fn live_iso_written_raw_to_a_stick_finds_itself() {
    std::thread::scope(|s| {
        for (find, uefi) in [(FindBy::Label, false), (FindBy::Probe, true)] {
            s.spawn(move || {
                let iso = live::live_iso("raw", find).unwrap();
                let drive = Drive::usb(iso).snapshot(true);
                let cfg = if uefi { Config::uefi() } else { Config::bios() }.drive(drive);
                let mut q = Qemu::start(&cfg).unwrap();
                let text = verdict(&mut q);
                assert!(
                    text.contains(&format!(
                        "{} by={}",
                        live::found_marker("raw"),
                        find.as_str()
                    )),
                    "{find:?} uefi={uefi}:\n{text}"
                );
            });
        }
    });
}

/// Wait until one of `texts` shows on COM1 (escape sequences removed: SeaBIOS's serial
/// console may put cursor moves inside a word); its index.
fn wait_text_any(q: &mut Qemu, texts: &[&str], timeout: Duration) -> usize {
    let deadline = Instant::now() + timeout;
    loop {
        let serial = strip_ansi(&q.serial_text());
        if let Some(i) = texts.iter().position(|t| serial.contains(t)) {
            return i;
        }
        if q.try_exit().is_some() || Instant::now() > deadline {
            panic!("none of {texts:?} appeared\n--- serial ---\n{serial}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// One live ISO on the stick: its name, how it finds itself, its file on the stick.
#[derive(Clone, Copy)]
struct Live {
    name: &'static str,
    find: FindBy,
}

impl Live {
    fn iso(&self) -> std::path::PathBuf {
        live::live_iso(self.name, self.find).unwrap()
    }
    fn file(&self) -> String {
        format!("live-{}-{}-v1.iso", self.name, self.find.as_str())
    }
}

/// A private, writable copy of `stick` (boots write the window into it).
fn copy_of(stick: &TestStick) -> TempImage {
    let copy = TempImage(fixtures::scratch_path("window-copy.img").unwrap());
    testkit::image::copy_sparse(stick.path(), copy.path());
    copy
}

/// The table checker's verdict on an image: `sgdisk -v` (GPT) or `sfdisk --verify`
/// (MBR); (clean, output).
fn table_verdict(img: &Path, mbr: bool) -> (bool, String) {
    let verdict = if mbr {
        testkit::check::sfdisk_verify(img)
    } else {
        testkit::check::sgdisk_verify(img)
    };
    let clean = verdict.clean && !verdict.report.to_ascii_lowercase().contains("overlap");
    (clean, verdict.report)
}

/// Boot `live` from a copy of `stick` under `firmware`: bootshelf writes the window, the
/// live system finds itself (and not `other`) on the window partition. Then `bootshelf
/// check` reports the window, the table checker sees the overlap, a writing `bootshelf`
/// command clears it and the checker is clean again.
fn boot_and_find_itself(stick: &TestStick, firmware: Firmware, mbr: bool, live: Live, other: Live) {
    let copy = copy_of(stick);
    let img = copy.path().to_str().unwrap().to_string();
    let cfg = match firmware {
        Firmware::Uefi => Config::uefi(),
        Firmware::Bios => Config::bios(),
    }
    .drive(Drive::usb(copy.path()));
    let what = format!(
        "{firmware:?} {} {}",
        if mbr { "MBR" } else { "GPT" },
        live.file()
    );
    let t0 = Instant::now();
    let mut q = Qemu::start(&cfg).unwrap();
    q.wait_for("bootshelf: menu drawn", BOOT_TIMEOUT).unwrap();
    select(&mut q, &live.file()).unwrap();
    let i = wait_text_any(
        &mut q,
        &["bootshelf: booting ", "no ISO window"],
        Duration::from_secs(60),
    );
    assert_eq!(
        i,
        0,
        "{what}: the loader refused the window:\n{}",
        q.serial_text()
    );
    let text = verdict(&mut q);
    let line = text
        .lines()
        .find(|l| l.contains("BOOTSHELF-LIVE-FOUND") || l.contains(live::NOT_FOUND))
        .unwrap_or_default()
        .trim()
        .to_string();
    let devices = text
        .lines()
        .find(|l| l.contains("BOOTSHELF-LIVE-DEVICES"))
        .unwrap_or_default()
        .trim();
    eprintln!(
        "{what}: {line} after {:.1} s; {devices}",
        t0.elapsed().as_secs_f64()
    );
    assert!(
        line.starts_with(&format!(
            "{} by={} dev=/dev/sda4",
            live::found_marker(live.name),
            live.find.as_str()
        )),
        "{what}: the live system did not find itself on the window (sda4): {line:?}\n{text}"
    );
    assert!(
        !text.contains(&live::found_marker(other.name)),
        "{what}: found the other ISO:\n{text}"
    );
    drop(q);

    let report = run_bootshelf(&["check", &img]).unwrap();
    assert!(
        report.contains(&format!("ISO window: covers /{}", live.file())),
        "{what}: check does not report the window:\n{report}"
    );
    let (clean, table) = table_verdict(copy.path(), mbr);
    assert!(
        !clean,
        "{what}: the checker should see the window overlap partition 1:\n{table}"
    );

    // Any command that writes the stick clears the window first.
    run_bootshelf(&["boot-next", &img, &other.file()]).unwrap();
    let report = run_bootshelf(&["check", &img]).unwrap();
    assert!(!report.contains("ISO window"), "{what}: {report}");
    let (clean, table) = table_verdict(copy.path(), mbr);
    assert!(clean, "{what}: after clearing:\n{table}");
}

/// Two live ISOs on one stick made by `bootshelf install` + `bootshelf add`, each booted
/// in turn (in parallel, on private copies of the stick): each finds itself, one by label
/// and one by probing.
fn two_live_isos(firmware: Firmware, mbr: bool) {
    // GPT sticks: ISO one by label, two by probing; MBR sticks the other way round.
    let (one, two) = if mbr {
        (FindBy::Probe, FindBy::Label)
    } else {
        (FindBy::Label, FindBy::Probe)
    };
    let one = Live {
        name: "one",
        find: one,
    };
    let two = Live {
        name: "two",
        find: two,
    };
    let stick = TestStick::install(StickSpec {
        mbr,
        ..StickSpec::default()
    })
    .unwrap();
    stick.add(&one.iso(), None).unwrap();
    stick.add(&two.iso(), None).unwrap();
    std::thread::scope(|s| {
        let stick = &stick;
        s.spawn(move || boot_and_find_itself(stick, firmware, mbr, one, two));
        s.spawn(move || boot_and_find_itself(stick, firmware, mbr, two, one));
    });
}

#[test]
fn bios_gpt_two_live_isos_each_find_themselves_through_the_window() {
    two_live_isos(Firmware::Bios, false);
}

#[test]
fn bios_mbr_two_live_isos_each_find_themselves_through_the_window() {
    two_live_isos(Firmware::Bios, true);
}

#[test]
fn uefi_gpt_two_live_isos_each_find_themselves_through_the_window() {
    two_live_isos(Firmware::Uefi, false);
}

#[test]
fn uefi_mbr_two_live_isos_each_find_themselves_through_the_window() {
    two_live_isos(Firmware::Uefi, true);
}

/// A live ISO copied in pieces, as a file manager may: the loader says why it gets no
/// window and boots it without one on request, and the live system then cannot find its
/// medium (what the window is for). `sync` reports it; `sync --defragment` rewrites it in
/// one run (byte for byte the ISO), and the next boot finds itself through the window.
#[test]
fn uefi_fragmented_live_iso_gets_no_window_until_sync_defragment() {
    let live = Live {
        name: "frag",
        find: FindBy::Probe,
    };
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick
        .copy_unindexed(&live.iso(), &live.file(), true)
        .unwrap();
    let pieces = stick.extents_of(&live.file()).unwrap().len();
    assert!(
        pieces > 3,
        "the copy should be fragmented: {pieces} extents"
    );
    let img = stick.path().to_str().unwrap().to_string();
    let out = run_bootshelf(&["sync", &img]).unwrap();
    assert!(
        out.contains(&format!(
            "warning: /{} is fragmented into {pieces} extents",
            live.file()
        )) && out.contains("sync --defragment"),
        "{out}"
    );

    let mut q = Qemu::start(&stick.uefi_config()).unwrap();
    q.wait_for("bootshelf: menu drawn", BOOT_TIMEOUT).unwrap();
    select(&mut q, &live.file()).unwrap();
    let i = wait_text_any(
        &mut q,
        &["bootshelf: booting ", "no ISO window"],
        Duration::from_secs(60),
    );
    assert_eq!(
        i,
        1,
        "the loader should refuse the window:\n{}",
        q.serial_text()
    );
    assert!(
        strip_ansi(&q.serial_text()).contains(&format!("stored in {pieces} pieces")),
        "{}",
        q.serial_text()
    );
    q.send_serial(b"\r").unwrap();
    let text = verdict(&mut q);
    assert!(
        text.contains(&format!("{} by=probe", live::NOT_FOUND)),
        "without a window the live system must not find its medium:\n{text}"
    );
    drop(q);

    let out = run_bootshelf(&["sync", "--defragment", &img]).unwrap();
    assert!(
        out.contains(&format!(
            "defragmented /{}: {pieces} pieces -> one run",
            live.file()
        )),
        "{out}"
    );
    let extents = stick.extents_of(&live.file()).unwrap();
    assert_eq!(extents.len(), 1, "{extents:?}");
    let want = std::fs::read(live.iso()).unwrap();
    let mut got = vec![0u8; want.len()];
    std::os::unix::fs::FileExt::read_exact_at(
        &std::fs::File::open(stick.path()).unwrap(),
        &mut got,
        extents[0].start,
    )
    .unwrap();
    assert!(got == want, "the rewritten ISO differs from the original");
    let report = run_bootshelf(&["check", "--hash", &img]).unwrap();
    assert!(
        !report.contains("fragmented") && report.contains("1 hashes match"),
        "{report}"
    );

    let mut q = Qemu::start(&stick.uefi_config()).unwrap();
    q.wait_for("bootshelf: menu drawn", BOOT_TIMEOUT).unwrap();
    select(&mut q, &live.file()).unwrap();
    let i = wait_text_any(
        &mut q,
        &["bootshelf: booting ", "no ISO window"],
        Duration::from_secs(60),
    );
    assert_eq!(i, 0, "{}", q.serial_text());
    let text = verdict(&mut q);
    assert!(
        text.contains(&format!(
            "{} by=probe dev=/dev/sda4",
            live::found_marker("frag")
        )),
        "{text}"
    );
}

/// A write-protected stick (QEMU `readonly=on`: the USB disk answers writes with DATA
/// PROTECT): the loader cannot write the window, says so, and boots the live ISO without
/// one on request; the stick is left unchanged.
fn write_protected_stick_boots_without_window_on_request(firmware: Firmware) {
    let live = Live {
        name: "one",
        find: FindBy::Label,
    };
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&live.iso(), None).unwrap();
    let before = std::fs::read(stick.path()).unwrap();
    let mut cfg = match firmware {
        Firmware::Uefi => Config::uefi(),
        Firmware::Bios => Config::bios(),
    };
    cfg.extra_args = [
        "-device".to_string(),
        "qemu-xhci,id=xhci".to_string(),
        "-drive".to_string(),
        format!(
            "if=none,id=wp,format=raw,readonly=on,file={}",
            stick.path().display()
        ),
        "-device".to_string(),
        "usb-storage,bus=xhci.0,drive=wp,bootindex=0".to_string(),
    ]
    .to_vec();
    let mut q = Qemu::start(&cfg).unwrap();
    q.wait_for("bootshelf: menu drawn", BOOT_TIMEOUT).unwrap();
    select(&mut q, &live.file()).unwrap();
    let i = wait_text_any(
        &mut q,
        &["bootshelf: booting ", "no ISO window"],
        Duration::from_secs(60),
    );
    if i == 0 {
        let text = verdict(&mut q);
        panic!("{firmware:?}: the loader did not notice the write protection:\n{text}");
    }
    q.send_serial(b"\r").unwrap();
    wait_text_any(&mut q, &[live::SEARCHING], BOOT_TIMEOUT);
    drop(q);
    assert!(
        std::fs::read(stick.path()).unwrap() == before,
        "a write-protected stick must not change"
    );
}

#[test]
fn bios_write_protected_stick_boots_without_window_on_request() {
    write_protected_stick_boots_without_window_on_request(Firmware::Bios);
}

#[test]
fn uefi_write_protected_stick_boots_without_window_on_request() {
    write_protected_stick_boots_without_window_on_request(Firmware::Uefi);
}

/// A table bootshelf did not write (someone added a partition 4 in the free space after
/// the ESP): the loaders do not touch it, say why, and boot without a window on request.
/// BIOS and UEFI, in parallel; the image is unchanged.
#[test]
fn foreign_partition_4_gets_no_window_and_boots_without_on_request() {
    let live = Live {
        name: "one",
        find: FindBy::Label,
    };
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&live.iso(), None).unwrap();
    fixtures::run(
        Command::new("sgdisk")
            .args(["-n", "4:0:0", "-t", "4:8300"])
            .arg(stick.path()),
    )
    .unwrap();
    let before = &std::fs::read(stick.path()).unwrap();
    std::thread::scope(|s| {
        for firmware in [Firmware::Bios, Firmware::Uefi] {
            let stick = &stick;
            s.spawn(move || {
                let copy = copy_of(stick);
                let cfg = match firmware {
                    Firmware::Uefi => Config::uefi(),
                    Firmware::Bios => Config::bios(),
                }
                .drive(Drive::usb(copy.path()));
                let mut q = Qemu::start(&cfg).unwrap();
                q.wait_for("bootshelf: menu drawn", BOOT_TIMEOUT).unwrap();
                select(&mut q, &live.file()).unwrap();
                let i = wait_text_any(
                    &mut q,
                    &["bootshelf: booting ", "no ISO window"],
                    Duration::from_secs(60),
                );
                let text = strip_ansi(&q.serial_text());
                assert_eq!(i, 1, "{firmware:?}: expected a refusal:\n{text}");
                q.send_serial(b"\r").unwrap();
                wait_text_any(&mut q, &[live::SEARCHING], BOOT_TIMEOUT);
                drop(q);
                assert!(
                    std::fs::read(copy.path()).unwrap() == *before,
                    "{firmware:?}: a foreign table must not be written"
                );
            });
        }
    });
}
