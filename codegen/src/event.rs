//! Event structs of `plan!` and their trait impls.

use proc_macro2::{Ident, Literal, TokenStream};
use quote::quote;
use trackplan_model::{Plan, Property, Sensitivity, SourceFile, Transform};

use crate::doc::{self, Doc};
use crate::info::routes;
use crate::names::{EventItem, Names};
use crate::ty::{EnumType, describe, rust_type};

/// The struct of event `item` (index `index` in `PLAN.events`), its `Event` impl and its
/// compile-time purpose impls.
pub(crate) fn event(
    plan: &Plan,
    src: &SourceFile,
    names: &Names<'_>,
    item: &EventItem<'_>,
    index: usize,
) -> TokenStream {
    let event = item.event;
    let ident = &item.ident;

    let mut docs = Doc::new();
    if let Some(d) = &event.description {
        docs.text(&d.value);
        docs.paragraph();
    }
    docs.line(format!(
        "Event {}, sent as {}; declared at {}.",
        doc::code(&event.id.value),
        doc::wire(&event.name.value),
        doc::code(&location(src, event.id.span.start)),
    ));
    docs.paragraph();
    docs.line(format!(
        "- Purposes: {}",
        doc::ids(event.purposes.iter().map(|p| p.value.as_str()))
    ));
    let reachable: Vec<&str> = plan
        .destinations
        .iter()
        .filter(|d| routes(event, d))
        .map(|d| d.id.value.as_str())
        .collect();
    docs.line(format!(
        "- Destinations it can reach: {}",
        doc::ids(reachable.iter().copied())
    ));
    let docs = docs.attrs();

    let fields = item.fields.iter().map(|f| {
        let field_docs = property_doc(src, f.property).attrs();
        let enum_ident = f.enum_index.map(|i| EnumType::Named(&names.enums[i].ident));
        let ty = rust_type(f.property, enum_ident, names.std);
        let name = &f.ident;
        quote! {
            #field_docs
            pub #name: #ty,
        }
    });

    // Fields in plan order, so field `i` is `INFO.properties[i]`.
    let fields_in_order = item.fields.iter().map(|f| &f.ident);
    let body = quote! {
        ::trackplan::__private::write_fields(
            &[#(&self.#fields_in_order),*],
            Self::INFO.properties,
            w,
        );
    };

    let markers: Vec<&Ident> = event
        .purposes
        .iter()
        .filter_map(|p| names.purpose(plan, &p.value).map(|(_, m)| m))
        .collect();
    let purposes = purpose_list(&quote!(purpose), &markers);
    let declared = markers
        .iter()
        .map(|m| quote!(impl ::trackplan::DeclaredFor<purpose::#m> for #ident {}));
    let routable = plan
        .destinations
        .iter()
        .zip(&names.destinations)
        .filter(|(d, _)| routes(event, d))
        .filter_map(|(_, m)| m.as_ref())
        .map(|m| quote!(impl ::trackplan::RoutableTo<destination::#m> for #ident {}));

    let index = Literal::usize_unsuffixed(index);
    quote! {
        #docs
        #[derive(Debug, Clone)]
        pub struct #ident {
            #(#fields)*
        }

        impl ::trackplan::__private::Sealed for #ident {}

        impl ::trackplan::Event for #ident {
            type Purposes = #purposes;
            const PLAN: &'static ::trackplan::PlanInfo = &PLAN;
            const INFO: &'static ::trackplan::EventInfo = &PLAN.events[#index];

            #[inline]
            fn write_properties(&self, w: &mut ::trackplan::PropertyWriter<'_>) {
                #body
            }
        }

        #(#declared)*
        #(#routable)*
    }
}

/// `Event::Purposes` / `Destination::Purposes`: one marker, a tuple of several, `()` for none;
/// `module` is the path of the module holding the markers.
pub(crate) fn purpose_list(module: &TokenStream, markers: &[&Ident]) -> TokenStream {
    match markers {
        [one] => quote!(#module::#one),
        many => quote!((#(#module::#many),*)),
    }
}

/// The doc comment of a property: its description, then what the plan says about it.
fn property_doc(src: &SourceFile, p: &Property) -> Doc {
    let mut docs = Doc::new();
    if let Some(d) = &p.description {
        docs.text(&d.value);
        docs.paragraph();
    }
    let required = if p.required.value { "" } else { ", optional" };
    docs.line(format!(
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
    let mut facts = vec![format!("- Sensitivity: {sensitivity}")];
    if let Some(c) = &p.category {
        facts.push(format!("- Category: {}", doc::code(&c.value)));
    }
    facts.push(format!("- Transform: {}", transform(&p.transform.value)));
    if let Some(j) = &p.justification {
        facts.push(format!("- Sent as is because: {}", one_line(&j.value)));
    }
    if let Some(b) = &p.special_basis {
        facts.push(format!("- Art. 9(2) ground: {}", doc::code(&b.value)));
    }
    if let Some(ps) = &p.purposes {
        facts.push(format!(
            "- Only for purposes: {}",
            doc::ids(ps.iter().map(|p| p.value.as_str()))
        ));
    }
    let c = &p.constraints;
    if let Some(m) = &c.max_length {
        facts.push(format!("- At most {} characters", m.value));
    }
    match (&c.min, &c.max) {
        (Some(lo), Some(hi)) => facts.push(format!("- Between {} and {}", lo.value, hi.value)),
        (Some(lo), None) => facts.push(format!("- At least {}", lo.value)),
        (None, Some(hi)) => facts.push(format!("- At most {}", hi.value)),
        (None, None) => {}
    }
    for f in facts {
        docs.line(f);
    }
    docs
}

fn transform(t: &Transform) -> String {
    match t {
        Transform::None => "`none` (sent as is)".to_owned(),
        Transform::Hmac => "`hmac` (keyed HMAC-SHA-256, never the raw value)".to_owned(),
        Transform::TruncateIp => "`truncate_ip` (IPv4 /24, IPv6 /48)".to_owned(),
        Transform::StripQuery => "`strip_query` (no query string or fragment)".to_owned(),
        Transform::Bucket { buckets } => {
            let b: Vec<String> = buckets.iter().map(|b| b.to_string()).collect();
            format!("`bucket` (sent as a range; bounds {})", b.join(", "))
        }
        Transform::Coarsen { to } => format!(
            "`coarsen` (to the {})",
            match to {
                trackplan_model::Granularity::Hour => "hour",
                trackplan_model::Granularity::Day => "day",
                trackplan_model::Granularity::Month => "month",
            }
        ),
        Transform::Redact => "`redact` (first-party destinations only)".to_owned(),
    }
}

/// Free text squeezed onto one line of a list item, defused like any description.
fn one_line(text: &str) -> String {
    let mut d = Doc::new();
    d.text(&text.split_whitespace().collect::<Vec<_>>().join(" "));
    d.lines().join(" ")
}

/// `file:line:col` of a byte offset.
pub(crate) fn location(src: &SourceFile, offset: usize) -> String {
    let (line, col) = src.line_col(offset);
    format!("{}:{line}:{col}", src.name)
}
