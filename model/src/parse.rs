//! Parsing: the plan file's spanned TOML tree into a [`Plan`].
//!
//! The TOML layer (`toml::de::DeTable`) keeps a byte span on every key and value, and recovers
//! after syntax errors. This module walks that tree by hand instead of going through serde, so
//! it can report *every* wrong kind, unknown key and missing key at once instead of stopping at
//! the first. Items with errors are left out of the returned plan; their ids are remembered so
//! validation does not add "unknown purpose" noise for a purpose that exists but is broken.

use std::collections::{HashMap, HashSet};

use toml::de::{DeString, DeTable, DeValue};

use crate::diagnostic::Diagnostic;
use crate::format::{TransformKey, TypeKey};
use crate::plan::{
    CategoryExtension, Constraints, Destination, DestinationKind, Event, Granularity, Identity,
    IdentityTransform, LegalBasis, Match, Plan, Policy, Property, PropertyType, Purpose, RuleSet,
    Sensitivity, Transform,
};
use crate::source::{SourceFile, Span, Spanned};
use crate::suggestion::did_you_mean;

type TomlValue<'i> = toml::Spanned<DeValue<'i>>;
type TomlKey<'i> = toml::Spanned<DeString<'i>>;

const TOP_KEYS: &[&str] = &[
    "plan",
    "identity",
    "purposes",
    "destinations",
    "properties",
    "events",
    "policies",
    "taxonomy",
];
const PLAN_KEYS: &[&str] = &["name", "version", "owner"];
const IDENTITY_KEYS: &[&str] = &["transform", "justification"];
const PURPOSE_KEYS: &[&str] = &[
    "description",
    "basis",
    "data_use",
    "retention_days",
    "sale_or_share",
];
const DESTINATION_KEYS: &[&str] = &["kind", "purposes", "description", "third_party"];
/// Every key a property definition may have.
pub(crate) const PROPERTY_KEYS: &[&str] = &[
    "name",
    "type",
    "values",
    "items",
    "sensitivity",
    "category",
    "transform",
    "buckets",
    "to",
    "purposes",
    "justification",
    "special_basis",
    "required",
    "description",
    "max_length",
    "min",
    "max",
];
/// Keys an event may set on a property that uses a shared definition.
pub(crate) const OVERRIDE_KEYS: &[&str] = &["name", "description", "required", "purposes"];
const ITEMS_KEYS: &[&str] = &["type", "values"];
const EVENT_KEYS: &[&str] = &["name", "description", "purposes", "properties"];
const POLICY_KEYS: &[&str] = &["name", "deny"];
const DENY_KEYS: &[&str] = &["categories", "data_uses"];
const RULE_KEYS: &[&str] = &["values", "matches"];
const TAXONOMY_KEYS: &[&str] = &["categories"];
const EXTENSION_KEYS: &[&str] = &["special", "description"];

const BASES: &[(&str, LegalBasis)] = &[
    ("consent", LegalBasis::Consent),
    ("legitimate_interest", LegalBasis::LegitimateInterest),
    ("contract", LegalBasis::Contract),
    ("legal_obligation", LegalBasis::LegalObligation),
    ("vital_interest", LegalBasis::VitalInterest),
    ("public_task", LegalBasis::PublicTask),
];
const KINDS: &[(&str, DestinationKind)] = &[
    ("mixpanel", DestinationKind::Mixpanel),
    ("segment", DestinationKind::Segment),
    ("ndjson", DestinationKind::Ndjson),
    ("stdout", DestinationKind::Stdout),
    ("memory", DestinationKind::Memory),
    ("custom", DestinationKind::Custom),
];
const SENSITIVITIES: &[(&str, Sensitivity)] = &[
    ("public", Sensitivity::Public),
    ("internal", Sensitivity::Internal),
    ("personal", Sensitivity::Personal),
    ("special", Sensitivity::Special),
];
const IDENTITY_TRANSFORMS: &[(&str, IdentityTransform)] = &[
    ("hmac", IdentityTransform::Hmac),
    ("none", IdentityTransform::None),
];
const GRANULARITIES: &[(&str, Granularity)] = &[
    ("hour", Granularity::Hour),
    ("day", Granularity::Day),
    ("month", Granularity::Month),
];
const MATCHES: &[(&str, Match)] = &[
    ("any", Match::Any),
    ("all", Match::All),
    ("none", Match::None),
    ("other", Match::Other),
];

/// The transform keys; `bucket` and `coarsen` take their parameters from sibling keys.
const TRANSFORMS: &[(&str, TransformKey)] = &[
    ("none", TransformKey::None),
    ("hmac", TransformKey::Hmac),
    ("truncate_ip", TransformKey::TruncateIp),
    ("strip_query", TransformKey::StripQuery),
    ("bucket", TransformKey::Bucket),
    ("coarsen", TransformKey::Coarsen),
    ("redact", TransformKey::Redact),
];

const TYPES: &[(&str, TypeKey)] = &[
    ("string", TypeKey::String),
    ("integer", TypeKey::Integer),
    ("number", TypeKey::Number),
    ("boolean", TypeKey::Boolean),
    ("timestamp", TypeKey::Timestamp),
    ("enum", TypeKey::Enum),
    ("list", TypeKey::List),
];

/// What parsing could not fill in. An item with a broken field stays in the plan with a
/// placeholder value (so references to it resolve and its other fields are still checked), and
/// the field is recorded here so validation skips checks that would only repeat the error.
#[derive(Debug, Default)]
pub(crate) struct Incomplete {
    /// (start of the item's id span, field key) of every placeholder.
    fields: HashSet<(usize, &'static str)>,
    /// Taxonomy extensions with errors (left out of the plan).
    pub categories: HashSet<String>,
    /// `[plan] name` is missing or invalid.
    pub plan_name: bool,
}

impl Incomplete {
    fn mark(&mut self, item: Span, field: &'static str) {
        self.fields.insert((item.start, field));
    }

    /// Whether `field` of the item whose id is at `item` is a placeholder.
    pub(crate) fn has(&self, item: Span, field: &'static str) -> bool {
        !self.fields.is_empty() && self.fields.contains(&(item.start, field))
    }
}

/// Parses a plan file into a [`Plan`] and the problems found on the way.
///
/// The plan is `None` only when the TOML itself is broken; otherwise it holds every item that
/// parsed cleanly (so callers that want a usable plan should use [`check`](crate::check), which
/// also validates and returns the plan only when there are no errors).
///
/// ```
/// use trackplan_model::{parse, SourceFile};
/// let src = SourceFile::new("p.toml", "[plan]\nname = \"shop\"\nversion = 1\n");
/// let (plan, diagnostics) = parse(&src);
/// assert!(diagnostics.is_empty());
/// assert_eq!(plan.unwrap().name.value, "shop");
/// ```
pub fn parse(src: &SourceFile) -> (Option<Plan>, Vec<Diagnostic>) {
    let (plan, _, diagnostics) = parse_incomplete(src);
    (plan, diagnostics)
}

pub(crate) fn parse_incomplete(src: &SourceFile) -> (Option<Plan>, Incomplete, Vec<Diagnostic>) {
    let mut parser = Parser::default();
    let (root, mut errors) = DeTable::parse_recoverable(&src.text);
    errors.sort_by_key(|e| e.span().map_or(0, |s| s.start));
    let mut fatal = false;
    // Lines of table headers defined twice: keys inside such a table are reported as
    // duplicates too, which only repeats the header's error.
    let mut duplicate_headers: Vec<usize> = Vec::new();
    for error in &errors {
        let span = error.span().map(Span::from).unwrap_or_default();
        if error.message() == "duplicate key" {
            let (line, _) = src.line_col(span.start);
            if src.line(line).trim_start().starts_with('[') {
                duplicate_headers.push(line);
            } else if let Some(&header) = duplicate_headers.last() {
                let inside = (header + 1..line).all(|l| !src.line(l).trim_start().starts_with('['));
                if inside {
                    continue;
                }
            }
            // Unlike a syntax error, this leaves a usable tree: keep going and report the rest
            // of the file too.
            let key = src.text.get(span.start..span.end).unwrap_or("");
            parser.diags.push(
                Diagnostic::error("duplicate-key", format!("`{key}` is defined twice"))
                    .at(span)
                    .with_label("defined again here")
                    .with_help(
                        "ids and keys must be unique within their table; rename or remove one",
                    ),
            );
        } else {
            fatal = true;
            parser.diags.push(
                Diagnostic::error("toml-syntax", format!("invalid TOML: {}", error.message()))
                    .at(span),
            );
        }
    }
    if fatal {
        return (None, parser.incomplete, parser.diags);
    }
    let root_span = Span::new(0, 0);
    let top = Table {
        what: "the plan file".to_owned(),
        span: root_span,
        entries: sorted_entries(root.get_ref()),
        known: TOP_KEYS,
    };
    parser.unknown_keys(&top);
    let plan = parser.plan(&top);
    (Some(plan), parser.incomplete, parser.diags)
}

/// The result of a lookup: absent, present but wrong (already reported), or a value.
enum Got<T> {
    Absent,
    Invalid,
    Value(Spanned<T>),
}

impl<T> Got<T> {
    fn ok(self) -> Option<Spanned<T>> {
        match self {
            Got::Value(v) => Some(v),
            _ => None,
        }
    }
}

struct Table<'t, 'i> {
    /// How messages name this table: "[plan]", "purpose `security`".
    what: String,
    /// The header (`[purposes.security]`) or inline table.
    span: Span,
    entries: Vec<(&'t TomlKey<'i>, &'t TomlValue<'i>)>,
    /// The keys this table may have; empty when its keys are ids.
    known: &'static [&'static str],
}

impl<'t, 'i> Table<'t, 'i> {
    fn get(&self, key: &str) -> Option<(&'t TomlKey<'i>, &'t TomlValue<'i>)> {
        self.entries
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .copied()
    }
}

/// Entries in file order: the map may be sorted by key depending on `toml` features.
fn sorted_entries<'t, 'i>(map: &'t DeTable<'i>) -> Vec<(&'t TomlKey<'i>, &'t TomlValue<'i>)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

fn span_of<T>(v: &toml::Spanned<T>) -> Span {
    v.span().into()
}

fn kind_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn one_of<T>(options: &[(&str, T)]) -> String {
    let names: Vec<String> = options.iter().map(|(k, _)| format!("`{k}`")).collect();
    names.join(", ")
}

fn integer(v: &DeValue<'_>) -> Option<Option<i64>> {
    match v {
        DeValue::Integer(i) => Some(i64::from_str_radix(i.as_str(), i.radix()).ok()),
        _ => None,
    }
}

#[derive(Default)]
struct Parser {
    diags: Vec<Diagnostic>,
    incomplete: Incomplete,
}

impl Parser {
    fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Opens a value as a table, reporting a wrong kind and unknown keys.
    fn open<'t, 'i>(
        &mut self,
        v: &'t TomlValue<'i>,
        what: String,
        keys: &'static [&'static str],
    ) -> Option<Table<'t, 'i>> {
        let mut table = self.open_any(v, what)?;
        table.known = keys;
        self.unknown_keys(&table);
        Some(table)
    }

    /// Opens a value as a table whose keys are ids, reporting a wrong kind.
    fn open_any<'t, 'i>(&mut self, v: &'t TomlValue<'i>, what: String) -> Option<Table<'t, 'i>> {
        let DeValue::Table(map) = v.get_ref() else {
            self.error(
                Diagnostic::error(
                    "wrong-kind",
                    format!("{what} must be a table, found {}", kind_name(v.get_ref())),
                )
                .at(span_of(v))
                .with_label("expected a table"),
            );
            return None;
        };
        Some(Table {
            what,
            span: span_of(v),
            entries: sorted_entries(map),
            known: &[],
        })
    }

    fn unknown_keys(&mut self, table: &Table<'_, '_>) {
        let keys = table.known;
        for (key, value) in &table.entries {
            let name = key.get_ref().as_ref();
            if keys.contains(&name) {
                continue;
            }
            let mut d = Diagnostic::error(
                "unknown-key",
                format!("unknown key `{name}` in {}", table.what),
            )
            .at(span_of(key))
            .with_label("unknown key");
            d.help = did_you_mean(name, keys.iter().copied()).or_else(|| {
                Some(format!(
                    "the keys of {} are {}",
                    table.what,
                    keys.iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            });
            if table.what.starts_with("taxonomy category") && value.get_ref().is_table() {
                d.help = Some(
                    "quote the whole category key: [taxonomy.categories.\"user.example.key\"]"
                        .to_owned(),
                );
            }
            self.error(d);
        }
    }

    fn wrong_kind(&mut self, table: &Table<'_, '_>, key: &str, v: &TomlValue<'_>, expected: &str) {
        self.error(
            Diagnostic::error(
                "wrong-kind",
                format!(
                    "`{key}` of {} must be {expected}, found {}",
                    table.what,
                    kind_name(v.get_ref())
                ),
            )
            .at(span_of(v))
            .with_label(format!("expected {expected}")),
        );
    }

    fn string(&mut self, t: &Table<'_, '_>, key: &str) -> Got<String> {
        let Some((_, v)) = t.get(key) else {
            return Got::Absent;
        };
        match v.get_ref() {
            DeValue::String(s) => Got::Value(Spanned::new(s.to_string(), span_of(v))),
            _ => {
                self.wrong_kind(t, key, v, "a string");
                Got::Invalid
            }
        }
    }

    fn boolean(&mut self, t: &Table<'_, '_>, key: &str) -> Got<bool> {
        let Some((_, v)) = t.get(key) else {
            return Got::Absent;
        };
        match v.get_ref() {
            DeValue::Boolean(b) => Got::Value(Spanned::new(*b, span_of(v))),
            _ => {
                self.wrong_kind(t, key, v, "`true` or `false`");
                Got::Invalid
            }
        }
    }

    fn uint(&mut self, t: &Table<'_, '_>, key: &str) -> Got<u32> {
        let Some((_, v)) = t.get(key) else {
            return Got::Absent;
        };
        match integer(v.get_ref()) {
            Some(Some(i)) if u32::try_from(i).is_ok() => {
                Got::Value(Spanned::new(i as u32, span_of(v)))
            }
            Some(_) => {
                self.error(
                    Diagnostic::error(
                        "invalid-value",
                        format!(
                            "`{key}` of {} must be a whole number from 0 to {}",
                            t.what,
                            u32::MAX
                        ),
                    )
                    .at(span_of(v))
                    .with_label("out of range"),
                );
                Got::Invalid
            }
            None => {
                self.wrong_kind(t, key, v, "an integer");
                Got::Invalid
            }
        }
    }

    fn number_value(&mut self, t: &Table<'_, '_>, key: &str, v: &TomlValue<'_>) -> Option<f64> {
        let n = match v.get_ref() {
            DeValue::Integer(_) => integer(v.get_ref()).flatten().map(|i| i as f64),
            DeValue::Float(f) => f.as_str().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => {
                self.wrong_kind(t, key, v, "a number");
                return None;
            }
        };
        if n.is_none() {
            self.error(
                Diagnostic::error(
                    "invalid-value",
                    format!("`{key}` of {} must be a finite number", t.what),
                )
                .at(span_of(v)),
            );
        }
        n
    }

    fn number(&mut self, t: &Table<'_, '_>, key: &str) -> Got<f64> {
        let Some((_, v)) = t.get(key) else {
            return Got::Absent;
        };
        match self.number_value(t, key, v) {
            Some(n) => Got::Value(Spanned::new(n, span_of(v))),
            None => Got::Invalid,
        }
    }

    fn array<'t, 'i>(
        &mut self,
        t: &Table<'t, 'i>,
        key: &str,
        expected: &str,
    ) -> Option<(Span, &'t [TomlValue<'i>])> {
        let (_, v) = t.get(key)?;
        match v.get_ref() {
            DeValue::Array(items) => Some((span_of(v), &items[..])),
            _ => {
                self.wrong_kind(t, key, v, expected);
                None
            }
        }
    }

    fn strings(&mut self, t: &Table<'_, '_>, key: &str) -> Got<Vec<Spanned<String>>> {
        if t.get(key).is_none() {
            return Got::Absent;
        }
        let Some((span, items)) = self.array(t, key, "an array of strings") else {
            return Got::Invalid;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for item in items {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(s.to_string(), span_of(item))),
                other => {
                    ok = false;
                    self.error(
                        Diagnostic::error(
                            "wrong-kind",
                            format!(
                                "items of `{key}` in {} must be strings, found {}",
                                t.what,
                                kind_name(other)
                            ),
                        )
                        .at(span_of(item))
                        .with_label("expected a string"),
                    );
                }
            }
        }
        if ok {
            Got::Value(Spanned::new(out, span))
        } else {
            Got::Invalid
        }
    }

    fn numbers(&mut self, t: &Table<'_, '_>, key: &str) -> Got<Vec<f64>> {
        if t.get(key).is_none() {
            return Got::Absent;
        }
        let Some((span, items)) = self.array(t, key, "an array of numbers") else {
            return Got::Invalid;
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            match self.number_value(t, key, item) {
                Some(n) => out.push(n),
                None => return Got::Invalid,
            }
        }
        Got::Value(Spanned::new(out, span))
    }

    fn keyword<T: Copy>(&mut self, t: &Table<'_, '_>, key: &str, options: &[(&str, T)]) -> Got<T> {
        let Some((_, v)) = t.get(key) else {
            return Got::Absent;
        };
        let DeValue::String(s) = v.get_ref() else {
            self.wrong_kind(t, key, v, &format!("one of {}", one_of(options)));
            return Got::Invalid;
        };
        if let Some((_, value)) = options.iter().find(|(k, _)| *k == s.as_ref()) {
            return Got::Value(Spanned::new(*value, span_of(v)));
        }
        let help = did_you_mean(s, options.iter().map(|(k, _)| *k))
            .unwrap_or_else(|| format!("`{key}` is one of {}", one_of(options)));
        self.error(
            Diagnostic::error(
                "invalid-value",
                format!("`{s}` is not a valid `{key}` of {}", t.what),
            )
            .at(span_of(v))
            .with_label(format!("unknown `{key}`"))
            .with_help(help),
        );
        Got::Invalid
    }

    /// Reports a missing required key; passes a present value through.
    fn require<T>(
        &mut self,
        t: &Table<'_, '_>,
        key: &str,
        got: Got<T>,
        example: &str,
    ) -> Option<Spanned<T>> {
        match got {
            Got::Value(v) => Some(v),
            Got::Invalid => None,
            Got::Absent => {
                // A misspelt key is already reported as unknown with "did you mean `key`?".
                let misspelt = t.entries.iter().any(|(k, _)| {
                    let k = k.get_ref().as_ref();
                    !t.known.contains(&k) && crate::suggest(k, t.known.iter().copied()) == Some(key)
                });
                if misspelt {
                    return None;
                }
                self.error(
                    Diagnostic::error("missing-key", format!("{} is missing `{key}`", t.what))
                        .at(t.span)
                        .with_label(format!("needs `{key}`"))
                        .with_help(format!("add `{key} = {example}`")),
                );
                None
            }
        }
    }

    /// A value for an item field: the parsed one, or `placeholder` (recorded as such) when the
    /// field is missing or broken.
    fn fill<T>(
        &mut self,
        item: Span,
        field: &'static str,
        got: Option<Spanned<T>>,
        placeholder: T,
        at: Span,
    ) -> Spanned<T> {
        got.unwrap_or_else(|| {
            self.incomplete.mark(item, field);
            Spanned::new(placeholder, at)
        })
    }

    /// Like [`fill`](Self::fill) for optional fields: `None` when absent, a recorded `None`
    /// when broken.
    fn optional<T>(&mut self, item: Span, field: &'static str, got: Got<T>) -> Option<Spanned<T>> {
        match got {
            Got::Value(v) => Some(v),
            Got::Absent => None,
            Got::Invalid => {
                self.incomplete.mark(item, field);
                None
            }
        }
    }

    /// The entries of a `[section.<id>]` collection (e.g. `purposes`), each a table.
    fn section<'t, 'i>(
        &mut self,
        top: &Table<'t, 'i>,
        key: &str,
    ) -> Vec<(&'t TomlKey<'i>, &'t TomlValue<'i>)> {
        let Some((_, v)) = top.get(key) else {
            return Vec::new();
        };
        match v.get_ref() {
            DeValue::Table(map) => sorted_entries(map),
            _ => {
                self.wrong_kind(top, key, v, &format!("a table of tables ([{key}.<id>])"));
                Vec::new()
            }
        }
    }

    fn plan(&mut self, top: &Table<'_, '_>) -> Plan {
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
        let policies = self.policies(top);
        Plan {
            name: name.unwrap_or_else(|| Spanned::new(String::new(), top.span)),
            version: version.unwrap_or_else(|| Spanned::new(0, top.span)),
            owner,
            identity,
            purposes,
            destinations,
            properties,
            events,
            policies,
            taxonomy,
        }
    }

    fn identity(&mut self, top: &Table<'_, '_>) -> Identity {
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

    fn purposes(&mut self, top: &Table<'_, '_>) -> Vec<Purpose> {
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

    fn destinations(&mut self, top: &Table<'_, '_>) -> Vec<Destination> {
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
            out.push(Destination {
                kind: self.fill(id.span, "kind", kind, DestinationKind::Custom, t.span),
                purposes: self.fill(id.span, "purposes", purposes, Vec::new(), t.span),
                description,
                third_party: third_party.unwrap_or_else(|| Spanned::new(false, id.span)),
                span: t.span,
                id,
            });
        }
        out
    }

    fn taxonomy(&mut self, top: &Table<'_, '_>) -> Vec<CategoryExtension> {
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

    /// A full property definition (shared, or inline on an event without a shared one).
    /// `event` names the event for messages when the property is inline.
    fn property(
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
    fn property_type(
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

    fn transform(&mut self, t: &Table<'_, '_>) -> Option<Spanned<Transform>> {
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

    fn events(
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
                span: t.span,
            });
        }
        out
    }

    fn event_property(
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

    fn policies(&mut self, top: &Table<'_, '_>) -> Vec<Policy> {
        let mut out = Vec::new();
        let Some((_, v)) = top.get("policies") else {
            return out;
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.error(
                Diagnostic::error(
                    "wrong-kind",
                    format!(
                        "`policies` must be an array of tables, found {}",
                        kind_name(v.get_ref())
                    ),
                )
                .at(span_of(v))
                .with_help("write each rule as its own [[policies]] table"),
            );
            return out;
        };
        for (i, item) in items.iter().enumerate() {
            let Some(t) = self.open(item, format!("policy #{}", i + 1), POLICY_KEYS) else {
                continue;
            };
            let name = self.string(&t, "name");
            let name = self.require(&t, "name", name, "\"no health data for marketing\"");
            let what = match &name {
                Some(n) => format!("policy \"{}\"", n.value),
                None => t.what.clone(),
            };
            let deny = match t.get("deny") {
                Some((_, d)) => self.open(d, format!("`deny` of {what}"), DENY_KEYS),
                None => {
                    self.require::<()>(&t, "deny", Got::Absent, "{ categories = [\"user.health_and_medical\"], data_uses = [\"marketing\"] }");
                    None
                }
            };
            let Some(deny) = deny else { continue };
            let categories = self.rule_set(&deny, "categories", "[\"user.health_and_medical\"]");
            let data_uses = self.rule_set(&deny, "data_uses", "[\"marketing\"]");
            if let (Some(name), Some(categories), Some(data_uses)) = (name, categories, data_uses) {
                out.push(Policy {
                    name,
                    categories,
                    data_uses,
                    span: t.span,
                });
            }
        }
        out
    }

    /// One dimension of a deny rule: an array of keys, or `{ values = [...], matches = "…" }`.
    fn rule_set(&mut self, deny: &Table<'_, '_>, key: &str, example: &str) -> Option<RuleSet> {
        let Some((_, v)) = deny.get(key) else {
            self.require::<()>(deny, key, Got::Absent, example);
            return None;
        };
        match v.get_ref() {
            DeValue::Array(_) => {
                let values = self.strings(deny, key).ok()?;
                Some(RuleSet {
                    values: values.value,
                    matches: Spanned::new(Match::Any, values.span),
                })
            }
            DeValue::Table(_) => {
                let t = self.open(v, format!("`{key}` of {}", deny.what), RULE_KEYS)?;
                let values = self.strings(&t, "values");
                let values = self.require(&t, "values", values, example);
                let matches = match self.keyword(&t, "matches", MATCHES) {
                    Got::Value(m) => m,
                    Got::Absent => Spanned::new(Match::Any, t.span),
                    Got::Invalid => return None,
                };
                Some(RuleSet {
                    values: values?.value,
                    matches,
                })
            }
            _ => {
                self.wrong_kind(
                    deny,
                    key,
                    v,
                    "an array of keys or a table `{ values = [...], matches = \"any\" }`",
                );
                None
            }
        }
    }
}
