//! Checks on user traits, group kinds and context properties: every rule that holds for an
//! event's properties, with the purposes each of them is kept for.
//!
//! A trait is kept for its own `purposes` and its updates are routed like an event with those
//! purposes; a group kind's key and memberships are kept for the group's purposes; a context
//! property travels on the events it applies to, so it is checked against each of them as a
//! property of that event would be.

use super::*;
use crate::plan::{ContextProperty, GroupKind};

impl<'p> Validator<'p> {
    pub(super) fn traits(&mut self) {
        let plan = self.plan;
        let mut ids: HashMap<&str, Span> = HashMap::with_capacity(plan.traits.len());
        for t in &plan.traits {
            self.id("trait", &t.id);
            if let Some(&first) = ids.get(t.id.value.as_str()) {
                self.duplicate("trait", &t.id, first);
            } else {
                ids.insert(&t.id.value, t.id.span);
            }
        }
        self.trait_list(&plan.traits, None, None);
    }

    /// The checks of one list of traits (the user profile's, or a group kind's).
    fn trait_list(
        &mut self,
        traits: &'p [Property],
        group: Option<&'p GroupKind>,
        inherited: Option<Span>,
    ) {
        let group_id = group.map(|g| g.id.value.as_str());
        let mut names: HashMap<&str, &Property> = HashMap::with_capacity(traits.len());
        if let Some(extra) = traits.get(trackplan_vocab::MAX_ITEMS) {
            self.push(
                Diagnostic::error(
                    "too-many-traits",
                    format!(
                        "{} declares {} traits; a profile may have at most {}",
                        group_id.map_or("the plan".to_owned(), |g| format!("group kind `{g}`")),
                        traits.len(),
                        trackplan_vocab::MAX_ITEMS
                    ),
                )
                .at(extra.id.span)
                .with_label("one too many")
                .with_help(
                    "an update's traits are kept as a set of at most 64; merge or drop traits",
                ),
            );
        }
        for t in traits {
            if let Some(g) = group
                && t.name.value == g.key.name.value
                && !self.unknown(t, "name")
            {
                self.push(
                    Diagnostic::error(
                        "duplicate-wire-name",
                        format!(
                            "trait `{}` of group kind `{}` has the wire name \"{}\" of the group's key",
                            t.id.value,
                            g.id.value,
                            t.name.value.escape_debug()
                        ),
                    )
                    .at(t.name.span)
                    .with_label("same name as the key")
                    .with_secondary(g.key.name.span, "the key's name")
                    .with_help("give the trait another `name`"),
                );
            }
            let what = ItemName::Trait {
                id: &t.id.value,
                group: group_id,
            };
            if !self.unknown(t, "name") {
                self.trait_name(what, t);
            }
            let inherits = t.purposes.as_ref().map(|p| p.span) == inherited;
            if inherits {
                // The group's purposes, checked once at the group.
                let mut own = t.clone();
                own.purposes = None;
                self.definition_as(what, &own);
            } else {
                self.definition_as(what, t);
            }
            match names
                .get(t.name.value.as_str())
                .filter(|_| !self.unknown(t, "name"))
            {
                Some(first) => self.push(
                    Diagnostic::error(
                        "duplicate-wire-name",
                        format!(
                            "traits `{}` and `{}`{} have the same wire name \"{}\"",
                            first.id.value,
                            t.id.value,
                            group_id.map_or(String::new(), |g| format!(" of group kind `{g}`")),
                            t.name.value.escape_debug()
                        ),
                    )
                    .at(t.name.span)
                    .with_label("same name")
                    .with_secondary(
                        first.name.span,
                        format!("name of trait `{}`", first.id.value),
                    )
                    .with_help(
                        "give one of them another `name`: a profile keeps one value per name",
                    ),
                ),
                None => {
                    names.insert(&t.name.value, t);
                }
            }
            let Some(purposes) = &t.purposes else {
                continue;
            };
            if purposes.value.is_empty() {
                if self.unknown(t, "purposes") {
                    continue;
                }
                self.push(
                    Diagnostic::error("missing-purpose", format!("{what} has no purpose"))
                        .at(purposes.span)
                        .with_label("empty")
                        .with_help("list why the trait is kept, e.g. `purposes = [\"product_analytics\"]`; its updates go where an event with these purposes would go"),
                );
                continue;
            }
            if let Some(g) = group
                && !inherits
            {
                self.narrowed(what, purposes, &g.purposes);
            }
            self.special_for(what, t, purposes);
            self.reachable(what, purposes, "updates of it");
        }
    }

    /// A trait or a membership whose purposes no destination receives would be collected and
    /// dropped: almost always a purpose list that does not match any destination's.
    fn reachable(
        &mut self,
        what: ItemName<'_>,
        purposes: &Spanned<Vec<Spanned<String>>>,
        data: &str,
    ) {
        if purposes
            .value
            .iter()
            .any(|p| !self.purposes.contains_key(p.value.as_str()))
        {
            // Reported as an unknown purpose.
            return;
        }
        let plan = self.plan;
        if plan.routes_for(&purposes.value).next().is_some() {
            return;
        }
        let ids: Vec<&str> = purposes.value.iter().map(|p| p.value.as_str()).collect();
        self.push(
            Diagnostic::error(
                "unreachable",
                format!(
                    "{what} is kept for {}, but no destination may receive {data}",
                    list(&ids)
                ),
            )
            .at(purposes.span)
            .with_label("no destination's purposes are all among these")
            .with_help("a destination receives it only when every purpose of the destination is listed here: add the purposes of the destination that should receive it, or remove it from the plan"),
        );
    }

    /// A group trait may narrow its group's purposes, never widen them.
    fn narrowed(
        &mut self,
        what: ItemName<'_>,
        purposes: &Spanned<Vec<Spanned<String>>>,
        allowed: &Spanned<Vec<Spanned<String>>>,
    ) {
        let extra: Vec<&Spanned<String>> = purposes
            .value
            .iter()
            .filter(|x| !allowed.value.iter().any(|a| a.value == x.value))
            .collect();
        let Some(first) = extra.first() else { return };
        let names: Vec<&str> = extra.iter().map(|x| x.value.as_str()).collect();
        self.push(
            Diagnostic::error(
                "purpose-mismatch",
                format!(
                    "{what} is kept for {}, which its group kind is not collected for",
                    list(&names)
                ),
            )
            .at(first.span)
            .with_label("not among the group kind's purposes")
            .with_secondary(allowed.span, "the group kind's purposes")
            .with_help("a group trait may only narrow its group kind's purposes; add the purpose to the group kind if this use is intended"),
        );
    }

    /// Special-category data only for consent-based purposes (rule 6), for data kept for
    /// `purposes` rather than sent with an event.
    fn special_for(
        &mut self,
        what: ItemName<'_>,
        p: &Property,
        purposes: &Spanned<Vec<Spanned<String>>>,
    ) {
        let Some((names, basis)) = self.non_consent_purposes(p, purposes) else {
            return;
        };
        self.push(
            Diagnostic::error(
                "special-needs-consent",
                format!(
                    "special-category {what} is kept for purpose {names}, which does not have basis `consent`"
                ),
            )
            .at(p.id.span)
            .with_label("special-category data")
            .with_secondary(basis, "basis of the purpose")
            .with_help("special-category data needs explicit consent: keep it only for consent-based purposes"),
        );
    }

    /// A trait's wire name: reserved names stay reserved, except Mixpanel's profile
    /// properties (`$email`, `$name`, …) written out as `name`.
    fn trait_name(&mut self, what: ItemName<'_>, t: &Property) {
        let explicit = t.name.span != t.id.span;
        if explicit && trackplan_vocab::is_profile_name(&t.name.value) {
            return;
        }
        self.property_name(what, &t.name);
    }

    pub(super) fn groups(&mut self) {
        let plan = self.plan;
        let mut ids: HashMap<&str, Span> = HashMap::with_capacity(plan.groups.len());
        for (i, g) in plan.groups.iter().enumerate() {
            self.id("group kind", &g.id);
            if let Some(&first) = ids.get(g.id.value.as_str()) {
                self.duplicate("group kind", &g.id, first);
            } else {
                ids.insert(&g.id.value, g.id.span);
            }
            if i == trackplan_vocab::MAX_ITEMS {
                self.push(
                    Diagnostic::error(
                        "too-many-groups",
                        format!(
                            "group kind `{}` is group kind number {}; a plan may declare at most {}",
                            g.id.value,
                            i + 1,
                            trackplan_vocab::MAX_ITEMS
                        ),
                    )
                    .at(g.id.span)
                    .with_help("a subject's memberships are kept as a set of at most 64 group kinds; merge kinds"),
                );
            }
            let what = ItemName::Group(&g.id.value);
            if g.purposes.value.is_empty() && !self.incomplete.has(g.id.span, "purposes") {
                self.push(
                    Diagnostic::error("missing-purpose", format!("{what} has no purpose"))
                        .at(g.purposes.span)
                        .with_label("empty")
                        .with_help("list why memberships of this kind are collected, e.g. `purposes = [\"product_analytics\"]`"),
                );
            } else {
                self.purpose_refs(what, &g.purposes);
                self.reachable(what, &g.purposes, "its memberships and group updates");
            }
            self.group_key(g);
            self.trait_list(&g.traits, Some(g), Some(g.purposes.span));
        }
    }

    fn group_key(&mut self, g: &'p GroupKind) {
        let what = ItemName::GroupKey(&g.id.value);
        let key = &g.key;
        if !self.unknown(key, "name") {
            self.property_name(what, &key.name);
        }
        let mut own = key.clone();
        own.purposes = None;
        self.definition_as(what, &own);
        if !self.unknown(key, "type")
            && !matches!(key.ty.value, PropertyType::String | PropertyType::Integer)
        {
            self.push(
                Diagnostic::error(
                    "invalid-group-key",
                    format!(
                        "{what} has type `{}`; a group is identified by a `string` or an `integer`",
                        key.ty.value
                    ),
                )
                .at(key.ty.span)
                .with_label("not a string or integer")
                .with_help("destinations take group ids as strings or numbers: use `type = \"string\"` or `\"integer\"`"),
            );
        }
        self.special_for(what, key, &g.purposes);
    }

    pub(super) fn context(&mut self) {
        let plan = self.plan;
        let mut ids: HashMap<&str, Span> = HashMap::with_capacity(plan.context.len());
        let mut names: HashMap<&str, &Property> = HashMap::with_capacity(plan.context.len());
        for (i, c) in plan.context.iter().enumerate() {
            let p = &c.property;
            self.id("context property", &p.id);
            if let Some(&first) = ids.get(p.id.value.as_str()) {
                self.duplicate("context property", &p.id, first);
            } else {
                ids.insert(&p.id.value, p.id.span);
            }
            if i == trackplan_vocab::MAX_ITEMS {
                self.push(
                    Diagnostic::error(
                        "too-many-context",
                        format!(
                            "context property `{}` is number {}; a plan may declare at most {}",
                            p.id.value,
                            i + 1,
                            trackplan_vocab::MAX_ITEMS
                        ),
                    )
                    .at(p.id.span)
                    .with_help("context is for a few facts about the app and session; send the rest as event properties"),
                );
            }
            let what = ItemName::Context(&p.id.value);
            if !self.unknown(p, "name") {
                self.property_name(what, &p.name);
            }
            self.definition_as(what, p);
            if self.unknown(p, "name") {
                continue;
            }
            match names.get(p.name.value.as_str()) {
                Some(first) => self.push(
                    Diagnostic::error(
                        "duplicate-wire-name",
                        format!(
                            "context properties `{}` and `{}` have the same wire name \"{}\"",
                            first.id.value,
                            p.id.value,
                            p.name.value.escape_debug()
                        ),
                    )
                    .at(p.name.span)
                    .with_label("same name")
                    .with_secondary(first.name.span, format!("name of `{}`", first.id.value))
                    .with_help("give one of them another `name`"),
                ),
                None => {
                    names.insert(&p.name.value, p);
                }
            }
            self.context_events(what, c);
        }
    }

    /// The events a context property applies to exist, and on each one it is checked as a
    /// property of that event: purposes, special data, and no wire name of the event's own.
    fn context_events(&mut self, what: ItemName<'_>, c: &'p ContextProperty) {
        let plan = self.plan;
        if let Some(events) = &c.events {
            if events.value.is_empty() {
                self.push(
                    Diagnostic::error("empty-list", format!("{what} applies to no event"))
                        .at(events.span)
                        .with_label("empty")
                        .with_help(
                            "remove `events` to send it with every event, or list the events",
                        ),
                );
            }
            for id in &events.value {
                if plan.event(&id.value).is_some() {
                    continue;
                }
                let mut d = Diagnostic::error(
                    "unknown-event",
                    format!(
                        "{what} names event `{}`, which the plan does not declare",
                        id.value
                    ),
                )
                .at(id.span)
                .with_label("unknown event");
                d.help = did_you_mean(&id.value, plan.events.iter().map(|e| e.id.value.as_str()))
                    .or_else(|| Some("list ids of `[events.*]`".to_owned()));
                self.push(d);
            }
        }
        let p = &c.property;
        for e in plan.events.iter().filter(|e| c.applies_to(e)) {
            self.purpose_mismatch(e, p);
            self.special_consent(e, p);
            let clash = e
                .properties
                .iter()
                .find(|ep| ep.name.value == p.name.value)
                .map(|ep| (ep.id.span, format!("property `{}`", ep.id.value)))
                .or_else(|| {
                    self.carried_groups(e)
                        .find(|g| g.key.name.value == p.name.value)
                        .map(|g| {
                            (
                                g.key.name.span,
                                format!("the key of group kind `{}`", g.id.value),
                            )
                        })
                });
            if let Some((span, other)) = clash {
                self.push(
                    Diagnostic::error(
                        "duplicate-wire-name",
                        format!(
                            "{what} and {other} of event `{}` have the same wire name \"{}\"",
                            e.id.value,
                            p.name.value.escape_debug()
                        ),
                    )
                    .at(p.name.span)
                    .with_label("sent with the event under this name")
                    .with_secondary(span, format!("{other} of event `{}`", e.id.value))
                    .with_help("give one of them another `name`, or leave the event out of the context property's `events`"),
                );
            }
        }
    }

    /// The group kinds of the plan that `e` names in `groups`.
    pub(super) fn carried_groups<'a>(
        &self,
        e: &'a Event,
    ) -> impl Iterator<Item = &'p GroupKind> + 'a
    where
        'p: 'a,
    {
        let plan = self.plan;
        e.groups
            .value
            .iter()
            .filter_map(move |id| plan.group(&id.value))
    }

    /// `groups = [...]` of an event: known kinds, each once, whose key does not clash with the
    /// event's properties; the key travels with the event, so it is checked as a property of
    /// the event restricted to the group's purposes.
    pub(super) fn event_groups(&mut self, e: &'p Event) {
        let plan = self.plan;
        let mut seen: HashMap<&str, Span> = HashMap::with_capacity(e.groups.value.len());
        for id in &e.groups.value {
            if let Some(&first) = seen.get(id.value.as_str()) {
                self.push(
                    Diagnostic::error(
                        "duplicate-id",
                        format!(
                            "event `{}` lists group kind `{}` twice",
                            e.id.value, id.value
                        ),
                    )
                    .at(id.span)
                    .with_label("listed again here")
                    .with_secondary(first, "first listed here"),
                );
                continue;
            }
            seen.insert(&id.value, id.span);
            let Some(g) = plan.group(&id.value) else {
                let mut d = Diagnostic::error(
                    "unknown-group",
                    format!(
                        "event `{}` carries group kind `{}`, which the plan does not declare",
                        e.id.value, id.value
                    ),
                )
                .at(id.span)
                .with_label("unknown group kind");
                d.help = did_you_mean(&id.value, plan.groups.iter().map(|g| g.id.value.as_str()))
                    .or_else(|| Some(format!("declare it in [groups.{}]", id.value)));
                self.push(d);
                continue;
            };
            let key = &g.key;
            if let Some(p) = e.properties.iter().find(|p| p.name.value == key.name.value) {
                self.push(
                    Diagnostic::error(
                        "duplicate-wire-name",
                        format!(
                            "property `{}` of event `{}` has the wire name \"{}\" of the key of group kind `{}`, which the event carries",
                            p.id.value,
                            e.id.value,
                            key.name.value.escape_debug(),
                            g.id.value
                        ),
                    )
                    .at(p.id.span)
                    .with_label("same name as the group key")
                    .with_secondary(key.name.span, "the group key's name")
                    .with_help("give the property another `name`; the group's id is sent under the key's name"),
                );
            }
            let extra: Vec<&str> = e
                .purposes
                .value
                .iter()
                .map(|p| p.value.as_str())
                .filter(|p| !g.purposes.value.iter().any(|gp| gp.value == *p))
                .collect();
            if !extra.is_empty() && !g.purposes.value.is_empty() {
                self.push(
                    Diagnostic::error(
                        "purpose-mismatch",
                        format!(
                            "event `{}` carries group kind `{}`, which is collected only for {}, but the event is also collected for {}",
                            e.id.value,
                            g.id.value,
                            list(&g.purposes.value.iter().map(|p| p.value.as_str()).collect::<Vec<_>>()),
                            list(&extra)
                        ),
                    )
                    .at(id.span)
                    .with_label("purpose mismatch")
                    .with_secondary(g.purposes.span, "the group kind's purposes")
                    .with_secondary(e.purposes.span, "the event's purposes")
                    .with_help(format!(
                        "remove `{}` from the event's `groups`, or add {} to the group kind's `purposes`",
                        g.id.value,
                        list(&extra)
                    )),
                );
            }
            self.special_consent(e, key);
        }
    }
}

#[cfg(test)]
#[path = "profile_tests.rs"]
mod tests;
