//! Property definitions: type, transform and constraints.

use super::*;

impl Parser {
    /// A full property definition (shared, or inline on an event without a shared one).
    /// `event` names the event for messages when the property is inline.
    pub(super) fn property(
        &mut self,
        t: &Table<'_, '_>,
        id: Spanned<String>,
        event: Option<&str>,
    ) -> Option<Property> {
        let ty = self.keyword(t, "type", TYPES);
        let sensitivity = self.keyword(t, "sensitivity", SENSITIVITIES);
        if event.is_some() && matches!(ty, Got::Absent) && matches!(sensitivity, Got::Absent) {
            // Reported by the caller, which can suggest a shared definition instead.
            return None;
        }
        let item = id.span;
        let ty = self.require(t, "type", ty, "\"string\"");
        let ty = ty.and_then(|ty| self.property_type(t, ty));
        let ty = self.fill(item, "type", ty, PropertyType::String, t.span);
        let sensitivity = self.require(t, "sensitivity", sensitivity, "\"internal\"");
        let sensitivity = self.fill(
            item,
            "sensitivity",
            sensitivity,
            Sensitivity::Internal,
            t.span,
        );
        let transform = self.transform(t);
        let transform = self.fill(item, "transform", transform, Transform::None, t.span);
        let name = self.string(t, "name");
        let name = self.optional(item, "name", name);
        let category = self.string(t, "category");
        let category = self.optional(item, "category", category);
        let purposes = self.strings(t, "purposes").ok();
        let justification = self.string(t, "justification");
        let justification = self.optional(item, "justification", justification);
        let special_basis = self.string(t, "special_basis");
        let special_basis = self.optional(item, "special_basis", special_basis);
        let required = self.boolean(t, "required").ok();
        let description = self.string(t, "description").ok();
        let max_length = self.uint(t, "max_length").ok();
        let min = self.number(t, "min").ok();
        let max = self.number(t, "max").ok();
        Some(Property {
            name: name.unwrap_or_else(|| id.clone()),
            ty,
            sensitivity,
            category,
            transform,
            purposes,
            justification,
            special_basis,
            required: required.unwrap_or_else(|| Spanned::new(true, id.span)),
            description,
            constraints: Constraints {
                max_length,
                min,
                max,
            },
            shared: None,
            span: t.span,
            id,
        })
    }

    /// Builds the full type from `type` plus `values` / `items`.
    pub(super) fn property_type(
        &mut self,
        t: &Table<'_, '_>,
        ty: Spanned<TypeKey>,
    ) -> Option<Spanned<PropertyType>> {
        let values = self.strings(t, "values");
        let items = t.get("items");
        if !matches!(ty.value, TypeKey::Enum)
            && let Some((key, _)) = t.get("values")
        {
            self.error(
                Diagnostic::error(
                    "misplaced-key",
                    format!("`values` of {} only applies to `type = \"enum\"`", t.what),
                )
                .at(span_of(key))
                .with_label("not an enum")
                .with_help("remove `values`, or set `type = \"enum\"`"),
            );
        }
        if !matches!(ty.value, TypeKey::List)
            && let Some((key, _)) = items
        {
            self.error(
                Diagnostic::error(
                    "misplaced-key",
                    format!("`items` of {} only applies to `type = \"list\"`", t.what),
                )
                .at(span_of(key))
                .with_label("not a list")
                .with_help("remove `items`, or set `type = \"list\"`"),
            );
        }
        let value = match ty.value {
            TypeKey::String => PropertyType::String,
            TypeKey::Integer => PropertyType::Integer,
            TypeKey::Number => PropertyType::Number,
            TypeKey::Boolean => PropertyType::Boolean,
            TypeKey::Timestamp => PropertyType::Timestamp,
            TypeKey::Enum => match values {
                Got::Value(values) => PropertyType::Enum {
                    values: values.value,
                },
                // Validation reports an enum without values (it can also come from code).
                Got::Absent => PropertyType::Enum { values: Vec::new() },
                Got::Invalid => return None,
            },
            TypeKey::List => {
                let Some((_, items)) = items else {
                    self.error(
                        Diagnostic::error(
                            "list-without-items",
                            format!("{} is a list without `items`", t.what),
                        )
                        .at(ty.span)
                        .with_label("a list needs an item type")
                        .with_help("add `items = { type = \"string\" }`"),
                    );
                    return None;
                };
                let i = self.open(items, format!("`items` of {}", t.what), ITEMS_KEYS)?;
                let item_ty = self.keyword(&i, "type", TYPES);
                let item_ty = self.require(&i, "type", item_ty, "\"string\"")?;
                if matches!(item_ty.value, TypeKey::List) {
                    self.error(
                        Diagnostic::error(
                            "unsupported-type",
                            format!("{} is a list of lists, which is not supported", t.what),
                        )
                        .at(item_ty.span)
                        .with_label("nested list")
                        .with_help("use a list of strings, numbers, timestamps or enums"),
                    );
                    return None;
                }
                let item = self.property_type(&i, item_ty)?;
                PropertyType::List {
                    items: Box::new(item.value),
                }
            }
        };
        Some(Spanned::new(value, ty.span))
    }

    pub(super) fn transform(&mut self, t: &Table<'_, '_>) -> Option<Spanned<Transform>> {
        let key = self.keyword(t, "transform", TRANSFORMS);
        let buckets = self.numbers(t, "buckets");
        let to = self.keyword(t, "to", GRANULARITIES);
        let (kind, span) = match key {
            Got::Value(k) => (k.value, k.span),
            Got::Absent => (TransformKey::None, t.span),
            Got::Invalid => return None,
        };
        if !matches!(kind, TransformKey::Bucket)
            && let Some((k, _)) = t.get("buckets")
        {
            self.error(
                Diagnostic::error(
                    "misplaced-key",
                    format!(
                        "`buckets` of {} only applies to `transform = \"bucket\"`",
                        t.what
                    ),
                )
                .at(span_of(k))
                .with_label("no bucket transform")
                .with_help("remove `buckets`, or set `transform = \"bucket\"`"),
            );
        }
        if !matches!(kind, TransformKey::Coarsen)
            && let Some((k, _)) = t.get("to")
        {
            self.error(
                Diagnostic::error(
                    "misplaced-key",
                    format!(
                        "`to` of {} only applies to `transform = \"coarsen\"`",
                        t.what
                    ),
                )
                .at(span_of(k))
                .with_label("no coarsen transform")
                .with_help("remove `to`, or set `transform = \"coarsen\"`"),
            );
        }
        let transform = match kind {
            TransformKey::None => Transform::None,
            TransformKey::Hmac => Transform::Hmac,
            TransformKey::TruncateIp => Transform::TruncateIp,
            TransformKey::StripQuery => Transform::StripQuery,
            TransformKey::Redact => Transform::Redact,
            TransformKey::Bucket => match buckets {
                Got::Value(b) => Transform::Bucket { buckets: b.value },
                Got::Invalid => return None,
                Got::Absent => {
                    self.error(
                        Diagnostic::error(
                            "missing-key",
                            format!("{} uses `transform = \"bucket\"` without `buckets`", t.what),
                        )
                        .at(span)
                        .with_label("needs `buckets`")
                        .with_help("add ascending bounds, e.g. `buckets = [18, 25, 35, 50, 65]`"),
                    );
                    return None;
                }
            },
            TransformKey::Coarsen => match to {
                Got::Value(to) => Transform::Coarsen { to: to.value },
                Got::Invalid => return None,
                Got::Absent => {
                    self.error(
                        Diagnostic::error(
                            "missing-key",
                            format!("{} uses `transform = \"coarsen\"` without `to`", t.what),
                        )
                        .at(span)
                        .with_label("needs `to`")
                        .with_help("add `to = \"hour\"`, `\"day\"` or `\"month\"`"),
                    );
                    return None;
                }
            },
        };
        Some(Spanned::new(transform, span))
    }
}
