//! Rust types of plan properties.
//!
//! One rule, used twice: `plan!` writes it as the field type, and `#[derive(Event)]` passes it
//! to the runtime's `Fits<C, …>` bound as the canonical type `C` a user's field must fit. A
//! property of plan type `t` becomes:
//!
//! | plan | Rust |
//! |---|---|
//! | `string`, `integer`, `number`, `boolean`, `timestamp` | `String`, `i64`, `f64`, `bool`, `trackplan::Timestamp` |
//! | `enum` | the generated enum (derive: `Enum<hash of the property key>`) |
//! | `personal` / `special` sensitivity | `trackplan::Personal<T>` / `trackplan::Special<T>` |
//! | `list` of `t` | `Vec<T>`, the sensitivity wrapper on each item |
//! | `required = false` | `Option<…>` around all of it |

use proc_macro2::TokenStream;
use quote::quote;
use trackplan_model::{Property, PropertyType, Sensitivity};

/// What an enum property's scalar type is.
pub(crate) enum EnumType<'a> {
    /// A concrete type (`plan!`: the generated enum).
    Named(&'a proc_macro2::Ident),
    /// The runtime's `Enum<H>` marker (derive checks).
    Hashed(u64),
}

/// How generated code names `Option`, `String` and `Vec`.
#[derive(Clone, Copy)]
pub(crate) enum Std {
    /// By their prelude names: readable, and safe when nothing generated shadows them.
    Prelude,
    /// By absolute paths: when the plan has an event named `option`, `string` or `vec` (whose
    /// structs would shadow the prelude), and in derive output, which lands in user scopes.
    Absolute,
}

impl Std {
    /// The prelude names unless one of `generated` (type names in the same module) shadows
    /// them.
    pub(crate) fn for_module<'a>(mut generated: impl Iterator<Item = &'a str>) -> Std {
        if generated.any(|n| matches!(n, "Option" | "String" | "Vec")) {
            Std::Absolute
        } else {
            Std::Prelude
        }
    }
}

/// The Rust type of `property`.
pub(crate) fn rust_type(
    property: &Property,
    enum_ty: Option<EnumType<'_>>,
    std: Std,
) -> TokenStream {
    let ty = match &property.ty.value {
        PropertyType::List { items } => {
            let item = wrapped(property.sensitivity.value, scalar(items, enum_ty, std));
            match std {
                Std::Prelude => quote!(Vec<#item>),
                Std::Absolute => quote!(::std::vec::Vec<#item>),
            }
        }
        other => wrapped(property.sensitivity.value, scalar(other, enum_ty, std)),
    };
    match (property.required.value, std) {
        (true, _) => ty,
        (false, Std::Prelude) => quote!(Option<#ty>),
        (false, Std::Absolute) => quote!(::std::option::Option<#ty>),
    }
}

fn wrapped(sensitivity: Sensitivity, ty: TokenStream) -> TokenStream {
    match sensitivity {
        Sensitivity::Public | Sensitivity::Internal => ty,
        Sensitivity::Personal => quote!(::trackplan::Personal<#ty>),
        Sensitivity::Special => quote!(::trackplan::Special<#ty>),
    }
}

fn scalar(ty: &PropertyType, enum_ty: Option<EnumType<'_>>, std: Std) -> TokenStream {
    match ty {
        PropertyType::String => match std {
            Std::Prelude => quote!(String),
            Std::Absolute => quote!(::std::string::String),
        },
        PropertyType::Integer => quote!(i64),
        PropertyType::Number => quote!(f64),
        PropertyType::Boolean => quote!(bool),
        PropertyType::Timestamp => quote!(::trackplan::Timestamp),
        PropertyType::Enum { .. } => match enum_ty {
            Some(EnumType::Named(ident)) => quote!(#ident),
            Some(EnumType::Hashed(h)) => {
                let h = proc_macro2::Literal::u64_unsuffixed(h);
                quote!(::trackplan::__private::Enum<#h>)
            }
            // Callers always pass the enum of an enum property; `()` keeps the output valid
            // (and visibly wrong) should one not.
            None => quote!(()),
        },
        // The plan format has no lists of lists; the model rejects them. Same fallback.
        PropertyType::List { .. } => quote!(()),
    }
}

/// The runtime `ValueKind` of a plan type (`ValueKind` is imported where this is used).
pub(crate) fn value_kind(ty: &PropertyType) -> TokenStream {
    match ty {
        PropertyType::String => quote!(ValueKind::String),
        PropertyType::Integer => quote!(ValueKind::Integer),
        PropertyType::Number => quote!(ValueKind::Number),
        PropertyType::Boolean => quote!(ValueKind::Boolean),
        PropertyType::Timestamp => quote!(ValueKind::Timestamp),
        PropertyType::Enum { .. } => quote!(ValueKind::Enum),
        PropertyType::List { items } => {
            let item = value_kind(items);
            quote!(ValueKind::List { item: &#item })
        }
    }
}

/// How the plan type reads in docs: `string`, `list of enum`.
pub(crate) fn describe(ty: &PropertyType) -> String {
    match ty {
        PropertyType::List { items } => format!("list of {}", describe(items)),
        other => other.key().to_owned(),
    }
}
