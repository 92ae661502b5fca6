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

/// Write `bytes` as `path` on s.img's ESP (`None`: delete it), with mtools on a copy of
/// the ESP written back in place.
fn put_on_esp(sh: &Bootshelf, path: &str, bytes: Option<&[u8]>) {
    let img = sh.path("s.img");
    let layout = testkit::stick::layout(&img);
    let esp = check_image(&img, &layout, sh.dir());
    let mut cmd = Command::new(if bytes.is_some() { "mcopy" } else { "mdel" });
    cmd.env("MTOOLS_SKIP_CHECK", "1");
    if let Some(bytes) = bytes {
        let file = sh.path("put-on-esp.bin");
        std::fs::write(&file, bytes).unwrap();
        cmd.arg("-o").arg("-i").arg(&esp).arg(&file);
    } else {
        cmd.arg("-i").arg(&esp);
    }
    assert!(cmd.arg(format!("::{path}")).status().unwrap().success());
    use std::io::{Seek, SeekFrom, Write};
    let ss = layout.sector_size;
    let mut f = std::fs::OpenOptions::new().write(true).open(&img).unwrap();
    f.seek(SeekFrom::Start(layout.esp.byte_start(ss))).unwrap();
    f.write_all(&std::fs::read(&esp).unwrap()).unwrap();
}

/// `check --json` on s.img: (kind, subject, severity) of each finding, and the output.
fn findings(sh: &Bootshelf) -> (Vec<(String, String, String)>, String) {
    let o = sh.run(&["check", "--json", "s.img"]);
    let rows: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let rows = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap().to_string();
            (s("kind"), s("subject"), s("severity"))
        })
        .collect();
    (rows, o.stdout)
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
    put_on_esp(
        &sh,
        "/EFI/BOOT/grubx64.efi",
        Some(&std::fs::read(stick::secure_boot::MOK_MANAGER_SOURCE).unwrap()),
    );
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

/// Whether each ISO's EFI loader carries an Authenticode signature (index byte 13), as
/// `inspect` reads it from the ISO and `add` records it: `efi_signed` per EFI entry and
/// `uefi_signed` in `inspect --json`, `efi_signed` in `list --json`, the SIGNED column of
/// `list` and the `Secure Boot` line of `inspect`. The ISO signed as Debian ships them
/// (Microsoft-signed shim) has its x86_64 loader signed; the grub-mkrescue one none.
#[test]
fn list_and_inspect_say_which_efi_loaders_are_signed() {
    let signed = fixtures::uefi::debian_signed_iso().unwrap();
    let unsigned = fixtures::uefi::marker_iso("sb-unsigned").unwrap();
    let sh = Bootshelf::new("cli-efi-signed");
    let (s, u) = (signed.to_str().unwrap(), unsigned.to_str().unwrap());

    let o = sh.ok(&["inspect", "--json", s, u]);
    let doc: serde_json::Value = serde_json::from_str(&o).unwrap();
    let isos = doc["isos"].as_array().unwrap();
    assert_eq!(isos[0]["uefi_signed"], serde_json::json!(["x86_64"]), "{o}");
    assert_eq!(isos[1]["uefi_signed"], serde_json::json!([]), "{o}");
    for (iso, want) in isos
        .iter()
        .zip([serde_json::json!(["x86_64"]), serde_json::json!([])])
    {
        let efi: Vec<&serde_json::Value> = iso["boot_entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["platform"] == "efi")
            .collect();
        assert_eq!(efi.len(), 1, "{o}");
        assert_eq!(efi[0]["efi_signed"], want, "{o}");
    }
    let o = sh.ok(&["inspect", s]);
    assert!(o.contains("Secure Boot  signed loader"), "{o}");
    let o = sh.ok(&["inspect", u]);
    assert!(
        o.contains("Secure Boot  no signed loader: refused with Secure Boot on"),
        "{o}"
    );

    sh.ok(&["install", "s.img", "--size", "100M", "--no-secure-boot"]);
    sh.ok(&["add", "s.img", s, u]);
    let o = sh.ok(&["list", "--json", "s.img"]);
    let doc: serde_json::Value = serde_json::from_str(&o).unwrap();
    let rows = doc["isos"].as_array().unwrap();
    assert_eq!(rows[0]["efi_signed"], serde_json::json!(["x86_64"]), "{o}");
    assert_eq!(rows[1]["efi_signed"], serde_json::json!([]), "{o}");
    let o = sh.ok(&["list", "s.img"]);
    let line = |name: &str| {
        o.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no row for {name}: {o}"))
            .to_string()
    };
    // SIGNED follows the UEFI ARCH column.
    let signed_column = |l: String| {
        let words: Vec<&str> = l.split_whitespace().collect();
        let at = words.iter().position(|w| w.contains("x86_64")).unwrap();
        words[at + 1].to_string()
    };
    assert!(o.contains(" SIGNED "), "{o}");
    assert_eq!(
        signed_column(line("uefi-debian-signed-v1.iso")),
        "yes",
        "{o}"
    );
    assert_eq!(
        signed_column(line("uefi-marker-sb-unsigned-v1.iso")),
        "no",
        "{o}"
    );
}

/// In shim mode `check` compares shim and MokManager on the ESP with the installed
/// packages' files (`shim-signed`'s `shimx64.efi.signed`, `shim-helpers-amd64-signed`'s
/// `mmx64.efi.signed`): an older shim (its `.sbat` vendor version) is `shim_outdated`,
/// a MokManager with other bytes `shim_differs`, both warnings naming the versions; a
/// missing MokManager is a problem (exit 1). `update` copies the installed files back and
/// `check` finds nothing again.
#[test]
fn check_compares_shim_and_mok_manager_with_the_installed_packages_and_update_refreshes_them() {
    use stick::secure_boot::{shim_version, MOK_MANAGER_SOURCE, SHIM_SOURCE};
    let sh = Bootshelf::new("cli-shim-check");
    sh.ok(&["install", "s.img", "--size", "100M"]);
    boot_code_is_current(&sh);
    let shim = std::fs::read(SHIM_SOURCE).unwrap();
    let mok = std::fs::read(MOK_MANAGER_SOURCE).unwrap();
    let version = shim_version(&shim).unwrap();

    // An older shim: the installed one with its SBAT vendor version's digits zeroed (same
    // length, so it stays a signed PE image).
    let vendor = format!(",shim,{version},");
    let at = shim
        .windows(vendor.len())
        .position(|w| w == vendor.as_bytes())
        .expect("shim's SBAT vendor line");
    let mut old = shim.clone();
    for b in &mut old[at + 6..at + 6 + version.len()] {
        if b.is_ascii_digit() {
            *b = b'0';
        }
    }
    let old_version = shim_version(&old).unwrap();
    put_on_esp(&sh, "/EFI/BOOT/BOOTX64.EFI", Some(&old));
    // A MokManager of the same version with other bytes (one in the middle of its code).
    let mut other = mok.clone();
    let middle = other.len() / 2;
    other[middle] ^= 0x55;
    put_on_esp(&sh, "/EFI/BOOT/mmx64.efi", Some(&other));
    let (rows, out) = findings(&sh);
    let has = |kind: &str, subject: &str| {
        rows.iter()
            .any(|(k, s, sev)| k == kind && s == subject && sev == "warning")
    };
    assert!(has("shim_outdated", "\\EFI\\BOOT\\BOOTX64.EFI"), "{out}");
    assert!(has("shim_differs", "\\EFI\\BOOT\\mmx64.efi"), "{out}");
    assert!(
        out.contains(&format!(
            "shim {old_version} is older than the installed shim-signed's {version}"
        )),
        "{out}"
    );
    assert!(
        !rows.iter().any(|(k, _, _)| k == "boot_code_current"),
        "{out}"
    );
    let o = sh.ok(&["check", "s.img"]);
    assert!(
        o.contains("`bootshelf update` copies the installed one"),
        "{o}"
    );

    sh.ok(&["update", "s.img"]);
    boot_code_is_current(&sh);
    let img = sh.path("s.img");
    let esp = check_image(&img, &testkit::stick::layout(&img), sh.dir());
    assert!(mtype(&esp, "/EFI/BOOT/BOOTX64.EFI") == shim);
    assert!(mtype(&esp, "/EFI/BOOT/mmx64.efi") == mok);

    // No MokManager: a machine that does not know the key cannot enroll it.
    put_on_esp(&sh, "/EFI/BOOT/mmx64.efi", None);
    let o = sh.run(&["check", "--json", "s.img"]);
    assert_eq!(o.code(), Some(1), "{}", o.stdout);
    let (rows, out) = findings(&sh);
    assert!(
        rows.iter().any(|(k, s, sev)| k == "boot_code_broken"
            && s == "\\EFI\\BOOT\\mmx64.efi"
            && sev == "problem"),
        "{out}"
    );
    sh.ok(&["update", "s.img"]);
    boot_code_is_current(&sh);
}
