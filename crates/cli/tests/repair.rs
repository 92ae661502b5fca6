//! `check` finds damaged boot code and `update` repairs it, through the built binary: a
//! zeroed ESP, zeroed MBR boot code, a zeroed stage 2, a zeroed LBA 0 (GPT: the protective
//! MBR; MBR: the partition table itself) and a bad primary GPT, on GPT and MBR sticks with
//! 512- and 4096-byte sectors. Each time `check` exits 1 naming exactly that problem (text
//! and `--json`), `update` says what it rewrote, the data partition is byte-identical,
//! every ISO still has its source's SHA-256 (`check --hash` reads them back), `check` is
//! clean again and the external checkers (sgdisk -v / sfdisk --verify, fsck.fat,
//! fsck.exfat) agree. What `update` cannot repair is refused with nothing written. On a
//! loop device with partition scanning, `install` and `update` make the kernel show the
//! stick's partitions.

use serde_json::Value;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use stick::{Layout, Scheme};
use testkit::cli::Bootshelf;
use testkit::image::read_range;
use testkit::loopdev::{LoopDev, LoopOptions};
use testkit::stick::{check_image, indexed, sha256_file};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// What a test breaks.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// The whole ESP zeroed.
    Esp,
    /// Bytes 0..440 of LBA 0 zeroed.
    MbrCode,
    /// The whole BIOS boot area zeroed.
    Stage2,
    /// All of LBA 0 zeroed.
    Lba0,
    /// The primary GPT header's CRC spoiled.
    PrimaryGpt,
}

impl Damage {
    /// The one problem `check --json` must report: kind and subject.
    fn finding(self) -> (&'static str, &'static str) {
        match self {
            Damage::Esp => ("esp_unreadable", "ESP"),
            Damage::MbrCode => ("boot_code_zeroed", "MBR boot code"),
            Damage::Stage2 => ("boot_code_zeroed", "BIOS stage 2"),
            Damage::Lba0 => ("lba0_lost", "partition table"),
            Damage::PrimaryGpt => ("gpt_copy_invalid", "partition table"),
        }
    }

    /// What `update` says it rewrote.
    fn repaired(self) -> &'static str {
        match self {
            Damage::Esp => "ESP rebuilt (it was unreadable",
            Damage::MbrCode => "MBR boot code",
            Damage::Stage2 => "BIOS stage 2",
            Damage::Lba0 => "LBA 0 (",
            Damage::PrimaryGpt => "GPT (repaired from its good copy)",
        }
    }

    /// Break `img` (whose layout is `l`).
    fn apply(self, img: &Path, l: &Layout) {
        let ss = l.sector_size;
        let (at, len) = match self {
            Damage::Esp => (l.esp.byte_start(ss), l.esp.byte_len(ss)),
            Damage::MbrCode => (0, 440),
            Damage::Stage2 => (l.bios_boot.byte_start(ss), l.bios_boot.byte_len(ss)),
            Damage::Lba0 => (0, u64::from(ss)),
            Damage::PrimaryGpt => (u64::from(ss) + 16, 4),
        };
        let f = std::fs::OpenOptions::new().write(true).open(img).unwrap();
        let bytes = match self {
            Damage::PrimaryGpt => vec![0xFF; len as usize],
            _ => vec![0; len as usize],
        };
        f.write_all_at(&bytes, at).unwrap();
    }
}

/// A stick image `s.img` made by the binary with `install_args` and two fixture ISOs;
/// returns it, its layout and the sources by stick path.
fn stick_with_isos(
    sh: &Bootshelf,
    install_args: &[&str],
) -> (PathBuf, Layout, Vec<(String, PathBuf)>) {
    let img = sh.path("s.img");
    let mut args = vec!["install", s(&img), "--size", "100M"];
    args.extend_from_slice(install_args);
    sh.ok(&args);
    let mut sources = Vec::new();
    for (name, src) in [
        ("a.iso", fixtures::iso::bios_only().unwrap()),
        ("b.iso", fixtures::iso::bios_uefi_hybrid().unwrap()),
    ] {
        let p = sh.path(name);
        std::fs::copy(src, &p).unwrap();
        sh.ok(&["add", s(&img), s(&p), "--quiet"]);
        sources.push((format!("/{name}"), p));
    }
    let layout = *stick::Stick::open(&img, false).unwrap().layout();
    (img, layout, sources)
}

/// `check --json` findings as (kind, severity, subject).
fn findings(
    sh: &Bootshelf,
    img: &Path,
    code: i32,
    extra: &[&str],
) -> Vec<(String, String, String)> {
    let mut args = vec!["check", s(img), "--json"];
    args.extend_from_slice(extra);
    let out = sh.run(&args).assert_code(code).stdout;
    let v: Value = serde_json::from_str(&out).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let field = |k: &str| f[k].as_str().unwrap().to_owned();
            (field("kind"), field("severity"), field("subject"))
        })
        .collect()
}

/// Break `img` with each of `damages` in turn; `check` finds it, `update` repairs it, and
/// nothing else changed (see the module documentation).
fn break_and_repair(sh: &Bootshelf, install_args: &[&str], damages: &[Damage]) {
    let (img, layout, sources) = stick_with_isos(sh, install_args);
    let ss = layout.sector_size;
    let data = || read_range(&img, layout.data.byte_start(ss), layout.data.byte_len(ss));
    let data_before = data();
    let what = format!("{install_args:?}");
    // A fresh stick is clean, and says its boot code is this bootshelf's.
    let clean = findings(sh, &img, 0, &[]);
    assert!(
        clean.iter().any(|(k, _, _)| k == "boot_code_current"),
        "{what}: {clean:?}"
    );
    for &damage in damages {
        let when = format!("{what} {damage:?}");
        damage.apply(&img, &layout);
        let found = findings(sh, &img, 1, &[]);
        let problems: Vec<(&str, &str)> = found
            .iter()
            .filter(|(_, sev, _)| sev == "problem")
            .map(|(k, _, subj)| (k.as_str(), subj.as_str()))
            .collect();
        assert_eq!(problems, [damage.finding()], "{when}: {found:?}");
        let text = sh.run(&["check", s(&img)]).assert_code(1).stdout;
        assert!(
            text.contains(&format!("PROBLEM: {}: ", damage.finding().1))
                && text.contains("`bootshelf update`")
                && text.contains(": 1 problem(s)"),
            "{when}:\n{text}"
        );
        if matches!(damage, Damage::Lba0) {
            // Other commands refuse the stick and name the repair.
            let err = sh.run(&["list", s(&img)]).assert_code(2).stderr;
            assert!(
                err.contains("LBA 0 is zeroed") && err.contains("bootshelf update"),
                "{when}: {err}"
            );
        }

        let out = sh.ok(&["update", s(&img)]);
        assert!(out.contains(damage.repaired()), "{when}: {out}");
        assert!(
            data() == data_before,
            "{when}: update changed the data partition"
        );
        let after = findings(sh, &img, 0, &["--hash"]);
        assert!(
            after.iter().all(|(_, sev, _)| sev == "note")
                && after.iter().any(|(k, _, _)| k == "boot_code_current"),
            "{when}: after the update: {after:?}"
        );
        let text = sh.ok(&["check", s(&img), "--hash"]);
        assert!(
            text.contains("(2 hashes match): no problems"),
            "{when}:\n{text}"
        );
        let idx = indexed(&img);
        for (path, src) in &sources {
            assert_eq!(
                idx[path].1.as_deref(),
                Some(sha256_file(src).as_str()),
                "{when}: {path}"
            );
        }
        check_image(&img, &layout, sh.dir());
        // A second update has nothing left to do.
        let out = sh.ok(&["update", s(&img)]);
        assert!(out.contains("already up to date"), "{when}: {out}");
    }
}

#[test]
fn gpt_512_each_damage_is_found_and_repaired() {
    let sh = Bootshelf::new("cli-repair");
    break_and_repair(
        &sh,
        &[],
        &[
            Damage::Esp,
            Damage::MbrCode,
            Damage::Stage2,
            Damage::Lba0,
            Damage::PrimaryGpt,
        ],
    );
}

#[test]
fn mbr_4096_each_damage_is_found_and_repaired() {
    let sh = Bootshelf::new("cli-repair");
    break_and_repair(
        &sh,
        &["--mbr", "--sector-size", "4096"],
        &[Damage::Esp, Damage::MbrCode, Damage::Stage2, Damage::Lba0],
    );
}

#[test]
fn lba0_of_gpt_4096_and_mbr_512_sticks_is_rewritten() {
    let sh = Bootshelf::new("cli-repair");
    break_and_repair(&sh, &["--sector-size", "4096"], &[Damage::Lba0]);
    let sh = Bootshelf::new("cli-repair");
    break_and_repair(&sh, &["--mbr"], &[Damage::Lba0, Damage::Stage2]);
}

#[test]
fn a_lost_gpt_is_rewritten_and_what_cannot_be_repaired_is_refused() {
    let sh = Bootshelf::new("cli-repair");
    let (img, layout, sources) = stick_with_isos(&sh, &[]);
    let ss = layout.sector_size;
    let data_before = read_range(&img, layout.data.byte_start(ss), layout.data.byte_len(ss));
    // LBA 0 and both GPT copies gone: the partitions are found where install puts them.
    Damage::Lba0.apply(&img, &layout);
    let len = std::fs::metadata(&img).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.write_all_at(&vec![0u8; 33 * 512], 512).unwrap();
    f.write_all_at(&vec![0u8; 33 * 512], len - 33 * 512)
        .unwrap();
    drop(f);
    let found = findings(&sh, &img, 1, &[]);
    assert!(
        found.contains(&(
            "gpt_lost".into(),
            "problem".into(),
            "partition table".into()
        )),
        "{found:?}"
    );
    let err = sh
        .run(&["add", s(&img), s(&sources[0].1)])
        .assert_code(2)
        .stderr;
    assert!(err.contains("bootshelf update"), "{err}");
    let out = sh.ok(&["update", s(&img)]);
    assert!(out.contains("partition table (rewritten"), "{out}");
    assert!(
        read_range(&img, layout.data.byte_start(ss), layout.data.byte_len(ss)) == data_before,
        "the data partition changed"
    );
    let text = sh.ok(&["check", s(&img), "--hash"]);
    assert!(text.contains("(2 hashes match): no problems"), "{text}");
    assert_eq!(*stick::Stick::open(&img, false).unwrap().layout(), layout);
    check_image(&img, &layout, sh.dir());

    // The same with the exFAT's boot sector gone too: nothing says where the partitions
    // were; refused, nothing written.
    Damage::Lba0.apply(&img, &layout);
    let f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.write_all_at(&vec![0u8; 33 * 512], 512).unwrap();
    f.write_all_at(&vec![0u8; 33 * 512], len - 33 * 512)
        .unwrap();
    f.write_all_at(&[0u8; 512], layout.data.byte_start(ss))
        .unwrap();
    drop(f);
    let before = std::fs::read(&img).unwrap();
    let err = sh.run(&["update", s(&img)]).assert_code(2).stderr;
    assert!(err.contains("not a bootshelf stick"), "{err}");
    let err = sh.run(&["check", s(&img)]).assert_code(2).stderr;
    assert!(err.contains("not a bootshelf stick"), "{err}");
    assert!(
        std::fs::read(&img).unwrap() == before,
        "a refused update wrote"
    );
}

/// The kernel's partitions of the whole-disk device `dev` (`/dev/loopN`): numbers with
/// their first byte and length, from sysfs.
fn kernel_partitions(dev: &Path) -> Vec<(u32, u64, u64)> {
    let name = dev.file_name().unwrap().to_str().unwrap();
    let mut out = Vec::new();
    for n in 1..=8u32 {
        let dir = PathBuf::from(format!("/sys/block/{name}/{name}p{n}"));
        let read = |f: &str| -> Option<u64> {
            std::fs::read_to_string(dir.join(f))
                .ok()?
                .trim()
                .parse()
                .ok()
        };
        // sysfs counts in 512-byte units whatever the sector size.
        if let (Some(start), Some(size)) = (read("start"), read("size")) {
            out.push((n, start * 512, size * 512));
        }
    }
    out
}

/// The stick's partitions as the kernel should show them.
fn planned_partitions(l: &Layout) -> Vec<(u32, u64, u64)> {
    let ss = l.sector_size;
    let mut v = vec![
        (1, l.data.byte_start(ss), l.data.byte_len(ss)),
        (2, l.esp.byte_start(ss), l.esp.byte_len(ss)),
    ];
    if l.scheme == Scheme::Gpt {
        v.push((3, l.bios_boot.byte_start(ss), l.bios_boot.byte_len(ss)));
    }
    v
}

#[test]
fn install_and_update_on_a_loop_device_make_the_kernel_show_the_partitions() {
    for extra in [&[][..], &["--mbr"][..]] {
        let sh = Bootshelf::new("cli-repair-loop");
        let file = sh.path("backing.img");
        std::fs::File::create(&file)
            .unwrap()
            .set_len(100 << 20)
            .unwrap();
        let lp = LoopDev::attach(
            &file,
            LoopOptions {
                partscan: true,
                ..LoopOptions::default()
            },
        )
        .unwrap();
        assert_eq!(kernel_partitions(lp.path()), [], "{extra:?}: a blank disk");
        let mut args = vec!["install", lp.name(), "--force", "--yes"];
        args.extend_from_slice(extra);
        let run = sh.run(&args).assert_ok();
        assert!(
            !run.stderr.contains("warning") && !run.stderr.contains("kernel"),
            "{extra:?}: {}",
            run.stderr
        );
        let layout = *stick::Stick::open(lp.path(), false).unwrap().layout();
        let planned = planned_partitions(&layout);
        assert_eq!(
            kernel_partitions(lp.path()),
            planned,
            "{extra:?}: after install"
        );
        assert!(
            Path::new(&format!("{}p1", lp.name())).exists(),
            "{extra:?}: no device node for partition 1"
        );

        // LBA 0 lost, and the kernel told (it then shows no partitions): `update` writes
        // it back and the kernel shows them again.
        let dev = std::fs::OpenOptions::new()
            .write(true)
            .open(lp.path())
            .unwrap();
        dev.write_all_at(&[0u8; 512], 0).unwrap();
        dev.sync_all().unwrap();
        drop(dev);
        let out = std::process::Command::new("blockdev")
            .args(["--rereadpt", lp.name()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(kernel_partitions(lp.path()), [], "{extra:?}: LBA 0 zeroed");
        let run = sh.run(&["update", lp.name()]).assert_ok();
        assert!(run.stdout.contains("LBA 0 ("), "{}", run.text());
        assert!(!run.stderr.contains("warning"), "{}", run.stderr);
        assert_eq!(
            kernel_partitions(lp.path()),
            planned,
            "{extra:?}: after update"
        );
        sh.ok(&["check", lp.name()]);
    }
}

#[test]
fn a_loop_device_without_partition_scanning_is_a_note() {
    let sh = Bootshelf::new("cli-repair-loop");
    let file = sh.path("backing.img");
    std::fs::File::create(&file)
        .unwrap()
        .set_len(80 << 20)
        .unwrap();
    let lp = LoopDev::attach(&file, LoopOptions::default()).unwrap();
    let run = sh
        .run(&["install", lp.name(), "--force", "--yes"])
        .assert_ok();
    assert!(
        run.stderr
            .contains("note: the kernel does not scan partitions on this device"),
        "{}",
        run.stderr
    );
}

/// An `update` over another version's stage 2 (here: this stage 2 with one byte changed,
/// its `BSH2` signature kept) writes the new one into the slot the MBR does not load from
/// and then switches LBA 0: everything else the old MBR reads stays byte for byte, so an
/// unplug before the last write leaves the old pair that booted before.
#[test]
fn a_new_stage2_goes_to_the_other_slot_and_lba0_switches_last() {
    let sh = Bootshelf::new("cli-repair-slots");
    let (img, l, _) = stick_with_isos(&sh, &[]);
    let ss = u64::from(l.sector_size);
    let [a, b] = l.stage2_slots();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&img)
        .unwrap();
    // "Another version": one byte of slot A's stage 2 changed.
    let at = a * ss + 100;
    let mut byte = [0u8];
    f.read_exact_at(&mut byte, at).unwrap();
    f.write_all_at(&[byte[0] ^ 0xFF], at).unwrap();
    drop(f);
    let found = findings(&sh, &img, 0, &[]);
    assert!(
        found.contains(&(
            "boot_code_differs".into(),
            "warning".into(),
            "BIOS stage 2".into()
        )),
        "{found:?}"
    );

    let before = std::fs::read(&img).unwrap();
    let out = sh.ok(&["update", s(&img)]);
    assert!(out.contains("BIOS stage 2, MBR boot code"), "{out}");
    let after = std::fs::read(&img).unwrap();
    // What changed: LBA 0 (one sector, written last) and the sectors of slot B, nothing
    // else; until LBA 0 was written the old MBR loaded the untouched slot A.
    let stage2_sectors = loaders::BIOS_STAGE2.len().div_ceil(ss as usize) as u64;
    for (i, (x, y)) in before
        .chunks_exact(ss as usize)
        .zip(after.chunks_exact(ss as usize))
        .enumerate()
    {
        let lba = i as u64;
        if x != y {
            assert!(
                lba == 0 || (b..b + stage2_sectors).contains(&lba),
                "sector {lba} changed (slot A {a}, slot B {b})"
            );
        }
    }
    let slot = u64::from_le_bytes(after[0x1A8..0x1B0].try_into().unwrap());
    assert_eq!(slot, b, "the MBR loads slot B");
    assert_eq!(
        &after[(b * ss) as usize..(b * ss) as usize + loaders::BIOS_STAGE2.len()],
        loaders::BIOS_STAGE2
    );
    let clean = findings(&sh, &img, 0, &[]);
    assert!(clean.iter().all(|(_, sev, _)| sev == "note"), "{clean:?}");
    let out = sh.ok(&["update", s(&img)]);
    assert!(out.contains("already up to date"), "{out}");
}
