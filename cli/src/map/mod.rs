//! The data map: where personal data goes, drawn from the plan file.
//!
//! Three columns: data categories → purposes (with their legal basis) → destinations. An edge
//! from a category to a purpose counts the properties of that category collected for the
//! purpose; an edge from a purpose to a destination counts the properties the destination
//! receives for it. Third-party destinations, special-category data and purposes that sell or
//! share are marked.
//!
//! The map is built from **flows**: one flow is one datum the plan collects (a property of an
//! event, or the distinct id every event carries), with its category, the purposes it is
//! collected for and the destinations it reaches. Each kind of datum is one source function
//! ([`event_properties`], [`event_ids`], [`profile_traits`], [`group_traits`],
//! [`context_properties`]), added in [`flows`]; the graph, the diff, the layout and the drawing
//! take every kind alike.
//!
//! [`layout`] places the nodes and measures every label conservatively, [`svg`] draws it.

pub mod layout;
pub mod svg;

use std::collections::{BTreeMap, BTreeSet};
use trackplan_model::{
    IdentityTransform, LegalBasis, Plan, Property, Sensitivity, Spanned, Taxonomy,
};

/// The map's three columns, left to right.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Column {
    /// What the data is (fideslang data category).
    Category,
    /// What it is collected for.
    Purpose,
    /// Who receives it.
    Destination,
}

impl Column {
    fn key(self) -> &'static str {
        match self {
            Column::Category => "category",
            Column::Purpose => "purpose",
            Column::Destination => "destination",
        }
    }
}

/// One datum the plan collects.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The HTML id of its inventory row.
    pub anchor: String,
    /// How the inventory names it: `login_failed · email`.
    pub label: String,
    /// Its category node: a fideslang key, or a bucket for uncategorized data.
    pub category: String,
    /// How sensitive it is.
    pub sensitivity: Sensitivity,
    /// The purposes it is collected for.
    pub purposes: Vec<String>,
    /// `(purpose, destination)`: who receives it, for what.
    pub deliveries: Vec<(String, String)>,
}

/// Every flow of the plan, from every source.
pub fn flows(plan: &Plan) -> Vec<Flow> {
    let mut out = event_ids(plan);
    out.extend(event_properties(plan));
    out.extend(profile_traits(plan));
    out.extend(group_traits(plan));
    out.extend(context_properties(plan));
    out
}

/// The HTML id of the inventory row of a profile, group or context datum at `path` in the plan
/// (`traits.email`, `groups.company.key`, `context.app_version`; see `docs/profile.rs`). Plan ids
/// have no dots, so it never meets an event's [`row_anchor`].
pub fn kept_anchor(path: &str) -> String {
    format!("inv-{path}")
}

/// A datum kept for `purposes` (a trait's, a group kind's): every destination the routing rule
/// sends those purposes to, unless its transform keeps it from third parties.
fn kept_flow(
    plan: &Plan,
    path: String,
    label: String,
    p: &Property,
    purposes: &[Spanned<String>],
) -> Flow {
    Flow {
        anchor: kept_anchor(&path),
        label,
        category: category_of(
            p.category.as_ref().map(|c| c.value.as_str()),
            p.sensitivity.value,
        ),
        sensitivity: p.sensitivity.value,
        purposes: purposes.iter().map(|q| q.value.clone()).collect(),
        deliveries: plan
            .routes_for(purposes)
            .filter(|d| p.audience().admits(d.third_party.value))
            .flat_map(|d| {
                d.purposes
                    .value
                    .iter()
                    .map(|q| (q.value.clone(), d.id.value.clone()))
            })
            .collect(),
    }
}

/// Each trait of the user profile (`[traits.*]`), for its own purposes.
pub fn profile_traits(plan: &Plan) -> Vec<Flow> {
    plan.traits
        .iter()
        .map(|t| {
            kept_flow(
                plan,
                format!("traits.{}", t.id.value),
                format!("profile · {}", t.id.value),
                t,
                Plan::trait_purposes(t),
            )
        })
        .collect()
}

/// Each group kind's key (for the kind's purposes; it is also sent with the events that carry
/// the group, which go to destinations of those same purposes) and each trait of its profile.
pub fn group_traits(plan: &Plan) -> Vec<Flow> {
    let mut out = Vec::new();
    for g in &plan.groups {
        out.push(kept_flow(
            plan,
            format!("groups.{}.key", g.id.value),
            format!("{} · key", g.id.value),
            &g.key,
            &g.purposes.value,
        ));
        for t in &g.traits {
            out.push(kept_flow(
                plan,
                format!("groups.{}.traits.{}", g.id.value, t.id.value),
                format!("{} · {}", g.id.value, t.id.value),
                t,
                Plan::trait_purposes(t),
            ));
        }
    }
    out
}

/// Each context property, with the purposes and destinations of every event it is sent with
/// (as an event property of each of them would be).
pub fn context_properties(plan: &Plan) -> Vec<Flow> {
    let mut out = Vec::new();
    for c in &plan.context {
        let p = &c.property;
        let allowed = |q: &str| {
            p.purposes
                .as_ref()
                .is_none_or(|ps| ps.value.iter().any(|x| x.value == q))
        };
        let mut purposes: Vec<String> = Vec::new();
        let mut deliveries: Vec<(String, String)> = Vec::new();
        for e in plan.events.iter().filter(|e| c.applies_to(e)) {
            for q in e.purposes.value.iter().filter(|q| allowed(&q.value)) {
                if !purposes.contains(&q.value) {
                    purposes.push(q.value.clone());
                }
            }
            for d in plan
                .routes(e)
                .filter(|d| p.audience().admits(d.third_party.value))
            {
                for q in d.purposes.value.iter().filter(|q| allowed(&q.value)) {
                    let pair = (q.value.clone(), d.id.value.clone());
                    if !deliveries.contains(&pair) {
                        deliveries.push(pair);
                    }
                }
            }
        }
        out.push(Flow {
            anchor: kept_anchor(&format!("context.{}", p.id.value)),
            label: format!("context · {}", p.id.value),
            category: category_of(
                p.category.as_ref().map(|c| c.value.as_str()),
                p.sensitivity.value,
            ),
            sensitivity: p.sensitivity.value,
            purposes,
            deliveries,
        });
    }
    out
}

/// The distinct id every event carries to every destination it is routed to.
pub fn event_ids(plan: &Plan) -> Vec<Flow> {
    let category = match plan.identity.transform.value {
        IdentityTransform::Hmac => "user.unique_id.pseudonymous",
        IdentityTransform::None => "user.unique_id",
    };
    plan.events
        .iter()
        .map(|e| Flow {
            anchor: format!("inv-{}", e.id.value),
            label: format!("{} · distinct id", e.id.value),
            category: category.to_owned(),
            sensitivity: Sensitivity::Personal,
            purposes: e.purposes.value.iter().map(|p| p.value.clone()).collect(),
            deliveries: plan
                .routes(e)
                .flat_map(|d| {
                    d.purposes
                        .value
                        .iter()
                        .map(|q| (q.value.clone(), d.id.value.clone()))
                })
                .collect(),
        })
        .collect()
}

/// Each property of each event. A property with its own `purposes` is only on events whose
/// purposes it allows (validation), so it is collected for all the event's purposes; `redact`
/// properties never reach third parties.
pub fn event_properties(plan: &Plan) -> Vec<Flow> {
    let mut out = Vec::new();
    for e in &plan.events {
        for p in &e.properties {
            let allowed = |q: &str| {
                p.purposes
                    .as_ref()
                    .is_none_or(|ps| ps.value.iter().any(|x| x.value == q))
            };
            out.push(Flow {
                anchor: row_anchor(&e.id.value, &p.id.value),
                label: format!("{} · {}", e.id.value, p.id.value),
                category: category_of(
                    p.category.as_ref().map(|c| c.value.as_str()),
                    p.sensitivity.value,
                ),
                sensitivity: p.sensitivity.value,
                purposes: e
                    .purposes
                    .value
                    .iter()
                    .map(|q| q.value.clone())
                    .filter(|q| allowed(q))
                    .collect(),
                deliveries: plan
                    .routes(e)
                    .filter(|d| p.audience().admits(d.third_party.value))
                    .flat_map(|d| {
                        d.purposes
                            .value
                            .iter()
                            .filter(|q| allowed(&q.value))
                            .map(|q| (q.value.clone(), d.id.value.clone()))
                    })
                    .collect(),
            });
        }
    }
    out
}

/// The HTML id of the inventory row of property `prop` of `event` (see `docs.rs`).
pub fn row_anchor(event: &str, prop: &str) -> String {
    format!("inv-{event}-{prop}")
}

/// The category node of a datum: its fideslang key; uncategorized data (public or internal,
/// validation requires a category for personal data) is grouped by sensitivity.
fn category_of(category: Option<&str>, s: Sensitivity) -> String {
    match category {
        Some(c) => c.to_owned(),
        None => format!("({} data, no category)", s.key()),
    }
}

/// What a node stands for, as the reviewer reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    /// A destination run by a third party.
    pub third_party: bool,
    /// A special category (GDPR Art. 9/10, children's data).
    pub special: bool,
    /// A purpose that sells or shares data (GPC / CCPA opt-out).
    pub sale_or_share: bool,
    /// Data about a person (`personal` or `special`).
    pub personal: bool,
}

/// How a node or edge changed between two plans (the diff map); `Same` on a plain map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Unchanged.
    Same,
    /// Only in the new plan.
    Added,
    /// Only in the old plan.
    Removed,
    /// More data flows through it, or it gained a mark (third party, sale or share).
    Widened,
    /// Less data flows through it.
    Narrowed,
}

impl Status {
    /// The CSS class and `data-status` value.
    pub fn key(self) -> &'static str {
        match self {
            Status::Same => "same",
            Status::Added => "added",
            Status::Removed => "removed",
            Status::Widened => "widened",
            Status::Narrowed => "narrowed",
        }
    }
}

/// A box of the map.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its column.
    pub column: Column,
    /// The plan id (purpose, destination) or category key.
    pub id: String,
    /// The second line: sensitivity, legal basis and retention, kind and party.
    pub detail: String,
    /// The tooltip: everything the box stands for.
    pub title: String,
    /// Its marks.
    pub marks: Marks,
    /// Properties flowing through it (the larger of both sides in a diff).
    pub weight: usize,
    /// The inventory rows it stands for: `(anchor, label)`.
    pub rows: Vec<(String, String)>,
    /// How the change touched it.
    pub status: Status,
    /// What changed, in words (diff map only).
    pub change: String,
    /// The personal data categories that flow through it.
    pub personal: BTreeSet<String>,
}

impl Node {
    /// The HTML id of its entry in the map key.
    pub fn anchor(&self) -> String {
        format!("map-{}-{}", self.column.key(), self.id)
    }
}

/// A weighted arrow between two nodes of neighbouring columns.
#[derive(Debug, Clone)]
pub struct Edge {
    /// Index of the source node.
    pub from: usize,
    /// Index of the target node.
    pub to: usize,
    /// Properties along it (the new count in a diff; the old one for a removed edge).
    pub weight: usize,
    /// The old count (diff map).
    pub before: usize,
    /// Personal data categories along it.
    pub personal: BTreeSet<String>,
    /// How the change touched it.
    pub status: Status,
    /// Personal data categories that newly reach a third party along it (diff map): the one
    /// thing a reviewer must not miss.
    pub fresh: BTreeSet<String>,
}

impl Edge {
    /// Whether it carries personal data newly to a third party.
    pub fn alert(&self) -> bool {
        !self.fresh.is_empty()
    }
}

/// The data map of one plan, or of a change.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// The boxes, in column order, each column in the order of the plan.
    pub nodes: Vec<Node>,
    /// The arrows.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// The map of one plan.
    pub fn of(plan: &Plan) -> Graph {
        Graph::from_flows(plan, &flows(plan))
    }

    /// The map of the given flows of a plan (the plan gives the purposes' and destinations'
    /// attributes and order).
    pub fn from_flows(plan: &Plan, flows: &[Flow]) -> Graph {
        let taxonomy = Taxonomy::for_plan(plan);
        let mut g = Graph::default();
        let mut index: BTreeMap<(Column, String), usize> = BTreeMap::new();

        // Categories in order of first appearance.
        for f in flows {
            let key = (Column::Category, f.category.clone());
            let i = *index.entry(key).or_insert_with(|| {
                g.nodes.push(Node {
                    column: Column::Category,
                    id: f.category.clone(),
                    detail: String::new(),
                    title: String::new(),
                    marks: Marks::default(),
                    weight: 0,
                    rows: Vec::new(),
                    status: Status::Same,
                    change: String::new(),
                    personal: BTreeSet::new(),
                });
                g.nodes.len() - 1
            });
            let n = &mut g.nodes[i];
            n.weight += 1;
            n.rows.push((f.anchor.clone(), f.label.clone()));
            n.marks.special |=
                f.sensitivity == Sensitivity::Special || taxonomy.is_special(&f.category);
            n.marks.personal |= f.sensitivity >= Sensitivity::Personal;
        }
        for n in &mut g.nodes {
            let what = if n.marks.special {
                "special category".to_owned()
            } else if n.marks.personal {
                "personal".to_owned()
            } else {
                "not personal".to_owned()
            };
            n.detail = format!("{what} · {}", count(n.weight, "property", "properties"));
            n.title = format!(
                "{}: {}{}",
                n.id,
                n.detail,
                taxonomy
                    .special_ground(&n.id)
                    .map(|g| format!("; {g}"))
                    .unwrap_or_default()
            );
        }
        for p in &plan.purposes {
            let retention = p
                .retention_days
                .as_ref()
                .map_or_else(|| "no limit".to_owned(), |d| format!("{} days", d.value));
            let mut detail = format!("{} · {retention}", basis_short(p.basis.value));
            if p.sale_or_share.value {
                detail.push_str(" · sale/share");
            }
            index.insert((Column::Purpose, p.id.value.clone()), g.nodes.len());
            g.nodes.push(Node {
                column: Column::Purpose,
                id: p.id.value.clone(),
                title: format!(
                    "{}: {}; legal basis {}; retention {retention}{}",
                    p.id.value,
                    p.description.value.trim().trim_end_matches('.'),
                    p.basis.value.key(),
                    if p.sale_or_share.value {
                        "; sells or shares data (opt-out, GPC)"
                    } else {
                        ""
                    }
                ),
                detail,
                marks: Marks {
                    sale_or_share: p.sale_or_share.value,
                    ..Marks::default()
                },
                weight: 0,
                rows: Vec::new(),
                status: Status::Same,
                change: String::new(),
                personal: BTreeSet::new(),
            });
        }
        for d in &plan.destinations {
            let party = if d.third_party.value {
                "third party"
            } else {
                "first party"
            };
            let mut detail = format!("{} · {party}", d.kind.value.key());
            if let Some(l) = &d.location {
                detail.push_str(" · ");
                detail.push_str(&l.value);
            }
            index.insert((Column::Destination, d.id.value.clone()), g.nodes.len());
            g.nodes.push(Node {
                column: Column::Destination,
                id: d.id.value.clone(),
                title: format!(
                    "{}: {detail}{}",
                    d.id.value,
                    d.description
                        .as_ref()
                        .map(|x| format!("; {}", x.value.trim().trim_end_matches('.')))
                        .unwrap_or_default()
                ),
                detail,
                marks: Marks {
                    third_party: d.third_party.value,
                    ..Marks::default()
                },
                weight: 0,
                rows: Vec::new(),
                status: Status::Same,
                change: String::new(),
                personal: BTreeSet::new(),
            });
        }

        let mut edges: BTreeMap<(usize, usize), Edge> = BTreeMap::new();
        let mut add = |g: &mut Graph, from: usize, to: usize, f: &Flow, rows_to: bool| {
            let e = edges.entry((from, to)).or_insert_with(|| Edge {
                from,
                to,
                weight: 0,
                before: 0,
                personal: BTreeSet::new(),
                status: Status::Same,
                fresh: BTreeSet::new(),
            });
            e.weight += 1;
            if f.sensitivity >= Sensitivity::Personal {
                e.personal.insert(f.category.clone());
            }
            let n = &mut g.nodes[to];
            if f.sensitivity >= Sensitivity::Personal {
                n.personal.insert(f.category.clone());
            }
            if rows_to && !n.rows.iter().any(|(a, _)| *a == f.anchor) {
                n.rows.push((f.anchor.clone(), f.label.clone()));
                n.weight += 1;
                n.marks.personal |= f.sensitivity >= Sensitivity::Personal;
            }
        };
        for f in flows {
            let c = index[&(Column::Category, f.category.clone())];
            for q in &f.purposes {
                if let Some(&p) = index.get(&(Column::Purpose, q.clone())) {
                    add(&mut g, c, p, f, true);
                }
            }
            for (q, d) in &f.deliveries {
                if let (Some(&p), Some(&d)) = (
                    index.get(&(Column::Purpose, q.clone())),
                    index.get(&(Column::Destination, d.clone())),
                ) {
                    add(&mut g, p, d, f, true);
                }
            }
        }
        g.edges = edges.into_values().collect();
        for n in &mut g.nodes {
            if n.column != Column::Category {
                let received = count(n.weight, "property", "properties");
                n.title = format!("{} ({received})", n.title);
            }
        }
        g
    }

    /// The map of a change: every node and edge of either plan, marked with how it changed.
    pub fn diff(base: &Plan, head: &Plan) -> Graph {
        let old = Graph::of(base);
        let mut new = Graph::of(head);
        let key = |n: &Node| (n.column, n.id.clone());
        let old_index: BTreeMap<(Column, String), usize> = old
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (key(n), i))
            .collect();
        let mut map_old: Vec<Option<usize>> = vec![None; old.nodes.len()];
        for (i, n) in new.nodes.iter_mut().enumerate() {
            match old_index.get(&key(n)) {
                None => {
                    n.status = Status::Added;
                    n.change = "new".to_owned();
                }
                Some(&j) => {
                    map_old[j] = Some(i);
                    let o = &old.nodes[j];
                    let mut why = Vec::new();
                    if n.marks.third_party && !o.marks.third_party {
                        why.push("now a third party".to_owned());
                    }
                    if n.marks.sale_or_share && !o.marks.sale_or_share {
                        why.push("now sells or shares".to_owned());
                    }
                    if n.marks.special && !o.marks.special {
                        why.push("now special".to_owned());
                    }
                    let fresh: Vec<&str> = n
                        .personal
                        .difference(&o.personal)
                        .map(String::as_str)
                        .collect();
                    if !fresh.is_empty() {
                        why.push(format!("now gets {}", fresh.join(", ")));
                    }
                    if n.detail != o.detail && why.is_empty() && n.column == Column::Purpose {
                        why.push(format!("was {}", o.detail));
                    }
                    let widened = !why.is_empty() || n.weight > o.weight;
                    // What matters most first: the box may cut the line.
                    if n.weight != o.weight {
                        why.push(format!("{} → {} properties", o.weight, n.weight));
                    }
                    n.status = if widened {
                        Status::Widened
                    } else if n.weight < o.weight
                        || (o.marks.third_party && !n.marks.third_party)
                        || (o.marks.sale_or_share && !n.marks.sale_or_share)
                        || n.detail != o.detail
                    {
                        if why.is_empty() {
                            why.push(format!("was {}", o.detail));
                        }
                        Status::Narrowed
                    } else {
                        Status::Same
                    };
                    n.change = why.join("; ");
                }
            }
        }
        // Removed nodes join their column's end, so the new plan's order stays.
        let mut removed_nodes = Vec::new();
        for (j, o) in old.nodes.iter().enumerate() {
            if map_old[j].is_none() {
                let mut n = o.clone();
                n.status = Status::Removed;
                n.change = "removed".to_owned();
                removed_nodes.push((j, n));
            }
        }
        for (j, n) in removed_nodes {
            let at = new
                .nodes
                .iter()
                .rposition(|m| m.column <= n.column)
                .map_or(0, |i| i + 1);
            new.nodes.insert(at, n);
            for e in &mut new.edges {
                if e.from >= at {
                    e.from += 1;
                }
                if e.to >= at {
                    e.to += 1;
                }
            }
            for m in map_old.iter_mut().flatten() {
                if *m >= at {
                    *m += 1;
                }
            }
            map_old[j] = Some(at);
        }
        let old_edges: BTreeMap<(usize, usize), &Edge> = old
            .edges
            .iter()
            .filter_map(|e| Some(((map_old[e.from]?, map_old[e.to]?), e)))
            .collect();
        let mut seen = BTreeSet::new();
        for e in &mut new.edges {
            let to_third = new.nodes[e.to].marks.third_party;
            match old_edges.get(&(e.from, e.to)) {
                None => {
                    e.status = Status::Added;
                    if to_third {
                        e.fresh = e.personal.clone();
                    }
                }
                Some(o) => {
                    seen.insert((e.from, e.to));
                    e.before = o.weight;
                    let new_personal = e.personal.difference(&o.personal).next().is_some();
                    e.status = if e.weight > o.weight || new_personal {
                        Status::Widened
                    } else if e.weight < o.weight {
                        Status::Narrowed
                    } else {
                        Status::Same
                    };
                    if to_third {
                        e.fresh = if old.nodes[o.to].marks.third_party {
                            e.personal.difference(&o.personal).cloned().collect()
                        } else {
                            e.personal.clone()
                        };
                    }
                }
            }
        }
        for (k, o) in old_edges {
            if !seen.contains(&k) {
                new.edges.push(Edge {
                    from: k.0,
                    to: k.1,
                    weight: o.weight,
                    before: o.weight,
                    personal: o.personal.clone(),
                    status: Status::Removed,
                    fresh: BTreeSet::new(),
                });
            }
        }
        for e in &new.edges {
            if e.alert() {
                let n = &mut new.nodes[e.to];
                if n.status == Status::Added {
                    n.change = "new, receives personal data".to_owned();
                } else if n.change.contains("now gets ") {
                    n.change = n.change.replace("now gets ", "new personal data: ");
                } else if !n.change.contains("new personal data") {
                    n.change = if n.change.is_empty() {
                        "new personal data".to_owned()
                    } else {
                        format!("new personal data; {}", n.change)
                    };
                }
                if n.status == Status::Same {
                    n.status = Status::Widened;
                }
            }
        }
        new
    }

    /// The new flows of personal data to third parties, as `category → purpose → destination`
    /// sentences (diff map), for the page's alert list.
    pub fn alerts(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in self.edges.iter().filter(|e| e.alert()) {
            let p = &self.nodes[e.from];
            let d = &self.nodes[e.to];
            for c in &e.fresh {
                out.push(format!("{c} → {} → {} (third party)", p.id, d.id));
            }
        }
        out
    }
}

/// The data map section of the HTML docs: heading, how to read it, the SVG, the key.
pub fn docs_section(plan: &Plan) -> String {
    let g = Graph::of(plan);
    let l = layout::place(&g, false);
    let mut s = String::from(
        "<h2 id=\"map\">Data map</h2>\n<p>Where the data goes: each category of data (left) \
         flows to the purposes it is collected for (middle, with legal basis and retention) and \
         on to the destinations that receive it (right). An arrow's width is the number of \
         properties along it; hover a box or an arrow for details, click a box for its rows \
         in the data inventory.</p>\n",
    );
    s.push_str(&svg::section(&g, &l, false, &map_title(plan), true));
    s
}

/// The map alone, as an SVG file.
pub fn standalone(plan: &Plan) -> String {
    let g = Graph::of(plan);
    let l = layout::place(&g, false);
    svg::render(&g, &l, false, svg::Target::Standalone, &map_title(plan))
}

fn map_title(plan: &Plan) -> String {
    format!(
        "Data map of tracking plan {} (version {})",
        plan.name.value, plan.version.value
    )
}

fn basis_short(b: LegalBasis) -> &'static str {
    match b {
        LegalBasis::Consent => "consent",
        LegalBasis::LegitimateInterest => "legitimate interest",
        LegalBasis::Contract => "contract",
        LegalBasis::LegalObligation => "legal obligation",
        LegalBasis::VitalInterest => "vital interest",
        LegalBasis::PublicTask => "public task",
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests;
