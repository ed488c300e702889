//! A small plan with profile traits, a group kind and a context property, written out as
//! `plan!` generates it (see the interface in `runtime/src/update.rs`), so the runtime's
//! profile, group, identity and context paths are tested before the plan compiler emits
//! these sections. It names only `::trackplan::__private` paths, as generated code does.
//!
//! Purposes: `analytics` (consent), `ads` (consent). Destinations: `warehouse` (first party,
//! analytics), `mixpanel` (third party, analytics), `ads` (third party, ads).
#![allow(dead_code)]

use ::trackplan::__private::{
    Constraints, ContextInfo, DestinationSet, GroupInfo, IdentityTransform, LegalBasis, Personal,
    PlanInfo, PropertyInfo, PurposeSet, Sensitivity, TraitInfo, TraitOp, TransformInfo, ValueKind,
    constraints, context_info, destination_info, event_groups, event_info, group_info, marker,
    plan_info, plan_sections, property, purpose_info, purpose_marker, trait_info,
};

const NONE: Constraints = constraints(None, None, None);
const ANALYTICS: PurposeSet = PurposeSet::from_bits(0b01);
const ADS: PurposeSet = PurposeSet::from_bits(0b10);
/// Warehouse and Mixpanel.
const TO_ANALYTICS: DestinationSet = DestinationSet::from_bits(0b011);
/// The ad network.
const TO_ADS: DestinationSet = DestinationSet::from_bits(0b100);

pub mod purpose {
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Analytics;
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Ads;
}
impl ::trackplan::__private::Purpose for purpose::Analytics {
    const PLAN: &'static PlanInfo = &PLAN;
    const INDEX: usize = 0;
}
impl ::trackplan::__private::Purpose for purpose::Ads {
    const PLAN: &'static PlanInfo = &PLAN;
    const INDEX: usize = 1;
}

pub mod destination {
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Warehouse;
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Mixpanel;
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct Ads;
}
impl ::trackplan::__private::Destination for destination::Warehouse {
    type Purposes = purpose::Analytics;
    const PLAN: &'static PlanInfo = &PLAN;
    const INDEX: usize = 0;
}
impl ::trackplan::__private::Destination for destination::Mixpanel {
    type Purposes = purpose::Analytics;
    const PLAN: &'static PlanInfo = &PLAN;
    const INDEX: usize = 1;
}
impl ::trackplan::__private::Destination for destination::Ads {
    type Purposes = purpose::Ads;
    const PLAN: &'static PlanInfo = &PLAN;
    const INDEX: usize = 2;
}

const fn text(
    id: &'static str,
    name: &'static str,
    json_key: &'static str,
    required: bool,
) -> PropertyInfo {
    property(
        id,
        name,
        json_key,
        ValueKind::String,
        Sensitivity::Internal,
        None,
        TransformInfo::None,
        required,
        NONE,
    )
}

pub static PLAN: PlanInfo = plan_sections(
    plan_info(
        "hand",
        1,
        "hand@1",
        "5d0f9b0e2f8c4a1e9b7d6c5a4f3e2d1c0b9a8f7e6d5c4b3a291807f6e5d4c3b2",
        IdentityTransform::Hmac,
        &[
            purpose_marker(
                purpose_info(
                    "analytics",
                    "",
                    LegalBasis::Consent,
                    "analytics.reporting",
                    None,
                    false,
                ),
                marker::<purpose::Analytics>,
            ),
            purpose_marker(
                purpose_info(
                    "ads",
                    "",
                    LegalBasis::Consent,
                    "marketing.advertising.third_party.targeted",
                    None,
                    true,
                ),
                marker::<purpose::Ads>,
            ),
        ],
        &[
            destination_info("warehouse", "ndjson", "", ANALYTICS, false),
            destination_info("mixpanel", "mixpanel", "", ANALYTICS, true),
            destination_info("ads", "segment", "", ADS, true),
        ],
        &[
            event_info(
                "page_viewed",
                "Page Viewed",
                ANALYTICS,
                TO_ANALYTICS,
                &[text("url", "URL", "\"URL\":", true)],
            ),
            event_groups(
                event_info(
                    "order_completed",
                    "Order Completed",
                    ANALYTICS,
                    TO_ANALYTICS,
                    &[property(
                        "revenue",
                        "Revenue",
                        "\"Revenue\":",
                        ValueKind::Number,
                        Sensitivity::Internal,
                        None,
                        TransformInfo::None,
                        true,
                        NONE,
                    )],
                ),
                &[0],
            ),
        ],
    ),
    &TRAITS,
    &GROUPS,
    &CONTEXT,
);

static TRAITS: [TraitInfo; 6] = [
    trait_info(
        text("plan_tier", "Plan Tier", "\"Plan Tier\":", false),
        ANALYTICS,
        TO_ANALYTICS,
    ),
    trait_info(
        property(
            "email",
            "Email",
            "\"Email\":",
            ValueKind::String,
            Sensitivity::Personal,
            Some("user.contact.email"),
            TransformInfo::Hmac { lowercase: true },
            false,
            NONE,
        ),
        ANALYTICS,
        TO_ANALYTICS,
    ),
    trait_info(
        text("audience", "Ad Audience", "\"Ad Audience\":", false),
        ADS,
        TO_ADS,
    ),
    trait_info(
        property(
            "support_notes",
            "Support Notes",
            "\"Support Notes\":",
            ValueKind::String,
            Sensitivity::Personal,
            Some("user"),
            TransformInfo::Redact,
            false,
            NONE,
        ),
        ANALYTICS,
        TO_ANALYTICS,
    ),
    trait_info(
        property(
            "lifetime_orders",
            "Lifetime Orders",
            "\"Lifetime Orders\":",
            ValueKind::Integer,
            Sensitivity::Internal,
            None,
            TransformInfo::None,
            false,
            NONE,
        ),
        ANALYTICS,
        TO_ANALYTICS,
    ),
    trait_info(
        property(
            "interests",
            "Interests",
            "\"Interests\":",
            ValueKind::List {
                item: &ValueKind::String,
            },
            Sensitivity::Internal,
            None,
            TransformInfo::None,
            false,
            NONE,
        ),
        ANALYTICS,
        TO_ANALYTICS,
    ),
];

static GROUPS: [GroupInfo; 1] = [group_info(
    "company",
    text("company_id", "company_id", "\"company_id\":", true),
    ANALYTICS,
    TO_ANALYTICS,
    &[trait_info(
        property(
            "seats",
            "Seats",
            "\"Seats\":",
            ValueKind::Integer,
            Sensitivity::Internal,
            None,
            TransformInfo::None,
            false,
            NONE,
        ),
        ANALYTICS,
        TO_ANALYTICS,
    )],
)];

static CONTEXT: [ContextInfo; 1] = [context_info(
    text("app_version", "App Version", "\"App Version\":", false),
    None,
)];

// ---- events ----

#[derive(Debug, Clone)]
pub struct PageViewed {
    pub url: String,
}
impl ::trackplan::__private::Sealed for PageViewed {}
impl ::trackplan::__private::Event for PageViewed {
    type Purposes = purpose::Analytics;
    const PLAN: &'static PlanInfo = &PLAN;
    const INFO: &'static ::trackplan::__private::EventInfo = &PLAN.events[0];
}
impl ::trackplan::__private::WriteProperties for PageViewed {
    fn write_properties(&self, w: &mut ::trackplan::__private::PropertyWriter<'_>) {
        let p = <Self as ::trackplan::__private::Event>::INFO.properties;
        ::trackplan::__private::Value::write(&self.url, &p[0], w);
    }
}

#[derive(Debug, Clone)]
pub struct OrderCompleted {
    pub revenue: f64,
}
impl ::trackplan::__private::Sealed for OrderCompleted {}
impl ::trackplan::__private::Event for OrderCompleted {
    type Purposes = purpose::Analytics;
    const PLAN: &'static PlanInfo = &PLAN;
    const INFO: &'static ::trackplan::__private::EventInfo = &PLAN.events[1];
}
impl ::trackplan::__private::WriteProperties for OrderCompleted {
    fn write_properties(&self, w: &mut ::trackplan::__private::PropertyWriter<'_>) {
        let p = <Self as ::trackplan::__private::Event>::INFO.properties;
        ::trackplan::__private::Value::write(&self.revenue, &p[0], w);
    }
}

// ---- the profile update ----

#[derive(Debug, Default)]
pub struct Profile {
    plan_tier: TraitOp<String>,
    email: TraitOp<Personal<String>>,
    audience: TraitOp<String>,
    support_notes: TraitOp<Personal<String>>,
    lifetime_orders: TraitOp<i64>,
    interests: TraitOp<Vec<String>>,
}

impl Profile {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn set_plan_tier(mut self, value: impl Into<String>) -> Self {
        self.plan_tier = TraitOp::Set(value.into());
        self
    }
    pub fn set_once_plan_tier(mut self, value: impl Into<String>) -> Self {
        self.plan_tier = TraitOp::SetOnce(value.into());
        self
    }
    pub fn unset_plan_tier(mut self) -> Self {
        self.plan_tier = TraitOp::Unset;
        self
    }
    pub fn set_email(mut self, value: Personal<String>) -> Self {
        self.email = TraitOp::Set(value);
        self
    }
    pub fn set_audience(mut self, value: impl Into<String>) -> Self {
        self.audience = TraitOp::Set(value.into());
        self
    }
    pub fn set_support_notes(mut self, value: Personal<String>) -> Self {
        self.support_notes = TraitOp::Set(value);
        self
    }
    pub fn add_lifetime_orders(mut self, value: i64) -> Self {
        self.lifetime_orders = TraitOp::Add(value);
        self
    }
    pub fn union_interests(mut self, value: Vec<String>) -> Self {
        self.interests = TraitOp::Union(value);
        self
    }
}

impl ::trackplan::__private::Sealed for Profile {}
impl ::trackplan::__private::ProfileUpdate for Profile {
    const PLAN: &'static PlanInfo = &PLAN;
    fn write_traits(&self, w: &mut ::trackplan::__private::TraitWriter<'_>) {
        let t = <Self as ::trackplan::__private::ProfileUpdate>::PLAN.traits;
        w.write(&t[0], &self.plan_tier);
        w.write(&t[1], &self.email);
        w.write(&t[2], &self.audience);
        w.write(&t[3], &self.support_notes);
        w.write(&t[4], &self.lifetime_orders);
        w.write(&t[5], &self.interests);
    }
}

// ---- the group kind ----

#[derive(Debug)]
pub struct Company {
    key: String,
    seats: TraitOp<i64>,
}

impl Company {
    pub fn new(key: impl Into<String>) -> Self {
        Company {
            key: key.into(),
            seats: TraitOp::Untouched,
        }
    }
    pub fn set_seats(mut self, value: i64) -> Self {
        self.seats = TraitOp::Set(value);
        self
    }
}

impl ::trackplan::__private::Sealed for Company {}
impl ::trackplan::__private::Group for Company {
    const PLAN: &'static PlanInfo = &PLAN;
    const KIND: usize = 0;
    fn write_key(
        &self,
        key: &'static PropertyInfo,
        w: &mut ::trackplan::__private::PropertyWriter<'_>,
    ) {
        ::trackplan::__private::Value::write(&self.key, key, w);
    }
}
impl ::trackplan::__private::GroupUpdate for Company {
    fn write_traits(&self, w: &mut ::trackplan::__private::TraitWriter<'_>) {
        let t = <Self as ::trackplan::__private::Group>::PLAN.groups[0].traits;
        w.write(&t[0], &self.seats);
    }
}

// ---- context ----

#[derive(Debug, Clone, Default)]
pub struct Context {
    pub app_version: Option<String>,
}
impl ::trackplan::__private::Sealed for Context {}
impl ::trackplan::__private::ContextProperties for Context {
    const PLAN: &'static PlanInfo = &PLAN;
    fn write_context(&self, w: &mut ::trackplan::__private::ContextWriter<'_>) {
        let c = <Self as ::trackplan::__private::ContextProperties>::PLAN.context;
        w.write(&c[0], &self.app_version);
    }
}
