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

mod change;
mod compare;
mod describe;
mod event;
mod plan;
mod profile;
mod property;

pub use change::{Change, ChangeKind, ChangeValue, ChangedItem, Impact};
use compare::*;
use describe::*;

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
    cx.sections();
    cx.policies();
    cx.exceptions();

    let breaking = cx.changes.iter().filter(|c| c.breaking).count();
    if breaking > 0 && head.version.value <= base.version.value {
        let (b, h) = (base.version.value, head.version.value);
        cx.changes.insert(
            0,
            Change {
                kind: ChangeKind::VersionNotBumped,
                subject: ChangedItem::Plan,
                breaking: false,
                impact: Impact::None,
                reason: format!(
                    "{breaking} breaking change{} but `[plan] version` is {h}; set it to {} so \
                     consumers can tell the data changed",
                    if breaking == 1 { "" } else { "s" },
                    b.max(h) + 1
                ),
                before: Some(b.into()),
                after: Some(h.into()),
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

impl Cx<'_> {
    fn push(&mut self, c: Change) {
        self.changes.push(c);
    }
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
            location: None,
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
            groups: s(Vec::new()),
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
            traits: Vec::new(),
            groups: Vec::new(),
            context: Vec::new(),
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
            exceptions: Vec::new(),
            taxonomy: Vec::new(),
        }
    }

    fn txt(v: &Option<ChangeValue>) -> Option<&str> {
        v.as_ref().and_then(ChangeValue::as_text)
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
        assert_eq!(txt(&c.before), Some("string, public"));
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
        assert_eq!(txt(&d.changes[1].before), Some("page"));
        assert_eq!(txt(&d.changes[1].after), Some("Page"));
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
            (txt(&c.before), txt(&c.after)),
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
        assert_eq!(txt(&c.after), Some("list of string"));
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
        assert_eq!(txt(&c.after), Some("coarsen to month"));

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
    fn widening_purposes_reports_each_personal_property_reaching_a_new_third_party() {
        let mut b = base();
        b.version = s(2);
        let mut ip = prop("ip", PropertyType::String, Sensitivity::Personal);
        ip.name = s("IP Address".to_owned());
        ip.transform = s(Transform::TruncateIp);
        let mut query = prop("query", PropertyType::String, Sensitivity::Personal);
        query.transform = s(Transform::Redact);
        b.events[0].properties.extend([ip, query]);
        let mut h = b.clone();
        // Not a marketing purpose, so the widening itself only needs review; the IP reaching a
        // new third party is what makes it high.
        h.purposes[1].data_use = s("analytics.reporting".to_owned());
        h.events[0].purposes = s(strs(&["analytics", "ads"]));
        let d = diff(&b, &h);
        assert_eq!(
            only(&d, ChangeKind::PurposesWidened).impact,
            Impact::NeedsReview
        );
        let c = only(&d, ChangeKind::PersonalDataToThirdParty);
        assert_eq!(c.impact, Impact::High);
        assert_eq!(c.subject.path(), "events.viewed.properties.ip");
        assert!(
            c.reason.contains("\"IP Address\"") && c.reason.contains("`adtech`"),
            "{}",
            c.reason
        );
        assert_eq!(c.before, Some(ChangeValue::List(vec![])));
        assert_eq!(c.after, Some(ChangeValue::List(vec!["adtech".to_owned()])));
        // The redact query stays first party; the public page is not personal.
        assert_eq!(d.max_impact(), Impact::High);

        // A destination that became a third party is the same news for the IP.
        let mut h = b.clone();
        h.destinations[0].third_party = s(true);
        let c = only(&diff(&b, &h), ChangeKind::PersonalDataToThirdParty).clone();
        assert!(c.reason.contains("`warehouse`"), "{}", c.reason);

        // Losing `redact` sends the query to the third party it already reached.
        let mut b2 = b.clone();
        b2.events[0].purposes = s(strs(&["analytics", "ads"]));
        let mut h = b2.clone();
        h.events[0].properties[2].transform = s(Transform::Hmac);
        let c = only(&diff(&b2, &h), ChangeKind::PersonalDataToThirdParty).clone();
        assert_eq!(c.subject.path(), "events.viewed.properties.query");

        // A new third-party destination is reported once, as a destination.
        let mut h = b2.clone();
        h.destinations
            .push(destination("tracker", &["analytics"], true));
        assert!(!d_has(&diff(&b2, &h), ChangeKind::PersonalDataToThirdParty));
    }

    #[test]
    fn before_and_after_are_data_not_markdown() {
        let mut h = base();
        h.events[0].purposes = s(strs(&["analytics", "ads"]));
        h.purposes[1].sale_or_share = s(true);
        h.purposes[0].retention_days = Some(s(90));
        let d = diff(&base(), &h);
        let v = serde_json::to_value(&d).expect("plain data serializes");
        let by_kind = |k: &str| {
            v["changes"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["kind"] == k))
                .cloned()
                .unwrap_or_default()
        };
        let widened = by_kind("purposes_widened");
        assert_eq!(widened["before"], serde_json::json!(["analytics"]));
        assert_eq!(widened["after"], serde_json::json!(["analytics", "ads"]));
        let share = by_kind("sale_or_share_changed");
        assert_eq!(
            (share["before"].clone(), share["after"].clone()),
            (false.into(), true.into())
        );
        let kept = by_kind("retention_changed");
        assert_eq!(
            (kept["before"].clone(), kept["after"].clone()),
            (30.into(), 90.into())
        );

        let mut b = base();
        page(&mut b).ty = s(PropertyType::Enum {
            values: strs(&["a", "b"]),
        });
        let mut h = b.clone();
        page(&mut h).ty = s(PropertyType::Enum {
            values: strs(&["a"]),
        });
        let c = only(&diff(&b, &h), ChangeKind::EnumValuesChanged).clone();
        assert_eq!(
            serde_json::to_value(&c.before).ok(),
            Some(serde_json::json!(["a", "b"]))
        );
        let c = only(&diff(&b, &h), ChangeKind::VersionNotBumped).clone();
        assert_eq!(
            serde_json::to_value(&c.after).ok(),
            Some(serde_json::json!(1))
        );
    }

    #[test]
    fn property_purpose_restriction_loosened_needs_review() {
        let mut b = base();
        page(&mut b).purposes = Some(s(strs(&["analytics"])));
        let c = only(&diff(&b, &base()), ChangeKind::PurposesWidened).clone();
        assert_eq!(c.impact, Impact::NeedsReview);
        assert_eq!(txt(&c.after), Some("any purpose of its event"));
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
            txt(&only(&d, ChangeKind::DestinationKindChanged).after),
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
        assert_eq!(txt(&r.after), Some("no limit stated"));
        assert_eq!(
            only(&d, ChangeKind::SaleOrShareChanged).impact,
            Impact::High
        );
        assert!(!d.has_breaking());
        assert!(d_has(&diff(&h, &base()), ChangeKind::PurposeRemoved));
    }

    #[test]
    fn lifting_a_built_in_policy_is_a_high_impact_change() {
        let b = base();
        let mut h = base();
        h.exceptions.push(crate::Exception {
            policy: s("special-category-marketing".to_owned()),
            justification: s("Explicit consent, reviewed.".to_owned()),
            span: Span::new(0, 0),
        });
        let d = diff(&b, &h);
        let c = only(&d, ChangeKind::ExceptionAdded);
        assert_eq!(c.impact, Impact::High);
        assert_eq!(
            c.after,
            Some(ChangeValue::Text("Explicit consent, reviewed.".to_owned()))
        );
        assert_eq!(
            c.subject.to_string(),
            "built-in policy `special-category-marketing`"
        );
        let d = diff(&h, &b);
        assert_eq!(only(&d, ChangeKind::ExceptionRemoved).impact, Impact::Low);
        let mut h2 = h.clone();
        h2.exceptions[0].justification.value = "Changed.".to_owned();
        let d = diff(&h, &h2);
        assert_eq!(
            only(&d, ChangeKind::ExceptionChanged).impact,
            Impact::NeedsReview
        );
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
            txt(&c.after),
            Some("deny categories any of user.health_and_medical with data uses all of marketing")
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
