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
