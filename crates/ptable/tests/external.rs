//! Cross-checks against the real partitioning tools: tables made by sgdisk, sfdisk and
//! fdisk are parsed; windows written by this crate are verified by `sgdisk -v` / `-i`,
//! `sfdisk --verify` / `-d` and `fdisk -l`, on 512- and 4096-byte sectors; interrupted
//! writes always leave a readable table.

use blockdev::{BlockDevice, Extent, MemDevice};
use ptable::{
    clear_window, layout, read_layout, set_window, Error, GptHealth, Guid, PartitionType, Scheme,
    Table,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use testkit::cutdev::{Count, CutAfter};
use testkit::image::open_device;
use testkit::loopdev::{LoopDev, LoopOptions};
use testkit::Rng;

const MIB: u64 = 1 << 20;

/// Run `cmd args` (with `stdin` as its input); returns (success, stdout + stderr).
fn run(cmd: &str, args: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut c = Command::new(cmd);
    c.args(args);
    let ran = testkit::cmd::feed(&mut c, stdin);
    (ran.success, ran.text())
}

/// A sparse image `dir/name` of `bytes`.
fn image(dir: &Path, name: &str, bytes: u64) -> PathBuf {
    let p = dir.join(name);
    testkit::image::sparse(&p, bytes);
    p
}

/// A bootshelf-shaped GPT made by sgdisk on a 512-byte-sector image: data 1 MiB..41 MiB,
/// ESP 8 MiB after it, BIOS boot 34..2047.
fn sgdisk_stick(dir: &Path) -> PathBuf {
    let p = image(dir, "gpt.img", 64 * MIB);
    let (ok, out) = run(
        "sgdisk",
        &[
            "-a",
            "1",
            "-n",
            "3:34:2047",
            "-t",
            "3:ef02",
            "-c",
            "3:BOOTSHELF BIOS",
            "-a",
            "2048",
            "-n",
            "1:2048:+40M",
            "-t",
            "1:0700",
            "-c",
            "1:BOOTSHELF",
            "-n",
            "2:0:+8M",
            "-t",
            "2:ef00",
            "-c",
            "2:BOOTSHELF EFI",
            p.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{out}");
    p
}

/// sgdisk's description of partition `n` as key/value lines.
fn sgdisk_info(target: &str, n: u32) -> String {
    let (ok, out) = run("sgdisk", &["-i", &n.to_string(), target], None);
    assert!(ok, "{out}");
    out
}

fn field<'a>(info: &'a str, key: &str) -> &'a str {
    info.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no {key} in {info}"))
        .trim()
}

fn first_number(s: &str) -> u64 {
    s.split_whitespace().next().unwrap().parse().unwrap()
}

/// `sgdisk -v` findings other than the overlap the window makes on purpose.
fn sgdisk_verify(target: &str) -> String {
    let (_, out) = run("sgdisk", &["-v", target], None);
    out
}

/// Whether sgdisk reports that partitions 1 and 4 overlap (in either order).
fn overlap_1_4(v: &str) -> bool {
    v.contains("partitions 1 and 4 overlap") || v.contains("partitions 4 and 1 overlap")
}

/// Whether sgdisk found nothing wrong at all (no problem, no caution about a copy).
fn sgdisk_clean(v: &str) -> bool {
    v.contains("No problems found") && !v.contains("Caution") && !v.contains("Warning")
}

fn ext(start: u64, len: u64) -> Extent {
    Extent { start, len }
}

#[test]
fn parses_what_sgdisk_writes() {
    let dir = tempfile::tempdir().unwrap();
    let p = sgdisk_stick(dir.path());
    let mut dev = open_device(&p, 512);
    let table = Table::read(&mut dev).unwrap();
    assert_eq!(table.scheme(), Scheme::Gpt);
    let Table::Gpt { gpt, .. } = &table else {
        unreachable!()
    };
    assert_eq!(*gpt.health(), GptHealth::Clean);
    assert_eq!(gpt.backup_lba(), 64 * MIB / 512 - 1);
    let parts = table.partitions();
    assert_eq!(
        parts.iter().map(|p| p.number).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    for part in &parts {
        let info = sgdisk_info(p.to_str().unwrap(), part.number);
        assert_eq!(first_number(field(&info, "First sector:")), part.first_lba);
        assert_eq!(first_number(field(&info, "Last sector:")), part.last_lba);
        let code = field(&info, "Partition GUID code:");
        let PartitionType::Gpt(g) = part.kind else {
            panic!("GPT partition with MBR type")
        };
        assert_eq!(Guid::parse(&code[..36]), Some(g));
        let unique = field(&info, "Partition unique GUID:");
        assert_eq!(Guid::parse(unique), Some(part.unique_guid));
        assert_eq!(field(&info, "Partition name:"), format!("'{}'", part.name));
    }
    let lay = ptable::Layout::of(&table).unwrap();
    assert_eq!((lay.data.first_lba, lay.data.last_lba), (2048, 83967));
    assert_eq!(lay.esp.first_lba, 83968);
    assert_eq!(lay.window, None);
}

#[test]
fn gpt_window_is_what_sgdisk_sees_and_clears_clean() {
    let dir = tempfile::tempdir().unwrap();
    let p = sgdisk_stick(dir.path());
    let target = p.to_str().unwrap();
    let mut dev = open_device(&p, 512);
    // An ISO of 5 MiB + 2048 bytes at 4 MiB, split into two adjacent extents as exFAT may
    // report them.
    let extents = [ext(4 * MIB, 3 * MIB), ext(7 * MIB, 2 * MIB + 2048)];
    let r = set_window(&mut dev, &extents).unwrap();
    assert_eq!((r.first(), r.last()), (8192, 8192 + 10244 - 1));

    let info = sgdisk_info(target, 4);
    assert_eq!(first_number(field(&info, "First sector:")), 8192);
    assert_eq!(first_number(field(&info, "Last sector:")), 8192 + 10243);
    assert!(
        field(&info, "Partition GUID code:").starts_with("DE94BBA4-06D1-4D40-A16A-BFD50179D6AC"),
        "{info}"
    );
    assert_eq!(
        field(&info, "Attribute flags:").to_lowercase(),
        "d000000000000002"
    );
    assert_eq!(field(&info, "Partition name:"), "'bootshelf ISO window'");

    // The only finding: the window overlaps the data partition, on purpose. CRCs, both
    // headers and both arrays are fine.
    let v = sgdisk_verify(target);
    assert!(overlap_1_4(&v), "{v}");
    assert!(!v.to_lowercase().contains("crc"), "{v}");
    assert!(!v.contains("mismatch"), "{v}");
    let problems = v.matches("Problem:").count();
    assert_eq!(problems, 1, "{v}");

    let (_, lay) = read_layout(&mut dev).unwrap();
    assert_eq!(lay.window, Some(r));
    // Setting the same window again writes nothing new and keeps it.
    assert_eq!(set_window(&mut dev, &extents).unwrap(), r);

    assert_eq!(clear_window(&mut dev).unwrap(), Some(r));
    let v = sgdisk_verify(target);
    assert!(sgdisk_clean(&v), "{v}");
    let (ok, out) = run("sgdisk", &["-i", "4", target], None);
    assert!(ok && out.contains("does not exist"), "{out}");
    assert_eq!(clear_window(&mut dev).unwrap(), None);
}

#[test]
fn refusals_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = sgdisk_stick(dir.path());
    let before = std::fs::read(&p).unwrap();
    let mut dev = open_device(&p, 512);
    // Fragmented.
    assert_eq!(
        set_window(&mut dev, &[ext(4 * MIB, MIB), ext(6 * MIB, MIB)]),
        Err(Error::NotContiguous { extents: 2 })
    );
    // Not on a sector boundary.
    assert!(matches!(
        set_window(&mut dev, &[ext(4 * MIB + 100, MIB)]),
        Err(Error::Misaligned { offset, .. }) if offset == 4 * MIB + 100
    ));
    // Reaching into the ESP.
    assert!(matches!(
        set_window(&mut dev, &[ext(40 * MIB, 2 * MIB)]),
        Err(Error::OutsideDataPartition { .. })
    ));
    drop(dev);
    assert!(std::fs::read(&p).unwrap() == before);

    // A table that is not bootshelf's: slot 4 holds a Linux partition.
    let (ok, out) = run(
        "sgdisk",
        &["-n", "4:0:+1M", "-t", "4:8300", p.to_str().unwrap()],
        None,
    );
    assert!(ok, "{out}");
    let before = std::fs::read(&p).unwrap();
    let mut dev = open_device(&p, 512);
    let err = set_window(&mut dev, &[ext(4 * MIB, MIB)]).unwrap_err();
    assert!(
        matches!(err, Error::NotBootshelf { number: 4, .. }),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("0FC63DAF-8483-4772-8E79-3D69D8477DE4"));
    assert!(matches!(
        clear_window(&mut dev),
        Err(Error::NotBootshelf { number: 4, .. })
    ));
    assert!(
        err.to_string()
            .starts_with("partition 4 is not bootshelf's"),
        "{err}"
    );
    // The layout is still found: data and ESP, slot 4 foreign and no window.
    let (_, lay) = read_layout(&mut dev).unwrap();
    assert_eq!(lay.data.number, 1);
    assert_eq!(lay.esp.number, 2);
    assert_eq!(lay.window, None);
    match lay.slot4() {
        ptable::Slot4::Foreign(f @ ptable::FoundType::Gpt(_)) => {
            assert!(f
                .to_string()
                .contains("0FC63DAF-8483-4772-8E79-3D69D8477DE4"))
        }
        other => panic!("slot 4 should be foreign: {other:?}"),
    }
    drop(dev);
    assert!(std::fs::read(&p).unwrap() == before);

    // Types swapped: data is not basic data.
    let p2 = sgdisk_stick(dir.path());
    let (ok, out) = run("sgdisk", &["-t", "1:8300", p2.to_str().unwrap()], None);
    assert!(ok, "{out}");
    let mut dev = open_device(&p2, 512);
    let err = set_window(&mut dev, &[ext(4 * MIB, MIB)]).unwrap_err();
    assert!(
        matches!(err, Error::NotBootshelf { number: 1, .. }),
        "{err}"
    );
}

#[test]
fn a_crash_at_any_sector_leaves_the_old_or_the_new_table() {
    let dir = tempfile::tempdir().unwrap();
    let p = sgdisk_stick(dir.path());
    let disk = MemDevice::from_bytes(512, std::fs::read(&p).unwrap());
    let extents = [ext(4 * MIB, 3 * MIB)];
    // A full write: 32 + 1 + 32 + 1 sectors.
    let mut seen_old = 0;
    let mut seen_new = 0;
    for budget in 0..=66u64 {
        let mut dev = CutAfter::new(disk.clone(), budget, Count::Sectors);
        let done = set_window(&mut dev, &extents);
        assert_eq!(done.is_ok(), budget >= 66, "budget {budget}");
        let mut after = dev.into_inner();
        let (table, lay) = read_layout(&mut after)
            .unwrap_or_else(|e| panic!("unreadable after a crash at sector {budget}: {e}"));
        match lay.window {
            None => seen_old += 1,
            Some(r) => {
                assert_eq!((r.first(), r.last()), (8192, 8192 + 6143));
                seen_new += 1;
            }
        }
        let Table::Gpt { gpt, .. } = table else {
            unreachable!()
        };
        // Once the backup header is written the copies differ, until the primary is.
        if budget == 66 {
            assert_eq!(*gpt.health(), GptHealth::Clean);
        }
        // The next clear repairs whatever state it finds.
        clear_window(&mut after).unwrap();
        let Table::Gpt { gpt, .. } = Table::read(&mut after).unwrap() else {
            unreachable!()
        };
        assert_eq!(*gpt.health(), GptHealth::Clean, "budget {budget}");
    }
    assert!(seen_old > 0 && seen_new > 0);
}

#[test]
fn damaged_copies_are_detected_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    for (what, offset) in [
        ("primary header", 512u64 + 60),
        ("primary entries", 1024 + 5),
        ("backup header", 64 * MIB - 512 + 60),
        ("backup entries", 64 * MIB - 512 - 16384 + 130),
    ] {
        let p = sgdisk_stick(dir.path());
        let mut bytes = std::fs::read(&p).unwrap();
        bytes[offset as usize] ^= 0x5A;
        std::fs::write(&p, &bytes).unwrap();
        let mut dev = open_device(&p, 512);
        let Table::Gpt { gpt, .. } = Table::read(&mut dev).unwrap() else {
            unreachable!()
        };
        let primary_bad = what.starts_with("primary");
        match gpt.health() {
            GptHealth::PrimaryInvalid(e) => assert!(primary_bad, "{what}: {e}"),
            GptHealth::BackupInvalid(e) => assert!(!primary_bad, "{what}: {e}"),
            h => panic!("{what}: {h:?}"),
        }
        let v = sgdisk_verify(p.to_str().unwrap());
        assert!(!sgdisk_clean(&v), "{what}: {v}");
        clear_window(&mut dev).unwrap();
        let v = sgdisk_verify(p.to_str().unwrap());
        assert!(sgdisk_clean(&v), "{what}: {v}");
    }
    // Both copies broken: a clear error naming both, nothing written.
    let p = sgdisk_stick(dir.path());
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[512 + 60] ^= 1;
    let n = bytes.len();
    bytes[n - 512 + 60] ^= 1;
    std::fs::write(&p, &bytes).unwrap();
    let mut dev = open_device(&p, 512);
    let err = clear_window(&mut dev).unwrap_err();
    let Error::NoValidGpt { primary, backup } = &err else {
        panic!("{err}")
    };
    assert!(
        matches!(**primary, Error::GptHeaderCrc { lba: 1, .. }),
        "{err}"
    );
    assert!(matches!(**backup, Error::GptHeaderCrc { .. }), "{err}");
    drop(dev);
    assert!(std::fs::read(&p).unwrap() == bytes);
}

fn sfdisk_stick(dir: &Path) -> PathBuf {
    let p = image(dir, "mbr.img", 64 * MIB);
    let (ok, out) = run(
        "sfdisk",
        &[p.to_str().unwrap()],
        Some("label: dos\nstart=2048, size=81920, type=7\nstart=83968, size=16384, type=ef\n"),
    );
    assert!(ok, "{out}");
    p
}

#[test]
fn mbr_window_is_what_sfdisk_sees_and_clears_clean() {
    let dir = tempfile::tempdir().unwrap();
    let p = sfdisk_stick(dir.path());
    let target = p.to_str().unwrap();
    let mut dev = open_device(&p, 512);
    let (table, lay) = read_layout(&mut dev).unwrap();
    assert_eq!(table.scheme(), Scheme::Mbr);
    assert_eq!((lay.data.first_lba, lay.data.last_lba), (2048, 83967));
    assert_eq!(lay.window, None);
    let boot_code_before = std::fs::read(&p).unwrap()[..446].to_vec();

    let r = set_window(&mut dev, &[ext(20 * MIB, 700 * 2048)]).unwrap();
    assert_eq!((r.first(), r.last()), (40960, 40960 + 2800 - 1));
    let (_, dump) = run("sfdisk", &["-d", target], None);
    let line = dump
        .lines()
        .find(|l| l.starts_with(&format!("{target}4 ")))
        .unwrap_or_else(|| panic!("{dump}"));
    assert!(line.contains("start=       40960"), "{line}");
    assert!(line.contains("size=        2800"), "{line}");
    assert!(line.contains("type=17"), "{line}");
    assert!(!line.contains("bootable"), "{line}");
    // Record 1 is emptied (type 0) with its LBAs kept, so UEFI firmware accepts the table
    // (docs/window.md, "MBR sticks"); libblkid, like the Linux kernel, still lists it.
    let (_, parts) = run(
        "partx",
        &["-g", "-o", "NR,START,SECTORS,TYPE", target],
        None,
    );
    let data_line = dump
        .lines()
        .find(|l| l.starts_with(&format!("{target}1 ")))
        .unwrap_or_else(|| panic!("{dump}"));
    assert!(data_line.contains("start=        2048"), "{data_line}");
    assert!(data_line.contains("size=       81920"), "{data_line}");
    assert!(data_line.ends_with("type=0"), "{data_line}");
    let rows: Vec<Vec<&str>> = parts
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(rows.contains(&vec!["1", "2048", "81920", "0x0"]), "{parts}");
    assert!(
        rows.contains(&vec!["4", "40960", "2800", "0x17"]),
        "{parts}"
    );
    let (_, v) = run("sfdisk", &["--verify", target], None);
    // The overlap with partition 1 is intended and is the one error reported.
    assert!(v.contains("Partition 1: overlaps partition 4."), "{v}");
    assert!(v.contains("1 error detected."), "{v}");
    let other: Vec<&str> = v
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.contains("overlap") && !l.contains("1 error"))
        .collect();
    assert!(other.is_empty(), "{v}");
    assert_eq!(read_layout(&mut dev).unwrap().1.window, Some(r));
    assert_eq!(std::fs::read(&p).unwrap()[..446], boot_code_before[..]);

    assert_eq!(clear_window(&mut dev).unwrap(), Some(r));
    let (ok, v) = run("sfdisk", &["--verify", target], None);
    assert!(ok && !v.contains("overlap"), "{v}");
    let (_, dump) = run("sfdisk", &["-d", target], None);
    assert!(!dump.contains(&format!("{target}4 ")), "{dump}");
    assert!(
        dump.contains(&format!(
            "{target}1 : start=        2048, size=       81920, type=7"
        )),
        "the data partition's type is back: {dump}"
    );

    // A slot 4 of another type is not bootshelf's.
    let script = format!(
        "label: dos\n{target}1 : start=2048, size=81920, type=7\n\
         {target}2 : start=83968, size=16384, type=ef\n\
         {target}4 : start=100352, size=2048, type=83\n"
    );
    let (ok, out) = run("sfdisk", &[target], Some(&script));
    assert!(ok, "{out}");
    let mut dev = open_device(&p, 512);
    assert!(matches!(
        set_window(&mut dev, &[ext(20 * MIB, MIB)]),
        Err(Error::NotBootshelf {
            number: 4,
            found: ptable::FoundType::Mbr(0x83),
            ..
        })
    ));
    assert!(matches!(
        clear_window(&mut dev),
        Err(Error::NotBootshelf { number: 4, .. })
    ));
    let (_, lay) = read_layout(&mut dev).unwrap();
    assert_eq!(
        lay.slot4(),
        ptable::Slot4::Foreign(ptable::FoundType::Mbr(0x83))
    );
    drop(dev);
    let (_, dump) = run("sfdisk", &["-d", target], None);
    assert!(dump.contains("type=83"), "a foreign slot 4 stays: {dump}");
}

/// A 4096-byte-sector GPT made by fdisk; checked by fdisk and, through a loop device with
/// 4096-byte sectors, by sgdisk.
#[test]
fn gpt_4096_window() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), "gpt4k.img", 128 * MIB);
    let target = p.to_str().unwrap();
    let script = "g\nn\n1\n256\n+40M\nt\nEBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n\
                  n\n2\n\n+8M\nt\n2\nC12A7328-F81F-11D2-BA4B-00A0C93EC93B\nw\n";
    let (ok, out) = run("fdisk", &["-b", "4096", target], Some(script));
    assert!(ok, "{out}");
    let mut dev = open_device(&p, 4096);
    let (table, lay) = read_layout(&mut dev).unwrap();
    let Table::Gpt { gpt, .. } = &table else {
        panic!("not GPT")
    };
    assert_eq!(gpt.header().partition_entry_lba, 2);
    assert_eq!((lay.data.first_lba, lay.data.last_lba), (256, 10495));
    assert_eq!(gpt.backup_lba(), 32767);

    // 3 MiB + 2048 bytes at 8 MiB: rounded up to 769 sectors of 4096.
    let r = set_window(&mut dev, &[ext(8 * MIB, 3 * MIB + 2048)]).unwrap();
    assert_eq!((r.first(), r.last()), (2048, 2048 + 768));
    let (_, list) = run("fdisk", &["-b", "4096", "-l", target], None);
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("{target}4 ")))
        .unwrap_or_else(|| panic!("{list}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cols[1..4], ["2048", "2816", "769"], "{line}");
    assert!(line.contains("Windows recovery environment"), "{line}");
    assert!(!list.to_lowercase().contains("corrupt"), "{list}");

    let lo = LoopDev::attach(&p, LoopOptions::sector_size(4096)).unwrap();
    let info = sgdisk_info(lo.name(), 4);
    let v1 = sgdisk_verify(lo.name());
    clear_window(&mut dev).unwrap();
    let v2 = sgdisk_verify(lo.name());
    drop(lo);
    assert_eq!(first_number(field(&info, "First sector:")), 2048);
    assert_eq!(first_number(field(&info, "Last sector:")), 2816);
    assert_eq!(v1.matches("Problem:").count(), 1, "{v1}");
    assert!(overlap_1_4(&v1), "{v1}");
    assert!(
        v2.contains("No problems found") && !v2.contains("Problem:"),
        "{v2}"
    );
}

#[test]
fn mbr_4096_window() {
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), "mbr4k.img", 128 * MIB);
    let target = p.to_str().unwrap();
    let script = "o\nn\np\n1\n256\n+40M\nt\n7\nn\np\n2\n\n+8M\nt\n2\nef\nw\n";
    let (ok, out) = run("fdisk", &["-b", "4096", target], Some(script));
    assert!(ok, "{out}");
    let mut dev = open_device(&p, 4096);
    let r = set_window(&mut dev, &[ext(4 * MIB, 3 * MIB)]).unwrap();
    assert_eq!((r.first(), r.last()), (1024, 1024 + 767));
    let (_, list) = run("fdisk", &["-b", "4096", "-l", target], None);
    let line = list
        .lines()
        .find(|l| l.starts_with(&format!("{target}4 ")))
        .unwrap_or_else(|| panic!("{list}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(&cols[1..5], ["1024", "1791", "768", "3M"], "{line}");
    assert_eq!(cols[5], "17", "{line}");
    assert_eq!(clear_window(&mut dev).unwrap(), Some(r));
    let (_, list) = run("fdisk", &["-b", "4096", "-l", target], None);
    assert!(!list.contains(&format!("{target}4 ")), "{list}");
}

#[test]
fn window_layout_constants_are_documented_values() {
    assert_eq!(
        layout::WINDOW_GPT_TYPE.to_string(),
        "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC"
    );
    assert_eq!(layout::WINDOW_GPT_ATTRIBUTES, 0xD000_0000_0000_0002);
    assert_eq!(layout::WINDOW_MBR_TYPE.0, 0x17);
}

/// What udev's blkid builtin sees on Linux: libblkid lists partition 4 with the window's
/// type, attributes and name, and probes the iso9660 label inside it.
#[test]
fn libblkid_lists_the_window_and_probes_its_label() {
    let dir = tempfile::tempdir().unwrap();
    let p = sgdisk_stick(dir.path());
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    std::fs::write(src.join("MARKER.TXT"), b"window test\n").unwrap();
    let iso = dir.path().join("w.iso");
    let (ok, out) = run(
        "xorriso",
        &[
            "-as",
            "mkisofs",
            "-V",
            "WINDOW_TEST",
            "-o",
            iso.to_str().unwrap(),
            src.to_str().unwrap(),
        ],
        None,
    );
    assert!(ok, "{out}");
    let iso_bytes = std::fs::read(&iso).unwrap();
    let mut dev = open_device(&p, 512);
    let start = 6 * MIB;
    let ss = 512usize;
    let mut padded = iso_bytes.clone();
    padded.resize(iso_bytes.len().div_ceil(ss) * ss, 0);
    dev.write_sectors(start / 512, &padded).unwrap();
    let r = set_window(&mut dev, &[ext(start, iso_bytes.len() as u64)]).unwrap();
    drop(dev);

    let target = p.to_str().unwrap();
    let (ok, parts) = run(
        "partx",
        &["-g", "-o", "NR,START,END,TYPE,FLAGS,NAME", target],
        None,
    );
    assert!(ok, "{parts}");
    let line = parts
        .lines()
        .find(|l| l.trim_start().starts_with("4 "))
        .unwrap_or_else(|| panic!("{parts}"));
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cols[..5],
        [
            "4",
            &r.first().to_string()[..],
            &r.last().to_string()[..],
            "de94bba4-06d1-4d40-a16a-bfd50179d6ac",
            "0xd000000000000002"
        ],
        "{line}"
    );
    assert!(line.ends_with("bootshelf ISO window"), "{line}");
    let offset = (r.first() * 512).to_string();
    let size = (r.sectors() * 512).to_string();
    let (ok, probe) = run(
        "blkid",
        &["-p", "-o", "udev", "-O", &offset, "-S", &size, target],
        None,
    );
    assert!(ok, "{probe}");
    assert!(probe.contains("ID_FS_TYPE=iso9660"), "{probe}");
    assert!(probe.contains("ID_FS_LABEL=WINDOW_TEST"), "{probe}");
}

/// Sticks that are not bootshelf's: an isohybrid ISO written raw (iPXE's, MBR with the ISO
/// partition at LBA 0, type 0x17) parses and is refused by its first partition.
#[test]
fn a_raw_isohybrid_stick_parses_and_is_not_bootshelf() {
    let bytes = std::fs::read("/usr/lib/ipxe/ipxe.iso").expect("ipxe package");
    let mut dev = MemDevice::from_bytes(512, bytes);
    let table = Table::read(&mut dev).unwrap();
    assert_eq!(table.scheme(), Scheme::Mbr);
    let parts = table.partitions();
    let (_, dump) = run("sfdisk", &["-d", "/usr/lib/ipxe/ipxe.iso"], None);
    for p in &parts {
        let line = format!("start={:>12}, size={:>12}", p.first_lba, p.sectors());
        assert!(dump.contains(&line), "{line} not in {dump}");
    }
    assert_eq!(parts[0].kind, PartitionType::Mbr(ptable::MbrType(0x17)));
    assert!(parts[0].bootable);
    let before = dev.data.clone();
    assert!(matches!(
        set_window(&mut dev, &[ext(0, 2048)]),
        Err(Error::NotBootshelf {
            number: 1,
            found: ptable::FoundType::Mbr(0x17),
            ..
        })
    ));
    assert!(dev.data == before);
}

/// Random bootshelf-shaped GPTs made by sgdisk (disk size, entry-array size, data and ESP
/// placement vary) and random windows inside the data partition: sgdisk reads back every
/// window exactly, finds nothing wrong but the overlap, and nothing at all after clearing.
#[test]
fn random_gpt_layouts_and_windows_agree_with_sgdisk() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x5EED_1234_ABCD_0001);
    for round in 0..8 {
        let mib = 8 + rng.below(56);
        let p = image(dir.path(), &format!("r{round}.img"), mib * MIB);
        let t = p.to_str().unwrap();
        let entries = [128u64, 256, 512, 128][rng.below(4) as usize];
        let data_first = 2048 + rng.below(64) * 8;
        let data_len = (4096 + rng.below(mib * 2048 - 8192 - 2048 - 4096)) / 8 * 8;
        let esp = format!("2:0:+{}K", 512 + rng.below(8) * 64);
        let (ok, out) = run(
            "sgdisk",
            &[
                &format!("--resize-table={entries}"),
                "-a",
                "8",
                "-n",
                &format!("1:{data_first}:+{data_len}"),
                "-t",
                "1:0700",
                "-n",
                &esp,
                "-t",
                "2:ef00",
                t,
            ],
            None,
        );
        assert!(ok, "round {round}: {out}");
        let mut dev = open_device(&p, 512);
        let (table, lay) = read_layout(&mut dev).unwrap();
        let Table::Gpt { gpt, .. } = &table else {
            panic!("not GPT")
        };
        assert_eq!(gpt.entry_count() as u64, entries, "round {round}");
        assert_eq!(lay.data.first_lba, data_first);
        for _ in 0..3 {
            let sectors = 1 + rng.below(lay.data.sectors());
            let first = lay.data.first_lba + rng.below(lay.data.sectors() - sectors + 1);
            let len = sectors * 512 - rng.below(512);
            let r = set_window(&mut dev, &[ext(first * 512, len)]).unwrap();
            assert_eq!((r.first(), r.last()), (first, first + sectors - 1));
            let info = sgdisk_info(t, 4);
            assert_eq!(first_number(field(&info, "First sector:")), first, "{info}");
            assert_eq!(
                first_number(field(&info, "Last sector:")),
                first + sectors - 1,
                "{info}"
            );
            let v = sgdisk_verify(t);
            assert!(overlap_1_4(&v) && v.matches("Problem:").count() == 1, "{v}");
        }
        clear_window(&mut dev).unwrap();
        let v = sgdisk_verify(t);
        assert!(sgdisk_clean(&v), "round {round}: {v}");
    }
}

/// The same for MBR tables made by sfdisk, checked with `sfdisk -d` / `--verify`.
#[test]
fn random_mbr_layouts_and_windows_agree_with_sfdisk() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(0x00C0_FFEE_0000_0042);
    for round in 0..6 {
        let mib = 8 + rng.below(56);
        let p = image(dir.path(), &format!("m{round}.img"), mib * MIB);
        let t = p.to_str().unwrap();
        let data_first = 2048 + rng.below(100);
        let data_len = 4096 + rng.below(mib * 2048 - data_first - 4096 - 2048);
        let script = format!(
            "label: dos\nstart={data_first}, size={data_len}, type=7\nstart={}, size=1024, type=ef\n",
            data_first + data_len
        );
        let (ok, out) = run("sfdisk", &[t], Some(&script));
        assert!(ok, "{out}");
        let mut dev = open_device(&p, 512);
        for _ in 0..3 {
            let sectors = 1 + rng.below(data_len);
            let first = data_first + rng.below(data_len - sectors + 1);
            let r = set_window(&mut dev, &[ext(first * 512, sectors * 512)]).unwrap();
            assert_eq!(r.sectors(), sectors);
            let (_, dump) = run("sfdisk", &["-d", t], None);
            let want = format!("{t}4 : start={first:>12}, size={sectors:>12}, type=17");
            assert!(dump.contains(&want), "{want}\n{dump}");
            // libfdisk reports the overlap with partition 1 for some placements and not
            // for others; nothing else may be reported.
            let (_, v) = run("sfdisk", &["--verify", t], None);
            assert!(
                v.contains("No errors detected.")
                    || (v.contains("1 error detected.") && v.contains("overlaps partition 4")),
                "{v}"
            );
        }
        clear_window(&mut dev).unwrap();
        let (ok, v) = run("sfdisk", &["--verify", t], None);
        assert!(ok && v.contains("No errors detected."), "{v}");
    }
}

/// bootshelf's three GPT entries on a disk of `disk` 512-byte sectors, named `data`.
fn new_gpt_entries(disk: u64, data: &str) -> Vec<ptable::raw::GptPartitionEntry> {
    use ptable::gpt::{encode_name, types};
    let g = ptable::write::GptGeometry::new(512, disk).unwrap();
    let esp_first = (g.last_usable_lba() + 1) / 2048 * 2048 - 16384;
    let e = |ty, first, last, name, id: u8| ptable::raw::GptPartitionEntry {
        partition_type_guid: ty,
        unique_partition_guid: Guid([id; 16]),
        starting_lba: first,
        ending_lba: last,
        attributes: 0,
        partition_name: encode_name(name),
    };
    vec![
        e(types::MICROSOFT_BASIC_DATA, 2048, esp_first - 1, data, 0x11),
        e(
            types::EFI_SYSTEM,
            esp_first,
            esp_first + 16383,
            "BOOTSHELF EFI",
            0x22,
        ),
        e(
            types::BIOS_BOOT,
            g.first_usable_lba(),
            2047,
            "BOOTSHELF BIOS",
            0x33,
        ),
    ]
}

#[test]
fn new_tables_are_what_sgdisk_and_sfdisk_see() {
    use ptable::write::{mbr_record, write_gpt, write_mbr};
    let dir = tempfile::tempdir().unwrap();
    let p = image(dir.path(), "new.img", 64 * MIB);
    let target = p.to_str().unwrap();
    let disk = 64 * MIB / 512;
    write_gpt(
        &mut open_device(&p, 512),
        Guid([0x44; 16]),
        &new_gpt_entries(disk, "BOOTSHELF"),
        &[0; 440],
    )
    .unwrap();
    let v = sgdisk_verify(target);
    assert!(sgdisk_clean(&v), "{v}");
    let expect = [
        (
            1,
            "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7",
            "'BOOTSHELF'",
            2048,
        ),
        (
            2,
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            "'BOOTSHELF EFI'",
            112_640,
        ),
        (
            3,
            "21686148-6449-6E6F-744E-656564454649",
            "'BOOTSHELF BIOS'",
            34,
        ),
    ];
    for (n, ty, name, first) in expect {
        let info = sgdisk_info(target, n);
        assert!(
            field(&info, "Partition GUID code:").starts_with(ty),
            "{info}"
        );
        assert_eq!(field(&info, "Partition name:"), name, "{info}");
        assert_eq!(first_number(field(&info, "First sector:")), first, "{info}");
        assert_eq!(field(&info, "Attribute flags:"), "0000000000000000");
    }
    let (_, dump) = run("sgdisk", &["-p", target], None);
    assert!(dump.contains("Disk identifier (GUID): 44444444-4444-4444-4444-444444444444"));
    assert!(dump.contains("holds up to 128 entries"), "{dump}");
    assert!(dump.contains("First usable sector is 34, last usable sector is 131038"));

    let rec = |first: u64, sectors: u64, ty, active| {
        let r = layout::LbaRange::new(first, first + sectors - 1).unwrap();
        mbr_record(r, ty, active).unwrap()
    };
    let records = [
        rec(2048, 110_592, ptable::MbrType::EXFAT, true),
        rec(112_640, 16384, ptable::MbrType::EFI_SYSTEM, false),
        Default::default(),
        Default::default(),
    ];
    write_mbr(&mut open_device(&p, 512), 0x1234_5678, records, &[0; 440]).unwrap();
    let (ok, v) = run("sfdisk", &["--verify", target], None);
    assert!(ok, "{v}");
    let (_, dump) = run("sfdisk", &["-d", target], None);
    assert!(dump.contains("label-id: 0x12345678"), "{dump}");
    assert!(
        dump.contains(&format!(
            "{target}1 : start=        2048, size=      110592, type=7, bootable"
        )),
        "{dump}"
    );
    assert!(
        dump.contains(&format!(
            "{target}2 : start=      112640, size=       16384, type=ef"
        )),
        "{dump}"
    );
    assert!(!dump.contains(&format!("{target}3")) && !dump.contains(&format!("{target}4")));
}

#[test]
fn a_new_gpt_goes_backup_first_and_lba0_last_and_a_crash_leaves_the_old_or_the_new_table() {
    let disk = 64 * MIB / 512;
    let old_entries = new_gpt_entries(disk, "OLD");
    let new_entries = new_gpt_entries(disk, "NEW");
    let mut old = MemDevice::new(512, disk);
    ptable::write::write_gpt(&mut old, Guid([1; 16]), &old_entries, &[0; 440]).unwrap();
    let mut new = MemDevice::new(512, disk);
    ptable::write::write_gpt(&mut new, Guid([2; 16]), &new_entries, &[0x90; 440]).unwrap();
    // The order, sector by sector: backup entries, backup header, primary entries, primary
    // header, LBA 0.
    let order: Vec<u64> = (disk - 33..disk).chain(2..34).chain([1, 0]).collect();
    let sector = |d: &MemDevice, lba: u64| {
        let at = lba as usize * 512;
        d.data[at..at + 512].to_vec()
    };
    let (mut seen_old, mut seen_new) = (0, 0);
    for budget in 0..=order.len() as u64 {
        let mut dev = CutAfter::new(old.clone(), budget, Count::Sectors);
        let done = ptable::write::write_gpt(&mut dev, Guid([2; 16]), &new_entries, &[0x90; 440]);
        assert_eq!(
            done.is_ok(),
            budget == order.len() as u64,
            "budget {budget}"
        );
        let mut after = dev.into_inner();
        for (i, &lba) in order.iter().enumerate() {
            let want = if (i as u64) < budget { &new } else { &old };
            assert!(
                sector(&after, lba) == sector(want, lba),
                "budget {budget}: LBA {lba} is not the {} one",
                if (i as u64) < budget { "new" } else { "old" }
            );
        }
        let Table::Gpt { gpt, .. } = Table::read(&mut after)
            .unwrap_or_else(|e| panic!("unreadable after a crash at sector {budget}: {e}"))
        else {
            panic!("not a GPT after a crash at sector {budget}");
        };
        let now: Vec<_> = (0..3).map(|i| gpt.entry(i).unwrap()).collect();
        if gpt.disk_guid() == Guid([1; 16]) {
            assert_eq!(now, old_entries, "budget {budget}");
            seen_old += 1;
        } else {
            assert_eq!((gpt.disk_guid(), &now), (Guid([2; 16]), &new_entries));
            seen_new += 1;
        }
    }
    assert!(seen_old > 0 && seen_new > 0);
    assert!(after_all_is(&new, &order));
}

/// Every sector outside `written` of a freshly written disk is zero.
fn after_all_is(dev: &MemDevice, written: &[u64]) -> bool {
    dev.data
        .chunks(512)
        .enumerate()
        .all(|(lba, s)| written.contains(&(lba as u64)) || s.iter().all(|&b| b == 0))
}
