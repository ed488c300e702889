//! The profile, group and context data of a plan in the three documents: rows of the
//! inventory, what the notice says is kept about the reader, and the Art. 30 categories.

use trackplan_model::{Destination, Plan, Property, PropertyType, Sensitivity};

use super::{Block, Code, Em, Inline, Strong, joined_codes, protection_plain, t, trim_period};

/// One piece of data kept outside events: what it is, the property, and its purposes.
struct Kept<'p> {
    /// "profile trait", "group key (company)", "group trait (company)", "context".
    kind: String,
    /// The group kind, for a group key or trait.
    group: Option<&'p str>,
    /// Where it is in the plan: `traits.email`, `groups.company.key`.
    path: String,
    property: &'p Property,
    /// The purposes it is kept for (for context: those of the events it is sent with).
    purposes: Vec<&'p str>,
    /// Who receives it.
    destinations: Vec<&'p Destination>,
    /// For context: the events it is sent with (`None`: every event).
    events: Option<Vec<&'p str>>,
}

/// The destinations that receive `p`, kept for `purposes`.
fn routes<'p>(
    plan: &'p Plan,
    p: &Property,
    purposes: &'p [trackplan_model::Spanned<String>],
) -> Vec<&'p Destination> {
    plan.routes_for(purposes)
        .filter(|d| p.audience().admits(d.third_party.value))
        .collect()
}

fn ids(p: &[trackplan_model::Spanned<String>]) -> Vec<&str> {
    p.iter().map(|x| x.value.as_str()).collect()
}

fn kept(plan: &Plan) -> Vec<Kept<'_>> {
    let mut out = Vec::new();
    for tr in &plan.traits {
        let purposes = Plan::trait_purposes(tr);
        out.push(Kept {
            kind: "profile trait".into(),
            group: None,
            path: format!("traits.{}", tr.id.value),
            property: tr,
            purposes: ids(purposes),
            destinations: routes(plan, tr, purposes),
            events: None,
        });
    }
    for g in &plan.groups {
        out.push(Kept {
            kind: format!("group key ({})", g.id.value),
            group: Some(&g.id.value),
            path: format!("groups.{}.key", g.id.value),
            property: &g.key,
            purposes: ids(&g.purposes.value),
            destinations: routes(plan, &g.key, &g.purposes.value),
            events: None,
        });
        for tr in &g.traits {
            let purposes = Plan::trait_purposes(tr);
            out.push(Kept {
                kind: format!("group trait ({})", g.id.value),
                group: Some(&g.id.value),
                path: format!("groups.{}.traits.{}", g.id.value, tr.id.value),
                property: tr,
                purposes: ids(purposes),
                destinations: routes(plan, tr, purposes),
                events: None,
            });
        }
    }
    for c in &plan.context {
        let p = &c.property;
        let mut purposes: Vec<&str> = Vec::new();
        let mut destinations: Vec<&Destination> = Vec::new();
        for e in plan.events.iter().filter(|e| c.applies_to(e)) {
            for x in &e.purposes.value {
                if super::property_allows(p, &x.value) && !purposes.contains(&x.value.as_str()) {
                    purposes.push(&x.value);
                }
            }
            for d in plan.routes(e) {
                if p.audience().admits(d.third_party.value)
                    && !destinations.iter().any(|k| k.id.value == d.id.value)
                {
                    destinations.push(d);
                }
            }
        }
        out.push(Kept {
            kind: "context".into(),
            group: None,
            path: format!("context.{}", p.id.value),
            property: p,
            purposes,
            destinations,
            events: c
                .events
                .as_ref()
                .map(|ids| ids.value.iter().map(|e| e.value.as_str()).collect()),
        });
    }
    out
}

/// The inventory's table of profile, group and context data.
pub(super) fn inventory(plan: &Plan, doc: &mut Vec<Block>) {
    let kept = kept(plan);
    if kept.is_empty() {
        return;
    }
    doc.push(Block::Heading(
        3,
        "profiles".into(),
        vec![t("Profiles, groups and context")],
    ));
    doc.push(Block::Para(vec![t(
        "Data kept about users and groups (profile and group traits, group keys) goes to the \
         destinations of its own purposes; context properties are sent with the events listed.",
    )]));
    let rows = kept
        .iter()
        .map(|k| {
            let p = k.property;
            let mut ty = vec![t(p.ty.value.to_string())];
            if let PropertyType::Enum { values } = &p.ty.value {
                ty.push(t(": "));
                ty.extend(joined_codes(values.iter().map(|v| v.value.as_str())));
            }
            let sent_with = match &k.events {
                Some(events) => joined_codes(events.iter().copied()),
                None if k.kind == "context" => vec![t("every event")],
                None => vec![t("—")],
            };
            vec![
                vec![t(k.kind.clone())],
                vec![
                    Inline::Anchor(crate::map::kept_anchor(&k.path)),
                    t(p.name.value.clone()),
                    t(" "),
                    Code(k.path.clone()),
                ],
                ty,
                vec![Inline::Sensitivity(p.sensitivity.value)],
                p.category
                    .as_ref()
                    .map_or_else(|| vec![t("—")], |c| vec![Code(c.value.clone())]),
                vec![Code(p.transform.value.to_string())],
                joined_codes(k.purposes.iter().copied()),
                sent_with,
                if k.destinations.is_empty() {
                    vec![t("none")]
                } else {
                    joined_codes(k.destinations.iter().map(|d| d.id.value.as_str()))
                },
            ]
        })
        .collect();
    doc.push(Block::Table {
        class: "inventory",
        head: vec![
            "Kind",
            "Name",
            "Type",
            "Sensitivity",
            "Category",
            "Transform",
            "Purposes",
            "Sent with",
            "Destinations",
        ],
        rows,
    });
}

/// For the notice: what is kept in the reader's profile (and their groups') for `purpose`, and
/// what context goes with its events.
pub(super) fn notice(plan: &Plan, purpose: &str, doc: &mut Vec<Block>) {
    let items: Vec<Vec<Inline>> = kept(plan)
        .iter()
        .filter(|k| k.purposes.contains(&purpose))
        .map(|k| {
            let p = k.property;
            let mut line = vec![Em(p.name.value.clone())];
            if let Some(d) = &p.description {
                line.push(t(super::aside(trim_period(&d.value))));
            }
            line.push(t(match (k.group, k.kind.as_str()) {
                (Some(g), _) => format!(", kept about your {}", g.replace('_', " ")),
                (None, "context") => ", sent with what we record".to_owned(),
                (None, _) => ", kept in your profile".to_owned(),
            }));
            if p.sensitivity.value >= Sensitivity::Personal {
                line.push(t(format!(
                    ", {}",
                    protection_plain(&p.transform.value, p.sensitivity.value)
                )));
            }
            line.push(t("."));
            line
        })
        .collect();
    if items.is_empty() {
        return;
    }
    doc.push(Block::Para(vec![Strong(
        "What we keep about you and your organisation:".into(),
    )]));
    doc.push(Block::List(items));
}

/// The Art. 30 categories of personal data (and special categories) kept for `purpose`
/// outside events, appended to the event-based ones.
pub(super) fn record(
    plan: &Plan,
    purpose: &str,
    categories: &mut Vec<Inline>,
    special: &mut Vec<Inline>,
) {
    for k in kept(plan).iter().filter(|k| k.purposes.contains(&purpose)) {
        let p = k.property;
        if p.sensitivity.value < Sensitivity::Personal {
            continue;
        }
        let cell = if p.sensitivity.value == Sensitivity::Special {
            &mut *special
        } else {
            &mut *categories
        };
        let only_none = cell.len() == 1 && matches!(&cell[0], Inline::Text(s) if s == "none");
        if only_none {
            cell.clear();
        }
        if !cell.is_empty() {
            cell.push(t("; "));
        }
        cell.push(t(format!("{} ({})", p.name.value, k.kind)));
        if let Some(c) = &p.category {
            cell.push(t(" "));
            cell.push(Code(c.value.clone()));
        }
    }
}
