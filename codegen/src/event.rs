//! Event structs of `plan!` and their trait impls.

use std::borrow::Cow;
use std::fmt;

use proc_macro2::Ident;
use trackplan_model::{Plan, Property, Sensitivity, SourceFile, Transform};

use crate::code::Code;
use crate::doc::{self, Doc};
use crate::names::{EventItem, FieldItem, Names};
use crate::ty::{EnumType, describe, rust_type};

/// Writes the struct of event `item` (index `index` in `PLAN.events`), its `Event` impl and
/// its compile-time purpose impls.
///
/// `stand_in` is set when the plan has errors: the plan as recovered may have a placeholder
/// where the file has a typo (a misspelt `sensitivity` reads as `internal`, so a personal
/// `String` field loses its `Personal<…>`), and call sites written for the plan as meant would
/// get type errors with misleading help ("try `.to_string()`"). Then each field gets a type
/// parameter of its own, inferred from whatever the call site writes, so the plan's errors are
/// the only ones; nothing is sent from such a build, which does not compile.
pub(crate) fn event(
    out: &mut Code,
    plan: &Plan,
    src: &SourceFile,
    names: &Names<'_>,
    item: &EventItem<'_>,
    index: usize,
    stand_in: bool,
) {
    let event = item.event;
    let ident = &item.ident;
    let (params, args) = if stand_in && !item.fields.is_empty() {
        let names: Vec<String> = (0..item.fields.len()).map(|i| format!("__F{i}")).collect();
        (
            format!("<{}>", names.join(", ")),
            format!("<{}>", names.join(", ")),
        )
    } else {
        (String::new(), String::new())
    };

    let mut docs = Doc::described(event.description.as_ref());
    docs.line(format_args!(
        "Event {}, sent as {}; declared at {}.",
        doc::code(&event.id.value),
        doc::wire(&event.name.value),
        doc::code(&location(src, event.id.span.start)),
    ));
    docs.paragraph();
    docs.line(format_args!(
        "- Purposes: {}",
        doc::ids(event.purposes.iter().map(|p| p.value.as_str()))
    ));
    let reachable: Vec<&str> = plan
        .destinations
        .iter()
        .filter(|d| plan.routes_to(event, d))
        .map(|d| d.id.value.as_str())
        .collect();
    docs.line(format_args!(
        "- Destinations it can reach: {}",
        doc::ids(reachable.iter().copied())
    ));

    write!(
        out,
        "{docs}#[derive(Debug, Clone)]\npub struct {ident}{params} {{\n",
        docs = docs.attr()
    );
    for (i, f) in item.fields.iter().enumerate() {
        let enum_ident = f.enum_index.map(|i| EnumType::Named(&names.enums[i].ident));
        let docs = property_doc(src, f.property);
        if args.is_empty() {
            writeln!(
                out,
                "    {docs}    pub {name}: {ty},",
                docs = docs.attr(),
                name = f.ident,
                ty = rust_type(f.property, enum_ident, names.std),
            );
        } else {
            writeln!(
                out,
                "    {docs}    pub {name}: __F{i},",
                docs = docs.attr(),
                name = f.ident
            );
        }
    }

    let markers = names.purpose_markers(plan, &event.purposes);
    // Fields in plan order, so field `i` is `INFO.properties[i]`.
    write!(
        out,
        "}}

#[doc(hidden)]
impl{params} ::trackplan::__private::Sealed for {ident}{args} {{}}

impl{params} ::trackplan::__private::Event for {ident}{args} {{
    type Purposes = {purposes};
    const PLAN: &'static ::trackplan::__private::PlanInfo = &PLAN;
    const INFO: &'static ::trackplan::__private::EventInfo = &PLAN.events[{index}];
}}

#[doc(hidden)]
impl{params} ::trackplan::__private::WriteProperties for {ident}{args} {{
    #[inline]
    fn write_properties(&self, w: &mut ::trackplan::__private::PropertyWriter<'_>) {{
{calls}    }}
}}
",
        purposes = purpose_list("purpose", &markers),
        calls = WriteCalls(if args.is_empty() { &item.fields } else { &[] }),
    );
    for m in &markers {
        writeln!(
            out,
            "impl{params} ::trackplan::__private::DeclaredFor<purpose::{m}> for {ident}{args} {{}}"
        );
    }
    let routable = plan
        .destinations
        .iter()
        .zip(&names.destinations)
        .filter(|(d, _)| plan.routes_to(event, d))
        .filter_map(|(_, m)| m.as_ref());
    for m in routable {
        writeln!(
            out,
            "impl{params} ::trackplan::__private::RoutableTo<destination::{m}> for {ident}{args} {{}}"
        );
    }
    out.push("\n");
}

/// The body of `write_properties`: one `Value::write` per field, in plan order, each with its
/// property's constant `PropertyInfo`. Called directly (not through a slice of `&dyn Value`), so
/// the runtime's writer inlines and the checks a property does not need fold away.
struct WriteCalls<'a, 'p>(&'a [FieldItem<'p>]);

impl fmt::Display for WriteCalls<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return writeln!(f, "        let _ = w;");
        }
        writeln!(
            f,
            "        let p = <Self as ::trackplan::__private::Event>::INFO.properties;"
        )?;
        for (i, field) in self.0.iter().enumerate() {
            writeln!(
                f,
                "        ::trackplan::__private::Value::write(&self.{}, &p[{i}], w);",
                field.ident
            )?;
        }
        Ok(())
    }
}

/// `Event::Purposes` / `Destination::Purposes`: one marker, a tuple of several, `()` for none;
/// `module` is the path of the module holding the markers.
pub(crate) fn purpose_list<'a>(module: &'a str, markers: &'a [&'a Ident]) -> PurposeList<'a> {
    PurposeList { module, markers }
}

/// A list of purpose markers as a type (see [`purpose_list`]).
pub(crate) struct PurposeList<'a> {
    module: &'a str,
    markers: &'a [&'a Ident],
}

impl fmt::Display for PurposeList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let module = self.module;
        match self.markers {
            [one] => write!(f, "{module}::{one}"),
            many => {
                f.write_str("(")?;
                for (i, m) in many.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{module}::{m}")?;
                }
                f.write_str(")")
            }
        }
    }
}

/// The doc comment of a property: its description, then what the plan says about it.
fn property_doc(src: &SourceFile, p: &Property) -> Doc {
    let mut docs = Doc::described(p.description.as_ref());
    let required = if p.required.value { "" } else { ", optional" };
    docs.line(format_args!(
        "Property {}, sent as {}: {}{required}; declared at {}.",
        doc::code(&p.id.value),
        doc::wire(&p.name.value),
        describe(&p.ty.value),
        doc::code(&location(src, p.id.span.start)),
    ));
    docs.paragraph();
    let sensitivity = match p.sensitivity.value {
        Sensitivity::Public => "public",
        Sensitivity::Internal => "internal",
        Sensitivity::Personal => "personal data",
        Sensitivity::Special => "special-category data",
    };
    docs.line(format_args!("- Sensitivity: {sensitivity}"));
    if let Some(c) = &p.category {
        docs.line(format_args!("- Category: {}", doc::code(&c.value)));
    }
    docs.line(format_args!(
        "- Transform: {}",
        transform(&p.transform.value)
    ));
    if let Some(j) = &p.justification {
        docs.line(format_args!(
            "- Sent as is because: {}",
            doc::one_line(&j.value)
        ));
    }
    if let Some(b) = &p.special_basis {
        docs.line(format_args!("- Art. 9(2) ground: {}", doc::code(&b.value)));
    }
    if let Some(ps) = &p.purposes {
        docs.line(format_args!(
            "- Only for purposes: {}",
            doc::ids(ps.iter().map(|p| p.value.as_str()))
        ));
    }
    let c = &p.constraints;
    if let Some(m) = &c.max_length {
        docs.line(format_args!("- At most {} characters", m.value));
    }
    match (&c.min, &c.max) {
        (Some(lo), Some(hi)) => docs.line(format_args!("- Between {} and {}", lo.value, hi.value)),
        (Some(lo), None) => docs.line(format_args!("- At least {}", lo.value)),
        (None, Some(hi)) => docs.line(format_args!("- At most {}", hi.value)),
        (None, None) => &mut docs,
    };
    docs
}

/// What a transform does, in words for docs.
fn transform(t: &Transform) -> Cow<'static, str> {
    Cow::Borrowed(match t {
        Transform::None => "`none` (sent as is)",
        Transform::Hmac => "`hmac` (keyed HMAC-SHA-256, never the raw value)",
        Transform::TruncateIp => "`truncate_ip` (IPv4 /24, IPv6 /48)",
        Transform::StripQuery => "`strip_query` (no query string or fragment)",
        Transform::Bucket { buckets } => {
            let b: Vec<String> = buckets.iter().map(|b| b.to_string()).collect();
            return Cow::Owned(format!(
                "`bucket` (sent as a range; bounds {})",
                b.join(", ")
            ));
        }
        Transform::Coarsen { to } => match to {
            trackplan_model::Granularity::Hour => "`coarsen` (to the hour)",
            trackplan_model::Granularity::Day => "`coarsen` (to the day)",
            trackplan_model::Granularity::Month => "`coarsen` (to the month)",
        },
        Transform::Redact => "`redact` (first-party destinations only)",
    })
}

/// `file:line:col` of a byte offset.
pub(crate) fn location(src: &SourceFile, offset: usize) -> String {
    let (line, col) = src.line_col(offset);
    format!("{}:{line}:{col}", src.name)
}
