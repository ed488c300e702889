//! The trackplan plan format.
//!
//! A tracking plan is one TOML file that declares every analytics event, every property, why it
//! is collected (purpose), how sensitive it is and where it may go. This crate turns that file
//! into a resolved, validated [`Plan`], or into a list of [`Diagnostic`]s that name
//! `file:line:column` and suggest a fix. It is plain data plus pure functions: it never prints
//! and never panics on user input. The macros and the CLI render the same diagnostics.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod diagnostic;
pub mod diff;
mod plan;
mod source;

pub use diagnostic::{Diagnostic, Label, Severity};
pub use plan::*;
pub use source::{SourceFile, Span, Spanned};
