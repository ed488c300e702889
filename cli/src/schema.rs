//! `trackplan schema --events`: a JSON Schema per event payload, in the body Mixpanel's Lexicon
//! Schemas API accepts (`POST /projects/{id}/schemas`: `{"entries": [{"entityType": "event",
//! "name", "schemaJson"}]}`).
//!
//! The schemas describe what a destination receives, after transforms: an `hmac` property is
//! 64 hex digits, a `bucket` property one of its range labels, a timestamp an ISO-8601 string,
//! and a `redact` property is never required (third parties never receive it). An event's
//! schema also lists the context properties and group keys sent with it; the user profile is
//! one more entry (`profile` / `$user`) with every trait.

use serde_json::{Map, Value, json};
use trackplan_model::{Event, Plan, Property, PropertyType, Transform};

/// The Lexicon upload body for every event of the plan.
pub fn lexicon(plan: &Plan) -> Value {
    let entries: Vec<Value> = plan
        .events
        .iter()
        .map(|e| {
            json!({
                "entityType": "event",
                "name": e.name.value,
                "schemaJson": event_schema(plan, e),
            })
        })
        .collect();
    let mut entries = entries;
    if !plan.traits.is_empty() {
        // Mixpanel names the user-profile schema `profile` / `$user`.
        entries.push(json!({
            "entityType": "profile",
            "name": "$user",
            "schemaJson": profile_schema(plan),
        }));
    }
    json!({ "entries": entries, "truncate": false })
}

/// The JSON Schema of the user profile: every trait, none required (an update sets some).
pub fn profile_schema(plan: &Plan) -> Value {
    let mut properties = Map::new();
    for t in &plan.traits {
        properties.insert(t.name.value.clone(), property_schema(t));
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema",
        "description": format!("User profiles of plan `{}`.", plan.name.value),
        "type": "object",
        "properties": Value::Object(properties),
        "required": [],
        "metadata": { "trackplan": {
            "plan": format!("{}@{}", plan.name.value, plan.version.value),
        }},
    })
}

/// The JSON Schema (draft-07) of one event's properties.
pub fn event_schema(plan: &Plan, e: &Event) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for p in &e.properties {
        properties.insert(p.name.value.clone(), property_schema(p));
        // A third party never receives a `redact` property, so it cannot be required there.
        if p.required.value && p.audience().admits(true) {
            required.push(Value::from(p.name.value.clone()));
        }
    }
    // Sent with the event too, when set: the context properties that apply to it and the keys
    // of the groups it carries (when the subject is a member). Neither is ever required.
    for c in plan.context_of(e) {
        let p = &c.property;
        properties.insert(p.name.value.clone(), property_schema(p));
    }
    for g in e.groups.value.iter().filter_map(|id| plan.group(&id.value)) {
        properties.insert(g.key.name.value.clone(), property_schema(&g.key));
    }
    let mut schema = Map::new();
    schema.insert(
        "$schema".into(),
        "http://json-schema.org/draft-07/schema".into(),
    );
    if let Some(d) = &e.description {
        schema.insert("description".into(), d.value.clone().into());
    }
    schema.insert("type".into(), "object".into());
    schema.insert("properties".into(), Value::Object(properties));
    schema.insert("required".into(), Value::Array(required));
    schema.insert("additionalProperties".into(), false.into());
    let tags: Vec<&str> = e.purposes.value.iter().map(|p| p.value.as_str()).collect();
    schema.insert(
        "metadata".into(),
        json!({ "com.mixpanel": { "tags": tags }, "trackplan": {
            "plan": format!("{}@{}", plan.name.value, plan.version.value),
            "event": e.id.value,
        }}),
    );
    Value::Object(schema)
}

fn property_schema(p: &Property) -> Value {
    let mut s = match &p.transform.value {
        Transform::Hmac => json!({ "type": "string", "pattern": "^[0-9a-f]{64}$" }),
        Transform::Bucket { buckets } => {
            json!({ "type": "string", "enum": bucket_labels(buckets) })
        }
        _ => type_schema(&p.ty.value),
    };
    if let Value::Object(m) = &mut s {
        let numeric = matches!(p.ty.value, PropertyType::Integer | PropertyType::Number)
            && !matches!(p.transform.value, Transform::Bucket { .. });
        if numeric {
            if let Some(min) = &p.constraints.min {
                m.insert("minimum".into(), number(min.value));
            }
            if let Some(max) = &p.constraints.max {
                m.insert("maximum".into(), number(max.value));
            }
        }
        let text =
            matches!(p.ty.value, PropertyType::String) && p.transform.value != Transform::Hmac;
        if let (true, Some(len)) = (text, &p.constraints.max_length) {
            m.insert("maxLength".into(), len.value.into());
        }
        if let Some(d) = &p.description {
            m.insert("description".into(), d.value.clone().into());
        }
    }
    s
}

fn type_schema(ty: &PropertyType) -> Value {
    match ty {
        PropertyType::String => json!({ "type": "string" }),
        PropertyType::Integer => json!({ "type": "integer" }),
        PropertyType::Number => json!({ "type": "number" }),
        PropertyType::Boolean => json!({ "type": "boolean" }),
        PropertyType::Timestamp => json!({ "type": "string", "format": "date-time" }),
        PropertyType::Enum { values } => {
            let values: Vec<&str> = values.iter().map(|v| v.value.as_str()).collect();
            json!({ "type": "string", "enum": values })
        }
        PropertyType::List { items } => json!({ "type": "array", "items": type_schema(items) }),
    }
}

/// Integers as JSON integers (`0`, not `0.0`).
fn number(x: f64) -> Value {
    match as_integer(x) {
        Some(i) => i.into(),
        None => x.into(),
    }
}

fn as_integer(x: f64) -> Option<i64> {
    // Exact below 2^53, where every integer-valued f64 converts without loss.
    (x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0).then_some(x as i64)
}

fn bound(x: f64) -> String {
    as_integer(x).map_or_else(|| x.to_string(), |i| i.to_string())
}

/// Every label the runtime's `bucket` transform can send for ascending `bounds`: `"<18"`,
/// `"18-24"`, …, `"65+"`; a window of one integer is that integer; windows with a fractional
/// bound read `"2.5 to <5"`.
pub fn bucket_labels(bounds: &[f64]) -> Vec<String> {
    let (Some(&first), Some(&last)) = (bounds.first(), bounds.last()) else {
        return Vec::new();
    };
    let mut labels = vec![format!("<{}", bound(first))];
    for w in bounds.windows(2) {
        labels.push(match (as_integer(w[0]), as_integer(w[1])) {
            (Some(lo), Some(hi)) if hi - 1 == lo => lo.to_string(),
            (Some(lo), Some(hi)) => format!("{lo}-{}", hi - 1),
            _ => format!("{} to <{}", bound(w[0]), bound(w[1])),
        });
    }
    labels.push(format!("{}+", bound(last)));
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_labels_match_the_runtime() {
        assert_eq!(
            bucket_labels(&[18.0, 25.0, 35.0, 50.0, 65.0]),
            ["<18", "18-24", "25-34", "35-49", "50-64", "65+"]
        );
        assert_eq!(bucket_labels(&[0.0, 1.0, 2.0]), ["<0", "0", "1", "2+"]);
        assert_eq!(bucket_labels(&[2.5, 5.0]), ["<2.5", "2.5 to <5", "5+"]);
        assert!(bucket_labels(&[]).is_empty());
    }
}
