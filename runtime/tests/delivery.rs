//! End to end through the `Tracker`: consent, queue, worker, retries and the HTTP sinks,
//! against contract-checking stand-ins that inject faults.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;
mod support;

use common::{PageViewed, destination, key, product, purpose};
use std::collections::HashSet;
use std::time::{Duration, Instant};
use support::server::{Fault, TestServer};
use trackplan_runtime::config::{Overflow, RetryPolicy};
use trackplan_runtime::error::FlushError;
use trackplan_runtime::requests::{Access, Erasure};
use trackplan_runtime::sinks::{Mixpanel, Segment};
use trackplan_runtime::{Consent, Tracker, TrackerBuilder};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const WRITE_KEY: &str = "wk_e2e";

/// Short waits so tests stay fast; the defaults (2 s → 60 s) are tested in the sinks' units.
const FAST: RetryPolicy = RetryPolicy {
    initial_backoff: Duration::from_millis(20),
    max_backoff: Duration::from_millis(100),
    max_retries: 10,
};

fn mixpanel(server: &TestServer) -> Mixpanel {
    Mixpanel::new(TOKEN)
        .base_url(server.url())
        .timeout(Duration::from_millis(400))
        .retry_policy(FAST)
}

fn tracker(mixpanel: Mixpanel, segment: Segment) -> TrackerBuilder {
    Tracker::builder(&common::PLAN)
        .key(key())
        .sink(destination::Mixpanel, mixpanel)
        .sink(destination::Ads, segment)
        .skip(destination::Warehouse)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .max_delay(Duration::from_millis(5))
        .flush_timeout(Duration::from_secs(20))
}

fn page(i: usize) -> PageViewed {
    PageViewed {
        url: format!("https://shop.example/p/{i}?utm=x"),
        ip_address: "203.0.113.77".to_string().into(),
    }
}

#[test]
fn after_faults_clear_every_consented_event_arrives_exactly_once() {
    let mp = TestServer::mixpanel(TOKEN);
    let seg = TestServer::segment(WRITE_KEY);
    mp.script([
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
        Fault::Slow(Duration::from_millis(1200)),
        Fault::Reset,
        Fault::RejectFirst(2),
    ]);
    seg.script([
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
        Fault::Reset,
    ]);
    let tracker = tracker(
        mixpanel(&mp),
        Segment::new(WRITE_KEY)
            .base_url(seg.url())
            .timeout(Duration::from_millis(400))
            .retry_policy(FAST),
    )
    .build()
    .expect("tracker");

    let analytics = Consent::none().grant(purpose::ProductAnalytics);
    let everything = analytics.grant(purpose::Advertising);
    let alice = tracker.subject("alice", analytics);
    let bob = tracker.subject("bob", everything);
    let carol = tracker.subject("carol", Consent::none());
    for i in 0..40 {
        alice.track(page(i));
        bob.track(product(&format!("sku-{i}")));
        carol.track(page(i)); // no consent: never leaves the process
    }
    // The two records Mixpanel rejected are reported by the flush.
    match tracker.flush() {
        Err(FlushError::Failed {
            destination,
            events,
            ..
        }) => assert_eq!((destination, events), ("mixpanel", 2)),
        other => panic!("expected Mixpanel's two rejected records: {other:?}"),
    }

    mp.assert_no_violations();
    seg.assert_no_violations();
    assert_eq!(mp.faults_left(), 0, "every fault was played");
    let stats = tracker.stats();
    let m = stats.destination("mixpanel").expect("mixpanel stats");
    let s = stats.destination("ads").expect("ads stats");

    // Mixpanel: alice's 40 pages and bob's 40 products; carol's 40 dropped by consent.
    let counts = mp.accepted_counts();
    assert!(
        counts.values().all(|&n| n == 1),
        "an insert id arrived twice"
    );
    assert_eq!(m.accepted, 120);
    assert_eq!(m.dropped_consent, 40);
    assert_eq!(
        m.delivered as usize,
        counts.len(),
        "delivered = what the server kept"
    );
    assert_eq!(
        m.failed, 2,
        "the two records the server rejected, never retried"
    );
    assert_eq!(m.delivered + m.failed, 80);
    assert!(m.retried > 0);
    let distinct: HashSet<String> = mp.accepted().into_iter().map(|a| a.distinct_id).collect();
    assert_eq!(distinct.len(), 2, "alice and bob, not carol");
    assert!(
        distinct
            .iter()
            .all(|d| !d.contains("alice") && !d.contains("bob"))
    );
    let alice_page = mp
        .accepted()
        .into_iter()
        .find(|a| a.event == "Page Viewed")
        .expect("a page view");
    assert_eq!(
        alice_page.properties["URL"]
            .as_str()
            .map(|u| u.contains("utm")),
        Some(false)
    );

    // Segment (advertising): only bob consented.
    let counts = seg.accepted_counts();
    assert_eq!(counts.len(), 40);
    assert!(counts.values().all(|&n| n == 1));
    assert_eq!(s.delivered, 40);
    assert_eq!(s.failed, 0);
    assert_eq!(s.dropped_consent, 0, "pages are not routed to ads at all");
    tracker.shutdown().expect("shutdown");
}

#[test]
fn nothing_is_retried_after_a_permanent_error() {
    let mp = TestServer::mixpanel(TOKEN);
    mp.script([Fault::Status(401)]);
    let seg = TestServer::segment(WRITE_KEY);
    let tracker = tracker(mixpanel(&mp), Segment::new(WRITE_KEY).base_url(seg.url()))
        .build()
        .expect("tracker");
    let alice = tracker.subject("alice", Consent::none().grant(purpose::ProductAnalytics));
    for i in 0..10 {
        alice.track(page(i));
    }
    match tracker.flush() {
        Err(e @ FlushError::Failed { .. }) => assert!(e.to_string().contains("`mixpanel`")),
        other => panic!("expected the 401 to be reported: {other:?}"),
    }
    let m = *tracker.stats().destination("mixpanel").expect("stats");
    assert_eq!((m.failed, m.delivered, m.retried), (10, 0, 0));
    assert_eq!(mp.seen().len(), 1, "one request, no retry");
    assert!(mp.accepted().is_empty());

    // The next events are sent normally: a 401 fails its batch, not the sink.
    alice.track(page(99));
    tracker.flush().expect("flush");
    assert_eq!(mp.accepted().len(), 1);
    assert_eq!(mp.seen().len(), 2);
}

#[test]
fn shutdown_with_an_unreachable_destination_keeps_its_deadline_and_reports() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let unreachable = Mixpanel::new(TOKEN)
        .base_url(format!("http://127.0.0.1:{port}"))
        .timeout(Duration::from_millis(200))
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            max_retries: 1000,
        });
    let seg = TestServer::segment(WRITE_KEY);
    let deadline = Duration::from_millis(800);
    let tracker = tracker(unreachable, Segment::new(WRITE_KEY).base_url(seg.url()))
        .flush_timeout(deadline)
        .overflow(Overflow::DropNewest)
        .build()
        .expect("tracker");
    let alice = tracker.subject("alice", Consent::none().grant(purpose::ProductAnalytics));
    for i in 0..7 {
        alice.track(page(i));
    }
    let started = Instant::now();
    let result = tracker.shutdown();
    let took = started.elapsed();
    assert!(
        matches!(result, Err(FlushError::Timeout { pending: 7, .. })),
        "{result:?}"
    );
    // Generous slack for a loaded machine; the point is that it does not wait for the
    // 1000 retries.
    assert!(took < deadline + Duration::from_secs(3), "took {took:?}");
    let m = *tracker.stats().destination("mixpanel").expect("stats");
    assert_eq!(
        (m.delivered, m.failed),
        (0, 7),
        "undelivered events are reported as failed"
    );
    assert!(m.retried >= 7);
}

#[test]
fn request_access_and_forget_reach_each_destination_as_it_can() {
    let mp = TestServer::mixpanel(TOKEN);
    let seg = TestServer::segment(WRITE_KEY);
    let path = common::temp_path("access", "warehouse.ndjson");
    let tracker = Tracker::builder(&common::PLAN)
        .key(key())
        .sink(
            destination::Warehouse,
            trackplan_runtime::sinks::Ndjson::create(&path).expect("file"),
        )
        .sink(
            destination::Mixpanel,
            mixpanel(&mp).gdpr_api_token("gdpr-oauth-token"),
        )
        .sink(
            destination::Ads,
            Segment::new(WRITE_KEY)
                .base_url(seg.url())
                .retry_policy(FAST),
        )
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .max_delay(Duration::from_millis(5))
        .build()
        .expect("tracker");
    let consent = Consent::none().grant(purpose::ProductAnalytics);
    let (ann, ben) = (
        tracker.subject("ann", consent),
        tracker.subject("ben", consent),
    );
    for i in 0..3 {
        ann.track(page(i));
        ben.track(page(10 + i));
    }
    tracker.flush().expect("flush");

    let report = tracker.request_access("ann").expect("access");
    let ann_id = ann.distinct_id();
    match report.destination("warehouse") {
        Some(Access::Records { records, source }) => {
            assert_eq!(records.len(), 3, "ann's lines, not ben's");
            for r in records {
                let v: serde_json::Value = serde_json::from_str(r).expect("a JSON line");
                assert_eq!(v["distinct_id"], ann_id);
                assert_eq!(v["event"], "Page Viewed");
            }
            assert_eq!(source.as_deref(), Some(&*path.display().to_string()));
        }
        other => panic!("warehouse: {other:?}"),
    }
    let retrievals: Vec<_> = mp
        .seen()
        .into_iter()
        .filter(|s| s.path == "/api/app/data-retrievals/v3.0/")
        .collect();
    assert_eq!(retrievals.len(), 1);
    assert_eq!(
        retrievals[0].body["distinct_ids"],
        serde_json::json!([ann_id])
    );
    assert_eq!(
        report.destination("mixpanel"),
        Some(&Access::Requested {
            reference: Some("retrieval-1".into())
        }),
        "the tracking id Mixpanel's API returned"
    );
    assert_eq!(report.destination("ads"), Some(&Access::NotSupported));
    assert_eq!(
        report.destination("security_log"),
        Some(&Access::NothingStored)
    );
    let debug = format!("{report:?}");
    assert!(
        !debug.contains(ann_id) && !debug.contains("shop.example"),
        "Debug shows counts, not the subject's data: {debug}"
    );

    let forgotten = tracker.forget("ann").expect("forget");
    let answers: Vec<(&str, Erasure)> = forgotten.destinations;
    assert_eq!(
        answers,
        [
            ("warehouse", Erasure::Erased),
            (
                "mixpanel",
                Erasure::Requested {
                    reference: Some("deletion-2".into())
                }
            ),
            ("ads", Erasure::NotSupported),
            ("security_log", Erasure::NothingStored),
            ("support_desk", Erasure::NothingStored),
        ]
    );
    mp.assert_no_violations(); // includes the GDPR API's one request per second
    let file = std::fs::read_to_string(&path).expect("read");
    assert!(!file.contains(ann_id) && file.contains(ben.distinct_id()));
    tracker.shutdown().expect("shutdown");
}
