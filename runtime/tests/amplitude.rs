//! The Amplitude sink against a contract-checking stand-in of Amplitude's upload, User
//! Privacy and DSAR APIs on 127.0.0.1 (`support/amplitude_server.rs`): the bytes on the wire
//! for every message kind, the fault matrix (0 lost, 0 duplicated by `insert_id`, permanent
//! errors never retried), per-user throttling, and `forget`/`request_access`.

// The fixture and the plan below are generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod fixture;
mod support;

use hmac::{KeyInit, Mac};
use std::sync::Arc;
use std::time::Duration;
use support::amplitude_server::{self, Amplitude as Contract};
use support::stub::{Fault, Stub};
use support::{PLAN, envelopes, insert_id};
use trackplan_runtime::config::RetryPolicy;
use trackplan_runtime::requests::{Access, Erasure};
use trackplan_runtime::sinks::Amplitude;
use trackplan_runtime::{
    Consent, Envelope, GroupRef, Key, Message, Outcome, ProfileOp, Sink, Tracker,
};

mod amp {
    trackplan_macros::plan!("tests/plans/amplitude.toml");
}

const API_KEY: &str = "ak_0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c";
const SECRET_KEY: &str = "sk_11aa22bb33cc";
const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

const FAST: RetryPolicy = RetryPolicy {
    initial_backoff: Duration::from_millis(5),
    max_backoff: Duration::from_millis(20),
    max_retries: 12,
};

fn server() -> Stub<Contract> {
    amplitude_server::start(API_KEY, SECRET_KEY)
}

fn sink(server: &Stub<Contract>) -> Amplitude {
    Amplitude::new(API_KEY)
        .base_url(server.url())
        .secret_key(SECRET_KEY)
        .requester("privacy@shop.example")
        .timeout(Duration::from_millis(400))
        .retry_policy(FAST)
}

fn key() -> Key {
    Key::from_hex(KEY_HEX).expect("a valid key")
}

/// Hex HMAC-SHA-256 under the test key, computed here with the `hmac` crate, independently of
/// the runtime's own code.
fn hmac_hex(text: &str) -> String {
    let key: Vec<u8> = (0u8..32).collect();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).expect("any key length");
    mac.update(text.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The distinct id Amplitude must receive for a subject: the key's public id, then the HMAC.
fn pseudonym(subject: &str) -> String {
    format!("{}:{}", key().id(), hmac_hex(subject))
}

/// The upload bodies the server saw, as text.
fn uploads(server: &Stub<Contract>) -> Vec<String> {
    server
        .seen()
        .iter()
        .filter(|s| s.request.path == "/2/httpapi" || s.request.path == "/batch")
        .map(|s| String::from_utf8(s.request.body.clone()).expect("utf-8"))
        .collect()
}

fn tracker(sink: Amplitude) -> Tracker {
    Tracker::builder(&amp::PLAN)
        .key(key())
        .sink(amp::destination::Amplitude, sink)
        .flush_timeout(Duration::from_secs(30))
        .build()
        .expect("a tracker")
}

#[test]
fn tracked_events_reach_amplitude_byte_for_byte_with_hmacd_ids() {
    let server = server();
    let tracker = tracker(sink(&server));
    let buyer = tracker.subject(
        "buyer-7",
        Consent::none().grant(amp::purpose::ProductAnalytics),
    );
    buyer.track(amp::OrderPlaced {
        total: 19.5,
        email: "Buyer@Example.com".to_string().into(),
    });
    tracker.flush().expect("flush");
    server.assert_no_violations();

    let bodies = uploads(&server);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let event = &server.contract.events()[0];
    let expected = format!(
        r#"{{"events":[{{"event_type":"Order Placed","user_id":"{}","time":{},"insert_id":"{}","event_properties":{{"Total":19.5,"Email":"{}"}}}}],"api_key":"{API_KEY}"}}"#,
        pseudonym("buyer-7"),
        event["time"],
        event["insert_id"].as_str().expect("an insert id"),
        // E-mail categories are trimmed and lower-cased before the HMAC.
        hmac_hex("buyer@example.com"),
    );
    assert_eq!(bodies[0], expected);
    assert_eq!(buyer.distinct_id(), pseudonym("buyer-7"));
}

#[test]
fn profile_group_and_stitching_updates_go_out_byte_for_byte() {
    let server = server();
    let mut sink = sink(&server);
    let user = key().pseudonymize("user-42");
    let anonymous = key().pseudonymize("anon-device-9");
    assert_eq!(user, pseudonym("user-42"));
    let acme = GroupRef {
        kind: "company",
        key: "company_id",
        id: format!("\"{}\"", hmac_hex("acme")).into(),
    };
    let message = |message: Message, properties: &str, n: i64| Envelope {
        message,
        event: "$profile",
        insert_id: format!("00000000-0000-4000-8000-00000000000{n}"),
        time_ms: 1_700_000_000_000 + n,
        distinct_id: user.as_str().into(),
        plan: &PLAN,
        purposes: trackplan_runtime::info::PurposeSet::from_bits(1),
        properties: properties.into(),
    };
    let mut batch = vec![
        message(
            Message::Profile { op: ProfileOp::Set },
            r#"{"Plan":"pro"}"#,
            1,
        ),
        message(
            Message::Profile {
                op: ProfileOp::Unset,
            },
            r#"["Trial Ends"]"#,
            2,
        ),
        message(
            Message::Join {
                group: acme.clone(),
            },
            "{}",
            3,
        ),
        message(
            Message::Group {
                group: acme.clone(),
                op: ProfileOp::Add,
            },
            r#"{"Seats":5}"#,
            4,
        ),
        message(
            Message::Link {
                anonymous_id: anonymous.as_str().into(),
            },
            "{}",
            5,
        ),
        message(
            Message::Track {
                groups: Some(Arc::from(vec![acme])),
            },
            r#"{"Total":3}"#,
            6,
        ),
    ];
    batch[5].event = "Page Viewed";
    assert_eq!(sink.deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();

    let u = pseudonym("user-42");
    let a = pseudonym("anon-device-9");
    let g = hmac_hex("acme");
    let head = |kind: &str, n: u8| {
        format!(
            r#"{{"event_type":"{kind}","user_id":"{u}","time":170000000000{n},"insert_id":"00000000-0000-4000-8000-00000000000{n}""#
        )
    };
    let expected = [
        format!(
            r#"{},"user_properties":{{"$set":{{"Plan":"pro"}}}}}}"#,
            head("$identify", 1)
        ),
        format!(
            r#"{},"user_properties":{{"$unset":{{"Trial Ends":"-"}}}}}}"#,
            head("$identify", 2)
        ),
        format!(
            r#"{},"groups":{{"company":"{g}"}},"user_properties":{{"$set":{{"company":"{g}"}}}}}}"#,
            head("$identify", 3)
        ),
        format!(
            r#"{},"groups":{{"company":"{g}"}},"group_properties":{{"$add":{{"Seats":5}}}}}}"#,
            head("$groupidentify", 4)
        ),
        format!(
            r#"{{"event_type":"$identify","user_id":"{u}","device_id":"{a}","time":1700000000005,"insert_id":"00000000-0000-4000-8000-000000000005"}}"#
        ),
        format!(
            r#"{},"event_properties":{{"Total":3}},"groups":{{"company":"{g}"}}}}"#,
            head("Page Viewed", 6)
        ),
    ];
    let body = format!(
        r#"{{"events":[{}],"api_key":"{API_KEY}"}}"#,
        expected.join(",")
    );
    assert_eq!(uploads(&server), [body]);
}

#[test]
fn the_fault_matrix_loses_nothing_and_duplicates_nothing() {
    let server = server();
    let tracker = tracker(sink(&server));
    let consent = Consent::none().grant(amp::purpose::ProductAnalytics);
    let subjects: Vec<_> = ["ana-001", "bo-0002", "cy-0003"]
        .iter()
        .map(|id| tracker.subject(id, consent))
        .collect();
    server.script([
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
        Fault::ThrottleUser {
            user: pseudonym("bo-0002"),
            retry_after_secs: Some(0),
        },
        Fault::Reset,
        Fault::Slow(Duration::from_millis(900)),
    ]);
    let per_subject = 40;
    for i in 0..per_subject {
        for s in &subjects {
            s.track(amp::OrderPlaced {
                total: f64::from(i),
                email: format!("{i}@example.com").into(),
            });
        }
    }
    tracker.flush().expect("flush after the faults");
    server.assert_no_violations();
    assert_eq!(server.faults_left(), 0, "every fault was met");

    let arrivals = server.contract.arrivals();
    let n = per_subject as usize * subjects.len();
    assert_eq!(arrivals.len(), n, "0 lost");
    let duplicated: Vec<_> = arrivals.iter().filter(|(_, c)| **c != 1).collect();
    assert!(
        duplicated.is_empty(),
        "duplicated by insert_id: {duplicated:?}"
    );
    let counts = tracker.stats();
    let counts = counts
        .destination("amplitude")
        .expect("the destination's counts");
    assert_eq!((counts.delivered, counts.failed), (n as u64, 0));
}

#[test]
fn a_throttled_user_waits_while_the_rest_of_the_request_goes_on() {
    let server = server();
    let mut sink = sink(&server);
    let mut batch = envelopes(9);
    for (i, e) in batch.iter_mut().enumerate() {
        e.distinct_id = format!("user-{}", i % 3).into();
    }
    server.script([Fault::ThrottleUser {
        user: "user-1".into(),
        retry_after_secs: None,
    }]);
    assert_eq!(
        sink.deliver(&batch),
        Outcome::Retry {
            reason: "Amplitude throttled some users or devices (429)".into(),
            after: Some(Duration::from_secs(30)),
        },
        "Amplitude's 30 s pause, for the throttled user only"
    );
    let users = |server: &Stub<Contract>| -> Vec<String> {
        server
            .contract
            .events()
            .iter()
            .map(|e| e["user_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(
        users(&server),
        ["user-0", "user-2", "user-0", "user-2", "user-0", "user-2"],
        "the others were sent again at once"
    );
    // The worker's retry of the batch: only user-1's events go out.
    assert_eq!(sink.deliver(&batch), Outcome::Delivered);
    let bodies = uploads(&server);
    assert_eq!(bodies.len(), 3, "throttled, the rest, then user-1's");
    assert_eq!(bodies[2].matches("\"user_id\":\"user-1\"").count(), 3);
    assert_eq!(bodies[2].matches("\"user_id\"").count(), 3);
    assert!(server.contract.arrivals().values().all(|&n| n == 1));
    server.assert_no_violations();
}

#[test]
fn events_amplitude_names_in_a_400_fail_alone_and_the_rest_is_resent() {
    let server = server();
    let mut sink = sink(&server);
    let batch = envelopes(6);
    let bad = vec![batch[1].insert_id.clone(), batch[4].insert_id.clone()];
    server.script([Fault::RejectEvents(bad.clone())]);
    let Outcome::Partial { failed } = sink.deliver(&batch) else {
        panic!("per-event errors are partial");
    };
    assert_eq!(failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 4]);
    assert!(failed[0].1.contains("invalid `time`"), "{failed:?}");
    let arrived = server.contract.arrivals();
    assert_eq!(arrived.len(), 4);
    assert!(
        bad.iter().all(|id| !arrived.contains_key(id)),
        "never resent"
    );
    assert_eq!(uploads(&server).len(), 2);
    server.assert_no_violations();
}

#[test]
fn permanent_errors_are_never_retried() {
    for fault in [
        Fault::Status(401),
        Fault::Status(403),
        Fault::Status(413),
        Fault::Status(400),
    ] {
        let server = server();
        server.script([fault.clone()]);
        let tracker = tracker(sink(&server));
        let s = tracker.subject(
            "perm-01",
            Consent::none().grant(amp::purpose::ProductAnalytics),
        );
        for i in 0..5 {
            s.track(amp::OrderPlaced {
                total: f64::from(i),
                email: "p@example.com".to_string().into(),
            });
        }
        assert!(
            tracker.flush().is_err(),
            "{fault:?}: the flush reports the failure"
        );
        assert_eq!(uploads(&server).len(), 1, "{fault:?} was retried");
        let stats = tracker.stats();
        let counts = stats.destination("amplitude").expect("counts");
        assert_eq!(
            (counts.delivered, counts.failed, counts.retried),
            (0, 5, 0),
            "{fault:?}"
        );
    }
}

#[test]
fn requests_stay_within_2000_events_and_under_1_mb() {
    let server = server();
    let mut sink = sink(&server).batch_api();
    assert_eq!(sink.deliver(&envelopes(4100)), Outcome::Delivered);
    let filler = "z".repeat(20_000);
    let big: Vec<Envelope> = (0..120)
        .map(|i| support::envelope_with(&PLAN, format!(r#"{{"URL":"/{i}","Note":"{filler}"}}"#)))
        .collect();
    assert_eq!(sink.deliver(&big), Outcome::Delivered);
    server.assert_no_violations();
    let seen = server.seen();
    assert!(seen.iter().all(|s| s.request.path == "/batch"));
    let sizes: Vec<usize> = seen
        .iter()
        .map(|s| {
            s.request
                .json()
                .map_or(0, |b| b["events"].as_array().map_or(0, Vec::len))
        })
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 4220);
    assert!(sizes.iter().all(|&n| n <= 2000), "{sizes:?}");
    assert!(seen.iter().all(|s| s.request.body.len() < 1_000_000));
    assert!(
        seen.len() >= 3 + 3,
        "4100 events and 2.4 MB need at least 6 requests"
    );
}

#[test]
fn short_raw_ids_lower_the_minimum_and_refused_ids_fail_alone() {
    // A plan with identity `none` sends raw ids, which may be shorter than Amplitude's 5.
    let server = server();
    let mut sink = sink(&server);
    let mut batch = envelopes(3);
    batch[0].distinct_id = "u7".into();
    batch[1].distinct_id = "null".into();
    let Outcome::Partial { failed } = sink.deliver(&batch) else {
        panic!("the refused id fails alone");
    };
    assert_eq!(failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1]);
    server.assert_no_violations();
    let bodies = uploads(&server);
    assert!(
        bodies[0].contains(r#""options":{"min_id_length":2}"#),
        "{}",
        bodies[0]
    );
    assert_eq!(server.contract.events().len(), 2);
}

#[test]
fn forget_files_a_deletion_with_the_secret_key() {
    let server = server();
    let tracker = tracker(sink(&server));
    let s = tracker.subject(
        "gone-01",
        Consent::none().grant(amp::purpose::ProductAnalytics),
    );
    s.track(amp::OrderPlaced {
        total: 1.0,
        email: "g@example.com".to_string().into(),
    });
    tracker.flush().expect("flush");
    let report = tracker.forget("gone-01").expect("forget");
    assert_eq!(
        report.destinations,
        [(
            "amplitude",
            Erasure::Requested {
                reference: Some("deletion job 2026-12-12".into())
            }
        )]
    );
    let deletions = server.contract.deletions();
    assert_eq!(deletions.len(), 1);
    assert_eq!(deletions[0].user_ids, [pseudonym("gone-01")]);
    assert_eq!(
        deletions[0].requester.as_deref(),
        Some("privacy@shop.example")
    );
    server.assert_no_violations();
}

/// Waits, generously, for `done`.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "gave up waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_held_deletion_request_does_not_delay_deliveries() {
    let server = server();
    // The User Privacy API stops answering; the upload API does not.
    server.hold_path("/api/2/deletions");
    let tracker = tracker(sink(&server).timeout(Duration::from_secs(120)));
    let forgetting = {
        let tracker = tracker.clone();
        std::thread::spawn(move || tracker.forget("gone-02"))
    };
    wait_until("the deletion request to be held", || {
        server.held_requests() > 0
    });
    let s = tracker.subject(
        "stays-01",
        Consent::none().grant(amp::purpose::ProductAnalytics),
    );
    for i in 0..50 {
        s.track(amp::OrderPlaced {
            total: f64::from(i),
            email: "s@example.com".to_string().into(),
        });
    }
    tracker
        .flush()
        .expect("deliveries go on while the deletion is held");
    assert_eq!(server.contract.events().len(), 50);
    assert!(
        server.held_requests() > 0,
        "the deletion request is still held"
    );
    assert!(!forgetting.is_finished());

    server.release();
    let report = forgetting.join().expect("forget thread").expect("forget");
    assert!(
        matches!(
            &report.destinations[..],
            [("amplitude", Erasure::Requested { .. })]
        ),
        "{:?}",
        report.destinations
    );
    assert_eq!(server.contract.deletions().len(), 1);
}

#[test]
fn deletions_go_100_ids_a_request_one_request_a_second() {
    let server = server();
    let mut sink = sink(&server);
    let ids: Vec<String> = (0..150).map(|i| format!("user-{i:04}")).collect();
    let Erasure::Requested { reference } = sink.erase(&ids) else {
        panic!("a deletion request");
    };
    assert_eq!(
        reference.as_deref(),
        Some("deletion job 2026-12-12, deletion job 2026-12-12")
    );
    let sizes: Vec<usize> = server
        .contract
        .deletions()
        .iter()
        .map(|d| d.user_ids.len())
        .collect();
    assert_eq!(sizes, [100, 50]);
    // The stand-in flags two requests less than a second apart.
    server.assert_no_violations();

    // A 503 and a 429 are retried; a 401 is not.
    server.script_path(
        "/api/2/deletions",
        [
            Fault::Status(503),
            Fault::TooManyRequests {
                retry_after_secs: 0,
            },
        ],
    );
    assert!(matches!(sink.erase(&ids[..1]), Erasure::Requested { .. }));
    server.script_path("/api/2/deletions", [Fault::Status(401)]);
    let Erasure::Failed { reason } = sink.erase(&ids[..1]) else {
        panic!("a refused deletion fails");
    };
    assert!(
        reason.contains("401") && !reason.contains("user-0000"),
        "{reason}"
    );
    assert_eq!(server.faults_left(), 0);
}

#[test]
fn without_the_secret_key_forget_is_not_supported_and_sends_nothing() {
    let server = server();
    let mut sink = Amplitude::new(API_KEY).base_url(server.url());
    assert_eq!(sink.erase(&["user-0001".into()]), Erasure::NotSupported);
    assert_eq!(sink.retrieve(&["user-0001".into()]), Access::NotSupported);
    assert!(server.seen().is_empty());
}

#[test]
fn request_access_files_a_dsar_request_with_the_organization_keys() {
    let server = server();
    let (org_key, org_secret) = server.contract.org_keys.clone();
    let tracker = tracker(sink(&server).dsar_keys(org_key, org_secret).access_days(30));
    let report = tracker.request_access("asks-01").expect("request_access");
    assert_eq!(
        report.destination("amplitude"),
        Some(&Access::Requested {
            reference: Some("53001".into())
        })
    );
    let requests = server.contract.access_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["userId"], pseudonym("asks-01").as_str());
    server.assert_no_violations();
}

#[test]
fn amplitude_is_refused_for_a_first_party_destination() {
    // The sink declares a third party: it may not take the fixture's own first-party files.
    let result = Tracker::builder(&fixture::shop::PLAN)
        .key(key())
        .sink(
            fixture::shop::destination::Warehouse,
            Amplitude::new(API_KEY),
        )
        .build();
    assert!(result.is_err());
    let _ = insert_id();
}
