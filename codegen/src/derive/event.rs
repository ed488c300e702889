//! `#[derive(Event)]`.

use std::collections::HashMap;

use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::spanned::Spanned as _;
use syn::{Data, DeriveInput, Fields};
use trackplan_model::naming::{
    enum_type_name, enum_values, event_struct_name, field_name, purpose_marker_name,
};
use trackplan_model::{Event, Plan, Property, PropertyType, Sensitivity, SourceFile, suggest};

use super::attr::{self, Container, Errors};
use super::{Loader, plan_for, rebuild_on_change};
use crate::code::{Code, tokens};
use crate::doc;
use crate::event::location;
use crate::info::{EventEntry, plan_info};
use crate::ty::{EnumType, Std, describe, rust_type};
use crate::values::key_hash;

/// The expansion of `#[derive(Event)]` on `input`: the `Event` impl, or every error found plus
/// a stand-in impl so uses of the type do not add errors of their own.
pub fn derive_event(input: &DeriveInput, loader: &dyn Loader) -> TokenStream {
    let mut errors = Errors::default();
    let attrs = attr::container(&input.attrs, Container::Event, &mut errors);
    let ident = &input.ident;

    let fields: Vec<&syn::Field> = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => named.named.iter().collect(),
            Fields::Unit => Vec::new(),
            Fields::Unnamed(_) => {
                errors.at(
                    ident.span(),
                    "`#[derive(trackplan::Event)]` needs named fields: each field is a property of the event",
                );
                Vec::new()
            }
        },
        _ => {
            errors.at(
                ident.span(),
                "`#[derive(trackplan::Event)]` works on structs; enums of plan values use `#[derive(trackplan::Values)]`",
            );
            Vec::new()
        }
    };
    if let Some(p) = input.generics.type_params().next() {
        errors.at(p.span(), "events cannot have type parameters (lifetimes are fine): the plan fixes every field's type");
    }
    if let Some(p) = input.generics.const_params().next() {
        errors.at(p.span(), "events cannot have const parameters");
    }
    let Some(event_lit) = &attrs.event else {
        errors.at(
            ident.span(),
            format!("which plan event is `{ident}`? Add `#[trackplan(event = \"…\")]` with the event's id"),
        );
        return fail(input, errors);
    };

    let Some(loaded) = errors.ok(plan_for(loader, attrs.plan.as_ref(), event_lit.span())) else {
        return fail(input, errors);
    };
    // `plan_for` only returns valid plans, which always have a `Plan`.
    let Some(plan) = &loaded.plan else {
        return fail(input, errors);
    };
    let src = &loaded.source;

    let id = event_lit.value();
    let Some(event) = plan.event(&id) else {
        let mut message = format!("the plan `{}` has no event `{id}`", src.name);
        match suggest(&id, plan.events.iter().map(|e| e.id.value.as_str())) {
            Some(s) => {
                let e = plan
                    .event(s)
                    .map(|e| location(src, e.id.span.start))
                    .unwrap_or_default();
                message.push_str(&format!("\n  = help: did you mean `{s}` ({e})?"));
            }
            None => message.push_str(&format!(
                "\n  = help: its events are {}",
                list(plan.events.iter().map(|e| e.id.value.as_str()))
            )),
        }
        errors.at(event_lit.span(), message);
        return fail(input, errors);
    };
    let event_at = location(src, event.id.span.start);

    if let Some((ids, span)) = &attrs.purposes {
        check_purposes(event, ids, *span, src, &mut errors);
    }

    // Which property each field is.
    let mut mapped: HashMap<&str, &Ident> = HashMap::new();
    let mut writes = Vec::new();
    for field in &fields {
        let Some(field_ident) = &field.ident else {
            continue;
        };
        let rename = attr::rename(&field.attrs, &mut errors);
        let (property, word, span) = match &rename {
            Some(lit) => (event.property(&lit.value()), lit.value(), lit.span()),
            None => {
                let written = field_ident.to_string();
                let p = event
                    .properties
                    .iter()
                    .find(|p| field_name(&p.id) == written);
                (p, field_ident.unraw().to_string(), field_ident.span())
            }
        };
        let Some(property) = property else {
            let mut message = format!("`{word}` is not a property of event `{id}` ({event_at})");
            match suggest(&word, event.properties.iter().map(|p| p.id.value.as_str())) {
                Some(s) if rename.is_none() => message.push_str(&format!(
                    "\n  = help: did you mean `{s}`? To keep the field name, map it with `#[trackplan(rename = \"{s}\")]`"
                )),
                Some(s) => message.push_str(&format!("\n  = help: did you mean `{s}`?")),
                None => message.push_str(&format!(
                    "\n  = help: the event's properties are {}",
                    list(event.properties.iter().map(|p| p.id.value.as_str()))
                )),
            }
            errors.at(span, message);
            continue;
        };
        if let Some(first) = mapped.insert(property.id.value.as_str(), field_ident) {
            errors.at(
                span,
                format!(
                    "property `{}` of event `{id}` is already the field `{first}`",
                    property.id.value
                ),
            );
            continue;
        }
        writes.push((field, property));
    }
    for p in event.properties.iter().filter(|p| p.required.value) {
        if !mapped.contains_key(p.id.value.as_str()) {
            errors.at(
                ident.span(),
                format!(
                    "`{ident}` has no field for property `{}`, which event `{id}` requires ({})\n  = help: add a field `{}` (plan type: {}{})",
                    p.id.value,
                    location(src, p.id.span.start),
                    field_name(&p.id),
                    describe(&p.ty.value),
                    wrapper_hint(p),
                ),
            );
        }
    }
    if errors.any() {
        return fail(input, errors);
    }

    expand(input, plan, event, &writes, &loaded)
}

fn check_purposes(event: &Event, ids: &[Ident], span: Span, src: &SourceFile, errors: &mut Errors) {
    let mut written: Vec<String> = ids.iter().map(|i| i.unraw().to_string()).collect();
    let mut planned: Vec<String> = event.purposes.iter().map(|p| p.value.clone()).collect();
    let shown = written.join(", ");
    written.sort();
    planned.sort();
    if written == planned {
        return;
    }
    let missing: Vec<&str> = planned
        .iter()
        .filter(|p| !written.contains(p))
        .map(String::as_str)
        .collect();
    let extra: Vec<&str> = written
        .iter()
        .filter(|p| !planned.contains(p))
        .map(String::as_str)
        .collect();
    let mut message = format!(
        "`purposes({shown})` differs from the plan: event `{}` is collected for {} ({})",
        event.id.value,
        list(event.purposes.iter().map(|p| p.value.as_str())),
        location(src, event.purposes.span.start),
    );
    if !extra.is_empty() {
        message.push_str(&format!(
            "\n  = note: not in the plan: {}",
            list(extra.iter().copied())
        ));
    }
    if !missing.is_empty() {
        message.push_str(&format!(
            "\n  = note: missing here: {}",
            list(missing.iter().copied())
        ));
    }
    message.push_str(
        "\n  = help: purposes change in the plan, where they are reviewed; then update this attribute to match",
    );
    errors.at(span, message);
}

fn expand(
    input: &DeriveInput,
    plan: &Plan,
    event: &Event,
    writes: &[(&&syn::Field, &Property)],
    loaded: &crate::load::LoadedPlan,
) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let entry = EventEntry {
        event,
        properties: event.properties.iter().collect(),
    };
    let mut info = Code::default();
    // A derived event has no generated purpose markers, so none is named.
    plan_info(
        &mut info,
        plan,
        &loaded.hash,
        std::slice::from_ref(&entry),
        &[],
    );
    let info = tokens(info.as_str(), ident.span());

    let mut checks = Vec::new();
    let mut calls = Vec::new();
    for (field, property) in writes {
        let index = event
            .properties
            .iter()
            .position(|p| p.id.value == property.id.value)
            .unwrap_or_default();
        let index = Literal::usize_unsuffixed(index);
        let name = &field.ident;
        let ty_span = field.ty.span();
        let check = format_ident!("property_{}", property.id.value, span = ty_span);
        let key = enum_key(event, property);
        let canonical = rust_type(
            property,
            key.as_deref().map(|k| EnumType::Hashed(key_hash(k))),
            Std::Absolute,
        )
        .to_string();
        let canonical = tokens(&canonical, ty_span);
        let fit = Fit::new(plan, event, property, key.as_deref(), &loaded.source);
        let message = fit.message();
        let label = fit.label();
        let notes = fit.notes();
        // Spanned at the field's type, so rustc's "required for `u32` to implement …" note
        // points there instead of at the derive.
        let canonical = respan(canonical, ty_span);
        let fit_impl = quote_spanned! {ty_span=>
            impl<T: ::trackplan::__private::Fits<#canonical> + ?Sized> #check for T {
                fn write(&self, p: &'static ::trackplan::__private::PropertyInfo, w: &mut ::trackplan::__private::PropertyWriter<'_>) {
                    ::trackplan::__private::Value::write(self, p, w);
                }
            }
        };
        checks.push(quote! {
            #[diagnostic::on_unimplemented(message = #message, label = #label, #(note = #notes),*)]
            #[allow(non_camel_case_types)]
            trait #check {
                fn write(&self, p: &'static ::trackplan::__private::PropertyInfo, w: &mut ::trackplan::__private::PropertyWriter<'_>);
            }

            #fit_impl
        });
        let name = respan(quote!(#name), ty_span);
        calls.push(quote_spanned!(ty_span=> #check::write(&self.#name, &properties[#index], w);));
    }
    let body = if calls.is_empty() {
        quote!(let _ = w;)
    } else {
        quote! {
            let properties = <Self as ::trackplan::__private::Event>::INFO.properties;
            #(#calls)*
        }
    };

    let purpose_markers: Vec<Ident> = event
        .purposes
        .iter()
        .filter_map(|p| crate::ident::ident(&purpose_marker_name(&p.value)))
        .collect();
    let purpose_refs: Vec<&Ident> = purpose_markers.iter().collect();
    let purposes = crate::event::purpose_list("purpose", &purpose_refs).to_string();
    let purposes = tokens(&purposes, ident.span());
    let rebuild = rebuild_on_change(loaded);
    let doc = format!(
        " Event {} of {}.",
        doc::code(&event.id.value),
        doc::code(&loaded.source.name)
    );

    quote! {
        const _: () = {
            #[doc = #doc]
            static PLAN: ::trackplan::__private::PlanInfo = #info;

            /// The event's purposes, named so compile errors can spell them.
            #[allow(dead_code)]
            mod purpose {
                #(pub struct #purpose_markers;)*
            }

            #(#checks)*

            #[doc(hidden)]
            impl #impl_generics ::trackplan::__private::Sealed for #ident #ty_generics #where_clause {}

            impl #impl_generics ::trackplan::__private::Event for #ident #ty_generics #where_clause {
                type Purposes = #purposes;
                const PLAN: &'static ::trackplan::__private::PlanInfo = &PLAN;
                const INFO: &'static ::trackplan::__private::EventInfo = &PLAN.events[0];
            }

            #[doc(hidden)]
            impl #impl_generics ::trackplan::__private::WriteProperties for #ident #ty_generics #where_clause {
                #[inline]
                fn write_properties(&self, w: &mut ::trackplan::__private::PropertyWriter<'_>) {
                    #body
                }
            }

            #rebuild
        };
    }
}

/// The key `Values` enums bind to, for an enum or list-of-enum property.
fn enum_key(event: &Event, property: &Property) -> Option<String> {
    enum_values(&property.ty.value)?;
    Some(match &property.shared {
        Some(shared) => shared.clone(),
        None => format!("{}.{}", event.id.value, property.id.value),
    })
}

/// What a field must be to hold a property, in words for the compile error.
struct Fit<'a> {
    event: &'a Event,
    property: &'a Property,
    enum_key: Option<&'a str>,
    /// The enum `plan!` generates for the property.
    enum_name: Option<String>,
    /// `file:line:col` of the property.
    at: String,
}

impl<'a> Fit<'a> {
    fn new(
        plan: &Plan,
        event: &'a Event,
        property: &'a Property,
        enum_key: Option<&'a str>,
        src: &SourceFile,
    ) -> Self {
        let enum_name = enum_key.map(|_| {
            let mut name = match property.shared.as_deref() {
                Some(shared) => enum_type_name(None, shared),
                None => enum_type_name(Some(&event.id), &property.id),
            };
            if plan.events.iter().any(|e| event_struct_name(&e.id) == name) {
                name.push_str("Value");
            }
            name
        });
        Fit {
            event,
            property,
            enum_key,
            enum_name,
            at: location(src, property.id.span.start),
        }
    }

    /// The type `plan!` gives the field, as a user would write it.
    fn rust_type(&self) -> String {
        let p = self.property;
        let scalar = |ty: &PropertyType| -> String {
            match ty {
                PropertyType::String => "String".to_owned(),
                PropertyType::Integer => "i64".to_owned(),
                PropertyType::Number => "f64".to_owned(),
                PropertyType::Boolean => "bool".to_owned(),
                PropertyType::Timestamp => "trackplan::Timestamp".to_owned(),
                PropertyType::Enum { .. } => self.enum_name.clone().unwrap_or_default(),
                PropertyType::List { .. } => "_".to_owned(),
            }
        };
        let wrap = |t: String| match p.sensitivity.value {
            Sensitivity::Personal => format!("trackplan::Personal<{t}>"),
            Sensitivity::Special => format!("trackplan::Special<{t}>"),
            _ => t,
        };
        let ty = match &p.ty.value {
            PropertyType::List { items } => format!("Vec<{}>", wrap(scalar(items))),
            other => wrap(scalar(other)),
        };
        if p.required.value {
            ty
        } else {
            format!("Option<{ty}>")
        }
    }

    fn message(&self) -> String {
        let p = self.property;
        let sensitivity = match p.sensitivity.value {
            Sensitivity::Personal => ", personal",
            Sensitivity::Special => ", special",
            _ => "",
        };
        let optional = if p.required.value { "" } else { ", optional" };
        format!(
            "`{{Self}}` cannot hold property `{}` of event `{}` (plan type: {}{sensitivity}{optional}: use `{}`)",
            escape(&p.id.value),
            escape(&self.event.id.value),
            describe(&p.ty.value),
            escape(&self.rust_type()),
        )
    }

    fn label(&self) -> String {
        escape(&format!(
            "expected `{}` or a type that fits it",
            self.rust_type()
        ))
    }

    fn notes(&self) -> Vec<String> {
        let p = self.property;
        let mut notes = vec![format!(
            "property `{}` of event `{}` is declared at {}",
            p.id.value, self.event.id.value, self.at
        )];
        let (scalar, list) = match &p.ty.value {
            PropertyType::List { items } => (&**items, true),
            other => (other, false),
        };
        let kind = match scalar {
            PropertyType::String => {
                "strings are `String`, `&str`, `Cow<str>`, `Box<str>` or `Arc<str>`".to_owned()
            }
            PropertyType::Integer => {
                "integers are any primitive integer type (a value outside the range of `i64` is dropped and counted at run time)"
                    .to_owned()
            }
            PropertyType::Number => "numbers are `f64` or `f32`".to_owned(),
            PropertyType::Boolean => "booleans are `bool`".to_owned(),
            PropertyType::Timestamp => {
                "timestamps are `trackplan::Timestamp` or `std::time::SystemTime`".to_owned()
            }
            PropertyType::Enum { .. } => format!(
                "enum values are the enum `plan!` generates for the property (`{}`), or an enum with `#[derive(trackplan::Values)]` and `#[trackplan(property = \"{}\")]`",
                self.enum_name.as_deref().unwrap_or_default(),
                self.enum_key.unwrap_or_default(),
            ),
            PropertyType::List { .. } => String::new(),
        };
        if list {
            notes.push(format!("a list is a `Vec` of items; {kind}"));
        } else {
            notes.push(kind);
        }
        let wrapper = match p.sensitivity.value {
            Sensitivity::Personal => Some(("personal", "Personal")),
            Sensitivity::Special => Some(("special-category", "Special")),
            _ => None,
        };
        if let Some((what, wrapper)) = wrapper {
            notes.push(format!(
                "`{}` is {what} data: it is wrapped in `trackplan::{wrapper}<…>`, which never prints the value and only sends it through its transform (`{}`)",
                p.id.value,
                p.transform.value.key()
            ));
        }
        if !p.required.value {
            notes.push(format!(
                "`{}` is optional: the field is an `Option<…>`, or leave the field out",
                p.id.value
            ));
        }
        notes.into_iter().map(|n| escape(&n)).collect()
    }
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut group = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                group.set_span(span);
                tt = proc_macro2::TokenTree::Group(group);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// Escapes braces for `#[diagnostic::on_unimplemented]`, whose strings are format strings.
fn escape(text: &str) -> String {
    text.replace('{', "{{").replace('}', "}}")
}

/// Errors, plus a stand-in `Event` impl so the type stays usable.
fn fail(input: &DeriveInput, errors: Errors) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let errors = errors.into_tokens();
    quote! {
        #errors
        const _: () = {
            static PLAN: ::trackplan::__private::PlanInfo = ::trackplan::__private::plan_info(
                "",
                0,
                "",
                "",
                ::trackplan::__private::IdentityTransform::Hmac,
                &[],
                &[],
                &[::trackplan::__private::event_info(
                    "",
                    "",
                    ::trackplan::__private::PurposeSet::EMPTY,
                    ::trackplan::__private::DestinationSet::EMPTY,
                    &[],
                )],
            );
            #[doc(hidden)]
            impl #impl_generics ::trackplan::__private::Sealed for #ident #ty_generics #where_clause {}
            impl #impl_generics ::trackplan::__private::Event for #ident #ty_generics #where_clause {
                type Purposes = ();
                const PLAN: &'static ::trackplan::__private::PlanInfo = &PLAN;
                const INFO: &'static ::trackplan::__private::EventInfo = &PLAN.events[0];
            }
            #[doc(hidden)]
            impl #impl_generics ::trackplan::__private::WriteProperties for #ident #ty_generics #where_clause {
                fn write_properties(&self, _: &mut ::trackplan::__private::PropertyWriter<'_>) {}
            }
        };
    }
}

/// "`a`, `b` and `c`".
pub(crate) fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| format!("`{i}`")).collect();
    match items.as_slice() {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn wrapper_hint(p: &Property) -> &'static str {
    match p.sensitivity.value {
        trackplan_model::Sensitivity::Personal => ", personal: wrap it in `trackplan::Personal<…>`",
        trackplan_model::Sensitivity::Special => ", special: wrap it in `trackplan::Special<…>`",
        _ => "",
    }
}
