//! The PostHog sink against a contract-checking stand-in of its capture `/batch/` endpoint and
//! persons API on 127.0.0.1: every message kind on the wire, byte for byte, with distinct ids
//! computed here independently of the runtime; the fault matrix; erasure and access with the
//! personal API key.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod fixture;
mod support;

mod plan {
    trackplan_macros::plan!("tests/support/posthog.toml");
}

use hmac::{KeyInit, Mac};
use plan::{OrderPlaced, PageViewed, destination, purpose};
use sha2::Digest;
use std::sync::Arc;
use std::time::Duration;
use support::posthog::{Expect, PostHogContract, valid_uuid};
use support::server::{Fault, TestServer};
use trackplan_runtime::config::RetryPolicy;
use trackplan_runtime::error::FlushError;
use trackplan_runtime::requests::{Access, Erasure};
use trackplan_runtime::sinks::PostHog;
use trackplan_runtime::{
    Consent, Envelope, GroupRef, Key, Message, Outcome, ProfileOp, Sink, Tracker,
};

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// Short waits so tests stay fast; the defaults (2 s → 60 s) are the sink's own.
const FAST: RetryPolicy = RetryPolicy {
    initial_backoff: Duration::from_millis(20),
    max_backoff: Duration::from_millis(100),
    max_retries: 10,
};

/// The distinct id of `subject`, computed here: the key's id (4 bytes of a domain-separated
/// SHA-256 of the key), `:`, and the hex HMAC-SHA-256 of the subject id.
fn distinct_id(subject: &str) -> String {
    let key: Vec<u8> = (0u8..32).collect();
    let fingerprint = sha2::Sha256::new()
        .chain_update(b"trackplan key id\0")
        .chain_update(&key)
        .finalize();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(subject.as_bytes());
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    format!(
        "{}:{}",
        hex(&fingerprint[..4]),
        hex(&mac.finalize().into_bytes())
    )
}

fn server() -> (TestServer, Arc<PostHogContract>) {
    TestServer::posthog(Expect::new())
}

fn sink(server: &TestServer) -> PostHog {
    PostHog::new("phc_test")
        .base_url(server.url())
        .timeout(Duration::from_millis(400))
        .retry_policy(FAST)
        .persons_api_interval(Duration::from_millis(250))
}

fn with_personal_key(sink: PostHog) -> PostHog {
    sink.personal_api_key("phx_test", "4242")
}

fn tracker(sink: PostHog) -> Tracker {
    Tracker::builder(&plan::PLAN)
        .key(Key::from_hex(KEY_HEX).expect("key"))
        .sink(destination::Posthog, sink)
        .skip(destination::OwnPosthog)
        .max_delay(Duration::from_millis(5))
        .flush_timeout(Duration::from_secs(20))
        .build()
        .expect("tracker")
}

fn consent() -> Consent {
    Consent::none().grant(purpose::ProductAnalytics)
}

fn page(i: usize) -> PageViewed {
    PageViewed {
        url: format!("https://shop.example/p/{i}"),
    }
}

/// A hand-built envelope (the profile API is not the sink's to test), as the pipeline hands
/// them over: pseudonymous ids, properties already filtered.
fn envelope(message: Message, n: u8, distinct_id: &str, properties: &str) -> Envelope {
    Envelope {
        message,
        event: "$profile",
        insert_id: format!("00000000-0000-4000-8000-0000000000{n:02x}"),
        time_ms: 1_700_000_000_000 + i64::from(n),
        distinct_id: distinct_id.into(),
        plan: &plan::PLAN,
        purposes: trackplan_runtime::info::PurposeSet::from_bits(1),
        properties: properties.into(),
    }
}

fn company() -> GroupRef {
    GroupRef {
        kind: "company",
        key: "company_id",
        id: "\"acme\"".into(),
    }
}

/// PostHog Cloud's answer to a `forget` (the self-hosted destination is skipped).
fn erasure(report: &trackplan_runtime::requests::ForgetReport) -> Option<&Erasure> {
    report
        .destinations
        .iter()
        .find(|(d, _)| *d == "posthog")
        .map(|(_, e)| e)
}

/// The batch requests the server saw.
fn batches(server: &TestServer) -> Vec<support::server::Seen> {
    server
        .seen()
        .into_iter()
        .filter(|s| s.path == "/batch/")
        .collect()
}

#[test]
fn tracked_events_reach_capture_byte_for_byte_with_independent_ids() {
    let (server, _) = server();
    let tracker = tracker(sink(&server));
    tracker.subject("user-42", consent()).track(OrderPlaced {
        total: 12.5,
        items: 3,
    });
    tracker.flush().expect("delivered");
    server.assert_no_violations();

    let seen = batches(&server);
    assert_eq!(seen.len(), 1);
    let accepted = server.accepted();
    assert_eq!(accepted.len(), 1);
    let (uuid, timestamp) = (
        &accepted[0].insert_id,
        accepted[0].raw["timestamp"].as_str(),
    );
    assert!(valid_uuid(uuid));
    let expected = format!(
        r#"{{"api_key":"phc_test","historical_migration":false,"batch":[{{"event":"Order Placed","distinct_id":"{}","timestamp":"{}","uuid":"{uuid}","properties":{{"Total":12.5,"Items":3}}}}]}}"#,
        distinct_id("user-42"),
        timestamp.expect("a timestamp"),
    );
    assert_eq!(String::from_utf8_lossy(&seen[0].raw), expected);
    assert_eq!(tracker.distinct_id("user-42"), distinct_id("user-42"));
}

#[test]
fn profile_group_and_stitching_updates_are_byte_exact() {
    let (server, _) = server();
    let alice = distinct_id("alice");
    let anon = distinct_id("anon-visitor");
    let batch = vec![
        envelope(
            Message::Profile { op: ProfileOp::Set },
            1,
            &alice,
            r#"{"plan":"pro"}"#,
        ),
        envelope(
            Message::Profile {
                op: ProfileOp::SetOnce,
            },
            2,
            &alice,
            r#"{"first_seen":"2023-11-14"}"#,
        ),
        envelope(
            Message::Profile {
                op: ProfileOp::Unset,
            },
            3,
            &alice,
            r#"["legacy"]"#,
        ),
        envelope(Message::Join { group: company() }, 4, &alice, "{}"),
        envelope(
            Message::Group {
                group: company(),
                op: ProfileOp::Set,
            },
            5,
            &alice,
            r#"{"seats":12}"#,
        ),
        envelope(
            Message::Link {
                anonymous_id: anon.as_str().into(),
            },
            6,
            &alice,
            "{}",
        ),
        envelope(
            Message::Track {
                groups: Some(Arc::from([company()])),
            },
            7,
            &alice,
            r#"{"URL":"https://shop.example/"}"#,
        ),
    ];
    let mut batch = batch;
    batch[6].event = "Page Viewed";
    assert_eq!(sink(&server).deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();

    let head = |event: &str, n: u8| {
        format!(
            r#"{{"event":"{event}","distinct_id":"{alice}","timestamp":"2023-11-14T22:13:20.00{n}Z","uuid":"00000000-0000-4000-8000-0000000000{n:02x}","properties":"#
        )
    };
    let events = [
        format!(r#"{}{{"$set":{{"plan":"pro"}}}}}}"#, head("$set", 1)),
        format!(
            r#"{}{{"$set_once":{{"first_seen":"2023-11-14"}}}}}}"#,
            head("$set", 2)
        ),
        format!(r#"{}{{"$unset":["legacy"]}}}}"#, head("$set", 3)),
        format!(
            r#"{}{{"$group_type":"company","$group_key":"acme","$groups":{{"company":"acme"}}}}}}"#,
            head("$groupidentify", 4)
        ),
        format!(
            r#"{}{{"$group_type":"company","$group_key":"acme","$group_set":{{"seats":12}}}}}}"#,
            head("$groupidentify", 5)
        ),
        format!(
            r#"{}{{"$anon_distinct_id":"{anon}"}}}}"#,
            head("$identify", 6)
        ),
        format!(
            r#"{}{{"URL":"https://shop.example/","$groups":{{"company":"acme"}}}}}}"#,
            head("Page Viewed", 7)
        ),
    ];
    let expected = format!(
        r#"{{"api_key":"phc_test","historical_migration":false,"batch":[{}]}}"#,
        events.join(",")
    );
    let seen = batches(&server);
    assert_eq!(seen.len(), 1);
    assert_eq!(String::from_utf8_lossy(&seen[0].raw), expected);
}

#[test]
fn operations_posthog_lacks_fail_alone_and_loudly() {
    let (server, _) = server();
    let alice = distinct_id("alice");
    let mut batch = vec![
        envelope(Message::TRACK, 1, &alice, r#"{"URL":"a"}"#),
        envelope(
            Message::Profile { op: ProfileOp::Add },
            2,
            &alice,
            r#"{"logins":1}"#,
        ),
        envelope(
            Message::Profile {
                op: ProfileOp::Union,
            },
            3,
            &alice,
            r#"{"tags":["a"]}"#,
        ),
        envelope(
            Message::Group {
                group: company(),
                op: ProfileOp::SetOnce,
            },
            4,
            &alice,
            r#"{"a":1}"#,
        ),
        envelope(Message::TRACK, 5, &alice, r#"{"URL":"b"}"#),
    ];
    batch[0].event = "Page Viewed";
    batch[4].event = "Page Viewed";
    let Outcome::Partial { failed } = sink(&server).deliver(&batch) else {
        panic!("expected the three unsupported updates to fail");
    };
    let indices: Vec<usize> = failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [1, 2, 3]);
    assert!(failed[0].1.contains("`add`"), "{}", failed[0].1);
    assert!(failed[1].1.contains("`union`"), "{}", failed[1].1);
    server.assert_no_violations();
    let ids: Vec<String> = server.accepted().into_iter().map(|a| a.insert_id).collect();
    assert_eq!(
        ids,
        [batch[0].insert_id.clone(), batch[4].insert_id.clone()]
    );
}

#[test]
fn the_fault_matrix_loses_nothing_and_duplicates_nothing() {
    let (server, _) = server();
    server.script_path(
        "/batch/",
        [
            Fault::Status(500),
            Fault::Status(502),
            Fault::Status(503),
            Fault::TooManyRequests {
                retry_after_secs: 1,
            },
            Fault::Reset,
            Fault::Slow(Duration::from_millis(1200)),
        ],
    );
    let tracker = tracker(sink(&server));
    let alice = tracker.subject("alice", consent());
    let bob = tracker.subject("bob", consent());
    let nobody = tracker.subject("carol", Consent::none());
    for i in 0..150 {
        alice.track(page(i));
        bob.track(OrderPlaced {
            total: 1.0,
            items: 1,
        });
        nobody.track(page(i));
    }
    tracker
        .flush()
        .expect("everything delivered after the faults");
    server.assert_no_violations();

    let counts = server.accepted_counts();
    assert_eq!(counts.len(), 300, "every consented event arrived");
    assert!(counts.values().all(|&n| n == 1), "a uuid arrived twice");
    // The slow answer is recorded when its handler wakes, after the client gave up on it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while batches(&server)
        .iter()
        .filter(|s| s.fault.is_some())
        .count()
        < 6
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let statuses: Vec<u16> = batches(&server)
        .iter()
        .filter(|s| s.fault.is_some())
        .map(|s| s.status)
        .collect();
    assert_eq!(statuses.len(), 6, "every fault was played: {statuses:?}");
    let distinct: std::collections::HashSet<String> = server
        .accepted()
        .into_iter()
        .map(|a| a.distinct_id)
        .collect();
    let expected: std::collections::HashSet<String> = [distinct_id("alice"), distinct_id("bob")]
        .into_iter()
        .collect();
    assert_eq!(
        distinct, expected,
        "only the consenting subjects, pseudonymized"
    );
}

#[test]
fn permanent_errors_are_never_retried() {
    for status in [400, 401, 413] {
        let (server, _) = server();
        server.script_path("/batch/", [Fault::Status(status)]);
        let tracker = tracker(sink(&server));
        let alice = tracker.subject("alice", consent());
        for i in 0..5 {
            alice.track(page(i));
        }
        match tracker.flush() {
            Err(FlushError::Failed {
                destination,
                events,
                reason,
                ..
            }) => {
                assert_eq!((destination, events), ("posthog", 5), "{status}");
                assert!(reason.contains(&status.to_string()), "{status}: {reason}");
            }
            other => panic!("{status}: expected the batch to fail, got {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(150)); // a retry would have come by now
        assert_eq!(batches(&server).len(), 1, "{status} was retried");
        assert!(server.accepted().is_empty());
    }
}

#[test]
fn forget_and_access_use_the_persons_api_with_the_personal_key() {
    let (server, contract) = server();
    let tracker = tracker(with_personal_key(sink(&server)));
    tracker.subject("alice", consent()).track(page(1));
    tracker.subject("bob", consent()).track(page(2));
    tracker.flush().expect("delivered");
    // Alice was an anonymous visitor before: PostHog merged that id into her person.
    let anon = distinct_id("anon-visitor");
    let mut sink = sink(&server);
    let early = envelope(Message::TRACK, 1, &anon, r#"{"URL":"x"}"#);
    let link = envelope(
        Message::Link {
            anonymous_id: anon.as_str().into(),
        },
        2,
        &distinct_id("alice"),
        "{}",
    );
    assert_eq!(sink.deliver(&[early, link]), Outcome::Delivered);

    let report = tracker
        .request_access("alice")
        .unwrap_or_else(|e| panic!("access: {e}; violations: {:?}", server.violations()));
    let Some(Access::Records { records, source }) = report.destination("posthog") else {
        panic!("expected Alice's person: {report:?}");
    };
    assert_eq!(records.len(), 1, "one person for both of her ids");
    let person: serde_json::Value = serde_json::from_str(&records[0]).expect("JSON");
    let ids = person["distinct_ids"].as_array().expect("ids");
    assert!(ids.contains(&distinct_id("alice").into()) && ids.contains(&anon.clone().into()));
    assert_eq!(source.as_deref(), Some("PostHog persons API, project 4242"));

    let report = tracker.forget("alice").expect("forget");
    let Some(Erasure::Requested {
        reference: Some(reference),
    }) = erasure(&report)
    else {
        panic!("expected a deletion: {report:?}");
    };
    let deletions = contract.deletions();
    assert_eq!(deletions.len(), 1);
    assert!(deletions[0].1, "events deleted with the person");
    assert!(reference.contains(&deletions[0].0), "{reference}");
    assert!(
        !reference.contains(&distinct_id("alice")),
        "the reference names no distinct id"
    );

    // Gone for her, still there for Bob; every call paced and authorized (no violations).
    let gone = tracker.request_access("alice").expect("access");
    assert_eq!(
        gone.destination("posthog"),
        Some(&Access::Records {
            records: vec![],
            source: source.clone()
        })
    );
    let bob = tracker.request_access("bob").expect("access");
    assert!(
        matches!(bob.destination("posthog"), Some(Access::Records { records, .. }) if records.len() == 1)
    );
    let again = tracker.forget("alice").expect("forget");
    assert_eq!(erasure(&again), Some(&Erasure::NothingStored));
    server.assert_no_violations();
    let persons_calls = server
        .seen()
        .iter()
        .filter(|s| s.path.starts_with("/api/projects/"))
        .count();
    assert_eq!(persons_calls, 6, "find, find+delete, find, find, find");
}

#[test]
fn persons_api_outages_are_retried_and_refusals_are_not() {
    let (server, _) = server();
    let tracker = tracker(with_personal_key(sink(&server)));
    tracker.subject("alice", consent()).track(page(1));
    tracker.flush().expect("delivered");

    server.script_path(
        "/api/projects/",
        [
            Fault::Status(503),
            Fault::TooManyRequests {
                retry_after_secs: 0,
            },
        ],
    );
    let report = tracker
        .request_access("alice")
        .expect("retried through the outage");
    assert!(
        matches!(report.destination("posthog"), Some(Access::Records { records, .. }) if records.len() == 1)
    );

    server.script_path("/api/projects/", [Fault::Status(401)]);
    let before = server.seen().len();
    let Err(trackplan_runtime::error::ForgetError::Failed(report)) = tracker.forget("alice") else {
        panic!("a refused key fails the erasure");
    };
    let Some(Erasure::Failed { reason }) = erasure(&report) else {
        panic!("{report:?}");
    };
    assert!(
        reason.contains("401") && reason.contains("personal API key"),
        "{reason}"
    );
    assert_eq!(server.seen().len(), before + 1, "a 401 is not retried");
}

#[test]
fn without_a_personal_key_privacy_requests_are_not_supported() {
    let (server, _) = server();
    let tracker = tracker(sink(&server));
    tracker.subject("alice", consent()).track(page(1));
    tracker.flush().expect("delivered");
    let forget = tracker.forget("alice").expect("forget");
    assert_eq!(erasure(&forget), Some(&Erasure::NotSupported));
    let access = tracker.request_access("alice").expect("access");
    assert_eq!(access.destination("posthog"), Some(&Access::NotSupported));
    assert!(
        server.seen().iter().all(|s| s.path == "/batch/"),
        "no persons-API call"
    );
}

#[test]
fn uncompressed_bodies_when_gzip_is_off_and_keys_never_in_debug() {
    let (server, _) = TestServer::posthog(Expect {
        gzip: false,
        ..Expect::new()
    });
    let batch = vec![envelope(Message::TRACK, 1, "d", r#"{"URL":"a"}"#)];
    assert_eq!(
        sink(&server).gzip(false).deliver(&batch),
        Outcome::Delivered
    );
    server.assert_no_violations();

    let debug = format!(
        "{:?}",
        with_personal_key(PostHog::new("phc_secret_project_key").eu())
    );
    assert!(
        !debug.contains("phc_secret_project_key") && !debug.contains("phx_test"),
        "{debug}"
    );
    assert!(debug.contains("[redacted]"));
}

#[test]
fn a_held_persons_call_never_holds_up_deliveries() {
    let (server, contract) = server();
    let tracker = tracker(with_personal_key(sink(&server)));
    let alice = tracker.subject("alice", consent());
    alice.track(page(0));
    tracker.flush().expect("delivered");

    server.hold_path("/api/projects/");
    std::thread::scope(|s| {
        let forget = s.spawn(|| tracker.forget("alice"));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while server.held_requests() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(server.held_requests(), 1, "the persons call is held");
        // Meanwhile the destination's own worker keeps delivering.
        let bob = tracker.subject("bob", consent());
        for i in 0..20 {
            bob.track(page(i));
        }
        tracker
            .flush()
            .expect("delivered while the persons API is held");
        assert_eq!(server.accepted().len(), 21);
        assert!(!forget.is_finished());
        server.release();
        let report = forget.join().expect("forget thread").expect("forget");
        assert!(matches!(erasure(&report), Some(Erasure::Requested { .. })));
    });
    assert_eq!(contract.deletions().len(), 1);
    server.assert_no_violations();
}

#[test]
fn only_a_self_hosted_sink_serves_a_first_party_posthog_destination() {
    let (server, _) = server();
    let build = |own: PostHog| {
        Tracker::builder(&plan::PLAN)
            .key(Key::from_hex(KEY_HEX).expect("key"))
            .skip(destination::Posthog)
            .sink(destination::OwnPosthog, own)
            .build()
    };
    let refused = build(PostHog::new("phc_test").base_url(server.url()));
    assert!(
        matches!(
            refused,
            Err(trackplan_runtime::error::BuildError::SinkMismatch {
                destination: "own_posthog",
                sink_third_party: true,
                ..
            })
        ),
        "{refused:?}"
    );
    let own = build(PostHog::new("phc_test").self_hosted(server.url())).expect("accepted");
    own.subject("alice", consent()).track(page(1));
    own.flush().expect("delivered");
    assert_eq!(server.accepted().len(), 1);
    // A self-hosted sink may also serve the cloud destination (nothing is withheld from it).
    let _ = tracker(PostHog::new("phc_test").self_hosted(server.url()));
}

#[test]
fn two_sinks_of_one_project_share_its_persons_api_pacing() {
    let (server, _) = server();
    let (mut first, mut second) = (
        with_personal_key(sink(&server)),
        with_personal_key(sink(&server)),
    );
    let ids = [distinct_id("a"), distinct_id("b")];
    std::thread::scope(|s| {
        let one = s.spawn(|| first.retrieve(&ids));
        let two = s.spawn(|| second.erase(&ids));
        assert!(matches!(one.join().expect("first"), Access::Records { .. }));
        assert_eq!(two.join().expect("second"), Erasure::NothingStored);
    });
    // The stand-in flags two persons-API calls closer than the interval (less 100 ms).
    server.assert_no_violations();
    assert_eq!(server.seen().len(), 4);
}
