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
