//! One change: its kind, the item it is about, whether it breaks consumers and its privacy impact.

use super::*;

/// One difference between the two plans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// What kind of change it is.
    pub kind: ChangeKind,
    /// What changed.
    pub subject: ChangedItem,
    /// Whether a consumer of the data can stop working (see the module documentation).
    pub breaking: bool,
    /// How much a privacy reviewer needs to look at it.
    pub impact: Impact,
    /// One line saying why the change has that impact, in plain language.
    pub reason: String,
    /// The value before, when there was one, as data (a list of ids, a key, a number).
    pub before: Option<ChangeValue>,
    /// The value after, when there is one.
    pub after: Option<ChangeValue>,
    /// Consequences worth listing: destinations an event now reaches, events a destination now
    /// receives or no longer receives.
    pub notes: Vec<String>,
}

/// A value before or after a change, as plain data: the JSON report carries it as it is (an
/// array, a string, a number, a boolean or `null`) and only the Markdown report decides how it
/// reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ChangeValue {
    /// Explicitly nothing (a property without a data category): `null` in JSON.
    Nothing,
    /// A yes/no setting (`sale_or_share`).
    Bool(bool),
    /// A count (`[plan] version`, retention days).
    Number(u64),
    /// A key, a wire name, a description or a short summary, without Markdown.
    Text(String),
    /// Ids or values in plan order (purposes, enum values).
    List(Vec<String>),
}

impl ChangeValue {
    /// The text, when it is [`ChangeValue::Text`].
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ChangeValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The items, when it is [`ChangeValue::List`].
    pub fn as_list(&self) -> Option<&[String]> {
        match self {
            ChangeValue::List(v) => Some(v),
            _ => None,
        }
    }
}

impl From<String> for ChangeValue {
    fn from(s: String) -> Self {
        ChangeValue::Text(s)
    }
}

impl From<&str> for ChangeValue {
    fn from(s: &str) -> Self {
        ChangeValue::Text(s.to_owned())
    }
}

impl From<Vec<&str>> for ChangeValue {
    fn from(v: Vec<&str>) -> Self {
        ChangeValue::List(v.into_iter().map(str::to_owned).collect())
    }
}

impl From<&Vec<&str>> for ChangeValue {
    fn from(v: &Vec<&str>) -> Self {
        ChangeValue::List(v.iter().map(|s| (*s).to_owned()).collect())
    }
}

impl From<u32> for ChangeValue {
    fn from(n: u32) -> Self {
        ChangeValue::Number(n.into())
    }
}

impl From<bool> for ChangeValue {
    fn from(b: bool) -> Self {
        ChangeValue::Bool(b)
    }
}

/// The kinds of change, each named as the report names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Breaking changes without a higher `[plan] version`.
    VersionNotBumped,
    /// `[plan] name` changed (it is part of every payload as `name@version`).
    PlanRenamed,
    /// `[identity] transform` changed.
    IdentityChanged,
    /// A purpose was added.
    PurposeAdded,
    /// A purpose was removed.
    PurposeRemoved,
    /// A purpose's legal basis changed.
    LegalBasisChanged,
    /// A purpose's fideslang data use changed.
    DataUseChanged,
    /// A purpose's retention changed.
    RetentionChanged,
    /// A purpose's `sale_or_share` changed.
    SaleOrShareChanged,
    /// A purpose's description, the text end users read, changed.
    NoticeTextChanged,
    /// A destination was added.
    DestinationAdded,
    /// A destination was removed.
    DestinationRemoved,
    /// A destination now uses data for more purposes.
    DestinationPurposesWidened,
    /// A destination now uses data for fewer purposes (so more events may reach it).
    DestinationPurposesNarrowed,
    /// A destination's `third_party` flag changed.
    ThirdPartyChanged,
    /// A destination's kind changed.
    DestinationKindChanged,
    /// An event was added.
    EventAdded,
    /// An event was removed.
    EventRemoved,
    /// An event's or property's wire name changed.
    WireNameRenamed,
    /// An event is collected, or a property may be collected, for more purposes.
    PurposesWidened,
    /// An event is collected, or a property may be collected, for fewer purposes.
    PurposesNarrowed,
    /// A personal or special property of an event now reaches a third-party destination that
    /// already existed and did not receive it before (the event's purposes widened, the
    /// destination's narrowed, it became a third party, or the property lost `redact`).
    PersonalDataToThirdParty,
    /// A property was added to an event.
    PropertyAdded,
    /// A property was removed from an event.
    PropertyRemoved,
    /// A property's type changed.
    TypeChanged,
    /// An enum property's values changed.
    EnumValuesChanged,
    /// A property became required or optional.
    RequiredChanged,
    /// A property was declared more sensitive.
    SensitivityRaised,
    /// A property was declared less sensitive.
    SensitivityLowered,
    /// A property's data category changed.
    CategoryChanged,
    /// A property's transform now protects less.
    TransformWeakened,
    /// A property's transform now protects more.
    TransformStrengthened,
    /// A property's transform changed to one that protects differently (neither clearly more
    /// nor less).
    TransformChanged,
    /// A user-profile or group trait was added.
    TraitAdded,
    /// A trait was removed.
    TraitRemoved,
    /// A group kind was added.
    GroupKindAdded,
    /// A group kind was removed.
    GroupKindRemoved,
    /// A context property was added.
    ContextAdded,
    /// A context property was removed.
    ContextRemoved,
    /// An event carries group kinds it did not, or no longer carries some.
    EventGroupsChanged,
    /// A context property applies to other events.
    ContextEventsChanged,
    /// A policy was added.
    PolicyAdded,
    /// A policy was removed.
    PolicyRemoved,
    /// A policy's rules changed.
    PolicyChanged,
    /// A built-in baseline policy is lifted by a new `[[exceptions]]` entry.
    ExceptionAdded,
    /// An `[[exceptions]]` entry is gone: the built-in policy applies again.
    ExceptionRemoved,
    /// The justification of an `[[exceptions]]` entry changed.
    ExceptionChanged,
}

impl ChangeKind {
    /// The key used in JSON (`"sensitivity_raised"`).
    pub fn key(self) -> &'static str {
        match self {
            ChangeKind::VersionNotBumped => "version_not_bumped",
            ChangeKind::PlanRenamed => "plan_renamed",
            ChangeKind::IdentityChanged => "identity_changed",
            ChangeKind::PurposeAdded => "purpose_added",
            ChangeKind::PurposeRemoved => "purpose_removed",
            ChangeKind::LegalBasisChanged => "legal_basis_changed",
            ChangeKind::DataUseChanged => "data_use_changed",
            ChangeKind::RetentionChanged => "retention_changed",
            ChangeKind::SaleOrShareChanged => "sale_or_share_changed",
            ChangeKind::NoticeTextChanged => "notice_text_changed",
            ChangeKind::DestinationAdded => "destination_added",
            ChangeKind::DestinationRemoved => "destination_removed",
            ChangeKind::DestinationPurposesWidened => "destination_purposes_widened",
            ChangeKind::DestinationPurposesNarrowed => "destination_purposes_narrowed",
            ChangeKind::ThirdPartyChanged => "third_party_changed",
            ChangeKind::DestinationKindChanged => "destination_kind_changed",
            ChangeKind::EventAdded => "event_added",
            ChangeKind::EventRemoved => "event_removed",
            ChangeKind::WireNameRenamed => "wire_name_renamed",
            ChangeKind::PurposesWidened => "purposes_widened",
            ChangeKind::PurposesNarrowed => "purposes_narrowed",
            ChangeKind::PersonalDataToThirdParty => "personal_data_to_third_party",
            ChangeKind::PropertyAdded => "property_added",
            ChangeKind::PropertyRemoved => "property_removed",
            ChangeKind::TypeChanged => "type_changed",
            ChangeKind::EnumValuesChanged => "enum_values_changed",
            ChangeKind::RequiredChanged => "required_changed",
            ChangeKind::SensitivityRaised => "sensitivity_raised",
            ChangeKind::SensitivityLowered => "sensitivity_lowered",
            ChangeKind::CategoryChanged => "category_changed",
            ChangeKind::TransformWeakened => "transform_weakened",
            ChangeKind::TransformStrengthened => "transform_strengthened",
            ChangeKind::TransformChanged => "transform_changed",
            ChangeKind::TraitAdded => "trait_added",
            ChangeKind::TraitRemoved => "trait_removed",
            ChangeKind::GroupKindAdded => "group_kind_added",
            ChangeKind::GroupKindRemoved => "group_kind_removed",
            ChangeKind::ContextAdded => "context_added",
            ChangeKind::ContextRemoved => "context_removed",
            ChangeKind::EventGroupsChanged => "event_groups_changed",
            ChangeKind::ContextEventsChanged => "context_events_changed",
            ChangeKind::PolicyAdded => "policy_added",
            ChangeKind::PolicyRemoved => "policy_removed",
            ChangeKind::PolicyChanged => "policy_changed",
            ChangeKind::ExceptionAdded => "exception_added",
            ChangeKind::ExceptionRemoved => "exception_removed",
            ChangeKind::ExceptionChanged => "exception_changed",
        }
    }

    /// A short title for people ("Sensitivity raised").
    pub fn title(self) -> &'static str {
        match self {
            ChangeKind::VersionNotBumped => "Version not bumped",
            ChangeKind::PlanRenamed => "Plan renamed",
            ChangeKind::IdentityChanged => "User identity handling changed",
            ChangeKind::PurposeAdded => "Purpose added",
            ChangeKind::PurposeRemoved => "Purpose removed",
            ChangeKind::LegalBasisChanged => "Legal basis changed",
            ChangeKind::DataUseChanged => "Data use changed",
            ChangeKind::RetentionChanged => "Retention changed",
            ChangeKind::SaleOrShareChanged => "Sale/sharing changed",
            ChangeKind::NoticeTextChanged => "Notice text changed",
            ChangeKind::DestinationAdded => "Destination added",
            ChangeKind::DestinationRemoved => "Destination removed",
            ChangeKind::DestinationPurposesWidened => "Destination purposes widened",
            ChangeKind::DestinationPurposesNarrowed => "Destination purposes narrowed",
            ChangeKind::ThirdPartyChanged => "Third-party status changed",
            ChangeKind::DestinationKindChanged => "Destination kind changed",
            ChangeKind::EventAdded => "Event added",
            ChangeKind::EventRemoved => "Event removed",
            ChangeKind::WireNameRenamed => "Renamed on the wire",
            ChangeKind::PurposesWidened => "Purposes widened",
            ChangeKind::PurposesNarrowed => "Purposes narrowed",
            ChangeKind::PersonalDataToThirdParty => "Personal data to a new third party",
            ChangeKind::PropertyAdded => "Property added",
            ChangeKind::PropertyRemoved => "Property removed",
            ChangeKind::TypeChanged => "Type changed",
            ChangeKind::EnumValuesChanged => "Allowed values changed",
            ChangeKind::RequiredChanged => "Required changed",
            ChangeKind::SensitivityRaised => "Sensitivity raised",
            ChangeKind::SensitivityLowered => "Sensitivity lowered",
            ChangeKind::CategoryChanged => "Data category changed",
            ChangeKind::TransformWeakened => "Protection weakened",
            ChangeKind::TransformStrengthened => "Protection strengthened",
            ChangeKind::TransformChanged => "Protection changed",
            ChangeKind::TraitAdded => "Trait added",
            ChangeKind::TraitRemoved => "Trait removed",
            ChangeKind::GroupKindAdded => "Group kind added",
            ChangeKind::GroupKindRemoved => "Group kind removed",
            ChangeKind::ContextAdded => "Context property added",
            ChangeKind::ContextRemoved => "Context property removed",
            ChangeKind::EventGroupsChanged => "Groups on the event changed",
            ChangeKind::ContextEventsChanged => "Context sent with other events",
            ChangeKind::PolicyAdded => "Policy added",
            ChangeKind::PolicyRemoved => "Policy removed",
            ChangeKind::PolicyChanged => "Policy changed",
            ChangeKind::ExceptionAdded => "Built-in policy lifted",
            ChangeKind::ExceptionRemoved => "Built-in policy restored",
            ChangeKind::ExceptionChanged => "Exception justification changed",
        }
    }
}

/// How much a privacy reviewer needs to look at a change; ordered from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    /// No effect on what personal data is processed, why, or by whom.
    None,
    /// Less data or more protection, or a change worth a glance.
    Low,
    /// Someone responsible for privacy should confirm it.
    NeedsReview,
    /// More personal data, more purposes, more recipients or less protection.
    High,
}

impl Impact {
    /// The key used in JSON (`"needs_review"`).
    pub fn key(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Low => "low",
            Impact::NeedsReview => "needs_review",
            Impact::High => "high",
        }
    }

    /// How the report shows it ("needs review").
    pub fn label(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Low => "low",
            Impact::NeedsReview => "needs review",
            Impact::High => "high",
        }
    }
}

/// What a change is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChangedItem {
    /// The `[plan]` table.
    Plan,
    /// The `[identity]` table.
    Identity,
    /// A purpose.
    Purpose {
        /// Its id.
        id: String,
    },
    /// A destination.
    Destination {
        /// Its id.
        id: String,
    },
    /// An event.
    Event {
        /// Its id.
        id: String,
        /// Its wire name (the head's, or the base's when it was removed).
        name: String,
    },
    /// A property of an event.
    Property {
        /// The event's id.
        event: String,
        /// The event's wire name.
        event_name: String,
        /// The property's id.
        id: String,
        /// The property's wire name.
        name: String,
    },
    /// A trait of the user profile (`group: None`) or of a group kind.
    Trait {
        /// The group kind's id, for a group trait.
        group: Option<String>,
        /// The trait's id.
        id: String,
        /// Its wire name.
        name: String,
    },
    /// A group kind.
    GroupKind {
        /// Its id.
        id: String,
    },
    /// A context property.
    Context {
        /// Its id.
        id: String,
        /// Its wire name.
        name: String,
    },
    /// A `[[policies]]` entry.
    Policy {
        /// Its name.
        name: String,
    },
    /// An `[[exceptions]]` entry.
    Exception {
        /// The id of the built-in policy it lifts.
        policy: String,
    },
}

impl ChangedItem {
    /// Where in the plan file it is, as a dotted path (`events.login_failed.properties.email`).
    pub fn path(&self) -> String {
        match self {
            ChangedItem::Plan => "plan".to_owned(),
            ChangedItem::Identity => "identity".to_owned(),
            ChangedItem::Purpose { id } => format!("purposes.{id}"),
            ChangedItem::Destination { id } => format!("destinations.{id}"),
            ChangedItem::Event { id, .. } => format!("events.{id}"),
            ChangedItem::Property { event, id, .. } => format!("events.{event}.properties.{id}"),
            ChangedItem::Trait {
                group: None, id, ..
            } => format!("traits.{id}"),
            ChangedItem::Trait {
                group: Some(g), id, ..
            } => format!("groups.{g}.traits.{id}"),
            ChangedItem::GroupKind { id } => format!("groups.{id}"),
            ChangedItem::Context { id, .. } => format!("context.{id}"),
            ChangedItem::Policy { name } => format!("policies[{name:?}]"),
            ChangedItem::Exception { policy } => format!("exceptions[{policy:?}]"),
        }
    }
}

impl fmt::Display for ChangedItem {
    /// How a reviewer reads it: wire names first, ids in backticks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChangedItem::Plan => f.write_str("the plan"),
            ChangedItem::Identity => f.write_str("user identity"),
            ChangedItem::Purpose { id } => write!(f, "purpose `{id}`"),
            ChangedItem::Destination { id } => write!(f, "destination `{id}`"),
            ChangedItem::Event { name, .. } => write!(f, "event \"{name}\""),
            ChangedItem::Property {
                event_name, name, ..
            } => write!(f, "property \"{name}\" of \"{event_name}\""),
            ChangedItem::Trait {
                group: None, name, ..
            } => write!(f, "profile trait \"{name}\""),
            ChangedItem::Trait {
                group: Some(g),
                name,
                ..
            } => write!(f, "trait \"{name}\" of group kind `{g}`"),
            ChangedItem::GroupKind { id } => write!(f, "group kind `{id}`"),
            ChangedItem::Context { name, .. } => write!(f, "context property \"{name}\""),
            ChangedItem::Policy { name } => write!(f, "policy \"{name}\""),
            ChangedItem::Exception { policy } => write!(f, "built-in policy `{policy}`"),
        }
    }
}

// Private builders: the classification below reads as one expression per change.
impl Change {
    pub(super) fn of(
        kind: ChangeKind,
        subject: &ChangedItem,
        impact: Impact,
        reason: impl Into<String>,
    ) -> Self {
        Change {
            kind,
            subject: subject.clone(),
            breaking: false,
            impact,
            reason: reason.into(),
            before: None,
            after: None,
            notes: Vec::new(),
        }
    }

    pub(super) fn breaking(mut self, yes: bool) -> Self {
        self.breaking = yes;
        self
    }

    pub(super) fn values(
        mut self,
        before: impl Into<ChangeValue>,
        after: impl Into<ChangeValue>,
    ) -> Self {
        self.before = Some(before.into());
        self.after = Some(after.into());
        self
    }

    pub(super) fn before(mut self, before: impl Into<ChangeValue>) -> Self {
        self.before = Some(before.into());
        self
    }

    pub(super) fn after(mut self, after: impl Into<ChangeValue>) -> Self {
        self.after = Some(after.into());
        self
    }

    pub(super) fn notes(mut self, notes: Vec<String>) -> Self {
        self.notes = notes;
        self
    }

    pub(super) fn notes_more(mut self, notes: Vec<String>) -> Self {
        self.notes.extend(notes);
        self
    }
}
