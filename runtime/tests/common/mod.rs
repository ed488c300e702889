//! A hand-written miniature of `plans/shop.toml` as `plan!` would generate it, so the runtime
//! can be tested without the macros. The `Sealed` impls are the deliberate bypass the sealing
//! makes visible.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use trackplan_runtime::__private::Sealed;
use trackplan_runtime::__private::{PropertyWriter, Value, WriteProperties};
use trackplan_runtime::config::RetryPolicy;
use trackplan_runtime::info::{
    Constraints, DestinationSet, EventInfo, Granularity, IdentityTransform, LegalBasis, PlanInfo,
    PropertyInfo, PurposeSet, Sensitivity, TransformInfo, ValueKind,
};
use trackplan_runtime::requests::Erasure;
use trackplan_runtime::{
    DeclaredFor, Envelope, Event, Key, Outcome, Personal, RoutableTo, Sink, Timestamp, Values,
};

pub const ANALYTICS: u64 = 1 << 0;
pub const ADVERTISING: u64 = 1 << 1;
pub const SECURITY: u64 = 1 << 2;
pub const SUPPORT: u64 = 1 << 3;

pub const WAREHOUSE: u64 = 1 << 0;
pub const MIXPANEL: u64 = 1 << 1;
pub const ADS: u64 = 1 << 2;
pub const SECURITY_LOG: u64 = 1 << 3;
pub const SUPPORT_DESK: u64 = 1 << 4;

const NO_LIMITS: Constraints = trackplan_runtime::__private::constraints(None, None, None);

const fn limits(max_length: Option<u32>, min: Option<f64>, max: Option<f64>) -> Constraints {
    trackplan_runtime::__private::constraints(max_length, min, max)
}

/// `property` as `plan!` calls it, for properties without a data category.
#[allow(clippy::too_many_arguments)] // mirrors the fields of PropertyInfo, one per line
const fn prop(
    id: &'static str,
    name: &'static str,
    json_key: &'static str,
    kind: ValueKind,
    sensitivity: Sensitivity,
    transform: TransformInfo,
    required: bool,
    constraints: Constraints,
) -> PropertyInfo {
    trackplan_runtime::__private::property(
        id,
        name,
        json_key,
        kind,
        sensitivity,
        None,
        transform,
        required,
        constraints,
    )
}

const STRING: ValueKind = ValueKind::String;
use Sensitivity::{Internal, Personal as PersonalData, Public};

static PAGE_VIEWED_PROPS: [PropertyInfo; 2] = [
    prop(
        "url",
        "URL",
        "\"URL\":",
        STRING,
        Internal,
        TransformInfo::StripQuery,
        true,
        NO_LIMITS,
    ),
    prop(
        "ip_address",
        "IP Address",
        "\"IP Address\":",
        STRING,
        PersonalData,
        TransformInfo::TruncateIp,
        true,
        NO_LIMITS,
    ),
];
static SIGNUP_PROPS: [PropertyInfo; 3] = [
    prop(
        "plan_tier",
        "Plan Tier",
        "\"Plan Tier\":",
        ValueKind::Enum,
        Internal,
        TransformInfo::None,
        true,
        NO_LIMITS,
    ),
    prop(
        "age",
        "Age",
        "\"Age\":",
        ValueKind::Integer,
        PersonalData,
        TransformInfo::Bucket(&[18.0, 25.0, 35.0, 50.0, 65.0]),
        true,
        limits(None, Some(0.0), Some(130.0)),
    ),
    prop(
        "newsletter",
        "Newsletter",
        "\"Newsletter\":",
        ValueKind::Boolean,
        Internal,
        TransformInfo::None,
        true,
        NO_LIMITS,
    ),
];
static PRODUCT_VIEWED_PROPS: [PropertyInfo; 3] = [
    prop(
        "product_id",
        "Product ID",
        "\"Product ID\":",
        STRING,
        Public,
        TransformInfo::None,
        true,
        limits(Some(64), None, None),
    ),
    prop(
        "price",
        "Price",
        "\"Price\":",
        ValueKind::Number,
        Public,
        TransformInfo::None,
        true,
        limits(None, Some(0.0), None),
    ),
    prop(
        "currency",
        "Currency",
        "\"Currency\":",
        ValueKind::Enum,
        Public,
        TransformInfo::None,
        true,
        NO_LIMITS,
    ),
];
static SEARCH_PROPS: [PropertyInfo; 2] = [
    prop(
        "query",
        "Query",
        "\"Query\":",
        STRING,
        PersonalData,
        TransformInfo::Redact,
        true,
        limits(Some(200), None, None),
    ),
    prop(
        "result_count",
        "Result Count",
        "\"Result Count\":",
        ValueKind::Integer,
        Public,
        TransformInfo::None,
        true,
        limits(None, Some(0.0), None),
    ),
];
static LOGIN_FAILED_PROPS: [PropertyInfo; 3] = [
    trackplan_runtime::__private::property(
        "email",
        "email",
        "\"email\":",
        STRING,
        PersonalData,
        Some("user.contact.email"),
        TransformInfo::Hmac { lowercase: true },
        true,
        NO_LIMITS,
    ),
    prop(
        "ip_address",
        "IP Address",
        "\"IP Address\":",
        STRING,
        PersonalData,
        TransformInfo::TruncateIp,
        true,
        NO_LIMITS,
    ),
    prop(
        "attempt",
        "Attempt",
        "\"Attempt\":",
        ValueKind::Integer,
        Internal,
        TransformInfo::None,
        true,
        limits(None, Some(1.0), None),
    ),
];
static TICKET_PROPS: [PropertyInfo; 2] = [
    prop(
        "topic",
        "Topic",
        "\"Topic\":",
        ValueKind::Enum,
        Internal,
        TransformInfo::None,
        true,
        NO_LIMITS,
    ),
    prop(
        "order_count",
        "Order Count",
        "\"Order Count\":",
        ValueKind::Integer,
        Internal,
        TransformInfo::None,
        true,
        limits(None, Some(0.0), None),
    ),
];
static CHECKOUT_PROPS: [PropertyInfo; 6] = [
    prop(
        "revenue",
        "Revenue",
        "\"Revenue\":",
        ValueKind::Number,
        Internal,
        TransformInfo::None,
        true,
        limits(None, Some(0.0), None),
    ),
    prop(
        "currency",
        "Currency",
        "\"Currency\":",
        ValueKind::Enum,
        Public,
        TransformInfo::None,
        true,
        NO_LIMITS,
    ),
    prop(
        "item_count",
        "Item Count",
        "\"Item Count\":",
        ValueKind::Integer,
        Public,
        TransformInfo::None,
        true,
        limits(None, Some(1.0), None),
    ),
    prop(
        "product_ids",
        "Product IDs",
        "\"Product IDs\":",
        ValueKind::List { item: &STRING },
        Public,
        TransformInfo::None,
        true,
        NO_LIMITS,
    ),
    prop(
        "coupon_codes",
        "Coupon Codes",
        "\"Coupon Codes\":",
        ValueKind::List { item: &STRING },
        Internal,
        TransformInfo::None,
        false,
        NO_LIMITS,
    ),
    prop(
        "ordered_at",
        "Ordered At",
        "\"Ordered At\":",
        ValueKind::Timestamp,
        Internal,
        TransformInfo::Coarsen(Granularity::Day),
        true,
        NO_LIMITS,
    ),
];

const fn event(
    id: &'static str,
    name: &'static str,
    purposes: u64,
    destinations: u64,
    properties: &'static [PropertyInfo],
) -> EventInfo {
    trackplan_runtime::__private::event_info(
        id,
        name,
        PurposeSet::from_bits(purposes),
        DestinationSet::from_bits(destinations),
        properties,
    )
}

static EVENTS: [EventInfo; 7] = [
    event(
        "page_viewed",
        "Page Viewed",
        ANALYTICS,
        WAREHOUSE | MIXPANEL,
        &PAGE_VIEWED_PROPS,
    ),
    event(
        "signup_completed",
        "Signup Completed",
        ANALYTICS,
        WAREHOUSE | MIXPANEL,
        &SIGNUP_PROPS,
    ),
    event(
        "product_viewed",
        "Product Viewed",
        ANALYTICS | ADVERTISING,
        WAREHOUSE | MIXPANEL | ADS,
        &PRODUCT_VIEWED_PROPS,
    ),
    event(
        "search_performed",
        "Search Performed",
        ANALYTICS,
        WAREHOUSE | MIXPANEL,
        &SEARCH_PROPS,
    ),
    event(
        "login_failed",
        "Login Failed",
        SECURITY,
        SECURITY_LOG,
        &LOGIN_FAILED_PROPS,
    ),
    event(
        "support_ticket_opened",
        "Support Ticket Opened",
        SUPPORT,
        SUPPORT_DESK,
        &TICKET_PROPS,
    ),
    event(
        "checkout_completed",
        "Checkout Completed",
        ANALYTICS | ADVERTISING,
        WAREHOUSE | MIXPANEL | ADS,
        &CHECKOUT_PROPS,
    ),
];

pub static PLAN: PlanInfo = trackplan_runtime::__private::plan_info(
    "shop",
    3,
    "shop@3",
    "0000000000000000000000000000000000000000000000000000000000000003",
    IdentityTransform::Hmac,
    &[
        trackplan_runtime::__private::purpose_marker(
            trackplan_runtime::__private::purpose_info(
                "product_analytics",
                "See which features and products are used so we can improve the shop.",
                LegalBasis::Consent,
                "analytics.reporting",
                Some(395),
                false,
            ),
            trackplan_runtime::__private::marker::<purpose::ProductAnalytics>,
        ),
        trackplan_runtime::__private::purpose_marker(
            trackplan_runtime::__private::purpose_info(
                "advertising",
                "Show you ads for our products on other websites and measure them.",
                LegalBasis::Consent,
                "marketing.advertising.third_party.targeted",
                Some(90),
                true,
            ),
            trackplan_runtime::__private::marker::<purpose::Advertising>,
        ),
        trackplan_runtime::__private::purpose_marker(
            trackplan_runtime::__private::purpose_info(
                "security",
                "Detect fraud and abuse of accounts.",
                LegalBasis::LegitimateInterest,
                "essential.fraud_detection",
                Some(180),
                false,
            ),
            trackplan_runtime::__private::marker::<purpose::Security>,
        ),
        trackplan_runtime::__private::purpose_marker(
            trackplan_runtime::__private::purpose_info(
                "customer_support",
                "Answer your support requests about orders.",
                LegalBasis::Contract,
                "essential.service.operations.support",
                Some(730),
                false,
            ),
            trackplan_runtime::__private::marker::<purpose::CustomerSupport>,
        ),
    ],
    &[
        trackplan_runtime::__private::destination_info(
            "warehouse",
            "ndjson",
            "Our own event warehouse.",
            PurposeSet::from_bits(ANALYTICS),
            false,
        ),
        trackplan_runtime::__private::destination_info(
            "mixpanel",
            "mixpanel",
            "Product analytics.",
            PurposeSet::from_bits(ANALYTICS),
            true,
        ),
        trackplan_runtime::__private::destination_info(
            "ads",
            "segment",
            "Advertising partner.",
            PurposeSet::from_bits(ADVERTISING),
            true,
        ),
        trackplan_runtime::__private::destination_info(
            "security_log",
            "ndjson",
            "Fraud log.",
            PurposeSet::from_bits(SECURITY),
            false,
        ),
        trackplan_runtime::__private::destination_info(
            "support_desk",
            "custom",
            "Support desk.",
            PurposeSet::from_bits(SUPPORT),
            false,
        ),
    ],
    &EVENTS,
);

/// Another plan, to check that mixing plans is refused.
pub static OTHER_PLAN: PlanInfo = trackplan_runtime::__private::plan_info(
    "blog",
    1,
    "blog@1",
    "1111111111111111111111111111111111111111111111111111111111111111",
    IdentityTransform::None,
    &[trackplan_runtime::__private::purpose_marker(
        trackplan_runtime::__private::purpose_info(
            "product_analytics",
            "Counting readers.",
            LegalBasis::Consent,
            "analytics.reporting",
            None,
            false,
        ),
        trackplan_runtime::__private::marker::<purpose::BlogAnalytics>,
    )],
    &[trackplan_runtime::__private::destination_info(
        "warehouse",
        "ndjson",
        "Files.",
        PurposeSet::from_bits(1),
        false,
    )],
    &[],
);

pub mod purpose {
    macro_rules! purposes {
        ($($name:ident = $index:expr, $plan:path;)*) => {$(
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl trackplan_runtime::Purpose for $name {
                const PLAN: &'static trackplan_runtime::info::PlanInfo = &$plan;
                const INDEX: usize = $index;
            }
        )*};
    }
    purposes! {
        ProductAnalytics = 0, super::PLAN;
        Advertising = 1, super::PLAN;
        Security = 2, super::PLAN;
        CustomerSupport = 3, super::PLAN;
        BlogAnalytics = 0, super::OTHER_PLAN;
    }
}

pub mod destination {
    macro_rules! destinations {
        ($($name:ident = $index:expr, $plan:path;)*) => {$(
            #[derive(Debug, Clone, Copy)]
            pub struct $name;
            impl trackplan_runtime::Destination for $name {
                type Purposes = ();
                const PLAN: &'static trackplan_runtime::info::PlanInfo = &$plan;
                const INDEX: usize = $index;
            }
        )*};
    }
    destinations! {
        Warehouse = 0, super::PLAN;
        Mixpanel = 1, super::PLAN;
        Ads = 2, super::PLAN;
        SecurityLog = 3, super::PLAN;
        SupportDesk = 4, super::PLAN;
        BlogWarehouse = 0, super::OTHER_PLAN;
    }
}

macro_rules! values {
    ($name:ident, $property:literal, { $($variant:ident => $wire:literal),* $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($variant),* }
        impl Sealed for $name {}
        impl Values for $name {
            const PROPERTY: &'static str = $property;
            fn wire(&self) -> &'static str {
                match self { $($name::$variant => $wire),* }
            }
        }
    };
}

values!(PlanTier, "plan_tier", { Free => "free", Pro => "pro", Enterprise => "enterprise" });
values!(Currency, "currency", { Eur => "EUR", Usd => "USD", Gbp => "GBP" });
values!(Topic, "topic", { Delivery => "delivery", Refund => "refund", ProductQuestion => "product_question" });

macro_rules! event_impl {
    ($ty:ident, $index:expr, [$($field:ident),*], routes [$($dest:ident),*], purposes [$($purpose:ident),*]) => {
        impl Sealed for $ty {}
        impl Event for $ty {
            type Purposes = ($(purpose::$purpose,)*);
            const PLAN: &'static PlanInfo = &PLAN;
            const INFO: &'static EventInfo = &EVENTS[$index];
        }
        impl WriteProperties for $ty {
            fn write_properties(&self, w: &mut PropertyWriter<'_>) {
                let props = <Self as Event>::INFO.properties;
                let mut i = 0;
                $(
                    Value::write(&self.$field, &props[i], w);
                    i += 1;
                )*
                let _ = i;
            }
        }
        $(impl RoutableTo<destination::$dest> for $ty {})*
        $(impl DeclaredFor<purpose::$purpose> for $ty {})*
    };
}

#[derive(Debug)]
pub struct PageViewed {
    pub url: String,
    pub ip_address: Personal<String>,
}
event_impl!(PageViewed, 0, [url, ip_address], routes [Warehouse, Mixpanel], purposes [ProductAnalytics]);

#[derive(Debug)]
pub struct SignupCompleted {
    pub plan_tier: PlanTier,
    pub age: Personal<i64>,
    pub newsletter: bool,
}
event_impl!(SignupCompleted, 1, [plan_tier, age, newsletter], routes [Warehouse, Mixpanel], purposes [ProductAnalytics]);

#[derive(Debug)]
pub struct ProductViewed {
    pub product_id: String,
    pub price: f64,
    pub currency: Currency,
}
event_impl!(ProductViewed, 2, [product_id, price, currency], routes [Warehouse, Mixpanel, Ads], purposes [ProductAnalytics, Advertising]);

#[derive(Debug)]
pub struct SearchPerformed {
    pub query: Personal<String>,
    pub result_count: u32,
}
event_impl!(SearchPerformed, 3, [query, result_count], routes [Warehouse, Mixpanel], purposes [ProductAnalytics]);

#[derive(Debug)]
pub struct LoginFailed {
    pub email: Personal<String>,
    pub ip_address: Personal<String>,
    pub attempt: u32,
}
event_impl!(
    LoginFailed,
    4,
    [email, ip_address, attempt],
    routes[SecurityLog],
    purposes[Security]
);

#[derive(Debug)]
pub struct SupportTicketOpened {
    pub topic: Topic,
    pub order_count: u32,
}
event_impl!(
    SupportTicketOpened,
    5,
    [topic, order_count],
    routes[SupportDesk],
    purposes[CustomerSupport]
);

#[derive(Debug, Clone)]
pub struct CheckoutCompleted {
    pub revenue: f64,
    pub currency: Currency,
    pub item_count: u32,
    pub product_ids: Vec<String>,
    pub coupon_codes: Option<Vec<String>>,
    pub ordered_at: Timestamp,
}
event_impl!(CheckoutCompleted, 6, [revenue, currency, item_count, product_ids, coupon_codes, ordered_at], routes [Warehouse, Mixpanel, Ads], purposes [ProductAnalytics, Advertising]);

/// An event of `OTHER_PLAN`, for the wrong-plan check.
#[derive(Debug)]
pub struct BlogRead;
static BLOG_READ: EventInfo = event("blog_read", "Blog Read", 1, 1, &[]);
impl Sealed for BlogRead {}
impl Event for BlogRead {
    type Purposes = purpose::BlogAnalytics;
    const PLAN: &'static PlanInfo = &OTHER_PLAN;
    const INFO: &'static EventInfo = &BLOG_READ;
}
impl WriteProperties for BlogRead {
    fn write_properties(&self, _: &mut PropertyWriter<'_>) {}
}

pub fn key() -> Key {
    Key::from_hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        .unwrap_or_else(|e| panic!("{e}"))
}

pub fn product(id: &str) -> ProductViewed {
    ProductViewed {
        product_id: id.into(),
        price: 19.99,
        currency: Currency::Eur,
    }
}

pub fn login_failed(email: &str) -> LoginFailed {
    LoginFailed {
        email: email.to_string().into(),
        ip_address: "198.51.100.23".to_string().into(),
        attempt: 1,
    }
}

/// A sink with a gate: `deliver` blocks while the gate is closed, and a script of outcomes
/// (then `Delivered`). Records what it delivered and each call.
#[derive(Clone, Default)]
pub struct Gated {
    inner: Arc<(Mutex<GateState>, Condvar)>,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    waiting: usize,
    script: VecDeque<Outcome>,
    delivered: Vec<Envelope>,
    calls: usize,
    retry: Option<RetryPolicy>,
    max_events: Option<usize>,
    max_bytes: Option<usize>,
    batch_sizes: Vec<usize>,
    flushes: usize,
}

impl Gated {
    pub fn new() -> Gated {
        Gated::default()
    }

    pub fn closed() -> Gated {
        let g = Gated::default();
        g.close();
        g
    }

    pub fn with_retry(self, policy: RetryPolicy) -> Gated {
        self.state().retry = Some(policy);
        self
    }

    pub fn with_max_events(self, n: usize) -> Gated {
        self.state().max_events = Some(n);
        self
    }

    pub fn with_max_bytes(self, n: usize) -> Gated {
        self.state().max_bytes = Some(n);
        self
    }

    /// The number of events of each `deliver` call, in order.
    pub fn batch_sizes(&self) -> Vec<usize> {
        self.state().batch_sizes.clone()
    }

    pub fn script(&self, outcomes: impl IntoIterator<Item = Outcome>) {
        self.state().script.extend(outcomes);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn close(&self) {
        self.state().closed = true;
    }

    pub fn open(&self) {
        self.state().closed = false;
        self.inner.1.notify_all();
    }

    /// Waits (bounded) until a delivery is blocked at the gate.
    pub fn wait_until_blocked(&self) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut st = self.state();
        while st.waiting == 0 {
            let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) else {
                return false;
            };
            st = self
                .inner
                .1
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    pub fn delivered(&self) -> Vec<Envelope> {
        self.state().delivered.clone()
    }

    pub fn calls(&self) -> usize {
        self.state().calls
    }

    pub fn flushes(&self) -> usize {
        self.state().flushes
    }
}

impl Sink for Gated {
    fn limits(&self) -> trackplan_runtime::config::BatchLimits {
        let mut l = trackplan_runtime::config::BatchLimits::default();
        if let Some(n) = self.state().max_events {
            l.max_events = n;
        }
        if let Some(n) = self.state().max_bytes {
            l.max_bytes = n;
        }
        l
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.state().retry.unwrap_or_default()
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        let (lock, cv) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
        st.calls += 1;
        st.batch_sizes.push(batch.len());
        st.waiting += 1;
        cv.notify_all();
        while st.closed {
            st = cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.waiting -= 1;
        let outcome = st.script.pop_front().unwrap_or(Outcome::Delivered);
        match &outcome {
            Outcome::Delivered => st.delivered.extend_from_slice(batch),
            Outcome::Partial { failed } => {
                let bad: Vec<usize> = failed.iter().map(|(i, _)| *i).collect();
                st.delivered.extend(
                    batch
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !bad.contains(i))
                        .map(|(_, e)| e.clone()),
                );
            }
            _ => {}
        }
        outcome
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.state().flushes += 1;
        Ok(())
    }

    fn erase(&mut self, ids: &[String]) -> Erasure {
        self.state()
            .delivered
            .retain(|e| !ids.iter().any(|i| **i == *e.distinct_id));
        Erasure::Erased
    }
}

/// A tracker with a `Gated` sink per destination, returned in plan order.
pub fn gated_tracker(
    configure: impl FnOnce(trackplan_runtime::TrackerBuilder) -> trackplan_runtime::TrackerBuilder,
) -> (trackplan_runtime::Tracker, [Gated; 5]) {
    let sinks: [Gated; 5] = Default::default();
    let builder = trackplan_runtime::Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, sinks[0].clone())
        .sink(destination::Mixpanel, sinks[1].clone())
        .sink(destination::Ads, sinks[2].clone())
        .sink(destination::SecurityLog, sinks[3].clone())
        .sink(destination::SupportDesk, sinks[4].clone())
        // Short batching delays keep the tests quick; events still queue while a gate is closed.
        .max_delay(Duration::from_millis(5));
    let tracker = configure(builder).build().unwrap_or_else(|e| panic!("{e}"));
    (tracker, sinks)
}

/// A fresh path in a per-test directory under the system temp dir.
pub fn temp_path(test: &str, file: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("trackplan-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    dir.join(file)
}

pub trait OrPanic<T> {
    fn or_panic(self) -> T;
}

impl<T, E: std::fmt::Display> OrPanic<T> for Result<T, E> {
    #[track_caller]
    fn or_panic(self) -> T {
        self.unwrap_or_else(|e| panic!("{e}"))
    }
}
