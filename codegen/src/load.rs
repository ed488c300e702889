//! Finding, reading and checking the plan file a macro names.
//!
//! Paths are relative to the calling crate's directory (`CARGO_MANIFEST_DIR`), like sqlx's
//! migrations: the same source compiles the same way wherever the workspace is checked out.
//! Absolute paths are rejected for that reason.

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
        "no plan file given: write `#[trackplan(plan = \"plans/….toml\")]`, or set it once for the crate in Cargo.toml:\n\n    [package.metadata.trackplan]\n    plan = \"plans/….toml\""
    )]
    NoPlan,
    /// The crate's Cargo.toml could not be read or has a malformed `[package.metadata.trackplan]`.
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

/// The absolute, canonical path of plan `written` relative to `manifest_dir`.
pub fn resolve(manifest_dir: &Path, written: &str) -> Result<PathBuf, LoadError> {
    let relative = Path::new(written);
    if relative.is_absolute() || relative.has_root() {
        return Err(LoadError::Absolute {
            written: written.to_owned(),
        });
    }
    let joined = manifest_dir.join(relative);
    joined.canonicalize().map_err(|source| LoadError::Read {
        written: written.to_owned(),
        suggestion: similar_file(&joined, written),
        path: joined,
        source,
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

/// `[package.metadata.trackplan] plan` of the crate at `manifest_dir`.
pub fn default_plan(manifest_dir: &Path) -> Result<String, LoadError> {
    let path = manifest_dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| LoadError::Manifest {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    plan_from_manifest(&text).map_err(|reason| LoadError::Manifest { path, reason })
}

/// The plan path in a Cargo.toml's text.
fn plan_from_manifest(text: &str) -> Result<String, String> {
    let table = toml::de::DeTable::parse(text).map_err(|e| e.to_string())?;
    let Some(trackplan) = table
        .get_ref()
        .get("package")
        .and_then(|p| p.get_ref().as_table())
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get_ref().as_table())
        .and_then(|m| m.get("trackplan"))
    else {
        return Err(LoadError::NoPlan.to_string());
    };
    let plan = trackplan
        .get_ref()
        .as_table()
        .and_then(|t| t.get("plan"))
        .ok_or_else(|| LoadError::NoPlan.to_string())?;
    plan.get_ref()
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| "`[package.metadata.trackplan] plan` must be a string path".to_owned())
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
        assert_eq!(plan_from_manifest(text).unwrap(), "plans/a.toml");
        let none = plan_from_manifest("[package]\nname = \"x\"\n").unwrap_err();
        assert!(none.contains("[package.metadata.trackplan]"), "{none}");
        let wrong = plan_from_manifest("[package.metadata.trackplan]\nplan = 3\n").unwrap_err();
        assert!(wrong.contains("must be a string"), "{wrong}");
    }
}
