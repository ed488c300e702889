//! Compile-fail and pass cases of the macros: every mistake a user can make with a plan, and
//! what the compiler tells them. Review each `.stderr` as the user who reads it.
//!
//! All cases run in one trybuild batch (one cargo build of the suite). Update the expected
//! output after a deliberate change with `TRYBUILD=overwrite cargo test --test ui`, then read
//! the diff.
#![cfg(unix)] // the plans are linked into trybuild's crate with a Unix symlink

use std::path::{Path, PathBuf};

/// trybuild compiles the cases in its own crate under `target/tests/trybuild/trackplan`, so
/// `CARGO_MANIFEST_DIR` there is that directory. Plan paths in the cases are written relative
/// to this repository, as a user would; link them into the trybuild crate so they resolve the
/// same way (the plan file name in every message stays as written).
fn link_plans() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = target
        .parent()
        .expect("CARGO_TARGET_TMPDIR is <target>/tmp");
    let project = target.join("tests/trybuild/trackplan");
    std::fs::create_dir_all(project.join("tests/ui")).expect("create the trybuild crate directory");
    for (link, to) in [
        (project.join("plans"), root.join("plans")),
        (project.join("tests/ui/plans"), root.join("tests/ui/plans")),
    ] {
        if std::fs::read_link(&link).ok().as_deref() != Some(to.as_path()) {
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&to, &link).expect("link plans into the trybuild crate");
        }
    }
}

#[test]
fn ui() {
    link_plans();
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/pass/*.rs");
}
