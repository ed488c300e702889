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
        }
    }
}
