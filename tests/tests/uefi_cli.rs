//! `bootshelf boot-test` as a user runs it: headless, choosing an entry by name, waiting
//! for a text; exit status 0 when the text appeared, 1 when it did not.

use e2e::{StickSpec, TestStick};
use fixtures::uefi::marker_iso;

fn boot_test(stick: &TestStick, args: &[&str]) -> (i32, String) {
    let mut all = vec!["boot-test", stick.path().to_str().unwrap(), "--headless"];
    all.extend_from_slice(args);
    let out = testkit::cli::run(&all);
    (out.code().unwrap_or(-1), out.text())
}

#[test]
fn boot_test_selects_by_name_and_exits_0_on_the_expected_text() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&marker_iso("cli-one").unwrap(), None).unwrap();
    stick
        .add(&marker_iso("cli-two").unwrap(), Some("Second ISO"))
        .unwrap();
    std::thread::scope(|s| {
        s.spawn(|| {
            let (code, out) = boot_test(
                &stick,
                &[
                    "--select",
                    "second iso",
                    "--expect",
                    "BOOTSHELF-MARKER-cli-two",
                    "--timeout",
                    "120",
                ],
            );
            assert_eq!(code, 0, "{out}");
            assert!(
                out.contains("bootshelf: saw \"BOOTSHELF-MARKER-cli-two\""),
                "{out}"
            );
            assert!(!out.contains("BOOTSHELF-MARKER-cli-one"), "{out}");
        });
        s.spawn(|| {
            let (code, out) = boot_test(
                &stick,
                &[
                    "--select",
                    "cli-one",
                    "--expect",
                    "NEVER-PRINTED",
                    "--timeout",
                    "45",
                ],
            );
            assert_eq!(code, 1, "{out}");
            assert!(out.contains("BOOTSHELF-MARKER-cli-one"), "{out}");
        });
    });
}

/// `boot-test --select` takes the name rule of every command (shelf::names: Unicode case,
/// a unique part of a title), refuses an ambiguous name before QEMU starts, and shows the
/// loaders' developer timing notes only with `-v`.
#[test]
fn boot_test_selects_by_the_one_name_rule_and_shows_timings_only_with_verbose() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick
        .add(&marker_iso("cli-one").unwrap(), Some("Straße Rescue"))
        .unwrap();
    stick
        .add(&marker_iso("cli-two").unwrap(), Some("Straße Install"))
        .unwrap();
    let (code, out) = boot_test(&stick, &["--select", "STRASSE", "--expect", "x"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("\"STRASSE\" matches several ISOs"), "{out}");

    let (code, out) = boot_test(
        &stick,
        &[
            "--select",
            "STRASSE INSTALL",
            "--expect",
            "BOOTSHELF-MARKER-cli-two",
            "--timeout",
            "120",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("BOOTSHELF-MARKER-cli-two")
            && !out.contains(" us (")
            && !out.contains("menu drawn at"),
        "the echo lacks the marker or shows a timing note without -v:\n{out}"
    );

    let (code, out) = boot_test(&stick, &["-v", "--expect", "bootshelf: menu drawn"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("bootshelf: discovered 2 entries at "), "{out}");
}

/// A tmux session of our own (a real terminal emulator: what a user's terminal shows is
/// what `capture-pane` gives), killed when dropped.
struct Tmux {
    name: String,
}

impl Tmux {
    fn new(tag: &str) -> Tmux {
        let name = format!("bootshelf-{tag}-{}", std::process::id());
        let ok = std::process::Command::new("tmux")
            // The size of the screen OVMF draws (100x31): the menu fits, nothing scrolls.
            .args(["new-session", "-d", "-s", &name, "-x", "100", "-y", "31"])
            .args(["env", "PS1=$ ", "bash", "--norc", "--noprofile"])
            .status()
            .expect("running tmux (Debian package tmux)")
            .success();
        assert!(ok, "tmux new-session failed");
        Tmux { name }
    }

    /// Type `keys` (tmux key names: "Down", "Enter", "C-]", or literal text with `-l`).
    fn keys(&self, keys: &[&str]) {
        let ok = std::process::Command::new("tmux")
            .args(["send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux send-keys {keys:?}");
    }

    /// Type a shell command line and Enter.
    fn line(&self, line: &str) {
        self.keys(&["-l", line]);
        self.keys(&["Enter"]);
    }

    /// The screen as shown (with `escapes`, its attributes as escape sequences).
    fn screen(&self, escapes: bool) -> String {
        let mut c = std::process::Command::new("tmux");
        c.args(["capture-pane", "-p", "-t", &self.name]);
        if escapes {
            c.arg("-e");
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    }

    /// Wait until the screen shows `text`; panics with the screen after `secs`.
    fn wait_for(&self, text: &str, secs: u64) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let s = self.screen(false);
            if s.contains(text) {
                return s;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{text:?} not shown after {secs} s:\n{s}"
            );
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

/// `boot-test --headless` on a terminal: the menu is drawn cleanly (one row per entry, no
/// echoed keys), a key acts as soon as it is typed (raw input: Down redraws the menu
/// before any Enter), Enter boots the chosen entry, Ctrl-] ends the test, and the
/// terminal's modes are exactly as before, also when the run is ended by SIGTERM (QEMU
/// stopped with it, exit 2).
#[test]
fn headless_boot_test_on_a_terminal_takes_raw_keys_and_restores_the_terminal() {
    let stick = TestStick::install(StickSpec::default()).unwrap();
    stick.add(&marker_iso("raw-one").unwrap(), None).unwrap();
    stick.add(&marker_iso("raw-two").unwrap(), None).unwrap();
    let bin = testkit::cli::bootshelf_path().unwrap();
    let dir = testkit::TempDir::new("boot-test-tty");
    let (before, after, pid) = (dir.path("before"), dir.path("after"), dir.path("pid"));
    let t = Tmux::new("raw");
    let run = format!(
        "stty -g > {b}; sh -c 'echo $$ > {p}; exec {bin} boot-test {stick} --headless --timeout 600'; \
         echo EXIT=$?; stty -g > {a}",
        b = before.display(),
        a = after.display(),
        p = pid.display(),
        bin = bin.display(),
        stick = stick.path().display(),
    );
    t.line(&run);
    let menu = t.wait_for("MARKER_RAW_TWO", 300);
    // Down at once: the countdown (10 s) must not boot the first entry meanwhile.
    t.keys(&["Down"]);
    // Each entry on its own row, whole, no loader notes or echoed keys among them (the
    // footer repeats the chosen entry's label, without its file name).
    let rows: Vec<&str> = menu
        .lines()
        .filter(|l| l.contains("MARKER_RAW_") && l.contains(".iso"))
        .collect();
    assert!(
        rows.len() == 2
            && rows[0].contains("uefi-marker-raw-one-v1.iso")
            && rows[0].contains("MARKER_RAW_ONE  21 MiB  UEFI+BIOS")
            && rows[1].contains("uefi-marker-raw-two-v1.iso")
            && rows[1].contains("MARKER_RAW_TWO  21 MiB  UEFI+BIOS"),
        "{menu}"
    );
    assert!(!menu.contains("bootshelf: "), "{menu}");
    // Raw input: the guest gets Down at once and moves the highlight (inverse video) to
    // the second row, no Enter needed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let highlighted = |screen: &str, label: &str| {
        screen
            .lines()
            .find(|l| l.contains(label))
            .is_some_and(|l| l.contains("\x1b[7m") || l.contains(";47m") || l.contains("[47m"))
    };
    loop {
        let e = t.screen(true);
        if highlighted(&e, "MARKER_RAW_TWO") && !highlighted(&e, "MARKER_RAW_ONE") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "Down did not move the highlight without Enter:\n{e:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    let s = t.screen(false);
    assert!(!s.contains("^[") && !s.contains("[B"), "{s}");
    t.keys(&["Enter"]);
    t.wait_for("BOOTSHELF-MARKER-raw-two", 300);
    t.keys(&["C-]"]);
    let s = t.wait_for("EXIT=", 60);
    assert!(s.contains("quit (Ctrl-])") && s.contains("EXIT=0"), "{s}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        std::fs::read_to_string(&before).unwrap(),
        std::fs::read_to_string(&after).unwrap(),
        "terminal modes changed"
    );

    // Ended by a signal: QEMU is stopped, the terminal restored, exit 2.
    t.line("clear");
    let _ = std::fs::remove_file(&after);
    t.line(&run);
    t.wait_for("MARKER_RAW_TWO", 300);
    let bootshelf_pid: i32 = std::fs::read_to_string(&pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let qemu: Vec<i32> = std::fs::read_to_string(format!(
        "/proc/{bootshelf_pid}/task/{bootshelf_pid}/children"
    ))
    .unwrap()
    .split_whitespace()
    .map(|p| p.parse().unwrap())
    .collect();
    assert!(!qemu.is_empty(), "no QEMU child of {bootshelf_pid}");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &bootshelf_pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let s = t.wait_for("EXIT=", 60);
    assert!(
        s.contains("stopped by SIGTERM") && s.contains("EXIT=2"),
        "{s}"
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        std::fs::read_to_string(&before).unwrap(),
        std::fs::read_to_string(&after).unwrap(),
        "terminal modes changed after SIGTERM"
    );
    for q in qemu {
        assert!(
            !std::path::Path::new(&format!("/proc/{q}")).exists()
                || std::fs::read_to_string(format!("/proc/{q}/stat"))
                    .map(|s| s.contains(") Z "))
                    .unwrap_or(true),
            "QEMU {q} still runs"
        );
    }
}
