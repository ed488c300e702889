//! Rules that keep a valid plan compilable and documentable: ids short enough to be file
//! names, and no list that names the same purpose twice.
//!
//! Both come from what the generated code does with a plan, not from the privacy rules: an
//! event's purposes become one `impl HasPurpose<P>` each, so a purpose listed twice is two
//! identical impls (rustc E0119); an id becomes a type whose `cargo doc` page is a file named
//! after it, and file systems stop at 255 bytes.
//!
//! A repeated purpose is an error, not something de-duplicated quietly: the plan file is what
//! people review, and a list that says `["ads", "ads"]` is almost always a slip for another
//! purpose (a copied line, a bad merge). Reporting it keeps the file and what is generated from
//! it saying the same thing.

use std::collections::HashMap;

use crate::diagnostic::Diagnostic;
use crate::plan::Plan;
use crate::source::{Span, Spanned};

/// The longest id (purpose, destination, property, event, plan name), in bytes.
///
/// Generated type names are built from one or two ids (`LoginFailedReason` from an event and a
/// property), and rustdoc writes a page `enum.<Name>.html` for each; 64 keeps two ids and the
/// page's decorations well inside the 255-byte file-name limit of common file systems, while
/// being longer than any id a reader wants to see in a diff.
pub const MAX_ID_LEN: usize = 64;

/// Diagnostics for ids that are too long and purpose lists with repeated entries.
pub(super) fn check(plan: &Plan) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut id = |kind: &str, id: &Spanned<String>| {
        if let Some(d) = too_long(kind, id) {
            diags.push(d);
        }
    };
    id("plan name", &plan.name);
    for p in &plan.purposes {
        id("purpose", &p.id);
    }
    for d in &plan.destinations {
        id("destination", &d.id);
    }
    for p in &plan.properties {
        id("property", &p.id);
    }
    for e in &plan.events {
        id("event", &e.id);
        for p in e.properties.iter().filter(|p| p.shared.is_none()) {
            id("property", &p.id);
        }
    }
    for t in &plan.traits {
        id("trait", &t.id);
    }
    for g in &plan.groups {
        id("group kind", &g.id);
        for t in &g.traits {
            id("trait", &t.id);
        }
    }
    for c in &plan.context {
        id("context property", &c.property.id);
    }

    for d in &plan.destinations {
        repeated(
            &mut diags,
            &format!("destination `{}`", d.id.value),
            &d.purposes,
        );
    }
    for p in &plan.properties {
        if let Some(purposes) = &p.purposes {
            repeated(&mut diags, &format!("property `{}`", p.id.value), purposes);
        }
    }
    for t in &plan.traits {
        if let Some(purposes) = &t.purposes {
            repeated(&mut diags, &format!("trait `{}`", t.id.value), purposes);
        }
    }
    for g in &plan.groups {
        repeated(
            &mut diags,
            &format!("group kind `{}`", g.id.value),
            &g.purposes,
        );
        for t in &g.traits {
            // An inherited list is the group's, checked just above.
            if let Some(purposes) = t.purposes.as_ref().filter(|p| p.span != g.purposes.span) {
                let what = format!("trait `{}` of group kind `{}`", t.id.value, g.id.value);
                repeated(&mut diags, &what, purposes);
            }
        }
    }
    for c in &plan.context {
        if let Some(purposes) = &c.property.purposes {
            let what = format!("context property `{}`", c.property.id.value);
            repeated(&mut diags, &what, purposes);
        }
    }
    for e in &plan.events {
        repeated(&mut diags, &format!("event `{}`", e.id.value), &e.purposes);
        // A shared property's list was checked at its definition; an event's own `purposes`
        // on it (or an inline property) has a span of its own.
        for p in &e.properties {
            let Some(purposes) = &p.purposes else {
                continue;
            };
            let shared = p
                .shared
                .as_deref()
                .and_then(|s| plan.properties.iter().find(|d| d.id.value == s))
                .and_then(|d| d.purposes.as_ref());
            if shared.is_some_and(|s| s.span == purposes.span) {
                continue;
            }
            let what = format!("property `{}` of event `{}`", p.id.value, e.id.value);
            repeated(&mut diags, &what, purposes);
        }
    }
    diags
}

fn too_long(kind: &str, id: &Spanned<String>) -> Option<Diagnostic> {
    if id.value.len() <= MAX_ID_LEN {
        return None;
    }
    let shown: String = id.value.chars().take(24).collect();
    Some(
        Diagnostic::error(
            "id-too-long",
            format!(
                "{kind} id `{shown}…` is {} bytes long; ids are at most {MAX_ID_LEN}",
                id.value.len()
            ),
        )
        .at(id.span)
        .with_label("too long")
        .with_help(format!(
            "shorten it to {MAX_ID_LEN} characters or fewer: the id names a generated type, and `cargo doc` writes a file named after it; the wire name (`name = \"…\"`) may stay long"
        )),
    )
}

/// One error per entry of `list` that repeats an earlier one.
fn repeated(diags: &mut Vec<Diagnostic>, what: &str, list: &Spanned<Vec<Spanned<String>>>) {
    let mut seen: HashMap<&str, Span> = HashMap::with_capacity(list.value.len());
    for p in &list.value {
        match seen.get(p.value.as_str()) {
            Some(&first) => diags.push(
                Diagnostic::error(
                    "duplicate-purpose",
                    format!("{what} lists purpose `{}` twice", p.value),
                )
                .at(p.span)
                .with_label("listed again here")
                .with_secondary(first, "first listed here")
                .with_help(format!(
                    "remove this `{}`, or write the purpose you meant",
                    p.value
                )),
            ),
            None => {
                seen.insert(&p.value, p.span);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::fixture::{location_of, run};

    /// The codes and rendered text of every diagnostic of the shared test plan + `snippet`.
    fn diagnostics(snippet: &str) -> (Vec<&'static str>, String) {
        let (src, diagnostics) = run(snippet);
        let codes = diagnostics.iter().map(|d| d.code).collect();
        let text = diagnostics
            .iter()
            .map(|d| d.render(&src))
            .collect::<Vec<_>>()
            .join("\n");
        (codes, text)
    }

    #[test]
    fn a_purpose_listed_twice_on_an_event_is_an_error_at_the_second() {
        let snippet = "\n[events.opened]\npurposes = [\"analytics\", \"analytics\" ]\n";
        let (codes, text) = diagnostics(snippet);
        assert_eq!(codes, ["duplicate-purpose"], "{text}");
        assert!(
            text.contains("event `opened` lists purpose `analytics` twice"),
            "{text}"
        );
        // At the second entry.
        let (src, _) = run(snippet);
        let second = location_of(&src, "\"analytics\" ]");
        assert!(text.contains(&format!("--> {second}")), "{text}");
        assert!(text.contains("first listed here"), "{text}");
        assert!(text.contains("help: remove this `analytics`"), "{text}");
    }

    #[test]
    fn repeated_purposes_on_destinations_and_properties_are_errors() {
        let (codes, text) = diagnostics(
            r#"
[destinations.archive]
kind = "ndjson"
purposes = ["analytics", "analytics"]

[properties.email]
type = "string"
sensitivity = "internal"
purposes = ["ads", "analytics", "ads"]

[events.opened]
purposes = ["analytics", "ads"]
properties.email = {}
properties.note = { type = "string", sensitivity = "internal", purposes = ["analytics", "ads", "analytics"] }
"#,
        );
        assert_eq!(
            codes,
            [
                "duplicate-purpose",
                "duplicate-purpose",
                "duplicate-purpose"
            ],
            "{text}"
        );
        assert!(text.contains("destination `archive` lists purpose `analytics` twice"));
        assert!(text.contains("property `email` lists purpose `ads` twice"));
        assert!(text.contains("property `note` of event `opened` lists purpose `analytics` twice"));
    }

    #[test]
    fn ids_longer_than_the_limit_are_errors_and_the_limit_itself_is_fine() {
        let long = format!("e{}", "x".repeat(super::MAX_ID_LEN));
        let (codes, text) =
            diagnostics(&format!("\n[events.{long}]\npurposes = [\"analytics\"]\n"));
        assert_eq!(codes, ["id-too-long"], "{text}");
        assert!(
            text.contains(
                "event id `exxxxxxxxxxxxxxxxxxxxxxx…` is 65 bytes long; ids are at most 64"
            )
        );

        let fits = "x".repeat(super::MAX_ID_LEN);
        let (codes, text) = diagnostics(&format!(
            "\n[events.{fits}]\npurposes = [\"analytics\"]\nproperties.{fits} = {{ type = \"boolean\", sensitivity = \"public\" }}\n"
        ));
        assert!(codes.is_empty(), "{text}");
    }

    #[test]
    fn long_property_ids_are_errors() {
        let long = "p".repeat(300);
        let (codes, text) = diagnostics(&format!(
            "\n[events.opened]\npurposes = [\"analytics\"]\nproperties.{long} = {{ type = \"boolean\", sensitivity = \"public\" }}\n"
        ));
        assert_eq!(codes, ["id-too-long"], "{text}");
        assert!(text.contains("property id"), "{text}");
    }
}
