//! The `[plan]`, `[identity]`, `[purposes]`, `[destinations]` and `[taxonomy]` sections.

use super::*;

impl Parser {
    pub(super) fn plan(&mut self, top: &Table<'_, '_>) -> Plan {
        let (name, version, owner) = match top.get("plan") {
            Some((_, v)) => match self.open(v, "[plan]".to_owned(), PLAN_KEYS) {
                None => {
                    self.incomplete.plan_name = true;
                    (None, None, None)
                }
                Some(t) => {
                    let name = self.string(&t, "name");
                    let name = self.require(&t, "name", name, "\"shop\"");
                    self.incomplete.plan_name = name.is_none();
                    let version = self.uint(&t, "version");
                    let version = self.require(&t, "version", version, "1");
                    let owner = self.string(&t, "owner").ok();
                    (name, version, owner)
                }
            },
            None if top.entries.iter().any(|(k, _)| {
                let k = k.get_ref().as_ref();
                !TOP_KEYS.contains(&k)
                    && crate::suggest(k, TOP_KEYS.iter().copied()) == Some("plan")
            }) =>
            {
                // Misspelt: already reported as an unknown key with "did you mean `plan`?".
                self.incomplete.plan_name = true;
                (None, None, None)
            }
            None => {
                self.incomplete.plan_name = true;
                self.error(
                    Diagnostic::error("missing-key", "the plan file has no [plan] table")
                        .at(top.span)
                        .with_help("start the file with [plan], name = \"…\" and version = 1"),
                );
                (None, None, None)
            }
        };
        let identity = self.identity(top);
        let purposes = self.purposes(top);
        let destinations = self.destinations(top);
        let taxonomy = self.taxonomy(top);
        let shared_entries = self.section(top, "properties");
        let mut properties = Vec::with_capacity(shared_entries.len());
        // id → index in `properties`, or None when the definition was dropped for errors.
        let mut shared: HashMap<String, Option<usize>> = HashMap::new();
        for (key, value) in shared_entries {
            let id = Spanned::new(key.get_ref().to_string(), span_of(key));
            let what = format!("property `{}`", id.value);
            let property = self
                .open(value, what.clone(), PROPERTY_KEYS)
                .and_then(|t| self.property(&t, id.clone(), None));
            shared.insert(
                id.value.clone(),
                property.as_ref().map(|_| properties.len()),
            );
            properties.extend(property);
        }
        let events = self.events(top, &properties, &shared);
        let traits = self.traits(top);
        let groups = self.groups(top);
        let context = self.context(top);
        let policies = self.policies(top);
        let exceptions = self.exceptions(top);
        Plan {
            name: name.unwrap_or_else(|| Spanned::new(String::new(), top.span)),
            version: version.unwrap_or_else(|| Spanned::new(0, top.span)),
            owner,
            identity,
            purposes,
            destinations,
            properties,
            events,
            traits,
            groups,
            context,
            policies,
            exceptions,
            taxonomy,
        }
    }

    pub(super) fn identity(&mut self, top: &Table<'_, '_>) -> Identity {
        let default = Identity {
            transform: Spanned::new(IdentityTransform::Hmac, Span::default()),
            justification: None,
        };
        let Some((_, v)) = top.get("identity") else {
            return default;
        };
        let Some(t) = self.open(v, "[identity]".to_owned(), IDENTITY_KEYS) else {
            return default;
        };
        Identity {
            transform: self
                .keyword(&t, "transform", IDENTITY_TRANSFORMS)
                .ok()
                .unwrap_or_else(|| Spanned::new(IdentityTransform::Hmac, t.span)),
            justification: self.string(&t, "justification").ok(),
        }
    }

    pub(super) fn purposes(&mut self, top: &Table<'_, '_>) -> Vec<Purpose> {
        let mut out = Vec::new();
        for (key, value) in self.section(top, "purposes") {
            let id = Spanned::new(key.get_ref().to_string(), span_of(key));
            let Some(t) = self.open(value, format!("purpose `{}`", id.value), PURPOSE_KEYS) else {
                self.incomplete.mark(id.span, "description");
                self.incomplete.mark(id.span, "data_use");
                out.push(Purpose {
                    description: Spanned::new(String::new(), id.span),
                    basis: Spanned::new(LegalBasis::Consent, id.span),
                    data_use: Spanned::new(String::new(), id.span),
                    retention_days: None,
                    sale_or_share: Spanned::new(false, id.span),
                    span: span_of(value),
                    id,
                });
                continue;
            };
            let description = self.string(&t, "description");
            let description =
                self.require(&t, "description", description, "\"Shown to end users.\"");
            let basis = self.keyword(&t, "basis", BASES);
            let basis = self.require(&t, "basis", basis, "\"consent\"");
            let data_use = self.string(&t, "data_use");
            let data_use = self.require(&t, "data_use", data_use, "\"analytics.reporting\"");
            let retention_days = self.uint(&t, "retention_days");
            let sale_or_share = self.boolean(&t, "sale_or_share");
            out.push(Purpose {
                description: self.fill(id.span, "description", description, String::new(), t.span),
                // Consent is the placeholder that triggers no consent-related check.
                basis: self.fill(id.span, "basis", basis, LegalBasis::Consent, t.span),
                data_use: self.fill(id.span, "data_use", data_use, String::new(), t.span),
                retention_days: retention_days.ok(),
                sale_or_share: sale_or_share
                    .ok()
                    .unwrap_or_else(|| Spanned::new(false, id.span)),
                span: t.span,
                id,
            });
        }
        out
    }

    pub(super) fn destinations(&mut self, top: &Table<'_, '_>) -> Vec<Destination> {
        let mut out = Vec::new();
        for (key, value) in self.section(top, "destinations") {
            let id = Spanned::new(key.get_ref().to_string(), span_of(key));
            let Some(t) = self.open(
                value,
                format!("destination `{}`", id.value),
                DESTINATION_KEYS,
            ) else {
                continue;
            };
            let kind = self.keyword(&t, "kind", KINDS);
            let kind = self.require(&t, "kind", kind, "\"ndjson\"");
            let purposes = self.strings(&t, "purposes");
            let purposes = self.require(&t, "purposes", purposes, "[\"product_analytics\"]");
            let description = self.string(&t, "description").ok();
            let third_party = self.boolean(&t, "third_party").ok();
            let location = self.string(&t, "location").ok();
            out.push(Destination {
                kind: self.fill(id.span, "kind", kind, DestinationKind::Custom, t.span),
                purposes: self.fill(id.span, "purposes", purposes, Vec::new(), t.span),
                description,
                third_party: third_party.unwrap_or_else(|| Spanned::new(false, id.span)),
                location,
                span: t.span,
                id,
            });
        }
        out
    }

    pub(super) fn taxonomy(&mut self, top: &Table<'_, '_>) -> Vec<CategoryExtension> {
        let mut out = Vec::new();
        let Some((_, v)) = top.get("taxonomy") else {
            return out;
        };
        let Some(t) = self.open(v, "[taxonomy]".to_owned(), TAXONOMY_KEYS) else {
            return out;
        };
        for (key, value) in self.section(&t, "categories") {
            let key = Spanned::new(key.get_ref().to_string(), span_of(key));
            let Some(c) = self.open(
                value,
                format!("taxonomy category `{}`", key.value),
                EXTENSION_KEYS,
            ) else {
                self.incomplete.categories.insert(key.value);
                continue;
            };
            let special = self.boolean(&c, "special");
            let description = self.string(&c, "description");
            let unknown = c
                .entries
                .iter()
                .any(|(k, _)| !EXTENSION_KEYS.contains(&k.get_ref().as_ref()));
            if matches!(special, Got::Invalid) || matches!(description, Got::Invalid) || unknown {
                self.incomplete.categories.insert(key.value);
                continue;
            }
            out.push(CategoryExtension {
                key,
                special: special.ok().is_some_and(|s| s.value),
                description: description.ok(),
            });
        }
        out
    }
}
