//! `trackplan import segment`: a Segment Protocols tracking plan (`plan.json` as Typewriter
//! keeps it, or a Public API export) to a plan skeleton.
//!
//! What carries over: event names and descriptions, property names, descriptions, types,
//! required flags, enum values, string `maxLength`, numeric `minimum`/`maximum`, lists of
//! scalars and of enum values; `identify` traits become `[traits.*]` and `group` traits the
//! traits of one group kind. What a Segment plan does not say — why data is collected and how sensitive it
//! is — is written as the placeholder `needs_review`, which is neither a declared purpose nor a
//! sensitivity, so `trackplan check` fails on every spot until a person fills it in.
//! Shapes trackplan cannot express (objects, arrays of objects, untyped or union-typed values)
//! are written as comments and reported as warnings, never silently dropped.
//!
//! Ids are derived from names: lower-cased; every run of characters other than `a`–`z` and
//! `0`–`9` becomes one `_`; `_` at either end is dropped; an id that would start with a digit
//! gets the prefix `event_` or `property_`, an empty one becomes `event`/`property`. When two
//! names give the same id — or ids whose generated UpperCamelCase Rust names are equal, like
//! `step_1` and `step1` — the later one (in file order) gets `_2`, `_3`, …. The wire name is always kept
//! byte for byte in `name`.

use crate::json::{Json as Value, NULL};
use std::collections::HashSet;
use std::fmt::Write as _;

/// The placeholder written where a person must decide.
pub const NEEDS_REVIEW: &str = "needs_review";

/// A plan skeleton and what could not be carried over.
#[derive(Debug)]
pub struct Imported {
    /// The plan, as TOML text in canonical layout.
    pub toml: String,
    /// One line per thing that needs attention beyond the placeholders.
    pub warnings: Vec<String>,
}

/// Why a file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not JSON.
    #[error("not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but no tracking-plan shape.
    #[error(
        "no events found: expected a Segment tracking plan with `rules.events` (Typewriter \
         `plan.json`) or `rules` of type TRACK (Public API export)"
    )]
    NoEvents,
}

/// One event as read from the Segment plan.
struct SegmentEvent<'a> {
    name: String,
    description: Option<&'a str>,
    schema: &'a Value,
}

/// Converts a Segment plan to plan TOML.
pub fn import(json: &str) -> Result<Imported, ImportError> {
    let root: Value = serde_json::from_str(json)?;
    let plan = ["tracking_plan", "trackingPlan", "data"]
        .iter()
        .find_map(|k| root.get(k))
        .map(|inner| inner.get("trackingPlan").unwrap_or(inner))
        .unwrap_or(&root);
    let events = events_of(plan).ok_or(ImportError::NoEvents)?;
    let mut warnings = Vec::new();
    let rules = plan.get("rules").filter(|r| r.as_object().is_some());
    if let Some(rules) = rules
        && rules.get("global").is_some_and(has_properties)
    {
        warnings.push(
            "`rules.global` is not an event: its properties were not imported (declare the \
             ones every event carries as [context.*] properties)"
                .to_owned(),
        );
    }

    let display = ["display_name", "name"]
        .iter()
        .filter_map(|k| plan.get(k).and_then(Value::as_str))
        .find(|n| !n.contains('/'))
        .unwrap_or("imported");
    let plan_name = match slug(display) {
        s if s.is_empty() => "imported".to_owned(),
        s if s.starts_with(|c: char| c.is_ascii_digit()) => format!("plan_{s}"),
        s => s,
    };

    let mut out = String::new();
    out.push_str(HEADER);
    let _ = writeln!(
        out,
        "\n[plan]\nname = {}\nversion = 1",
        toml_str(&plan_name)
    );
    out.push_str(PURPOSE_TEMPLATE);

    let mut event_ids = Ids::new("event");
    for event in &events {
        let id = event_ids.next(&event.name);
        let _ = writeln!(out, "\n[events.{id}]");
        if event.name != id {
            let _ = writeln!(out, "name = {}", toml_str(&event.name));
        }
        if let Some(d) = event.description.filter(|d| !d.trim().is_empty()) {
            let _ = writeln!(out, "description = {}", toml_str(d));
        }
        let _ = writeln!(
            out,
            "purposes = [\"{NEEDS_REVIEW}\"] # REVIEW: why is this event collected? Use ids \
             declared under [purposes]."
        );
        let props = event
            .schema
            .pointer("/properties/properties")
            .unwrap_or(NULL);
        let required: Vec<&str> = props
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(map) = props.get("properties").and_then(Value::as_object) else {
            continue;
        };
        let mut prop_ids = Ids::new("property");
        for (name, schema) in map {
            let id = prop_ids.next(name);
            let where_ = format!("\"{}\" of \"{}\"", name, event.name);
            property(
                &mut out,
                &mut warnings,
                &format!("events.{id_e}.properties.{id}", id_e = event_ids.last()),
                name,
                &id,
                schema,
                required.contains(&name.as_str()),
                &where_,
            );
        }
    }
    if let Some(rules) = rules {
        traits(&mut out, &mut warnings, rules);
    }

    // The text is built to be valid TOML; should formatting ever fail, the unformatted text
    // still goes out and `check` points at the problem.
    let toml = crate::fmt::format(&out).unwrap_or(out);
    Ok(Imported { toml, warnings })
}

const HEADER: &str = "\
# Imported from a Segment tracking plan by `trackplan import segment`.
#
# Segment plans say what is sent, not why or how sensitive it is. Before this plan can be used
# a person must, for every event and property marked `needs_review`:
#   1. declare the purposes below and list the right ones in each event's `purposes`;
#   2. set `sensitivity` to public, internal, personal or special; personal and special data
#      also need a `category` (fideslang, e.g. \"user.contact.email\") and a `transform` (or
#      `transform = \"none\"` with a `justification`);
#   3. traits (`identify`) and group traits (`group`) are kept for their `purposes`: declare
#      the destinations that receive them.
# `trackplan check` fails until then; it lists every spot with its line and column.
";

const PURPOSE_TEMPLATE: &str = "
# Declare each purpose like this (the description is shown to end users):
#
# [purposes.product_analytics]
# description = \"See which features are used so we can improve them.\"
# basis = \"consent\"
# data_use = \"analytics.reporting\"
";

fn events_of(plan: &Value) -> Option<Vec<SegmentEvent<'_>>> {
    // Typewriter / Config API: rules.events[] with name, description, rules (JSON Schema).
    if let Some(events) = plan.pointer("/rules/events").and_then(Value::as_array) {
        return Some(
            events
                .iter()
                .filter_map(|e| {
                    Some(SegmentEvent {
                        name: e.get("name")?.as_str()?.to_owned(),
                        description: e.get("description").and_then(Value::as_str),
                        schema: e.get("rules").unwrap_or(NULL),
                    })
                })
                .collect(),
        );
    }
    // Public API: rules[] with type TRACK, key and jsonSchema.
    let rules = plan.get("rules")?.as_array()?;
    Some(
        rules
            .iter()
            .filter(|r| r.get("type").and_then(Value::as_str) == Some("TRACK"))
            .filter_map(|r| {
                let schema = r.get("jsonSchema").unwrap_or(NULL);
                Some(SegmentEvent {
                    name: r.get("key")?.as_str()?.to_owned(),
                    description: schema.get("description").and_then(Value::as_str),
                    schema,
                })
            })
            .collect(),
    )
}

fn has_properties(rule: &Value) -> bool {
    [
        "/properties/traits/properties",
        "/properties/properties/properties",
    ]
    .iter()
    .any(|p| {
        rule.pointer(p)
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
    })
}

/// The plan type of a JSON Schema, as `key = value` lines for the property table.
enum Shape {
    Known { lines: Vec<String>, nullable: bool },
    Unsupported(String),
}

/// Typewriter's `identify` traits become `[traits.*]` and its `group` traits one group kind,
/// `[groups.group]`, whose key is Segment's `groupId`: traits take no `required`, and their
/// purposes are the placeholder too.
fn traits(out: &mut String, warnings: &mut Vec<String>, rules: &Value) {
    let traits_of = |rule: &str| {
        rules
            .get(rule)
            .and_then(|r| r.pointer("/properties/traits/properties"))
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
    };
    if let Some(map) = traits_of("identify") {
        let mut ids = Ids::new("trait");
        for (name, schema) in map {
            let id = ids.next(name);
            let where_ = format!("trait \"{name}\" of `identify`");
            let path = format!("traits.{id}");
            trait_table(out, warnings, &path, name, &id, schema, &where_);
        }
    }
    if let Some(map) = traits_of("group") {
        let _ = writeln!(
            out,
            "\n[groups.group] # REVIEW: name the kind of group (company, team, …)\n\
             purposes = [\"{NEEDS_REVIEW}\"] # REVIEW: why are memberships collected?\n\
             key = {{ name = \"groupId\", type = \"string\", sensitivity = \"{NEEDS_REVIEW}\" }}"
        );
        let mut ids = Ids::new("trait");
        for (name, schema) in map {
            let id = ids.next(name);
            let where_ = format!("trait \"{name}\" of `group`");
            let path = format!("groups.group.traits.{id}");
            trait_table(out, warnings, &path, name, &id, schema, &where_);
        }
    }
}

/// One trait: a property table without `required`, with placeholder purposes.
fn trait_table(
    out: &mut String,
    warnings: &mut Vec<String>,
    path: &str,
    name: &str,
    id: &str,
    schema: &Value,
    where_: &str,
) {
    let mut table = String::new();
    property(&mut table, warnings, path, name, id, schema, true, where_);
    let table = table.replace("required = false\n", "");
    out.push_str(&table);
    if table.contains(&format!("[{path}]")) && !path.starts_with("groups.") {
        let _ = writeln!(
            out,
            "purposes = [\"{NEEDS_REVIEW}\"] # REVIEW: why is this trait kept?"
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn property(
    out: &mut String,
    warnings: &mut Vec<String>,
    path: &str,
    name: &str,
    id: &str,
    schema: &Value,
    required: bool,
    where_: &str,
) {
    match shape(schema) {
        Shape::Unsupported(why) => {
            warnings.push(format!("property {where_} not imported: {why}"));
            let _ = writeln!(
                out,
                "\n# NOT IMPORTED: {} ({why}). Declare it as one or more scalar or list \
                 properties if it is still sent.",
                one_line(name)
            );
        }
        Shape::Known { lines, nullable } => {
            let _ = writeln!(out, "\n[{path}]");
            if name != id {
                let _ = writeln!(out, "name = {}", toml_str(name));
            }
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
            let _ = writeln!(
                out,
                "sensitivity = \"{NEEDS_REVIEW}\" # REVIEW: public, internal, personal or special"
            );
            if !required || nullable {
                let _ = writeln!(out, "required = false");
            }
            if let Some(d) = schema
                .get("description")
                .and_then(Value::as_str)
                .filter(|d| !d.trim().is_empty())
            {
                let _ = writeln!(out, "description = {}", toml_str(d));
            }
        }
    }
}

/// Reads `type` (a name or a list with `"null"`), ignoring `null`.
fn types(schema: &Value) -> (Vec<&str>, bool) {
    match schema.get("type") {
        Some(Value::String(t)) => (vec![t.as_str()], t == "null"),
        Some(Value::Array(ts)) => {
            let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
            let nullable = names.contains(&"null");
            (
                names.into_iter().filter(|t| *t != "null").collect(),
                nullable,
            )
        }
        _ => (Vec::new(), false),
    }
}

fn shape(schema: &Value) -> Shape {
    let (types, mut nullable) = types(schema);
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let mut names = Vec::new();
        for v in values {
            match v {
                Value::Null => nullable = true,
                Value::String(s) => names.push(toml_str(s)),
                other => names.push(toml_str(&other.to_string())),
            }
        }
        if names.is_empty() {
            return Shape::Unsupported("an enum without values".to_owned());
        }
        let mut lines = vec![
            "type = \"enum\"".to_owned(),
            format!("values = [{}]", names.join(", ")),
        ];
        if values.iter().any(|v| !v.is_string() && !v.is_null()) {
            lines.push(
                "# REVIEW: the Segment enum had non-text values; trackplan sends enum values as \
                 text"
                    .to_owned(),
            );
        }
        return Shape::Known { lines, nullable };
    }
    match types.as_slice() {
        [] if schema.get("type").is_some() => Shape::Unsupported("always null".to_owned()),
        [] => Shape::Unsupported("no type given, so any value".to_owned()),
        [one] => match item_type(one, schema, 0) {
            Ok(mut lines) => {
                lines.extend(constraints(one, schema));
                Shape::Known { lines, nullable }
            }
            Err(why) => Shape::Unsupported(why),
        },
        many => Shape::Unsupported(format!("one of several types ({})", many.join(", "))),
    }
}

/// The `type = …` (and `items = …`) lines of a type, recursing into list items.
fn item_type(ty: &str, schema: &Value, depth: usize) -> Result<Vec<String>, String> {
    if depth > 1 && ty == "array" {
        return Err("a list of lists, which trackplan does not support".to_owned());
    }
    let simple = |t: &str| Ok(vec![format!("type = \"{t}\"")]);
    match ty {
        "string" => match schema.get("format").and_then(Value::as_str) {
            Some("date-time" | "date") => simple("timestamp"),
            _ => simple("string"),
        },
        "integer" => simple("integer"),
        "number" => simple("number"),
        "boolean" => simple("boolean"),
        "object" => Err("an object; trackplan properties are scalars or lists".to_owned()),
        "array" => {
            let items = schema.get("items").unwrap_or(NULL);
            let inner = inline_items(items, depth + 1)?;
            Ok(vec![
                "type = \"list\"".to_owned(),
                format!("items = {inner}"),
            ])
        }
        other => Err(format!("unknown type `{other}`")),
    }
}

/// `{ type = "…" }` for a list's items: scalars or enum values (trackplan has no lists of
/// lists or of objects).
fn inline_items(items: &Value, _depth: usize) -> Result<String, String> {
    let (types, _) = types(items);
    if let Some(values) = items.get("enum").and_then(Value::as_array) {
        let names: Vec<String> = values
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| match v {
                Value::String(s) => toml_str(s),
                other => toml_str(&other.to_string()),
            })
            .collect();
        if names.is_empty() {
            return Err("a list of enum values without values".to_owned());
        }
        return Ok(format!(
            "{{ type = \"enum\", values = [{}] }}",
            names.join(", ")
        ));
    }
    match types.as_slice() {
        [] => Err("a list whose items have no type".to_owned()),
        ["object"] => {
            Err("a list of objects; trackplan properties are scalars or lists".to_owned())
        }
        ["array"] => Err("a list of lists, which trackplan does not support".to_owned()),
        [one] => {
            let lines = item_type(one, items, 1)?;
            Ok(format!("{{ {} }}", lines.join(", ")))
        }
        many => Err(format!("a list of mixed types ({})", many.join(", "))),
    }
}

fn constraints(ty: &str, schema: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let num = |k: &str| {
        schema
            .get(k)
            .filter(|v| v.is_number())
            .map(Value::to_string)
    };
    match ty {
        "string" => {
            if let Some(n) = schema.get("maxLength").and_then(Value::as_u64) {
                lines.push(format!("max_length = {n}"));
            }
            if let Some(p) = schema.get("pattern").and_then(Value::as_str) {
                lines.push(format!(
                    "# Segment pattern (not enforced by trackplan): {}",
                    one_line(p)
                ));
            }
        }
        "integer" | "number" => {
            if let Some(n) = num("minimum") {
                lines.push(format!("min = {n}"));
            }
            if let Some(n) = num("maximum") {
                lines.push(format!("max = {n}"));
            }
        }
        _ => {}
    }
    lines
}

/// Hands out unique ids derived from names.
struct Ids {
    kind: &'static str,
    used: HashSet<String>,
    /// UpperCamelCase forms: `foo_1` and `foo1` both generate `Foo1`.
    camel: HashSet<String>,
    last: String,
}

impl Ids {
    fn new(kind: &'static str) -> Self {
        Ids {
            kind,
            used: HashSet::new(),
            camel: HashSet::new(),
            last: String::new(),
        }
    }

    fn next(&mut self, name: &str) -> String {
        let base = match slug(name) {
            s if s.is_empty() => self.kind.to_owned(),
            s if s.starts_with(|c: char| c.is_ascii_digit()) => format!("{}_{s}", self.kind),
            s => s,
        };
        let mut id = base.clone();
        let mut n = 1;
        while self.used.contains(&id) || self.camel.contains(&camel(&id)) {
            n += 1;
            id = format!("{base}_{n}");
        }
        self.used.insert(id.clone());
        self.camel.insert(camel(&id));
        self.last = id.clone();
        id
    }

    fn last(&self) -> &str {
        &self.last
    }
}

/// The UpperCamelCase Rust name generated from an id.
fn camel(id: &str) -> String {
    id.split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |c| {
                c.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// `Order Completed` → `order_completed`; see the module documentation.
fn slug(name: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in name.chars().flat_map(fold_latin) {
        if c.is_ascii_alphanumeric() {
            if gap && !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            gap = false;
        } else {
            gap = true;
        }
    }
    out
}

/// Latin letters with diacritics to their base letters (`déjà` → `deja`), so ids stay
/// readable; other scripts are dropped (the wire name keeps them).
fn fold_latin(c: char) -> impl Iterator<Item = char> {
    let base = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'œ' | 'Œ' => "oe",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        _ => "",
    };
    let single = base.is_empty().then_some(c);
    base.chars().chain(single)
}

fn toml_str(s: &str) -> String {
    // toml_edit picks a quoting that round-trips (basic string with escapes, or literal).
    toml_edit::Value::from(s).to_string()
}

/// Text safe inside a one-line comment.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_collisions() {
        let mut ids = Ids::new("event");
        assert_eq!(ids.next("Order Completed"), "order_completed");
        assert_eq!(ids.next("order_completed"), "order_completed_2");
        assert_eq!(ids.next("ORDER--COMPLETED!"), "order_completed_3");
        assert_eq!(ids.next("OrderCompleted"), "ordercompleted");
        assert_eq!(ids.next("step 1"), "step_1");
        assert_eq!(
            ids.next("step1"),
            "step1_2",
            "`step_1` and `step1` are both `Step1` in Rust"
        );
        assert_eq!(ids.next("42 \"quoted\" name"), "event_42_quoted_name");
        assert_eq!(ids.next("🎉"), "event");
        assert_eq!(ids.next("!!"), "event_2");
        assert_eq!(ids.next("Café Crème"), "cafe_creme");
        assert_eq!(ids.next("Straße"), "strasse");
        assert_eq!(ids.next("日本"), "event_3");
    }

    #[test]
    fn public_api_shape_is_read() {
        let json = r#"{"trackingPlan": {"name": "Web", "rules": [
            {"type": "TRACK", "key": "Signed Up", "jsonSchema": {"properties": {"properties": {
                "properties": {"plan": {"type": "string"}}, "required": ["plan"]}}}},
            {"type": "IDENTIFY", "key": null, "jsonSchema": {}}
        ]}}"#;
        let out = import(json).unwrap();
        assert!(out.toml.contains("[events.signed_up]"), "{}", out.toml);
        assert!(out.toml.contains("[events.signed_up.properties.plan]"));
        assert!(out.toml.contains("name = \"web\""));
    }

    #[test]
    fn not_a_plan_is_an_error() {
        assert!(matches!(import("{}"), Err(ImportError::NoEvents)));
        assert!(matches!(import("nope"), Err(ImportError::Json(_))));
    }
}
