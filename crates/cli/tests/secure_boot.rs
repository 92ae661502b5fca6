//! Secure Boot on the ESP through the built binary (docs/secure-boot.md): the files
//! `install` writes by default (shim, MokManager, the loader signed with the user's key as
//! `grubx64.efi`, the certificate), checked with `sbverify`; `--no-secure-boot` and
//! `--own-keys` through `update`; `check` naming a loader signed by another key, finding
//! nothing about the boot code of a fresh stick in any mode (the IA32/ARM64 loaders stay
//! beside shim, unsigned) and a second stage that is not this build's loader; and a
//! refused key leaving the target untouched.

use std::process::Command;
use testkit::cli::Bootshelf;
use testkit::stick::{check_image, mdir, mtype};

fn sbverify(cert: &std::path::Path, image: &[u8], dir: &std::path::Path) -> (bool, String) {
    let efi = dir.join("verify.efi");
    std::fs::write(&efi, image).unwrap();
    let out = Command::new("sbverify")
        .arg("--cert")
        .arg(cert)
        .arg(&efi)
        .output()
        .expect("sbverify (Debian package sbsigntool) runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The ESP's loaders in plain and own-keys mode: one per architecture, nothing else.
const LOADERS: [&str; 3] = ["BOOTAA64.EFI", "BOOTIA32.EFI", "BOOTX64.EFI"];

/// `check --json` on s.img finds nothing about the boot code but `boot_code_current`.
fn boot_code_is_current(sh: &Bootshelf) {
    let o = sh.run(&["check", "--json", "s.img"]).assert_ok();
    let rows: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert!(
        rows.iter().any(|r| r["kind"] == "boot_code_current"),
        "{}",
        o.stdout
    );
    assert!(rows.iter().all(|r| r["severity"] == "note"), "{}", o.stdout);
}

#[test]
fn install_sets_up_shim_and_a_loader_signed_with_the_users_key() {
    let sh = Bootshelf::new("cli-secure-boot");
    sh.ok(&["install", "s.img", "--size", "100M"]);
    let img = sh.path("s.img");
    let layout = testkit::stick::layout(&img);
    let esp = check_image(&img, &layout, sh.dir());
    let cert = testkit::cli::test_signing_cert().unwrap();
    assert!(
        cert.exists(),
        "install made no key in the tests' config directory"
    );

    assert!(
        mtype(&esp, "/EFI/BOOT/BOOTX64.EFI")
            == std::fs::read(stick::secure_boot::SHIM_SOURCE).unwrap()
    );
    assert!(
        mtype(&esp, "/EFI/BOOT/mmx64.efi")
            == std::fs::read(stick::secure_boot::MOK_MANAGER_SOURCE).unwrap()
    );
    let loader = mtype(&esp, "/EFI/BOOT/grubx64.efi");
    let (ok, text) = sbverify(&cert, &loader, sh.dir());
    assert!(ok, "sbverify refused the loader on the ESP: {text}");
    let der = mtype(&esp, "/ENROLL-THIS-bootshelf-key.cer");
    let parsed = stick::secure_boot::UserKey::load_cert(&cert).unwrap();
    assert_eq!(der, stick::secure_boot::cert_der(&parsed).unwrap());
    // The private key never goes on the stick.
    let key = std::fs::read_to_string(cert.with_file_name("signing-key.pem")).unwrap();
    let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let raw = std::fs::read(&img).unwrap();
    assert!(!raw.windows(40).any(|w| w == &body.as_bytes()[..40]));

    let o = sh.ok(&["check", "s.img"]);
    assert!(o.contains("signed by your current key"), "{o}");
    // shim and the signed loader are what this build carries: no boot code finding, and
    // the unsigned IA32/ARM64 loaders beside them are the build's too.
    boot_code_is_current(&sh);
    assert!(mtype(&esp, "/EFI/BOOT/BOOTIA32.EFI") == loaders::UEFI_BOOTIA32);
    assert!(mtype(&esp, "/EFI/BOOT/BOOTAA64.EFI") == loaders::UEFI_BOOTAA64);

    // Checked against another certificate: reported, with the fix.
    let o = sh
        .run(&[
            "check",
            "--json",
            "--cert",
            "/usr/share/ovmf/PkKek-1-snakeoil.pem",
            "s.img",
        ])
        .assert_ok();
    let rows: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let hit = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "loader_not_signed_by_current_key")
        .unwrap_or_else(|| panic!("{}", o.stdout));
    assert_eq!(hit["severity"], "warning");
    assert!(hit["message"]
        .as_str()
        .unwrap()
        .contains("bootshelf update"));

    // The plain loader, then own-keys mode, through update.
    sh.ok(&["update", "--no-secure-boot", "s.img"]);
    let esp = check_image(&img, &layout, sh.dir());
    assert!(mtype(&esp, "/EFI/BOOT/BOOTX64.EFI") == loaders::UEFI_BOOTX64);
    assert_eq!(mdir(&esp, "/EFI/BOOT"), LOADERS);
    let o = sh.ok(&["check", "s.img"]);
    assert!(o.contains("UEFI loader: plain"), "{o}");
    boot_code_is_current(&sh);

    sh.ok(&["update", "--own-keys", "s.img"]);
    let esp = check_image(&img, &layout, sh.dir());
    let (ok, text) = sbverify(&cert, &mtype(&esp, "/EFI/BOOT/BOOTX64.EFI"), sh.dir());
    assert!(ok, "{text}");
    assert_eq!(mdir(&esp, "/EFI/BOOT"), LOADERS);
    let o = sh.ok(&["check", "s.img"]);
    assert!(
        o.contains("own keys") && o.contains("signed by your current key"),
        "{o}"
    );
    boot_code_is_current(&sh);

    // Back to shim: a second stage that is not this build's loader is a warning (another
    // loader), found through its Authenticode digest; update writes this one again.
    sh.ok(&["update", "s.img"]);
    boot_code_is_current(&sh);
    let esp = check_image(&img, &layout, sh.dir());
    let other = sh.path("other.efi");
    std::fs::copy(stick::secure_boot::MOK_MANAGER_SOURCE, &other).unwrap();
    let put = Command::new("mcopy")
        .env("MTOOLS_SKIP_CHECK", "1")
        .arg("-o")
        .arg("-i")
        .arg(&esp)
        .arg(&other)
        .arg("::/EFI/BOOT/grubx64.efi")
        .status()
        .unwrap();
    assert!(put.success());
    {
        use std::io::{Seek, SeekFrom, Write};
        let ss = layout.sector_size;
        let mut f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
        f.seek(SeekFrom::Start(layout.esp.byte_start(ss))).unwrap();
        f.write_all(&std::fs::read(&esp).unwrap()).unwrap();
    }
    let o = sh.run(&["check", "--json", "s.img"]).assert_ok();
    let rows: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(
        rows.as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "boot_code_differs"
                && r["subject"] == "\\EFI\\BOOT\\grubx64.efi"
                && r["severity"] == "warning"),
        "{}",
        o.stdout
    );
    sh.ok(&["update", "s.img"]);
    boot_code_is_current(&sh);
}

#[test]
fn a_key_that_does_not_match_its_certificate_is_refused_before_writing() {
    let sh = Bootshelf::new("cli-secure-boot");
    let (key, _) = authenticode::sign::new_signing_key("one", 1_700_000_000).unwrap();
    let (_, other) = authenticode::sign::new_signing_key("two", 1_700_000_000).unwrap();
    std::fs::write(
        sh.path("k.pem"),
        authenticode::sign::key_to_pem(&key).unwrap(),
    )
    .unwrap();
    std::fs::write(
        sh.path("c.pem"),
        authenticode::sign::cert_to_pem(&other).unwrap(),
    )
    .unwrap();
    let o = sh
        .run(&[
            "install", "s.img", "--size", "100M", "--key", "k.pem", "--cert", "c.pem",
        ])
        .assert_code(2);
    assert!(
        o.stderr.contains("is not the one of the key"),
        "{}",
        o.stderr
    );
    assert!(
        !sh.path("s.img").exists(),
        "a refused install created the image"
    );
}
