//! The static description of a plan that `plan!` compiles into the application.
//!
//! All of it is `'static` data built by generated code: names, purposes, routing and transforms.
//! Purpose and destination sets are bit sets indexed by declaration order, so the routing and
//! consent checks on the `track` path are a few integer operations.

pub use trackplan_vocab::{DestinationSet, PurposeSet};

/// Everything the runtime knows about a plan.
#[derive(Debug)]
pub struct PlanInfo {
    /// `[plan] name`.
    pub name: &'static str,
    /// `[plan] version`.
    pub version: u32,
    /// `"name@version"`, as sent in the NDJSON `plan` field.
    pub label: &'static str,
    /// SHA-256 of the plan file, hex: identifies exactly which plan the code was built from.
    pub hash: &'static str,
    /// How the subject id becomes the distinct id.
    pub identity: IdentityInfo,
    /// Purposes in declaration order (consent screens list them in this order).
    pub purposes: &'static [PurposeInfo],
    /// Destinations in declaration order.
    pub destinations: &'static [DestinationInfo],
    /// Events in declaration order.
    pub events: &'static [EventInfo],
}

impl PlanInfo {
    /// Whether `other` is this plan: the same static, or the same name, version and content hash
    /// (generated twice, e.g. by `plan!` in two modules).
    pub fn same_as(&self, other: &PlanInfo) -> bool {
        std::ptr::eq(self, other)
            || (self.name == other.name && self.version == other.version && self.hash == other.hash)
    }

    /// Ids of the purposes in `set`, in plan order.
    pub fn purpose_ids(&self, set: PurposeSet) -> impl Iterator<Item = &'static str> + '_ {
        set.iter()
            .filter_map(|i| self.purposes.get(i).map(|p| p.id))
    }
}

/// The plan's identity transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityInfo {
    /// HMAC-SHA-256 with the tracker key.
    Hmac,
    /// Sent as is (the plan gives a justification).
    None,
}

/// GDPR Art. 6 legal basis of a purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegalBasis {
    /// Off until the subject grants it.
    Consent,
    /// Needed to perform a contract with the subject.
    Contract,
    /// Required by law.
    LegalObligation,
    /// Protects someone's life.
    VitalInterest,
    /// A task in the public interest.
    PublicTask,
    /// On until the subject objects.
    LegitimateInterest,
}

impl LegalBasis {
    /// The plan-file key, e.g. `"legitimate_interest"`.
    pub const fn key(self) -> &'static str {
        match self {
            LegalBasis::Consent => "consent",
            LegalBasis::Contract => "contract",
            LegalBasis::LegalObligation => "legal_obligation",
            LegalBasis::VitalInterest => "vital_interest",
            LegalBasis::PublicTask => "public_task",
            LegalBasis::LegitimateInterest => "legitimate_interest",
        }
    }
}

/// A purpose, as a consent screen shows it.
#[derive(Debug)]
pub struct PurposeInfo {
    /// The plan id.
    pub id: &'static str,
    /// The end-user description from the plan.
    pub description: &'static str,
    /// Legal basis.
    pub basis: LegalBasis,
    /// fideslang data use.
    pub data_use: &'static str,
    /// Retention in days, when the plan says.
    pub retention_days: Option<u32>,
    /// Whether GPC / "do not sell or share" withdraws it.
    pub sale_or_share: bool,
}

/// A destination of the plan.
#[derive(Debug)]
pub struct DestinationInfo {
    /// The plan id.
    pub id: &'static str,
    /// The plan's `kind` key (`"mixpanel"`, `"ndjson"`, …).
    pub kind: &'static str,
    /// Description from the plan.
    pub description: &'static str,
    /// What it uses data for.
    pub purposes: PurposeSet,
    /// Whether it is a third party (then `redact` properties are withheld).
    pub third_party: bool,
}

/// An event of the plan.
#[derive(Debug)]
pub struct EventInfo {
    /// The plan id.
    pub id: &'static str,
    /// The wire name, sent byte-for-byte.
    pub name: &'static str,
    /// Why it is collected.
    pub purposes: PurposeSet,
    /// Destinations it may be routed to (their purposes are all among the event's), computed
    /// when the plan was compiled.
    pub destinations: DestinationSet,
    /// Its properties in plan order.
    pub properties: &'static [PropertyInfo],
}

/// Sensitivity of a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sensitivity {
    /// Not personal.
    Public,
    /// Not personal, internal.
    Internal,
    /// Personal data.
    Personal,
    /// Special-category data.
    Special,
}

/// The value type of a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Text.
    String,
    /// `i64`.
    Integer,
    /// `f64`.
    Number,
    /// `bool`.
    Boolean,
    /// A point in time.
    Timestamp,
    /// One of fixed values.
    Enum,
    /// A list; the item kind is `item`.
    List {
        /// Kind of the items.
        item: &'static ValueKind,
    },
}

/// Timestamp granularity of `coarsen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// To the hour.
    Hour,
    /// To the day (UTC).
    Day,
    /// To the first of the month (UTC).
    Month,
}

/// A property's transform, resolved at compile time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TransformInfo {
    /// Sent as is.
    None,
    /// HMAC-SHA-256 with the tracker key, hex; input trimmed; lower-cased first when
    /// `lowercase` (e-mail categories).
    Hmac {
        /// Lower-case the input before hashing.
        lowercase: bool,
    },
    /// IPv4 to /24, IPv6 to /48; unparsable input is dropped and counted.
    TruncateIp,
    /// Query string and fragment removed.
    StripQuery,
    /// Replaced by a bucket label; bounds ascending.
    Bucket(&'static [f64]),
    /// Timestamp truncated.
    Coarsen(Granularity),
    /// Only sent to first-party destinations.
    Redact,
}

/// Run-time constraints of a property.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Constraints {
    /// Longest allowed string, in characters.
    pub max_length: Option<u32>,
    /// Smallest allowed number.
    pub min: Option<f64>,
    /// Largest allowed number.
    pub max: Option<f64>,
}

/// A property of an event.
#[derive(Debug)]
pub struct PropertyInfo {
    /// The plan id (the Rust field name).
    pub id: &'static str,
    /// The wire name, sent byte-for-byte.
    pub name: &'static str,
    /// The wire name as a JSON string literal followed by `:` (`"\"Plan Tier\":"`), escaped at
    /// compile time so the `track` path copies bytes.
    pub json_key: &'static str,
    /// Value type.
    pub kind: ValueKind,
    /// Sensitivity.
    pub sensitivity: Sensitivity,
    /// fideslang data category.
    pub category: Option<&'static str>,
    /// Applied before the value leaves the process.
    pub transform: TransformInfo,
    /// Whether the event must carry it.
    pub required: bool,
    /// Checked at run time.
    pub constraints: Constraints,
}
