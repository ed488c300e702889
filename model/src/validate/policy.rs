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
            let context = plan.context_of(e).map(|c| &c.property);
            for p in e.properties.iter().chain(context) {
                for policy in &plan.policies {
                    self.policy(policy, e, p, &uses);
                }
            }
        }
        // Data kept about subjects and groups, for the purposes it is kept for.
        let kept = plan
            .traits
            .iter()
            .map(|t| {
                (
                    ItemName::Trait {
                        id: &t.id.value,
                        group: None,
                    },
                    t,
                )
            })
            .chain(plan.groups.iter().flat_map(|g| {
                std::iter::once((ItemName::GroupKey(&g.id.value), &g.key)).chain(
                    g.traits.iter().map(|t| {
                        (
                            ItemName::Trait {
                                id: &t.id.value,
                                group: Some(&g.id.value),
                            },
                            t,
                        )
                    }),
                )
            }));
        for (what, p) in kept {
            let uses: Vec<&Purpose> = Plan::trait_purposes(p)
                .iter()
                .filter_map(|id| self.purposes.get(id.value.as_str()).copied())
                .collect();
            for policy in &plan.policies {
                self.kept_policy(policy, what, p, &uses);
            }
        }
    }

    /// Rule 9 for a trait or a group key: a declaration is its category for each purpose it
    /// is kept for.
    fn kept_policy(
        &mut self,
        policy: &Policy,
        what: ItemName<'_>,
        p: &Property,
        purposes: &[&Purpose],
    ) {
        self.policy_violation(
            policy,
            p,
            purposes,
            |category, uses| {
                format!(
                    "{what} ({category}) is kept for {uses}, which policy \"{}\" denies",
                    policy.name.value
                )
            },
            "keep it for other purposes, or change the policy",
        );
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
        self.policy_violation(
            policy,
            p,
            purposes,
            |category, uses| {
                format!(
                    "event `{}` sends property `{}` ({category}) for {uses}, which policy \"{}\" denies",
                    e.id.value,
                    p.id.value,
                    policy.name.value
                )
            },
            "remove the property from this event, collect the event for other purposes, or change the policy",
        );
    }

    /// Rule 9 for one declaration, events' and profiles' alike: when `policy` matches `p`'s
    /// category and denies the data use of some of `purposes`, reports it with the message
    /// `message` makes of the category (`` category `…` `` or `no category`) and the denied
    /// uses (`` `use` (purpose `id`) ``, comma-separated).
    fn policy_violation(
        &mut self,
        policy: &Policy,
        p: &Property,
        purposes: &[&Purpose],
        message: impl FnOnce(&str, &str) -> String,
        help: &'static str,
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
            Diagnostic::error("policy-violation", message(&category, &uses.join(", ")))
                .at(p.id.span)
                .with_label("denied by policy")
                .with_secondary(policy.span, format!("policy \"{}\"", policy.name.value))
                .with_secondary(first.data_use.span, "data use of the purpose")
                .with_help(help),
        );
    }
}
