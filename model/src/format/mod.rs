//! The plan file format as plain serde types: the raw shape of the TOML, key by key.
//!
//! These types are the source of the JSON Schema in `plans/trackplan.schema.json` (see
//! [`plan_schema`]), which editors such as Taplo / Even Better TOML use to validate and complete
//! plan files; their doc comments are the descriptions editors show. They also deserialize and
//! serialize a plan file with any serde format, which tools that write plans (an importer, a
//! formatter) can use. The parser in this crate does not deserialize through them (it shares only
//! the key enums): it walks a spanned TOML tree so that it can report every error with its
//! position.
//!
//! Point an editor at the schema with a directive on the first line of a plan:
//!
//! ```toml
//! #:schema ./trackplan.schema.json
//! ```

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use crate::plan::{
    DestinationKind, Granularity, IdentityTransform, LegalBasis, Match, Sensitivity,
};

mod keyword;

/// A tracking plan: every analytics event, its properties, why they are collected (purposes),
/// how sensitive they are and where they may go (destinations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "trackplan tracking plan")]
pub struct PlanFile {
    /// The plan's name and version.
    pub plan: PlanTable,
    /// How a subject id becomes the distinct id sent to destinations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityTable>,
    /// Why data is collected: one table per purpose id (at most 64).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": ID_PATTERN }))]
    pub purposes: BTreeMap<String, PurposeTable>,
    /// Where events may go: one table per destination id (at most 64).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": ID_PATTERN }))]
    pub destinations: BTreeMap<String, DestinationTable>,
    /// Shared property definitions that events use with `<id> = {}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": ID_PATTERN }))]
    pub properties: BTreeMap<String, SharedProperty>,
    /// The events: one table per event id; each becomes a Rust struct.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": ID_PATTERN }))]
    pub events: BTreeMap<String, EventTable>,
    /// The traits of a user profile: one table per trait id; `purposes` say why each is kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": ID_PATTERN }))]
    pub traits: BTreeMap<String, TraitTable>,
    /// Kinds of group subjects belong to (e.g. `company`): one table per kind id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": ID_PATTERN }))]
    pub groups: BTreeMap<String, GroupTable>,
    /// Context properties (app version, platform), set on the tracker or per subject and sent
    /// with every event, or with the events they list.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": ID_PATTERN }))]
    pub context: BTreeMap<String, ContextTable>,
    /// Deny rules evaluated as in Fides; a plan that breaks one does not compile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<PolicyTable>,
    /// Built-in baseline policies the plan lifts, each with a justification reviewers see.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<ExceptionTable>,
    /// Additions to the built-in fideslang taxonomy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taxonomy: Option<TaxonomyTable>,
}

/// Ids: snake_case identifiers.
pub const ID_PATTERN: &str = "^[a-z][a-z0-9_]*$";

/// `[plan]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanTable {
    /// The plan's name, `[a-z][a-z0-9_]*`; sent with every event as `name@version`.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9_]*$"))]
    pub name: String,
    /// Bump when a change breaks consumers (a removed event or property, a narrowed type).
    pub version: u32,
    /// Who to ask about the plan, e.g. a team's e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// `[identity]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityTable {
    /// `"hmac"` (default): the distinct id is a keyed HMAC of the subject id; `"none"`: the raw
    /// id is sent and `justification` is required.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "keyword::option"
    )]
    #[schemars(with = "Option<keyword::Schema<IdentityTransform>>")]
    pub transform: Option<IdentityTransform>,
    /// Why raw subject ids must leave the process (required with `transform = "none"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// `[purposes.<id>]`: why data is collected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PurposeTable {
    /// Shown to end users on consent screens and in the notice: one plain sentence.
    pub description: String,
    /// The GDPR Art. 6 legal basis. `consent` purposes are off until granted;
    /// `legitimate_interest` purposes are on until the subject objects.
    #[serde(with = "keyword")]
    #[schemars(with = "keyword::Schema<LegalBasis>")]
    pub basis: LegalBasis,
    /// The fideslang data use, e.g. `analytics.reporting`.
    pub data_use: String,
    /// How long destinations keep the data, in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Whether this purpose sells or shares data: Global Privacy Control and CCPA opt-out
    /// withdraw it. Default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sale_or_share: Option<bool>,
}

/// `[destinations.<id>]`: where events may go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DestinationTable {
    /// Which sink delivers to it.
    pub kind: DestinationKind,
    /// What the destination uses data for. An event is routed here only if every one of these
    /// is among the event's purposes.
    #[schemars(length(min = 1))]
    pub purposes: Vec<String>,
    /// Shown in the docs and the record of processing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether a third party receives the data (`redact` properties are withheld from it).
    /// Default `false`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub third_party: Option<bool>,
    /// Where the destination keeps the data (`EU`, `US`, a cloud region), shown in the docs,
    /// the record of processing and the Fides export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// Property value types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TypeKey {
    /// UTF-8 text.
    String,
    /// A 64-bit signed integer.
    Integer,
    /// A 64-bit float.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A point in time.
    Timestamp,
    /// One of `values`, sent as written.
    Enum,
    /// A list of `items`.
    List,
}

/// What happens to a value before it leaves the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransformKey {
    /// Sent as is (personal data needs a `justification`).
    None,
    /// Keyed HMAC-SHA-256 with the tracker's secret key, hex (strings).
    Hmac,
    /// IPv4 addresses to /24, IPv6 to /48 (strings).
    TruncateIp,
    /// Drops a URL's query string and fragment (strings).
    StripQuery,
    /// Replaced by its bucket label from `buckets` (integers and numbers).
    Bucket,
    /// Truncated to `to` (timestamps).
    Coarsen,
    /// Never sent to third-party destinations.
    Redact,
}

/// A property: a shared `[properties.<id>]` definition, or a property table on an event.
///
/// On an event, `<id> = {}` uses the shared definition `[properties.<id>]`; then only `name`,
/// `description`, `required` and `purposes` may be set. A property without a shared definition
/// needs at least `type` and `sensitivity`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("allOf" = [
    { "if": { "properties": { "type": { "const": "enum" } }, "required": ["type"] },
      "then": { "required": ["values"] } },
    { "if": { "properties": { "type": { "const": "list" } }, "required": ["type"] },
      "then": { "required": ["items"] } },
    { "if": { "properties": { "transform": { "const": "bucket" } }, "required": ["transform"] },
      "then": { "required": ["buckets"] } },
    { "if": { "properties": { "transform": { "const": "coarsen" } }, "required": ["transform"] },
      "then": { "required": ["to"] } },
    { "if": { "properties": { "sensitivity": { "const": "special" } }, "required": ["sensitivity"] },
      "then": { "required": ["category", "special_basis"] } },
    { "if": { "properties": { "sensitivity": { "const": "personal" } }, "required": ["sensitivity"] },
      "then": { "required": ["category"] } }
]))]
pub struct PropertyTable {
    /// The wire name, sent byte-for-byte (any non-empty text); defaults to the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// The value type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<TypeKey>,
    /// The values of an `enum`, sent as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub values: Option<Vec<String>>,
    /// The item type of a `list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<ItemsTable>,
    /// `public` and `internal` are not personal data; `personal` is (GDPR Art. 4); `special` is
    /// GDPR Art. 9/10 data and children's data.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "keyword::option"
    )]
    #[schemars(with = "Option<keyword::Schema<Sensitivity>>")]
    pub sensitivity: Option<Sensitivity>,
    /// The fideslang data category, e.g. `user.contact.email` (required for personal and
    /// special data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Applied before the value leaves the process. Default `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<TransformKey>,
    /// Ascending bounds for `transform = "bucket"`: `[18, 25]` gives "<18", "18-24", "25+".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub buckets: Option<Vec<f64>>,
    /// The granularity for `transform = "coarsen"`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "keyword::option"
    )]
    #[schemars(with = "Option<keyword::Schema<Granularity>>")]
    pub to: Option<Granularity>,
    /// The only purposes this property may be collected for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purposes: Option<Vec<String>>,
    /// Why personal data is sent with `transform = "none"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The GDPR Art. 9(2) ground for special-category data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_basis: Option<SpecialBasis>,
    /// Whether every event must carry it. Default `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    /// Documentation: becomes the field's doc comment and the notice text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Longest allowed string, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Smallest allowed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A shared `[properties.<id>]` definition: a [`PropertyTable`] with `type` and `sensitivity`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SharedProperty(pub PropertyTable);

impl JsonSchema for SharedProperty {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SharedProperty".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let property = generator.subschema_for::<PropertyTable>();
        schemars::json_schema!({
            "description": "A shared property definition, used by events with `<id> = {}`.",
            "allOf": [property],
            "required": ["type", "sensitivity"],
        })
    }
}

/// The GDPR Art. 9(2) grounds for processing special-category data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpecialBasis {
    /// (a) explicit consent.
    ExplicitConsent,
    /// (b) employment, social security and social protection law.
    EmploymentSocialSecurity,
    /// (c) vital interests of a subject who cannot consent.
    VitalInterests,
    /// (d) a foundation, association or other not-for-profit body, about its members.
    NonProfitBody,
    /// (e) data the subject manifestly made public.
    MadePublicBySubject,
    /// (f) legal claims or courts.
    LegalClaims,
    /// (g) substantial public interest.
    SubstantialPublicInterest,
    /// (h) preventive or occupational medicine, health or social care.
    HealthOrSocialCare,
    /// (i) public health.
    PublicHealth,
    /// (j) archiving in the public interest, research or statistics.
    ArchivingResearchStatistics,
}

/// `items` of a `list`: the item type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("if" = { "properties": { "type": { "const": "enum" } } },
                  "then" = { "required": ["values"] }))]
pub struct ItemsTable {
    /// The item type (not `list`).
    #[serde(rename = "type")]
    pub ty: TypeKey,
    /// The values of an enum item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub values: Option<Vec<String>>,
}

/// `[events.<id>]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventTable {
    /// The wire name, sent byte-for-byte (any non-empty text); defaults to the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// Documentation: becomes the struct's doc comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Why the event is collected (purpose ids; at least one).
    #[schemars(length(min = 1))]
    pub purposes: Vec<String>,
    /// The event's properties by id: `<id> = {}` uses `[properties.<id>]`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": ID_PATTERN }))]
    pub properties: BTreeMap<String, PropertyTable>,
    /// Group kinds (`[groups.<id>]`) the event carries; the subject's membership supplies
    /// each group's key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

/// The same conditions as on a property: values for enums, items for lists, parameters of
/// transforms, category (and basis) for personal and special data.
macro_rules! property_like {
    ($(#[$meta:meta])* pub struct $name:ident { $($extra:tt)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[schemars(extend("allOf" = [
            { "if": { "properties": { "type": { "const": "enum" } }, "required": ["type"] },
              "then": { "required": ["values"] } },
            { "if": { "properties": { "type": { "const": "list" } }, "required": ["type"] },
              "then": { "required": ["items"] } },
            { "if": { "properties": { "transform": { "const": "bucket" } }, "required": ["transform"] },
              "then": { "required": ["buckets"] } },
            { "if": { "properties": { "transform": { "const": "coarsen" } }, "required": ["transform"] },
              "then": { "required": ["to"] } },
            { "if": { "properties": { "sensitivity": { "const": "special" } }, "required": ["sensitivity"] },
              "then": { "required": ["category", "special_basis"] } },
            { "if": { "properties": { "sensitivity": { "const": "personal" } }, "required": ["sensitivity"] },
              "then": { "required": ["category"] } }
        ]))]
        pub struct $name {
            /// The wire name, sent byte-for-byte; defaults to the id.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(length(min = 1))]
            pub name: Option<String>,
            /// The value type.
            #[serde(rename = "type")]
            pub ty: TypeKey,
            /// The values of an `enum`, sent as written.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(length(min = 1))]
            pub values: Option<Vec<String>>,
            /// The item type of a `list`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub items: Option<ItemsTable>,
            /// `public`, `internal`, `personal` (GDPR Art. 4) or `special` (Art. 9/10).
            #[serde(with = "keyword")]
            #[schemars(with = "keyword::Schema<Sensitivity>")]
            pub sensitivity: Sensitivity,
            /// The fideslang data category (required for personal and special data).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub category: Option<String>,
            /// Applied before the value leaves the process. Default `none`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub transform: Option<TransformKey>,
            /// Ascending bounds for `transform = "bucket"`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(length(min = 1))]
            pub buckets: Option<Vec<f64>>,
            /// The granularity for `transform = "coarsen"`.
            #[serde(
                default,
                skip_serializing_if = "Option::is_none",
                with = "keyword::option"
            )]
            #[schemars(with = "Option<keyword::Schema<Granularity>>")]
            pub to: Option<Granularity>,
            /// Why personal data is sent with `transform = "none"`.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub justification: Option<String>,
            /// The GDPR Art. 9(2) ground for special-category data.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub special_basis: Option<SpecialBasis>,
            /// Documentation: becomes doc comments and the notice text.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub description: Option<String>,
            /// Longest allowed string, in characters.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub max_length: Option<u32>,
            /// Smallest allowed number.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub min: Option<f64>,
            /// Largest allowed number.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub max: Option<f64>,
            $($extra)*
        }
    };
}

property_like! {
    /// `[traits.<id>]` or `[groups.<kind>.traits.<id>]`: a trait of a profile, with the keys
    /// of a property (no `required`). Mixpanel's profile names (`$email`, `$name`, `$phone`,
    /// …) may be given as `name`.
    pub struct TraitTable {
        /// Why the trait is kept; its updates go where an event with these purposes goes.
        /// Required on user traits; a group trait defaults to its group kind's and may narrow
        /// them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub purposes: Option<Vec<String>>,
    }
}

property_like! {
    /// `[context.<id>]`: a property set on the tracker or per subject and merged into events.
    pub struct ContextTable {
        /// The only purposes it may be collected for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub purposes: Option<Vec<String>>,
        /// The events it is sent with (event ids); default: every event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub events: Option<Vec<String>>,
    }
}

/// `[groups.<id>]`: a kind of group (a company, a team).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupTable {
    /// What a group of this kind is; shown in the docs and the notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Why memberships and group profile updates are collected (purpose ids).
    #[schemars(length(min = 1))]
    pub purposes: Vec<String>,
    /// The property that identifies a group: a `string` or `integer`.
    pub key: GroupKeyTable,
    /// The group profile's traits, by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = { "pattern": ID_PATTERN }))]
    pub traits: BTreeMap<String, TraitTable>,
}

/// `key` of a group kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("allOf" = [
    { "if": { "properties": { "sensitivity": { "const": "special" } }, "required": ["sensitivity"] },
      "then": { "required": ["category", "special_basis"] } },
    { "if": { "properties": { "sensitivity": { "const": "personal" } }, "required": ["sensitivity"] },
      "then": { "required": ["category"] } }
]))]
pub struct GroupKeyTable {
    /// The wire name of the key (Mixpanel's `$group_key`); default `<kind>_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub name: Option<String>,
    /// `string` or `integer`.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["string", "integer"]))]
    pub ty: TypeKey,
    /// How sensitive a group's id is.
    #[serde(with = "keyword")]
    #[schemars(with = "keyword::Schema<Sensitivity>")]
    pub sensitivity: Sensitivity,
    /// The fideslang data category (required for personal and special data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Applied before the id leaves the process (`hmac` or `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<TransformKey>,
    /// Why personal data is sent with `transform = "none"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The GDPR Art. 9(2) ground for special-category data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special_basis: Option<SpecialBasis>,
    /// Documentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Longest allowed id, in characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// Smallest allowed id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Largest allowed id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// `[[policies]]`: a deny rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyTable {
    /// What the rule is called in messages.
    pub name: String,
    /// The plan is rejected when a property on an event matches both dimensions.
    pub deny: DenyRule,
}

/// `[[exceptions]]`: a built-in baseline policy the plan lifts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExceptionTable {
    /// The id of the built-in policy lifted.
    #[schemars(extend("enum" = ["special-category-marketing", "special-category-third-party-sharing", "special-category-ai-training"]))]
    pub policy: String,
    /// Why the plan may do what the policy denies, and who reviewed it.
    #[schemars(length(min = 1))]
    pub justification: String,
}

/// `deny = { categories = …, data_uses = … }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyRule {
    /// Data categories (a key covers everything below it).
    pub categories: RuleDimension,
    /// Data uses (a key covers everything below it).
    pub data_uses: RuleDimension,
}

/// One dimension of a deny rule: a list of taxonomy keys (matched with `any`), or a table
/// with the keys and how they match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RuleDimension {
    /// `["user.health_and_medical", "user.biometric"]`: matches when any declared key is
    /// covered.
    Keys(Vec<String>),
    /// `{ values = [...], matches = "all" }`.
    Table(RuleTable),
}

/// `{ values = [...], matches = "any" | "all" | "none" | "other" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleTable {
    /// Taxonomy keys; each covers itself and everything below it.
    pub values: Vec<String>,
    /// `any` (default): some declared key is covered; `all`: every declared key is; `none`:
    /// none is; `other`: some is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<Match>,
}

/// `[taxonomy]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxonomyTable {
    /// `[taxonomy.categories."<key>"]`: data categories below existing ones. Quote the key.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$" }))]
    pub categories: BTreeMap<String, CategoryTable>,
}

/// `[taxonomy.categories."<key>"]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryTable {
    /// Whether the category is special (GDPR Art. 9/10, children's data). Default `false`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub special: bool,
    /// What the category covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The JSON Schema (draft 7) of the plan file format, as kept in
/// `plans/trackplan.schema.json` and printed by `trackplan schema`.
///
/// ```
/// let schema = trackplan_model::plan_schema();
/// assert_eq!(schema["title"], "trackplan tracking plan");
/// assert!(schema["properties"]["events"].is_object());
/// ```
pub fn plan_schema() -> serde_json::Value {
    let mut schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<PlanFile>()
        .to_value();
    remove_null(&mut schema);
    // Key order must not depend on whether some crate in the build enables serde_json's
    // `preserve_order`, or the checked-in file would flip between builds.
    schema.sort_all_objects();
    schema
}

/// TOML has no null: an optional key is simply absent. Drops the `null` alternatives that
/// `Option` fields get, so editors do not offer them.
fn remove_null(schema: &mut serde_json::Value) {
    use serde_json::Value;
    match schema {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get_mut("type") {
                types.retain(|t| t != "null");
                if let [only] = types.as_slice() {
                    let only = only.clone();
                    map.insert("type".to_owned(), only);
                }
            }
            if let Some(Value::Array(any_of)) = map.get_mut("anyOf") {
                any_of.retain(|s| s.get("type").is_none_or(|t| t != "null"));
                if any_of.len() == 1 {
                    let only = any_of.pop().unwrap_or_default();
                    map.remove("anyOf");
                    map.insert("allOf".to_owned(), Value::Array(vec![only]));
                }
            }
            map.values_mut().for_each(remove_null);
        }
        Value::Array(items) => items.iter_mut().for_each(remove_null),
        _ => {}
    }
}

/// [`plan_schema`] as pretty JSON with a trailing newline: the exact contents of
/// `plans/trackplan.schema.json`.
pub fn plan_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&plan_schema())
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA_PATH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../plans/trackplan.schema.json"
    );

    /// Regenerate with `TRACKPLAN_BLESS=1 cargo test -p trackplan-model`.
    #[test]
    fn schema_file_is_up_to_date() {
        let expected = plan_schema_text();
        if std::env::var_os("TRACKPLAN_BLESS").is_some() {
            std::fs::write(SCHEMA_PATH, &expected).expect("write plans/trackplan.schema.json");
        }
        let actual = std::fs::read_to_string(SCHEMA_PATH).unwrap_or_default();
        assert!(
            actual == expected,
            "plans/trackplan.schema.json is out of date; regenerate it with \
             `TRACKPLAN_BLESS=1 cargo test -p trackplan-model`"
        );
    }

    fn shop_text() -> String {
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../plans/shop.toml"))
            .expect("plans/shop.toml")
    }

    #[test]
    fn format_types_read_the_example_plan() {
        let file: PlanFile = toml::from_str(&shop_text()).expect("shop.toml fits the format");
        assert_eq!(file.plan.name, "shop");
        assert_eq!(file.events.len(), 9);
        assert_eq!(
            file.events["search_performed"].properties["health_filter"].special_basis,
            Some(SpecialBasis::ExplicitConsent)
        );
        assert_eq!(
            file.policies[0].deny.data_uses,
            RuleDimension::Keys(vec!["marketing".to_owned()])
        );
        assert_eq!(file.traits["email"].transform, Some(TransformKey::Hmac));
        assert_eq!(
            file.traits["first_name"].purposes,
            Some(vec!["customer_support".to_owned()])
        );
        let company = &file.groups["company"];
        assert_eq!(company.key.name.as_deref(), Some("Company ID"));
        assert_eq!(company.traits["seats"].ty, TypeKey::Integer);
        assert_eq!(file.context["app_version"].max_length, Some(32));
        assert_eq!(file.events["cart_updated"].groups, ["company"]);
    }

    #[test]
    fn format_types_reject_unknown_keys() {
        let text = shop_text().replace("retention_days = 395", "retention_dayz = 395");
        let err = toml::from_str::<PlanFile>(&text).unwrap_err();
        assert!(err.to_string().contains("retention_dayz"), "{err}");
    }

    #[test]
    fn special_bases_match_the_validated_list() {
        for basis in crate::plan::SPECIAL_BASES {
            let parsed: SpecialBasis = serde_json::from_value(serde_json::json!(basis))
                .expect("every validated basis is in the format enum");
            assert_eq!(
                serde_json::to_value(parsed).unwrap(),
                serde_json::json!(basis)
            );
        }
        let schema = plan_schema();
        let variants = schema["definitions"]["SpecialBasis"]["oneOf"]
            .as_array()
            .expect("documented variants");
        assert_eq!(variants.len(), crate::plan::SPECIAL_BASES.len());
    }

    #[test]
    fn schema_describes_keys_for_editors() {
        let schema = plan_schema();
        assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
        let property = &schema["definitions"]["PropertyTable"];
        assert_eq!(property["additionalProperties"], false);
        assert!(
            property["properties"]["sensitivity"]
                .to_string()
                .contains("Sensitivity"),
            "{property}"
        );
        assert_eq!(
            schema["properties"]["events"]["propertyNames"]["pattern"],
            ID_PATTERN
        );
        assert!(!schema.to_string().contains("\"null\""), "TOML has no null");
        let shared = &schema["definitions"]["SharedProperty"];
        assert_eq!(
            shared["required"],
            serde_json::json!(["type", "sensitivity"])
        );
    }
}
