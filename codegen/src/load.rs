//! Finding, reading and checking the plan file a macro names.
//!
//! Paths are relative to the calling crate's directory (`CARGO_MANIFEST_DIR`), like sqlx's
//! migrations: the same source compiles the same way wherever the workspace is checked out.
//! Absolute paths are rejected for that reason.
//!
//! A plan must also lie *inside* the crate's workspace (the nearest directory above the crate
//! whose Cargo.toml has a `[workspace]` table, or the crate's own directory when there is
//! none): `plan!("../plans/shop.toml")` from a member crate is fine, `plan!("../../../etc/x")`
//! is not. The macros show the lines of a file that does not parse, so a path that leaves the
//! workspace, or names a file that is not `.toml`, is refused before the file is opened; the
//! check compares canonical paths, so neither `..` nor a symbolic link leads outside.

use std::path::{Path, PathBuf};

use trackplan_model::{Diagnostic, Plan, SourceFile};

/// Why a plan could not be loaded at all (as opposed to a plan with errors, which loads and
/// carries diagnostics).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The macro was given an absolute path.
    #[error(
        "plan path `{written}` is absolute; plan paths are relative to the directory of the crate's Cargo.toml (CARGO_MANIFEST_DIR), e.g. `plans/shop.toml`, so the crate builds wherever it is checked out"
    )]
    Absolute {
        /// The path as written.
        written: String,
    },
    /// The path leads outside the workspace (or the crate, outside a workspace).
    #[error(
        "plan path `{written}` leads outside {}: plan files must lie inside it, so a build never reads an unrelated file\n  = note: the path is relative to the directory of the crate's Cargo.toml (CARGO_MANIFEST_DIR)",
        if *in_workspace { "the crate's workspace (the directory of the Cargo.toml with `[workspace]`)" } else { "the crate's directory" }
    )]
    Outside {
        /// The path as written.
        written: String,
        /// The directory it must stay in.
        root: PathBuf,
        /// Whether `root` is a workspace (otherwise the crate).
        in_workspace: bool,
    },
    /// The path does not name a `.toml` file.
    #[error(
        "plan path `{written}` does not name a `.toml` file: a tracking plan is a TOML file, e.g. `plans/shop.toml`"
    )]
    NotToml {
        /// The path as written.
        written: String,
    },
    /// The file could not be read.
    #[error(
        "cannot read plan file `{written}`: {source}\n  = note: plan paths are relative to the directory of the crate's Cargo.toml (CARGO_MANIFEST_DIR){}",
        suggestion.as_ref().map(|s| format!("\n  = help: did you mean `{s}`?")).unwrap_or_default()
    )]
    Read {
        /// The path as written.
        written: String,
        /// Where it was looked for.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
        /// A plan file with a similar name next to where it was looked for.
        suggestion: Option<String>,
    },
    /// The macro ran outside cargo.
    #[error(
        "CARGO_MANIFEST_DIR is not set: trackplan's macros resolve plan paths against it, so build with cargo"
    )]
    NoManifestDir,
    /// No `plan = "…"` in the attribute and none in Cargo.toml.
    #[error(
        "no plan file given: write `#[trackplan(plan = \"plans/….toml\")]`, or set it once for the crate in its Cargo.toml:\n\n    [package.metadata.trackplan]\n    plan = \"plans/….toml\"\n\nor once for every crate of a workspace in the workspace's Cargo.toml (the path relative to it):\n\n    [workspace.metadata.trackplan]\n    plan = \"plans/….toml\""
    )]
    NoPlan,
    /// The crate's (or its workspace's) Cargo.toml could not be read or has a malformed
    /// `[package.metadata.trackplan]` (`[workspace.metadata.trackplan]`).
    #[error("cannot use `{}`: {reason}", path.display())]
    Manifest {
        /// The Cargo.toml.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// A plan file, read and checked.
#[derive(Debug)]
pub struct LoadedPlan {
    /// Absolute, canonical path (for `include_bytes!`).
    pub path: PathBuf,
    /// The text, named as the user wrote the path (diagnostics show that name).
    pub source: SourceFile,
    /// The plan: validated when there are no errors; otherwise what parsing could recover
    /// (items with errors left out), or `None` when even that failed. The macros build stub
    /// items from a recovered plan so call sites do not add errors of their own.
    pub plan: Option<Plan>,
    /// Every error and warning.
    pub diagnostics: Vec<Diagnostic>,
    /// Content hash of the text (`PlanInfo::hash`).
    pub hash: String,
}

impl LoadedPlan {
    /// Checks `source`, read from `path`.
    pub fn from_source(path: PathBuf, source: SourceFile) -> LoadedPlan {
        let (checked, recovered) = trackplan_model::check_recovering(&source);
        let hash = trackplan_model::content_hash(&source.text);
        let plan = checked.plan.or(recovered);
        LoadedPlan {
            path,
            source,
            plan,
            diagnostics: checked.diagnostics,
            hash,
        }
    }

    /// Reads and checks the plan at `path` (already resolved), naming it `written`.
    pub fn read(path: PathBuf, written: &str) -> Result<LoadedPlan, LoadError> {
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Read {
            written: written.to_owned(),
            path: path.clone(),
            source,
            suggestion: None,
        })?;
        Ok(LoadedPlan::from_source(
            path,
            SourceFile::new(written, text),
        ))
    }

    /// Whether the plan has no errors (warnings allowed).
    pub fn is_valid(&self) -> bool {
        self.plan.is_some() && !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The absolute, canonical path of plan `written` relative to `manifest_dir`, which must lie
/// inside the crate's workspace (see the module documentation).
pub fn resolve(manifest_dir: &Path, written: &str) -> Result<PathBuf, LoadError> {
    let relative = Path::new(written);
    if relative.is_absolute() || relative.has_root() {
        return Err(LoadError::Absolute {
            written: written.to_owned(),
        });
    }
    if relative.extension().is_none_or(|e| e != "toml") {
        return Err(LoadError::NotToml {
            written: written.to_owned(),
        });
    }
    let (root, in_workspace) = match workspace_root(manifest_dir) {
        Some(root) => (root, true),
        None => (manifest_dir.to_path_buf(), false),
    };
    let outside = || LoadError::Outside {
        written: written.to_owned(),
        root: root.clone(),
        in_workspace,
    };
    // First by the written components, before touching the file system, so a path that climbs
    // out is refused whether or not the file exists there.
    let joined = manifest_dir.join(relative);
    if !lexically_within(&root, &joined) {
        return Err(outside());
    }
    let path = joined.canonicalize().map_err(|source| LoadError::Read {
        written: written.to_owned(),
        suggestion: similar_file(&joined, written),
        path: joined.clone(),
        source,
    })?;
    // Then by where the file really is, past symbolic links.
    match root.canonicalize() {
        Ok(root) if path.starts_with(&root) => Ok(path),
        _ => Err(outside()),
    }
}

/// Whether `path`, with `.` and `..` applied to its components (no file system access), is
/// `root` or below it.
fn lexically_within(root: &Path, path: &Path) -> bool {
    match (normalized(root), normalized(path)) {
        (Some(root), Some(path)) => path.starts_with(&root),
        _ => false,
    }
}

/// The components of `path` with `.` dropped and each `..` taking away the one before it;
/// `None` when a `..` would climb above the start.
fn normalized(path: &Path) -> Option<Vec<std::path::Component<'_>>> {
    use std::path::Component;
    let mut normal = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match normal.last() {
                Some(Component::Normal(_)) => {
                    normal.pop();
                }
                _ => return None,
            },
            c => normal.push(c),
        }
    }
    Some(normal)
}

/// The directory of the nearest Cargo.toml at or above `manifest_dir` that has a `[workspace]`
/// table: the workspace the crate builds in, as far as plan paths are concerned.
pub fn workspace_root(manifest_dir: &Path) -> Option<PathBuf> {
    manifest_dir.ancestors().find_map(|dir| {
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
        let table = toml::de::DeTable::parse(&text).ok()?;
        table
            .get_ref()
            .contains_key("workspace")
            .then(|| dir.to_path_buf())
    })
}

/// A `.toml` file in the same directory whose name is close to the missing one, as the user
/// would write its path.
fn similar_file(missing: &Path, written: &str) -> Option<String> {
    let name = missing.file_name()?.to_str()?;
    let names: Vec<String> = std::fs::read_dir(missing.parent()?)
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    let found = trackplan_model::suggest(name, names.iter().map(String::as_str))?;
    let prefix = &written[..written.len() - name.len().min(written.len())];
    Some(format!("{prefix}{found}"))
}

/// The crate's default plan, as a path relative to `manifest_dir`: `[package.metadata.trackplan]
/// plan` of its Cargo.toml, or else `[workspace.metadata.trackplan] plan` of its workspace's
/// (written relative to the workspace root, and returned relative to the crate).
pub fn default_plan(manifest_dir: &Path) -> Result<String, LoadError> {
    let path = manifest_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| LoadError::Manifest {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    match plan_from_manifest(&text, "package") {
        Ok(Some(plan)) => return Ok(plan),
        Ok(None) => {}
        Err(reason) => return Err(LoadError::Manifest { path, reason }),
    }
    let Some(root) = workspace_root(manifest_dir) else {
        return Err(LoadError::NoPlan);
    };
    let root_manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&root_manifest).map_err(|e| LoadError::Manifest {
        path: root_manifest.clone(),
        reason: e.to_string(),
    })?;
    let plan = plan_from_manifest(&text, "workspace")
        .map_err(|reason| LoadError::Manifest {
            path: root_manifest,
            reason,
        })?
        .ok_or(LoadError::NoPlan)?;
    Ok(relative_to(&root, manifest_dir, &plan))
}

/// `plan` (written relative to `root`) written relative to `dir`, a directory below `root`.
fn relative_to(root: &Path, dir: &Path, plan: &str) -> String {
    let depth = dir
        .strip_prefix(root)
        .map(|below| below.components().count())
        .unwrap_or(0);
    let mut out = "../".repeat(depth);
    out.push_str(plan);
    out
}

/// The plan path in a Cargo.toml's `[<table>.metadata.trackplan]` (`table` is `package` or
/// `workspace`), if it has one.
fn plan_from_manifest(text: &str, table: &str) -> Result<Option<String>, String> {
    let doc = toml::de::DeTable::parse(text).map_err(|e| e.to_string())?;
    let Some(trackplan) = doc
        .get_ref()
        .get(table)
        .and_then(|p| p.get_ref().as_table())
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get_ref().as_table())
        .and_then(|m| m.get("trackplan"))
    else {
        return Ok(None);
    };
    let Some(plan) = trackplan.get_ref().as_table().and_then(|t| t.get("plan")) else {
        return Ok(None);
    };
    plan.get_ref()
        .as_str()
        .map(|p| Some(p.to_owned()))
        .ok_or_else(|| format!("`[{table}.metadata.trackplan] plan` must be a string path"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_are_rejected() {
        let err = resolve(Path::new("/tmp"), "/etc/plan.toml").unwrap_err();
        assert!(matches!(err, LoadError::Absolute { .. }), "{err}");
        assert!(err.to_string().contains("CARGO_MANIFEST_DIR"));
    }

    #[test]
    fn missing_files_name_the_path_as_written() {
        let err = resolve(Path::new("/nonexistent-dir"), "plans/nope.toml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read plan file `plans/nope.toml`"),
            "{err}"
        );
    }

    #[test]
    fn missing_files_suggest_a_neighbour() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let err = resolve(&root, "plans/shopp.toml").unwrap_err();
        assert!(
            err.to_string().ends_with("did you mean `plans/shop.toml`?"),
            "{err}"
        );
    }

    #[test]
    fn manifest_metadata() {
        let text =
            "[package]\nname = \"x\"\n[package.metadata.trackplan]\nplan = \"plans/a.toml\"\n";
        assert_eq!(
            plan_from_manifest(text, "package").unwrap().as_deref(),
            Some("plans/a.toml")
        );
        assert_eq!(plan_from_manifest(text, "workspace").unwrap(), None);
        assert_eq!(
            plan_from_manifest("[package]\nname = \"x\"\n", "package").unwrap(),
            None
        );
        let wrong =
            plan_from_manifest("[package.metadata.trackplan]\nplan = 3\n", "package").unwrap_err();
        assert!(wrong.contains("must be a string"), "{wrong}");
    }

    /// A scratch directory tree, removed when dropped.
    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let dir = std::env::temp_dir().join(format!("trackplan-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Tree(dir)
        }

        fn file(&self, path: &str, text: &str) -> PathBuf {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn paths_that_climb_out_of_the_crate_are_refused_before_reading() {
        let tree = Tree::new("escape");
        tree.file("secret.toml", "[plan]\nname = \"hidden line\"\n");
        tree.file("app/Cargo.toml", "[package]\nname = \"app\"\n");
        let app = tree.0.join("app");
        for written in [
            "../secret.toml",
            "plans/../../secret.toml",
            "./../secret.toml",
        ] {
            let err = resolve(&app, written).unwrap_err();
            assert!(matches!(err, LoadError::Outside { .. }), "{written}: {err}");
            let text = err.to_string();
            assert!(
                text.contains("leads outside the crate's directory"),
                "{text}"
            );
            assert!(!text.contains("hidden line"), "{text}");
        }
        // Climbing out of a missing file's directory is refused the same way, not "not found".
        let err = resolve(&app, "../../../../etc/nothing-here.toml").unwrap_err();
        assert!(matches!(err, LoadError::Outside { .. }), "{err}");
        // Inside is fine, `..` included.
        tree.file("app/plans/p.toml", "");
        tree.file("app/src/lib.rs", "");
        assert!(resolve(&app, "src/../plans/p.toml").is_ok());
    }

    #[test]
    fn a_member_crate_may_use_a_plan_of_its_workspace_but_not_beyond() {
        let tree = Tree::new("workspace");
        tree.file("outside.toml", "");
        tree.file("ws/Cargo.toml", "[workspace]\nmembers = [\"crates/app\"]\n");
        tree.file("ws/plans/shop.toml", "");
        tree.file("ws/crates/app/Cargo.toml", "[package]\nname = \"app\"\n");
        let app = tree.0.join("ws/crates/app");
        let ok = resolve(&app, "../../plans/shop.toml").unwrap();
        assert!(ok.ends_with("ws/plans/shop.toml"), "{}", ok.display());
        let err = resolve(&app, "../../../outside.toml").unwrap_err();
        assert!(
            err.to_string()
                .contains("leads outside the crate's workspace"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_out_of_the_crate_is_refused() {
        let tree = Tree::new("symlink");
        tree.file("elsewhere/plan.toml", "");
        tree.file("app/Cargo.toml", "[package]\nname = \"app\"\n");
        std::os::unix::fs::symlink(tree.0.join("elsewhere"), tree.0.join("app/plans")).unwrap();
        let err = resolve(&tree.0.join("app"), "plans/plan.toml").unwrap_err();
        assert!(matches!(err, LoadError::Outside { .. }), "{err}");
    }

    #[test]
    fn only_toml_files_are_plans() {
        let err = resolve(Path::new("/tmp"), ".env").unwrap_err();
        assert!(matches!(err, LoadError::NotToml { .. }), "{err}");
        let err = resolve(Path::new("/tmp"), "src/main.rs").unwrap_err();
        assert!(err.to_string().contains("not name a `.toml` file"), "{err}");
    }

    #[test]
    fn the_default_plan_comes_from_the_package_or_else_the_workspace() {
        let tree = Tree::new("default");
        tree.file(
            "ws/Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\"]\n\n[workspace.metadata.trackplan]\nplan = \"plans/shop.toml\"\n",
        );
        tree.file("ws/crates/app/Cargo.toml", "[package]\nname = \"app\"\n");
        tree.file(
            "ws/crates/own/Cargo.toml",
            "[package]\nname = \"own\"\n[package.metadata.trackplan]\nplan = \"my.toml\"\n",
        );
        let ws = tree.0.join("ws");
        assert_eq!(
            default_plan(&ws.join("crates/app")).unwrap(),
            "../../plans/shop.toml"
        );
        assert_eq!(default_plan(&ws.join("crates/own")).unwrap(), "my.toml");
        let lone = Tree::new("default-lone");
        lone.file("Cargo.toml", "[package]\nname = \"x\"\n");
        let err = default_plan(&lone.0).unwrap_err();
        assert!(matches!(err, LoadError::NoPlan), "{err}");
    }
}
