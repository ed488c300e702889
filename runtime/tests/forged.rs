//! Plan data built by hand through the `__private` constructors, as a determined caller could:
//! `TrackerBuilder::build` re-derives what the static data says twice and refuses a plan that
//! disagrees with itself or with the rules of the plan format, naming what is wrong.

use trackplan_runtime::__private::{
    constraints, destination_info, event_info, plan_info, property, purpose_info,
};
use trackplan_runtime::error::{BuildError, Inconsistency};
use trackplan_runtime::info::{
    DestinationInfo, DestinationSet, EventInfo, IdentityTransform, LegalBasis, PlanInfo,
    PropertyInfo, PurposeInfo, PurposeSet, Sensitivity, TransformInfo, ValueKind,
};
use trackplan_runtime::sinks::Memory;
use trackplan_runtime::{Destination, Key, Tracker};

const ANALYTICS: usize = 0;
const ADVERTISING: usize = 1;

static PURPOSES: [PurposeInfo; 2] = [
    purpose_info(
        "analytics",
        "See which features are used.",
        LegalBasis::Consent,
        "analytics.reporting",
        None,
        false,
    ),
    purpose_info(
        "advertising",
        "Show ads.",
        LegalBasis::Consent,
        "marketing.advertising",
        None,
        true,
    ),
];

/// A first-party warehouse for analytics and a third-party ad network for advertising.
static DESTINATIONS: [DestinationInfo; 2] = [
    destination_info(
        "warehouse",
        "memory",
        "",
        PurposeSet::only(ANALYTICS),
        false,
    ),
    destination_info("ads", "memory", "", PurposeSet::only(ADVERTISING), true),
];

const fn text(id: &'static str, json_key: &'static str, transform: TransformInfo) -> PropertyInfo {
    property(
        id,
        id,
        json_key,
        ValueKind::String,
        Sensitivity::Personal,
        Some("user.content"),
        transform,
        true,
        constraints(None, None, None),
    )
}

static SEARCH: [PropertyInfo; 1] = [text("query", "\"query\":", TransformInfo::Redact)];

const fn plan(events: &'static [EventInfo]) -> PlanInfo {
    plan_info(
        "forged",
        1,
        "forged@1",
        "0",
        IdentityTransform::Hmac,
        &PURPOSES,
        &DESTINATIONS,
        events,
    )
}

fn refusal(plan: &'static PlanInfo) -> Inconsistency {
    match Tracker::builder(plan).build() {
        Err(BuildError::Inconsistent {
            plan: label,
            problem,
        }) => {
            assert_eq!(label, "forged@1");
            problem
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("a forged plan was accepted"),
    }
}

/// The plan as `plan!` would write it: an analytics search event with a `redact` query, routed
/// to the warehouse only.
static HONEST: PlanInfo = plan(&[event_info(
    "search",
    "Search",
    PurposeSet::only(ANALYTICS),
    DestinationSet::only(0),
    &SEARCH,
)]);

#[derive(Clone, Copy)]
struct Warehouse;
impl Destination for Warehouse {
    type Purposes = ();
    const PLAN: &'static PlanInfo = &HONEST;
    const INDEX: usize = 0;
}

#[derive(Clone, Copy)]
struct Ads;
impl Destination for Ads {
    type Purposes = ();
    const PLAN: &'static PlanInfo = &HONEST;
    const INDEX: usize = 1;
}

#[test]
fn an_honest_plan_is_accepted() {
    let key = Key::from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        .unwrap_or_else(|e| panic!("{e}"));
    let tracker = Tracker::builder(&HONEST)
        .key(key)
        .sink(Warehouse, Memory::new())
        .sink(Ads, Memory::new())
        .build()
        .unwrap_or_else(|e| panic!("an honest plan was refused: {e}"));
    tracker.shutdown().unwrap_or_else(|e| panic!("{e}"));
}

/// An analytics event with a raw `redact` search query, routed to the third-party ad network
/// although the event is not collected for advertising.
static MISROUTED: PlanInfo = plan(&[event_info(
    "search",
    "Search",
    PurposeSet::only(ANALYTICS),
    DestinationSet::only(0).with(1),
    &SEARCH,
)]);

#[test]
fn an_event_routed_where_its_purposes_do_not_reach_is_refused() {
    let problem = refusal(&MISROUTED);
    assert_eq!(
        problem,
        Inconsistency::Route {
            event: "search",
            destination: "ads",
            routed: true,
        }
    );
    let message = BuildError::Inconsistent {
        plan: "forged@1",
        problem,
    }
    .to_string();
    assert!(
        message.contains(
            "event `search` is routed to destination `ads`, whose purposes are not all among the event's"
        ),
        "{message}"
    );
}

/// The same event withheld from a destination it qualifies for also disagrees with the rule.
static UNDERROUTED: PlanInfo = plan(&[event_info(
    "search",
    "Search",
    PurposeSet::only(ANALYTICS),
    DestinationSet::EMPTY,
    &SEARCH,
)]);

#[test]
fn an_event_kept_from_a_destination_it_qualifies_for_is_refused() {
    assert_eq!(
        refusal(&UNDERROUTED),
        Inconsistency::Route {
            event: "search",
            destination: "warehouse",
            routed: false,
        }
    );
}

/// A JSON key that smuggles a second member (a forged `distinct_id`) past the wire name.
static INJECTED: [PropertyInfo; 1] = [text(
    "query",
    "\"distinct_id\":\"alice\",\"query\":",
    TransformInfo::None,
)];
static INJECTING: PlanInfo = plan(&[event_info(
    "search",
    "Search",
    PurposeSet::only(ANALYTICS),
    DestinationSet::only(0),
    &INJECTED,
)]);

#[test]
fn a_json_key_that_is_not_the_wire_name_is_refused() {
    assert_eq!(
        refusal(&INJECTING),
        Inconsistency::Property {
            event: "search",
            property: "query",
            problem: "has a JSON key that is not its wire name",
        }
    );
}

/// A property wire-named `distinct_id` would replace the pseudonymous id at the destination.
static RESERVED: [PropertyInfo; 1] = [property(
    "user",
    "distinct_id",
    "\"distinct_id\":",
    ValueKind::String,
    Sensitivity::Personal,
    Some("user.unique_id"),
    TransformInfo::None,
    true,
    constraints(None, None, None),
)];
static RESERVING: PlanInfo = plan(&[event_info(
    "search",
    "Search",
    PurposeSet::only(ANALYTICS),
    DestinationSet::only(0),
    &RESERVED,
)]);

#[test]
fn a_reserved_wire_name_is_refused() {
    assert!(matches!(
        refusal(&RESERVING),
        Inconsistency::Property {
            property: "user",
            ..
        }
    ));
}

/// Special-category data on an event whose purpose claims a basis other than consent.
static SECURITY: [PurposeInfo; 1] = [purpose_info(
    "security",
    "Detect fraud.",
    LegalBasis::LegitimateInterest,
    "essential.fraud_detection",
    None,
    false,
)];
static HEALTH: [PropertyInfo; 1] = [property(
    "condition",
    "condition",
    "\"condition\":",
    ValueKind::String,
    Sensitivity::Special,
    Some("user.health_and_medical"),
    TransformInfo::Redact,
    true,
    constraints(None, None, None),
)];
static NO_CONSENT: PlanInfo = plan_info(
    "forged",
    1,
    "forged@1",
    "0",
    IdentityTransform::Hmac,
    &SECURITY,
    &[],
    &[event_info(
        "check",
        "Check",
        PurposeSet::only(0),
        DestinationSet::EMPTY,
        &HEALTH,
    )],
);

#[test]
fn special_data_without_consent_is_refused() {
    assert!(matches!(
        refusal(&NO_CONSENT),
        Inconsistency::Property {
            property: "condition",
            problem: "is special-category data collected for a purpose not based on consent",
            ..
        }
    ));
}

/// `truncate_ip` on a number, `hmac` without lower-casing an e-mail address, unordered buckets.
static WRONG_TRANSFORMS: [[PropertyInfo; 1]; 3] = [
    [property(
        "age",
        "age",
        "\"age\":",
        ValueKind::Integer,
        Sensitivity::Personal,
        Some("user.demographic.age_range"),
        TransformInfo::TruncateIp,
        true,
        constraints(None, None, None),
    )],
    [property(
        "email",
        "email",
        "\"email\":",
        ValueKind::String,
        Sensitivity::Personal,
        Some("user.contact.email"),
        TransformInfo::Hmac { lowercase: false },
        true,
        constraints(None, None, None),
    )],
    [property(
        "age",
        "age",
        "\"age\":",
        ValueKind::Integer,
        Sensitivity::Personal,
        Some("user.demographic.age_range"),
        TransformInfo::Bucket(&[35.0, 18.0]),
        true,
        constraints(None, None, None),
    )],
];
static WRONG: [PlanInfo; 3] = [
    plan(&[event_info(
        "e",
        "E",
        PurposeSet::only(ANALYTICS),
        DestinationSet::only(0),
        &WRONG_TRANSFORMS[0],
    )]),
    plan(&[event_info(
        "e",
        "E",
        PurposeSet::only(ANALYTICS),
        DestinationSet::only(0),
        &WRONG_TRANSFORMS[1],
    )]),
    plan(&[event_info(
        "e",
        "E",
        PurposeSet::only(ANALYTICS),
        DestinationSet::only(0),
        &WRONG_TRANSFORMS[2],
    )]),
];

#[test]
fn transforms_that_plan_would_not_write_are_refused() {
    for plan in &WRONG {
        assert!(
            matches!(refusal(plan), Inconsistency::Property { event: "e", .. }),
            "{:?}",
            plan.events[0].properties[0].transform
        );
    }
}

/// Sets naming purposes or destinations the plan does not have.
static OUT_OF_RANGE: PlanInfo = plan(&[event_info(
    "e",
    "E",
    PurposeSet::only(ANALYTICS).with(7),
    DestinationSet::only(0),
    &[],
)]);
static MISLABELED: PlanInfo = plan_info(
    "forged",
    1,
    "other@2",
    "0",
    IdentityTransform::Hmac,
    &PURPOSES,
    &DESTINATIONS,
    &[],
);

#[test]
fn out_of_range_sets_and_a_wrong_label_are_refused() {
    assert!(matches!(
        refusal(&OUT_OF_RANGE),
        Inconsistency::OutOfRange { .. }
    ));
    match Tracker::builder(&MISLABELED).build() {
        Err(BuildError::Inconsistent {
            problem: Inconsistency::Label { label: "other@2" },
            ..
        }) => {}
        other => panic!("{:?}", other.err()),
    }
}

// ---- profile traits, group kinds and context properties (issue 11) ----

const fn trait_text(
    id: &'static str,
    json_key: &'static str,
    transform: TransformInfo,
) -> PropertyInfo {
    property(
        id,
        id,
        json_key,
        ValueKind::String,
        Sensitivity::Internal,
        None,
        transform,
        false,
        constraints(None, None, None),
    )
}

static HONEST_EVENTS: [EventInfo; 1] = [event_info(
    "search",
    "Search",
    PurposeSet::only(ANALYTICS),
    DestinationSet::only(0),
    &SEARCH,
)];

/// HONEST with sections: `plan_sections` over the honest events.
const fn with_sections(
    traits: &'static [trackplan_runtime::info::TraitInfo],
    groups: &'static [trackplan_runtime::info::GroupInfo],
    context: &'static [trackplan_runtime::info::ContextInfo],
) -> PlanInfo {
    trackplan_runtime::__private::plan_sections(plan(&HONEST_EVENTS), traits, groups, context)
}

use trackplan_runtime::__private::{context_info, group_info, trait_info};

/// An analytics trait routed to the ad network too, whose purpose it does not have: it would
/// send analytics profile data to the advertiser.
static TRAIT_MISROUTED: PlanInfo = with_sections(
    &[trait_info(
        trait_text("tier", "\"tier\":", TransformInfo::None),
        PurposeSet::only(ANALYTICS),
        DestinationSet::first(2),
    )],
    &[],
    &[],
);

/// A special-category trait collected for a purpose not based on consent.
static SPECIAL_TRAIT: PlanInfo = trackplan_runtime::__private::plan_sections(
    plan_info(
        "forged",
        1,
        "forged@1",
        "0",
        IdentityTransform::Hmac,
        &SECURITY,
        &[],
        &[],
    ),
    &[trait_info(
        property(
            "condition",
            "condition",
            "\"condition\":",
            ValueKind::String,
            Sensitivity::Special,
            Some("user.health_and_medical"),
            TransformInfo::Redact,
            false,
            constraints(None, None, None),
        ),
        PurposeSet::only(0),
        DestinationSet::EMPTY,
    )],
    &[],
    &[],
);

/// A group key withheld from third parties (`redact`): the ad network could not name the group.
static REDACTED_KEY: PlanInfo = with_sections(
    &[],
    &[group_info(
        "company",
        property(
            "company_id",
            "company_id",
            "\"company_id\":",
            ValueKind::String,
            Sensitivity::Internal,
            None,
            TransformInfo::Redact,
            true,
            constraints(None, None, None),
        ),
        PurposeSet::only(ADVERTISING),
        DestinationSet::only(1),
        &[],
    )],
    &[],
);

/// A group trait routed past its kind's destinations.
static GROUP_TRAIT_ESCAPES: PlanInfo = with_sections(
    &[],
    &[group_info(
        "company",
        property(
            "company_id",
            "company_id",
            "\"company_id\":",
            ValueKind::String,
            Sensitivity::Internal,
            None,
            TransformInfo::None,
            true,
            constraints(None, None, None),
        ),
        PurposeSet::only(ADVERTISING),
        DestinationSet::only(1),
        &[trait_info(
            trait_text("seats", "\"seats\":", TransformInfo::None),
            PurposeSet::only(ANALYTICS),
            DestinationSet::only(0),
        )],
    )],
    &[],
);

/// A context property with the wire name of a property of the events it applies to.
static CONTEXT_COLLIDES: PlanInfo = with_sections(
    &[],
    &[],
    &[context_info(
        trait_text("query", "\"query\":", TransformInfo::None),
        None,
    )],
);

/// A trait whose JSON key is not its wire name: it would send `"tier"` as `"distinct_id"`.
static TRAIT_KEY_LIES: PlanInfo = with_sections(
    &[trait_info(
        trait_text("tier", "\"distinct_id\":", TransformInfo::None),
        PurposeSet::only(ANALYTICS),
        DestinationSet::only(0),
    )],
    &[],
    &[],
);

#[test]
fn forged_traits_groups_and_context_are_refused() {
    let cases: [(&'static PlanInfo, &str, &str); 6] = [
        (
            &TRAIT_MISROUTED,
            "trait `tier`",
            "is not routed to exactly the destinations the routing rule gives for its purposes",
        ),
        (
            &SPECIAL_TRAIT,
            "trait `condition`",
            "is special-category data collected for a purpose not based on consent",
        ),
        (
            &REDACTED_KEY,
            "group kind `company`",
            "has a `redact` key, but every destination of the group needs it",
        ),
        (
            &GROUP_TRAIT_ESCAPES,
            "trait `seats` of group kind `company`",
            "names a purpose or destination past the plan's lists (or its group kind's)",
        ),
        (
            &CONTEXT_COLLIDES,
            "context property `query`",
            "has the wire name of a property of an event it applies to",
        ),
        (
            &TRAIT_KEY_LIES,
            "trait `tier`",
            "has a JSON key that is not its wire name",
        ),
    ];
    for (plan, what, problem) in cases {
        assert_eq!(
            refusal(plan),
            Inconsistency::Section {
                what: what.to_owned(),
                problem,
            },
            "{what}"
        );
    }
}

/// The sections as `plan!` writes them are accepted.
static HONEST_SECTIONS: PlanInfo = with_sections(
    &[trait_info(
        trait_text("tier", "\"tier\":", TransformInfo::None),
        PurposeSet::only(ANALYTICS),
        DestinationSet::only(0),
    )],
    &[group_info(
        "company",
        property(
            "company_id",
            "company_id",
            "\"company_id\":",
            ValueKind::String,
            Sensitivity::Internal,
            None,
            TransformInfo::None,
            true,
            constraints(None, None, None),
        ),
        PurposeSet::first(2),
        DestinationSet::first(2),
        &[trait_info(
            trait_text("seats", "\"seats\":", TransformInfo::None),
            PurposeSet::only(ANALYTICS),
            DestinationSet::only(0),
        )],
    )],
    &[context_info(
        trait_text("app_version", "\"app_version\":", TransformInfo::None),
        Some(&[0]),
    )],
);

#[test]
fn honest_sections_are_accepted() {
    #[derive(Clone, Copy)]
    struct W;
    impl Destination for W {
        type Purposes = ();
        const PLAN: &'static PlanInfo = &HONEST_SECTIONS;
        const INDEX: usize = 0;
    }
    #[derive(Clone, Copy)]
    struct A;
    impl Destination for A {
        type Purposes = ();
        const PLAN: &'static PlanInfo = &HONEST_SECTIONS;
        const INDEX: usize = 1;
    }
    let key = Key::from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        .unwrap_or_else(|e| panic!("{e}"));
    let tracker = Tracker::builder(&HONEST_SECTIONS)
        .key(key)
        .sink(W, Memory::new())
        .sink(A, Memory::new())
        .build()
        .unwrap_or_else(|e| panic!("honest sections were refused: {e}"));
    tracker.shutdown().unwrap_or_else(|e| panic!("{e}"));
}
