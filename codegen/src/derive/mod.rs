//! `#[derive(Event)]` and `#[derive(Values)]`: checks of a user's own types against the plan.
//!
//! Like serde_derive, each derive is a pipeline: parse the attributes, check everything against
//! the plan collecting *every* error (each at the span of the offending field, variant or
//! attribute, naming the plan file with line and column), then generate. Field *types* are
//! checked by the compiler through the runtime's `Fits` bounds, so aliases and imports work.

pub(crate) mod attr;
mod event;
mod values;

use std::path::Path;
use std::sync::Arc;

use proc_macro2::Span;
use syn::LitStr;

use crate::load::{self, LoadError, LoadedPlan};

pub use event::derive_event;
pub use values::derive_values;

/// How a derive finds plans: the macros crate caches them per process; tests read files.
pub trait Loader {
    /// The plan at `written`, relative to the calling crate's directory.
    fn load(&self, written: &str) -> Result<Arc<LoadedPlan>, LoadError>;

    /// `[package.metadata.trackplan] plan` of the calling crate.
    fn default_plan(&self) -> Result<String, LoadError>;
}

/// A [`Loader`] that reads files on every call, relative to `manifest_dir`.
pub struct FileLoader<'a> {
    /// The calling crate's directory.
    pub manifest_dir: &'a Path,
}

impl Loader for FileLoader<'_> {
    fn load(&self, written: &str) -> Result<Arc<LoadedPlan>, LoadError> {
        let path = load::resolve(self.manifest_dir, written)?;
        LoadedPlan::read(path, written).map(Arc::new)
    }

    fn default_plan(&self) -> Result<String, LoadError> {
        load::default_plan(self.manifest_dir)
    }
}

/// The plan named by `plan = "…"`, or the crate's default; errors at the attribute (or at
/// `fallback` when the plan comes from Cargo.toml).
fn plan_for(
    loader: &dyn Loader,
    plan: Option<&LitStr>,
    fallback: Span,
) -> Result<Arc<LoadedPlan>, syn::Error> {
    let (written, span) = match plan {
        Some(lit) => (lit.value(), lit.span()),
        None => (
            loader
                .default_plan()
                .map_err(|e| syn::Error::new(fallback, e))?,
            fallback,
        ),
    };
    let loaded = loader
        .load(&written)
        .map_err(|e| syn::Error::new(span, e))?;
    if !loaded.is_valid() {
        let count = loaded.diagnostics.iter().filter(|d| d.is_error()).count();
        let mut text = format!(
            "the plan `{}` has {count} error{}; fix the plan first (`trackplan check {}` shows the same)",
            loaded.source.name,
            if count == 1 { "" } else { "s" },
            loaded.source.name,
        );
        for d in loaded.diagnostics.iter().filter(|d| d.is_error()) {
            text.push_str("\n\n");
            text.push_str(&crate::expand::render(d, &loaded.source));
        }
        return Err(syn::Error::new(span, text));
    }
    Ok(loaded)
}

/// `include_bytes!` of the plan so cargo rebuilds the crate when it changes.
fn rebuild_on_change(loaded: &LoadedPlan) -> proc_macro2::TokenStream {
    match loaded.path.to_str() {
        Some(path) => quote::quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
        ),
        None => proc_macro2::TokenStream::new(),
    }
}
