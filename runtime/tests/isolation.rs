//! Destinations deliver on their own: one that holds its responses, refuses connections or
//! keeps answering a privacy request with 503 delays only itself, and a privacy request that
//! is held or retried delays not even its own destination's deliveries. Every event stays
//! accounted for: `accepted = delivered + failed + dropped + skipped + pending`, none lost,
//! none twice.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;
mod support;

use common::{PageViewed, destination, key, product, purpose};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use support::server::{Fault, TestServer};
use trackplan_runtime::config::RetryPolicy;
use trackplan_runtime::error::FlushError;
use trackplan_runtime::requests::{Access, Erasure, PrivacyApi};
use trackplan_runtime::sinks::{Mixpanel, Segment};
use trackplan_runtime::stats::Counts;
use trackplan_runtime::{Consent, Envelope, Outcome, Sink, Tracker};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const WRITE_KEY: &str = "wk_isolation";
const EVENTS: usize = 50;
/// Where Mixpanel's GDPR API is, under the stand-in's base URL.
const GDPR_API: &str = "/api/app/";

/// Liveness, never timing: how long a test waits for something that takes milliseconds.
const GENEROUS: Duration = Duration::from_secs(30);

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < GENEROUS, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Mixpanel (A, under test) and Segment as `ads` (B); the other destinations skipped.
fn tracker(a: Mixpanel, b: &TestServer) -> Tracker {
    Tracker::builder(&common::PLAN)
        .key(key())
        .skip(destination::Warehouse)
        .sink(destination::Mixpanel, a)
        .sink(
            destination::Ads,
            Segment::new(WRITE_KEY)
                .base_url(b.url())
                .retry_policy(RetryPolicy::NEVER),
        )
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .max_delay(Duration::from_millis(5))
        .flush_timeout(GENEROUS)
        .build()
        .expect("tracker")
}

fn everything() -> Consent {
    Consent::none()
        .grant(purpose::ProductAnalytics)
        .grant(purpose::Advertising)
}

/// Tracks `EVENTS` products (routed to both destinations) for one subject.
fn track_products(tracker: &Tracker) {
    let bob = tracker.subject("bob", everything());
    for i in 0..EVENTS {
        bob.track(product(&format!("sku-{i}")));
    }
}

/// Every event of the destination is accounted for and nothing is pending.
fn settled(counts: &Counts) {
    assert_eq!(
        counts.accepted,
        counts.delivered + counts.failed + counts.dropped() + counts.skipped + counts.pending(),
        "{counts:?}"
    );
    assert_eq!(counts.pending(), 0, "{counts:?}");
}

fn once_each(server: &TestServer) -> usize {
    let counts: HashMap<String, usize> = server.accepted_counts();
    assert!(
        counts.values().all(|&n| n == 1),
        "an insert id arrived twice"
    );
    counts.len()
}

#[test]
fn a_destination_holding_its_responses_does_not_delay_the_others() {
    let a = TestServer::mixpanel(TOKEN);
    let b = TestServer::segment(WRITE_KEY);
    a.hold();
    let tracker = tracker(
        Mixpanel::new(TOKEN)
            .base_url(a.url())
            .timeout(Duration::from_secs(120))
            .retry_policy(RetryPolicy::NEVER),
        &b,
    );
    // First A is busy: a page view (routed to Mixpanel alone here) is held at its server.
    let bob = tracker.subject("bob", everything());
    bob.track(PageViewed {
        url: "https://shop.example/".into(),
        ip_address: "203.0.113.7".to_string().into(),
    });
    wait_until("A's request to be held", || a.held_requests() > 0);
    track_products(&tracker);

    wait_until("B to receive every event", || b.accepted().len() == EVENTS);
    assert!(a.held_requests() > 0, "A is still held");
    assert!(a.accepted().is_empty());

    a.release();
    let report = tracker.flush().expect("flush");
    assert_eq!(once_each(&a), EVENTS + 1);
    assert_eq!(once_each(&b), EVENTS);
    let flushed = report.destination("mixpanel").expect("mixpanel");
    assert_eq!((flushed.delivered, flushed.failed), (EVENTS as u64 + 1, 0));
    let stats = tracker.stats();
    for (id, n) in [("mixpanel", EVENTS + 1), ("ads", EVENTS)] {
        let counts = stats.destination(id).expect("stats");
        settled(counts);
        assert_eq!(counts.delivered, n as u64, "{id}");
    }
    a.assert_no_violations();
    b.assert_no_violations();
}

#[test]
fn a_destination_refusing_connections_does_not_delay_the_others() {
    // A port nothing listens on: every connection is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let b = TestServer::segment(WRITE_KEY);
    let tracker = tracker(
        Mixpanel::new(TOKEN)
            .base_url(&url)
            .retry_policy(RetryPolicy {
                initial_backoff: Duration::from_secs(600),
                max_backoff: Duration::from_secs(600),
                max_retries: 1,
            }),
        &b,
    );
    track_products(&tracker);

    wait_until("B to receive every event", || b.accepted().len() == EVENTS);
    let a = *tracker.stats().destination("mixpanel").expect("stats");
    assert_eq!(a.delivered, 0);
    assert!(a.pending() > 0, "A waits for its retry: {a:?}");

    // Shutting down within a short deadline leaves A's events failed, never lost.
    let result = tracker.shutdown_within(Duration::from_millis(200));
    assert!(
        matches!(result, Err(FlushError::Timeout { .. })),
        "{result:?}"
    );
    let stats = tracker.stats();
    let a = stats.destination("mixpanel").expect("stats");
    settled(a);
    assert_eq!(a.failed, EVENTS as u64);
    let health = &stats.destinations[1].health;
    assert!(health.consecutive_failures >= 1, "{health:?}");
    assert!(health.last_success.is_none());
    assert!(
        health
            .last_error
            .as_ref()
            .is_some_and(|(_, why)| !why.is_empty())
    );
    let b_counts = stats.destination("ads").expect("stats");
    settled(b_counts);
    assert_eq!(once_each(&b), EVENTS);
    assert!(stats.destinations[2].health.last_success.is_some());
}

#[test]
fn a_privacy_api_answering_503_during_forget_delays_only_its_destination() {
    let a = TestServer::mixpanel(TOKEN);
    let b = TestServer::segment(WRITE_KEY);
    // The deletion request is answered 503 three times, then accepted.
    a.script([Fault::Status(503), Fault::Status(503), Fault::Status(503)]);
    let tracker = tracker(
        Mixpanel::new(TOKEN)
            .base_url(a.url())
            .gdpr_api_token("gdpr-oauth-token")
            .retry_policy(RetryPolicy {
                initial_backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(4),
                max_retries: 4,
            }),
        &b,
    );
    let forgetting = {
        let tracker = tracker.clone();
        std::thread::spawn(move || tracker.forget("carol"))
    };
    // Wait until A is busy with the deletion request.
    wait_until("the first deletion request", || !a.seen().is_empty());
    track_products(&tracker);
    wait_until("B to receive every event", || b.accepted().len() == EVENTS);
    assert!(
        !forgetting.is_finished(),
        "B got everything while A was still retrying its deletion request"
    );

    let report = forgetting.join().expect("forget thread").expect("forget");
    assert_eq!(report.destinations.len(), 5);
    tracker.flush().expect("flush");
    assert_eq!(once_each(&a), EVENTS);
    assert_eq!(once_each(&b), EVENTS);
    let stats = tracker.stats();
    for id in ["mixpanel", "ads"] {
        settled(stats.destination(id).expect("stats"));
    }
    a.assert_no_violations();
}

#[test]
fn a_flush_against_rejected_credentials_names_the_destination() {
    let a = TestServer::mixpanel(TOKEN);
    let b = TestServer::segment(WRITE_KEY);
    // The project's token was revoked: every batch is answered 401.
    a.script(std::iter::repeat_n(Fault::Status(401), EVENTS));
    let tracker = tracker(
        Mixpanel::new(TOKEN)
            .base_url(a.url())
            .retry_policy(RetryPolicy::NEVER),
        &b,
    );
    track_products(&tracker);
    match tracker.flush() {
        Err(e @ FlushError::Failed { .. }) => {
            let FlushError::Failed {
                destination,
                events,
                ref reason,
                ref report,
            } = e
            else {
                unreachable!()
            };
            assert_eq!(destination, "mixpanel");
            assert_eq!(events, EVENTS as u64);
            assert!(reason.contains("401"), "{reason}");
            assert!(e.to_string().contains("`mixpanel`"), "{e}");
            let ads = report.destination("ads").expect("ads");
            assert_eq!((ads.delivered, ads.failed), (EVENTS as u64, 0));
        }
        other => panic!("expected the rejected credentials, got {other:?}"),
    }
    // Reported once: the next flush has nothing new to complain about.
    tracker.flush().expect("second flush");
}

/// A Mixpanel sink with the GDPR API configured, whose calls never time out in a test.
fn mixpanel_with_gdpr(a: &TestServer, retry: RetryPolicy) -> Mixpanel {
    Mixpanel::new(TOKEN)
        .base_url(a.url())
        .gdpr_api_token("gdpr-oauth-token")
        .timeout(Duration::from_secs(120))
        .retry_policy(retry)
}

/// Deletion requests the stand-in has seen so far.
fn deletion_attempts(a: &TestServer) -> usize {
    a.seen()
        .iter()
        .filter(|s| s.path.starts_with("/api/app/data-deletions"))
        .count()
}

/// After the privacy request completed: both destinations delivered every product exactly
/// once and every event is accounted for.
fn all_delivered_once(tracker: &Tracker, a: &TestServer, b: &TestServer) {
    tracker.flush().expect("flush");
    assert_eq!(once_each(a), EVENTS);
    assert_eq!(once_each(b), EVENTS);
    let stats = tracker.stats();
    for id in ["mixpanel", "ads"] {
        let counts = stats.destination(id).expect("stats");
        settled(counts);
        assert_eq!(counts.delivered, EVENTS as u64, "{id}");
        assert_eq!(counts.failed, 0, "{id}");
    }
    a.assert_no_violations();
    b.assert_no_violations();
}

#[test]
fn a_held_deletion_request_does_not_delay_its_own_destinations_deliveries() {
    let a = TestServer::mixpanel(TOKEN);
    let b = TestServer::segment(WRITE_KEY);
    // Mixpanel's GDPR API stops answering; its `/import` endpoint does not.
    a.hold_path(GDPR_API);
    let tracker = tracker(mixpanel_with_gdpr(&a, RetryPolicy::NEVER), &b);
    let forgetting = {
        let tracker = tracker.clone();
        std::thread::spawn(move || tracker.forget("carol"))
    };
    wait_until("the deletion request to be held", || a.held_requests() > 0);
    track_products(&tracker);
    wait_until(
        "Mixpanel to import every event tracked after `forget`",
        || a.accepted().len() == EVENTS,
    );
    assert!(a.held_requests() > 0, "the deletion request is still held");
    assert!(!forgetting.is_finished());

    a.release();
    let report = forgetting.join().expect("forget thread").expect("forget");
    assert_eq!(report.purged, 0);
    let erasures: Vec<(&str, Erasure)> = report.destinations;
    assert_eq!(erasures.len(), 5);
    assert!(
        matches!(
            erasures.iter().find(|(id, _)| *id == "mixpanel"),
            Some((_, Erasure::Requested { reference: Some(r) })) if !r.is_empty()
        ),
        "{erasures:?}"
    );
    assert_eq!(deletion_attempts(&a), 1);
    all_delivered_once(&tracker, &a, &b);
}

#[test]
fn a_deletion_endpoint_answering_503_does_not_delay_its_own_destinations_deliveries() {
    let a = TestServer::mixpanel(TOKEN);
    let b = TestServer::segment(WRITE_KEY);
    // The deletion endpoint answers 503 until the test stops it; `/import` answers normally.
    a.script_path(GDPR_API, std::iter::repeat_n(Fault::Status(503), 10_000));
    let retry = RetryPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_retries: 10_000,
    };
    let tracker = tracker(mixpanel_with_gdpr(&a, retry), &b);
    let forgetting = {
        let tracker = tracker.clone();
        std::thread::spawn(move || tracker.forget("carol"))
    };
    wait_until("the deletion request to be retried", || {
        deletion_attempts(&a) >= 2
    });
    track_products(&tracker);
    wait_until(
        "Mixpanel to import every event tracked after `forget`",
        || a.accepted().len() == EVENTS,
    );
    assert!(
        !forgetting.is_finished(),
        "the deletion request is still being retried"
    );

    a.clear_path_script(GDPR_API);
    let report = forgetting.join().expect("forget thread").expect("forget");
    assert!(
        matches!(
            report.destinations.iter().find(|(id, _)| *id == "mixpanel"),
            Some((_, Erasure::Requested { reference: Some(_) }))
        ),
        "{report:?}"
    );
    assert!(deletion_attempts(&a) >= 3);
    all_delivered_once(&tracker, &a, &b);
}

#[test]
fn a_held_retrieval_request_does_not_delay_its_own_destinations_deliveries() {
    let a = TestServer::mixpanel(TOKEN);
    let b = TestServer::segment(WRITE_KEY);
    a.hold_path(GDPR_API);
    let tracker = tracker(mixpanel_with_gdpr(&a, RetryPolicy::NEVER), &b);
    let asking = {
        let tracker = tracker.clone();
        std::thread::spawn(move || tracker.request_access("carol"))
    };
    wait_until("the retrieval request to be held", || a.held_requests() > 0);
    track_products(&tracker);
    wait_until(
        "Mixpanel to import every event tracked after the request",
        || a.accepted().len() == EVENTS,
    );
    assert!(!asking.is_finished());

    a.release();
    let report = asking.join().expect("access thread").expect("access");
    assert!(
        matches!(
            report.destination("mixpanel"),
            Some(Access::Requested { reference: Some(_) })
        ),
        "{report:?}"
    );
    all_delivered_once(&tracker, &a, &b);
}

/// A custom privacy API that waits at a gate the test opens.
#[derive(Clone, Default)]
struct HeldApi {
    state: std::sync::Arc<(std::sync::Mutex<(bool, usize)>, std::sync::Condvar)>,
}

impl HeldApi {
    /// Calls started so far.
    fn calls(&self) -> usize {
        self.state.0.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    fn open(&self) {
        self.state.0.lock().unwrap_or_else(|e| e.into_inner()).0 = true;
        self.state.1.notify_all();
    }
}

impl PrivacyApi for HeldApi {
    fn erase(&mut self, _: &[String]) -> Erasure {
        let (lock, opened) = &*self.state;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        state.1 += 1;
        while !state.0 {
            state = opened.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        Erasure::Erased
    }
}

/// A custom sink delivering to `Gated`, with its privacy API apart.
struct WithPrivacyApi {
    deliveries: common::Gated,
    api: Option<HeldApi>,
}

impl Sink for WithPrivacyApi {
    fn declaration(&self) -> trackplan_runtime::config::SinkDeclaration {
        trackplan_runtime::config::SinkDeclaration::InProcess
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        self.deliveries.deliver(batch)
    }

    fn erase(&mut self, _: &[String]) -> Erasure {
        Erasure::Failed {
            reason: "the sink's own erase was called".into(),
        }
    }

    fn privacy(&mut self) -> Option<Box<dyn PrivacyApi>> {
        self.api
            .take()
            .map(|api| Box::new(api) as Box<dyn PrivacyApi>)
    }
}

#[test]
fn a_custom_sinks_privacy_api_answers_on_its_own_thread() {
    let deliveries = common::Gated::new();
    let api = HeldApi::default();
    let tracker = Tracker::builder(&common::PLAN)
        .key(key())
        .skip(destination::Warehouse)
        .sink(
            destination::Mixpanel,
            WithPrivacyApi {
                deliveries: deliveries.clone(),
                api: Some(api.clone()),
            },
        )
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .max_delay(Duration::from_millis(5))
        .flush_timeout(GENEROUS)
        .build()
        .expect("tracker");
    let forgetting = {
        let tracker = tracker.clone();
        std::thread::spawn(move || tracker.forget("carol"))
    };
    wait_until("the privacy API to be called", || api.calls() == 1);
    track_products(&tracker);
    wait_until("the sink to receive every event meanwhile", || {
        deliveries.delivered().len() == EVENTS
    });
    assert!(!forgetting.is_finished());

    api.open();
    let report = forgetting.join().expect("forget thread").expect("forget");
    assert_eq!(
        report.destinations.iter().find(|(id, _)| *id == "mixpanel"),
        Some(&("mixpanel", Erasure::Erased)),
        "the handle answered, not the sink's own erase"
    );
    tracker.shutdown().expect("shutdown");
    let stats = tracker.stats();
    let counts = stats.destination("mixpanel").expect("stats");
    settled(counts);
    assert_eq!(counts.delivered, EVENTS as u64);
}
