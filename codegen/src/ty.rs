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

use std::fmt;

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

/// The Rust type of `property`, as source text.
pub(crate) fn rust_type<'a>(
    property: &'a Property,
    enum_ty: Option<EnumType<'a>>,
    std: Std,
) -> RustType<'a> {
    RustType {
        property,
        enum_ty,
        std,
    }
}

/// A property's Rust type (see [`rust_type`]).
pub(crate) struct RustType<'a> {
    property: &'a Property,
    enum_ty: Option<EnumType<'a>>,
    std: Std,
}

impl fmt::Display for RustType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let RustType {
            property,
            enum_ty,
            std,
        } = self;
        let optional = !property.required.value;
        if optional {
            f.write_str(match std {
                Std::Prelude => "Option<",
                Std::Absolute => "::std::option::Option<",
            })?;
        }
        match &property.ty.value {
            PropertyType::List { items } => {
                f.write_str(match std {
                    Std::Prelude => "Vec<",
                    Std::Absolute => "::std::vec::Vec<",
                })?;
                wrapped(f, property.sensitivity.value, items, enum_ty, *std)?;
                f.write_str(">")?;
            }
            other => wrapped(f, property.sensitivity.value, other, enum_ty, *std)?,
        }
        if optional {
            f.write_str(">")?;
        }
        Ok(())
    }
}

fn wrapped(
    f: &mut fmt::Formatter<'_>,
    sensitivity: Sensitivity,
    ty: &PropertyType,
    enum_ty: &Option<EnumType<'_>>,
    std: Std,
) -> fmt::Result {
    let wrapper = match sensitivity {
        Sensitivity::Public | Sensitivity::Internal => None,
        Sensitivity::Personal => Some("::trackplan::__private::Personal<"),
        Sensitivity::Special => Some("::trackplan::__private::Special<"),
    };
    if let Some(w) = wrapper {
        f.write_str(w)?;
    }
    scalar(f, ty, enum_ty, std)?;
    if wrapper.is_some() {
        f.write_str(">")?;
    }
    Ok(())
}

fn scalar(
    f: &mut fmt::Formatter<'_>,
    ty: &PropertyType,
    enum_ty: &Option<EnumType<'_>>,
    std: Std,
) -> fmt::Result {
    match ty {
        PropertyType::String => f.write_str(match std {
            Std::Prelude => "String",
            Std::Absolute => "::std::string::String",
        }),
        PropertyType::Integer => f.write_str("i64"),
        PropertyType::Number => f.write_str("f64"),
        PropertyType::Boolean => f.write_str("bool"),
        PropertyType::Timestamp => f.write_str("::trackplan::__private::Timestamp"),
        PropertyType::Enum { .. } => match enum_ty {
            Some(EnumType::Named(ident)) => write!(f, "{ident}"),
            Some(EnumType::Hashed(h)) => write!(f, "::trackplan::__private::Enum<{h}>"),
            // Callers always pass the enum of an enum property; `()` keeps the output valid
            // (and visibly wrong) should one not.
            None => f.write_str("()"),
        },
        // The plan format has no lists of lists; the model rejects them. Same fallback.
        PropertyType::List { .. } => f.write_str("()"),
    }
}

/// The runtime `ValueKind` of a plan type (`ValueKind` is imported where this is used).
pub(crate) struct ValueKind<'a>(pub &'a PropertyType);

impl fmt::Display for ValueKind<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PropertyType::String => f.write_str("ValueKind::String"),
            PropertyType::Integer => f.write_str("ValueKind::Integer"),
            PropertyType::Number => f.write_str("ValueKind::Number"),
            PropertyType::Boolean => f.write_str("ValueKind::Boolean"),
            PropertyType::Timestamp => f.write_str("ValueKind::Timestamp"),
            PropertyType::Enum { .. } => f.write_str("ValueKind::Enum"),
            PropertyType::List { items } => {
                write!(f, "ValueKind::List {{ item: &{} }}", ValueKind(items))
            }
        }
    }
}

/// How the plan type reads in docs: `string`, `list of enum`.
pub(crate) fn describe(ty: &PropertyType) -> Describe<'_> {
    Describe(ty)
}

/// A plan type in words (see [`describe`]).
pub(crate) struct Describe<'a>(&'a PropertyType);

impl fmt::Display for Describe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            PropertyType::List { items } => write!(f, "list of {}", describe(items)),
            other => f.write_str(other.key()),
        }
    }
}
