//! Checks on destinations.

use super::*;

impl<'p> Validator<'p> {
    pub(super) fn destinations(&mut self) {
        let plan = self.plan;
        let mut seen: HashMap<&str, Span> = HashMap::with_capacity(plan.destinations.len());
        for (i, d) in plan.destinations.iter().enumerate() {
            self.id("destination", &d.id);
            if let Some(&first) = seen.get(d.id.value.as_str()) {
                self.duplicate("destination", &d.id, first);
            } else {
                seen.insert(&d.id.value, d.id.span);
            }
            if i == MAX_DESTINATIONS {
                self.push(
                    Diagnostic::error(
                        "too-many-destinations",
                        format!(
                            "destination `{}` is destination number {}; a plan may declare at most {MAX_DESTINATIONS}",
                            d.id.value,
                            i + 1
                        ),
                    )
                    .at(d.id.span),
                );
            }
            let what = ItemName::Destination(&d.id.value);
            if d.purposes.value.is_empty() && !self.incomplete.has(d.id.span, "purposes") {
                self.push(
                    Diagnostic::error(
                        "destination-without-purpose",
                        format!("destination `{}` has no purpose", d.id.value),
                    )
                    .at(d.purposes.span)
                    .with_label("empty")
                    .with_help("list what the destination uses data for, e.g. `purposes = [\"product_analytics\"]`"),
                );
            }
            self.purpose_refs(what, &d.purposes);
            if d.kind.value == crate::plan::DestinationKind::Amplitude && !d.third_party.value {
                self.push(
                    Diagnostic::error(
                        "first-party-saas",
                        format!(
                            "destination `{}` sends to Amplitude, a third party, but does not say so",
                            d.id.value
                        ),
                    )
                    .at(d.kind.span)
                    .with_label("Amplitude's servers")
                    .with_help("add `third_party = true`: redact properties are then withheld from it, and the notice and the Fides export name it as a third party"),
                );
            }
            self.posthog_party(d);
        }
    }

    /// PostHog Cloud is another company's service: a `posthog` destination is a third party,
    /// unless it is an instance the plan's owner runs itself, which then says where
    /// (`location`). Only then may it receive what a third party may not (`redact` values,
    /// special-category data).
    fn posthog_party(&mut self, d: &Destination) {
        if d.kind.value != DestinationKind::Posthog || d.third_party.value || d.location.is_some() {
            return;
        }
        self.push(
            Diagnostic::error(
                "posthog-first-party-without-location",
                format!(
                    "destination `{}` sends to PostHog as a first party, but does not say where its self-hosted instance runs",
                    d.id.value
                ),
            )
            .at(d.third_party.span)
            .with_help("PostHog Cloud is a third party: write `third_party = true`; for an instance you run yourself, add its `location` (e.g. `location = \"eu-central-1, own servers\"`)"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::fixture::{clean, one};

    #[test]
    fn a_posthog_destination_is_a_third_party_unless_it_says_where_it_runs() {
        let cloud = "[destinations.ph]\nkind = \"posthog\"\npurposes = [\"analytics\"]\n";
        let d = one(
            cloud,
            "posthog-first-party-without-location",
            "ph]",
            &["`ph`", "self-hosted"],
        );
        assert!(
            d.help
                .as_deref()
                .is_some_and(|h| h.contains("third_party = true"))
        );
        one(
            &format!("{cloud}third_party = false\n"),
            "posthog-first-party-without-location",
            "false",
            &["`ph`"],
        );
        clean(&format!("{cloud}third_party = true\nlocation = \"EU\"\n"));
        clean(&format!("{cloud}third_party = true\n"));
        clean(&format!(
            "{cloud}location = \"Frankfurt, our own servers\"\n"
        ));
    }
}
