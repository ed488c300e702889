//! Comparisons the classification needs: how strongly a transform protects, whether two types
//! are the same, which events a destination receives.

use super::*;
use trackplan_vocab::DestinationSet;

/// Whether a purpose markets, sells or shares: the uses reviewers watch most closely.
pub(super) fn is_marketing(p: &Purpose) -> bool {
    p.sale_or_share.value
        || p.data_use.value == "marketing"
        || p.data_use.value.starts_with("marketing.")
}

pub(super) fn names_with(e: &Event, pick: impl Fn(Sensitivity) -> bool) -> Vec<&str> {
    e.properties
        .iter()
        .filter(|p| pick(p.sensitivity.value))
        .map(|p| p.name.value.as_str())
        .collect()
}

pub(super) fn events_routed_to<'a>(
    plan: &'a Plan,
    d: &'a Destination,
) -> impl Iterator<Item = &'a Event> {
    plan.events
        .iter()
        .filter(move |e| plan.routes(e).any(|r| r.id.value == d.id.value))
}

/// The ids of the third-party destinations that receive property `p` of event `e`: the
/// vocabulary's routing rule picks the destinations, its audience rule keeps third parties out
/// for `redact` properties.
pub(super) fn third_party_recipients<'a>(plan: &'a Plan, e: &Event, p: &Property) -> Vec<&'a str> {
    let indexed = || plan.destinations.iter().enumerate();
    let routed: DestinationSet = indexed()
        .filter(|(_, d)| plan.routes_to(e, d))
        .map(|(i, _)| i)
        .collect();
    let third: DestinationSet = indexed()
        .filter(|(_, d)| d.third_party.value)
        .map(|(i, _)| i)
        .collect();
    p.audience()
        .recipients(routed, third)
        .intersection(third)
        .iter()
        .filter_map(|i| plan.destinations.get(i))
        .map(|d| d.id.value.as_str())
        .collect()
}

/// Wire names of the events routed to `hd` in `head` that were not routed to `bd` in `base`.
pub(super) fn newly_routed(
    base: &Plan,
    bd: &Destination,
    head: &Plan,
    hd: &Destination,
) -> Vec<String> {
    events_routed_to(head, hd)
        .filter(|he| {
            !base
                .event(&he.id)
                .is_some_and(|be| base.routes(be).any(|r| r.id.value == bd.id.value))
        })
        .map(|e| e.name.value.clone())
        .collect()
}

/// The plan's reason for sending personal data as is, for the reviewer to judge.
pub(super) fn justification(p: &Property) -> Vec<String> {
    match (&p.transform.value, &p.justification) {
        (Transform::None, Some(j)) if p.sensitivity.value >= Sensitivity::Personal => {
            vec![format!("justification given: \"{}\"", j.value)]
        }
        _ => Vec::new(),
    }
}

pub(super) fn same_type(a: &PropertyType, b: &PropertyType) -> bool {
    match (a, b) {
        (PropertyType::Enum { values: x }, PropertyType::Enum { values: y }) => ids(x) == ids(y),
        (PropertyType::List { items: x }, PropertyType::List { items: y }) => same_type(x, y),
        _ => {
            a.key() == b.key()
                && !matches!(a, PropertyType::Enum { .. } | PropertyType::List { .. })
        }
    }
}

pub(super) fn is_text(t: &PropertyType) -> bool {
    match t {
        PropertyType::String => true,
        PropertyType::List { items } => is_text(items),
        _ => false,
    }
}

/// Compares how much two transforms protect a value, when that is clear. `None` means they
/// protect in ways that do not compare (hashing versus truncating, say).
///
/// Clear cases: anything protects more than `none`; coarser time granularity protects more;
/// bucket bounds that are a subset of the others (fewer, wider buckets) protect more.
pub(super) fn strength(before: &Transform, after: &Transform) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (before, after) {
        (Transform::None, Transform::None) => Some(Equal),
        (Transform::None, _) => Some(Greater),
        (_, Transform::None) => Some(Less),
        (Transform::Coarsen { to: b }, Transform::Coarsen { to: a }) => Some(a.cmp(b)),
        (Transform::Bucket { buckets: b }, Transform::Bucket { buckets: a }) => {
            let a_in_b = a.iter().all(|x| b.contains(x));
            let b_in_a = b.iter().all(|x| a.contains(x));
            match (a_in_b, b_in_a) {
                (true, true) => Some(Equal),
                (true, false) => Some(Greater),
                (false, true) => Some(Less),
                (false, false) => None,
            }
        }
        _ => None,
    }
}
