//! The loader flow (`flow::run`) on the host, with a fake platform: a stick made by the
//! CLI's own code (crates/stick) held in memory, scripted keys, a clock that advances on
//! every look, and a chain-boot that records what it was asked and fails or succeeds as
//! the test says. Covers booting, a refused window (ask, then boot without one), a
//! failed chain-boot (back to the menu with the window cleared and the message shown),
//! boot-next consumed before booting, and leaving the menu.

use std::collections::VecDeque;
use std::fmt;
use std::sync::OnceLock;

use blockdev::{BlockDevice, IoError, MemDevice};
use bootloader_core::discovery::{self, BootEntry, Firmware, Limits};
use bootloader_core::{flow, Clock, Console, Input, Io, Key, Line, Note, Platform, Style};
use ptable::LbaRange;
use stick::add::AddOptions;
use stick::index_io::{open_volume, set_boot_next, IndexStore};
use stick::{InstallOptions, Scheme, Stick};

const SECTOR: u32 = 512;
/// Screen size of the fake console: wide enough that no message is clipped.
const COLS: usize = 200;
const ROWS: usize = 25;
/// The fake clock's step per look, and the fake time after which a test has hung.
const TICK_MS: u64 = 20;
const HUNG_MS: u64 = 10 * 60 * 1000;

/// The two ISOs on every test stick, in menu order.
const HYBRID: &str = "Hybrid";
const UEFI_ONLY: &str = "UEFI only";

/// A 128 MiB GPT stick with a BIOS+UEFI ISO and a UEFI-only ISO, made by `install` and
/// `add`; with `boot_next`, the UEFI-only one is the one-shot default. Built once.
fn stick_bytes(boot_next: bool) -> Vec<u8> {
    static PLAIN: OnceLock<Vec<u8>> = OnceLock::new();
    static BOOT_NEXT: OnceLock<Vec<u8>> = OnceLock::new();
    let cell = if boot_next { &BOOT_NEXT } else { &PLAIN };
    cell.get_or_init(|| build_stick(boot_next)).clone()
}

fn build_stick(boot_next: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("stick.img");
    let opts = InstallOptions {
        scheme: Scheme::Gpt,
        create_size: Some(128 << 20),
        image_sector_size: Some(SECTOR),
        ..InstallOptions::default()
    };
    stick::install(&img, &opts, &stick::BootCode::placeholder()).unwrap();
    let mut s = Stick::open(&img, true).unwrap();
    let mut vol = open_volume(&mut s).unwrap();
    let mut store = IndexStore::load(&mut vol).unwrap();
    let mut uefi_path = String::new();
    for (iso, title) in [
        (fixtures::iso::bios_uefi_hybrid().unwrap(), HYBRID),
        (fixtures::iso::uefi_only().unwrap(), UEFI_ONLY),
    ] {
        let opts = AddOptions {
            title: Some(title.into()),
            ..AddOptions::default()
        };
        let p = stick::add::prepare(&mut vol, &iso, &opts).unwrap();
        let added = stick::add::add_prepared(&mut vol, &mut store, &p, &opts, &mut |_| {})
            .unwrap()
            .entry;
        uefi_path = added.path;
    }
    if boot_next {
        set_boot_next(&mut vol, &mut store, &uefi_path).unwrap();
    }
    drop(vol);
    drop(s);
    std::fs::read(&img).unwrap()
}

/// The stick in memory; optionally refusing every write, as a write-protected one does.
struct FakeDisk {
    mem: MemDevice,
    write_protected: bool,
}

impl BlockDevice for FakeDisk {
    fn sector_size(&self) -> u32 {
        self.mem.sector_size()
    }
    fn sector_count(&self) -> u64 {
        self.mem.sector_count()
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.mem.read_sectors(lba, buf)
    }
    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        if self.write_protected {
            return Err(IoError::WriteProtected);
        }
        self.mem.write_sectors(lba, buf)
    }
}

/// A screen that keeps what is on it now and every row ever written.
struct FakeScreen {
    rows: Vec<Line>,
    written: Vec<Line>,
}

impl Console for FakeScreen {
    fn size(&self) -> (usize, usize) {
        (COLS, ROWS)
    }
    fn write_line(&mut self, row: usize, line: &Line) {
        self.rows[row] = line.clone();
        self.written.push(line.clone());
    }
    fn clear(&mut self) {
        self.rows.iter_mut().for_each(|r| *r = Line::blank());
    }
}

/// One step of the key script.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// This key is pressed.
    Key(Key),
    /// No key for this many milliseconds (of the fake clock, one [`TICK_MS`] per poll).
    Wait(u64),
}

/// Keys from the script; none while it waits or once it is used up.
struct FakeKeys {
    script: VecDeque<Step>,
}

impl Input for FakeKeys {
    fn read_key(&mut self) -> Option<Key> {
        match self.script.pop_front()? {
            Step::Key(k) => Some(k),
            Step::Wait(ms) => {
                if ms > TICK_MS {
                    self.script.push_front(Step::Wait(ms - TICK_MS));
                }
                None
            }
        }
    }
}

/// Time that passes only when looked at.
struct FakeClock(u64);

impl Clock for FakeClock {
    fn now_ms(&mut self) -> u64 {
        self.0 += TICK_MS;
        assert!(
            self.0 < HUNG_MS,
            "the menu waited 10 minutes: the key script ran out"
        );
        self.0
    }
}

/// What the flow asked of the platform, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Note(String),
    Prepare(String),
    ChainBoot {
        title: String,
        /// The ISO window on the stick when the chain-boot started.
        window: Option<LbaRange>,
        /// Whether the stick still had a one-shot boot-next then.
        boot_next: bool,
    },
    Leave {
        /// Whether the screen was blank when the flow left.
        screen_blank: bool,
        /// Rows written so far.
        rows_written: usize,
    },
    /// The ISO window on the stick when a boot failure was noted.
    WindowAfterFailure(Option<LbaRange>),
    Fatal(String),
}

/// How the flow ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    Booted(String),
    Left,
    Fatal,
}

/// Why the fake failed to boot.
#[derive(Debug)]
struct FakeError(&'static str);

impl fmt::Display for FakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

struct Fake {
    disk: FakeDisk,
    io: Io<FakeScreen, FakeKeys, FakeClock>,
    events: Vec<Event>,
    /// When set, every `prepare_boot` fails with it (as BIOS does for an ISO it cannot
    /// emulate).
    prepare_error: Option<&'static str>,
    /// Results of successive chain-boots: `Err` as when the ISO's loader returns.
    chain_boots: VecDeque<Result<(), &'static str>>,
    /// Results of successive leaves: `false` as when the BIOS returns from INT 18h.
    leaves: VecDeque<bool>,
}

impl Fake {
    fn new(stick: Vec<u8>, script: &[Step]) -> Fake {
        Fake {
            disk: FakeDisk {
                mem: MemDevice::from_bytes(SECTOR, stick),
                write_protected: false,
            },
            io: Io {
                console: FakeScreen {
                    rows: vec![Line::blank(); ROWS],
                    written: Vec::new(),
                },
                input: FakeKeys {
                    script: script.iter().copied().collect(),
                },
                clock: FakeClock(0),
            },
            events: Vec::new(),
            prepare_error: None,
            chain_boots: VecDeque::new(),
            leaves: VecDeque::new(),
        }
    }

    /// The window on the stick now.
    fn window(&mut self) -> Option<LbaRange> {
        ptable::read_layout(&mut self.disk).unwrap().1.window
    }

    /// Whether the stick holds a one-shot boot-next now.
    fn boot_next(&mut self) -> bool {
        discovery::discover(&mut self.disk, &Limits::default())
            .unwrap()
            .boot_next
    }

    fn notes(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Note(n) => Some(n.as_str()),
                _ => None,
            })
            .collect()
    }

    fn chain_boots(&self) -> Vec<&Event> {
        self.events
            .iter()
            .filter(|e| matches!(e, Event::ChainBoot { .. }))
            .collect()
    }

    /// Whether a row in `style` containing `text` was ever on the screen.
    fn showed(&self, style: Style, text: &str) -> bool {
        self.io
            .console
            .written
            .iter()
            .any(|l| l.style == style && l.text.contains(text))
    }
}

impl Platform for Fake {
    const FIRMWARE: Firmware = Firmware::Uefi;
    const TITLE: &'static str = "bootshelf (test)";

    type Disk = FakeDisk;
    type Console = FakeScreen;
    type Input = FakeKeys;
    type Clock = FakeClock;
    type Prepared = String;
    type BootError = FakeError;
    type Exit = Ended;

    fn disk(&mut self) -> &mut FakeDisk {
        &mut self.disk
    }

    fn io(&mut self) -> &mut Io<FakeScreen, FakeKeys, FakeClock> {
        &mut self.io
    }

    fn note(&mut self, note: &Note<'_>) {
        self.events.push(Event::Note(note.to_string()));
        if let Note::BootFailed { .. } = note {
            let window = self.window();
            self.events.push(Event::WindowAfterFailure(window));
        }
    }

    fn prepare_boot(
        &mut self,
        entry: &BootEntry,
        _overlay: Option<overlay::Overlay>,
    ) -> Result<String, FakeError> {
        self.events.push(Event::Prepare(entry.title.clone()));
        match self.prepare_error {
            Some(e) => Err(FakeError(e)),
            None => Ok(entry.title.clone()),
        }
    }

    fn chain_boot(&mut self, entry: &BootEntry, prepared: String) -> Result<Ended, FakeError> {
        assert_eq!(prepared, entry.title, "chain-boot gets what prepare made");
        let window = self.window();
        let boot_next = self.boot_next();
        self.events.push(Event::ChainBoot {
            title: entry.title.clone(),
            window,
            boot_next,
        });
        match self
            .chain_boots
            .pop_front()
            .expect("an unexpected chain-boot")
        {
            Ok(()) => Ok(Ended::Booted(entry.title.clone())),
            Err(e) => Err(FakeError(e)),
        }
    }

    fn leave(&mut self) -> Option<Ended> {
        self.events.push(Event::Leave {
            screen_blank: self.io.console.rows.iter().all(|r| r.text.is_empty()),
            rows_written: self.io.console.written.len(),
        });
        self.leaves
            .pop_front()
            .expect("an unexpected leave")
            .then_some(Ended::Left)
    }

    fn fatal(&mut self, message: fmt::Arguments<'_>) -> Ended {
        self.events.push(Event::Fatal(message.to_string()));
        Ended::Fatal
    }
}

/// The window `entry`'s ISO gets: its extent in sectors.
fn window_of(stick: &[u8], index: usize) -> LbaRange {
    let mut dev = MemDevice::from_bytes(SECTOR, stick.to_vec());
    let d = discovery::discover(&mut dev, &Limits::default()).unwrap();
    let x = d.entries[index].extents[0];
    let first = x.start / u64::from(SECTOR);
    LbaRange::new(first, first + x.len.div_ceil(u64::from(SECTOR)) - 1).unwrap()
}

#[test]
fn enter_boots_the_selected_entry_with_its_window_open() {
    let stick = stick_bytes(false);
    let mut p = Fake::new(stick.clone(), &[Step::Key(Key::Enter)]);
    p.chain_boots.push_back(Ok(()));
    assert_eq!(flow::run(&mut p), Ended::Booted(HYBRID.into()));
    let window = window_of(&stick, 0);
    assert_eq!(
        p.events,
        [
            Event::Note("bootshelf: discovered 2 entries".into()),
            Event::Note("bootshelf: menu drawn".into()),
            Event::Prepare(HYBRID.into()),
            Event::Note(format!("bootshelf: booting {HYBRID}")),
            Event::ChainBoot {
                title: HYBRID.into(),
                window: Some(window),
                boot_next: false,
            },
        ]
    );
    // The booted OS finds the window on the stick.
    assert_eq!(p.window(), Some(window));
    assert!(p.showed(Style::Header, "bootshelf (test)  (1 of 2)"));
    assert!(p.showed(Style::Selected, HYBRID));
}

#[test]
fn a_failed_chain_boot_clears_the_window_and_goes_back_to_the_menu() {
    let stick = stick_bytes(false);
    let installed = ptable::read_layout(&mut MemDevice::from_bytes(SECTOR, stick.clone()))
        .unwrap()
        .1;
    // Enter fails; any key dismisses the message; Enter again boots.
    let mut p = Fake::new(
        stick.clone(),
        &[
            Step::Key(Key::Enter),
            Step::Key(Key::Other),
            Step::Key(Key::Enter),
        ],
    );
    p.chain_boots
        .push_back(Err("the ISO's boot loader returned"));
    p.chain_boots.push_back(Ok(()));
    assert_eq!(flow::run(&mut p), Ended::Booted(HYBRID.into()));
    let attempt = Event::ChainBoot {
        title: HYBRID.into(),
        window: Some(window_of(&stick, 0)),
        boot_next: false,
    };
    let booting = Event::Note(format!("bootshelf: booting {HYBRID}"));
    assert_eq!(
        p.events,
        [
            Event::Note("bootshelf: discovered 2 entries".into()),
            Event::Note("bootshelf: menu drawn".into()),
            Event::Prepare(HYBRID.into()),
            booting.clone(),
            attempt.clone(),
            Event::Note(format!(
                "bootshelf: boot failed: {HYBRID}: the ISO's boot loader returned"
            )),
            Event::WindowAfterFailure(None),
            Event::Prepare(HYBRID.into()),
            booting,
            attempt,
        ]
    );
    assert!(p.showed(
        Style::Alert,
        &format!("{HYBRID}: the ISO's boot loader returned")
    ));

    // Failing, then leaving: the stick is left as installed.
    let mut p = Fake::new(
        stick,
        &[
            Step::Key(Key::Enter),
            Step::Key(Key::Esc),
            Step::Key(Key::Esc),
        ],
    );
    p.chain_boots.push_back(Err("boom"));
    p.leaves.push_back(true);
    assert_eq!(flow::run(&mut p), Ended::Left);
    assert_eq!(p.chain_boots().len(), 1);
    assert_eq!(ptable::read_layout(&mut p.disk).unwrap().1, installed);
}

#[test]
fn a_failed_preparation_goes_back_to_the_menu_without_a_window() {
    let stick = stick_bytes(false);
    let mut p = Fake::new(
        stick.clone(),
        &[
            Step::Key(Key::Enter),
            Step::Key(Key::Esc),
            Step::Key(Key::Esc),
        ],
    );
    p.prepare_error = Some("no BIOS boot entry");
    p.leaves.push_back(true);
    assert_eq!(flow::run(&mut p), Ended::Left);
    assert!(p.chain_boots().is_empty());
    assert!(p
        .notes()
        .contains(&"bootshelf: boot failed: Hybrid: no BIOS boot entry"));
    assert!(p.showed(Style::Alert, "Hybrid: no BIOS boot entry"));
    assert!(p.disk.mem.data == stick, "nothing was written");
}

#[test]
fn a_refused_window_asks_and_boots_without_one() {
    let stick = stick_bytes(false);
    // Enter: the window is refused and the menu asks; Enter: boot without it.
    let mut p = Fake::new(
        stick.clone(),
        &[Step::Key(Key::Enter), Step::Key(Key::Enter)],
    );
    p.disk.write_protected = true;
    p.chain_boots.push_back(Ok(()));
    assert_eq!(flow::run(&mut p), Ended::Booted(HYBRID.into()));
    assert!(p.showed(
        Style::Alert,
        "no ISO window: the stick is write-protected. Enter: boot without an ISO window, Esc: back"
    ));
    assert_eq!(
        p.events,
        [
            Event::Note("bootshelf: discovered 2 entries".into()),
            Event::Note("bootshelf: menu drawn".into()),
            Event::Prepare(HYBRID.into()),
            Event::Prepare(HYBRID.into()),
            Event::Note(format!("bootshelf: booting {HYBRID}")),
            Event::ChainBoot {
                title: HYBRID.into(),
                window: None,
                boot_next: false,
            },
        ]
    );
    assert!(p.disk.mem.data == stick, "nothing was written");
}

#[test]
fn esc_at_the_window_question_goes_back_to_the_menu() {
    let stick = stick_bytes(false);
    let mut p = Fake::new(
        stick,
        &[
            Step::Key(Key::Enter),
            Step::Key(Key::Esc),
            Step::Key(Key::Esc),
        ],
    );
    p.disk.write_protected = true;
    p.leaves.push_back(true);
    assert_eq!(flow::run(&mut p), Ended::Left);
    assert!(p.chain_boots().is_empty());
    assert!(p.showed(Style::Alert, "no ISO window: the stick is write-protected"));
    assert!(matches!(p.events.last(), Some(Event::Leave { .. })));
}

#[test]
fn boot_next_is_consumed_before_booting() {
    let stick = stick_bytes(true);
    // No keys: the countdown boots the one-shot default.
    let mut p = Fake::new(stick.clone(), &[]);
    assert!(p.boot_next());
    p.chain_boots.push_back(Ok(()));
    assert_eq!(flow::run(&mut p), Ended::Booted(UEFI_ONLY.into()));
    assert_eq!(
        p.chain_boots(),
        [&Event::ChainBoot {
            title: UEFI_ONLY.into(),
            window: Some(window_of(&stick, 1)),
            boot_next: false,
        }]
    );
    assert!(p.showed(Style::Selected, UEFI_ONLY));
    assert!(p.io.clock.0 >= 10_000, "booted after the 10 s countdown");
}

#[test]
fn a_boot_next_that_cannot_be_cleared_is_noted_and_booting_goes_on() {
    let stick = stick_bytes(true);
    // The countdown picks the boot-next; the write-protected stick refuses both the
    // index write and the window; Enter at the question boots without one.
    let mut p = Fake::new(stick, &[Step::Wait(11_000), Step::Key(Key::Enter)]);
    p.disk.write_protected = true;
    p.chain_boots.push_back(Ok(()));
    assert_eq!(flow::run(&mut p), Ended::Booted(UEFI_ONLY.into()));
    let notes = p.notes();
    assert!(
        notes[2].starts_with("bootshelf: could not clear the one-shot default: "),
        "{notes:?}"
    );
    assert_eq!(
        p.chain_boots(),
        [&Event::ChainBoot {
            title: UEFI_ONLY.into(),
            window: None,
            boot_next: true,
        }]
    );
}

#[test]
fn leaving_hands_back_to_the_firmware_and_a_return_shows_the_menu_again() {
    let stick = stick_bytes(false);
    // Esc stops the countdown, Esc leaves; the firmware comes back once (BIOS INT 18h
    // may), then Esc leaves for good.
    let mut p = Fake::new(
        stick.clone(),
        &[
            Step::Key(Key::Esc),
            Step::Key(Key::Esc),
            Step::Key(Key::Esc),
        ],
    );
    p.leaves.extend([false, true]);
    assert_eq!(flow::run(&mut p), Ended::Left);
    let leaves: Vec<(bool, usize)> = p
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Leave {
                screen_blank,
                rows_written,
            } => Some((*screen_blank, *rows_written)),
            _ => None,
        })
        .collect();
    assert_eq!(leaves.len(), 2);
    assert!(
        leaves.iter().all(|(blank, _)| *blank),
        "cleared before leaving"
    );
    assert!(
        leaves[1].1 - leaves[0].1 >= ROWS,
        "the whole menu was drawn again after the firmware came back"
    );
    assert!(p.chain_boots().is_empty());
    assert!(p.disk.mem.data == stick, "nothing was written");
}

#[test]
fn an_unreadable_stick_ends_the_loader() {
    let mut p = Fake::new(vec![0u8; 4 << 20], &[]);
    assert_eq!(flow::run(&mut p), Ended::Fatal);
    let [Event::Note(old_window), Event::Fatal(message)] = p.events.as_slice() else {
        panic!("{:?}", p.events);
    };
    assert!(
        old_window.starts_with("bootshelf: could not clear an old ISO window: "),
        "{old_window}"
    );
    assert!(
        message.starts_with("cannot read the stick: partition table: "),
        "{message}"
    );
}
