//! Events and the properties they declare or take from shared definitions.

use super::*;

impl Parser {
    pub(super) fn events(
        &mut self,
        top: &Table<'_, '_>,
        shared_props: &[Property],
        shared: &HashMap<String, Option<usize>>,
    ) -> Vec<Event> {
        let entries = self.section(top, "events");
        let mut out = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let id = Spanned::new(key.get_ref().to_string(), span_of(key));
            let Some(t) = self.open(value, format!("event `{}`", id.value), EVENT_KEYS) else {
                continue;
            };
            let name = self.string(&t, "name");
            let name = self.optional(id.span, "name", name);
            let description = self.string(&t, "description").ok();
            let purposes = self.strings(&t, "purposes");
            let purposes = self.require(&t, "purposes", purposes, "[\"product_analytics\"]");
            let purposes = self.fill(id.span, "purposes", purposes, Vec::new(), t.span);
            let groups = self.event_groups(&t);
            let mut properties = Vec::new();
            if let Some((_, props)) = t.get("properties") {
                let what = format!("[events.{}.properties]", id.value);
                if let Some(pt) = self.open_any(props, what) {
                    properties.reserve(pt.entries.len());
                    for (pkey, pvalue) in &pt.entries {
                        let pid = Spanned::new(pkey.get_ref().to_string(), span_of(pkey));
                        if let Some(p) =
                            self.event_property(&id.value, pid, pvalue, shared_props, shared)
                        {
                            properties.push(p);
                        }
                    }
                }
            }
            out.push(Event {
                name: name.unwrap_or_else(|| id.clone()),
                id,
                description,
                purposes,
                properties,
                groups,
                span: t.span,
            });
        }
        out
    }

    pub(super) fn event_property(
        &mut self,
        event: &str,
        id: Spanned<String>,
        value: &TomlValue<'_>,
        shared_props: &[Property],
        shared: &HashMap<String, Option<usize>>,
    ) -> Option<Property> {
        let what = format!("property `{}` of event `{event}`", id.value);
        let t = self.open(value, what, PROPERTY_KEYS)?;
        let Some(&index) = shared.get(&id.value) else {
            let property = self.property(&t, id.clone(), Some(event));
            if property.is_none() && t.get("type").is_none() && t.get("sensitivity").is_none() {
                let mut d = Diagnostic::error(
                    "unknown-property",
                    format!(
                        "property `{}` of event `{event}` has no shared definition [properties.{}] and no `type` and `sensitivity` of its own",
                        id.value, id.value
                    ),
                )
                .at(id.span)
                .with_label("not defined");
                d.help = did_you_mean(&id.value, shared_props.iter().map(|p| p.id.value.as_str()))
                    .map(|h| format!("{h} (a shared property)"))
                    .or_else(|| {
                        Some(format!(
                            "define [properties.{}], or give it `type` and `sensitivity` inline",
                            id.value
                        ))
                    });
                self.error(d);
            }
            return property;
        };
        // The shared definition had errors of its own, already reported.
        let base = &shared_props[index?];
        for (key, _) in &t.entries {
            let name = key.get_ref().as_ref();
            if PROPERTY_KEYS.contains(&name) && !OVERRIDE_KEYS.contains(&name) {
                self.error(
                    Diagnostic::error(
                        "shared-override",
                        format!(
                            "property `{}` of event `{event}` uses the shared definition [properties.{}], so it cannot set `{name}`",
                            id.value, id.value
                        ),
                    )
                    .at(span_of(key))
                    .with_label("only `name`, `description`, `required` and `purposes` may be set here")
                    .with_secondary(base.span, "shared definition")
                    .with_help(format!(
                        "change `{name}` in [properties.{}], or remove it here",
                        id.value
                    )),
                );
            }
        }
        let name = self.string(&t, "name");
        let description = self.string(&t, "description");
        let required = self.boolean(&t, "required");
        let purposes = self.strings(&t, "purposes");
        if [
            matches!(name, Got::Invalid),
            matches!(description, Got::Invalid),
            matches!(required, Got::Invalid),
            matches!(purposes, Got::Invalid),
        ]
        .contains(&true)
        {
            return None;
        }
        let mut property = base.clone();
        if let Some(name) = name.ok() {
            property.name = name;
        }
        if let Some(description) = description.ok() {
            property.description = Some(description);
        }
        if let Some(required) = required.ok() {
            property.required = required;
        }
        if let Some(purposes) = purposes.ok() {
            property.purposes = Some(purposes);
        }
        property.shared = Some(id.value.clone());
        property.id = id;
        property.span = t.span;
        Some(property)
    }
}
