//! Validation: the rules of SPEC §3 over a parsed [`Plan`].
//!
//! Every check runs and every problem is reported; nothing stops at the first error. Lookups go
//! through hash maps built once, so a plan of thousands of events validates in linear time.
//!
//! Checks on a property's own definition (type, transform, category, sensitivity) run once per
//! definition: for a shared `[properties.<id>]` at the definition, not again on every event that
//! uses it. Checks that depend on the event (purposes, consent, policies, wire-name clashes) run
//! per event.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::diagnostic::Diagnostic;
use crate::naming::{self, PlanNames};
use crate::parse::Incomplete;
use crate::plan::{
    Destination, DestinationKind, Event, IdentityTransform, LegalBasis, Match, Plan, Policy,
    Property, PropertyType, Purpose, RuleSet, SPECIAL_BASES, Sensitivity, Transform,
};
use crate::source::{Span, Spanned};
use crate::suggestion::did_you_mean;
use crate::taxonomy::{Taxonomy, covers};

mod destination;
mod event;
mod names;
mod policy;
mod profile;
mod property;
mod purpose;

/// Purposes and destinations are bit sets of a `u64` in the runtime.
const MAX_PURPOSES: usize = trackplan_vocab::MAX_ITEMS;
const MAX_DESTINATIONS: usize = trackplan_vocab::MAX_ITEMS;

/// Validates a parsed plan against every rule of SPEC §3 and returns all diagnostics, errors
/// and warnings, in no particular order ([`check`](crate::check) sorts them by position).
///
/// ```
/// use trackplan_model::{parse, validate, SourceFile};
/// let src = SourceFile::new("p.toml", r#"
/// [plan]
/// name = "p"
/// version = 1
/// [events.opened]
/// purposes = ["analytics"]
/// "#);
/// let (plan, _) = parse(&src);
/// let diagnostics = validate(&plan.unwrap());
/// assert_eq!(diagnostics[0].code, "unknown-purpose");
/// ```
pub fn validate(plan: &Plan) -> Vec<Diagnostic> {
    validate_parsed(plan, &Incomplete::default())
}

pub(crate) fn validate_parsed(plan: &Plan, incomplete: &Incomplete) -> Vec<Diagnostic> {
    let (taxonomy, mut diags) = if plan.taxonomy.is_empty() {
        (Cow::Borrowed(Taxonomy::builtin()), Vec::new())
    } else {
        let (t, d) = Taxonomy::builtin().extended(&plan.taxonomy);
        (Cow::Owned(t), d)
    };
    let mut v = Validator {
        plan,
        incomplete,
        taxonomy: &taxonomy,
        purposes: HashMap::with_capacity(plan.purposes.len()),
        shared: HashMap::with_capacity(plan.properties.len()),
        diags: Vec::new(),
    };
    v.plan_header();
    v.purposes();
    v.destinations();
    v.shared_properties();
    v.events();
    v.traits();
    v.groups();
    v.context();
    v.policies();
    v.names();
    diags.append(&mut v.diags);
    diags.extend(limits::check(plan));
    diags.extend(baseline::check(plan, &taxonomy));
    diags
}

struct Validator<'p> {
    plan: &'p Plan,
    incomplete: &'p Incomplete,
    taxonomy: &'p Taxonomy,
    purposes: HashMap<&'p str, &'p Purpose>,
    shared: HashMap<&'p str, &'p Property>,
    diags: Vec<Diagnostic>,
}

/// `[a-z][a-z0-9_]*`.
pub(crate) fn is_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A snake_case spelling of an invalid id, for the help line.
fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_lower = false;
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
            prev_lower = false;
        }
    }
    let trimmed = out
        .trim_matches('_')
        .trim_start_matches(|c: char| c.is_ascii_digit() || c == '_');
    trimmed.to_owned()
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a diagnostic is about, formatted only when a message needs it (validation of a large
/// plan would otherwise spend its time building strings for diagnostics it never emits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemName<'a> {
    Event(&'a str),
    Purpose(&'a str),
    Destination(&'a str),
    Policy(&'a str),
    Property {
        id: &'a str,
        event: Option<&'a str>,
    },
    /// A user trait (`group: None`) or a trait of a group kind.
    Trait {
        id: &'a str,
        group: Option<&'a str>,
    },
    /// A group kind.
    Group(&'a str),
    /// The key of a group kind.
    GroupKey(&'a str),
    /// A context property.
    Context(&'a str),
    EnumProperty {
        id: &'a str,
        event: Option<&'a str>,
    },
    Value(&'a str),
    PlanStatic,
    /// A struct `plan!` generates for a section (`Profile`, `Context`).
    Generated(&'static str),
}

impl<'a> ItemName<'a> {
    fn property(p: &'a Property, event: Option<&'a Event>) -> Self {
        ItemName::Property {
            id: &p.id.value,
            event: event.map(|e| e.id.value.as_str()),
        }
    }
}

impl std::fmt::Display for ItemName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ItemName::Event(id) => write!(f, "event `{id}`"),
            ItemName::Purpose(id) => write!(f, "purpose `{id}`"),
            ItemName::Destination(id) => write!(f, "destination `{id}`"),
            ItemName::Policy(name) => write!(f, "policy \"{name}\""),
            ItemName::Property { id, event: None } => write!(f, "property `{id}`"),
            ItemName::Property { id, event: Some(e) } => {
                write!(f, "property `{id}` of event `{e}`")
            }
            ItemName::Trait { id, group: None } => write!(f, "trait `{id}`"),
            ItemName::Trait { id, group: Some(g) } => {
                write!(f, "trait `{id}` of group kind `{g}`")
            }
            ItemName::Group(id) => write!(f, "group kind `{id}`"),
            ItemName::GroupKey(id) => write!(f, "the key of group kind `{id}`"),
            ItemName::Context(id) => write!(f, "context property `{id}`"),
            ItemName::EnumProperty { id, event: None } => write!(f, "enum property `{id}`"),
            ItemName::EnumProperty { id, event: Some(e) } => {
                write!(f, "enum property `{id}` of event `{e}`")
            }
            ItemName::Value(v) => write!(f, "value \"{}\"", v.escape_debug()),
            ItemName::PlanStatic => f.write_str("the `PLAN` static"),
            ItemName::Generated(name) => write!(f, "the generated `{name}` struct"),
        }
    }
}

impl<'p> Validator<'p> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Whether a property's `field` is a placeholder for a broken value (already reported).
    fn unknown(&self, p: &Property, field: &'static str) -> bool {
        self.incomplete.has(p.id.span, field)
            || p.shared
                .as_deref()
                .and_then(|s| self.shared.get(s))
                .is_some_and(|base| self.incomplete.has(base.id.span, field))
    }

    fn id(&mut self, kind: &str, id: &Spanned<String>) {
        if is_id(&id.value) {
            return;
        }
        let suggestion = snake_case(&id.value);
        let mut d = Diagnostic::error(
            "invalid-id",
            format!("{kind} id `{}` is not a valid id", id.value),
        )
        .at(id.span)
        .with_label("ids are snake_case identifiers");
        d.help = Some(if is_id(&suggestion) {
            format!(
                "ids start with a lowercase letter, then lowercase letters, digits and `_`: e.g. `{suggestion}`"
            )
        } else {
            "ids start with a lowercase letter, then lowercase letters, digits and `_`".to_owned()
        });
        self.push(d);
    }

    fn duplicate(&mut self, kind: &str, id: &Spanned<String>, first: Span) {
        self.push(
            Diagnostic::error(
                "duplicate-id",
                format!("{kind} `{}` is defined twice", id.value),
            )
            .at(id.span)
            .with_label("defined again here")
            .with_secondary(first, "first defined here"),
        );
    }

    fn wire_name(&mut self, what: ItemName<'_>, name: &Spanned<String>) {
        if name.value.is_empty() {
            self.push(
                Diagnostic::error("empty-name", format!("the wire name of {what} is empty"))
                    .at(name.span)
                    .with_label("empty")
                    .with_help("remove `name` to use the id, or write the name to send"),
            );
        }
    }

    fn plan_header(&mut self) {
        let name = &self.plan.name;
        if (!name.value.is_empty() || !self.incomplete.plan_name) && !is_id(&name.value) {
            self.push(
                Diagnostic::error(
                    "invalid-id",
                    format!("plan name `{}` is not a valid name", name.value),
                )
                .at(name.span)
                .with_label("expected [a-z][a-z0-9_]*")
                .with_help(format!(
                    "plan names are snake_case: e.g. `{}`",
                    Some(snake_case(&name.value))
                        .filter(|s| is_id(s))
                        .unwrap_or_else(|| "shop".to_owned())
                )),
            );
        }
        let identity = &self.plan.identity;
        if identity.transform.value == IdentityTransform::None
            && identity
                .justification
                .as_ref()
                .is_none_or(|j| j.value.trim().is_empty())
        {
            self.push(
                Diagnostic::error(
                    "missing-justification",
                    "`[identity] transform = \"none\"` sends raw user ids without a justification",
                )
                .at(identity.transform.span)
                .with_label("raw user ids leave the process")
                .with_help("use `transform = \"hmac\"`, or add `justification = \"…\"` explaining why raw ids are needed"),
            );
        }
    }
}

/// Generated names of one namespace and who claimed them first.
type Namespace<'n, 'p> = HashMap<&'n str, (ItemName<'p>, Span)>;

/// Whether one dimension of a deny rule matches the declared keys, as Fides evaluates it: a
/// declared key is matched when a rule value is the key or one of its ancestors. `any`: some
/// declared key is matched; `all`: every declared key is; `none`: none is; `other`: some is
/// not. Nothing declared never matches.
pub fn rule_matches(rule: &RuleSet, declared: &[&str]) -> bool {
    if declared.is_empty() {
        return false;
    }
    let matched = |key: &&str| rule.values.iter().any(|r| covers(&r.value, key));
    match rule.matches.value {
        Match::Any => declared.iter().any(matched),
        Match::All => declared.iter().all(matched),
        Match::None => !declared.iter().any(matched),
        Match::Other => !declared.iter().all(matched),
    }
}

fn root_help<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let roots: Vec<&str> = keys.filter(|k| !k.contains('.')).collect();
    format!("taxonomy keys start with {}", list(&roots))
}

mod baseline;
mod limits;

#[cfg(test)]
mod tests;
