//! The `[traits]`, `[groups]` and `[context]` sections: the data kept about subjects and
//! groups, and the properties merged into events.

use super::*;

impl Parser {
    /// `[traits.<id>]`: full property definitions with required `purposes`.
    pub(super) fn traits(&mut self, top: &Table<'_, '_>) -> Vec<Property> {
        let mut out = Vec::new();
        for (key, value) in self.section(top, "traits") {
            let id = Spanned::new(key.get_ref().to_string(), span_of(key));
            let Some(t) = self.open(value, format!("trait `{}`", id.value), TRAIT_KEYS) else {
                continue;
            };
            let Some(mut property) = self.property(&t, id, None) else {
                continue;
            };
            if property.purposes.is_none() && t.get("purposes").is_none() {
                self.require::<()>(&t, "purposes", Got::Absent, "[\"product_analytics\"]");
                self.incomplete.mark(property.id.span, "purposes");
                property.purposes = Some(Spanned::new(Vec::new(), t.span));
            }
            property.required = Spanned::new(false, property.id.span);
            out.push(property);
        }
        out
    }

    /// `[groups.<id>]` with its `key` and `[groups.<id>.traits.*]`.
    pub(super) fn groups(&mut self, top: &Table<'_, '_>) -> Vec<GroupKind> {
        let mut out = Vec::new();
        for (key, value) in self.section(top, "groups") {
            let id = Spanned::new(key.get_ref().to_string(), span_of(key));
            let Some(t) = self.open(value, format!("group kind `{}`", id.value), GROUP_KEYS) else {
                continue;
            };
            let description = self.string(&t, "description").ok();
            let purposes = self.strings(&t, "purposes");
            let purposes = self.require(&t, "purposes", purposes, "[\"product_analytics\"]");
            let purposes = self.fill(id.span, "purposes", purposes, Vec::new(), t.span);
            let group_key = match t.get("key") {
                Some((k, v)) => {
                    let what = format!("the key of group kind `{}`", id.value);
                    let key_id = Spanned::new("key".to_owned(), span_of(k));
                    self.open(v, what, GROUP_KEY_KEYS)
                        .and_then(|kt| self.property(&kt, key_id, None))
                }
                None => {
                    self.require::<()>(
                        &t,
                        "key",
                        Got::Absent,
                        &format!(
                            "{{ name = \"{}_id\", type = \"string\", sensitivity = \"internal\" }}",
                            id.value
                        ),
                    );
                    None
                }
            };
            let mut traits = Vec::new();
            if let Some((_, v)) = t.get("traits")
                && let Some(tt) = self.open_any(v, format!("[groups.{}.traits]", id.value))
            {
                for (tkey, tvalue) in &tt.entries {
                    let tid = Spanned::new(tkey.get_ref().to_string(), span_of(tkey));
                    let what = format!("trait `{}` of group kind `{}`", tid.value, id.value);
                    let Some(trait_table) = self.open(tvalue, what, TRAIT_KEYS) else {
                        continue;
                    };
                    if let Some(mut p) = self.property(&trait_table, tid, None) {
                        p.required = Spanned::new(false, p.id.span);
                        if p.purposes.is_none() {
                            // The group's purposes, spanned where the group declares them, so
                            // validation knows the trait did not narrow them.
                            p.purposes = Some(purposes.clone());
                        }
                        traits.push(p);
                    }
                }
            }
            let Some(mut group_key) = group_key else {
                continue;
            };
            if group_key.name.span == group_key.id.span {
                group_key.name = Spanned::new(format!("{}_id", id.value), group_key.id.span);
            }
            group_key.purposes = Some(purposes.clone());
            out.push(GroupKind {
                id,
                description,
                purposes,
                key: group_key,
                traits,
                span: t.span,
            });
        }
        out
    }

    /// `[context.<id>]`: property definitions with an optional `events` list.
    pub(super) fn context(&mut self, top: &Table<'_, '_>) -> Vec<ContextProperty> {
        let mut out = Vec::new();
        for (key, value) in self.section(top, "context") {
            let id = Spanned::new(key.get_ref().to_string(), span_of(key));
            let what = format!("context property `{}`", id.value);
            let Some(t) = self.open(value, what, CONTEXT_KEYS) else {
                continue;
            };
            let events = self.strings(&t, "events");
            let Some(mut property) = self.property(&t, id, None) else {
                continue;
            };
            property.required = Spanned::new(false, property.id.span);
            match events {
                Got::Invalid => continue,
                events => out.push(ContextProperty {
                    property,
                    events: events.ok(),
                }),
            }
        }
        out
    }

    /// `groups = [...]` of an event: spanned at the event when absent.
    pub(super) fn event_groups(&mut self, t: &Table<'_, '_>) -> Spanned<Vec<Spanned<String>>> {
        self.strings(t, "groups")
            .ok()
            .unwrap_or_else(|| Spanned::new(Vec::new(), t.span))
    }
}
