//! Proc macros of trackplan: `plan!`, `#[derive(Event)]` and `#[derive(Values)]`.
//!
//! Use them through the `trackplan` crate, which documents them. This crate is the thin entry
//! layer: it resolves paths, caches parsed plans and hands everything else to
//! `trackplan-codegen`, where the code generation lives as plain, tested functions.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;

use std::str::FromStr as _;

use proc_macro::TokenStream;

/// Generates the typed API of a tracking plan (documented on the `trackplan` re-export).
#[proc_macro]
pub fn plan(input: TokenStream) -> TokenStream {
    let lit = match syn::parse::<syn::LitStr>(input) {
        Ok(lit) => lit,
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(trackplan_codegen::stub_items());
            return out.into();
        }
    };
    let loaded = match cache::load(&lit.value()) {
        Ok(loaded) => loaded,
        Err(e) => return trackplan_codegen::expand_load_error(&e, lit.span()).into(),
    };
    let expansion = trackplan_codegen::plan_expansion(&loaded, lit.span());
    let mut out = TokenStream::from(expansion.diagnostics);
    // The compiler's own lexer, once: `proc_macro2`'s `from_str` would first lex the whole
    // text again with its fallback lexer to check it.
    match TokenStream::from_str(&expansion.items) {
        Ok(items) => out.extend(items),
        Err(e) => out.extend(TokenStream::from(trackplan_codegen::unlexable(
            &e,
            lit.span(),
        ))),
    }
    out
}

/// Implements `trackplan::Event` for a struct, checked against the plan (documented on the
/// `trackplan` re-export).
#[proc_macro_derive(Event, attributes(trackplan))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => trackplan_codegen::derive_event(&input, &cache::CachedLoader).into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Implements `trackplan::Values` for an enum, checked against the plan (documented on the
/// `trackplan` re-export).
#[proc_macro_derive(Values, attributes(trackplan))]
pub fn derive_values(input: TokenStream) -> TokenStream {
    match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => trackplan_codegen::derive_values(&input, &cache::CachedLoader).into(),
        Err(e) => e.to_compile_error().into(),
    }
}
