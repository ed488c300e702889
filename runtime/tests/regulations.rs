//! Erasure for the Segment-compatible sink through the regulations APIs (Segment's Public API,
//! RudderStack's data regulation API), against contract-checking stand-ins on 127.0.0.1
//! (`support/regulations_server.rs`).

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod fixture;
mod support;

use fixture::shop::{self, destination, purpose};
use std::time::Duration;
use support::regulations_server::{self, Regulations as Contract};
use support::server::TestServer;
use support::stub::{Fault, Stub};
use trackplan_runtime::config::RetryPolicy;
use trackplan_runtime::requests::{Access, Erasure};
use trackplan_runtime::sinks::{RudderStackRegulations, Segment, SegmentRegulations};
use trackplan_runtime::{Consent, Key, Sink, Tracker};

const WRITE_KEY: &str = "wk_2bQ8nR";
const SEGMENT_TOKEN: &str = "sgp_workspace_T0k3n";
const RUDDER_TOKEN: &str = "rs_pat_9XyZ";

const FAST: RetryPolicy = RetryPolicy {
    initial_backoff: Duration::from_millis(5),
    max_backoff: Duration::from_millis(20),
    max_retries: 4,
};

fn handlers(api: &Stub<Contract>) -> (SegmentRegulations, RudderStackRegulations) {
    (
        SegmentRegulations::new(SEGMENT_TOKEN)
            .base_url(api.url())
            .retry_policy(FAST),
        RudderStackRegulations::new(RUDDER_TOKEN, ["2Kd9destination"])
            .base_url(api.url())
            .retry_policy(FAST),
    )
}

fn key() -> Key {
    Key::from_hex(&"5a".repeat(32)).expect("a key")
}

#[test]
fn forget_files_a_regulation_with_each_handler_and_reports_both() {
    let collector = TestServer::segment(WRITE_KEY);
    let api = regulations_server::start(SEGMENT_TOKEN, RUDDER_TOKEN);
    let (segment, rudder) = handlers(&api);
    let sink = Segment::new(WRITE_KEY)
        .base_url(collector.url())
        .erase_with(segment)
        .erase_with(rudder);
    let tracker = Tracker::builder(&shop::PLAN)
        .key(key())
        .sink(destination::Ads, sink)
        .skip(destination::Warehouse)
        .skip(destination::Mixpanel)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .build()
        .expect("a tracker");
    let user = tracker.subject("user-77", Consent::none().grant(purpose::Advertising));
    let distinct_id = user.distinct_id().to_owned();

    let report = tracker.forget("user-77").expect("forget");
    let ads = report.destinations.iter().find(|(d, _)| *d == "ads");
    assert_eq!(
        ads.map(|(_, e)| e),
        Some(&Erasure::Requested {
            reference: Some(
                "segment SUPPRESS_WITH_DELETE segment-reg-1, rudderstack suppress_with_delete rudderstack-reg-2"
                    .into()
            )
        })
    );
    let created = api.contract.created();
    assert_eq!(created.len(), 2);
    assert_eq!(created[0].user_ids, std::slice::from_ref(&distinct_id));
    assert_eq!(created[1].user_ids, [distinct_id]);
    assert_eq!(created[1].body["destinationIds"][0], "2Kd9destination");
    api.assert_no_violations();
    assert!(
        collector.seen().is_empty(),
        "the Tracking API was not asked to delete"
    );

    let access = tracker.request_access("user-77").expect("request_access");
    assert_eq!(access.destination("ads"), Some(&Access::NotSupported));
}

#[test]
fn ids_are_split_at_each_apis_limit() {
    let api = regulations_server::start(SEGMENT_TOKEN, RUDDER_TOKEN);
    let (segment, rudder) = handlers(&api);
    let ids: Vec<String> = (0..5001).map(|i| format!("k1:{i:064x}")).collect();
    let mut sink = Segment::new(WRITE_KEY).erase_with(segment.clone());
    assert!(matches!(sink.erase(&ids), Erasure::Requested { .. }));
    let sizes: Vec<usize> = api
        .contract
        .created()
        .iter()
        .map(|r| r.user_ids.len())
        .collect();
    assert_eq!(sizes, [5000, 1]);

    let mut sink = Segment::new(WRITE_KEY).erase_with(rudder);
    assert!(matches!(sink.erase(&ids[..250]), Erasure::Requested { .. }));
    let sizes: Vec<usize> = api.contract.created()[2..]
        .iter()
        .map(|r| r.user_ids.len())
        .collect();
    assert_eq!(sizes, [100, 100, 50]);
    api.assert_no_violations();
}

#[test]
fn unavailable_apis_are_retried_and_refusals_are_reported_with_what_was_done() {
    let api = regulations_server::start(SEGMENT_TOKEN, RUDDER_TOKEN);
    let (segment, rudder) = handlers(&api);
    let mut sink = Segment::new(WRITE_KEY)
        .erase_with(segment)
        .erase_with(rudder);
    api.script_path(
        "/regulations",
        [
            Fault::Status(503),
            Fault::TooManyRequests {
                retry_after_secs: 0,
            },
        ],
    );
    assert!(matches!(
        sink.erase(&["k1:aa".into()]),
        Erasure::Requested { .. }
    ));

    api.script_path("/v2/regulations", [Fault::Status(401)]);
    let Erasure::Failed { reason } = sink.erase(&["k1:bb".into()]) else {
        panic!("a refused regulation fails the erasure");
    };
    assert!(
        reason.contains("RudderStack") && reason.contains("401"),
        "{reason}"
    );
    assert!(
        reason.contains("already requested: segment SUPPRESS_WITH_DELETE"),
        "{reason}"
    );
    assert!(
        !reason.contains("k1:bb"),
        "the reason names no id: {reason}"
    );
    let rudder_calls = api
        .seen()
        .iter()
        .filter(|s| s.request.path == "/v2/regulations")
        .count();
    assert_eq!(rudder_calls, 2, "the 401 was not retried");
    assert_eq!(api.faults_left(), 0);
}

#[test]
fn without_handlers_nothing_is_sent_and_tokens_never_show() {
    let mut plain = Segment::new(WRITE_KEY);
    assert_eq!(plain.erase(&["k1:aa".into()]), Erasure::NotSupported);
    assert!(plain.privacy().is_none());
    let api = regulations_server::start(SEGMENT_TOKEN, RUDDER_TOKEN);
    let (segment, rudder) = handlers(&api);
    let mut sink = Segment::new(WRITE_KEY)
        .erase_with(segment)
        .erase_with(rudder);
    let debug = format!("{sink:?}");
    for secret in [WRITE_KEY, SEGMENT_TOKEN, RUDDER_TOKEN] {
        assert!(!debug.contains(secret), "{debug}");
    }
    assert!(
        sink.privacy().is_some(),
        "the regulations run on a privacy thread"
    );
}
