//! Compile-fail and pass cases of the macros: every mistake a user can make with a plan, and
//! what the compiler tells them. Review each `.stderr` as the user who reads it.
//!
//! All cases run in one trybuild batch (one cargo build of the suite). Update the expected
//! output after a deliberate change with `TRYBUILD=overwrite cargo test --test ui`, then read
//! the diff.
use std::path::{Path, PathBuf};

/// trybuild compiles the cases in its own crate under `target/tests/trybuild/trackplan`, so
/// `CARGO_MANIFEST_DIR` there is that directory. Plan paths in the cases are written relative
/// to this repository, as a user would; copy the plans into the trybuild crate so they resolve
/// the same way (the plan file name in every message stays as written). A copy, not a link:
/// `plan!` refuses a plan whose real location is outside the crate's workspace.
fn copy_plans() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = target
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp");
    let project = target.join("tests/trybuild/trackplan");
    for dir in ["plans", "tests/ui/plans"] {
        let to = project.join(dir);
        // An earlier version of this suite left a symbolic link here.
        if std::fs::symlink_metadata(&to).is_ok_and(|m| m.file_type().is_symlink()) {
            std::fs::remove_file(&to).expect("remove the old plans link");
        }
        std::fs::create_dir_all(&to).expect("create the trybuild plans directory");
        for entry in std::fs::read_dir(root.join(dir)).expect("list the plans") {
            let entry = entry.expect("list the plans");
            if entry.file_type().expect("a plan's file type").is_file() {
                std::fs::copy(entry.path(), to.join(entry.file_name()))
                    .expect("copy a plan into the trybuild crate");
            }
        }
    }
}

#[test]
fn ui() {
    copy_plans();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
