//! A scratch directory per test under `target/fixtures/tmp` (a real disk: loop devices,
//! `O_DIRECT` and large sparse files behave there as on a stick, unlike on a tmpfs),
//! removed with everything in it when dropped.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// `<workspace>/target/fixtures/tmp`: next to the cached fixtures, so that every
/// engineer's and CI's target directory (and `CARGO_TARGET_DIR`) shares it.
pub fn scratch_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fixtures/tmp")
}

/// A fresh path in [`scratch_dir`] that nobody else uses (not created; the caller removes
/// it): `stem.<process id>.<counter>`.
pub fn scratch_path(stem: &str) -> std::io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = scratch_dir();
    std::fs::create_dir_all(&dir)?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(dir.join(format!("{stem}.{}.{n}", std::process::id())))
}

/// A fresh, empty directory that no other test (thread or process) uses; removed on drop.
pub struct TempDir {
    dir: PathBuf,
}

impl TempDir {
    /// A new directory whose name starts with `tag` (to tell leftovers apart).
    pub fn new(tag: &str) -> TempDir {
        let dir = scratch_path(tag)
            .unwrap_or_else(|e| panic!("creating {}: {e}", scratch_dir().display()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        TempDir { dir }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `name` inside the directory (not created).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
