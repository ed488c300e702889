//! How changes read in the report: summaries of items and short phrases.

use super::*;

pub(super) fn marketing_phrase(p: &Purpose) -> &'static str {
    if p.sale_or_share.value {
        "sells or shares it"
    } else {
        "markets with it"
    }
}

pub(super) fn retention(days: Option<&Spanned<u32>>) -> String {
    match days {
        Some(d) if d.value == 1 => "1 day".to_owned(),
        Some(d) => format!("{} days", d.value),
        None => "no limit stated".to_owned(),
    }
}

pub(super) fn party(third: bool) -> &'static str {
    if third { "third party" } else { "first party" }
}

pub(super) fn required(yes: bool) -> String {
    if yes { "required" } else { "optional" }.to_owned()
}

pub(super) fn ids(v: &[Spanned<String>]) -> Vec<&str> {
    v.iter().map(|s| s.value.as_str()).collect()
}

pub(super) fn list(v: &[&str]) -> String {
    if v.is_empty() {
        return "(none)".to_owned();
    }
    v.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn quoted(v: &[&str]) -> String {
    v.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The event's purposes, as data.
pub(super) fn purposes_of(e: &Event) -> ChangeValue {
    ids(&e.purposes.value).into()
}

/// Retention as data: the number of days, or a phrase when the plan states no limit.
pub(super) fn retention_value(days: Option<&Spanned<u32>>) -> ChangeValue {
    match days {
        Some(d) => d.value.into(),
        None => "no limit stated".into(),
    }
}

/// Plain items joined with commas, for summaries that are data rather than Markdown.
pub(super) fn plain(v: &[&str]) -> String {
    if v.is_empty() {
        "none".to_owned()
    } else {
        v.join(", ")
    }
}

/// `receives "Search Performed"`, naming the properties a third party does not get.
pub(super) fn receives(e: &Event, d: &Destination) -> String {
    let withheld: Vec<&str> = e
        .properties
        .iter()
        .filter(|p| !p.audience().admits(d.third_party.value))
        .map(|p| p.name.value.as_str())
        .collect();
    if withheld.is_empty() {
        format!("receives \"{}\"", e.name.value)
    } else {
        format!(
            "receives \"{}\" without {} (redact: first party only)",
            e.name.value,
            quoted(&withheld)
        )
    }
}

pub(super) fn destination_summary(d: &Destination) -> String {
    format!(
        "{}, {}, for {}",
        d.kind.value.key(),
        party(d.third_party.value),
        plain(&ids(&d.purposes.value))
    )
}

pub(super) fn property_subject(e: &Event, p: &Property) -> ChangedItem {
    ChangedItem::Property {
        event: e.id.value.clone(),
        event_name: e.name.value.clone(),
        id: p.id.value.clone(),
        name: p.name.value.clone(),
    }
}

pub(super) fn property_summary(p: &Property) -> String {
    let mut s = format!("{}, {}", p.ty.value, p.sensitivity.value);
    if let Some(c) = &p.category {
        s.push_str(&format!(", {}", c.value));
    }
    if p.transform.value != Transform::None {
        s.push_str(&format!(", {}", p.transform.value));
    }
    if !p.required.value {
        s.push_str(", optional");
    }
    s
}

/// A type with its enum values: `enum ("free", "pro")`.
pub(super) fn type_detail(t: &PropertyType) -> String {
    match t {
        PropertyType::Enum { values } => format!("enum ({})", quoted(&ids(values))),
        PropertyType::List { items } => format!("list of {}", type_detail(items)),
        other => other.to_string(),
    }
}

pub(super) fn rule_summary(r: &RuleSet) -> String {
    format!("{} of {}", r.matches.value.key(), plain(&ids(&r.values)))
}

pub(super) fn policy_summary(p: &Policy) -> String {
    format!(
        "deny categories {} with data uses {}",
        rule_summary(&p.categories),
        rule_summary(&p.data_uses)
    )
}
