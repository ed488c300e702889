//! Where plans come from: files, `git:REV[:PATH]`, or the default plan of the current crate.

use std::path::{Path, PathBuf};
use std::process::Command;
use trackplan_model::SourceFile;

/// Why a plan could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path as given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// `git` failed.
    #[error("cannot read {spec} from git: {message}")]
    Git {
        /// `git:REV:PATH`.
        spec: String,
        /// What git said.
        message: String,
    },
    /// No plan argument and no default.
    #[error(
        "no plan given and none found: pass a plan file, set `plan` in \
         [package.metadata.trackplan] of ./Cargo.toml or in [workspace.metadata.trackplan] of \
         the workspace's Cargo.toml, or create ./trackplan.toml"
    )]
    NoDefault,
    /// Both sides of a diff are `git:REV` without a path and there is no default plan.
    #[error("`{0}` names no file: write git:REV:PATH, or give the other side as a file")]
    NoPath(String),
}

/// A plan to read.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    /// A file.
    File(PathBuf),
    /// `git show REV:PATH`.
    Git {
        /// The revision.
        rev: String,
        /// The path, relative to the current directory (or absolute).
        path: PathBuf,
    },
}

/// The plan file to use when none is given: `[package.metadata.trackplan] plan` (or
/// `[workspace.metadata.trackplan] plan`) of ./Cargo.toml; else, in a member crate of a
/// workspace, `[workspace.metadata.trackplan] plan` of the workspace's Cargo.toml (resolved
/// against the workspace's directory, as the macros do); else ./trackplan.toml.
pub fn default_plan() -> Option<PathBuf> {
    default_plan_in(Path::new(""))
}

/// The default plan of the crate in `dir`, found as [`default_plan`] finds it for the current
/// directory; the path is joined to `dir`.
pub fn default_plan_in(dir: &Path) -> Option<PathBuf> {
    let plan_in = |dir: &Path, tables: &[&str]| -> (Option<String>, bool) {
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok();
        let Some(doc) = manifest.and_then(|t| t.parse::<toml_edit::DocumentMut>().ok()) else {
            return (None, false);
        };
        let plan = tables.iter().find_map(|table| {
            doc.get(table)
                .and_then(|t| t.get("metadata"))
                .and_then(|m| m.get("trackplan"))
                .and_then(|t| t.get("plan"))
                .and_then(|p| p.as_str())
                .map(str::to_owned)
        });
        (plan, doc.contains_key("workspace"))
    };
    let (plan, is_workspace) = plan_in(dir, &["package", "workspace"]);
    if let Some(plan) = plan {
        return Some(dir.join(plan));
    }
    let absolute = if dir.as_os_str().is_empty() {
        std::env::current_dir().ok()
    } else {
        std::path::absolute(dir).ok()
    };
    if !is_workspace && let Some(here) = absolute {
        // The nearest directory above with a `[workspace]` Cargo.toml, named relative to `dir`.
        let mut up = dir.to_path_buf();
        for above in here.ancestors().skip(1) {
            up.push("..");
            let (plan, is_workspace) = plan_in(above, &["workspace"]);
            if is_workspace {
                return plan.map(|p| up.join(p));
            }
        }
    }
    let fallback = dir.join("trackplan.toml");
    fallback.exists().then_some(fallback)
}

/// The given path, or the default plan.
pub fn default_or(plan: Option<PathBuf>) -> Result<PathBuf, LoadError> {
    plan.or_else(default_plan).ok_or(LoadError::NoDefault)
}

/// Reads a plan file; its display name is the path as given.
pub fn read_plan(path: &Path) -> Result<SourceFile, LoadError> {
    SourceFile::read(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Parses `git:REV[:PATH]` or a file path. `git:REV` without a path yields `None` for the path
/// (filled in by [`pair`]).
fn parse(arg: &str) -> (Option<String>, Option<PathBuf>) {
    match arg.strip_prefix("git:") {
        Some(rest) => match rest.split_once(':') {
            Some((rev, path)) if !path.is_empty() => (Some(rev.to_owned()), Some(path.into())),
            Some((rev, _)) => (Some(rev.to_owned()), None),
            None => (Some(rest.to_owned()), None),
        },
        None => (None, Some(arg.into())),
    }
}

/// The two sides of a diff. A `git:REV` side without a path takes the other side's path, or
/// the default plan.
pub fn pair(base: &str, head: &str) -> Result<(Spec, Spec), LoadError> {
    let (b, h) = (parse(base), parse(head));
    let fallback = b.1.clone().or_else(|| h.1.clone()).or_else(default_plan);
    let spec = |(rev, path): (Option<String>, Option<PathBuf>), arg: &str| {
        let path = path
            .or_else(|| fallback.clone())
            .ok_or_else(|| LoadError::NoPath(arg.to_owned()))?;
        Ok(match rev {
            Some(rev) => Spec::Git { rev, path },
            None => Spec::File(path),
        })
    };
    Ok((spec(b, base)?, spec(h, head)?))
}

/// Reads a plan from a file or from git.
pub fn read_spec(spec: &Spec) -> Result<SourceFile, LoadError> {
    match spec {
        Spec::File(path) => read_plan(path),
        Spec::Git { rev, path } => {
            let name = format!("git:{rev}:{}", path.display());
            let object = if path.is_absolute() {
                let top = git(&["rev-parse", "--show-toplevel"], &name)?;
                let rel = path.strip_prefix(top.trim()).map_err(|_| LoadError::Git {
                    spec: name.clone(),
                    message: format!("{} is outside the repository", path.display()),
                })?;
                format!("{rev}:{}", rel.display())
            } else {
                // `./` makes git resolve the path from the current directory, like a file
                // argument, instead of from the repository root.
                format!("{rev}:./{}", path.display())
            };
            let text = git(&["show", &object], &name)?;
            Ok(SourceFile::new(name, text))
        }
    }
}

fn git(args: &[&str], spec: &str) -> Result<String, LoadError> {
    let out = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| LoadError::Git {
            spec: spec.to_owned(),
            message: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        return Err(LoadError::Git {
            spec: spec.to_owned(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    String::from_utf8(out.stdout).map_err(|_| LoadError::Git {
        spec: spec.to_owned(),
        message: "the file is not UTF-8".to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_specs() {
        assert_eq!(parse("plans/a.toml"), (None, Some("plans/a.toml".into())));
        assert_eq!(parse("git:main"), (Some("main".into()), None));
        assert_eq!(parse("git:main:"), (Some("main".into()), None));
        assert_eq!(
            parse("git:HEAD~1:plans/a.toml"),
            (Some("HEAD~1".into()), Some("plans/a.toml".into()))
        );
        let (b, h) = pair("git:origin/main", "plans/a.toml").unwrap();
        assert_eq!(
            b,
            Spec::Git {
                rev: "origin/main".into(),
                path: "plans/a.toml".into()
            }
        );
        assert_eq!(h, Spec::File("plans/a.toml".into()));
    }
}
