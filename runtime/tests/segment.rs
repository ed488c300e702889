//! The Segment-compatible sink against a contract-checking `/v1/batch` stand-in on 127.0.0.1.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod fixture;
mod support;

use std::collections::HashSet;
use std::time::Duration;
use support::server::{Fault, TestServer, valid_iso8601};
use support::{PLAN, envelope_with, envelopes};
use trackplan_runtime::sinks::Segment;
use trackplan_runtime::{Outcome, Sink};

const WRITE_KEY: &str = "wk_9Xq2LmN4";

fn sink(server: &TestServer) -> Segment {
    Segment::new(WRITE_KEY)
        .base_url(server.url())
        .timeout(Duration::from_millis(500))
}

#[test]
fn delivers_track_calls_as_the_contract_says() {
    let server = TestServer::segment(WRITE_KEY);
    let batch = envelopes(10);
    assert_eq!(sink(&server).deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();

    let accepted = server.accepted();
    assert_eq!(accepted.len(), 10);
    let first = &accepted[0].raw;
    assert_eq!(first["type"], "track");
    assert_eq!(first["event"], "Page Viewed");
    assert_eq!(first["userId"], &*batch[0].distinct_id);
    assert_eq!(first["messageId"], batch[0].insert_id.as_str());
    assert_eq!(first["properties"]["URL"], "https://shop.example/p/0");
    assert_eq!(first["context"]["library"]["name"], "trackplan");
    let timestamp = first["timestamp"].as_str().expect("a timestamp");
    assert!(valid_iso8601(timestamp), "{timestamp}");
    assert!(timestamp.starts_with("2023-11-14T22:13:20."), "{timestamp}");
    assert!(first.get("properties").and_then(|p| p.get("ip")).is_none());
}

#[test]
fn splits_at_2500_events_and_500_kb() {
    let server = TestServer::segment(WRITE_KEY);
    assert_eq!(sink(&server).deliver(&envelopes(5100)), Outcome::Delivered);
    server.assert_no_violations();
    let sizes: Vec<usize> = server.seen().iter().map(|s| s.events).collect();
    assert!(sizes.iter().all(|&n| n <= 2500), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), 5100);

    let server = TestServer::segment(WRITE_KEY);
    let filler = "y".repeat(20_000);
    let batch: Vec<_> = (0..60)
        .map(|i| envelope_with(&PLAN, format!(r#"{{"URL":"/{i}","Note":"{filler}"}}"#)))
        .collect();
    assert_eq!(sink(&server).deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();
    let seen = server.seen();
    assert!(seen.len() >= 3, "1.2 MB needs at least three batches");
    assert!(seen.iter().all(|s| s.body_bytes <= 500_000));
    let ids: HashSet<String> = server.accepted().into_iter().map(|a| a.insert_id).collect();
    assert_eq!(ids.len(), 60);
}

#[test]
fn drops_events_over_32_kb() {
    let server = TestServer::segment(WRITE_KEY);
    let mut batch = envelopes(2);
    batch.push(envelope_with(
        &PLAN,
        format!(r#"{{"Note":"{}"}}"#, "z".repeat(40_000)),
    ));
    let outcome = sink(&server).deliver(&batch);
    assert!(
        matches!(&outcome, Outcome::Partial { failed } if failed.len() == 1 && failed[0].0 == 2),
        "{outcome:?}"
    );
    server.assert_no_violations();
    assert_eq!(server.accepted().len(), 2);
}

#[test]
fn maps_faults() {
    let server = TestServer::segment(WRITE_KEY);
    let mut segment = sink(&server);
    let batch = envelopes(3);
    server.script([
        Fault::TooManyRequests {
            retry_after_secs: 3,
        },
        Fault::Status(500),
        Fault::Reset,
        Fault::Slow(Duration::from_millis(1500)),
        Fault::Status(400),
    ]);
    assert_eq!(
        segment.deliver(&batch),
        Outcome::Retry {
            reason: "the collector answered 429".into(),
            after: Some(Duration::from_secs(3))
        }
    );
    for what in ["500", "reset", "slow"] {
        let outcome = segment.deliver(&batch);
        assert!(
            matches!(outcome, Outcome::Retry { .. }),
            "{what}: {outcome:?}"
        );
    }
    let outcome = segment.deliver(&batch);
    assert!(
        matches!(outcome, Outcome::Failed { .. }),
        "400: {outcome:?}"
    );
    assert!(server.accepted().is_empty());
    assert_eq!(segment.deliver(&batch), Outcome::Delivered);
    assert_eq!(server.accepted().len(), 3);

    let outcome = Segment::new("wrong-key")
        .base_url(server.url())
        .deliver(&batch);
    assert!(
        matches!(&outcome, Outcome::Failed { reason } if reason.contains("400")),
        "the stand-in answers a contract violation with 400: {outcome:?}"
    );
}
