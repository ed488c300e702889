//! `#[derive(Values)]`.

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use syn::{Data, DeriveInput, Fields};
use trackplan_model::naming::{enum_values, variant_name};
use trackplan_model::{Plan, Property, Spanned, suggest};

use super::attr::{self, Container, Errors};
use super::{Loader, plan_for, rebuild_on_change};
use crate::event::location;
use crate::values::key_hash;

/// The expansion of `#[derive(Values)]` on `input`: the `Values` impl binding the enum to a
/// plan property, or every error found plus a stand-in impl.
pub fn derive_values(input: &DeriveInput, loader: &dyn Loader) -> TokenStream {
    let mut errors = Errors::default();
    let attrs = attr::container(&input.attrs, Container::Values, &mut errors);
    let ident = &input.ident;

    let Data::Enum(data) = &input.data else {
        errors.at(
            ident.span(),
            "`#[derive(trackplan::Values)]` works on enums whose variants are the values of an enum property",
        );
        return fail(input, errors);
    };
    if !input.generics.params.is_empty() {
        errors.at(ident.span(), "a plan enum cannot have generic parameters");
    }
    let Some(property_lit) = &attrs.property else {
        errors.at(
            ident.span(),
            format!("which plan property are the values of `{ident}`? Add `#[trackplan(property = \"…\")]` (a shared property id, or `event.property` for one declared on an event)"),
        );
        return fail(input, errors);
    };
    let Some(loaded) = errors.ok(plan_for(loader, attrs.plan.as_ref(), property_lit.span())) else {
        return fail(input, errors);
    };
    // `plan_for` only returns valid plans, which always have a `Plan`.
    let Some(plan) = &loaded.plan else {
        return fail(input, errors);
    };
    let src = &loaded.source;

    let key = property_lit.value();
    let candidates = enum_properties(plan);
    let Some((_, property)) = candidates.iter().find(|(k, _)| *k == key) else {
        let mut message = format!("the plan `{}` has no enum property `{key}`", src.name);
        match suggest(&key, candidates.iter().map(|(k, _)| k.as_str())) {
            Some(s) => message.push_str(&format!("\n  = help: did you mean `{s}`?")),
            None => message.push_str(&format!(
                "\n  = help: its enum properties are {}",
                super::event::list(candidates.iter().map(|(k, _)| k.as_str()))
            )),
        }
        message.push_str("\n  = note: shared properties are named by id (`plan_tier`), properties declared on an event by `event.property` (`login_failed.reason`)");
        errors.at(property_lit.span(), message);
        return fail(input, errors);
    };
    let values = enum_values(&property.ty.value).unwrap_or(&[]);
    let at = location(src, property.id.span.start);

    let mut matched: Vec<Option<&Ident>> = vec![None; values.len()];
    let mut variants: Vec<(Ident, &Spanned<String>)> = Vec::new();
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            errors.at(
                variant.ident.span(),
                format!(
                    "variant `{}` has fields; plan values are plain names",
                    variant.ident
                ),
            );
            continue;
        }
        let rename = attr::rename(&variant.attrs, &mut errors);
        let found = match &rename {
            Some(lit) => values.iter().position(|v| v.value == lit.value()),
            None => {
                let name = variant.ident.to_string();
                values
                    .iter()
                    .enumerate()
                    .position(|(i, v)| variant_name(v, i + 1) == name)
            }
        };
        let Some(i) = found else {
            let (what, span) = match &rename {
                Some(lit) => (
                    format!("`rename = {}`", crate::doc::json(&lit.value())),
                    lit.span(),
                ),
                None => (format!("variant `{}`", variant.ident), variant.ident.span()),
            };
            let mut message = format!(
                "{what} matches no value of property `{key}` ({at})\n  = note: its values are {}",
                values_list(values)
            );
            let names: Vec<String> = values
                .iter()
                .enumerate()
                .map(|(i, v)| variant_name(v, i + 1))
                .collect();
            let word = rename
                .as_ref()
                .map_or_else(|| variant.ident.to_string(), |l| l.value());
            let pool: Vec<&str> = match &rename {
                Some(_) => values.iter().map(|v| v.value.as_str()).collect(),
                None => names.iter().map(String::as_str).collect(),
            };
            if let Some(s) = suggest(&word, pool) {
                message.push_str(&format!("\n  = help: did you mean `{s}`?"));
            }
            errors.at(span, message);
            continue;
        };
        if let Some(first) = matched[i] {
            errors.at(
                variant.ident.span(),
                format!(
                    "value {} of property `{key}` is already the variant `{first}`",
                    crate::doc::json(&values[i].value)
                ),
            );
            continue;
        }
        matched[i] = Some(&variant.ident);
        variants.push((variant.ident.clone(), &values[i]));
    }
    for (i, value) in values.iter().enumerate() {
        if matched[i].is_none() {
            errors.at(
                ident.span(),
                format!(
                    "`{ident}` has no variant for value {} of property `{key}` ({})\n  = help: add the variant `{}`, or map one with `#[trackplan(rename = {})]`",
                    crate::doc::json(&value.value),
                    location(src, value.span.start),
                    variant_name(value, i + 1),
                    crate::doc::json(&value.value),
                ),
            );
        }
    }
    if errors.any() {
        return fail(input, errors);
    }
    let impls = values_impl(ident, &key, &variants);
    let rebuild = rebuild_on_change(&loaded);
    quote! {
        #impls
        #rebuild
    }
}

/// `Sealed`, `Values` and `ValuesOf` for the user's enum bound to the property `key` (shared
/// id, or `event.property` for an inline one): `plan!` writes the same impls for its enums
/// (`crate::values::enum_type`), as text.
fn values_impl(ident: &Ident, key: &str, variants: &[(Ident, &Spanned<String>)]) -> TokenStream {
    let arms = variants.iter().map(|(v, value)| {
        let value = &value.value;
        quote!(#ident::#v => #value,)
    });
    let hash = proc_macro2::Literal::u64_unsuffixed(key_hash(key));
    quote! {
        #[doc(hidden)]
        impl ::trackplan::__private::Sealed for #ident {}

        impl ::trackplan::__private::Values for #ident {
            const PROPERTY: &'static str = #key;

            #[inline]
            fn wire(&self) -> &'static str {
                match *self {
                    #(#arms)*
                }
            }
        }

        #[doc(hidden)]
        impl ::trackplan::__private::ValuesOf<#hash> for #ident {}
    }
}

/// Every enum (or list-of-enum) property by the key `Values` binds to: shared ones by id,
/// inline ones as `event.property`.
fn enum_properties(plan: &Plan) -> Vec<(String, &Property)> {
    let mut out: Vec<(String, &Property)> = plan
        .properties
        .iter()
        .filter(|p| enum_values(&p.ty.value).is_some())
        .map(|p| (p.id.value.clone(), p))
        .collect();
    for e in &plan.events {
        for p in &e.properties {
            if p.shared.is_none() && enum_values(&p.ty.value).is_some() {
                out.push((format!("{}.{}", e.id.value, p.id.value), p));
            }
        }
    }
    out
}

fn values_list(values: &[Spanned<String>]) -> String {
    let shown: Vec<String> = values.iter().map(|v| crate::doc::json(&v.value)).collect();
    shown.join(", ")
}

/// Errors, plus a stand-in `Values` impl so the type stays usable.
fn fail(input: &DeriveInput, errors: Errors) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let errors = errors.into_tokens();
    let stub = if matches!(input.data, Data::Enum(_)) && input.generics.params.is_empty() {
        quote! {
            impl #impl_generics ::trackplan::__private::Sealed for #ident #ty_generics #where_clause {}
            impl #impl_generics ::trackplan::__private::Values for #ident #ty_generics #where_clause {
                const PROPERTY: &'static str = "";
                fn wire(&self) -> &'static str {
                    ""
                }
            }
            impl<const H: u64> ::trackplan::__private::ValuesOf<H> for #ident {}
        }
    } else {
        TokenStream::new()
    };
    quote! {
        #errors
        #stub
    }
}
