//! The static `PlanInfo` value: everything the runtime knows about a plan, precomputed.
//!
//! Purpose and destination sets become `u64` bit masks (bit `i` = declaration index `i`),
//! routes are computed here once, transforms are resolved to their runtime form, and each
//! property's JSON key (`"Plan Tier":`) is escaped here so the `track` path only copies bytes.

use proc_macro2::{Delimiter, Group, Literal, TokenStream};
use quote::quote;
use trackplan_model::{
    Destination, Event, Granularity, IdentityTransform, LegalBasis, Plan, Property, Sensitivity,
    Transform,
};

use crate::ty::value_kind;

/// The most purposes or destinations a plan can have: sets are `u64` bit masks.
pub(crate) const MAX_SET: usize = 64;

/// An event as it goes into `PlanInfo::events`: the properties to describe, in order.
pub(crate) struct EventEntry<'p> {
    /// The event.
    pub event: &'p Event,
    /// Its properties in `EventInfo::properties` order.
    pub properties: Vec<&'p Property>,
}

/// The `PlanInfo` value of `plan`, with `events` as its event list: a block expression that
/// imports the runtime's plan types under their own names first, so the (long) literal reads
/// like hand-written data and stays small for the compiler.
pub(crate) fn plan_info(plan: &Plan, hash: &str, events: &[EventEntry<'_>]) -> TokenStream {
    let name = &plan.name.value;
    let version = Literal::u32_unsuffixed(plan.version.value);
    let label = format!("{name}@{version}");
    let identity = match plan.identity.transform.value {
        IdentityTransform::Hmac => quote!(IdentityInfo::Hmac),
        IdentityTransform::None => quote!(IdentityInfo::None),
    };
    let purposes = list(plan.purposes.iter().map(|p| {
        let id = &p.id.value;
        let description = &p.description.value;
        let basis = legal_basis(p.basis.value);
        let data_use = &p.data_use.value;
        let retention = option(
            p.retention_days
                .as_ref()
                .map(|d| Literal::u32_unsuffixed(d.value)),
        );
        let sale_or_share = p.sale_or_share.value;
        quote! {
            PurposeInfo {
                id: #id,
                description: #description,
                basis: #basis,
                data_use: #data_use,
                retention_days: #retention,
                sale_or_share: #sale_or_share,
            }
        }
    }));
    let destinations = list(plan.destinations.iter().map(|d| {
        let id = &d.id.value;
        let kind = d.kind.value.key();
        let description = d.description.as_ref().map_or("", |s| s.value.as_str());
        let set = bits(purpose_set(
            plan,
            d.purposes.iter().map(|p| p.value.as_str()),
        ));
        let third_party = d.third_party.value;
        quote! {
            DestinationInfo {
                id: #id,
                kind: #kind,
                description: #description,
                purposes: PurposeSet(#set),
                third_party: #third_party,
            }
        }
    }));
    let events = list(events.iter().map(|e| event_info(plan, e)));
    quote! {
        {
            #[allow(unused_imports)]
            use ::core::option::Option::{None, Some};
            #[allow(unused_imports)]
            use ::trackplan::{
                Constraints, DestinationInfo, DestinationSet, EventInfo, Granularity,
                IdentityInfo, LegalBasis, PlanInfo, PurposeInfo, PurposeSet, Sensitivity,
                TransformInfo, ValueKind,
            };
            #[allow(unused_imports)]
            use ::trackplan::__private::property;
            #[allow(dead_code)]
            const UNCONSTRAINED: Constraints = Constraints {
                max_length: None,
                min: None,
                max: None,
            };
            PlanInfo {
                name: #name,
                version: #version,
                label: #label,
                hash: #hash,
                identity: #identity,
                purposes: &#purposes,
                destinations: &#destinations,
                events: &#events,
            }
        }
    }
}

/// `[a, b, …]` as one bracket group. Interpolating a group copies one token, where
/// interpolating the stream inside would copy every token again at each level of nesting:
/// that copying was most of the cost of expanding a large plan.
fn list(items: impl Iterator<Item = TokenStream>) -> Group {
    let mut inner = TokenStream::new();
    for item in items {
        inner.extend(item);
        inner.extend(quote!(,));
    }
    Group::new(Delimiter::Bracket, inner)
}

fn event_info(plan: &Plan, entry: &EventEntry<'_>) -> TokenStream {
    let event = entry.event;
    let id = &event.id.value;
    let name = &event.name.value;
    let purposes = bits(purpose_set(
        plan,
        event.purposes.iter().map(|p| p.value.as_str()),
    ));
    let destinations = bits(destination_set(plan, event));
    let properties = list(entry.properties.iter().map(|p| property_info(p)));
    quote! {
        EventInfo {
            id: #id,
            name: #name,
            purposes: PurposeSet(#purposes),
            destinations: DestinationSet(#destinations),
            properties: &#properties,
        }
    }
}

fn property_info(p: &Property) -> TokenStream {
    let id = &p.id.value;
    let name = &p.name.value;
    let json_key = format!("{}:", crate::doc::json(name));
    let kind = value_kind(&p.ty.value);
    let sensitivity = match p.sensitivity.value {
        Sensitivity::Public => quote!(Sensitivity::Public),
        Sensitivity::Internal => quote!(Sensitivity::Internal),
        Sensitivity::Personal => quote!(Sensitivity::Personal),
        Sensitivity::Special => quote!(Sensitivity::Special),
    };
    let category = option(p.category.as_ref().map(|c| c.value.as_str()));
    let transform = transform_info(p);
    let required = p.required.value;
    let c = &p.constraints;
    let constraints = if c.max_length.is_none() && c.min.is_none() && c.max.is_none() {
        quote!(UNCONSTRAINED)
    } else {
        let max_length = option(
            c.max_length
                .as_ref()
                .map(|m| Literal::u32_unsuffixed(m.value)),
        );
        let min = option(c.min.as_ref().map(|m| float(m.value)));
        let max = option(c.max.as_ref().map(|m| float(m.value)));
        quote! {
            Constraints {
                max_length: #max_length,
                min: #min,
                max: #max,
            }
        }
    };
    quote! {
        property(#id, #name, #json_key, #kind, #sensitivity, #category, #transform, #required, #constraints)
    }
}

fn transform_info(p: &Property) -> TokenStream {
    match &p.transform.value {
        Transform::None => quote!(TransformInfo::None),
        Transform::Hmac => {
            // E-mail addresses are case-insensitive in practice: hash them lower-cased so one
            // person does not become two pseudonyms.
            let lowercase = p.category.as_ref().is_some_and(|c| {
                c.value == "user.contact.email" || c.value.starts_with("user.contact.email.")
            });
            quote!(TransformInfo::Hmac { lowercase: #lowercase })
        }
        Transform::TruncateIp => quote!(TransformInfo::TruncateIp),
        Transform::StripQuery => quote!(TransformInfo::StripQuery),
        Transform::Bucket { buckets } => {
            let buckets = buckets.iter().map(|b| float(*b));
            quote!(TransformInfo::Bucket(&[#(#buckets),*]))
        }
        Transform::Coarsen { to } => {
            let to = match to {
                Granularity::Hour => quote!(Granularity::Hour),
                Granularity::Day => quote!(Granularity::Day),
                Granularity::Month => quote!(Granularity::Month),
            };
            quote!(TransformInfo::Coarsen(#to))
        }
        Transform::Redact => quote!(TransformInfo::Redact),
    }
}

fn legal_basis(basis: LegalBasis) -> TokenStream {
    match basis {
        LegalBasis::Consent => quote!(LegalBasis::Consent),
        LegalBasis::Contract => quote!(LegalBasis::Contract),
        LegalBasis::LegalObligation => quote!(LegalBasis::LegalObligation),
        LegalBasis::VitalInterest => quote!(LegalBasis::VitalInterest),
        LegalBasis::PublicTask => quote!(LegalBasis::PublicTask),
        LegalBasis::LegitimateInterest => quote!(LegalBasis::LegitimateInterest),
    }
}

/// An `f64` expression; `Literal::f64_unsuffixed` panics on infinities and NaN, which TOML
/// can spell (`inf`, `nan`).
fn float(x: f64) -> TokenStream {
    if x.is_finite() {
        let lit = Literal::f64_unsuffixed(x);
        quote!(#lit)
    } else if x.is_nan() {
        quote!(::core::f64::NAN)
    } else if x > 0.0 {
        quote!(::core::f64::INFINITY)
    } else {
        quote!(::core::f64::NEG_INFINITY)
    }
}

/// A bit set as a binary literal (`0b101`), readable in `cargo expand` output.
fn bits(set: u64) -> syn::LitInt {
    // `{:#b}` of an integer is always a valid integer literal, so `LitInt::new` cannot panic.
    syn::LitInt::new(&format!("{set:#b}"), proc_macro2::Span::call_site())
}

fn option<T: quote::ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(v) => quote!(Some(#v)),
        None => quote!(None),
    }
}

/// The bit set of the purposes with these ids (unknown ids and indices past 63 are left out;
/// the model reports both).
pub(crate) fn purpose_set<'a>(plan: &Plan, ids: impl Iterator<Item = &'a str>) -> u64 {
    let mut set = 0u64;
    for id in ids {
        if let Some(i) = plan.purposes.iter().position(|p| p.id.value == id)
            && i < MAX_SET
        {
            set |= 1 << i;
        }
    }
    set
}

/// The bit set of the destinations `event` may be routed to.
pub(crate) fn destination_set(plan: &Plan, event: &Event) -> u64 {
    let mut set = 0u64;
    for (i, d) in plan.destinations.iter().enumerate() {
        if i < MAX_SET && routes(event, d) {
            set |= 1 << i;
        }
    }
    set
}

/// Whether every purpose of `destination` is among the event's.
pub(crate) fn routes(event: &Event, destination: &Destination) -> bool {
    destination
        .purposes
        .iter()
        .all(|p| event.purposes.iter().any(|e| e.value == p.value))
}
