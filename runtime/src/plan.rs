//! The static description of a plan that `plan!` compiles into the application.
//!
//! All of it is `'static` data built by generated code: names, purposes, routing and transforms.
//! Purpose and destination sets are bit sets indexed by declaration order, so the routing and
//! consent checks on the `track` path are a few integer operations.

use core::any::TypeId;

pub use trackplan_vocab::{
    Audience, Constraints, DestinationSet, Granularity, IdentityTransform, LegalBasis, PurposeSet,
    Sensitivity,
};

/// Everything the runtime knows about a plan.
#[derive(Debug)]
#[non_exhaustive]
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
    pub identity: IdentityTransform,
    /// Purposes in declaration order (consent screens list them in this order).
    pub purposes: &'static [PurposeInfo],
    /// Destinations in declaration order.
    pub destinations: &'static [DestinationInfo],
    /// Events in declaration order.
    pub events: &'static [EventInfo],
    /// User profile traits (`[traits.<id>]`) in declaration order.
    pub traits: &'static [TraitInfo],
    /// Group kinds (`[groups.<kind>]`) in declaration order.
    pub groups: &'static [GroupInfo],
    /// Context properties (`[context.<id>]`) in declaration order.
    pub context: &'static [ContextInfo],
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

/// A purpose, as a consent screen shows it.
#[derive(Debug)]
#[non_exhaustive]
pub struct PurposeInfo {
    /// The identity of the marker type `plan!` generated for this purpose
    /// (`TypeId::of::<purpose::Advertising>`), set through `__private::purpose_marker`.
    /// [`Consent`](crate::Consent) accepts a marker only when its `TypeId` is this one: a
    /// hand-written `impl Purpose` naming the plan and an index is not the plan's purpose.
    /// `None` (plan data made by hand without it) accepts no marker at all.
    marker: Option<Marker>,
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
#[non_exhaustive]
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
#[non_exhaustive]
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
    /// Indices in [`PlanInfo::groups`] of the group kinds it carries (`events.<id>.groups`),
    /// in plan order; empty for most events.
    pub groups: &'static [usize],
}

/// A trait: a property of a user profile (`[traits.<id>]`) or of a group kind's profile
/// (`[groups.<kind>.traits.<id>]`).
///
/// A trait is routed on its own: an update carries it only to the destinations its purposes
/// reach by the routing rule (`destinations`) that the subject's consent permits, through
/// its transform, and never to a third party when it is `redact`.
#[derive(Debug)]
#[non_exhaustive]
pub struct TraitInfo {
    /// The trait as a property: plan id, wire name, JSON key, type, sensitivity, category,
    /// transform and constraints (`required` is always false).
    pub property: PropertyInfo,
    /// Why it is collected.
    pub purposes: PurposeSet,
    /// Destinations it may be sent to (their purposes are all among the trait's), computed
    /// when the plan was compiled. For a group trait, also among its group kind's
    /// destinations.
    pub destinations: DestinationSet,
}

/// A group kind (`[groups.<kind>]`, e.g. `company`): the groups subjects join and whose
/// profiles are updated.
#[derive(Debug)]
#[non_exhaustive]
pub struct GroupInfo {
    /// The kind's plan id (`company`).
    pub id: &'static str,
    /// The group's key property (`company_id`): its wire name names the key downstream
    /// (Mixpanel `$group_key`), its value (through its transform) identifies the group.
    pub key: PropertyInfo,
    /// Why group membership is collected.
    pub purposes: PurposeSet,
    /// Destinations that may receive memberships and group updates (the routing rule on
    /// `purposes`).
    pub destinations: DestinationSet,
    /// The group profile's traits in plan order.
    pub traits: &'static [TraitInfo],
}

/// A context property (`[context.<id>]`): set once on the tracker or per subject, merged
/// into every event it applies to.
#[derive(Debug)]
#[non_exhaustive]
pub struct ContextInfo {
    /// The context value as a property of the events it is merged into.
    pub property: PropertyInfo,
    /// Indices in [`PlanInfo::events`] of the events it applies to (`events = [...]`), or
    /// `None` for every event.
    pub events: Option<&'static [usize]>,
}

impl ContextInfo {
    /// Whether it applies to the event at index `event` of the plan.
    pub fn applies_to(&self, event: usize) -> bool {
        self.events.is_none_or(|events| events.contains(&event))
    }
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

/// A property of an event.
#[derive(Debug)]
#[non_exhaustive]
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

impl TransformInfo {
    /// Who may receive a value with this transform: first parties only for `redact`.
    pub const fn audience(&self) -> Audience {
        Audience::of(matches!(self, TransformInfo::Redact))
    }
}

impl PlanInfo {
    /// The set of the plan's third-party destinations.
    pub fn third_parties(&self) -> DestinationSet {
        self.destinations
            .iter()
            .enumerate()
            .filter(|(_, d)| d.third_party)
            .map(|(i, _)| i)
            .collect()
    }
}

// Constructors for generated code, re-exported through `__private` only. The info types are
// `#[non_exhaustive]`, so their layout is not part of the API; generated code builds them
// positionally here, which also keeps the `PLAN` static of a large plan small for the compiler.
// Nothing built here is trusted as is: `TrackerBuilder::build` re-derives what it can (routes,
// sets, transforms) and refuses a plan that disagrees (see `verify`).

/// A [`PlanInfo`], positionally.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // One argument per field.
pub const fn plan_info(
    name: &'static str,
    version: u32,
    label: &'static str,
    hash: &'static str,
    identity: IdentityTransform,
    purposes: &'static [PurposeInfo],
    destinations: &'static [DestinationInfo],
    events: &'static [EventInfo],
) -> PlanInfo {
    PlanInfo {
        name,
        version,
        label,
        hash,
        identity,
        purposes,
        destinations,
        events,
        traits: &[],
        groups: &[],
        context: &[],
    }
}

/// `plan` with its profile traits, group kinds and context properties; `plan!` writes
/// `plan_sections(plan_info(…), &[trait_info(…), …], &[group_info(…), …], &[context_info(…), …])`
/// for a plan that declares any of them.
#[doc(hidden)]
pub const fn plan_sections(
    plan: PlanInfo,
    traits: &'static [TraitInfo],
    groups: &'static [GroupInfo],
    context: &'static [ContextInfo],
) -> PlanInfo {
    PlanInfo {
        traits,
        groups,
        context,
        ..plan
    }
}

/// A [`TraitInfo`], positionally; `property` is built by [`property`] with `required: false`.
#[doc(hidden)]
pub const fn trait_info(
    property: PropertyInfo,
    purposes: PurposeSet,
    destinations: DestinationSet,
) -> TraitInfo {
    TraitInfo {
        property,
        purposes,
        destinations,
    }
}

/// A [`GroupInfo`], positionally; `key` is built by [`property`] with `required: true`.
#[doc(hidden)]
pub const fn group_info(
    id: &'static str,
    key: PropertyInfo,
    purposes: PurposeSet,
    destinations: DestinationSet,
    traits: &'static [TraitInfo],
) -> GroupInfo {
    GroupInfo {
        id,
        key,
        purposes,
        destinations,
        traits,
    }
}

/// A [`ContextInfo`], positionally; `property` is built by [`property`] with
/// `required: false`.
#[doc(hidden)]
pub const fn context_info(property: PropertyInfo, events: Option<&'static [usize]>) -> ContextInfo {
    ContextInfo { property, events }
}

/// `event` carrying the group kinds at `groups` (indices in [`PlanInfo::groups`]);
/// `plan!` writes `event_groups(event_info(…), &[0])` for an event with `groups = [...]`.
#[doc(hidden)]
pub const fn event_groups(event: EventInfo, groups: &'static [usize]) -> EventInfo {
    EventInfo { groups, ..event }
}

/// A [`PurposeInfo`], positionally.
#[doc(hidden)]
pub const fn purpose_info(
    id: &'static str,
    description: &'static str,
    basis: LegalBasis,
    data_use: &'static str,
    retention_days: Option<u32>,
    sale_or_share: bool,
) -> PurposeInfo {
    PurposeInfo {
        marker: None,
        id,
        description,
        basis,
        data_use,
        retention_days,
        sale_or_share,
    }
}

/// `info` with the identity of its generated marker type; `plan!` writes
/// `purpose_marker(purpose_info(…), marker::<purpose::X>)`.
#[doc(hidden)]
pub const fn purpose_marker(info: PurposeInfo, marker: fn() -> TypeId) -> PurposeInfo {
    PurposeInfo {
        marker: Some(Marker(marker)),
        ..info
    }
}

/// The `TypeId` of `T`, as a function pointer the plan data can hold (`TypeId::of` is not
/// callable in a `static` initializer).
#[doc(hidden)]
pub fn marker<T: 'static>() -> TypeId {
    TypeId::of::<T>()
}

impl PurposeInfo {
    /// Whether `P` is the marker type the plan generated for this purpose.
    pub(crate) fn is_marked_by<P: 'static>(&self) -> bool {
        self.marker.is_some_and(|m| (m.0)() == TypeId::of::<P>())
    }
}

/// The identity of a generated marker type. Its `Debug` says only that there is one: a function
/// address would differ from build to build.
#[derive(Clone, Copy)]
struct Marker(fn() -> TypeId);

impl std::fmt::Debug for Marker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Marker")
    }
}

/// A [`DestinationInfo`], positionally.
#[doc(hidden)]
pub const fn destination_info(
    id: &'static str,
    kind: &'static str,
    description: &'static str,
    purposes: PurposeSet,
    third_party: bool,
) -> DestinationInfo {
    DestinationInfo {
        id,
        kind,
        description,
        purposes,
        third_party,
    }
}

/// An [`EventInfo`], positionally.
#[doc(hidden)]
pub const fn event_info(
    id: &'static str,
    name: &'static str,
    purposes: PurposeSet,
    destinations: DestinationSet,
    properties: &'static [PropertyInfo],
) -> EventInfo {
    EventInfo {
        id,
        name,
        purposes,
        destinations,
        properties,
        groups: &[],
    }
}

/// A [`PropertyInfo`], positionally.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)] // One argument per field.
pub const fn property(
    id: &'static str,
    name: &'static str,
    json_key: &'static str,
    kind: ValueKind,
    sensitivity: Sensitivity,
    category: Option<&'static str>,
    transform: TransformInfo,
    required: bool,
    constraints: Constraints,
) -> PropertyInfo {
    PropertyInfo {
        id,
        name,
        json_key,
        kind,
        sensitivity,
        category,
        transform,
        required,
        constraints,
    }
}

/// [`Constraints`], positionally.
#[doc(hidden)]
pub const fn constraints(
    max_length: Option<u32>,
    min: Option<f64>,
    max: Option<f64>,
) -> Constraints {
    Constraints::new(max_length, min, max)
}
