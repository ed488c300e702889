//! The static `PlanInfo` value: everything the runtime knows about a plan, precomputed.
//!
//! Purpose and destination sets become `u64` bit masks (bit `i` = declaration index `i`),
//! routes are computed here once, transforms are resolved to their runtime form, and each
//! property's JSON key (`"Plan Tier":`) is escaped here so the `track` path only copies bytes.

use trackplan_model::{
    Event, Granularity, IdentityTransform, LegalBasis, Plan, Property, Sensitivity, Transform,
};
use trackplan_vocab::{DestinationSet, MAX_ITEMS, PurposeSet};

use crate::code::{Code, Comma, Float, Opt, lit};
use crate::ty::ValueKind;

/// An event as it goes into `PlanInfo::events`: the properties to describe, in order.
pub(crate) struct EventEntry<'p> {
    /// The event.
    pub event: &'p Event,
    /// Its properties in `EventInfo::properties` order.
    pub properties: Vec<&'p Property>,
}

/// Writes the `PlanInfo` value of `plan`, with `events` as its event list: a block expression
/// that imports the runtime's plan types under their own names first, so the (long) literal
/// reads like hand-written data and stays small for the compiler.
///
/// Each purpose carries the identity of its marker type (`markers`, parallel to
/// `plan.purposes`) so `Consent` can refuse a hand-made marker claiming its index.
pub(crate) fn plan_info(
    out: &mut Code,
    plan: &Plan,
    hash: &str,
    events: &[EventEntry<'_>],
    markers: &[Option<proc_macro2::Ident>],
) {
    let name = &plan.name.value;
    let version = plan.version.value;
    let has_sections =
        !plan.traits.is_empty() || !plan.groups.is_empty() || !plan.context.is_empty();
    let identity = match plan.identity.transform.value {
        IdentityTransform::Hmac => "Hmac",
        IdentityTransform::None => "None",
    };
    write!(
        out,
        "{{
    #[allow(unused_imports)]
    use ::core::option::Option::{{None, Some}};
    #[allow(unused_imports)]
    use ::trackplan::__private::{{
        Constraints, DestinationSet, Granularity, IdentityTransform, LegalBasis, PurposeSet,
        Sensitivity, TransformInfo, ValueKind, constraints, context_info, destination_info,
        event_groups, event_info, group_info, marker, plan_info, plan_sections, property,
        purpose_info, purpose_marker, trait_info,
    }};
    #[allow(dead_code)]
    const UNCONSTRAINED: Constraints = constraints(None, None, None);
    {sections}plan_info(
        {name},
        {version},
        {label},
        {hash},
        IdentityTransform::{identity},
        &[\n",
        name = lit(name),
        sections = if has_sections {
            "plan_sections(\n    "
        } else {
            ""
        },
        label = lit(&format!("{name}@{version}")),
        hash = lit(hash),
    );
    for (i, p) in plan.purposes.iter().enumerate() {
        let marker = markers.get(i).and_then(Option::as_ref);
        if marker.is_some() {
            out.push("            purpose_marker(\n");
        }
        write!(
            out,
            "            purpose_info(
                {id},
                {description},
                LegalBasis::{basis},
                {data_use},
                {retention},
                {sale_or_share},
            ),\n",
            id = lit(&p.id.value),
            description = lit(&p.description.value),
            basis = legal_basis(p.basis.value),
            data_use = lit(&p.data_use.value),
            retention = Opt(p.retention_days.as_ref().map(|d| d.value)),
            sale_or_share = p.sale_or_share.value,
        );
        if let Some(m) = marker {
            write!(
                out,
                "                marker::<purpose::{m}>,\n            ),\n"
            );
        }
    }
    out.push("        ],\n        &[\n");
    for d in &plan.destinations {
        write!(
            out,
            "            destination_info(
                {id},
                {kind},
                {description},
                PurposeSet::from_bits({set:#b}),
                {third_party},
            ),\n",
            id = lit(&d.id.value),
            kind = lit(d.kind.value.key()),
            description = lit(d.description.as_ref().map_or("", |s| s.value.as_str())),
            set = purpose_set(plan, d.purposes.iter().map(|p| p.value.as_str())),
            third_party = d.third_party.value,
        );
    }
    out.push("        ],\n        &[\n");
    for e in events {
        event_info(out, plan, e);
    }
    out.push("        ],\n    )");
    if has_sections {
        sections_info(out, plan);
    }
    out.push("\n}");
}

/// The `traits`, `groups` and `context` arguments of `plan_sections`, and its closing paren.
fn sections_info(out: &mut Code, plan: &Plan) {
    out.push(",\n    &[\n");
    for t in &plan.traits {
        trait_info(out, plan, t, None);
    }
    out.push("    ],\n    &[\n");
    for g in &plan.groups {
        let routes = routes(plan, &g.purposes.value);
        write!(
            out,
            "        group_info(\n            {id},\n",
            id = lit(&g.id.value)
        );
        property_info(out, &g.key);
        write!(
            out,
            "            PurposeSet::from_bits({purposes:#b}),
            DestinationSet::from_bits({routes:#b}),
            &[\n",
            purposes = purpose_set(plan, g.purposes.value.iter().map(|p| p.value.as_str())),
        );
        for t in &g.traits {
            trait_info(out, plan, t, Some(routes));
        }
        out.push("            ],\n        ),\n");
    }
    out.push("    ],\n    &[\n");
    let index = |id: &str| plan.events.iter().position(|e| e.id.value == id);
    for c in &plan.context {
        out.push("        context_info(\n");
        property_info(out, &c.property);
        match &c.events {
            None => out.push("            None,\n"),
            Some(ids) => writeln!(
                out,
                "            Some(&[{}]),",
                Comma(ids.value.iter().filter_map(|id| index(&id.value)))
            ),
        }
        out.push("        ),\n");
    }
    out.push("    ],\n)");
}

/// A trait's `trait_info`: its routes by the routing rule, within its group kind's.
fn trait_info(out: &mut Code, plan: &Plan, t: &Property, within: Option<u64>) {
    let purposes = Plan::trait_purposes(t);
    let routes = routes(plan, purposes) & within.unwrap_or(u64::MAX);
    out.push("            trait_info(\n");
    property_info(out, t);
    write!(
        out,
        "                PurposeSet::from_bits({purposes:#b}),
                DestinationSet::from_bits({routes:#b}),
            ),\n",
        purposes = purpose_set(plan, purposes.iter().map(|p| p.value.as_str())),
    );
}

/// The bit set of the destinations that receive data kept for `purposes`.
fn routes(plan: &Plan, purposes: &[trackplan_model::Spanned<String>]) -> u64 {
    let set: DestinationSet = plan
        .destinations
        .iter()
        .enumerate()
        .filter(|(_, d)| plan.routes_purposes(purposes, d))
        .map(|(i, _)| i)
        .collect();
    set.bits()
}

fn event_info(out: &mut Code, plan: &Plan, entry: &EventEntry<'_>) {
    let event = entry.event;
    let groups: Vec<usize> = event
        .groups
        .value
        .iter()
        .filter_map(|id| plan.groups.iter().position(|g| g.id.value == id.value))
        .collect();
    if !groups.is_empty() {
        out.push("            event_groups(\n");
    }
    write!(
        out,
        "            event_info(
                {id},
                {name},
                PurposeSet::from_bits({purposes:#b}),
                DestinationSet::from_bits({destinations:#b}),
                &[\n",
        id = lit(&event.id.value),
        name = lit(&event.name.value),
        purposes = purpose_set(plan, event.purposes.iter().map(|p| p.value.as_str())),
        destinations = destination_set(plan, event),
    );
    for p in &entry.properties {
        property_info(out, p);
    }
    out.push("                ],\n            ),\n");
    if !groups.is_empty() {
        write!(
            out,
            "                &[{}],\n            ),\n",
            Comma(groups.iter())
        );
    }
}

fn property_info(out: &mut Code, p: &Property) {
    let sensitivity = match p.sensitivity.value {
        Sensitivity::Public => "Public",
        Sensitivity::Internal => "Internal",
        Sensitivity::Personal => "Personal",
        Sensitivity::Special => "Special",
    };
    write!(
        out,
        "                    property({id}, {name}, {json_key}, {kind}, Sensitivity::{sensitivity}, {category}, ",
        id = lit(&p.id.value),
        name = lit(&p.name.value),
        json_key = lit(&json_key(&p.name.value)),
        kind = ValueKind(&p.ty.value),
        category = Opt(p.category.as_ref().map(|c| lit(&c.value))),
    );
    transform_info(out, p);
    write!(out, ", {}, ", p.required.value);
    let c = &p.constraints;
    if c.max_length.is_none() && c.min.is_none() && c.max.is_none() {
        out.push("UNCONSTRAINED");
    } else {
        write!(
            out,
            "constraints({}, {}, {})",
            Opt(c.max_length.as_ref().map(|m| m.value)),
            Opt(c.min.as_ref().map(|m| Float(m.value))),
            Opt(c.max.as_ref().map(|m| Float(m.value))),
        );
    }
    out.push("),\n");
}

/// The JSON object key of a property as the runtime writes it: `"name":`.
fn json_key(name: &str) -> String {
    let mut key = crate::doc::json(name);
    key.push(':');
    key
}

fn transform_info(out: &mut Code, p: &Property) {
    match &p.transform.value {
        Transform::None => out.push("TransformInfo::None"),
        Transform::Hmac => {
            // E-mail addresses are case-insensitive in practice: hash them lower-cased so one
            // person does not become two pseudonyms.
            let lowercase = p.category.as_ref().is_some_and(|c| {
                c.value == "user.contact.email" || c.value.starts_with("user.contact.email.")
            });
            write!(out, "TransformInfo::Hmac {{ lowercase: {lowercase} }}");
        }
        Transform::TruncateIp => out.push("TransformInfo::TruncateIp"),
        Transform::StripQuery => out.push("TransformInfo::StripQuery"),
        Transform::Bucket { buckets } => write!(
            out,
            "TransformInfo::Bucket(&[{}])",
            Comma(buckets.iter().map(|b| Float(*b)))
        ),
        Transform::Coarsen { to } => {
            let to = match to {
                Granularity::Hour => "Hour",
                Granularity::Day => "Day",
                Granularity::Month => "Month",
            };
            write!(out, "TransformInfo::Coarsen(Granularity::{to})");
        }
        Transform::Redact => out.push("TransformInfo::Redact"),
    }
}

fn legal_basis(basis: LegalBasis) -> &'static str {
    match basis {
        LegalBasis::Consent => "Consent",
        LegalBasis::Contract => "Contract",
        LegalBasis::LegalObligation => "LegalObligation",
        LegalBasis::VitalInterest => "VitalInterest",
        LegalBasis::PublicTask => "PublicTask",
        LegalBasis::LegitimateInterest => "LegitimateInterest",
    }
}

/// The bit set of the purposes with these ids (unknown ids and indices past
/// [`MAX_ITEMS`] are left out; the model reports both).
pub(crate) fn purpose_set<'a>(plan: &Plan, ids: impl Iterator<Item = &'a str>) -> u64 {
    let mut set = PurposeSet::EMPTY;
    for id in ids {
        if let Some(i) = plan.purposes.iter().position(|p| p.id.value == id)
            && i < MAX_ITEMS
        {
            set = set.with(i);
        }
    }
    set.bits()
}

/// The bit set of the destinations `event` may be routed to, by the model's routing rule.
pub(crate) fn destination_set(plan: &Plan, event: &Event) -> u64 {
    let set: DestinationSet = plan
        .destinations
        .iter()
        .enumerate()
        .filter(|(_, d)| plan.routes_to(event, d))
        .map(|(i, _)| i)
        .collect();
    set.bits()
}
