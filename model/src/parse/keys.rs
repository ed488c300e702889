//! The keys each table may have and the keywords each keyword field accepts.

use super::*;

/// A keyword table of vocabulary values, in the order messages list them; the keys come from
/// the vocabulary (`trackplan-vocab`), where each is written once.
macro_rules! keyed {
    ($($value:expr),+ $(,)?) => {
        &[$(($value.key(), $value)),+]
    };
}

pub(super) const TOP_KEYS: &[&str] = &[
    "plan",
    "identity",
    "purposes",
    "destinations",
    "properties",
    "events",
    "policies",
    "taxonomy",
];
pub(super) const PLAN_KEYS: &[&str] = &["name", "version", "owner"];
pub(super) const IDENTITY_KEYS: &[&str] = &["transform", "justification"];
pub(super) const PURPOSE_KEYS: &[&str] = &[
    "description",
    "basis",
    "data_use",
    "retention_days",
    "sale_or_share",
];
pub(super) const DESTINATION_KEYS: &[&str] = &["kind", "purposes", "description", "third_party"];
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
pub(super) const ITEMS_KEYS: &[&str] = &["type", "values"];
pub(super) const EVENT_KEYS: &[&str] = &["name", "description", "purposes", "properties"];
pub(super) const POLICY_KEYS: &[&str] = &["name", "deny"];
pub(super) const DENY_KEYS: &[&str] = &["categories", "data_uses"];
pub(super) const RULE_KEYS: &[&str] = &["values", "matches"];
pub(super) const TAXONOMY_KEYS: &[&str] = &["categories"];
pub(super) const EXTENSION_KEYS: &[&str] = &["special", "description"];

pub(super) const BASES: &[(&str, LegalBasis)] = keyed![
    LegalBasis::Consent,
    LegalBasis::LegitimateInterest,
    LegalBasis::Contract,
    LegalBasis::LegalObligation,
    LegalBasis::VitalInterest,
    LegalBasis::PublicTask,
];
pub(super) const KINDS: &[(&str, DestinationKind)] = &[
    ("mixpanel", DestinationKind::Mixpanel),
    ("segment", DestinationKind::Segment),
    ("ndjson", DestinationKind::Ndjson),
    ("stdout", DestinationKind::Stdout),
    ("memory", DestinationKind::Memory),
    ("custom", DestinationKind::Custom),
];
pub(super) const SENSITIVITIES: &[(&str, Sensitivity)] = keyed![
    Sensitivity::Public,
    Sensitivity::Internal,
    Sensitivity::Personal,
    Sensitivity::Special,
];
pub(super) const IDENTITY_TRANSFORMS: &[(&str, IdentityTransform)] =
    keyed![IdentityTransform::Hmac, IdentityTransform::None,];
pub(super) const GRANULARITIES: &[(&str, Granularity)] =
    keyed![Granularity::Hour, Granularity::Day, Granularity::Month,];
pub(super) const MATCHES: &[(&str, Match)] = &[
    ("any", Match::Any),
    ("all", Match::All),
    ("none", Match::None),
    ("other", Match::Other),
];

/// The transform keys; `bucket` and `coarsen` take their parameters from sibling keys.
pub(super) const TRANSFORMS: &[(&str, TransformKey)] = &[
    ("none", TransformKey::None),
    ("hmac", TransformKey::Hmac),
    ("truncate_ip", TransformKey::TruncateIp),
    ("strip_query", TransformKey::StripQuery),
    ("bucket", TransformKey::Bucket),
    ("coarsen", TransformKey::Coarsen),
    ("redact", TransformKey::Redact),
];

pub(super) const TYPES: &[(&str, TypeKey)] = &[
    ("string", TypeKey::String),
    ("integer", TypeKey::Integer),
    ("number", TypeKey::Number),
    ("boolean", TypeKey::Boolean),
    ("timestamp", TypeKey::Timestamp),
    ("enum", TypeKey::Enum),
    ("list", TypeKey::List),
];
