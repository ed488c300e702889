//! Entry points for the fuzz targets in `fuzz/` to reach private decoders. Compiled only with
//! the `fuzzing` feature, which is off by default, so a normal build's API does not grow.

#[cfg(feature = "http")]
use std::time::{Duration, SystemTime};

#[cfg(feature = "http")]
use crate::plan::PlanInfo;

/// Decodes a spool segment's bytes after its magic: `(records, bytes they take)`.
pub fn spool_records(bytes: &[u8]) -> (usize, usize) {
    crate::spool::decode_records(bytes)
}

/// Parses a `Retry-After` header value at `now` (seconds since the epoch; `None` when the
/// platform's clock cannot hold that time).
#[cfg(feature = "http")]
pub fn retry_after(value: &str, now: u64) -> Option<Duration> {
    let now = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(now))?;
    crate::http::parse_retry_after(value, now)
}

/// Reads a Mixpanel `/import` response to a request of events with `insert_ids` (built from
/// `plan`'s first event). Returns the positions the response names as failed; they are
/// always positions of the request.
#[cfg(feature = "http")]
pub fn mixpanel_import(
    plan: &'static PlanInfo,
    status: u16,
    body: &[u8],
    insert_ids: &[&str],
) -> Vec<usize> {
    let envelopes: Vec<crate::Envelope> = insert_ids.iter().map(|id| envelope(plan, id)).collect();
    let members: Vec<&crate::Envelope> = envelopes.iter().collect();
    match crate::sinks::mixpanel::import::import_verdict(status, None, body, &members) {
        crate::http::Verdict::Partial(failed) => failed.into_iter().map(|(i, _)| i).collect(),
        _ => Vec::new(),
    }
}

/// What the Segment sink makes of a batch response's status.
#[cfg(feature = "http")]
pub fn segment_batch(status: u16, retry_after: Option<Duration>) -> bool {
    matches!(
        crate::sinks::segment::batch_verdict(status, retry_after),
        crate::http::Verdict::Accepted
    )
}

#[cfg(feature = "http")]
fn envelope(plan: &'static PlanInfo, insert_id: &str) -> crate::Envelope {
    crate::Envelope {
        message: crate::Message::TRACK,
        event: plan.events.first().map_or("", |e| e.name),
        insert_id: insert_id.to_owned(),
        time_ms: 0,
        distinct_id: "fuzz".into(),
        plan,
        purposes: crate::plan::PurposeSet::EMPTY,
        properties: "{}".into(),
    }
}
