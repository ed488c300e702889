//! The resolved plan: what a plan file means once parsed.
//!
//! Every item keeps the spans of what it was built from, so later checks (validation, the
//! macros' field checks, the CLI's diff) can point back at the file. Collections keep the order
//! of the file; ids are unique within each collection once the plan has validated.

use std::fmt;

pub use trackplan_vocab::{Audience, Granularity, IdentityTransform, LegalBasis, Sensitivity};

use crate::source::{Span, Spanned};

/// A whole tracking plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// `[plan] name`: `[a-z][a-z0-9_]*`.
    pub name: Spanned<String>,
    /// `[plan] version`: bumped when a change breaks consumers.
    pub version: Spanned<u32>,
    /// `[plan] owner`, a contact for the plan.
    pub owner: Option<Spanned<String>>,
    /// `[identity]`: how a subject id becomes the distinct id.
    pub identity: Identity,
    /// `[purposes.*]`, in file order.
    pub purposes: Vec<Purpose>,
    /// `[destinations.*]`, in file order.
    pub destinations: Vec<Destination>,
    /// `[properties.*]`: shared definitions, in file order.
    pub properties: Vec<Property>,
    /// `[events.*]`, in file order, with their properties resolved.
    pub events: Vec<Event>,
    /// `[traits.*]`: the traits of a user profile, in file order. A trait has the keys of a
    /// property; its `purposes` (required) say why it is kept, and route its updates as an
    /// event with those purposes is routed.
    pub traits: Vec<Property>,
    /// `[groups.*]`: group kinds (e.g. `company`), in file order.
    pub groups: Vec<GroupKind>,
    /// `[context.*]`: properties set once on the tracker (or per subject) and sent with every
    /// event, or with the events they list, in file order.
    pub context: Vec<ContextProperty>,
    /// `[[policies]]`, in file order.
    pub policies: Vec<Policy>,
    /// `[[exceptions]]`: built-in baseline policies the plan lifts, in file order.
    pub exceptions: Vec<Exception>,
    /// `[taxonomy.categories."<key>"]`: categories the plan adds to the built-in taxonomy.
    pub taxonomy: Vec<CategoryExtension>,
}

/// `[identity]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// `transform`: `"hmac"` (default) or `"none"`.
    pub transform: Spanned<IdentityTransform>,
    /// Required when `transform = "none"`.
    pub justification: Option<Spanned<String>>,
}

/// `[purposes.<id>]`: why data is collected.
#[derive(Debug, Clone, PartialEq)]
pub struct Purpose {
    /// The id (table key).
    pub id: Spanned<String>,
    /// Shown to end users on consent screens and in the notice.
    pub description: Spanned<String>,
    /// The GDPR Art. 6 legal basis.
    pub basis: Spanned<LegalBasis>,
    /// A fideslang data-use key, e.g. `analytics.reporting`.
    pub data_use: Spanned<String>,
    /// How long destinations keep the data, in days.
    pub retention_days: Option<Spanned<u32>>,
    /// Whether this purpose sells or shares data (GPC / CCPA opt-out applies).
    pub sale_or_share: Spanned<bool>,
    /// The `[purposes.<id>]` header (or the inline table).
    pub span: Span,
}

/// `[destinations.<id>]`: where events may go.
#[derive(Debug, Clone, PartialEq)]
pub struct Destination {
    /// The id (table key).
    pub id: Spanned<String>,
    /// What kind of sink delivers to it.
    pub kind: Spanned<DestinationKind>,
    /// What the destination uses data for; every one must be among an event's purposes for the
    /// event to be routed there.
    pub purposes: Spanned<Vec<Spanned<String>>>,
    /// Shown in the docs and the Art. 30 record.
    pub description: Option<Spanned<String>>,
    /// Whether a third party receives the data (then `redact` properties are withheld).
    pub third_party: Spanned<bool>,
    /// Where the destination keeps the data (`"EU"`, `"US"`, `"eu-central-1"`), shown in the
    /// docs, the Art. 30 record and the Fides export.
    pub location: Option<Spanned<String>>,
    /// The table's `[...]` header (or the inline table).
    pub span: Span,
}

/// The kinds of destination the runtime knows.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum DestinationKind {
    /// Mixpanel `/import`.
    Mixpanel,
    /// Segment-compatible `/v1/batch`.
    Segment,
    /// PostHog's capture `/batch/` API (cloud or self-hosted).
    Posthog,
    /// Amplitude's HTTP V2 / batch upload API.
    Amplitude,
    /// Records on a Kafka topic.
    Kafka,
    /// Rows in a PostgreSQL warehouse.
    Postgres,
    /// Newline-delimited JSON file.
    Ndjson,
    /// NDJSON on standard output.
    Stdout,
    /// In-memory (tests).
    Memory,
    /// A user-provided sink.
    Custom,
}

impl DestinationKind {
    /// The key as written in plan files.
    pub fn key(self) -> &'static str {
        match self {
            DestinationKind::Mixpanel => "mixpanel",
            DestinationKind::Segment => "segment",
            DestinationKind::Posthog => "posthog",
            DestinationKind::Amplitude => "amplitude",
            DestinationKind::Kafka => "kafka",
            DestinationKind::Postgres => "postgres",
            DestinationKind::Ndjson => "ndjson",
            DestinationKind::Stdout => "stdout",
            DestinationKind::Memory => "memory",
            DestinationKind::Custom => "custom",
        }
    }

    /// The product or service that receives the data, as the docs and the Fides export name
    /// it (`PostHog`); `None` for the local and user-provided kinds.
    pub fn system(self) -> Option<&'static str> {
        match self {
            DestinationKind::Mixpanel => Some("Mixpanel"),
            DestinationKind::Segment => Some("Segment-compatible collector"),
            DestinationKind::Posthog => Some("PostHog"),
            DestinationKind::Amplitude => Some("Amplitude"),
            DestinationKind::Kafka => Some("Apache Kafka"),
            DestinationKind::Postgres => Some("PostgreSQL"),
            DestinationKind::Ndjson
            | DestinationKind::Stdout
            | DestinationKind::Memory
            | DestinationKind::Custom => None,
        }
    }
}

/// A property, either a shared `[properties.<id>]` definition or one resolved on an event
/// (shared definition merged with the event's inline keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// The id (table key); also the Rust field name.
    pub id: Spanned<String>,
    /// The wire name, sent byte-for-byte; defaults to the id (then its span is the id's).
    pub name: Spanned<String>,
    /// The value type.
    pub ty: Spanned<PropertyType>,
    /// How sensitive the value is.
    pub sensitivity: Spanned<Sensitivity>,
    /// A fideslang data category, e.g. `user.contact.email`.
    pub category: Option<Spanned<String>>,
    /// Applied in the runtime before the value leaves the process.
    pub transform: Spanned<Transform>,
    /// When given: the only purposes this property may be collected for.
    pub purposes: Option<Spanned<Vec<Spanned<String>>>>,
    /// Why personal data is sent without a transform.
    pub justification: Option<Spanned<String>>,
    /// The GDPR Art. 9(2) ground for special-category data, e.g. `explicit_consent`.
    pub special_basis: Option<Spanned<String>>,
    /// Whether every event must carry it (default true).
    pub required: Spanned<bool>,
    /// Documentation; becomes doc comments and the notice text.
    pub description: Option<Spanned<String>>,
    /// `max_length` (strings), `min`/`max` (numbers).
    pub constraints: Constraints,
    /// On an event: the id of the shared definition it uses, if any.
    pub shared: Option<String>,
    /// The `[properties.<id>]` header (shared) or the inline table (on an event).
    pub span: Span,
}

/// The GDPR Art. 9(2) grounds accepted as `special_basis`, in the order of the article
/// (a) to (j).
pub const SPECIAL_BASES: &[&str] = &[
    "explicit_consent",
    "employment_social_security",
    "vital_interests",
    "non_profit_body",
    "made_public_by_subject",
    "legal_claims",
    "substantial_public_interest",
    "health_or_social_care",
    "public_health",
    "archiving_research_statistics",
];

/// Value constraints, checked at run time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Constraints {
    /// Longest allowed string, in characters.
    pub max_length: Option<Spanned<u32>>,
    /// Smallest allowed number.
    pub min: Option<Spanned<f64>>,
    /// Largest allowed number.
    pub max: Option<Spanned<f64>>,
}

impl Constraints {
    /// The limits without their spans, as the runtime checks them.
    pub fn values(&self) -> trackplan_vocab::Constraints {
        trackplan_vocab::Constraints::new(
            self.max_length.as_ref().map(|m| m.value),
            self.min.as_ref().map(|m| m.value),
            self.max.as_ref().map(|m| m.value),
        )
    }
}

/// Property value types.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyType {
    /// UTF-8 text.
    String,
    /// `i64`.
    Integer,
    /// `f64`.
    Number,
    /// `bool`.
    Boolean,
    /// A point in time; sent as ISO-8601 UTC.
    Timestamp,
    /// One of a fixed list of values, sent as written.
    Enum {
        /// The values, in file order.
        values: Vec<Spanned<String>>,
    },
    /// A list of items of one type.
    List {
        /// The item type (`items = { type = … }`).
        items: Box<PropertyType>,
    },
}

impl PropertyType {
    /// The key as written in plan files (`"list"` for lists).
    pub fn key(&self) -> &'static str {
        match self {
            PropertyType::String => "string",
            PropertyType::Integer => "integer",
            PropertyType::Number => "number",
            PropertyType::Boolean => "boolean",
            PropertyType::Timestamp => "timestamp",
            PropertyType::Enum { .. } => "enum",
            PropertyType::List { .. } => "list",
        }
    }
}

/// What happens to a value before it leaves the process.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    /// Sent as is.
    None,
    /// Keyed HMAC-SHA-256, hex; input trimmed, e-mail categories lower-cased.
    Hmac,
    /// IPv4 to /24, IPv6 to /48.
    TruncateIp,
    /// Drops a URL's query string and fragment.
    StripQuery,
    /// Replaced by its bucket label.
    Bucket {
        /// Ascending bucket bounds (`buckets = [18, 25, 35]` → "<18", "18-24", "25-34", "35+").
        buckets: Vec<f64>,
    },
    /// A timestamp truncated to a granularity.
    Coarsen {
        /// `to = "hour" | "day" | "month"`.
        to: Granularity,
    },
    /// Never sent to third-party destinations.
    Redact,
}

/// How a type reads in messages and review reports: `string`, `enum`, `list of integer`.
impl fmt::Display for PropertyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyType::List { items } => write!(f, "list of {items}"),
            other => f.write_str(other.key()),
        }
    }
}

/// How a transform reads in messages and review reports, with its parameters:
/// `bucket [18, 25]`, `coarsen to day`.
impl fmt::Display for Transform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transform::Bucket { buckets } => {
                f.write_str("bucket [")?;
                for (i, b) in buckets.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{b}")?;
                }
                f.write_str("]")
            }
            Transform::Coarsen { to } => write!(f, "coarsen to {to}"),
            other => f.write_str(other.key()),
        }
    }
}

impl Transform {
    /// The key as written in plan files.
    pub fn key(&self) -> &'static str {
        match self {
            Transform::None => "none",
            Transform::Hmac => "hmac",
            Transform::TruncateIp => "truncate_ip",
            Transform::StripQuery => "strip_query",
            Transform::Bucket { .. } => "bucket",
            Transform::Coarsen { .. } => "coarsen",
            Transform::Redact => "redact",
        }
    }
}

/// `[events.<id>]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The id (table key); the generated struct is its UpperCamelCase form.
    pub id: Spanned<String>,
    /// The wire name; defaults to the id.
    pub name: Spanned<String>,
    /// Documentation.
    pub description: Option<Spanned<String>>,
    /// Why it is collected; non-empty.
    pub purposes: Spanned<Vec<Spanned<String>>>,
    /// Its properties, resolved against the shared definitions, in file order.
    pub properties: Vec<Property>,
    /// `groups`: the group kinds it carries (the subject's membership supplies each group's
    /// id); empty when the event names none, then spanned at the event.
    pub groups: Spanned<Vec<Spanned<String>>>,
    /// The table's `[...]` header (or the inline table).
    pub span: Span,
}

/// `[groups.<id>]`: a kind of group subjects belong to (a company, a team, a project).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupKind {
    /// The id (table key), e.g. `company`.
    pub id: Spanned<String>,
    /// Documentation; becomes doc comments and the notice text.
    pub description: Option<Spanned<String>>,
    /// Why memberships and group profile updates are collected; routes them as an event
    /// with these purposes is routed.
    pub purposes: Spanned<Vec<Spanned<String>>>,
    /// `key`: the property that identifies a group of this kind (its wire name, e.g.
    /// `company_id`, defaults to `<kind>_id`). Its purposes are the group's.
    pub key: Property,
    /// `[groups.<id>.traits.*]`: the group profile's traits; their `purposes` default to the
    /// group's and may only narrow them.
    pub traits: Vec<Property>,
    /// The table's `[...]` header.
    pub span: Span,
}

/// `[context.<id>]`: a property of the running app or the subject's session (app version,
/// platform, locale), set once and merged into the events it applies to.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextProperty {
    /// The property: the keys of `[properties.*]` (a context property is never `required`).
    pub property: Property,
    /// `events`: the ids of the events it applies to; `None` for every event.
    pub events: Option<Spanned<Vec<Spanned<String>>>>,
}

impl ContextProperty {
    /// Whether it is sent with `event`.
    pub fn applies_to(&self, event: &Event) -> bool {
        self.events
            .as_ref()
            .is_none_or(|ids| ids.value.iter().any(|id| id.value == event.id.value))
    }
}

impl GroupKind {
    /// The trait with this id.
    pub fn trait_(&self, id: &str) -> Option<&Property> {
        self.traits.iter().find(|t| t.id.value == id)
    }
}

/// `[[policies]]`: a deny rule evaluated as in Fides.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// What the rule is called in messages.
    pub name: Spanned<String>,
    /// The data categories it covers.
    pub categories: RuleSet,
    /// The data uses it covers.
    pub data_uses: RuleSet,
    /// The `[[policies]]` header.
    pub span: Span,
}

/// `[[exceptions]]`: a built-in baseline policy ([`BASELINE_POLICIES`](crate::baseline::BASELINE_POLICIES))
/// that this plan lifts, with the reason, for reviewers to see in `check`, `docs` and `diff`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    /// The id of the baseline policy lifted, e.g. `special-category-marketing`.
    pub policy: Spanned<String>,
    /// Why the plan may do what the policy denies; shown wherever the exception is.
    pub justification: Spanned<String>,
    /// The `[[exceptions]]` header.
    pub span: Span,
}

/// One dimension of a policy rule: keys and how they match.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSet {
    /// Taxonomy keys; each covers itself and everything below it.
    pub values: Vec<Spanned<String>>,
    /// How the declared keys are compared with `values`.
    pub matches: Spanned<Match>,
}

/// Fides rule matching: how one dimension of a deny rule compares with the keys a declaration
/// has. A declared key is *matched* when a rule value is the key itself or one of its ancestors.
/// A declaration with no keys in a dimension never matches it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Match {
    /// Some declared key is matched (the default).
    Any,
    /// Every declared key is matched.
    All,
    /// No declared key is matched.
    None,
    /// Some declared key is not matched.
    Other,
}

impl Match {
    /// The key as written in plan files.
    pub fn key(self) -> &'static str {
        match self {
            Match::Any => "any",
            Match::All => "all",
            Match::None => "none",
            Match::Other => "other",
        }
    }
}

/// `[taxonomy.categories."<key>"]`: a data category the plan adds below a built-in one.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryExtension {
    /// The new key; its parent is the key with the last segment removed.
    pub key: Spanned<String>,
    /// Whether it is a special category (Art. 9/10).
    pub special: bool,
    /// Optional description.
    pub description: Option<Spanned<String>>,
}

impl Plan {
    /// The purpose with this id.
    pub fn purpose(&self, id: &str) -> Option<&Purpose> {
        self.purposes.iter().find(|p| p.id.value == id)
    }

    /// The destination with this id.
    pub fn destination(&self, id: &str) -> Option<&Destination> {
        self.destinations.iter().find(|d| d.id.value == id)
    }

    /// The event with this id.
    pub fn event(&self, id: &str) -> Option<&Event> {
        self.events.iter().find(|e| e.id.value == id)
    }

    /// The user-profile trait with this id.
    pub fn trait_(&self, id: &str) -> Option<&Property> {
        self.traits.iter().find(|t| t.id.value == id)
    }

    /// The group kind with this id.
    pub fn group(&self, id: &str) -> Option<&GroupKind> {
        self.groups.iter().find(|g| g.id.value == id)
    }

    /// The context properties sent with `event`, in plan order.
    pub fn context_of<'a>(
        &'a self,
        event: &'a Event,
    ) -> impl Iterator<Item = &'a ContextProperty> + 'a {
        self.context.iter().filter(move |c| c.applies_to(event))
    }

    /// Whether the routing rule sends data collected for `purposes` (a trait's, a group
    /// kind's) to `destination`: every purpose of the destination is among them.
    pub fn routes_purposes(&self, purposes: &[Spanned<String>], destination: &Destination) -> bool {
        let (known, wanted) = self.known_purpose_set(&destination.purposes.value);
        known && trackplan_vocab::routes(self.purpose_set(purposes), wanted)
    }

    /// Destinations that receive data collected for `purposes` (see
    /// [`Plan::routes_purposes`]), in plan order.
    pub fn routes_for<'a>(
        &'a self,
        purposes: &'a [Spanned<String>],
    ) -> impl Iterator<Item = &'a Destination> + 'a {
        self.destinations
            .iter()
            .filter(move |d| self.routes_purposes(purposes, d))
    }

    /// The purposes of a trait (`[traits.*]` or a group's): its `purposes`; empty when it has
    /// none (which does not validate).
    pub fn trait_purposes(t: &Property) -> &[Spanned<String>] {
        t.purposes.as_ref().map_or(&[], |p| p.value.as_slice())
    }

    /// Destinations an event may be routed to, by the routing rule ([`trackplan_vocab::routes`]):
    /// those whose every purpose is among the event's. A destination naming a purpose the plan
    /// does not declare (or one past [`MAX_ITEMS`](trackplan_vocab::MAX_ITEMS)) receives
    /// nothing; such a plan does not validate.
    pub fn routes<'a>(&'a self, event: &'a Event) -> impl Iterator<Item = &'a Destination> + 'a {
        self.destinations
            .iter()
            .filter(move |d| self.routes_to(event, d))
    }

    /// Whether the routing rule sends `event` to `destination` (see [`Plan::routes`]).
    pub fn routes_to(&self, event: &Event, destination: &Destination) -> bool {
        self.routes_purposes(&event.purposes.value, destination)
    }

    /// The set of the purposes with these ids, bit `i` for the plan's purpose `i` (unknown ids
    /// and purposes past [`MAX_ITEMS`](trackplan_vocab::MAX_ITEMS) are left out).
    pub fn purpose_set(&self, ids: &[Spanned<String>]) -> trackplan_vocab::PurposeSet {
        self.known_purpose_set(ids).1
    }

    /// The set of these purposes, and whether every one of them is in it.
    fn known_purpose_set(&self, ids: &[Spanned<String>]) -> (bool, trackplan_vocab::PurposeSet) {
        let mut known = true;
        let mut set = trackplan_vocab::PurposeSet::EMPTY;
        for id in ids {
            match self.purposes.iter().position(|p| p.id.value == id.value) {
                Some(i) if i < trackplan_vocab::MAX_ITEMS => set = set.with(i),
                _ => known = false,
            }
        }
        (known, set)
    }
}

impl Property {
    /// Who may receive this property's value: first parties only when it is `redact`.
    pub fn audience(&self) -> Audience {
        Audience::of(self.transform.value == Transform::Redact)
    }
}

impl Event {
    /// The property with this id.
    pub fn property(&self, id: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.id.value == id)
    }
}
