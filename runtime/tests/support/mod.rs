//! Shared by the destination tests: a contract-checking server, a fixture plan, envelopes,
//! and a log recorder.
#![allow(dead_code)] // each test binary uses its own part

pub mod logs;
pub mod server;

use std::sync::atomic::{AtomicU64, Ordering};
use trackplan_runtime::Envelope;
use trackplan_runtime::info::{
    DestinationInfo, DestinationSet, IdentityTransform, LegalBasis, PlanInfo, PropertyInfo,
    PurposeInfo, PurposeSet, Sensitivity, TransformInfo, ValueKind,
};

const fn property(
    name: &'static str,
    json_key: &'static str,
    category: Option<&'static str>,
) -> PropertyInfo {
    trackplan_runtime::__private::property(
        name,
        name,
        json_key,
        ValueKind::String,
        Sensitivity::Internal,
        category,
        TransformInfo::None,
        true,
        trackplan_runtime::__private::constraints(None, None, None),
    )
}

static PURPOSES: [PurposeInfo; 1] = [trackplan_runtime::__private::purpose_info(
    "product_analytics",
    "See which features are used.",
    LegalBasis::Consent,
    "analytics.reporting",
    Some(395),
    false,
)];

static DESTINATIONS: [DestinationInfo; 1] = [trackplan_runtime::__private::destination_info(
    "mixpanel",
    "mixpanel",
    "Product analytics.",
    PurposeSet::from_bits(1),
    true,
)];

/// A plan with no IP-address property: Mixpanel gets `"ip": 0`.
pub static PLAN: PlanInfo = trackplan_runtime::__private::plan_info(
    "fixture",
    1,
    "fixture@1",
    "0",
    IdentityTransform::Hmac,
    &PURPOSES,
    &DESTINATIONS,
    &[trackplan_runtime::__private::event_info(
        "page_viewed",
        "Page Viewed",
        PurposeSet::from_bits(1),
        DestinationSet::from_bits(1),
        &[property("URL", "\"URL\":", None)],
    )],
);

/// The same plan with an IP-address property declared: no `"ip": 0`.
pub static PLAN_WITH_IP: PlanInfo = trackplan_runtime::__private::plan_info(
    "fixture_ip",
    1,
    "fixture_ip@1",
    "1",
    IdentityTransform::Hmac,
    &PURPOSES,
    &DESTINATIONS,
    &[trackplan_runtime::__private::event_info(
        "page_viewed",
        "Page Viewed",
        PurposeSet::from_bits(1),
        DestinationSet::from_bits(1),
        &[
            property("URL", "\"URL\":", None),
            property(
                "IP Address",
                "\"IP Address\":",
                Some("user.device.ip_address"),
            ),
        ],
    )],
);

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A fresh insert id in the destination's pattern (36 characters of `[0-9a-f-]`).
pub fn insert_id() -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), n)
}

/// An envelope of `plan` with the given properties object.
pub fn envelope_with(plan: &'static PlanInfo, properties: String) -> Envelope {
    Envelope {
        event: "Page Viewed",
        insert_id: insert_id(),
        time_ms: 1_700_000_000_000 + i64::try_from(NEXT.load(Ordering::Relaxed)).unwrap_or(0),
        distinct_id: "9f86d081884c7d659a2feaa0c55ad015".into(),
        plan,
        purposes: PurposeSet::from_bits(1),
        properties: properties.into(),
    }
}

/// `n` small envelopes of [`PLAN`].
pub fn envelopes(n: usize) -> Vec<Envelope> {
    (0..n)
        .map(|i| envelope_with(&PLAN, format!(r#"{{"URL":"https://shop.example/p/{i}"}}"#)))
        .collect()
}
