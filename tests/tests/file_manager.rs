//! ISOs put on a stick the way a file manager does, and what each reader of the stick
//! makes of them: `bootshelf list --json` and the menus both loaders draw (read from COM1
//! under SeaBIOS and OVMF) must list the same ISOs in the same order.
//!
//! The stick gets two ISOs through `bootshelf add` (indexed), then a tree copied with `cp`
//! through exfat-fuse (another exFAT implementation than bootshelf's): nested folders,
//! a hidden folder, a macOS `._` resource file, `$RECYCLE.BIN`, `System Volume
//! Information`, a folder deeper than the scan limit, a mixed-case `.ISO`, an empty `.iso`
//! and a non-ISO file. [`EXPECTED`] spells out the one right answer, from the scan policy
//! the loaders apply (bootloader/core's discovery): indexed ISOs first, in index order;
//! then the other ISO files breadth-first by folder, each folder's files sorted by name
//! ignoring case; folders deeper than 3 below the root, hidden folders (`.*`),
//! `$RECYCLE.BIN`, `System Volume Information`, `._*` files and empty files left out.

use e2e::{run_bootshelf, StickSpec, TestStick};
use qemu_harness::{strip_ansi, Config, Drive, Qemu};
use std::fmt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use testkit::fuse::FuseMount;

/// Power-on to the menu under TCG; every other wait is short.
const MENU_TIMEOUT: Duration = Duration::from_secs(90);
/// Once "menu drawn" is on COM1, every row should already be there.
const ROWS_TIMEOUT: Duration = Duration::from_secs(5);

/// One ISO as a reader of the stick shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Shown {
    /// The menu title (custom title, else the file name).
    title: String,
    /// In the index (the menu marks the others "(not indexed)").
    indexed: bool,
}

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.indexed {
            "indexed"
        } else {
            "not indexed"
        };
        write!(f, "{} [{state}]", self.title)
    }
}

/// An ISO the readers must list.
struct Expected {
    /// Menu title.
    title: &'static str,
    /// Path on the data partition.
    path: &'static str,
    /// Added with `bootshelf add` (else copied by the file manager).
    indexed: bool,
}

const fn entry(title: &'static str, path: &'static str, indexed: bool) -> Expected {
    Expected {
        title,
        path,
        indexed,
    }
}

/// Indexed first in index order (`/zz-…` was added before `/aa-…`), then breadth-first:
/// the root's files (`beta` before `Mixed` ignoring case; a byte order would swap them),
/// then the folders one level down in name order (`/deep`, `/linux`, `/tools`; created as
/// `/tools`, `/deep`, `/linux`, so directory order would differ), then two levels down (`/deep/d2` has no ISO,
/// `/linux/debian`), then three (`/deep/d2/d3`: the deepest folder scanned).
const EXPECTED: &[Expected] = &[
    entry("zz-indexed-first.iso", "/zz-indexed-first.iso", true),
    entry("Second (custom title)", "/aa-indexed-second.iso", true),
    entry("beta-root.iso", "/beta-root.iso", false),
    entry("Mixed-Case.ISO", "/Mixed-Case.ISO", false),
    entry("arch-nested.iso", "/linux/arch-nested.iso", false),
    entry("memtest-tool.iso", "/tools/memtest-tool.iso", false),
    entry("Rescue.iso", "/tools/Rescue.iso", false),
    entry(
        "debian-nested.iso",
        "/linux/debian/debian-nested.iso",
        false,
    ),
    entry("deep-at-limit.iso", "/deep/d2/d3/deep-at-limit.iso", false),
];

/// What the file manager copies, in this order, after the two `bootshelf add`s: `true`
/// copies the ISO fixture to that path, `false` creates an empty file. Folders are
/// created as needed, in the order they first appear. Every file here that is not in
/// [`EXPECTED`] holds the ISO's bytes (or nothing), so only a skip rule keeps it out.
const COPIED: &[(&str, bool)] = &[
    ("/beta-root.iso", true),
    ("/._beta-root.iso", true),
    ("/Mixed-Case.ISO", true),
    ("/empty.iso", false),
    ("/not-an-iso.img", true),
    ("/.hidden/hidden.iso", true),
    ("/$RECYCLE.BIN/recycled.iso", true),
    ("/System Volume Information/sysvol.iso", true),
    ("/tools/Rescue.iso", true),
    ("/tools/memtest-tool.iso", true),
    ("/deep/d2/d3/deep-at-limit.iso", true),
    ("/deep/d2/d3/d4/too-deep.iso", true),
    ("/linux/arch-nested.iso", true),
    ("/linux/._arch-nested.iso", true),
    ("/linux/debian/debian-nested.iso", true),
];

fn expected() -> Vec<Shown> {
    EXPECTED
        .iter()
        .map(|e| Shown {
            title: e.title.to_string(),
            indexed: e.indexed,
        })
        .collect()
}

/// The stick: two ISOs added by bootshelf, then [`COPIED`] through exfat-fuse.
fn file_manager_stick() -> TestStick {
    let iso = fixtures::uefi::tiny_uefi_iso().unwrap();
    let stick = TestStick::install(StickSpec::default()).unwrap();
    // `bootshelf add` names the file on the stick after its source.
    let staging = fixtures::scratch_path("file-manager-src").unwrap();
    std::fs::create_dir_all(&staging).unwrap();
    let added = (|| -> anyhow::Result<()> {
        for (name, title) in [
            ("zz-indexed-first.iso", None),
            ("aa-indexed-second.iso", Some("Second (custom title)")),
        ] {
            let src = staging.join(name);
            std::fs::copy(&iso, &src)?;
            stick.add(&src, title)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&staging);
    added.unwrap();

    let mount = stick.mount_data().unwrap();
    copy_tree(&mount, &iso);
    mount.unmount().unwrap();
    stick
}

/// Make [`COPIED`] under the mount with `mkdir` and `cp`, as a file manager would.
fn copy_tree(mount: &FuseMount, iso: &Path) {
    for (path, with_iso) in COPIED {
        let dest = mount.dir().join(path.trim_start_matches('/'));
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        }
        if *with_iso {
            fixtures::run(Command::new("cp").arg(iso).arg(&dest)).unwrap();
        } else {
            std::fs::File::create(&dest)
                .unwrap_or_else(|e| panic!("creating {}: {e}", dest.display()));
        }
    }
}

/// What one loader's menu showed, with what is needed to explain a mismatch.
struct MenuSeen {
    shown: Vec<Shown>,
    rows: Vec<(usize, String)>,
    serial: String,
}

/// Boot `cfg`, wait for the menu and read its rows from COM1. Both loaders also note
/// `bootshelf: discovered N entries` on COM1 (by "menu drawn"); the rows are read until
/// all N are there, and must be numbered 1..=N (all on one screen, nothing scrolled away).
fn read_menu(cfg: &Config, firmware: &str) -> Result<MenuSeen, String> {
    let mut q = Qemu::start(cfg).map_err(|e| format!("{firmware}: starting QEMU: {e}"))?;
    q.wait_for("bootshelf: menu drawn", MENU_TIMEOUT)
        .map_err(|e| format!("{firmware}: no menu: {e}"))?;
    let serial = strip_ansi(&q.serial_text());
    let count = discovered_count(&serial)
        .ok_or_else(|| format!("{firmware}: no 'discovered N entries' note:\n{serial}"))?;
    let deadline = Instant::now() + ROWS_TIMEOUT;
    let mut rows = q.menu_entries();
    while rows.len() < count && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        rows = q.menu_entries();
    }
    let raw = q.serial_text();
    q.kill();
    let numbers: Vec<usize> = rows.iter().map(|(n, _)| *n).collect();
    if numbers != (1..=count).collect::<Vec<_>>() {
        return Err(format!(
            "{firmware}: the loader discovered {count} entries but COM1 shows rows \
             {numbers:?}: {rows:#?}\n--- serial ---\n{}",
            strip_ansi(&raw)
        ));
    }
    let shown = rows.iter().map(|(_, text)| from_row(text)).collect();
    Ok(MenuSeen {
        shown,
        rows,
        serial: strip_ansi(&raw),
    })
}

/// N of the loader's `bootshelf: discovered N entries` note.
fn discovered_count(serial: &str) -> Option<usize> {
    let rest = serial.split("bootshelf: discovered ").nth(1)?;
    rest.split(' ').next()?.parse().ok()
}

/// A menu row's text (`title   detail`, the detail right-aligned after at least two
/// blanks; titles here have no double blank): title, and indexed unless the detail says
/// "(not indexed)".
fn from_row(text: &str) -> Shown {
    let title = text.split("  ").next().unwrap_or_default().trim();
    Shown {
        title: title.to_string(),
        indexed: !text.contains("(not indexed)"),
    }
}

/// `bootshelf list --json STICK`: each ISO as shown, and its path.
fn list_json(stick: &TestStick) -> (Vec<Shown>, Vec<String>) {
    let out = run_bootshelf(&["list", "--json", stick.path().to_str().unwrap()]).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("list --json is not JSON ({e}):\n{out}"));
    let isos = doc["isos"]
        .as_array()
        .unwrap_or_else(|| panic!("list --json has no isos array:\n{out}"));
    let mut shown = Vec::new();
    let mut paths = Vec::new();
    for iso in isos {
        let (Some(title), Some(path), Some(indexed)) = (
            iso["title"].as_str(),
            iso["path"].as_str(),
            iso["indexed"].as_bool(),
        ) else {
            panic!("list --json row without title, path or indexed: {iso}\n{out}");
        };
        shown.push(Shown {
            title: title.to_string(),
            indexed,
        });
        paths.push(path.to_string());
    }
    (shown, paths)
}

/// The three lists side by side, one line per position.
fn side_by_side(columns: &[(&str, &[Shown])]) -> String {
    let n = columns.iter().map(|(_, c)| c.len()).max().unwrap_or(0);
    let mut out = String::new();
    for (name, _) in columns {
        out.push_str(&format!("{name:<44}"));
    }
    out.push('\n');
    for i in 0..n {
        for (_, c) in columns {
            let cell = c
                .get(i)
                .map(|s| format!("{}. {s}", i + 1))
                .unwrap_or_default();
            out.push_str(&format!("{cell:<44}"));
        }
        out.push('\n');
    }
    out
}

#[test]
fn iso_files_copied_by_a_file_manager_are_listed_alike_by_list_json_and_both_loaders() {
    let stick = file_manager_stick();
    let bios_cfg = Config::bios().drive(Drive::usb(stick.path()).snapshot(true));
    let uefi_cfg = stick.uefi_config();
    // Both machines at once: each boot is mostly TCG time on its own core.
    let (bios, uefi) = std::thread::scope(|s| {
        let bios = s.spawn(|| read_menu(&bios_cfg, "BIOS (SeaBIOS)"));
        let uefi = s.spawn(|| read_menu(&uefi_cfg, "UEFI (OVMF)"));
        (
            bios.join().expect("BIOS thread panicked"),
            uefi.join().expect("UEFI thread panicked"),
        )
    });
    let bios = bios.unwrap_or_else(|e| panic!("{e}"));
    let uefi = uefi.unwrap_or_else(|e| panic!("{e}"));
    let (listed, listed_paths) = list_json(&stick);
    let expected = expected();
    let table = side_by_side(&[
        ("expected", &expected),
        ("BIOS menu", &bios.shown),
        ("UEFI menu", &uefi.shown),
        ("bootshelf list --json", &listed),
    ]);
    let numbered_paths: String = listed_paths
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}. {p}\n", i + 1))
        .collect();

    // The loaders first: they apply the scan policy EXPECTED is written from.
    assert_eq!(
        bios.shown, expected,
        "the BIOS menu differs from the expected list:\n{table}\nrows: {:#?}\n--- BIOS serial ---\n{}",
        bios.rows, bios.serial
    );
    assert_eq!(
        uefi.shown, expected,
        "the UEFI menu differs from the expected list:\n{table}\nrows: {:#?}\n--- UEFI serial ---\n{}",
        uefi.rows, uefi.serial
    );
    // Then the CLI: `bootshelf list` says it lists the ISOs as the menu shows them.
    assert_eq!(
        listed, expected,
        "bootshelf list --json differs from the menus both loaders drew:\n{table}\n\
         paths in list --json:\n{numbered_paths}"
    );
    let expected_paths: Vec<&str> = EXPECTED.iter().map(|e| e.path).collect();
    assert_eq!(
        listed_paths, expected_paths,
        "bootshelf list --json lists the expected titles at other paths:\n{numbered_paths}"
    );
}
