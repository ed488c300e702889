//! Shared by the destination tests: a contract-checking server, the fixture plans, envelopes,
//! and a log recorder.
//!
//! A test crate that declares `mod support;` also declares `mod fixture;` and, because the
//! generated code names `::trackplan::…`, `extern crate trackplan_runtime as trackplan;` at its
//! root.
#![allow(dead_code)] // each test binary uses its own part

pub mod amplitude_server;
#[cfg(feature = "kafka")]
pub mod broker;
pub mod logs;
pub mod posthog;
pub mod profiles;
pub mod regulations_server;
pub mod server;
pub mod stub;

use std::sync::atomic::{AtomicU64, Ordering};
use trackplan_runtime::Envelope;
use trackplan_runtime::info::{PlanInfo, PurposeSet};

/// A plan with no IP-address property (the fixture's blog plan): Mixpanel gets `"ip": 0`.
#[allow(unused_imports)]
pub use crate::fixture::blog::PLAN;
/// A plan that declares an IP-address property (the fixture's shop plan): no `"ip": 0`.
#[allow(unused_imports)]
pub use crate::fixture::shop::PLAN as PLAN_WITH_IP;

/// A stand-in server's view of a request's headers: (name, value) pairs, in order.
pub fn headers(request: &tiny_http::Request) -> Vec<(String, String)> {
    request
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_owned(),
                h.value.as_str().to_owned(),
            )
        })
        .collect()
}

/// Reads a request's body, as a stand-in server does first: the bytes, and the contract
/// violation to report when it could not be read whole.
pub fn read_body(request: &mut tiny_http::Request) -> (Vec<u8>, Option<String>) {
    let mut body = Vec::new();
    let unread = std::io::Read::read_to_end(request.as_reader(), &mut body)
        .err()
        .map(|_| "could not read the request body".to_owned());
    (body, unread)
}

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A fresh insert id in the destination's pattern (36 characters of `[0-9a-f-]`).
pub fn insert_id() -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}-0000-4000-8000-{:012x}", std::process::id(), n)
}

/// An envelope of `plan` with the given properties object.
pub fn envelope_with(plan: &'static PlanInfo, properties: String) -> Envelope {
    Envelope {
        message: trackplan_runtime::Message::TRACK,
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
