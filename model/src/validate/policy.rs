//! Checks of `[[policies]]` deny rules against every event's properties.

use super::*;

impl<'p> Validator<'p> {
    pub(super) fn policies(&mut self) {
        let plan = self.plan;
        for policy in &plan.policies {
            let what = ItemName::Policy(&policy.name.value);
            for c in &policy.categories.values {
                self.category(what, c);
            }
            for u in &policy.data_uses.values {
                self.data_use(what, u);
            }
        }
        for e in &plan.events {
            let uses: Vec<&Purpose> = e
                .purposes
                .value
                .iter()
                .filter_map(|p| self.purposes.get(p.value.as_str()).copied())
                .collect();
            for p in &e.properties {
                for policy in &plan.policies {
                    self.policy(policy, e, p, &uses);
                }
            }
        }
    }

    /// Rule 9, as Fides evaluates a privacy declaration: here a declaration is one property
    /// (its category) on one event for one purpose (its data use).
    pub(super) fn policy(
        &mut self,
        policy: &Policy,
        e: &Event,
        p: &Property,
        purposes: &[&Purpose],
    ) {
        let categories: Vec<&str> = p.category.iter().map(|c| c.value.as_str()).collect();
        if !rule_matches(&policy.categories, &categories) {
            return;
        }
        let violating: Vec<&&Purpose> = purposes
            .iter()
            .filter(|purpose| rule_matches(&policy.data_uses, &[purpose.data_use.value.as_str()]))
            .collect();
        let Some(first) = violating.first() else {
            return;
        };
        let uses: Vec<String> = violating
            .iter()
            .map(|v| format!("`{}` (purpose `{}`)", v.data_use.value, v.id.value))
            .collect();
        let category = p.category.as_ref().map_or_else(
            || "no category".to_owned(),
            |c| format!("category `{}`", c.value),
        );
        self.push(
            Diagnostic::error(
                "policy-violation",
                format!(
                    "event `{}` sends property `{}` ({category}) for {}, which policy \"{}\" denies",
                    e.id.value,
                    p.id.value,
                    uses.join(", "),
                    policy.name.value
                ),
            )
            .at(p.id.span)
            .with_label("denied by policy")
            .with_secondary(policy.span, format!("policy \"{}\"", policy.name.value))
            .with_secondary(first.data_use.span, "data use of the purpose")
            .with_help("remove the property from this event, collect the event for other purposes, or change the policy"),
        );
    }
}
