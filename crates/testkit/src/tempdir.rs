//! A scratch directory per test under `target/fixtures/tmp` (a real disk: loop devices,
//! `O_DIRECT` and large sparse files behave there as on a stick, unlike on a tmpfs),
//! removed with everything in it when dropped.

use std::path::{Path, PathBuf};

/// A fresh, empty directory that no other test (thread or process) uses; removed on drop.
pub struct TempDir {
    dir: PathBuf,
}

impl TempDir {
    /// A new directory whose name starts with `tag` (to tell leftovers apart).
    pub fn new(tag: &str) -> TempDir {
        let dir = fixtures::scratch_path(tag).expect("a scratch path under target/fixtures/tmp");
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
