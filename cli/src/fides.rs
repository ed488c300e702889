//! `trackplan export fides`: the plan as a Fides manifest, for `fides evaluate` and data maps.
//!
//! Resources written (fideslang 3 models):
//! - `system`: the application that tracks (key = plan name), with one `privacy_declaration`
//!   per purpose: data use, the data categories collected for it (properties of its events,
//!   plus the user id the events carry, context properties, and the profile traits, group keys
//!   and group traits kept for it), data subjects, legal basis, retention, special-category
//!   basis, and the third parties that receive it. Its `egress` lists the destinations.
//! - one `system` per destination, with a declaration per purpose it uses data for and
//!   `ingress` from the application.
//! - `policy`: one per `[[policies]]` rule (Fides matching: categories and uses as written; any
//!   data subject).
//! - `data_category`: the plan's `[taxonomy.categories]` extensions.

use crate::manifest::Node;
use trackplan_model::{
    CategoryExtension, Destination, Event, IdentityTransform, LegalBasis, Match, Plan, Policy,
    Property, Purpose, RuleSet, Sensitivity,
};

/// What the plan does not say and a Fides manifest needs.
pub struct Options {
    /// fideslang data subject keys (`customer`, `visitor`, …).
    pub data_subjects: Vec<String>,
}

/// The manifest and what needs attention.
pub struct Export {
    /// `{system, policy, data_category}`.
    pub manifest: Node,
    /// Things that could not be expressed exactly.
    pub warnings: Vec<String>,
}

/// Builds the manifest: the application's system, one system per destination, the policies
/// and the taxonomy extensions, in that order.
pub fn export(plan: &Plan, opts: &Options) -> Export {
    let mut warnings = Vec::new();
    let app_key = fides_key(&plan.name.value);
    let subjects = Node::list(opts.data_subjects.iter().map(|s| Node::str(s.as_str())));

    let mut systems = vec![app_system(plan, &app_key, &subjects, &mut warnings)];
    systems.extend(
        plan.destinations
            .iter()
            .map(|d| destination_system(plan, d, &app_key, &subjects)),
    );
    let mut manifest = vec![("system", Node::List(systems))];
    if !plan.policies.is_empty() {
        manifest.push(("policy", Node::list(plan.policies.iter().map(policy))));
    }
    if !plan.taxonomy.is_empty() {
        manifest.push((
            "data_category",
            Node::list(plan.taxonomy.iter().map(data_category)),
        ));
    }
    Export {
        manifest: Node::map(manifest),
        warnings,
    }
}

/// The application's system: what it collects for each purpose, and where it sends it.
fn app_system(plan: &Plan, app_key: &str, subjects: &Node, warnings: &mut Vec<String>) -> Node {
    let declarations: Vec<Node> = plan
        .purposes
        .iter()
        .map(|purpose| app_declaration(plan, purpose, subjects, warnings))
        .collect();
    let mut app = vec![
        ("fides_key", Node::str(app_key.to_owned())),
        (
            "name",
            Node::str(format!("{} (tracking plan)", plan.name.value)),
        ),
        (
            "description",
            Node::str(format!(
                "Application analytics declared by the trackplan plan `{}` version {}.",
                plan.name.value, plan.version.value
            )),
        ),
        ("system_type", Node::str("Service")),
    ];
    if let Some(owner) = &plan.owner {
        app.push(("administrating_department", Node::str(owner.value.clone())));
    }
    app.push((
        "egress",
        Node::list(plan.destinations.iter().map(|d| egress(plan, d))),
    ));
    app.push(("privacy_declarations", Node::List(declarations)));
    Node::map(app)
}

/// The application's declaration for one purpose: its categories, special-category basis and
/// the third parties that receive data collected for it.
fn app_declaration(
    plan: &Plan,
    purpose: &Purpose,
    subjects: &Node,
    warnings: &mut Vec<String>,
) -> Node {
    let categories = categories_for(plan, purpose, None);
    let third: Vec<&Destination> = receivers(plan, purpose)
        .into_iter()
        .filter(|d| d.third_party.value)
        .collect();
    let mut decl = declaration(purpose, &categories, subjects);
    if let Some(basis) = special_basis(plan, purpose, warnings) {
        decl.push(("processes_special_category_data", Node::Bool(true)));
        decl.push(("special_category_legal_basis", Node::str(basis)));
    }
    decl.push((
        "data_shared_with_third_parties",
        Node::Bool(!third.is_empty()),
    ));
    if !third.is_empty() {
        let names: Vec<String> = third.iter().map(|d| d.id.value.clone()).collect();
        decl.push(("third_parties", Node::str(names.join(", "))));
        let shared: Vec<String> = third
            .iter()
            .flat_map(|d| categories_for(plan, purpose, Some(d)))
            .fold(Vec::new(), dedup);
        decl.push((
            "shared_categories",
            Node::list(shared.into_iter().map(Node::str)),
        ));
    }
    Node::map(decl)
}

/// One `egress` entry of the application: a destination and the categories that reach it.
fn egress(plan: &Plan, d: &Destination) -> Node {
    Node::map(vec![
        ("fides_key", Node::str(destination_key(plan, d))),
        ("type", Node::str("system")),
        (
            "data_categories",
            Node::list(
                plan.purposes
                    .iter()
                    .filter(|p| uses(d, p))
                    .flat_map(|p| categories_for(plan, p, Some(d)))
                    .fold(Vec::new(), dedup)
                    .into_iter()
                    .map(Node::str),
            ),
        ),
    ])
}

/// A destination's system: a declaration per purpose it uses data for, ingress from the app.
fn destination_system(plan: &Plan, d: &Destination, app_key: &str, subjects: &Node) -> Node {
    let declarations: Vec<Node> = plan
        .purposes
        .iter()
        .filter(|p| uses(d, p))
        .map(|p| Node::map(declaration(p, &categories_for(plan, p, Some(d)), subjects)))
        .collect();
    let mut system = vec![
        ("fides_key", Node::str(destination_key(plan, d))),
        ("name", Node::str(d.id.value.clone())),
        (
            "description",
            Node::str(
                d.description
                    .as_ref()
                    .map_or_else(String::new, |x| x.value.clone()),
            ),
        ),
        (
            "system_type",
            Node::str(if d.third_party.value {
                "Third Party"
            } else {
                "Service"
            }),
        ),
        ("meta", storage_meta(plan, d)),
        (
            "ingress",
            Node::List(vec![Node::map(vec![
                ("fides_key", Node::str(app_key.to_owned())),
                ("type", Node::str("system")),
            ])]),
        ),
        ("privacy_declarations", Node::List(declarations)),
    ];
    // What the destination is and where it keeps the data, when the plan says: fideslang's
    // free-form `meta` of a system.
    let meta: Vec<(&str, Node)> = d
        .kind
        .value
        .system()
        .map(|s| ("vendor", Node::str(s)))
        .into_iter()
        .chain(
            d.location
                .as_ref()
                .map(|l| ("location", Node::str(l.value.clone()))),
        )
        .collect();
    if !meta.is_empty() {
        system.push(("meta", Node::map(meta)));
    }
    Node::map(system)
}

/// What runs the destination, where it keeps the data and for how long (fideslang's free-form
/// `meta`).
fn storage_meta(plan: &Plan, d: &Destination) -> Node {
    let mut meta = vec![
        ("trackplan_kind", Node::str(d.kind.value.key())),
        ("system", Node::str(crate::stores::system(d.kind.value))),
    ];
    if let Some(location) = &d.location {
        meta.push(("location", Node::str(location.value.clone())));
    }
    meta.push(("retention", Node::str(crate::stores::enforcement(plan, d))));
    Node::map(meta)
}

/// A `[[policies]]` rule as a Fides policy (any data subject).
fn policy(p: &Policy) -> Node {
    Node::map(vec![
        ("fides_key", Node::str(fides_key(&p.name.value))),
        ("name", Node::str(p.name.value.clone())),
        (
            "rules",
            Node::List(vec![Node::map(vec![
                ("name", Node::str(p.name.value.clone())),
                ("data_categories", rule(&p.categories)),
                ("data_uses", rule(&p.data_uses)),
                (
                    "data_subjects",
                    Node::map(vec![
                        ("matches", Node::str("NONE")),
                        ("values", Node::List(Vec::new())),
                    ]),
                ),
            ])]),
        ),
    ])
}

/// A `[taxonomy.categories]` extension as a Fides data category below its parent.
fn data_category(c: &CategoryExtension) -> Node {
    let parent = c
        .key
        .value
        .rsplit_once('.')
        .map_or_else(String::new, |(p, _)| p.to_owned());
    let mut m = vec![
        ("fides_key", Node::str(c.key.value.clone())),
        ("name", Node::str(c.key.value.clone())),
        ("parent_key", Node::str(parent)),
    ];
    if let Some(d) = &c.description {
        m.push(("description", Node::str(d.value.clone())));
    }
    Node::map(m)
}

fn declaration(
    purpose: &Purpose,
    categories: &[String],
    subjects: &Node,
) -> Vec<(&'static str, Node)> {
    let mut decl = vec![
        ("name", Node::str(purpose.id.value.clone())),
        ("data_use", Node::str(purpose.data_use.value.clone())),
        (
            "data_categories",
            Node::list(categories.iter().map(|c| Node::str(c.as_str()))),
        ),
        ("data_subjects", subjects.clone()),
        (
            "legal_basis_for_processing",
            Node::str(legal_basis(purpose.basis.value)),
        ),
        ("flexible_legal_basis_for_processing", Node::Bool(false)),
    ];
    if let Some(days) = &purpose.retention_days {
        decl.push((
            "retention_period",
            Node::str(format!("{} days", days.value)),
        ));
    }
    decl
}

fn dedup(mut acc: Vec<String>, c: String) -> Vec<String> {
    if !acc.contains(&c) {
        acc.push(c);
    }
    acc
}

fn uses(d: &Destination, p: &Purpose) -> bool {
    d.purposes.value.iter().any(|x| x.value == p.id.value)
}

/// Destinations that use data for `purpose` and receive at least one event, trait, group
/// membership or group update collected for it.
fn receivers<'a>(plan: &'a Plan, purpose: &Purpose) -> Vec<&'a Destination> {
    plan.destinations
        .iter()
        .filter(|d| {
            uses(d, purpose)
                && (events_for(plan, purpose).any(|e| plan.routes_to(e, d))
                    || kept_for(plan, purpose)
                        .iter()
                        .any(|(_, purposes)| plan.routes_purposes(purposes, d)))
        })
        .collect()
}

/// Traits, group keys and group traits kept for `purpose`, each with the purposes that route
/// it (issue 11: profile and group data, declared like event properties).
fn kept_for<'a>(
    plan: &'a Plan,
    purpose: &Purpose,
) -> Vec<(&'a Property, &'a [trackplan_model::Spanned<String>])> {
    let mut out = Vec::new();
    let mut add = |p: &'a Property, purposes: &'a [trackplan_model::Spanned<String>]| {
        if purposes.iter().any(|x| x.value == purpose.id.value) {
            out.push((p, purposes));
        }
    };
    for t in &plan.traits {
        add(t, Plan::trait_purposes(t));
    }
    for g in &plan.groups {
        add(&g.key, &g.purposes.value);
        for t in &g.traits {
            add(t, Plan::trait_purposes(t));
        }
    }
    out
}

fn events_for<'a>(plan: &'a Plan, purpose: &'a Purpose) -> impl Iterator<Item = &'a Event> + 'a {
    plan.events
        .iter()
        .filter(move |e| e.purposes.value.iter().any(|p| p.value == purpose.id.value))
}

fn allowed(p: &Property, purpose: &Purpose) -> bool {
    p.purposes
        .as_ref()
        .is_none_or(|ps| ps.value.iter().any(|x| x.value == purpose.id.value))
}

/// Data categories collected for a purpose (optionally: that reach one destination): the user
/// id every event carries, then each categorized property in plan order.
fn categories_for(plan: &Plan, purpose: &Purpose, to: Option<&Destination>) -> Vec<String> {
    let mut out = vec![
        match plan.identity.transform.value {
            IdentityTransform::Hmac => "user.unique_id.pseudonymous",
            IdentityTransform::None => "user.unique_id",
        }
        .to_owned(),
    ];
    for e in events_for(plan, purpose) {
        if let Some(d) = to
            && !plan.routes_to(e, d)
        {
            continue;
        }
        let context = plan.context_of(e).map(|c| &c.property);
        for p in e.properties.iter().chain(context) {
            let withheld = to.is_some_and(|d| !p.audience().admits(d.third_party.value));
            if withheld || !allowed(p, purpose) {
                continue;
            }
            if let Some(c) = &p.category
                && !out.contains(&c.value)
            {
                out.push(c.value.clone());
            }
        }
    }
    for (p, purposes) in kept_for(plan, purpose) {
        if let Some(d) = to
            && (!plan.routes_purposes(purposes, d) || !p.audience().admits(d.third_party.value))
        {
            continue;
        }
        if let Some(c) = &p.category
            && !out.contains(&c.value)
        {
            out.push(c.value.clone());
        }
    }
    out
}

fn special_basis(plan: &Plan, purpose: &Purpose, warnings: &mut Vec<String>) -> Option<String> {
    let mut basis = None;
    let kept: Vec<(&Property, String)> = kept_for(plan, purpose)
        .into_iter()
        .map(|(p, _)| (p, "the profiles".to_owned()))
        .collect();
    let sent = events_for(plan, purpose).flat_map(|e| {
        e.properties
            .iter()
            .chain(plan.context_of(e).map(|c| &c.property))
            .map(move |p| (p, format!("\"{}\"", e.name.value)))
    });
    for (p, holder) in sent.chain(kept) {
        {
            if p.sensitivity.value != Sensitivity::Special || !allowed(p, purpose) {
                continue;
            }
            let given = p.special_basis.as_ref().map(|b| b.value.as_str());
            match given.and_then(fides_special_basis) {
                Some(b) => basis = basis.or(Some(b.to_owned())),
                None => warnings.push(format!(
                    "special-category property \"{}\" of {}: Art. 9(2) ground {} has no \
                     fideslang equivalent; `special_category_legal_basis` left out",
                    p.name.value,
                    holder,
                    given.map_or("(none)".to_owned(), |g| format!("`{g}`"))
                )),
            }
        }
    }
    basis
}

/// fideslang's `SpecialCategoryLegalBasisEnum` for the plan's Art. 9(2) grounds
/// (`trackplan_model::SPECIAL_BASES`, (a) to (j)).
fn fides_special_basis(key: &str) -> Option<&'static str> {
    Some(match key {
        "explicit_consent" => "Explicit consent",
        "employment_social_security" => "Employment, social security and social protection",
        "vital_interests" => "Vital interests",
        "non_profit_body" => "Not-for-profit bodies",
        "made_public_by_subject" => "Made public by the data subject",
        "legal_claims" => "Legal claims or judicial acts",
        "substantial_public_interest" => {
            "Reasons of substantial public interest (with a basis in law)"
        }
        "health_or_social_care" => "Health or social care (with a basis in law)",
        "public_health" => "Public health (with a basis in law)",
        "archiving_research_statistics" => {
            "Archiving, research and statistics (with a basis in law)"
        }
        _ => return None,
    })
}

fn legal_basis(b: LegalBasis) -> &'static str {
    match b {
        LegalBasis::Consent => "Consent",
        LegalBasis::Contract => "Contract",
        LegalBasis::LegalObligation => "Legal obligations",
        LegalBasis::VitalInterest => "Vital interests",
        LegalBasis::PublicTask => "Public interest",
        LegalBasis::LegitimateInterest => "Legitimate interests",
    }
}

fn rule(r: &RuleSet) -> Node {
    let matches = match r.matches.value {
        Match::Any => "ANY",
        Match::All => "ALL",
        Match::None => "NONE",
        Match::Other => "OTHER",
    };
    Node::map(vec![
        ("matches", Node::str(matches)),
        (
            "values",
            Node::list(r.values.iter().map(|v| Node::str(v.value.clone()))),
        ),
    ])
}

fn destination_key(plan: &Plan, d: &Destination) -> String {
    fides_key(&format!("{}.{}", plan.name.value, d.id.value))
}

/// A fides key (`[A-Za-z0-9_.<>-]+`) from any text.
fn fides_key(s: &str) -> String {
    let key: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if key.is_empty() { "_".to_owned() } else { key }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_fides_keys() {
        assert_eq!(
            fides_key("no health or biometric data for marketing!"),
            "no_health_or_biometric_data_for_marketing_"
        );
        assert_eq!(fides_key("shop.ads"), "shop.ads");
    }

    #[test]
    fn special_bases_map_to_fideslang_names() {
        assert_eq!(
            fides_special_basis("explicit_consent"),
            Some("Explicit consent")
        );
        assert_eq!(fides_special_basis("whatever"), None);
    }
}
