//! The keys each table may have and the keywords each keyword field accepts.

use super::*;

/// A keyword table of vocabulary values, in the order messages list them; the keys come from
/// the vocabulary (`trackplan-vocab`), where each is written once.
macro_rules! keyed {
    ($($value:expr),+ $(,)?) => {
        &[$(($value.key(), $value)),+]
    };
}

/// The keys of a value definition (a property, a trait, a context property), in the order
/// messages list them: the `$middle` keys between `special_basis` and `description`, the
/// `$end` keys last. Written once, so the three lists cannot drift apart.
macro_rules! value_keys {
    ([$($middle:literal),*], [$($end:literal),*]) => {
        &[
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
            $($middle,)*
            "description",
            "max_length",
            "min",
            "max",
            $($end,)*
        ]
    };
}

pub(super) const TOP_KEYS: &[&str] = &[
    "plan",
    "identity",
    "purposes",
    "destinations",
    "properties",
    "events",
    "traits",
    "groups",
    "context",
    "policies",
    "exceptions",
    "taxonomy",
];
pub(super) const EXCEPTION_KEYS: &[&str] = &["policy", "justification"];
pub(super) const PLAN_KEYS: &[&str] = &["name", "version", "owner"];
pub(super) const IDENTITY_KEYS: &[&str] = &["transform", "justification"];
pub(super) const PURPOSE_KEYS: &[&str] = &[
    "description",
    "basis",
    "data_use",
    "retention_days",
    "sale_or_share",
];
pub(super) const DESTINATION_KEYS: &[&str] =
    &["kind", "purposes", "description", "third_party", "location"];
/// Every key a property definition may have.
pub(crate) const PROPERTY_KEYS: &[&str] = value_keys!(["required"], []);
/// Keys an event may set on a property that uses a shared definition.
pub(crate) const OVERRIDE_KEYS: &[&str] = &["name", "description", "required", "purposes"];
pub(super) const ITEMS_KEYS: &[&str] = &["type", "values"];
pub(super) const EVENT_KEYS: &[&str] = &["name", "description", "purposes", "properties", "groups"];
/// Every key a trait may have: a property's, without `required` (an update sets the traits
/// it names; none is required).
pub(crate) const TRAIT_KEYS: &[&str] = value_keys!([], []);
pub(super) const GROUP_KEYS: &[&str] = &["description", "purposes", "key", "traits"];
/// The keys of a group kind's `key`: a property's, without `required` (a key always is) and
/// `purposes` (the group's).
pub(crate) const GROUP_KEY_KEYS: &[&str] = &[
    "name",
    "type",
    "sensitivity",
    "category",
    "transform",
    "justification",
    "special_basis",
    "description",
    "max_length",
    "min",
    "max",
];
/// The keys of a context property: a trait's, plus `events`.
pub(crate) const CONTEXT_KEYS: &[&str] = value_keys!([], ["events"]);
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
    ("posthog", DestinationKind::Posthog),
    ("amplitude", DestinationKind::Amplitude),
    ("kafka", DestinationKind::Kafka),
    ("postgres", DestinationKind::Postgres),
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

/// The parser and the editor schema (`format.rs`, via schemars) list the keys of each table
/// separately; a key added to one and not the other would be accepted but not completed, or
/// completed and then rejected. The two must be the same sets, table by table and keyword by
/// keyword.
#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn schema_keys(schema: &serde_json::Value, definition: Option<&str>) -> BTreeSet<String> {
        let table = match definition {
            Some(name) => &schema["definitions"][name],
            None => schema,
        };
        table["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{definition:?} has properties"))
            .keys()
            .cloned()
            .collect()
    }

    fn schema_values(schema: &serde_json::Value, definition: &str) -> BTreeSet<String> {
        schema["definitions"][definition]["oneOf"]
            .as_array()
            .unwrap_or_else(|| panic!("{definition} lists its values"))
            .iter()
            .map(|v| v["const"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn set(keys: &[&str]) -> BTreeSet<String> {
        keys.iter().map(|k| (*k).to_owned()).collect()
    }

    fn keywords<T>(table: &[(&str, T)]) -> BTreeSet<String> {
        table.iter().map(|(k, _)| (*k).to_owned()).collect()
    }

    #[test]
    fn the_schema_and_the_parser_accept_the_same_keys() {
        let schema = crate::format::plan_schema();
        let tables: &[(Option<&str>, &[&str])] = &[
            (None, TOP_KEYS),
            (Some("PlanTable"), PLAN_KEYS),
            (Some("IdentityTable"), IDENTITY_KEYS),
            (Some("PurposeTable"), PURPOSE_KEYS),
            (Some("DestinationTable"), DESTINATION_KEYS),
            (Some("PropertyTable"), PROPERTY_KEYS),
            (Some("ItemsTable"), ITEMS_KEYS),
            (Some("EventTable"), EVENT_KEYS),
            (Some("TraitTable"), TRAIT_KEYS),
            (Some("GroupTable"), GROUP_KEYS),
            (Some("GroupKeyTable"), GROUP_KEY_KEYS),
            (Some("ContextTable"), CONTEXT_KEYS),
            (Some("PolicyTable"), POLICY_KEYS),
            (Some("DenyRule"), DENY_KEYS),
            (Some("RuleTable"), RULE_KEYS),
            (Some("TaxonomyTable"), TAXONOMY_KEYS),
            (Some("CategoryTable"), EXTENSION_KEYS),
        ];
        for (definition, keys) in tables {
            assert_eq!(
                schema_keys(&schema, *definition),
                set(keys),
                "keys of {}",
                definition.unwrap_or("the top level")
            );
        }
        // An event's property that uses a shared definition may only override some keys; the
        // schema describes it with the full property table, so these must be among its keys.
        assert!(set(OVERRIDE_KEYS).is_subset(&set(PROPERTY_KEYS)));
    }

    #[test]
    fn the_schema_and_the_parser_accept_the_same_keywords() {
        let schema = crate::format::plan_schema();
        let lists = [
            ("LegalBasis", keywords(BASES)),
            ("DestinationKind", keywords(KINDS)),
            ("Sensitivity", keywords(SENSITIVITIES)),
            ("IdentityTransform", keywords(IDENTITY_TRANSFORMS)),
            ("Granularity", keywords(GRANULARITIES)),
            ("Match", keywords(MATCHES)),
            ("TransformKey", keywords(TRANSFORMS)),
            ("TypeKey", keywords(TYPES)),
        ];
        for (definition, parsed) in lists {
            assert_eq!(
                schema_values(&schema, definition),
                parsed,
                "values of {definition}"
            );
        }
    }
}
