//! Crash safety of the real binary: `bootshelf add --force` is killed with SIGKILL at random
//! instants over the copy and the metadata writes until 24 kills landed mid-way. After each kill:
//! fsck.exfat -n is clean, the index decodes and lists only complete ISOs whose bytes (as
//! exfat-fuse reads them) match both the index hash and the source. Finally the stick
//! takes a full add and `check --hash` passes.
//!
//! The write-by-write variant (a device that stops after N writes) is
//! crates/stick/tests/crash.rs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Instant;
use testkit::cli::Bootshelf;
use testkit::rng::{pattern, Rng};
use testkit::stick::*;

#[test]
fn add_killed_at_random_instants_leaves_a_consistent_stick() {
    let t = Bootshelf::new("cli-crash");
    let bin = || t.command();
    let img = t.path("stick.img");
    let st = bin()
        .args(["install", img.to_str().unwrap(), "--size", "512M", "--yes"])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    // A bootable ISO followed by 60 MiB of pseudo-random bytes (not sparse: real reads).
    let iso = iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        "big.iso",
        None,
    );
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&iso).unwrap();
        for i in 0..60 {
            f.write_all(&pattern(1 << 20, i)).unwrap();
        }
    }
    let expect: BTreeMap<String, PathBuf> = [("/big.iso".to_string(), iso.clone())]
        .into_iter()
        .collect();
    let add = |force: bool| {
        let mut c = bin();
        c.args([
            "add",
            img.to_str().unwrap(),
            iso.to_str().unwrap(),
            "--quiet",
        ]);
        if force {
            c.arg("--force");
        }
        c.stdout(Stdio::null()).stderr(Stdio::null());
        c
    };

    // How long a whole add takes here (first add, then the fastest of two replacing
    // adds, which is what the kills interrupt), to spread the kills over it.
    assert!(add(false).status().unwrap().success());
    assert_consistent(&img, &expect, "after the first add");
    let mut full = std::time::Duration::MAX;
    for _ in 0..2 {
        let t0 = Instant::now();
        assert!(add(true).status().unwrap().success());
        full = full.min(t0.elapsed());
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("full add takes {full:?}; kill delays from seed {seed:#x}");
    let mut rng = Rng::new(seed);
    let mut killed = 0;
    let mut finished = 0;
    for i in 0..80 {
        if killed >= 24 {
            break;
        }
        // Uniform over [0, full): from process start through the copy to the index
        // write; a kill that comes after the add finished is counted apart.
        let delay = full.mul_f64(rng.below(1000) as f64 / 1000.0);
        let mut child = add(true).spawn().unwrap();
        std::thread::sleep(delay);
        let was_running = child.try_wait().unwrap().is_none();
        child.kill().ok(); // SIGKILL
        let status = child.wait().unwrap();
        if was_running {
            killed += 1;
        } else {
            finished += 1;
            assert!(status.success(), "add exited early with {status}");
        }
        let when = format!("after kill #{i} at {delay:?} (running: {was_running})");
        assert_consistent(&img, &expect, &when);
    }
    eprintln!("{killed} adds killed mid-way, {finished} had finished");
    assert!(
        killed >= 20,
        "only {killed} kills landed while add was running"
    );

    assert!(add(true).status().unwrap().success());
    let out = bin()
        .args(["check", img.to_str().unwrap(), "--hash"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 hashes match"),
        "{text}"
    );
    assert_consistent(&img, &expect, "after the final add");
}
