//! `check`: parse + validate, the one call the macros and the CLI make.

use sha2::{Digest, Sha256};

use crate::diagnostic::{Diagnostic, Severity};
use crate::parse::parse_incomplete;
use crate::plan::Plan;
use crate::source::SourceFile;
use crate::validate::validate_parsed;

/// The outcome of [`check`]: the plan when it is valid, and every diagnostic.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The validated plan; `Some` only when no diagnostic is an error (warnings allowed).
    pub plan: Option<Plan>,
    /// Every error and warning, ordered by position in the file.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
    }

    /// Every diagnostic rendered (see [`Diagnostic::render`]), separated by blank lines.
    pub fn render(&self, src: &SourceFile) -> String {
        self.diagnostics
            .iter()
            .map(|d| d.render(src))
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// Parses and validates a plan file, reporting every problem at once.
///
/// ```
/// use trackplan_model::{check, SourceFile};
/// let src = SourceFile::new("p.toml", "[plan]\nnmae = \"x\"\nversion = \"1\"\n");
/// let checked = check(&src);
/// assert!(checked.plan.is_none());
/// // Both problems at once, top to bottom.
/// let codes: Vec<_> = checked.diagnostics.iter().map(|d| d.code).collect();
/// assert_eq!(codes, ["unknown-key", "wrong-kind"]);
/// let typo = &checked.diagnostics[0];
/// assert_eq!(typo.location(&src), "p.toml:2:1");
/// assert_eq!(typo.help.as_deref(), Some("did you mean `name`?"));
/// ```
pub fn check(src: &SourceFile) -> Checked {
    check_recovering(src).0
}

/// [`check`], and for a plan with errors also what parsing could recover of it (the items
/// with errors left out, as [`parse`](crate::parse) gives it): the plan the macros build stub
/// items from. One parse instead of two, which halves the work on a plan with errors.
///
/// ```
/// use trackplan_model::{check_recovering, SourceFile};
/// let src = SourceFile::new("p.toml", "[plan]\nname = \"p\"\nversion = 1\n[events.e]\npurposes = [\"nope\"]\n");
/// let (checked, recovered) = check_recovering(&src);
/// assert!(checked.has_errors() && checked.plan.is_none());
/// assert_eq!(recovered.unwrap().events[0].id.value, "e");
/// ```
pub fn check_recovering(src: &SourceFile) -> (Checked, Option<Plan>) {
    let (plan, incomplete, mut diagnostics) = parse_incomplete(src);
    if let Some(plan) = &plan {
        diagnostics.extend(validate_parsed(plan, &incomplete));
    }
    // Top to bottom, like a reader goes through the file; diagnostics without a place first.
    diagnostics.sort_by_key(|d| d.span.map_or(0, |s| s.start));
    let has_errors = diagnostics.iter().any(Diagnostic::is_error);
    let (valid, recovered) = if has_errors {
        (None, plan)
    } else {
        (plan, None)
    };
    (
        Checked {
            plan: valid,
            diagnostics,
        },
        recovered,
    )
}

/// The SHA-256 of a plan file's text, lower-case hex (`PlanInfo::hash`): changes whenever a
/// byte of the plan changes.
///
/// ```
/// assert_eq!(
///     trackplan_model::content_hash(""),
///     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/// );
/// ```
pub fn content_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop() -> SourceFile {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../plans/shop.toml");
        SourceFile::read(path).expect("plans/shop.toml is part of the repository")
    }

    #[test]
    fn shop_plan_checks_without_errors_or_warnings() {
        let src = shop();
        let checked = check(&src);
        assert!(checked.diagnostics.is_empty(), "{}", checked.render(&src));
        let plan = checked.plan.expect("valid plan");
        assert_eq!(plan.name.value, "shop");
        assert_eq!(plan.version.value, 3);
        assert_eq!(plan.events.len(), 9);
        assert_eq!(plan.purposes.len(), 4);
        assert_eq!(plan.destinations.len(), 5);
    }

    #[test]
    fn every_error_is_reported_at_once_in_file_order() {
        let src = SourceFile::new(
            "p.toml",
            "[plan]\nname = \"p\"\nversion = 1\n\n[purposes.a]\ndescription = \"A\"\nbasis = \"consnt\"\ndata_use = \"analytics.reportin\"\n\n[events.e]\npurposes = [\"b\"]\nnmae = \"E\"\n",
        );
        let checked = check(&src);
        assert!(checked.has_errors());
        assert!(checked.plan.is_none());
        let found: Vec<(&str, String)> = checked
            .diagnostics
            .iter()
            .map(|d| (d.code, d.location(&src)))
            .collect();
        assert_eq!(
            found,
            [
                ("invalid-value", "p.toml:7:9".to_owned()),
                ("unknown-data-use", "p.toml:8:12".to_owned()),
                ("unknown-purpose", "p.toml:11:13".to_owned()),
                ("unknown-key", "p.toml:12:1".to_owned()),
            ]
        );
    }

    #[test]
    fn warnings_keep_the_plan() {
        let src = SourceFile::new(
            "p.toml",
            "[plan]\nname = \"p\"\nversion = 1\n[purposes.a]\ndescription = \"A\"\nbasis = \"consent\"\ndata_use = \"personalize.profiling\"\n",
        );
        let checked = check(&src);
        assert!(!checked.has_errors());
        assert_eq!(checked.warnings().count(), 1);
        assert!(checked.plan.is_some());
    }

    #[test]
    fn content_hash_is_sha256_hex() {
        assert_eq!(
            content_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(content_hash("a"), content_hash("b"));
    }
}
