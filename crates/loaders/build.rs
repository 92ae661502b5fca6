//! Builds every bootloader from source for its own target and leaves the artifacts in
//! `OUT_DIR`, where `src/lib.rs` embeds them with `include_bytes!`.
//!
//! There is ONE table, [`LOADERS`]; adding a loader is adding a row. Each loader crate is
//! built by a nested `cargo build` with its own target directory (`<target>/loaders`, next
//! to the outer profile directories), so the nested build never waits on the outer build's
//! lock, and with the outer build's compiler flags and wrappers removed (they are meant for
//! the host, not for firmware targets).

use std::path::{Path, PathBuf};
use std::process::Command;

/// One bootloader to build.
struct Loader {
    /// Crate directory, relative to the workspace root.
    dir: &'static str,
    /// Package name in that crate's Cargo.toml.
    package: &'static str,
    /// Rust target triple (or a path to a target JSON, relative to `dir`).
    target: &'static str,
    /// Cargo profile (`release` for size and speed regardless of the outer profile).
    profile: &'static str,
    /// File cargo leaves in `<target dir>/<target>/<profile>/`.
    artifact: &'static str,
    /// Name of the copy in `OUT_DIR` that lib.rs embeds.
    out_name: &'static str,
    /// Build `core` and `alloc` from the toolchain's `rust-src` (`-Z build-std`) because
    /// rustup ships no prebuilt standard library for `target` (i686-unknown-uefi since
    /// 1.9x). The nested cargo then runs with `RUSTC_BOOTSTRAP=1`: the pinned stable
    /// compiler, with this one unstable cargo flag allowed (docs/uefi.md, "Architectures").
    build_std: bool,
}

/// Every bootloader embedded in `bootshelf`.
const LOADERS: &[Loader] = &[
    Loader {
        dir: "bootloader/uefi",
        package: "bootshelf-uefi",
        target: "x86_64-unknown-uefi",
        profile: "release",
        artifact: "bootshelf-uefi.efi",
        out_name: "BOOTX64.EFI",
        build_std: false,
    },
    // The same UEFI loader for ARM64 and 32-bit x86 UEFI (docs/uefi.md, "Architectures").
    Loader {
        dir: "bootloader/uefi",
        package: "bootshelf-uefi",
        target: "aarch64-unknown-uefi",
        profile: "release",
        artifact: "bootshelf-uefi.efi",
        out_name: "BOOTAA64.EFI",
        build_std: false,
    },
    Loader {
        dir: "bootloader/uefi",
        package: "bootshelf-uefi",
        target: "i686-unknown-uefi",
        profile: "release",
        artifact: "bootshelf-uefi.efi",
        out_name: "BOOTIA32.EFI",
        build_std: true,
    },
    // The BIOS loader: one crate, two flat binaries (linked with `--oformat binary`).
    Loader {
        dir: "bootloader/bios",
        package: "bootshelf-bios",
        target: "x86_64-unknown-none",
        profile: "release",
        artifact: "bios-mbr",
        out_name: "bios-mbr.bin",
        build_std: false,
    },
    Loader {
        dir: "bootloader/bios",
        package: "bootshelf-bios",
        target: "x86_64-unknown-none",
        profile: "release",
        artifact: "bios-stage2",
        out_name: "bios-stage2.bin",
        build_std: false,
    },
];

/// `OUT_DIR` files lib.rs includes for the BIOS loader; created empty when no row of
/// [`LOADERS`] produces them yet, so that the build works before bootloader/bios exists.
const BIOS_OUT_NAMES: &[&str] = &["bios-mbr.bin", "bios-stage2.bin"];

/// Shared crates the loaders are built from: a change there rebuilds them.
const SHARED_SOURCES: &[&str] = &[
    "crates/blockdev",
    "crates/crc32",
    "crates/partition-raw",
    "crates/iso9660",
    "crates/exfat",
    "crates/index",
    "crates/efi-image",
    "crates/authenticode",
    "crates/overlay",
    "crates/ptable",
    "crates/shelf",
    "bootloader/core",
];

/// Environment variables of the outer build that must not reach the nested one.
const SCRUBBED_ENV: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_MAKEFLAGS",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_MANIFEST_PATH",
    "CARGO_BUILD_JOBS",
    "MAKEFLAGS",
    "MFLAGS",
    "RUSTDOCFLAGS",
    "CARGO_PROFILE_RELEASE_DEBUG",
];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .expect("crates/loaders sits two levels below the workspace root")
        .to_path_buf();
    let out_dir = PathBuf::from(env("OUT_DIR"));
    let target_dir = nested_target_dir(&out_dir);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    for dir in SHARED_SOURCES {
        rerun_if_changed(&root.join(dir));
    }
    for l in LOADERS {
        let crate_dir = root.join(l.dir);
        rerun_if_changed(&crate_dir.join("src"));
        rerun_if_changed(&crate_dir.join("Cargo.toml"));
        rerun_if_changed(&crate_dir.join("Cargo.lock"));

        let mut cmd = Command::new(&cargo);
        cmd.current_dir(&crate_dir)
            .args(["build", "--package", l.package, "--target", l.target])
            .args(["--profile", l.profile])
            .arg("--target-dir")
            .arg(&target_dir);
        for var in SCRUBBED_ENV {
            cmd.env_remove(var);
        }
        if l.build_std {
            cmd.env("RUSTC_BOOTSTRAP", "1").args([
                "-Z",
                "build-std=core,alloc,compiler_builtins",
                "-Z",
                "build-std-features=compiler-builtins-mem",
            ]);
        }
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("could not run {cargo} to build {}: {e}", l.dir));
        assert!(
            status.success(),
            "building {} for {} failed",
            l.dir,
            l.target
        );

        let built = target_dir
            .join(target_name(l.target))
            .join(l.profile)
            .join(l.artifact);
        let dest = out_dir.join(l.out_name);
        std::fs::copy(&built, &dest)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", built.display(), dest.display()));
    }
    for name in BIOS_OUT_NAMES {
        if !LOADERS.iter().any(|l| l.out_name == *name) {
            std::fs::write(out_dir.join(name), []).expect("writing an empty placeholder");
        }
    }
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("cargo sets {name} for build scripts"))
}

/// `<target>/loaders` for an `OUT_DIR` of `<target>/<profile>/build/loaders-<hash>/out`
/// (also with a `<triple>` level when cross-compiling); `OUT_DIR/loaders` otherwise.
fn nested_target_dir(out_dir: &Path) -> PathBuf {
    let build = out_dir
        .ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "build"));
    match build.and_then(Path::parent).and_then(Path::parent) {
        Some(target) => target.join("loaders"),
        None => out_dir.join("loaders"),
    }
}

/// The directory cargo names after a target: the triple, or a target JSON's file stem.
fn target_name(target: &str) -> &str {
    match target.strip_suffix(".json") {
        Some(path) => Path::new(path)
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(path),
        None => target,
    }
}

fn rerun_if_changed(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}
