//! What changed between two versions of a plan, and what each change means for privacy.
//!
//! [`diff`] compares two resolved [`Plan`]s and returns one [`Change`] per difference a reviewer
//! should see. Every change says whether it is *breaking* and carries a privacy [`Impact`] with a
//! one-line reason. The CLI renders the result as Markdown for people and JSON for tools; the
//! classification lives here so both stay the same.
//!
//! **Breaking** means a consumer of the data that worked before can stop working: a dashboard, a
//! warehouse query or a schema registry (Mixpanel Lexicon) sees an event or property disappear,
//! change its name, type or form, or become optional. Changes to generated Rust code need no
//! flag: the compiler reports them.
//!
//! Items are matched by id (events, properties of an event, purposes, destinations) and by name
//! (policies). Properties are compared as resolved on each event, so a change to a shared
//! `[properties.<id>]` definition shows up once per event that uses it: that is where the data
//! goes.

use crate::plan::{
    Destination, Event, IdentityTransform, Plan, Policy, Property, PropertyType, Purpose, RuleSet,
    Sensitivity, Transform,
};
use crate::source::Spanned;
use serde::Serialize;
use std::fmt;

/// The changes from a base plan to a head plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanDiff {
    /// The plan before the change.
    pub base: PlanVersion,
    /// The plan after the change.
    pub head: PlanVersion,
    /// Every change, the version check first, then plan-level changes, purposes, destinations,
    /// events (in head order, removed ones last) and policies.
    pub changes: Vec<Change>,
}

/// A plan's name and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanVersion {
    /// `[plan] name`.
    pub name: String,
    /// `[plan] version`.
    pub version: u32,
}

/// One difference between the two plans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// What kind of change it is.
    pub kind: ChangeKind,
    /// What changed.
    pub subject: Subject,
    /// Whether a consumer of the data can stop working (see the module documentation).
    pub breaking: bool,
    /// How much a privacy reviewer needs to look at it.
    pub impact: Impact,
    /// One line saying why the change has that impact, in plain language.
    pub reason: String,
    /// The value before, when there was one, as a reviewer reads it.
    pub before: Option<String>,
    /// The value after, when there is one.
    pub after: Option<String>,
    /// Consequences worth listing: destinations an event now reaches, events a destination now
    /// receives or no longer receives.
    pub notes: Vec<String>,
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
    /// A policy was added.
    PolicyAdded,
    /// A policy was removed.
    PolicyRemoved,
    /// A policy's rules changed.
    PolicyChanged,
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
            ChangeKind::PolicyAdded => "policy_added",
            ChangeKind::PolicyRemoved => "policy_removed",
            ChangeKind::PolicyChanged => "policy_changed",
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
            ChangeKind::PolicyAdded => "Policy added",
            ChangeKind::PolicyRemoved => "Policy removed",
            ChangeKind::PolicyChanged => "Policy changed",
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
pub enum Subject {
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
    /// A `[[policies]]` entry.
    Policy {
        /// Its name.
        name: String,
    },
}

impl Subject {
    /// Where in the plan file it is, as a dotted path (`events.login_failed.properties.email`).
    pub fn path(&self) -> String {
        match self {
            Subject::Plan => "plan".to_owned(),
            Subject::Identity => "identity".to_owned(),
            Subject::Purpose { id } => format!("purposes.{id}"),
            Subject::Destination { id } => format!("destinations.{id}"),
            Subject::Event { id, .. } => format!("events.{id}"),
            Subject::Property { event, id, .. } => format!("events.{event}.properties.{id}"),
            Subject::Policy { name } => format!("policies[{name:?}]"),
        }
    }
}

impl fmt::Display for Subject {
    /// How a reviewer reads it: wire names first, ids in backticks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Plan => f.write_str("the plan"),
            Subject::Identity => f.write_str("user identity"),
            Subject::Purpose { id } => write!(f, "purpose `{id}`"),
            Subject::Destination { id } => write!(f, "destination `{id}`"),
            Subject::Event { name, .. } => write!(f, "event \"{name}\""),
            Subject::Property {
                event_name, name, ..
            } => write!(f, "property \"{name}\" of \"{event_name}\""),
            Subject::Policy { name } => write!(f, "policy \"{name}\""),
        }
    }
}

impl PlanDiff {
    /// Whether any change is breaking.
    pub fn has_breaking(&self) -> bool {
        self.changes.iter().any(|c| c.breaking)
    }

    /// Whether a breaking change came without a higher plan version.
    pub fn version_not_bumped(&self) -> bool {
        self.changes
            .iter()
            .any(|c| c.kind == ChangeKind::VersionNotBumped)
    }

    /// The highest impact of any change ([`Impact::None`] when nothing changed).
    pub fn max_impact(&self) -> Impact {
        self.changes
            .iter()
            .map(|c| c.impact)
            .max()
            .unwrap_or(Impact::None)
    }

    /// How many changes have this impact.
    pub fn count(&self, impact: Impact) -> usize {
        self.changes.iter().filter(|c| c.impact == impact).count()
    }
}

/// Compares two plans. Pure: the same plans always give the same changes in the same order.
pub fn diff(base: &Plan, head: &Plan) -> PlanDiff {
    let mut cx = Cx {
        base,
        head,
        changes: Vec::new(),
    };
    cx.plan();
    cx.purposes();
    cx.destinations();
    cx.events();
    cx.policies();

    let breaking = cx.changes.iter().filter(|c| c.breaking).count();
    if breaking > 0 && head.version.value <= base.version.value {
        let (b, h) = (base.version.value, head.version.value);
        cx.changes.insert(
            0,
            Change {
                kind: ChangeKind::VersionNotBumped,
                subject: Subject::Plan,
                breaking: false,
                impact: Impact::None,
                reason: format!(
                    "{breaking} breaking change{} but `[plan] version` is {h}; set it to {} so \
                     consumers can tell the data changed",
                    if breaking == 1 { "" } else { "s" },
                    b.max(h) + 1
                ),
                before: Some(b.to_string()),
                after: Some(h.to_string()),
                notes: Vec::new(),
            },
        );
    }

    PlanDiff {
        base: PlanVersion {
            name: base.name.value.clone(),
            version: base.version.value,
        },
        head: PlanVersion {
            name: head.name.value.clone(),
            version: head.version.value,
        },
        changes: cx.changes,
    }
}

struct Cx<'a> {
    base: &'a Plan,
    head: &'a Plan,
    changes: Vec<Change>,
}

// Private builders: the classification below reads as one expression per change.
impl Change {
    fn of(kind: ChangeKind, subject: &Subject, impact: Impact, reason: impl Into<String>) -> Self {
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

    fn breaking(mut self, yes: bool) -> Self {
        self.breaking = yes;
        self
    }

    fn values(
        mut self,
        before: impl Into<Option<String>>,
        after: impl Into<Option<String>>,
    ) -> Self {
        self.before = before.into();
        self.after = after.into();
        self
    }

    fn notes(mut self, notes: Vec<String>) -> Self {
        self.notes = notes;
        self
    }
}

impl Cx<'_> {
    fn push(&mut self, c: Change) {
        self.changes.push(c);
    }

    fn plan(&mut self) {
        let (b, h) = (self.base, self.head);
        if b.name.value != h.name.value {
            self.push(
                Change::of(
                    ChangeKind::PlanRenamed,
                    &Subject::Plan,
                    Impact::None,
                    "every payload names the plan as `name@version`; consumers filtering on it \
                     stop matching",
                )
                .breaking(true)
                .values(b.name.value.clone(), h.name.value.clone()),
            );
        }
        let (bt, ht) = (b.identity.transform.value, h.identity.transform.value);
        if bt != ht {
            let (impact, reason) = match ht {
                IdentityTransform::None => (
                    Impact::High,
                    "user ids now leave the process as they are instead of pseudonymized",
                ),
                IdentityTransform::Hmac => (
                    Impact::Low,
                    "user ids are now pseudonymized with the tracker key before they leave",
                ),
            };
            self.push(
                Change::of(
                    ChangeKind::IdentityChanged,
                    &Subject::Identity,
                    impact,
                    reason,
                )
                .breaking(true)
                .values(bt.to_string(), ht.to_string())
                .notes(vec![
                    "distinct ids change: the same person appears as a new user downstream"
                        .to_owned(),
                ]),
            );
        }
    }

    fn purposes(&mut self) {
        for hp in &self.head.purposes {
            let subject = Subject::Purpose {
                id: hp.id.value.clone(),
            };
            let Some(bp) = self.base.purpose(&hp.id) else {
                let (impact, reason) = if is_marketing(hp) {
                    (
                        Impact::High,
                        format!(
                            "a new reason to process data that {}; check the legal basis and \
                             the notice",
                            marketing_phrase(hp)
                        ),
                    )
                } else {
                    (
                        Impact::NeedsReview,
                        "a new reason to process data; check the legal basis and the notice \
                         text"
                            .to_owned(),
                    )
                };
                self.push(
                    Change::of(ChangeKind::PurposeAdded, &subject, impact, reason).values(
                        None,
                        format!(
                            "{} ({}, {})",
                            hp.data_use.value,
                            hp.basis.value.key(),
                            retention(hp.retention_days.as_ref())
                        ),
                    ),
                );
                continue;
            };
            self.purpose_changes(bp, hp, &subject);
        }
        for bp in &self.base.purposes {
            if self.head.purpose(&bp.id).is_none() {
                self.push(
                    Change::of(
                        ChangeKind::PurposeRemoved,
                        &Subject::Purpose {
                            id: bp.id.value.clone(),
                        },
                        Impact::Low,
                        "data is no longer processed for this reason",
                    )
                    .values(bp.data_use.value.clone(), None),
                );
            }
        }
    }

    fn purpose_changes(&mut self, bp: &Purpose, hp: &Purpose, subject: &Subject) {
        use crate::plan::LegalBasis;
        if bp.basis.value != hp.basis.value {
            let (impact, reason) = if bp.basis.value == LegalBasis::Consent {
                (
                    Impact::High,
                    "this purpose no longer waits for the user's consent: data is processed \
                     without asking",
                )
            } else if hp.basis.value == LegalBasis::Consent {
                (
                    Impact::NeedsReview,
                    "this purpose now needs consent: events stop until users agree; check the \
                     consent screen",
                )
            } else {
                (
                    Impact::NeedsReview,
                    "the legal ground changed; the notice and the Art. 30 record must follow",
                )
            };
            self.push(
                Change::of(ChangeKind::LegalBasisChanged, subject, impact, reason).values(
                    bp.basis.value.key().to_owned(),
                    hp.basis.value.key().to_owned(),
                ),
            );
        }
        if bp.data_use.value != hp.data_use.value {
            let (impact, reason) = if is_marketing(hp) && !is_marketing(bp) {
                (
                    Impact::High,
                    "the data is now used for marketing; policies and consent must cover it"
                        .to_owned(),
                )
            } else {
                (
                    Impact::NeedsReview,
                    "what the data is used for changed; check the policies that match data uses"
                        .to_owned(),
                )
            };
            self.push(
                Change::of(ChangeKind::DataUseChanged, subject, impact, reason)
                    .values(bp.data_use.value.clone(), hp.data_use.value.clone()),
            );
        }
        let (br, hr) = (
            bp.retention_days.as_ref().map(|r| r.value),
            hp.retention_days.as_ref().map(|r| r.value),
        );
        if br != hr {
            let longer = match (br, hr) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some(b), Some(h)) => h > b,
            };
            let (impact, reason) = if longer {
                (
                    Impact::NeedsReview,
                    "data is kept longer; the notice and the Art. 30 record state the retention",
                )
            } else {
                (Impact::Low, "data is kept for a shorter time")
            };
            self.push(
                Change::of(ChangeKind::RetentionChanged, subject, impact, reason).values(
                    retention(bp.retention_days.as_ref()),
                    retention(hp.retention_days.as_ref()),
                ),
            );
        }
        if bp.sale_or_share.value != hp.sale_or_share.value {
            let (impact, reason) = if hp.sale_or_share.value {
                (
                    Impact::High,
                    "this purpose now sells or shares data: Global Privacy Control and CCPA \
                     opt-outs apply and the notice must say so",
                )
            } else {
                (
                    Impact::NeedsReview,
                    "Global Privacy Control and CCPA opt-outs no longer stop this purpose; \
                     confirm it does not sell or share data",
                )
            };
            self.push(
                Change::of(ChangeKind::SaleOrShareChanged, subject, impact, reason).values(
                    bp.sale_or_share.value.to_string(),
                    hp.sale_or_share.value.to_string(),
                ),
            );
        }
        if bp.description.value != hp.description.value {
            self.push(
                Change::of(
                    ChangeKind::NoticeTextChanged,
                    subject,
                    Impact::Low,
                    "users read this text on the consent screen and in the notice; check it is \
                     accurate",
                )
                .values(bp.description.value.clone(), hp.description.value.clone()),
            );
        }
    }

    fn destinations(&mut self) {
        for hd in &self.head.destinations {
            let subject = Subject::Destination {
                id: hd.id.value.clone(),
            };
            let routed: Vec<String> = events_routed_to(self.head, hd)
                .map(|e| receives(e, hd))
                .collect();
            let Some(bd) = self.base.destination(&hd.id) else {
                let (impact, reason) = if hd.third_party.value {
                    (
                        Impact::High,
                        "a new third party receives data; a data processing agreement and the \
                         notice must cover it",
                    )
                } else {
                    (
                        Impact::NeedsReview,
                        "a new first-party system receives data; the Art. 30 record lists \
                         recipients",
                    )
                };
                self.push(
                    Change::of(ChangeKind::DestinationAdded, &subject, impact, reason)
                        .values(None, destination_summary(hd))
                        .notes(routed),
                );
                continue;
            };
            let (bset, hset) = (ids(&bd.purposes.value), ids(&hd.purposes.value));
            let added: Vec<&str> = hset.iter().copied().filter(|p| !bset.contains(p)).collect();
            let removed: Vec<&str> = bset.iter().copied().filter(|p| !hset.contains(p)).collect();
            let newly = newly_routed(self.base, bd, self.head, hd);
            let lost = newly_routed(self.head, hd, self.base, bd);
            if !added.is_empty() {
                let impact = if hd.third_party.value {
                    Impact::High
                } else {
                    Impact::NeedsReview
                };
                let mut notes = vec![format!("now also uses data for {}", list(&added))];
                notes.extend(lost.iter().map(|e| format!("no longer receives \"{e}\"")));
                self.push(
                    Change::of(
                        ChangeKind::DestinationPurposesWidened,
                        &subject,
                        impact,
                        format!(
                            "{} uses the data it receives for more purposes",
                            if hd.third_party.value {
                                "this third party"
                            } else {
                                "this system"
                            }
                        ),
                    )
                    .breaking(!lost.is_empty())
                    .values(list(&bset), list(&hset))
                    .notes(notes),
                );
            }
            if !removed.is_empty() {
                let notes: Vec<String> = newly
                    .iter()
                    .map(|e| format!("now receives \"{e}\""))
                    .collect();
                let (impact, reason) = if newly.is_empty() {
                    (Impact::Low, "uses the data for fewer purposes")
                } else {
                    (
                        Impact::NeedsReview,
                        "uses the data for fewer purposes, so events collected for the remaining \
                         ones now reach it",
                    )
                };
                self.push(
                    Change::of(
                        ChangeKind::DestinationPurposesNarrowed,
                        &subject,
                        impact,
                        reason,
                    )
                    .breaking(added.is_empty() && !lost.is_empty())
                    .values(list(&bset), list(&hset))
                    .notes(notes),
                );
            }
            if bd.third_party.value != hd.third_party.value {
                let (impact, reason) = if hd.third_party.value {
                    (
                        Impact::High,
                        "data now goes to a third party; `redact` properties are withheld from it",
                    )
                } else {
                    (
                        Impact::Low,
                        "data now stays with us; `redact` properties are now sent to it",
                    )
                };
                self.push(
                    Change::of(ChangeKind::ThirdPartyChanged, &subject, impact, reason)
                        .values(
                            party(bd.third_party.value).to_owned(),
                            party(hd.third_party.value).to_owned(),
                        )
                        .notes(routed.clone()),
                );
            }
            if bd.kind.value != hd.kind.value {
                self.push(
                    Change::of(
                        ChangeKind::DestinationKindChanged,
                        &subject,
                        Impact::NeedsReview,
                        "the data goes to a different kind of system; check who operates it",
                    )
                    .values(
                        bd.kind.value.key().to_owned(),
                        hd.kind.value.key().to_owned(),
                    ),
                );
            }
        }
        for bd in &self.base.destinations {
            if self.head.destination(&bd.id).is_none() {
                let lost: Vec<String> = events_routed_to(self.base, bd)
                    .map(|e| format!("no longer receives \"{}\"", e.name.value))
                    .collect();
                self.push(
                    Change::of(
                        ChangeKind::DestinationRemoved,
                        &Subject::Destination {
                            id: bd.id.value.clone(),
                        },
                        Impact::Low,
                        "fewer recipients; ask the recipient to delete what it holds if that is \
                         the intent",
                    )
                    .breaking(true)
                    .values(destination_summary(bd), None)
                    .notes(lost),
                );
            }
        }
    }

    fn events(&mut self) {
        for he in &self.head.events {
            let subject = Subject::Event {
                id: he.id.value.clone(),
                name: he.name.value.clone(),
            };
            match self.base.event(&he.id) {
                None => self.event_added(he, &subject),
                Some(be) => self.event_changes(be, he, &subject),
            }
        }
        for be in &self.base.events {
            if self.head.event(&be.id).is_none() {
                self.push(
                    Change::of(
                        ChangeKind::EventRemoved,
                        &Subject::Event {
                            id: be.id.value.clone(),
                            name: be.name.value.clone(),
                        },
                        Impact::None,
                        "less data is collected; reports built on this event stop receiving it",
                    )
                    .breaking(true)
                    .values(purposes_of(be), None),
                );
            }
        }
    }

    fn event_added(&mut self, he: &Event, subject: &Subject) {
        let routes: Vec<&Destination> = self.head.routes(he).collect();
        let special: Vec<&str> = names_with(he, |s| s == Sensitivity::Special);
        let personal: Vec<&str> = names_with(he, |s| s == Sensitivity::Personal);
        let third: Vec<&str> = routes
            .iter()
            .filter(|d| d.third_party.value)
            .map(|d| d.id.value.as_str())
            .collect();
        let personal_to_third = !third.is_empty()
            && he.properties.iter().any(|p| {
                p.sensitivity.value >= Sensitivity::Personal
                    && p.transform.value != Transform::Redact
            });
        let (impact, reason) = if !special.is_empty() {
            (
                Impact::High,
                format!(
                    "collects special-category data (GDPR Art. 9): {}",
                    quoted(&special)
                ),
            )
        } else if personal_to_third {
            (
                Impact::High,
                format!(
                    "collects personal data ({}) and sends it to a third party ({})",
                    quoted(&personal),
                    list(&third)
                ),
            )
        } else if !personal.is_empty() {
            (
                Impact::NeedsReview,
                format!("collects personal data: {}", quoted(&personal)),
            )
        } else {
            (
                Impact::Low,
                "a new event with no personal data declared; check the declarations are right"
                    .to_owned(),
            )
        };
        let notes = routes
            .iter()
            .map(|d| format!("sent to `{}` ({})", d.id.value, party(d.third_party.value)))
            .collect();
        self.push(
            Change::of(ChangeKind::EventAdded, subject, impact, reason)
                .values(None, purposes_of(he))
                .notes(notes),
        );
    }

    fn event_changes(&mut self, be: &Event, he: &Event, subject: &Subject) {
        if be.name.value != he.name.value {
            self.push(
                Change::of(
                    ChangeKind::WireNameRenamed,
                    subject,
                    Impact::None,
                    "the same data under a new name; reports keyed on the old name stop matching",
                )
                .breaking(true)
                .values(be.name.value.clone(), he.name.value.clone()),
            );
        }
        let (bset, hset) = (ids(&be.purposes.value), ids(&he.purposes.value));
        let added: Vec<&str> = hset.iter().copied().filter(|p| !bset.contains(p)).collect();
        let removed: Vec<&str> = bset.iter().copied().filter(|p| !hset.contains(p)).collect();
        let broutes: Vec<&str> = self.base.routes(be).map(|d| d.id.value.as_str()).collect();
        let hroutes: Vec<&Destination> = self.head.routes(he).collect();
        let gained: Vec<&Destination> = hroutes
            .iter()
            .copied()
            .filter(|d| !broutes.contains(&d.id.value.as_str()))
            .collect();
        let lost: Vec<&str> = broutes
            .iter()
            .copied()
            .filter(|id| !hroutes.iter().any(|d| d.id.value == *id))
            .collect();
        if !added.is_empty() {
            let risky: Vec<&str> = added
                .iter()
                .copied()
                .filter(|id| self.head.purpose(id).is_some_and(is_marketing))
                .collect();
            let (impact, reason) = if !risky.is_empty() {
                (
                    Impact::High,
                    format!(
                        "this event's data is now also used for {}, which sells, shares or \
                         markets with it",
                        list(&risky)
                    ),
                )
            } else {
                (
                    Impact::NeedsReview,
                    format!(
                        "this event's data is now also used for {}; users must be told, and \
                         asked where the basis is consent",
                        list(&added)
                    ),
                )
            };
            let mut notes: Vec<String> = gained
                .iter()
                .map(|d| {
                    format!(
                        "now sent to `{}` ({})",
                        d.id.value,
                        party(d.third_party.value)
                    )
                })
                .collect();
            if removed.is_empty() {
                notes.extend(lost.iter().map(|d| format!("no longer sent to `{d}`")));
            }
            self.push(
                Change::of(ChangeKind::PurposesWidened, subject, impact, reason)
                    .breaking(removed.is_empty() && !lost.is_empty())
                    .values(list(&bset), list(&hset))
                    .notes(notes),
            );
        }
        if !removed.is_empty() {
            let mut notes: Vec<String> = lost
                .iter()
                .map(|d| format!("no longer sent to `{d}`"))
                .collect();
            if added.is_empty() {
                notes.extend(gained.iter().map(|d| {
                    format!(
                        "now sent to `{}` ({})",
                        d.id.value,
                        party(d.third_party.value)
                    )
                }));
            }
            self.push(
                Change::of(
                    ChangeKind::PurposesNarrowed,
                    subject,
                    Impact::Low,
                    format!("this event's data is no longer used for {}", list(&removed)),
                )
                .breaking(!lost.is_empty())
                .values(list(&bset), list(&hset))
                .notes(notes),
            );
        }

        for hp in &he.properties {
            let subject = property_subject(he, hp);
            match be.property(&hp.id) {
                None => self.property_added(he, hp, &subject),
                Some(bp) => self.property_changes(bp, hp, &subject),
            }
        }
        for bp in &be.properties {
            if he.property(&bp.id).is_none() {
                self.push(
                    Change::of(
                        ChangeKind::PropertyRemoved,
                        &property_subject(he, bp),
                        Impact::None,
                        "less data is collected; reports using this property lose it",
                    )
                    .breaking(true)
                    .values(property_summary(bp), None),
                );
            }
        }
    }

    fn property_added(&mut self, he: &Event, hp: &Property, subject: &Subject) {
        let third: Vec<&str> = self
            .head
            .routes(he)
            .filter(|d| d.third_party.value)
            .map(|d| d.id.value.as_str())
            .collect();
        let (impact, reason) = match hp.sensitivity.value {
            Sensitivity::Special => (
                Impact::High,
                "special-category data (GDPR Art. 9): needs explicit consent and an Art. 9(2) \
                 ground"
                    .to_owned(),
            ),
            Sensitivity::Personal if hp.transform.value == Transform::None => (
                Impact::High,
                "personal data sent as is, without pseudonymization or minimization".to_owned(),
            ),
            Sensitivity::Personal
                if !third.is_empty() && hp.transform.value != Transform::Redact =>
            {
                (
                    Impact::High,
                    format!(
                        "personal data ({}) sent to a third party ({})",
                        hp.transform.value.key(),
                        list(&third)
                    ),
                )
            }
            Sensitivity::Personal => (
                Impact::NeedsReview,
                format!("personal data, protected by `{}`", hp.transform.value.key()),
            ),
            Sensitivity::Internal | Sensitivity::Public => (
                Impact::Low,
                "declared as not personal data; check that it cannot identify anyone".to_owned(),
            ),
        };
        self.push(
            Change::of(ChangeKind::PropertyAdded, subject, impact, reason)
                .values(None, property_summary(hp))
                .notes(justification(hp)),
        );
    }

    fn property_changes(&mut self, bp: &Property, hp: &Property, subject: &Subject) {
        if bp.name.value != hp.name.value {
            self.push(
                Change::of(
                    ChangeKind::WireNameRenamed,
                    subject,
                    Impact::None,
                    "the same value under a new key; reports using the old key stop matching",
                )
                .breaking(true)
                .values(bp.name.value.clone(), hp.name.value.clone()),
            );
        }
        self.type_changes(bp, hp, subject);
        if bp.required.value != hp.required.value {
            let (breaking, reason) = if hp.required.value {
                (false, "now always present")
            } else {
                (
                    true,
                    "may now be missing; reports that count on it see gaps",
                )
            };
            self.push(
                Change::of(ChangeKind::RequiredChanged, subject, Impact::None, reason)
                    .breaking(breaking)
                    .values(required(bp.required.value), required(hp.required.value)),
            );
        }
        self.sensitivity_changes(bp, hp, subject);
        let (bc, hc) = (
            bp.category.as_ref().map(|c| c.value.as_str()),
            hp.category.as_ref().map(|c| c.value.as_str()),
        );
        if bc != hc {
            let (bs, hs) = (bp.sensitivity.value, hp.sensitivity.value);
            let what = match (bc, hc) {
                (None, Some(h)) => format!("now declared as `{h}`"),
                (Some(b), None) => format!("no longer declared as `{b}`"),
                (Some(b), Some(h)) => format!("declared as `{h}` instead of `{b}`"),
                (None, None) => String::new(),
            };
            let (impact, why) = if hs == Sensitivity::Special && bs != Sensitivity::Special {
                (
                    Impact::High,
                    "special-category data; policies and consent must cover it",
                )
            } else if hs == Sensitivity::Special {
                (
                    Impact::NeedsReview,
                    "still special-category data; check the Art. 9(2) ground still fits",
                )
            } else if hs.max(bs) >= Sensitivity::Personal {
                (
                    Impact::NeedsReview,
                    "policies and the Art. 30 record match on categories",
                )
            } else {
                (Impact::Low, "not declared as personal data")
            };
            self.push(
                Change::of(
                    ChangeKind::CategoryChanged,
                    subject,
                    impact,
                    format!("{what}: {why}"),
                )
                .values(
                    bc.unwrap_or("(none)").to_owned(),
                    hc.unwrap_or("(none)").to_owned(),
                ),
            );
        }
        self.transform_changes(bp, hp, subject);
        self.property_purpose_changes(bp, hp, subject);
    }

    fn type_changes(&mut self, bp: &Property, hp: &Property, subject: &Subject) {
        let (bt, ht) = (&bp.ty.value, &hp.ty.value);
        if let (PropertyType::Enum { values: bv }, PropertyType::Enum { values: hv }) = (bt, ht) {
            let bv: Vec<&str> = ids(bv);
            let hv: Vec<&str> = ids(hv);
            if bv != hv {
                let added: Vec<&str> = hv.iter().copied().filter(|v| !bv.contains(v)).collect();
                let removed: Vec<&str> = bv.iter().copied().filter(|v| !hv.contains(v)).collect();
                let reason = match (added.is_empty(), removed.is_empty()) {
                    (false, true) => format!("new values {}", quoted(&added)),
                    (true, false) => format!(
                        "values {} are no longer sent; reports filtering on them go empty",
                        quoted(&removed)
                    ),
                    (false, false) => format!(
                        "values {} replaced by {}; reports filtering on the old ones go empty",
                        quoted(&removed),
                        quoted(&added)
                    ),
                    (true, true) => "the values were reordered".to_owned(),
                };
                self.push(
                    Change::of(ChangeKind::EnumValuesChanged, subject, Impact::None, reason)
                        .breaking(!removed.is_empty())
                        .values(quoted(&bv), quoted(&hv)),
                );
            }
            return;
        }
        if !same_type(bt, ht) {
            let to_text = is_text(ht) && !is_text(bt);
            let (impact, reason) = if to_text {
                (
                    Impact::NeedsReview,
                    "now free text, which can carry personal data the old type could not",
                )
            } else {
                (
                    Impact::None,
                    "values have a new type; consumers parsing the old type break",
                )
            };
            self.push(
                Change::of(ChangeKind::TypeChanged, subject, impact, reason)
                    .breaking(true)
                    .values(type_detail(bt), type_detail(ht)),
            );
        }
    }

    fn sensitivity_changes(&mut self, bp: &Property, hp: &Property, subject: &Subject) {
        let (bs, hs) = (bp.sensitivity.value, hp.sensitivity.value);
        if bs == hs {
            return;
        }
        let values = (bs.key().to_owned(), hs.key().to_owned());
        if hs > bs {
            let (impact, reason) = match hs {
                Sensitivity::Special => (
                    Impact::High,
                    "now special-category data: needs explicit consent, an Art. 9(2) ground and \
                     no marketing use",
                ),
                Sensitivity::Personal => (
                    Impact::NeedsReview,
                    "now declared personal data: the notice and the Art. 30 record must list it",
                ),
                Sensitivity::Internal | Sensitivity::Public => {
                    (Impact::Low, "now treated as internal rather than public")
                }
            };
            self.push(
                Change::of(ChangeKind::SensitivityRaised, subject, impact, reason)
                    .values(values.0, values.1),
            );
        } else {
            let (impact, reason) = if bs >= Sensitivity::Personal {
                (
                    Impact::High,
                    if hs == Sensitivity::Personal {
                        "no longer treated as special-category data: explicit consent and the \
                         Art. 9 checks stop applying"
                    } else {
                        "no longer treated as personal data: transform, consent and notice \
                         requirements stop applying"
                    },
                )
            } else {
                (Impact::Low, "now treated as public rather than internal")
            };
            self.push(
                Change::of(ChangeKind::SensitivityLowered, subject, impact, reason)
                    .values(values.0, values.1),
            );
        }
    }

    fn transform_changes(&mut self, bp: &Property, hp: &Property, subject: &Subject) {
        let (bt, ht) = (&bp.transform.value, &hp.transform.value);
        if bt == ht {
            return;
        }
        let personal = hp.sensitivity.value >= Sensitivity::Personal
            || bp.sensitivity.value >= Sensitivity::Personal;
        let values = (bt.to_string(), ht.to_string());
        let (kind, impact, reason) = match strength(bt, ht) {
            Some(std::cmp::Ordering::Less) => (
                ChangeKind::TransformWeakened,
                if personal { Impact::High } else { Impact::Low },
                if matches!(ht, Transform::None) {
                    "the value now leaves the process as it is".to_owned()
                } else {
                    format!(
                        "the value is now less protected ({} → {})",
                        values.0, values.1
                    )
                },
            ),
            Some(_) => (
                ChangeKind::TransformStrengthened,
                Impact::Low,
                format!(
                    "the value is now better protected ({} → {})",
                    values.0, values.1
                ),
            ),
            None => (
                ChangeKind::TransformChanged,
                if personal {
                    Impact::NeedsReview
                } else {
                    Impact::Low
                },
                "protected in a different way; check it still fits the data".to_owned(),
            ),
        };
        let mut notes = vec!["the form of the value sent changes".to_owned()];
        notes.extend(justification(hp));
        self.push(
            Change::of(kind, subject, impact, reason)
                .breaking(true)
                .values(values.0, values.1)
                .notes(notes),
        );
    }

    fn property_purpose_changes(&mut self, bp: &Property, hp: &Property, subject: &Subject) {
        let (bset, hset) = (
            bp.purposes.as_ref().map(|p| ids(&p.value)),
            hp.purposes.as_ref().map(|p| ids(&p.value)),
        );
        if bset == hset {
            return;
        }
        let label = |s: &Option<Vec<&str>>| match s {
            Some(s) => list(s),
            None => "any purpose of its event".to_owned(),
        };
        let widened = match (&bset, &hset) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(b), Some(h)) => h.iter().any(|p| !b.contains(p)),
        };
        let narrowed = match (&bset, &hset) {
            (None, _) => hset.is_some(),
            (Some(_), None) => false,
            (Some(b), Some(h)) => b.iter().any(|p| !h.contains(p)),
        };
        let values = (label(&bset), label(&hset));
        if widened {
            self.push(
                Change::of(
                    ChangeKind::PurposesWidened,
                    subject,
                    Impact::NeedsReview,
                    "the purpose restriction on this property was loosened",
                )
                .values(values.0.clone(), values.1.clone()),
            );
        }
        if narrowed {
            self.push(
                Change::of(
                    ChangeKind::PurposesNarrowed,
                    subject,
                    Impact::Low,
                    "this property may be collected for fewer purposes",
                )
                .values(values.0, values.1),
            );
        }
    }

    fn policies(&mut self) {
        for hp in &self.head.policies {
            let subject = Subject::Policy {
                name: hp.name.value.clone(),
            };
            match self
                .base
                .policies
                .iter()
                .find(|p| p.name.value == hp.name.value)
            {
                None => self.push(
                    Change::of(
                        ChangeKind::PolicyAdded,
                        &subject,
                        Impact::Low,
                        "a new rule the plan must satisfy",
                    )
                    .values(None, policy_summary(hp)),
                ),
                Some(bp) if policy_summary(bp) != policy_summary(hp) => self.push(
                    Change::of(
                        ChangeKind::PolicyChanged,
                        &subject,
                        Impact::NeedsReview,
                        "the rule now covers different data or uses; check it still protects \
                         what it was written for",
                    )
                    .values(policy_summary(bp), policy_summary(hp)),
                ),
                Some(_) => {}
            }
        }
        for bp in &self.base.policies {
            if !self
                .head
                .policies
                .iter()
                .any(|p| p.name.value == bp.name.value)
            {
                self.push(
                    Change::of(
                        ChangeKind::PolicyRemoved,
                        &Subject::Policy {
                            name: bp.name.value.clone(),
                        },
                        Impact::High,
                        "a rule that kept data from some uses is gone",
                    )
                    .values(policy_summary(bp), None),
                );
            }
        }
    }
}

/// Whether a purpose markets, sells or shares: the uses reviewers watch most closely.
fn is_marketing(p: &Purpose) -> bool {
    p.sale_or_share.value
        || p.data_use.value == "marketing"
        || p.data_use.value.starts_with("marketing.")
}

fn marketing_phrase(p: &Purpose) -> &'static str {
    if p.sale_or_share.value {
        "sells or shares it"
    } else {
        "markets with it"
    }
}

fn retention(days: Option<&Spanned<u32>>) -> String {
    match days {
        Some(d) if d.value == 1 => "1 day".to_owned(),
        Some(d) => format!("{} days", d.value),
        None => "no limit stated".to_owned(),
    }
}

fn party(third: bool) -> &'static str {
    if third { "third party" } else { "first party" }
}

fn required(yes: bool) -> String {
    if yes { "required" } else { "optional" }.to_owned()
}

fn ids(v: &[Spanned<String>]) -> Vec<&str> {
    v.iter().map(|s| s.value.as_str()).collect()
}

fn list(v: &[&str]) -> String {
    if v.is_empty() {
        return "(none)".to_owned();
    }
    v.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn quoted(v: &[&str]) -> String {
    v.iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn purposes_of(e: &Event) -> String {
    format!("for {}", list(&ids(&e.purposes.value)))
}

fn names_with(e: &Event, pick: impl Fn(Sensitivity) -> bool) -> Vec<&str> {
    e.properties
        .iter()
        .filter(|p| pick(p.sensitivity.value))
        .map(|p| p.name.value.as_str())
        .collect()
}

fn events_routed_to<'a>(plan: &'a Plan, d: &'a Destination) -> impl Iterator<Item = &'a Event> {
    plan.events
        .iter()
        .filter(move |e| plan.routes(e).any(|r| r.id.value == d.id.value))
}

/// Wire names of the events routed to `hd` in `head` that were not routed to `bd` in `base`.
fn newly_routed(base: &Plan, bd: &Destination, head: &Plan, hd: &Destination) -> Vec<String> {
    events_routed_to(head, hd)
        .filter(|he| {
            !base
                .event(&he.id)
                .is_some_and(|be| base.routes(be).any(|r| r.id.value == bd.id.value))
        })
        .map(|e| e.name.value.clone())
        .collect()
}

/// `receives "Search Performed"`, naming the properties a third party does not get.
fn receives(e: &Event, d: &Destination) -> String {
    let withheld: Vec<&str> = e
        .properties
        .iter()
        .filter(|p| !p.audience().admits(d.third_party.value))
        .map(|p| p.name.value.as_str())
        .collect();
    if withheld.is_empty() {
        format!("receives \"{}\"", e.name.value)
    } else {
        format!(
            "receives \"{}\" without {} (redact: first party only)",
            e.name.value,
            quoted(&withheld)
        )
    }
}

fn destination_summary(d: &Destination) -> String {
    format!(
        "{}, {}, for {}",
        d.kind.value.key(),
        party(d.third_party.value),
        list(&ids(&d.purposes.value))
    )
}

fn property_subject(e: &Event, p: &Property) -> Subject {
    Subject::Property {
        event: e.id.value.clone(),
        event_name: e.name.value.clone(),
        id: p.id.value.clone(),
        name: p.name.value.clone(),
    }
}

/// The plan's reason for sending personal data as is, for the reviewer to judge.
fn justification(p: &Property) -> Vec<String> {
    match (&p.transform.value, &p.justification) {
        (Transform::None, Some(j)) if p.sensitivity.value >= Sensitivity::Personal => {
            vec![format!("justification given: \"{}\"", j.value)]
        }
        _ => Vec::new(),
    }
}

fn property_summary(p: &Property) -> String {
    let mut s = format!("{}, {}", p.ty.value, p.sensitivity.value);
    if let Some(c) = &p.category {
        s.push_str(&format!(", {}", c.value));
    }
    if p.transform.value != Transform::None {
        s.push_str(&format!(", {}", p.transform.value));
    }
    if !p.required.value {
        s.push_str(", optional");
    }
    s
}

fn same_type(a: &PropertyType, b: &PropertyType) -> bool {
    match (a, b) {
        (PropertyType::Enum { values: x }, PropertyType::Enum { values: y }) => ids(x) == ids(y),
        (PropertyType::List { items: x }, PropertyType::List { items: y }) => same_type(x, y),
        _ => {
            a.key() == b.key()
                && !matches!(a, PropertyType::Enum { .. } | PropertyType::List { .. })
        }
    }
}

fn is_text(t: &PropertyType) -> bool {
    match t {
        PropertyType::String => true,
        PropertyType::List { items } => is_text(items),
        _ => false,
    }
}

/// A type with its enum values: `enum ("free", "pro")`.
fn type_detail(t: &PropertyType) -> String {
    match t {
        PropertyType::Enum { values } => format!("enum ({})", quoted(&ids(values))),
        PropertyType::List { items } => format!("list of {}", type_detail(items)),
        other => other.to_string(),
    }
}

/// Compares how much two transforms protect a value, when that is clear. `None` means they
/// protect in ways that do not compare (hashing versus truncating, say).
///
/// Clear cases: anything protects more than `none`; coarser time granularity protects more;
/// bucket bounds that are a subset of the others (fewer, wider buckets) protect more.
fn strength(before: &Transform, after: &Transform) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (before, after) {
        (Transform::None, Transform::None) => Some(Equal),
        (Transform::None, _) => Some(Greater),
        (_, Transform::None) => Some(Less),
        (Transform::Coarsen { to: b }, Transform::Coarsen { to: a }) => Some(a.cmp(b)),
        (Transform::Bucket { buckets: b }, Transform::Bucket { buckets: a }) => {
            let a_in_b = a.iter().all(|x| b.contains(x));
            let b_in_a = b.iter().all(|x| a.contains(x));
            match (a_in_b, b_in_a) {
                (true, true) => Some(Equal),
                (true, false) => Some(Greater),
                (false, true) => Some(Less),
                (false, false) => None,
            }
        }
        _ => None,
    }
}

fn rule_summary(r: &RuleSet) -> String {
    format!("{} of {}", r.matches.value.key(), list(&ids(&r.values)))
}

fn policy_summary(p: &Policy) -> String {
    format!(
        "deny categories {} with data uses {}",
        rule_summary(&p.categories),
        rule_summary(&p.data_uses)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{
        Constraints, DestinationKind, Granularity, Identity, LegalBasis, Match, Policy, RuleSet,
    };
    use crate::source::Span;

    fn s<T>(v: T) -> Spanned<T> {
        Spanned::new(v, Span::default())
    }

    fn strs(v: &[&str]) -> Vec<Spanned<String>> {
        v.iter().map(|x| s((*x).to_owned())).collect()
    }

    fn purpose(id: &str, basis: LegalBasis, data_use: &str) -> Purpose {
        Purpose {
            id: s(id.to_owned()),
            description: s(format!("Why we use {id}.")),
            basis: s(basis),
            data_use: s(data_use.to_owned()),
            retention_days: Some(s(30)),
            sale_or_share: s(false),
            span: Span::default(),
        }
    }

    fn destination(id: &str, purposes: &[&str], third_party: bool) -> Destination {
        Destination {
            id: s(id.to_owned()),
            kind: s(DestinationKind::Ndjson),
            purposes: s(strs(purposes)),
            description: None,
            third_party: s(third_party),
            span: Span::default(),
        }
    }

    fn prop(id: &str, ty: PropertyType, sensitivity: Sensitivity) -> Property {
        Property {
            id: s(id.to_owned()),
            name: s(id.to_owned()),
            ty: s(ty),
            sensitivity: s(sensitivity),
            category: None,
            transform: s(Transform::None),
            purposes: None,
            justification: None,
            special_basis: None,
            required: s(true),
            description: None,
            constraints: Constraints::default(),
            shared: None,
            span: Span::default(),
        }
    }

    fn event(id: &str, purposes: &[&str], properties: Vec<Property>) -> Event {
        Event {
            id: s(id.to_owned()),
            name: s(id.to_owned()),
            description: None,
            purposes: s(strs(purposes)),
            properties,
            span: Span::default(),
        }
    }

    /// analytics (consent) and ads (consent, marketing); warehouse (first party, analytics),
    /// adtech (third party, ads); one event `viewed` with a public `page` property.
    fn base() -> Plan {
        Plan {
            name: s("shop".to_owned()),
            version: s(1),
            owner: None,
            identity: Identity {
                transform: s(IdentityTransform::Hmac),
                justification: None,
            },
            purposes: vec![
                purpose("analytics", LegalBasis::Consent, "analytics.reporting"),
                purpose("ads", LegalBasis::Consent, "marketing.advertising"),
            ],
            destinations: vec![
                destination("warehouse", &["analytics"], false),
                destination("adtech", &["ads"], true),
            ],
            properties: Vec::new(),
            events: vec![event(
                "viewed",
                &["analytics"],
                vec![prop("page", PropertyType::String, Sensitivity::Public)],
            )],
            policies: vec![Policy {
                name: s("no health for ads".to_owned()),
                categories: RuleSet {
                    values: strs(&["user.health_and_medical"]),
                    matches: s(Match::Any),
                },
                data_uses: RuleSet {
                    values: strs(&["marketing"]),
                    matches: s(Match::Any),
                },
                span: Span::default(),
            }],
            taxonomy: Vec::new(),
        }
    }

    fn kinds(d: &PlanDiff) -> Vec<ChangeKind> {
        d.changes.iter().map(|c| c.kind).collect()
    }

    fn only(d: &PlanDiff, kind: ChangeKind) -> &Change {
        let found: Vec<&Change> = d.changes.iter().filter(|c| c.kind == kind).collect();
        assert_eq!(found.len(), 1, "{kind:?} in {:#?}", d.changes);
        found[0]
    }

    fn page(plan: &mut Plan) -> &mut Property {
        &mut plan.events[0].properties[0]
    }

    #[test]
    fn identical_plans_have_no_changes() {
        let d = diff(&base(), &base());
        assert!(d.changes.is_empty());
        assert_eq!(d.max_impact(), Impact::None);
    }

    #[test]
    fn spans_do_not_count_as_changes() {
        let mut head = base();
        head.events[0].purposes.span = Span::new(3, 9);
        head.events[0].properties[0].name.span = Span::new(10, 12);
        assert!(diff(&base(), &head).changes.is_empty());
    }

    #[test]
    fn removed_event_is_breaking_and_unbumped_version_is_reported_first() {
        let mut head = base();
        head.events.clear();
        let d = diff(&base(), &head);
        assert_eq!(
            kinds(&d),
            [ChangeKind::VersionNotBumped, ChangeKind::EventRemoved]
        );
        assert!(d.changes[1].breaking);
        assert!(d.version_not_bumped());
        assert!(
            d.changes[0].reason.contains("set it to 2"),
            "{}",
            d.changes[0].reason
        );

        head.version = s(2);
        let d = diff(&base(), &head);
        assert_eq!(kinds(&d), [ChangeKind::EventRemoved]);
        assert!(!d.version_not_bumped());
    }

    #[test]
    fn added_event_with_personal_data_sent_to_a_third_party_is_high() {
        let mut head = base();
        let mut email = prop("email", PropertyType::String, Sensitivity::Personal);
        email.transform = s(Transform::Hmac);
        head.events
            .push(event("bought", &["analytics", "ads"], vec![email]));
        let d = diff(&base(), &head);
        let c = only(&d, ChangeKind::EventAdded);
        assert_eq!(c.impact, Impact::High);
        assert!(!c.breaking);
        assert!(c.reason.contains("third party (`adtech`)"), "{}", c.reason);
        assert_eq!(
            c.notes,
            [
                "sent to `warehouse` (first party)",
                "sent to `adtech` (third party)"
            ]
        );
        // Its properties are part of the event, not separate changes.
        assert_eq!(kinds(&d), [ChangeKind::EventAdded]);
    }

    #[test]
    fn added_event_without_personal_data_is_low() {
        let mut head = base();
        head.events.push(event(
            "clicked",
            &["analytics"],
            vec![prop("button", PropertyType::String, Sensitivity::Internal)],
        ));
        assert_eq!(
            only(&diff(&base(), &head), ChangeKind::EventAdded).impact,
            Impact::Low
        );
    }

    #[test]
    fn property_added_impact_follows_sensitivity_and_transform() {
        let cases = [
            (Sensitivity::Public, Transform::None, Impact::Low),
            (Sensitivity::Personal, Transform::Hmac, Impact::NeedsReview),
            (Sensitivity::Personal, Transform::None, Impact::High),
            (Sensitivity::Special, Transform::Redact, Impact::High),
        ];
        for (sens, transform, impact) in cases {
            let mut head = base();
            let mut p = prop("extra", PropertyType::String, sens);
            p.transform = s(transform);
            head.events[0].properties.push(p);
            let d = diff(&base(), &head);
            let c = only(&d, ChangeKind::PropertyAdded);
            assert_eq!(c.impact, impact, "{sens:?}");
            assert!(!c.breaking);
            assert_eq!(c.subject.path(), "events.viewed.properties.extra");
        }
    }

    #[test]
    fn removed_property_is_breaking() {
        let mut head = base();
        head.events[0].properties.clear();
        let d = diff(&base(), &head);
        let c = only(&d, ChangeKind::PropertyRemoved);
        assert!(c.breaking);
        assert_eq!(c.before.as_deref(), Some("string, public"));
    }

    #[test]
    fn wire_name_renames_are_breaking_for_events_and_properties() {
        let mut head = base();
        head.version = s(2);
        head.events[0].name = s("Page Viewed".to_owned());
        page(&mut head).name = s("Page".to_owned());
        let d = diff(&base(), &head);
        assert_eq!(
            kinds(&d),
            [ChangeKind::WireNameRenamed, ChangeKind::WireNameRenamed]
        );
        assert!(
            d.changes
                .iter()
                .all(|c| c.breaking && c.impact == Impact::None)
        );
        assert_eq!(d.changes[1].before.as_deref(), Some("page"));
        assert_eq!(d.changes[1].after.as_deref(), Some("Page"));
    }

    #[test]
    fn type_change_is_breaking_and_to_free_text_needs_review() {
        let mut b = base();
        page(&mut b).ty = s(PropertyType::Integer);
        let mut head = base();
        page(&mut head).ty = s(PropertyType::Number);
        let c = only(&diff(&b, &head), ChangeKind::TypeChanged).clone();
        assert!(c.breaking);
        assert_eq!(c.impact, Impact::None);

        let c = only(&diff(&b, &base()), ChangeKind::TypeChanged).clone();
        assert_eq!(c.impact, Impact::NeedsReview);
        assert_eq!(
            (c.before.as_deref(), c.after.as_deref()),
            (Some("integer"), Some("string"))
        );
    }

    #[test]
    fn list_item_type_change_is_a_type_change() {
        let mut b = base();
        page(&mut b).ty = s(PropertyType::List {
            items: Box::new(PropertyType::Integer),
        });
        let mut h = base();
        page(&mut h).ty = s(PropertyType::List {
            items: Box::new(PropertyType::String),
        });
        let c = only(&diff(&b, &h), ChangeKind::TypeChanged).clone();
        assert_eq!(c.after.as_deref(), Some("list of string"));
    }

    #[test]
    fn enum_values_removed_is_breaking_added_is_not() {
        let mut b = base();
        page(&mut b).ty = s(PropertyType::Enum {
            values: strs(&["a", "b"]),
        });
        let mut h = b.clone();
        page(&mut h).ty = s(PropertyType::Enum {
            values: strs(&["a", "b", "c"]),
        });
        let c = only(&diff(&b, &h), ChangeKind::EnumValuesChanged).clone();
        assert!(!c.breaking);
        let c = only(&diff(&h, &b), ChangeKind::EnumValuesChanged).clone();
        assert!(c.breaking);
        assert!(c.reason.contains("\"c\""), "{}", c.reason);
    }

    #[test]
    fn becoming_optional_is_breaking_becoming_required_is_not() {
        let mut h = base();
        page(&mut h).required = s(false);
        assert!(only(&diff(&base(), &h), ChangeKind::RequiredChanged).breaking);
        assert!(!only(&diff(&h, &base()), ChangeKind::RequiredChanged).breaking);
    }

    #[test]
    fn sensitivity_lowered_from_personal_is_high_raised_to_personal_needs_review() {
        let mut b = base();
        page(&mut b).sensitivity = s(Sensitivity::Personal);
        let c = only(&diff(&b, &base()), ChangeKind::SensitivityLowered).clone();
        assert_eq!(c.impact, Impact::High);
        let c = only(&diff(&base(), &b), ChangeKind::SensitivityRaised).clone();
        assert_eq!(c.impact, Impact::NeedsReview);
        assert!(!c.breaking);
    }

    #[test]
    fn category_change_to_special_is_high() {
        let mut b = base();
        page(&mut b).sensitivity = s(Sensitivity::Personal);
        page(&mut b).category = Some(s("user.behavior".to_owned()));
        let mut h = b.clone();
        page(&mut h).sensitivity = s(Sensitivity::Special);
        page(&mut h).category = Some(s("user.health_and_medical".to_owned()));
        let d = diff(&b, &h);
        assert_eq!(only(&d, ChangeKind::CategoryChanged).impact, Impact::High);
        assert_eq!(only(&d, ChangeKind::SensitivityRaised).impact, Impact::High);
    }

    #[test]
    fn transforms_compare_by_protection() {
        let mut b = base();
        page(&mut b).sensitivity = s(Sensitivity::Personal);
        page(&mut b).transform = s(Transform::Hmac);
        let mut h = b.clone();
        page(&mut h).transform = s(Transform::None);
        let c = only(&diff(&b, &h), ChangeKind::TransformWeakened).clone();
        assert_eq!(c.impact, Impact::High);
        assert!(c.breaking);
        let c = only(&diff(&h, &b), ChangeKind::TransformStrengthened).clone();
        assert_eq!(c.impact, Impact::Low);

        page(&mut h).transform = s(Transform::Redact);
        assert_eq!(
            only(&diff(&b, &h), ChangeKind::TransformChanged).impact,
            Impact::NeedsReview
        );

        page(&mut b).transform = s(Transform::Coarsen {
            to: Granularity::Hour,
        });
        page(&mut h).transform = s(Transform::Coarsen {
            to: Granularity::Month,
        });
        let c = only(&diff(&b, &h), ChangeKind::TransformStrengthened).clone();
        assert_eq!(c.after.as_deref(), Some("coarsen to month"));

        page(&mut b).transform = s(Transform::Bucket {
            buckets: vec![18.0, 25.0, 35.0],
        });
        page(&mut h).transform = s(Transform::Bucket {
            buckets: vec![18.0, 35.0],
        });
        assert!(d_has(&diff(&b, &h), ChangeKind::TransformStrengthened));
        assert!(d_has(&diff(&h, &b), ChangeKind::TransformWeakened));
    }

    fn d_has(d: &PlanDiff, kind: ChangeKind) -> bool {
        d.changes.iter().any(|c| c.kind == kind)
    }

    #[test]
    fn event_purposes_widened_to_marketing_is_high_and_lists_new_destinations() {
        let mut h = base();
        h.events[0].purposes = s(strs(&["analytics", "ads"]));
        let d = diff(&base(), &h);
        let c = only(&d, ChangeKind::PurposesWidened);
        assert_eq!(c.impact, Impact::High);
        assert!(!c.breaking);
        assert_eq!(c.notes, ["now sent to `adtech` (third party)"]);

        let c = only(&diff(&h, &base()), ChangeKind::PurposesNarrowed).clone();
        assert_eq!(c.impact, Impact::Low);
        assert!(c.breaking, "adtech stops receiving the event");
        assert_eq!(c.notes, ["no longer sent to `adtech`"]);
    }

    #[test]
    fn property_purpose_restriction_loosened_needs_review() {
        let mut b = base();
        page(&mut b).purposes = Some(s(strs(&["analytics"])));
        let c = only(&diff(&b, &base()), ChangeKind::PurposesWidened).clone();
        assert_eq!(c.impact, Impact::NeedsReview);
        assert_eq!(c.after.as_deref(), Some("any purpose of its event"));
        assert!(d_has(&diff(&base(), &b), ChangeKind::PurposesNarrowed));
    }

    #[test]
    fn destination_added_third_party_is_high_and_lists_events() {
        let mut h = base();
        h.destinations
            .push(destination("mixpanel", &["analytics"], true));
        let d = diff(&base(), &h);
        let c = only(&d, ChangeKind::DestinationAdded);
        assert_eq!(c.impact, Impact::High);
        assert_eq!(c.notes, ["receives \"viewed\""]);

        let d = diff(&h, &base());
        let c = only(&d, ChangeKind::DestinationRemoved);
        assert!(c.breaking);
        assert_eq!(c.impact, Impact::Low);
    }

    #[test]
    fn destination_purposes_widened_and_narrowed() {
        let mut h = base();
        h.destinations[1].purposes = s(strs(&["ads", "analytics"]));
        let c = only(&diff(&base(), &h), ChangeKind::DestinationPurposesWidened).clone();
        assert_eq!(c.impact, Impact::High, "adtech is a third party");

        // warehouse used for analytics and ads receives only events with both purposes; used for
        // analytics alone it receives `viewed` too.
        let mut b = base();
        b.destinations[0].purposes = s(strs(&["analytics", "ads"]));
        let c = only(&diff(&b, &base()), ChangeKind::DestinationPurposesNarrowed).clone();
        assert_eq!(c.impact, Impact::NeedsReview);
        assert_eq!(c.notes, ["now receives \"viewed\""]);
    }

    #[test]
    fn third_party_flag_and_kind() {
        let mut h = base();
        h.destinations[0].third_party = s(true);
        h.destinations[0].kind = s(DestinationKind::Mixpanel);
        let d = diff(&base(), &h);
        assert_eq!(only(&d, ChangeKind::ThirdPartyChanged).impact, Impact::High);
        assert_eq!(
            only(&d, ChangeKind::DestinationKindChanged)
                .after
                .as_deref(),
            Some("mixpanel")
        );
    }

    #[test]
    fn purpose_changes() {
        let mut h = base();
        h.purposes[0].basis = s(LegalBasis::LegitimateInterest);
        h.purposes[0].retention_days = None;
        h.purposes[0].description = s("New words.".to_owned());
        h.purposes[0].data_use = s("analytics.reporting.system".to_owned());
        h.purposes[1].sale_or_share = s(true);
        h.purposes.push(purpose(
            "support",
            LegalBasis::Contract,
            "essential.service",
        ));
        let d = diff(&base(), &h);
        assert_eq!(
            kinds(&d),
            [
                ChangeKind::LegalBasisChanged,
                ChangeKind::DataUseChanged,
                ChangeKind::RetentionChanged,
                ChangeKind::NoticeTextChanged,
                ChangeKind::SaleOrShareChanged,
                ChangeKind::PurposeAdded,
            ]
        );
        assert_eq!(only(&d, ChangeKind::LegalBasisChanged).impact, Impact::High);
        let r = only(&d, ChangeKind::RetentionChanged);
        assert_eq!(r.impact, Impact::NeedsReview);
        assert_eq!(r.after.as_deref(), Some("no limit stated"));
        assert_eq!(
            only(&d, ChangeKind::SaleOrShareChanged).impact,
            Impact::High
        );
        assert!(!d.has_breaking());
        assert!(d_has(&diff(&h, &base()), ChangeKind::PurposeRemoved));
    }

    #[test]
    fn identity_and_policies() {
        let mut h = base();
        h.identity.transform = s(IdentityTransform::None);
        h.policies.clear();
        let d = diff(&base(), &h);
        assert_eq!(only(&d, ChangeKind::IdentityChanged).impact, Impact::High);
        assert_eq!(only(&d, ChangeKind::PolicyRemoved).impact, Impact::High);
        assert!(d_has(&diff(&h, &base()), ChangeKind::PolicyAdded));

        let mut h = base();
        h.policies[0].data_uses.matches = s(Match::All);
        let c = only(&diff(&base(), &h), ChangeKind::PolicyChanged).clone();
        assert_eq!(
            c.after.as_deref(),
            Some(
                "deny categories any of `user.health_and_medical` with data uses all of `marketing`"
            )
        );
    }

    #[test]
    fn json_shape_is_stable() {
        let mut h = base();
        page(&mut h).sensitivity = s(Sensitivity::Internal);
        let d = diff(&base(), &h);
        let v = serde_json::to_value(&d).expect("plain data serializes");
        assert_eq!(
            v,
            serde_json::json!({
                "base": {"name": "shop", "version": 1},
                "head": {"name": "shop", "version": 1},
                "changes": [{
                    "kind": "sensitivity_raised",
                    "subject": {"type": "property", "event": "viewed", "event_name": "viewed",
                                "id": "page", "name": "page"},
                    "breaking": false,
                    "impact": "low",
                    "reason": "now treated as internal rather than public",
                    "before": "public",
                    "after": "internal",
                    "notes": []
                }]
            })
        );
        assert_eq!(ChangeKind::SensitivityRaised.key(), "sensitivity_raised");
        assert_eq!(Impact::NeedsReview.key(), "needs_review");
    }
}
