//! The baseline policies ([`crate::baseline`]) over every event, and the plan's
//! `[[exceptions]]` that lift them.

use std::collections::HashMap;

use crate::baseline::{BASELINE_POLICIES, baseline_policy, denying};
use crate::diagnostic::Diagnostic;
use crate::plan::{Plan, Property, Sensitivity};
use crate::source::Span;
use crate::suggestion::did_you_mean;
use crate::taxonomy::Taxonomy;
use crate::validate::rule_matches;

/// Errors for special-category properties on events collected for a data use a baseline
/// policy denies (unless the plan lifts it), and for malformed or unused exceptions.
pub(super) fn check(plan: &Plan, taxonomy: &Taxonomy) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    // Policy id → (the exception's span, whether anything needed it).
    let mut lifted: HashMap<&str, (Span, bool)> = HashMap::new();
    for x in &plan.exceptions {
        let id = x.policy.value.as_str();
        if baseline_policy(id).is_none() {
            let mut d = Diagnostic::error(
                "unknown-policy",
                format!("`[[exceptions]]` names policy `{id}`, which is not a built-in policy"),
            )
            .at(x.policy.span)
            .with_label("no such built-in policy");
            d.help = did_you_mean(id, BASELINE_POLICIES.iter().map(|p| p.id)).or_else(|| {
                Some(format!(
                    "the built-in policies are {}",
                    BASELINE_POLICIES
                        .iter()
                        .map(|p| format!("`{}`", p.id))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
            diags.push(d);
            continue;
        }
        if x.justification.value.trim().is_empty() {
            diags.push(
                Diagnostic::error(
                    "missing-justification",
                    format!("the exception to policy `{id}` has an empty justification"),
                )
                .at(x.justification.span)
                .with_label("empty")
                .with_help("say why the plan may do what the policy denies, and who reviewed it"),
            );
        }
        if let Some(&(first, _)) = lifted.get(id) {
            diags.push(
                Diagnostic::error(
                    "duplicate-exception",
                    format!("policy `{id}` is lifted twice"),
                )
                .at(x.policy.span)
                .with_label("lifted again here")
                .with_secondary(first, "first lifted here")
                .with_help("keep one `[[exceptions]]` table per policy"),
            );
            continue;
        }
        lifted.insert(id, (x.policy.span, false));
    }

    // Every declaration: a property (or context property) on an event for the event's
    // purposes, and a trait or group key for the purposes it is kept for.
    let mut declarations: Vec<(Holder<'_>, &Property, &[crate::source::Spanned<String>])> =
        Vec::new();
    for e in &plan.events {
        let context = plan.context_of(e).map(|c| &c.property);
        for p in e.properties.iter().chain(context) {
            declarations.push((Holder::Event(&e.id.value), p, &e.purposes.value));
        }
    }
    for t in &plan.traits {
        declarations.push((Holder::Kept("trait"), t, Plan::trait_purposes(t)));
    }
    for g in &plan.groups {
        declarations.push((Holder::Kept("group key"), &g.key, &g.purposes.value));
        for t in &g.traits {
            declarations.push((Holder::Kept("group trait"), t, Plan::trait_purposes(t)));
        }
    }
    for (holder, p, ids) in declarations {
        if !is_special(p, taxonomy) {
            continue;
        }
        let purposes: Vec<_> = ids
            .iter()
            .filter_map(|id| plan.purposes.iter().find(|p| p.id.value == id.value))
            .collect();
        for purpose in &purposes {
            let Some(policy) = denying(&purpose.data_use.value) else {
                continue;
            };
            if let Some((_, used)) = lifted.get_mut(policy.id) {
                *used = true;
                continue;
            }
            if denied_by_the_plan(plan, p, &purpose.data_use.value) {
                // The plan's own `[[policies]]` already report it, naming its rule.
                continue;
            }
            let category = p
                .category
                .as_ref()
                .and_then(|c| taxonomy.special_ground(&c.value))
                .unwrap_or("special-category data");
            let subject = match holder {
                Holder::Event(e) => format!("event `{e}` sends property `{}`", p.id.value),
                Holder::Kept(what) => format!("{what} `{}` is kept", p.id.value),
            };
            diags.push(
                Diagnostic::error(
                    "baseline-policy",
                    format!(
                        "{subject} ({category}) for `{}` (purpose `{}`), which built-in policy `{}` denies: {}",
                        purpose.data_use.value,
                        purpose.id.value,
                        policy.id,
                        policy.summary,
                    ),
                )
                .at(p.id.span)
                .with_label("special-category data")
                .with_secondary(purpose.data_use.span, "data use of the purpose")
                .with_help(format!(
                    "{}; only if this use is lawful and reviewed, lift the policy for the plan with\n\n    [[exceptions]]\n    policy = \"{}\"\n    justification = \"…\"",
                    match holder {
                        Holder::Event(_) => "remove the property from this event or collect the event for other purposes",
                        Holder::Kept(_) => "remove it or keep it for other purposes",
                    },
                    policy.id
                )),
            );
        }
    }

    for x in &plan.exceptions {
        if let Some((span, false)) = lifted.get(x.policy.value.as_str())
            && *span == x.policy.span
        {
            diags.push(
                Diagnostic::warning(
                    "unused-exception",
                    format!(
                        "the plan lifts policy `{}`, but no event needs it",
                        x.policy.value
                    ),
                )
                .at(x.policy.span)
                .with_label("lifts nothing")
                .with_help(
                    "remove this `[[exceptions]]` table, so the policy protects the plan again",
                ),
            );
        }
    }
    diags
}

/// Who holds a declaration, for messages.
#[derive(Clone, Copy)]
enum Holder<'a> {
    /// An event sends it.
    Event(&'a str),
    /// A profile keeps it: `trait`, `group key`, `group trait`.
    Kept(&'static str),
}

/// Whether one of the plan's own `[[policies]]` denies property `p` for `data_use`.
fn denied_by_the_plan(plan: &Plan, p: &Property, data_use: &str) -> bool {
    let categories: Vec<&str> = p.category.iter().map(|c| c.value.as_str()).collect();
    plan.policies.iter().any(|policy| {
        rule_matches(&policy.categories, &categories)
            && rule_matches(&policy.data_uses, &[data_use])
    })
}

/// Whether a property carries special-category data: by its sensitivity, or by its category.
fn is_special(p: &Property, taxonomy: &Taxonomy) -> bool {
    p.sensitivity.value == Sensitivity::Special
        || p.category
            .as_ref()
            .is_some_and(|c| taxonomy.is_special(&c.value))
}

#[cfg(test)]
mod tests {
    use crate::Severity;
    use crate::fixture;

    /// Added to the shared test plan: a purpose for AI training and an event with health data.
    const EXTRA: &str = r#"
[purposes.model]
description = "Train the recommender."
basis = "consent"
data_use = "train_ai_system"

[events.searched]
purposes = ["analytics", "ads"]
properties.health_filter = { type = "string", sensitivity = "special", category = "user.health_and_medical", transform = "redact", special_basis = "explicit_consent" }
properties.query_length = { type = "integer", sensitivity = "public" }
"#;

    fn run(snippet: &str) -> (Vec<(&'static str, Severity)>, String) {
        let (src, diagnostics) = fixture::run(&format!("{EXTRA}{snippet}"));
        let text = diagnostics
            .iter()
            .map(|d| d.render(&src))
            .collect::<Vec<_>>()
            .join("\n");
        let codes = diagnostics.iter().map(|d| (d.code, d.severity)).collect();
        (codes, text)
    }

    #[test]
    fn health_data_for_advertising_is_refused_without_any_plan_policy() {
        let (codes, text) = run("");
        assert_eq!(codes, [("baseline-policy", Severity::Error)], "{text}");
        // At the property's key in the event.
        let (src, _) = fixture::run(EXTRA);
        let at = format!("--> {}", fixture::location_of(&src, "health_filter = {"));
        for part in [
            "event `searched` sends property `health_filter` (health data (GDPR Art. 9))",
            "for `marketing.advertising.third_party.targeted` (purpose `ads`)",
            "built-in policy `special-category-marketing`",
            &at,
            "policy = \"special-category-marketing\"",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
    }

    #[test]
    fn an_exception_lifts_the_policy_visibly_and_must_be_justified() {
        let lifted = "\n[[exceptions]]\npolicy = \"special-category-marketing\"\njustification = \"Explicit consent; reviewed by privacy@.\"\n";
        let (codes, text) = run(lifted);
        assert!(codes.is_empty(), "{text}");

        let (codes, text) = run(&lifted.replace("Explicit consent; reviewed by privacy@.", " "));
        assert_eq!(
            codes,
            [("missing-justification", Severity::Error)],
            "{text}"
        );

        let (codes, text) = run(&lifted.replace("marketing\"", "marketin\""));
        assert_eq!(
            codes,
            [
                ("baseline-policy", Severity::Error),
                ("unknown-policy", Severity::Error)
            ],
            "{text}"
        );
        assert!(
            text.contains("did you mean `special-category-marketing`?"),
            "{text}"
        );

        let (codes, text) = run(&format!("{lifted}{lifted}"));
        assert_eq!(codes, [("duplicate-exception", Severity::Error)], "{text}");

        let (_, missing) = run("\n[[exceptions]]\npolicy = \"special-category-marketing\"\n");
        assert!(missing.contains("justification"), "{missing}");
    }

    #[test]
    fn an_exception_nothing_needs_is_a_warning() {
        let (codes, text) = run(
            "\n[[exceptions]]\npolicy = \"special-category-marketing\"\njustification = \"x\"\n[[exceptions]]\npolicy = \"special-category-ai-training\"\njustification = \"Not needed.\"\n",
        );
        assert_eq!(codes, [("unused-exception", Severity::Warning)], "{text}");
        assert!(text.contains("special-category-ai-training"), "{text}");
    }

    #[test]
    fn ai_training_and_other_special_categories_are_covered() {
        let (codes, text) = run(
            "\n[[exceptions]]\npolicy = \"special-category-marketing\"\njustification = \"x\"\n[events.trained]\npurposes = [\"model\"]\nproperties.religion = { type = \"string\", sensitivity = \"special\", category = \"user.demographic.religious_belief\", transform = \"redact\", special_basis = \"explicit_consent\" }\n",
        );
        assert_eq!(codes, [("baseline-policy", Severity::Error)], "{text}");
        assert!(text.contains("special-category-ai-training"), "{text}");
        assert!(
            text.contains("religious or philosophical beliefs"),
            "{text}"
        );
    }

    #[test]
    fn a_plan_policy_that_already_denies_it_reports_it_once() {
        let (codes, text) = run(
            "\n[[policies]]\nname = \"no health data for marketing\"\ndeny = { categories = [\"user.health_and_medical\"], data_uses = [\"marketing\"] }\n",
        );
        assert_eq!(codes, [("policy-violation", Severity::Error)], "{text}");
    }
}

#[cfg(test)]
mod schema {
    #[test]
    fn the_schema_lists_exactly_the_baseline_policies() {
        let schema = crate::plan_schema();
        let listed: Vec<&str> =
            schema["definitions"]["ExceptionTable"]["properties"]["policy"]["enum"]
                .as_array()
                .map(|ids| ids.iter().filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
        let ids: Vec<&str> = crate::baseline::BASELINE_POLICIES
            .iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(listed, ids);
    }
}
