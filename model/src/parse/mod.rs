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
    CategoryExtension, Constraints, ContextProperty, Destination, DestinationKind, Event,
    Exception, Granularity, GroupKind, Identity, IdentityTransform, LegalBasis, Match, Plan,
    Policy, Property, PropertyType, Purpose, RuleSet, Sensitivity, Transform,
};
use crate::source::{SourceFile, Span, Spanned};
use crate::suggestion::did_you_mean;

type TomlValue<'i> = toml::Spanned<DeValue<'i>>;
type TomlKey<'i> = toml::Spanned<DeString<'i>>;

mod event;
mod exception;
mod keys;
mod plan;
mod policy;
mod profile;
mod property;
mod read;

use keys::*;

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

impl Parser {}

#[cfg(test)]
mod tests;
