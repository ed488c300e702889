//! Shared by the destination tests: a contract-checking server, a fixture plan, envelopes,
//! and a log recorder.
#![allow(dead_code)] // each test binary uses its own part

pub mod logs;
pub mod server;

use std::sync::atomic::{AtomicU64, Ordering};
use trackplan_runtime::{
    Constraints, DestinationInfo, DestinationSet, Envelope, EventInfo, IdentityInfo, LegalBasis,
    PlanInfo, PropertyInfo, PurposeInfo, PurposeSet, Sensitivity, TransformInfo, ValueKind,
};

const fn property(
    name: &'static str,
    json_key: &'static str,
    category: Option<&'static str>,
) -> PropertyInfo {
    PropertyInfo {
        id: name,
        name,
        json_key,
        kind: ValueKind::String,
        sensitivity: Sensitivity::Internal,
        category,
        transform: TransformInfo::None,
        required: true,
        constraints: Constraints {
            max_length: None,
            min: None,
            max: None,
        },
    }
}

static PURPOSES: [PurposeInfo; 1] = [PurposeInfo {
    id: "product_analytics",
    description: "See which features are used.",
    basis: LegalBasis::Consent,
    data_use: "analytics.reporting",
    retention_days: Some(395),
    sale_or_share: false,
}];

static DESTINATIONS: [DestinationInfo; 1] = [DestinationInfo {
    id: "mixpanel",
    kind: "mixpanel",
    description: "Product analytics.",
    purposes: PurposeSet::from_bits(1),
    third_party: true,
}];

/// A plan with no IP-address property: Mixpanel gets `"ip": 0`.
pub static PLAN: PlanInfo = PlanInfo {
    name: "fixture",
    version: 1,
    label: "fixture@1",
    hash: "0",
    identity: IdentityInfo::Hmac,
    purposes: &PURPOSES,
    destinations: &DESTINATIONS,
    events: &[EventInfo {
        id: "page_viewed",
        name: "Page Viewed",
        purposes: PurposeSet::from_bits(1),
        destinations: DestinationSet::from_bits(1),
        properties: &[property("URL", "\"URL\":", None)],
    }],
};

/// The same plan with an IP-address property declared: no `"ip": 0`.
pub static PLAN_WITH_IP: PlanInfo = PlanInfo {
    name: "fixture_ip",
    version: 1,
    label: "fixture_ip@1",
    hash: "1",
    identity: IdentityInfo::Hmac,
    purposes: &PURPOSES,
    destinations: &DESTINATIONS,
    events: &[EventInfo {
        id: "page_viewed",
        name: "Page Viewed",
        purposes: PurposeSet::from_bits(1),
        destinations: DestinationSet::from_bits(1),
        properties: &[
            property("URL", "\"URL\":", None),
            property(
                "IP Address",
                "\"IP Address\":",
                Some("user.device.ip_address"),
            ),
        ],
    }],
};

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
