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
    Event, IdentityTransform, LegalBasis, Match, Plan, Policy, Property, PropertyType, Purpose,
    RuleSet, SPECIAL_BASES, Sensitivity, Transform,
};
use crate::source::{Span, Spanned};
use crate::suggestion::did_you_mean;
use crate::taxonomy::{Taxonomy, covers};

/// Purposes and destinations are bit sets of a `u64` in the runtime.
const MAX_PURPOSES: usize = 64;
const MAX_DESTINATIONS: usize = 64;

/// Property wire names that destinations reserve for their own fields.
const RESERVED_NAMES: &[&str] = &["time", "distinct_id", "$insert_id", "token"];
const RESERVED_PREFIXES: &[&str] = &["$", "mp_"];

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
    v.policies();
    v.names();
    diags.append(&mut v.diags);
    diags.extend(limits::check(plan));
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
enum Subject<'a> {
    Event(&'a str),
    Purpose(&'a str),
    Destination(&'a str),
    Policy(&'a str),
    Property { id: &'a str, event: Option<&'a str> },
    EnumProperty { id: &'a str, event: Option<&'a str> },
    Value(&'a str),
    PlanStatic,
}

impl<'a> Subject<'a> {
    fn property(p: &'a Property, event: Option<&'a Event>) -> Self {
        Subject::Property {
            id: &p.id.value,
            event: event.map(|e| e.id.value.as_str()),
        }
    }
}

impl std::fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::Event(id) => write!(f, "event `{id}`"),
            Subject::Purpose(id) => write!(f, "purpose `{id}`"),
            Subject::Destination(id) => write!(f, "destination `{id}`"),
            Subject::Policy(name) => write!(f, "policy \"{name}\""),
            Subject::Property { id, event: None } => write!(f, "property `{id}`"),
            Subject::Property { id, event: Some(e) } => {
                write!(f, "property `{id}` of event `{e}`")
            }
            Subject::EnumProperty { id, event: None } => write!(f, "enum property `{id}`"),
            Subject::EnumProperty { id, event: Some(e) } => {
                write!(f, "enum property `{id}` of event `{e}`")
            }
            Subject::Value(v) => write!(f, "value \"{}\"", v.escape_debug()),
            Subject::PlanStatic => f.write_str("the `PLAN` static"),
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

    fn wire_name(&mut self, what: Subject<'_>, name: &Spanned<String>) {
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

    fn purposes(&mut self) {
        let plan = self.plan;
        for (i, p) in plan.purposes.iter().enumerate() {
            self.id("purpose", &p.id);
            if let Some(first) = self.purposes.insert(&p.id.value, p) {
                self.purposes.insert(&first.id.value, first);
                self.duplicate("purpose", &p.id, first.id.span);
            }
            if i == MAX_PURPOSES {
                self.push(
                    Diagnostic::error(
                        "too-many-purposes",
                        format!(
                            "purpose `{}` is purpose number {}; a plan may declare at most {MAX_PURPOSES}",
                            p.id.value,
                            i + 1
                        ),
                    )
                    .at(p.id.span)
                    .with_help("merge purposes that share a legal basis and data use"),
                );
            }
            if p.description.value.trim().is_empty()
                && !self.incomplete.has(p.id.span, "description")
            {
                self.push(
                    Diagnostic::error(
                        "empty-description",
                        format!("purpose `{}` has an empty description", p.id.value),
                    )
                    .at(p.description.span)
                    .with_label("end users read this on consent screens")
                    .with_help("say in one sentence what the data is used for"),
                );
            }
            if !self.incomplete.has(p.id.span, "data_use") {
                let what = Subject::Purpose(&p.id.value);
                self.data_use(what, &p.data_use);
            }
        }
    }

    fn data_use(&mut self, what: Subject<'_>, key: &Spanned<String>) {
        match self.taxonomy.data_use(&key.value) {
            Some(k) => {
                if let Some(version) = &k.deprecated {
                    let mut d = Diagnostic::warning(
                        "deprecated-key",
                        format!(
                            "data use `{}` of {what} is deprecated since fideslang {version}",
                            key.value
                        ),
                    )
                    .at(key.span)
                    .with_label("deprecated");
                    d.help = k.replaced_by.as_ref().map(|r| format!("use `{r}` instead"));
                    self.push(d);
                }
            }
            None => {
                let mut d = Diagnostic::error(
                    "unknown-data-use",
                    format!("data use `{}` of {what} is not in the taxonomy", key.value),
                )
                .at(key.span)
                .with_label("unknown data use");
                d.help = did_you_mean(
                    &key.value,
                    self.taxonomy.data_uses().map(|k| k.key.as_str()),
                )
                .or_else(|| Some(root_help(self.taxonomy.data_uses().map(|k| k.key.as_str()))));
                self.push(d);
            }
        }
    }

    /// Checks a category key exists; returns whether it does.
    fn category(&mut self, what: Subject<'_>, key: &Spanned<String>) -> bool {
        if self.incomplete.categories.contains(&key.value) {
            return false;
        }
        match self.taxonomy.category(&key.value) {
            Some(k) => {
                if let Some(version) = &k.deprecated {
                    let mut d = Diagnostic::warning(
                        "deprecated-key",
                        format!(
                            "data category `{}` of {what} is deprecated since fideslang {version}",
                            key.value
                        ),
                    )
                    .at(key.span)
                    .with_label("deprecated");
                    d.help = k.replaced_by.as_ref().map(|r| format!("use `{r}` instead"));
                    self.push(d);
                }
                true
            }
            None => {
                let mut d = Diagnostic::error(
                    "unknown-category",
                    format!(
                        "data category `{}` of {what} is not in the taxonomy",
                        key.value
                    ),
                )
                .at(key.span)
                .with_label("unknown data category");
                d.help = did_you_mean(
                    &key.value,
                    self.taxonomy.categories().map(|k| k.key.as_str()),
                )
                .or_else(|| {
                    Some(format!(
                        "{}; a plan may add categories with [taxonomy.categories.\"<key>\"]",
                        root_help(self.taxonomy.categories().map(|k| k.key.as_str()))
                    ))
                });
                self.push(d);
                false
            }
        }
    }

    /// Checks references to purposes (`purposes = [...]` lists).
    fn purpose_refs(&mut self, what: Subject<'_>, purposes: &Spanned<Vec<Spanned<String>>>) {
        for p in &purposes.value {
            if self.purposes.contains_key(p.value.as_str()) {
                continue;
            }
            let mut d = Diagnostic::error(
                "unknown-purpose",
                format!(
                    "{what} names purpose `{}`, which the plan does not declare",
                    p.value
                ),
            )
            .at(p.span)
            .with_label("unknown purpose");
            d.help = did_you_mean(
                &p.value,
                self.plan.purposes.iter().map(|p| p.id.value.as_str()),
            )
            .or_else(|| Some(format!("declare it in [purposes.{}]", p.value)));
            self.push(d);
        }
    }

    fn destinations(&mut self) {
        let plan = self.plan;
        let mut seen: HashMap<&str, Span> = HashMap::with_capacity(plan.destinations.len());
        for (i, d) in plan.destinations.iter().enumerate() {
            self.id("destination", &d.id);
            if let Some(&first) = seen.get(d.id.value.as_str()) {
                self.duplicate("destination", &d.id, first);
            } else {
                seen.insert(&d.id.value, d.id.span);
            }
            if i == MAX_DESTINATIONS {
                self.push(
                    Diagnostic::error(
                        "too-many-destinations",
                        format!(
                            "destination `{}` is destination number {}; a plan may declare at most {MAX_DESTINATIONS}",
                            d.id.value,
                            i + 1
                        ),
                    )
                    .at(d.id.span),
                );
            }
            let what = Subject::Destination(&d.id.value);
            if d.purposes.value.is_empty() && !self.incomplete.has(d.id.span, "purposes") {
                self.push(
                    Diagnostic::error(
                        "destination-without-purpose",
                        format!("destination `{}` has no purpose", d.id.value),
                    )
                    .at(d.purposes.span)
                    .with_label("empty")
                    .with_help("list what the destination uses data for, e.g. `purposes = [\"product_analytics\"]`"),
                );
            }
            self.purpose_refs(what, &d.purposes);
        }
    }

    fn shared_properties(&mut self) {
        let plan = self.plan;
        for p in &plan.properties {
            self.id("property", &p.id);
            if let Some(first) = self.shared.insert(&p.id.value, p) {
                self.shared.insert(&first.id.value, first);
                self.duplicate("property", &p.id, first.id.span);
            }
            self.definition(p, None);
        }
    }

    /// Checks that depend only on a property's own definition.
    fn definition(&mut self, p: &Property, event: Option<&Event>) {
        let what = Subject::property(p, event);
        if !self.unknown(p, "name") {
            self.property_name(what, &p.name);
        }
        self.property_type(what, &p.ty);
        if let Some(purposes) = &p.purposes {
            self.purpose_refs(what, purposes);
        }
        let category_known = match &p.category {
            Some(c) => self.category(what, c),
            None => false,
        };
        if category_known
            && !self.unknown(p, "sensitivity")
            && let Some(c) = &p.category
        {
            self.category_sensitivity(what, p, c);
        }
        if !self.unknown(p, "sensitivity") {
            self.protection(what, p);
        }
        if !self.unknown(p, "type") {
            if !self.unknown(p, "transform") {
                self.transform(what, p);
            }
            self.constraints(what, p);
        }
    }

    fn property_name(&mut self, what: Subject<'_>, name: &Spanned<String>) {
        self.wire_name(what, name);
        let reserved = RESERVED_NAMES.contains(&name.value.as_str())
            || RESERVED_PREFIXES.iter().any(|p| name.value.starts_with(p));
        if reserved {
            self.push(
                Diagnostic::error(
                    "reserved-name",
                    format!(
                        "{what} has the wire name `{}`, which destinations reserve",
                        name.value
                    ),
                )
                .at(name.span)
                .with_label("reserved by Mixpanel/Segment")
                .with_help(
                    "`time`, `distinct_id`, `$insert_id`, `token` and names starting with `$` or `mp_` are set by trackplan or the destination; choose another `name`",
                ),
            );
        }
    }

    fn property_type(&mut self, what: Subject<'_>, ty: &Spanned<PropertyType>) {
        let Some(values) = naming::enum_values(&ty.value) else {
            return;
        };
        if values.is_empty() {
            self.push(
                Diagnostic::error(
                    "enum-without-values",
                    format!("{what} is an enum without values"),
                )
                .at(ty.span)
                .with_label("no values")
                .with_help("add `values = [\"…\", …]` with the values sent on the wire"),
            );
        }
        let mut seen: HashMap<&str, Span> = HashMap::with_capacity(values.len());
        for v in values {
            if v.value.is_empty() {
                self.push(
                    Diagnostic::error("empty-name", format!("{what} has an empty enum value"))
                        .at(v.span)
                        .with_label("empty"),
                );
            }
            if let Some(&first) = seen.get(v.value.as_str()) {
                self.push(
                    Diagnostic::error(
                        "duplicate-wire-name",
                        format!(
                            "{what} lists the value \"{}\" twice",
                            v.value.escape_debug()
                        ),
                    )
                    .at(v.span)
                    .with_label("listed again here")
                    .with_secondary(first, "first listed here"),
                );
            } else {
                seen.insert(&v.value, v.span);
            }
        }
    }

    /// Rule 8: categories and sensitivity agree.
    fn category_sensitivity(
        &mut self,
        what: Subject<'_>,
        p: &Property,
        category: &Spanned<String>,
    ) {
        if let Some(ground) = self.taxonomy.special_ground(&category.value) {
            if p.sensitivity.value < Sensitivity::Special {
                self.push(
                    Diagnostic::error(
                        "sensitivity-too-low",
                        format!(
                            "{what} has category `{}`, {ground}, but sensitivity `{}`",
                            category.value,
                            p.sensitivity.value.key()
                        ),
                    )
                    .at(p.sensitivity.span)
                    .with_label("must be `special`")
                    .with_secondary(category.span, "special category")
                    .with_help("set `sensitivity = \"special\"` (and give `special_basis`), or correct the category"),
                );
            }
        } else if self.taxonomy.is_personal(&category.value)
            && p.sensitivity.value < Sensitivity::Personal
        {
            self.push(
                Diagnostic::error(
                    "sensitivity-too-low",
                    format!(
                        "{what} has category `{}`, which is personal data, but sensitivity `{}`",
                        category.value,
                        p.sensitivity.value.key()
                    ),
                )
                .at(p.sensitivity.span)
                .with_label("must be at least `personal`")
                .with_secondary(category.span, "a `user.*` category")
                .with_help("set `sensitivity = \"personal\"`, or correct the category"),
            );
        }
    }

    /// Rules 5 and 6 (the parts that need no event): category, transform or justification,
    /// special basis.
    fn protection(&mut self, what: Subject<'_>, p: &Property) {
        let sensitivity = p.sensitivity.value;
        if sensitivity >= Sensitivity::Personal {
            if p.category.is_none() && !self.unknown(p, "category") {
                self.push(
                    Diagnostic::error(
                        "missing-category",
                        format!(
                            "{what} is `{}` data without a `category`",
                            sensitivity.key()
                        ),
                    )
                    .at(p.span)
                    .with_label("needs `category`")
                    .with_secondary(p.sensitivity.span, "sensitivity set here")
                    .with_help(
                        "add the fideslang data category, e.g. `category = \"user.contact.email\"`",
                    ),
                );
            }
            let justified = p
                .justification
                .as_ref()
                .is_some_and(|j| !j.value.trim().is_empty());
            if p.transform.value == Transform::None
                && !justified
                && !self.unknown(p, "transform")
                && !self.unknown(p, "justification")
            {
                self.push(
                    Diagnostic::error(
                        "unprotected-personal-data",
                        format!(
                            "{what} is `{}` data sent without a transform or a justification",
                            sensitivity.key()
                        ),
                    )
                    .at(p.transform.span)
                    .with_label("sent as is")
                    .with_help("pseudonymize or minimize it (`transform = \"hmac\"`, `\"truncate_ip\"`, `\"bucket\"`, `\"redact\"`, …), or set `transform = \"none\"` with `justification = \"…\"`"),
                );
            }
        }
        match (&p.special_basis, sensitivity == Sensitivity::Special) {
            (None, true) if !self.unknown(p, "special_basis") => self.push(
                Diagnostic::error(
                    "missing-special-basis",
                    format!("{what} is special-category data without a `special_basis`"),
                )
                .at(p.sensitivity.span)
                .with_label("special data needs a GDPR Art. 9(2) ground")
                .with_help(format!(
                    "add `special_basis = \"explicit_consent\"` (one of {})",
                    list(SPECIAL_BASES)
                )),
            ),
            (Some(basis), true) => {
                if !SPECIAL_BASES.contains(&basis.value.as_str()) {
                    let help = did_you_mean(&basis.value, SPECIAL_BASES.iter().copied())
                        .unwrap_or_else(|| {
                            format!("`special_basis` is one of {}", list(SPECIAL_BASES))
                        });
                    self.push(
                        Diagnostic::error(
                            "invalid-special-basis",
                            format!(
                                "`{}` is not a GDPR Art. 9(2) ground (special_basis of {what})",
                                basis.value
                            ),
                        )
                        .at(basis.span)
                        .with_label("unknown ground")
                        .with_help(help),
                    );
                }
            }
            // With a special category the sensitivity is what is wrong, reported by rule 8.
            (Some(basis), false)
                if !p
                    .category
                    .as_ref()
                    .is_some_and(|c| self.taxonomy.is_special(&c.value)) =>
            {
                self.push(
                Diagnostic::warning(
                    "unused-special-basis",
                    format!(
                        "{what} has a `special_basis` but sensitivity `{}`",
                        sensitivity.key()
                    ),
                )
                .at(basis.span)
                .with_label("only used for `special` data")
                .with_help("remove `special_basis`, or set `sensitivity = \"special\"` if this is special-category data"),
                );
            }
            (Some(_), false) | (None, _) => {}
        }
    }

    fn transform(&mut self, what: Subject<'_>, p: &Property) {
        let ty = &p.ty.value;
        let needs = match &p.transform.value {
            Transform::None | Transform::Redact => return,
            Transform::Hmac | Transform::TruncateIp | Transform::StripQuery => {
                if matches!(ty, PropertyType::String) {
                    return;
                }
                "a `string`"
            }
            Transform::Coarsen { .. } => {
                if matches!(ty, PropertyType::Timestamp) {
                    return;
                }
                "a `timestamp`"
            }
            Transform::Bucket { buckets } => {
                if matches!(ty, PropertyType::Integer | PropertyType::Number) {
                    self.buckets(what, p, buckets);
                    return;
                }
                "an `integer` or `number`"
            }
        };
        self.push(
            Diagnostic::error(
                "transform-type-mismatch",
                format!(
                    "{what} uses transform `{}`, which needs {needs}, but its type is `{}`",
                    p.transform.value.key(),
                    ty.key()
                ),
            )
            .at(p.transform.span)
            .with_label(format!("needs {needs}"))
            .with_secondary(p.ty.span, "type set here"),
        );
    }

    fn buckets(&mut self, what: Subject<'_>, p: &Property, buckets: &[f64]) {
        let problem = if buckets.is_empty() {
            Some("has no bounds".to_owned())
        } else if buckets.windows(2).any(|w| w[0] >= w[1]) {
            Some("must be strictly ascending".to_owned())
        } else if matches!(p.ty.value, PropertyType::Integer)
            && buckets.iter().any(|b| b.fract() != 0.0)
        {
            Some("must be whole numbers for an `integer` property".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            self.push(
                Diagnostic::error("invalid-buckets", format!("`buckets` of {what} {problem}"))
                    .at(p.transform.span)
                    .with_label("bucket transform")
                    .with_help("list ascending bounds, e.g. `buckets = [18, 25, 35, 50, 65]`"),
            );
        }
    }

    fn constraints(&mut self, what: Subject<'_>, p: &Property) {
        let c = &p.constraints;
        let ty = &p.ty.value;
        if let Some(max_length) = &c.max_length
            && !matches!(ty, PropertyType::String)
        {
            self.push(
                Diagnostic::error(
                    "constraint-type-mismatch",
                    format!(
                        "`max_length` of {what} applies to strings, but its type is `{}`",
                        ty.key()
                    ),
                )
                .at(max_length.span)
                .with_label("only for `type = \"string\"`")
                .with_secondary(p.ty.span, "type set here"),
            );
        }
        for (key, bound) in [("min", &c.min), ("max", &c.max)] {
            if let Some(bound) = bound
                && !matches!(ty, PropertyType::Integer | PropertyType::Number)
            {
                self.push(
                    Diagnostic::error(
                        "constraint-type-mismatch",
                        format!(
                            "`{key}` of {what} applies to numbers, but its type is `{}`",
                            ty.key()
                        ),
                    )
                    .at(bound.span)
                    .with_label("only for `integer` and `number`")
                    .with_secondary(p.ty.span, "type set here"),
                );
            }
        }
        if let (Some(min), Some(max)) = (&c.min, &c.max)
            && min.value > max.value
        {
            self.push(
                Diagnostic::error(
                    "invalid-constraint",
                    format!("{what} has `min` {} above `max` {}", min.value, max.value),
                )
                .at(min.span)
                .with_secondary(max.span, "max"),
            );
        }
    }

    fn events(&mut self) {
        let plan = self.plan;
        let mut ids: HashMap<&str, Span> = HashMap::with_capacity(plan.events.len());
        let mut names: HashMap<&str, &Event> = HashMap::with_capacity(plan.events.len());
        for e in &plan.events {
            self.id("event", &e.id);
            if let Some(&first) = ids.get(e.id.value.as_str()) {
                self.duplicate("event", &e.id, first);
            } else {
                ids.insert(&e.id.value, e.id.span);
            }
            let what = Subject::Event(&e.id.value);
            let name_known = !self.incomplete.has(e.id.span, "name");
            if name_known {
                self.wire_name(what, &e.name);
            }
            match names.get(e.name.value.as_str()).filter(|_| name_known) {
                Some(first) if first.id.value != e.id.value => self.push(
                    Diagnostic::error(
                        "duplicate-wire-name",
                        format!(
                            "events `{}` and `{}` have the same wire name \"{}\"",
                            first.id.value,
                            e.id.value,
                            e.name.value.escape_debug()
                        ),
                    )
                    .at(e.name.span)
                    .with_label("same name")
                    .with_secondary(
                        first.name.span,
                        format!("name of event `{}`", first.id.value),
                    )
                    .with_help(
                        "every event needs its own `name`, or destinations cannot tell them apart",
                    ),
                ),
                Some(_) => {}
                None => {
                    names.insert(&e.name.value, e);
                }
            }
            if e.purposes.value.is_empty() && !self.incomplete.has(e.id.span, "purposes") {
                self.push(
                    Diagnostic::error("missing-purpose", format!("event `{}` has no purpose", e.id.value))
                        .at(e.purposes.span)
                        .with_label("empty")
                        .with_help("list why the event is collected, e.g. `purposes = [\"product_analytics\"]`"),
                );
            }
            self.purpose_refs(what, &e.purposes);
            self.event_properties(e);
        }
    }

    fn event_properties(&mut self, e: &Event) {
        let mut ids: HashMap<&str, Span> = HashMap::with_capacity(e.properties.len());
        let mut names: HashMap<&str, &Property> = HashMap::with_capacity(e.properties.len());
        for p in &e.properties {
            self.id("property", &p.id);
            if let Some(&first) = ids.get(p.id.value.as_str()) {
                self.duplicate(&format!("property of event `{}`", e.id.value), &p.id, first);
            } else {
                ids.insert(&p.id.value, p.id.span);
            }
            let what = Subject::property(p, Some(e));
            match p
                .shared
                .as_deref()
                .and_then(|s| self.shared.get(s).copied())
            {
                None => self.definition(p, Some(e)),
                Some(base) => {
                    // Only what the event overrides is new; the definition was checked once.
                    if p.name.span != base.name.span {
                        self.property_name(what, &p.name);
                    }
                    if let Some(purposes) = &p.purposes
                        && base
                            .purposes
                            .as_ref()
                            .is_none_or(|b| b.span != purposes.span)
                    {
                        self.purpose_refs(what, purposes);
                        if let Some(allowed) = &base.purposes {
                            self.widened_purposes(e, p, purposes, allowed);
                        }
                    }
                }
            }
            match names
                .get(p.name.value.as_str())
                .filter(|_| !self.unknown(p, "name"))
            {
                Some(first) => self.push(
                    Diagnostic::error(
                        "duplicate-wire-name",
                        format!(
                            "properties `{}` and `{}` of event `{}` have the same wire name \"{}\"",
                            first.id.value,
                            p.id.value,
                            e.id.value,
                            p.name.value.escape_debug()
                        ),
                    )
                    .at(p.id.span)
                    .with_label(format!("sent as \"{}\"", p.name.value.escape_debug()))
                    .with_secondary(
                        first.id.span,
                        format!("also sent as \"{}\"", first.name.value.escape_debug()),
                    )
                    .with_help("give one of them another `name`"),
                ),
                None => {
                    names.insert(&p.name.value, p);
                }
            }
            self.purpose_mismatch(e, p);
            self.special_consent(e, p);
        }
    }

    /// An event may narrow a shared property's purpose restriction, never widen it: that
    /// would undo rule 7 for one event without touching the reviewed definition.
    fn widened_purposes(
        &mut self,
        e: &Event,
        p: &Property,
        purposes: &Spanned<Vec<Spanned<String>>>,
        allowed: &Spanned<Vec<Spanned<String>>>,
    ) {
        let extra: Vec<&Spanned<String>> = purposes
            .value
            .iter()
            .filter(|x| !allowed.value.iter().any(|a| a.value == x.value))
            .collect();
        let Some(first) = extra.first() else { return };
        let extra_names: Vec<&str> = extra.iter().map(|x| x.value.as_str()).collect();
        let allowed_names: Vec<&str> = allowed.value.iter().map(|a| a.value.as_str()).collect();
        self.push(
            Diagnostic::error(
                "purpose-mismatch",
                format!(
                    "property `{}` of event `{}` adds purpose {}, which its shared definition does not allow ({})",
                    p.id.value,
                    e.id.value,
                    list(&extra_names),
                    list(&allowed_names)
                ),
            )
            .at(first.span)
            .with_label("not allowed by [properties.*]")
            .with_secondary(allowed.span, "the shared definition's purposes")
            .with_help("an event may only narrow a property's purposes; change the shared definition if this use is intended"),
        );
    }

    /// Rule 7.
    fn purpose_mismatch(&mut self, e: &Event, p: &Property) {
        let Some(allowed) = &p.purposes else { return };
        let extra: Vec<&str> = e
            .purposes
            .value
            .iter()
            .map(|ep| ep.value.as_str())
            .filter(|ep| !allowed.value.iter().any(|a| a.value == *ep))
            .collect();
        if extra.is_empty() {
            return;
        }
        let allowed_list: Vec<&str> = allowed.value.iter().map(|a| a.value.as_str()).collect();
        self.push(
            Diagnostic::error(
                "purpose-mismatch",
                format!(
                    "property `{}` of event `{}` may only be collected for {}, but the event is also collected for {}",
                    p.id.value,
                    e.id.value,
                    list(&allowed_list),
                    list(&extra)
                ),
            )
            .at(p.id.span)
            .with_label("purpose mismatch")
            .with_secondary(allowed.span, "the property's purposes")
            .with_secondary(e.purposes.span, "the event's purposes")
            .with_help(format!(
                "remove `{}` from this event, or add {} to the property's `purposes` if that use is intended",
                p.id.value,
                list(&extra)
            )),
        );
    }

    /// Rule 6: special data only on events whose every purpose is consent-based.
    fn special_consent(&mut self, e: &Event, p: &Property) {
        if p.sensitivity.value != Sensitivity::Special || self.unknown(p, "sensitivity") {
            return;
        }
        let offending: Vec<&Purpose> = e
            .purposes
            .value
            .iter()
            .filter_map(|ep| self.purposes.get(ep.value.as_str()).copied())
            .filter(|purpose| purpose.basis.value != LegalBasis::Consent)
            .collect();
        let Some(first) = offending.first() else {
            return;
        };
        let names: Vec<String> = offending
            .iter()
            .map(|o| format!("`{}` ({})", o.id.value, o.basis.value.key()))
            .collect();
        self.push(
            Diagnostic::error(
                "special-needs-consent",
                format!(
                    "special-category property `{}` is on event `{}`, whose purpose {} does not have basis `consent`",
                    p.id.value,
                    e.id.value,
                    names.join(", ")
                ),
            )
            .at(p.id.span)
            .with_label("special-category data")
            .with_secondary(first.basis.span, "basis of the purpose")
            .with_help("special-category data needs explicit consent: keep it off this event, or collect the event only for consent-based purposes"),
        );
    }

    fn policies(&mut self) {
        let plan = self.plan;
        for policy in &plan.policies {
            let what = Subject::Policy(&policy.name.value);
            for c in &policy.categories.values {
                self.category(what, c);
            }
            for u in &policy.data_uses.values {
                self.data_use(what, u);
            }
        }
        for e in &plan.events {
            let uses: Vec<&Purpose> = e
                .purposes
                .value
                .iter()
                .filter_map(|p| self.purposes.get(p.value.as_str()).copied())
                .collect();
            for p in &e.properties {
                for policy in &plan.policies {
                    self.policy(policy, e, p, &uses);
                }
            }
        }
    }

    /// Rule 9, as Fides evaluates a privacy declaration: here a declaration is one property
    /// (its category) on one event for one purpose (its data use).
    fn policy(&mut self, policy: &Policy, e: &Event, p: &Property, purposes: &[&Purpose]) {
        let categories: Vec<&str> = p.category.iter().map(|c| c.value.as_str()).collect();
        if !rule_matches(&policy.categories, &categories) {
            return;
        }
        let violating: Vec<&&Purpose> = purposes
            .iter()
            .filter(|purpose| rule_matches(&policy.data_uses, &[purpose.data_use.value.as_str()]))
            .collect();
        let Some(first) = violating.first() else {
            return;
        };
        let uses: Vec<String> = violating
            .iter()
            .map(|v| format!("`{}` (purpose `{}`)", v.data_use.value, v.id.value))
            .collect();
        let category = p.category.as_ref().map_or_else(
            || "no category".to_owned(),
            |c| format!("category `{}`", c.value),
        );
        self.push(
            Diagnostic::error(
                "policy-violation",
                format!(
                    "event `{}` sends property `{}` ({category}) for {}, which policy \"{}\" denies",
                    e.id.value,
                    p.id.value,
                    uses.join(", "),
                    policy.name.value
                ),
            )
            .at(p.id.span)
            .with_label("denied by policy")
            .with_secondary(policy.span, format!("policy \"{}\"", policy.name.value))
            .with_secondary(first.data_use.span, "data use of the purpose")
            .with_help("remove the property from this event, collect the event for other purposes, or change the policy"),
        );
    }

    /// Naming collisions (naming.md): two ids whose generated Rust names are equal.
    fn names(&mut self) {
        let plan = self.plan;
        let names = PlanNames::of(plan);
        let mut types: Namespace<'_, 'p> = HashMap::with_capacity(plan.events.len() + 1);
        types.insert("PLAN", (Subject::PlanStatic, Span::default()));
        for (e, n) in plan.events.iter().zip(&names.events) {
            self.claim(
                &mut types,
                &n.struct_name,
                Subject::Event(&e.id.value),
                e.id.span,
                None,
            );
        }
        for (p, n) in plan.properties.iter().zip(&names.shared_enums) {
            if let Some(n) = n {
                let what = Subject::EnumProperty {
                    id: &p.id.value,
                    event: None,
                };
                self.claim(&mut types, &n.type_name, what, p.id.span, None);
                self.variants(what, p, &n.variants);
            }
        }
        for (e, n) in plan.events.iter().zip(&names.events) {
            let mut fields: Namespace<'_, 'p> = HashMap::with_capacity(e.properties.len());
            for (p, f) in e.properties.iter().zip(&n.fields) {
                let what = Subject::property(p, Some(e));
                self.claim(&mut fields, &f.field, what, p.id.span, None);
                if let (None, Some(en)) = (&p.shared, &f.enum_names) {
                    let what = Subject::EnumProperty {
                        id: &p.id.value,
                        event: Some(&e.id.value),
                    };
                    self.claim(&mut types, &en.type_name, what, p.id.span, None);
                    self.variants(what, p, &en.variants);
                }
            }
        }
        let mut markers: Namespace<'_, 'p> = HashMap::with_capacity(plan.purposes.len());
        for (p, n) in plan.purposes.iter().zip(&names.purposes) {
            self.claim(
                &mut markers,
                n,
                Subject::Purpose(&p.id.value),
                p.id.span,
                None,
            );
        }
        let mut markers: Namespace<'_, 'p> = HashMap::with_capacity(plan.destinations.len());
        for (d, n) in plan.destinations.iter().zip(&names.destinations) {
            self.claim(
                &mut markers,
                n,
                Subject::Destination(&d.id.value),
                d.id.span,
                None,
            );
        }
    }

    fn variants(&mut self, what: Subject<'p>, p: &'p Property, variants: &[String]) {
        let Some(values) = naming::enum_values(&p.ty.value) else {
            return;
        };
        let mut seen: Namespace<'_, 'p> = HashMap::with_capacity(values.len());
        for (v, name) in values.iter().zip(variants) {
            self.claim(
                &mut seen,
                name,
                Subject::Value(&v.value),
                v.span,
                Some(what),
            );
        }
    }

    /// Registers a generated name; reports a collision with an earlier claimant. A claimant
    /// equal to the earlier one is a duplicate id or value, reported elsewhere. `scope` names
    /// the enum of a variant.
    fn claim<'n>(
        &mut self,
        namespace: &mut Namespace<'n, 'p>,
        name: &'n str,
        what: Subject<'p>,
        span: Span,
        scope: Option<Subject<'p>>,
    ) {
        match namespace.get(name) {
            Some((first, _)) if *first == what => {}
            Some((first, first_span)) => {
                let message = match scope {
                    Some(scope) => format!(
                        "{first} and {what} of {scope} both generate the variant name `{name}`"
                    ),
                    None => format!("{first} and {what} both generate the Rust name `{name}`"),
                };
                let mut d = Diagnostic::error("name-collision", message)
                    .at(span)
                    .with_label(format!("generates `{name}`"))
                    .with_help(
                        "rename one of them (generated names follow the rule in the `naming` docs)",
                    );
                if *first_span != Span::default() {
                    d = d.with_secondary(*first_span, format!("{first} generates `{name}` too"));
                }
                self.push(d);
            }
            None => {
                namespace.insert(name, (what, span));
            }
        }
    }
}

/// Generated names of one namespace and who claimed them first.
type Namespace<'n, 'p> = HashMap<&'n str, (Subject<'p>, Span)>;

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

mod limits;

#[cfg(test)]
mod tests;
