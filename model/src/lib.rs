//! The trackplan plan format.
//!
//! A tracking plan is one TOML file that declares every analytics event, every property, why it
//! is collected (purpose), how sensitive it is and where it may go. This crate turns that file
//! into a resolved, validated [`Plan`], or into a list of [`Diagnostic`]s that name
//! `file:line:column` and suggest a fix. It is plain data plus pure functions: it never prints
//! and never panics on user input. The macros and the CLI render the same diagnostics.
//!
//! ```
//! use trackplan_model::{check, SourceFile};
//!
//! let src = SourceFile::new("plans/tiny.toml", r#"
//! [plan]
//! name = "tiny"
//! version = 1
//!
//! [purposes.product_analytics]
//! description = "See which features are used."
//! basis = "consent"
//! data_use = "analytics.reporting"
//!
//! [events.app_opened]
//! purposes = ["product_analytics"]
//! "#);
//! let checked = check(&src);
//! assert!(!checked.has_errors());
//! assert_eq!(checked.plan.unwrap().events[0].id.value, "app_opened");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod baseline;
mod check;
mod diagnostic;
pub mod diff;
#[cfg(test)]
mod fixture;
pub mod format;
pub mod naming;
mod parse;
mod plan;
mod source;
mod suggestion;
pub mod taxonomy;
mod validate;

pub use check::{Checked, check, check_recovering, content_hash};
pub use diagnostic::{Diagnostic, Label, Severity};
pub use format::plan_schema;
pub use parse::parse;
pub use plan::*;
pub use source::{SourceFile, Span, Spanned};
pub use suggestion::suggest;
pub use taxonomy::Taxonomy;
pub use validate::{rule_matches, validate};
