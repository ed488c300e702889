//! Checks on events and the properties they carry: purposes, consent, special data.

use super::*;

impl<'p> Validator<'p> {
    pub(super) fn events(&mut self) {
        let plan = self.plan;
        let mut ids: HashMap<&str, Span> = HashMap::with_capacity(plan.events.len());
        let mut names: HashMap<&str, &Event> = HashMap::with_capacity(plan.events.len());
        for e in &plan.events {
            self.id("event", &e.id);
            if let Some(&first) = ids.get(e.id.value.as_str()) {
                self.duplicate("event", &e.id, first);
            } else {
                ids.insert(&e.id.value, e.id.span);
            }
            let what = ItemName::Event(&e.id.value);
            let name_known = !self.incomplete.has(e.id.span, "name");
            if name_known {
                self.wire_name(what, &e.name);
            }
            match names.get(e.name.value.as_str()).filter(|_| name_known) {
                Some(first) if first.id.value != e.id.value => self.push(
                    Diagnostic::error(
                        "duplicate-wire-name",
                        format!(
                            "events `{}` and `{}` have the same wire name \"{}\"",
                            first.id.value,
                            e.id.value,
                            e.name.value.escape_debug()
                        ),
                    )
                    .at(e.name.span)
                    .with_label("same name")
                    .with_secondary(
                        first.name.span,
                        format!("name of event `{}`", first.id.value),
                    )
                    .with_help(
                        "every event needs its own `name`, or destinations cannot tell them apart",
                    ),
                ),
                Some(_) => {}
                None => {
                    names.insert(&e.name.value, e);
                }
            }
            if e.purposes.value.is_empty() && !self.incomplete.has(e.id.span, "purposes") {
                self.push(
                    Diagnostic::error("missing-purpose", format!("event `{}` has no purpose", e.id.value))
                        .at(e.purposes.span)
                        .with_label("empty")
                        .with_help("list why the event is collected, e.g. `purposes = [\"product_analytics\"]`"),
                );
            }
            self.purpose_refs(what, &e.purposes);
            self.event_properties(e);
            self.event_groups(e);
        }
    }

    pub(super) fn event_properties(&mut self, e: &Event) {
        let mut ids: HashMap<&str, Span> = HashMap::with_capacity(e.properties.len());
        let mut names: HashMap<&str, &Property> = HashMap::with_capacity(e.properties.len());
        for p in &e.properties {
            self.id("property", &p.id);
            if let Some(&first) = ids.get(p.id.value.as_str()) {
                self.duplicate(&format!("property of event `{}`", e.id.value), &p.id, first);
            } else {
                ids.insert(&p.id.value, p.id.span);
            }
            let what = ItemName::property(p, Some(e));
            match p
                .shared
                .as_deref()
                .and_then(|s| self.shared.get(s).copied())
            {
                None => self.definition(p, Some(e)),
                Some(base) => {
                    // Only what the event overrides is new; the definition was checked once.
                    if p.name.span != base.name.span {
                        self.property_name(what, &p.name);
                    }
                    if let Some(purposes) = &p.purposes
                        && base
                            .purposes
                            .as_ref()
                            .is_none_or(|b| b.span != purposes.span)
                    {
                        self.purpose_refs(what, purposes);
                        if let Some(allowed) = &base.purposes {
                            self.widened_purposes(e, p, purposes, allowed);
                        }
                    }
                }
            }
            match names
                .get(p.name.value.as_str())
                .filter(|_| !self.unknown(p, "name"))
            {
                Some(first) => self.push(
                    Diagnostic::error(
                        "duplicate-wire-name",
                        format!(
                            "properties `{}` and `{}` of event `{}` have the same wire name \"{}\"",
                            first.id.value,
                            p.id.value,
                            e.id.value,
                            p.name.value.escape_debug()
                        ),
                    )
                    .at(p.id.span)
                    .with_label(format!("sent as \"{}\"", p.name.value.escape_debug()))
                    .with_secondary(
                        first.id.span,
                        format!("also sent as \"{}\"", first.name.value.escape_debug()),
                    )
                    .with_help("give one of them another `name`"),
                ),
                None => {
                    names.insert(&p.name.value, p);
                }
            }
            self.purpose_mismatch(e, p);
            self.special_consent(e, p);
        }
    }

    /// An event may narrow a shared property's purpose restriction, never widen it: that
    /// would undo rule 7 for one event without touching the reviewed definition.
    pub(super) fn widened_purposes(
        &mut self,
        e: &Event,
        p: &Property,
        purposes: &Spanned<Vec<Spanned<String>>>,
        allowed: &Spanned<Vec<Spanned<String>>>,
    ) {
        let extra: Vec<&Spanned<String>> = purposes
            .value
            .iter()
            .filter(|x| !allowed.value.iter().any(|a| a.value == x.value))
            .collect();
        let Some(first) = extra.first() else { return };
        let extra_names: Vec<&str> = extra.iter().map(|x| x.value.as_str()).collect();
        let allowed_names: Vec<&str> = allowed.value.iter().map(|a| a.value.as_str()).collect();
        self.push(
            Diagnostic::error(
                "purpose-mismatch",
                format!(
                    "property `{}` of event `{}` adds purpose {}, which its shared definition does not allow ({})",
                    p.id.value,
                    e.id.value,
                    list(&extra_names),
                    list(&allowed_names)
                ),
            )
            .at(first.span)
            .with_label("not allowed by [properties.*]")
            .with_secondary(allowed.span, "the shared definition's purposes")
            .with_help("an event may only narrow a property's purposes; change the shared definition if this use is intended"),
        );
    }

    /// Rule 7.
    pub(super) fn purpose_mismatch(&mut self, e: &Event, p: &Property) {
        let Some(allowed) = &p.purposes else { return };
        let extra: Vec<&str> = e
            .purposes
            .value
            .iter()
            .map(|ep| ep.value.as_str())
            .filter(|ep| !allowed.value.iter().any(|a| a.value == *ep))
            .collect();
        if extra.is_empty() {
            return;
        }
        let allowed_list: Vec<&str> = allowed.value.iter().map(|a| a.value.as_str()).collect();
        self.push(
            Diagnostic::error(
                "purpose-mismatch",
                format!(
                    "property `{}` of event `{}` may only be collected for {}, but the event is also collected for {}",
                    p.id.value,
                    e.id.value,
                    list(&allowed_list),
                    list(&extra)
                ),
            )
            .at(p.id.span)
            .with_label("purpose mismatch")
            .with_secondary(allowed.span, "the property's purposes")
            .with_secondary(e.purposes.span, "the event's purposes")
            .with_help(format!(
                "remove `{}` from this event, or add {} to the property's `purposes` if that use is intended",
                p.id.value,
                list(&extra)
            )),
        );
    }

    /// Rule 6's finding, for event and profile data alike: when `p` is special-category data
    /// and some of `purposes` are not consent-based, those purposes as messages name them
    /// (`` `id` (basis) ``, comma-separated) and the span of the first one's basis.
    pub(super) fn non_consent_purposes(
        &self,
        p: &Property,
        purposes: &Spanned<Vec<Spanned<String>>>,
    ) -> Option<(String, Span)> {
        if p.sensitivity.value != Sensitivity::Special || self.unknown(p, "sensitivity") {
            return None;
        }
        let offending: Vec<&Purpose> = purposes
            .value
            .iter()
            .filter_map(|ep| self.purposes.get(ep.value.as_str()).copied())
            .filter(|purpose| purpose.basis.value != LegalBasis::Consent)
            .collect();
        let first = offending.first()?;
        let names: Vec<String> = offending
            .iter()
            .map(|o| format!("`{}` ({})", o.id.value, o.basis.value.key()))
            .collect();
        Some((names.join(", "), first.basis.span))
    }

    /// Rule 6: special data only on events whose every purpose is consent-based.
    pub(super) fn special_consent(&mut self, e: &Event, p: &Property) {
        let Some((names, basis)) = self.non_consent_purposes(p, &e.purposes) else {
            return;
        };
        self.push(
            Diagnostic::error(
                "special-needs-consent",
                format!(
                    "special-category property `{}` is on event `{}`, whose purpose {names} does not have basis `consent`",
                    p.id.value,
                    e.id.value,
                ),
            )
            .at(p.id.span)
            .with_label("special-category data")
            .with_secondary(basis, "basis of the purpose")
            .with_help("special-category data needs explicit consent: keep it off this event, or collect the event only for consent-based purposes"),
        );
    }
}
