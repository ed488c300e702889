//! What the CLI's end-to-end tests share: the workspace root and fresh temporary directories.
//! Included with `#[path = "support/temp_dir.rs"] mod temp_dir;`.

use std::path::{Path, PathBuf};

/// The workspace root, where `plans/`, `scripts/` and `examples/` are.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the CLI crate lives in the workspace")
        .to_path_buf()
}

/// A fresh directory under the system temp dir, removed when dropped. Its name says which
/// test file made it (`trackplan-<test>-<name>-…`).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Makes the directory, named after `name`, this process and the time.
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "trackplan-{}-{name}-{}-{:?}",
            env!("CARGO_CRATE_NAME"),
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
