//! The rewriters and the overlay on real configurations from Debian packages: the
//! debian-installer netboot `pxelinux.cfg` and `grub.cfg`
//! (debian-installer-12-netboot-amd64), live-build's isolinux templates, grub-mkrescue
//! output. ISOs served through the overlay are written out and read back by xorriso, an
//! independent ISO 9660 reader, in its Rock Ridge and Joliet views.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use overlay::{build, rewrite, KernelArgs, Limits, Syntax};

const DI: &str = "/usr/lib/debian-installer/images/12/amd64/text";

fn args() -> KernelArgs {
    let mut a = KernelArgs::new();
    a.append("nomodeset console=ttyS0").remove("quiet");
    a
}

/// Rewrite `root` and everything it includes, files read from `dir`; returns every
/// file's original and rewritten text and the kernel lines seen.
fn rewrite_tree(
    dir: &Path,
    root: &str,
    syntax: Syntax,
    base: &str,
) -> (BTreeMap<String, (String, String)>, usize) {
    let mut out = BTreeMap::new();
    let mut queue = vec![root.to_string()];
    let mut lines = 0;
    while let Some(p) = queue.pop() {
        if out.contains_key(&p) {
            continue;
        }
        // A missing include is skipped, as syslinux does (d-i's text flavour names
        // spk.cfg, which only its gtk flavour ships).
        let Ok(text) = std::fs::read(dir.join(p.trim_start_matches('/'))) else {
            continue;
        };
        let r = rewrite(syntax, &text, &args(), base);
        lines += r.kernel_lines;
        queue.extend(r.references.clone());
        let new = r.text.unwrap_or_else(|| text.clone());
        out.insert(
            p,
            (
                String::from_utf8(text).unwrap(),
                String::from_utf8(new).unwrap(),
            ),
        );
    }
    (out, lines)
}

/// Every `append` line of a label whose kernel is Linux, in every file: (old, new).
fn linux_appends(files: &BTreeMap<String, (String, String)>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (old, new) in files.values() {
        let mut linux = false;
        for (o, n) in old.lines().zip(new.lines()) {
            let kw = o
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if kw == "label" {
                linux = false;
            }
            if kw == "kernel" || kw == "linux" {
                linux = !o.trim_end().ends_with(".c32");
            }
            if kw == "append" && linux {
                out.push((o.to_string(), n.to_string()));
            }
        }
    }
    out
}

#[test]
fn debian_installer_netboot_pxelinux_cfg() {
    fixtures::debian_file(
        &format!("{DI}/pxelinux.cfg/default"),
        "debian-installer-12-netboot-amd64",
    )
    .unwrap();
    // pxelinux's working directory is the TFTP root: includes are relative to it.
    let (files, lines) = rewrite_tree(Path::new(DI), "/pxelinux.cfg/default", Syntax::Syslinux, "");
    // pxelinux.cfg/default -> boot-screens/menu.cfg -> txt.cfg, adtxt.cfg, ...
    assert!(files.len() >= 8, "{:?}", files.keys());
    assert!(files.contains_key("/debian-installer/amd64/boot-screens/txt.cfg"));
    let appends = linux_appends(&files);
    // install, expert, auto, rescue in the plain and dark menus.
    assert!(appends.len() >= 8, "{appends:?}");
    assert_eq!(lines, appends.len());
    for (old, new) in &appends {
        assert!(new.ends_with(" nomodeset console=ttyS0"), "{new}");
        let kept: Vec<_> = old.split_whitespace().filter(|w| *w != "quiet").collect();
        let got: Vec<_> = new
            .split_whitespace()
            .filter(|w| *w != "nomodeset" && *w != "console=ttyS0")
            .collect();
        assert_eq!(got, kept, "{old} -> {new}");
    }
    // Nothing but append lines changed.
    for (old, new) in files.values() {
        assert_eq!(old.lines().count(), new.lines().count());
        for (o, n) in old.lines().zip(new.lines()) {
            if o != n {
                assert!(
                    o.trim_start().to_ascii_lowercase().starts_with("append"),
                    "{o} -> {n}"
                );
            }
        }
    }
}

#[test]
fn debian_installer_netboot_grub_cfg() {
    let cfg = format!("{DI}/debian-installer/amd64/grub/grub.cfg");
    fixtures::debian_file(&cfg, "debian-installer-12-netboot-amd64").unwrap();
    let text = std::fs::read_to_string(&cfg).unwrap();
    let r = rewrite(Syntax::Grub, text.as_bytes(), &args(), "/boot/grub");
    let new = String::from_utf8(r.text.unwrap()).unwrap();
    let linux_lines = text
        .lines()
        .filter(|l| l.trim_start().starts_with("linux "))
        .count();
    assert!(linux_lines >= 10);
    assert_eq!(r.kernel_lines, linux_lines);
    assert_eq!(text.lines().count(), new.lines().count());
    for (o, n) in text.lines().zip(new.lines()) {
        if o.trim_start().starts_with("linux ") {
            assert!(n.ends_with(" nomodeset console=ttyS0"), "{n}");
            assert!(!n.split_whitespace().any(|w| w == "quiet"), "{n}");
            assert!(n.contains("/debian-installer/amd64/linux"), "{n}");
        } else {
            assert_eq!(o, n);
        }
    }
}

/// The served image (ISO + overlay) in a file, for xorriso.
fn served(iso: &Path, built: &overlay::Built, tag: &str) -> PathBuf {
    let bytes = std::fs::read(iso).unwrap();
    let mut out = vec![0u8; built.overlay.len() as usize];
    built
        .overlay
        .read(&mut bytes.as_slice(), 0, &mut out)
        .unwrap();
    let path = fixtures::scratch_path(tag).unwrap();
    std::fs::write(&path, &out).unwrap();
    path
}

/// `path` of `image` as xorriso reads it (`rr`: Rock Ridge, else Joliet).
fn xorriso_read(image: &Path, path: &str, rr: bool) -> String {
    let out = fixtures::scratch_path("xorriso-out").unwrap();
    let _ = std::fs::remove_file(&out);
    let mut cmd = Command::new("xorriso");
    cmd.args(["-abort_on", "FAILURE", "-osirrox", "on"]);
    if rr {
        cmd.args(["-rockridge", "on"]);
    } else {
        cmd.args(["-rockridge", "off", "-joliet", "on"]);
    }
    cmd.arg("-indev")
        .arg(image)
        .arg("-extract")
        .arg(path)
        .arg(&out);
    fixtures::run(&mut cmd).unwrap();
    let s = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    s
}

#[test]
fn grub_mkrescue_iso_grows_and_relocates_its_full_sector_grub_cfg() {
    let iso = fixtures::options::grub_cmdline_iso().unwrap();
    let before = std::fs::read(&iso).unwrap();
    let built = build(before.as_slice(), &args(), &Limits::default()).unwrap();
    assert_eq!(built.kernel_lines, 1);
    let cfg = built
        .files
        .iter()
        .find(|f| f.path == "/boot/grub/grub.cfg")
        .unwrap();
    assert!(cfg.relocated, "{:?}", built.files);
    assert!(built.overlay.len() > before.len() as u64);
    // The ISO is only read.
    assert_eq!(std::fs::read(&iso).unwrap(), before);
    let image = served(&iso, &built, "served-grub");
    let text = xorriso_read(&image, "/boot/grub/grub.cfg", true);
    assert!(
        text.contains("linux /boot/vmlinuz console=ttyS0 panic=-1 nomodeset console=ttyS0\n"),
        "{text}"
    );
    assert_eq!(
        text.len(),
        2048 - " quiet".len() + " nomodeset console=ttyS0".len()
    );
    let _ = std::fs::remove_file(image);
}

#[test]
fn isolinux_iso_patches_rock_ridge_and_joliet_records() {
    let iso = fixtures::options::isolinux_cmdline_iso().unwrap();
    let before = std::fs::read(&iso).unwrap();
    let mut a = KernelArgs::new();
    a.append("bootshelf.test=1");
    let built = build(before.as_slice(), &a, &Limits::default()).unwrap();
    assert_eq!(built.kernel_lines, 1);
    assert!(built.files.iter().all(|f| f.relocated));
    let image = served(&iso, &built, "served-isolinux");
    for rr in [true, false] {
        let text = xorriso_read(&image, "/isolinux/isolinux.cfg", rr);
        assert!(
            text.contains(
                "append initrd=/boot/initrd.gz console=ttyS0 panic=-1 quiet bootshelf.test=1\n"
            ),
            "{text}"
        );
        assert_eq!(text.len(), 2048 + " bootshelf.test=1".len());
    }
    let _ = std::fs::remove_file(image);
}

#[test]
fn live_build_isolinux_tree_gets_the_arguments() {
    let iso = fixtures::options::live_build_isolinux_iso().unwrap();
    let bytes = std::fs::read(&iso).unwrap();
    let built = build(bytes.as_slice(), &args(), &Limits::default()).unwrap();
    let paths: Vec<_> = built.files.iter().map(|f| f.path.as_str()).collect();
    assert!(paths.contains(&"/isolinux/live.cfg"), "{paths:?}");
    assert!(paths.contains(&"/isolinux/install.cfg"), "{paths:?}");
    // 2 live labels + 9 installer labels (start, text and dark text installers).
    assert_eq!(built.kernel_lines, 11, "{paths:?}");
    let image = served(&iso, &built, "served-live-build");
    let live = xorriso_read(&image, "/isolinux/live.cfg", false);
    assert!(
        live.contains("append boot=live components splash nomodeset console=ttyS0\n"),
        "{live}"
    );
    let install = xorriso_read(&image, "/isolinux/install.cfg", true);
    assert!(
        install.contains("append vga=788  --- nomodeset console=ttyS0\n"),
        "{install}"
    );
    // Utilities (hdt, memtest) are not Linux labels.
    assert_eq!(
        xorriso_read(&image, "/isolinux/utilities.cfg", true),
        xorriso_read(&iso, "/isolinux/utilities.cfg", true)
    );
    let _ = std::fs::remove_file(image);
}

#[test]
fn an_iso_without_kernel_lines_is_refused() {
    let iso = fixtures::iso::grub_mkrescue().unwrap();
    let bytes = std::fs::read(&iso).unwrap();
    assert_eq!(
        build(bytes.as_slice(), &args(), &Limits::default()),
        Err(overlay::BuildError::NoKernelLines)
    );
}

#[test]
fn hostile_isos_give_errors_not_panics() {
    let iso = fixtures::options::isolinux_cmdline_iso().unwrap();
    let bytes = std::fs::read(&iso).unwrap();
    let head = &bytes[..(96 << 10).min(bytes.len())];
    let mut rng = testkit::Rng::new(11);
    for _ in 0..300 {
        let mut b = head.to_vec();
        for _ in 0..8 {
            let at = 16 * 2048 + rng.below((b.len() - 16 * 2048) as u64) as usize;
            b[at] = rng.byte();
        }
        let cut = 1 + rng.below(b.len() as u64 - 1) as usize;
        let _ = build(&b[..cut], &args(), &Limits::default());
        let _ = build(b.as_slice(), &args(), &Limits::default());
    }
    let tiny = Limits {
        max_overlay_bytes: 2048,
        ..Limits::default()
    };
    assert!(matches!(
        build(bytes.as_slice(), &args(), &tiny),
        Err(overlay::BuildError::TooBig { .. })
    ));
}
