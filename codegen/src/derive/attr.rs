//! `#[trackplan(…)]` attributes of the derives.

use proc_macro2::Span;
use syn::spanned::Spanned as _;
use syn::{Attribute, Ident, LitStr};

/// Attributes on a `#[derive(Event)]` struct or `#[derive(Values)]` enum.
#[derive(Default)]
pub(crate) struct ContainerAttrs {
    /// `event = "…"`.
    pub event: Option<LitStr>,
    /// `property = "…"`.
    pub property: Option<LitStr>,
    /// `plan = "…"`.
    pub plan: Option<LitStr>,
    /// `purposes(a, b)`, with the span of the whole `purposes(…)`.
    pub purposes: Option<(Vec<Ident>, Span)>,
}

/// Collects every error instead of stopping at the first, like serde's `Ctxt`.
#[derive(Default)]
pub(crate) struct Errors {
    errors: Option<syn::Error>,
}

impl Errors {
    /// Records an error.
    pub(crate) fn push(&mut self, e: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(e),
            None => self.errors = Some(e),
        }
    }

    /// The value of `result`, or `None` with its error recorded.
    pub(crate) fn ok<T>(&mut self, result: Result<T, syn::Error>) -> Option<T> {
        result.map_err(|e| self.push(e)).ok()
    }

    /// Records an error with `message` at `span`.
    pub(crate) fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Whether any error was recorded.
    pub(crate) fn any(&self) -> bool {
        self.errors.is_some()
    }

    /// The `compile_error!`s of everything recorded.
    pub(crate) fn into_tokens(self) -> proc_macro2::TokenStream {
        self.errors
            .map(|e| e.to_compile_error())
            .unwrap_or_default()
    }
}

/// Which keys a container attribute accepts.
#[derive(Clone, Copy)]
pub(crate) enum Container {
    /// `#[derive(Event)]`: `event`, `plan`, `purposes(…)`.
    Event,
    /// `#[derive(Values)]`: `property`, `plan`.
    Values,
}

/// Parses the `#[trackplan(…)]` attributes of a struct or enum.
pub(crate) fn container(
    attrs: &[Attribute],
    kind: Container,
    errors: &mut Errors,
) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("trackplan")) {
        let result = attr.parse_nested_meta(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(ToString::to_string)
                .unwrap_or_default();
            match (kind, key.as_str()) {
                (_, "plan") => set(
                    &mut out.plan,
                    meta.value()?.parse()?,
                    meta.path.span(),
                    errors,
                ),
                (Container::Event, "event") => set(
                    &mut out.event,
                    meta.value()?.parse()?,
                    meta.path.span(),
                    errors,
                ),
                (Container::Values, "property") => set(
                    &mut out.property,
                    meta.value()?.parse()?,
                    meta.path.span(),
                    errors,
                ),
                (Container::Event, "purposes") => {
                    let mut ids = Vec::new();
                    meta.parse_nested_meta(|inner| {
                        match inner.path.get_ident() {
                            Some(id) => ids.push(id.clone()),
                            None => errors.at(
                                inner.path.span(),
                                "expected a purpose id, e.g. `purposes(product_analytics)`",
                            ),
                        }
                        Ok(())
                    })?;
                    let span = meta.path.span();
                    if out.purposes.is_some() {
                        errors.at(span, "`purposes(…)` is given twice");
                    }
                    out.purposes = Some((ids, span));
                    Ok(())
                }
                _ => {
                    let expected = match kind {
                        Container::Event => "`event = \"…\"`, `purposes(…)` or `plan = \"…\"`",
                        Container::Values => "`property = \"…\"` or `plan = \"…\"`",
                    };
                    Err(meta.error(format!("unknown trackplan attribute; expected {expected}")))
                }
            }
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    out
}

/// Parses `#[trackplan(rename = "…")]` on a field or variant.
pub(crate) fn rename(attrs: &[Attribute], errors: &mut Errors) -> Option<LitStr> {
    let mut out = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("trackplan")) {
        let result = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                set(&mut out, meta.value()?.parse()?, meta.path.span(), errors)
            } else {
                Err(meta.error("unknown trackplan attribute; expected `rename = \"…\"`"))
            }
        });
        if let Err(e) = result {
            errors.push(e);
        }
    }
    out
}

fn set<T>(slot: &mut Option<T>, value: T, span: Span, errors: &mut Errors) -> syn::Result<()> {
    if slot.is_some() {
        errors.at(span, "this trackplan attribute is given twice");
    }
    *slot = Some(value);
    Ok(())
}
