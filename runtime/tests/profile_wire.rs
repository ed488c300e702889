//! Profile, group, join and link messages on the wire: the exact bytes the Mixpanel and
//! Segment sinks send for each kind (against the contract-checking stand-ins on 127.0.0.1),
//! and what every fault does to batches of them.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;
mod support;

use common::{destination, purpose};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use std::sync::Arc;
use std::time::Duration;
use support::server::{Fault, TestServer};
use support::{PLAN, insert_id};
use trackplan_runtime::config::RetryPolicy;
use trackplan_runtime::error::FlushError;
use trackplan_runtime::info::PurposeSet;
use trackplan_runtime::sinks::{Mixpanel, Segment};
use trackplan_runtime::{
    Consent, Envelope, GroupRef, Message, Outcome, ProfileOp, Sink, Tracker, TrackerBuilder,
};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const WRITE_KEY: &str = "wk_9Xq2LmN4";
/// The pseudonymous ids of one subject before and after signing up (what HMAC gives; fixed
/// here, since these envelopes are built by hand).
const USER: &str = "4c1b7e0f9a2d8e3c6b5a4f1e0d9c8b7a";
const ANON: &str = "a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6";

fn envelope(message: Message, event: &'static str, id: &str, properties: &str) -> Envelope {
    Envelope {
        message,
        event,
        insert_id: id.to_owned(),
        time_ms: 1_700_000_000_123,
        distinct_id: USER.into(),
        plan: &PLAN,
        purposes: PurposeSet::from_bits(1),
        properties: properties.into(),
    }
}

fn company(id: &str) -> GroupRef {
    GroupRef {
        kind: "company",
        key: "company_id",
        id: Arc::from(id),
    }
}

fn profile(op: ProfileOp, id: &str, traits: &str) -> Envelope {
    envelope(Message::Profile { op }, "$profile", id, traits)
}

fn group(op: ProfileOp, id: &str, traits: &str) -> Envelope {
    envelope(
        Message::Group {
            group: company("\"acme\""),
            op,
        },
        "$group",
        id,
        traits,
    )
}

fn join(id: &str) -> Envelope {
    envelope(
        Message::Join {
            group: company("\"acme\""),
        },
        "$join",
        id,
        "{}",
    )
}

fn link(id: &str) -> Envelope {
    envelope(
        Message::Link {
            anonymous_id: ANON.into(),
        },
        "$link",
        id,
        "{}",
    )
}

fn grouped_track(id: &str) -> Envelope {
    envelope(
        Message::Track {
            groups: Some(vec![company("\"acme\""), company("42")].into()),
        },
        "Page Viewed",
        id,
        r#"{"URL":"https://blog.example/"}"#,
    )
}

/// One of each kind, in an order that mixes the endpoints.
fn mixed_batch() -> Vec<Envelope> {
    vec![
        profile(ProfileOp::Set, "id-00", r#"{"plan":"pro","$email":"9f2c"}"#),
        grouped_track("id-01"),
        link("id-02"),
        profile(
            ProfileOp::SetOnce,
            "id-03",
            r#"{"first_seen":"2023-11-14"}"#,
        ),
        group(ProfileOp::Set, "id-04", r#"{"name":"Acme","seats":12}"#),
        profile(ProfileOp::Add, "id-05", r#"{"logins":1}"#),
        profile(ProfileOp::Union, "id-06", r#"{"tags":["beta","eu"]}"#),
        profile(ProfileOp::Remove, "id-07", r#"{"tags":["alpha","old"]}"#),
        join("id-08"),
        profile(ProfileOp::Unset, "id-09", r#"["trial_ends"]"#),
        group(ProfileOp::Unset, "id-10", r#"["seats"]"#),
        group(ProfileOp::Union, "id-11", r#"{"regions":["eu"]}"#),
    ]
}

fn mixpanel(server: &TestServer) -> Mixpanel {
    Mixpanel::new(TOKEN)
        .base_url(server.url())
        .timeout(Duration::from_millis(500))
}

fn segment(server: &TestServer) -> Segment {
    Segment::new(WRITE_KEY)
        .base_url(server.url())
        .timeout(Duration::from_millis(500))
}

fn body_of(server: &TestServer, path: &str) -> Vec<String> {
    server
        .seen()
        .into_iter()
        .filter(|s| s.path == path)
        .map(|s| String::from_utf8(s.raw).expect("UTF-8 body"))
        .collect()
}

#[test]
fn mixpanel_sends_each_kind_to_its_endpoint_byte_for_byte() {
    let server = TestServer::mixpanel(TOKEN);
    let batch = mixed_batch();
    assert_eq!(mixpanel(&server).deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();
    let paths: Vec<String> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        ["/import", "/engage", "/groups"],
        "one request per endpoint"
    );

    let import = concat!(
        r#"[{"event":"Page Viewed","properties":{"time":1700000000123,"#,
        r#""distinct_id":"4c1b7e0f9a2d8e3c6b5a4f1e0d9c8b7a","$insert_id":"id-01","ip":0,"#,
        r#""URL":"https://blog.example/","company_id":["acme","42"]}},"#,
        r#"{"event":"$identify","properties":{"time":1700000000123,"#,
        r#""distinct_id":"4c1b7e0f9a2d8e3c6b5a4f1e0d9c8b7a","$insert_id":"id-02","ip":0,"#,
        r#""$user_id":"4c1b7e0f9a2d8e3c6b5a4f1e0d9c8b7a","$device_id":"a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6","#,
        r#""$identified_id":"4c1b7e0f9a2d8e3c6b5a4f1e0d9c8b7a","$anon_id":"a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6"}}]"#
    );
    assert_eq!(body_of(&server, "/import"), [import]);

    let user = r#"{"$token":"0123456789abcdef0123456789abcdef","$distinct_id":"4c1b7e0f9a2d8e3c6b5a4f1e0d9c8b7a","#;
    let engage = [
        r#""$set":{"plan":"pro","$email":"9f2c"}}"#,
        r#""$set_once":{"first_seen":"2023-11-14"}}"#,
        r#""$add":{"logins":1}}"#,
        r#""$union":{"tags":["beta","eu"]}}"#,
        r#""$remove":{"tags":"alpha"}}"#,
        r#""$remove":{"tags":"old"}}"#,
        r#""$union":{"company_id":["acme"]}}"#,
        r#""$unset":["trial_ends"]}"#,
    ]
    .map(|op| format!("{user}{op}"));
    assert_eq!(
        body_of(&server, "/engage"),
        [format!("[{}]", engage.join(","))]
    );

    let acme = r#"{"$token":"0123456789abcdef0123456789abcdef","$group_key":"company_id","$group_id":"acme","#;
    let groups = [
        r#""$set":{"name":"Acme","seats":12}}"#,
        r#""$unset":["seats"]}"#,
        r#""$union":{"regions":["eu"]}}"#,
    ]
    .map(|op| format!("{acme}{op}"));
    assert_eq!(
        body_of(&server, "/groups"),
        [format!("[{}]", groups.join(","))]
    );
    // 2 events, 8 user updates (a removal of two values is two), 3 group updates.
    assert_eq!(server.accepted().len(), 13);
}

#[test]
fn segment_sends_identify_group_and_alias_byte_for_byte() {
    let server = TestServer::segment(WRITE_KEY);
    let batch = vec![
        profile(ProfileOp::Set, "id-00", r#"{"plan":"pro","email":"9f2c"}"#),
        grouped_track("id-01"),
        link("id-02"),
        join("id-03"),
        group(ProfileOp::Set, "id-04", r#"{"name":"Acme"}"#),
        profile(ProfileOp::Unset, "id-05", r#"["trial_ends"]"#),
    ];
    assert_eq!(segment(&server).deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();
    let common = |id: &str| {
        format!(
            r#""userId":"4c1b7e0f9a2d8e3c6b5a4f1e0d9c8b7a","messageId":"{id}","timestamp":"2023-11-14T22:13:20.123Z""#
        )
    };
    let library = format!(
        r#""library":{{"name":"trackplan","version":"{}"}}}}}}"#,
        env!("CARGO_PKG_VERSION")
    );
    let calls = [
        format!(
            r#"{{"type":"identify",{},"traits":{{"plan":"pro","email":"9f2c"}},"context":{{{library}"#,
            common("id-00")
        ),
        format!(
            r#"{{"type":"track","event":"Page Viewed",{},"properties":{{"URL":"https://blog.example/"}},"context":{{"groupId":"acme",{library}"#,
            common("id-01")
        ),
        format!(
            r#"{{"type":"alias","previousId":"a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6",{},"context":{{{library}"#,
            common("id-02")
        ),
        format!(
            r#"{{"type":"group","groupId":"acme",{},"traits":{{"group_type":"company"}},"context":{{{library}"#,
            common("id-03")
        ),
        format!(
            r#"{{"type":"group","groupId":"acme",{},"traits":{{"group_type":"company","name":"Acme"}},"context":{{{library}"#,
            common("id-04")
        ),
        format!(
            r#"{{"type":"identify",{},"traits":{{"trial_ends":null}},"context":{{{library}"#,
            common("id-05")
        ),
    ];
    assert_eq!(
        body_of(&server, "/v1/batch"),
        [format!(r#"{{"batch":[{}]}}"#, calls.join(","))]
    );
    let kinds: Vec<String> = server.accepted().into_iter().map(|a| a.event).collect();
    assert_eq!(
        kinds,
        [
            "identify",
            "Page Viewed",
            "alias",
            "group",
            "group",
            "identify"
        ]
    );
}

#[test]
fn segment_counts_operations_it_cannot_express_as_failed_and_sends_the_rest() {
    let server = TestServer::segment(WRITE_KEY);
    let batch = vec![
        profile(ProfileOp::SetOnce, "id-0", r#"{"first_seen":"2023-11-14"}"#),
        profile(ProfileOp::Set, "id-1", r#"{"plan":"pro"}"#),
        profile(ProfileOp::Add, "id-2", r#"{"logins":1}"#),
        group(ProfileOp::Remove, "id-3", r#"{"regions":"eu"}"#),
        group(ProfileOp::Union, "id-4", r#"{"regions":["eu"]}"#),
        profile(ProfileOp::Union, "id-5", r#"{"tags":["a"]}"#),
    ];
    let outcome = segment(&server).deliver(&batch);
    let Outcome::Partial { failed } = outcome else {
        panic!("expected a partial outcome, got {outcome:?}");
    };
    let failed: Vec<(usize, &str)> = failed.iter().map(|(i, r)| (*i, r.as_str())).collect();
    assert_eq!(failed.len(), 5, "{failed:?}");
    for ((index, reason), (want, op)) in failed.iter().zip([
        (0, "`set_once`"),
        (2, "`add`"),
        (3, "`remove`"),
        (4, "`union`"),
        (5, "`union`"),
    ]) {
        assert_eq!(*index, want);
        assert!(reason.contains(op), "{reason}");
    }
    server.assert_no_violations();
    let sent: Vec<String> = server.accepted().into_iter().map(|a| a.insert_id).collect();
    assert_eq!(sent, ["id-1"], "only what Segment can express is sent");
}

/// Every fault of the matrix, once, for the profile endpoints of Mixpanel; then the faults
/// clear. Nothing may be lost, nothing stored twice, and nothing retried after a permanent
/// answer.
#[test]
fn mixpanel_fault_matrix_on_profiles_groups_and_links() {
    let server = TestServer::mixpanel(TOKEN);
    let mut sink = mixpanel(&server);
    let batch = mixed_batch();
    let faults = [
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::TooManyRequests {
            retry_after_secs: 9,
        },
        Fault::Slow(Duration::from_millis(1500)),
        Fault::Reset,
    ];
    for path in ["/import", "/engage", "/groups"] {
        server.script_path(path, faults.clone());
    }
    let mut retries = Vec::new();
    loop {
        match sink.deliver(&batch) {
            Outcome::Delivered => break,
            Outcome::Retry { reason, after } => retries.push((reason, after)),
            other => panic!("after {} retries: {other:?}", retries.len()),
        }
        assert!(retries.len() < 20, "{retries:?}");
    }
    // An endpoint that answers 5xx or 429 does not hold up the others: the four status faults
    // of the three endpoints take four attempts. One that does not answer ends the attempt:
    // each endpoint's timeout and reset take one each.
    assert_eq!(retries.len(), 4 + 6, "{retries:?}");
    for (i, status) in [500, 502, 503, 429].into_iter().enumerate() {
        assert!(
            retries[i].0.contains(&status.to_string()),
            "{:?}",
            retries[i]
        );
    }
    assert_eq!(
        retries[3].1,
        Some(Duration::from_secs(9)),
        "Retry-After is passed on"
    );
    assert!(
        retries[4..]
            .iter()
            .all(|(r, after)| after.is_none() && !r.contains("answered")),
        "{retries:?}"
    );
    // A slow answer is recorded when the stand-in finishes it, after the client gave up.
    let met = || server.seen().iter().filter(|s| s.fault.is_some()).count();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while met() < 3 * faults.len() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        met(),
        3 * faults.len(),
        "every fault at every endpoint was met"
    );
    server.assert_no_violations();
    let counts = server.accepted_counts();
    assert_eq!(counts.len(), 13, "every record arrived: nothing lost");
    assert!(
        counts.values().all(|&n| n == 1),
        "no record stored twice: {counts:?}"
    );
    // Each endpoint saw its records exactly once in an accepted request: the endpoints before
    // a failing one were not resent.
    for (path, records) in [("/import", 2), ("/engage", 8), ("/groups", 3)] {
        let accepted: usize = server
            .seen()
            .iter()
            .filter(|s| s.path == path && s.status == 200 && s.fault.is_none())
            .map(|s| s.events)
            .sum();
        assert_eq!(accepted, records, "{path}");
    }
}

#[test]
fn mixpanel_maps_per_update_errors_and_permanent_answers_to_their_envelopes() {
    let server = TestServer::mixpanel(TOKEN);
    let mut sink = mixpanel(&server);
    let batch = mixed_batch();
    // Rejects the 6th update of /engage: the second removal of envelope 7 (records 0..=3 are
    // envelopes 0, 3, 5, 6; 4 and 5 are envelope 7's).
    let sixth = r#"{"$token":"0123456789abcdef0123456789abcdef","$distinct_id":"4c1b7e0f9a2d8e3c6b5a4f1e0d9c8b7a","$remove":{"tags":"old"}}"#;
    let canonical = serde_json::from_str::<serde_json::Value>(sixth)
        .expect("JSON")
        .to_string();
    server.script_path("/import", [Fault::Reject(vec!["id-02".into()])]);
    server.script_path("/engage", [Fault::Reject(vec![canonical.clone()])]);
    server.script_path("/groups", [Fault::Status(401)]);
    let outcome = sink.deliver(&batch);
    let Outcome::Partial { failed } = outcome else {
        panic!("expected a partial outcome, got {outcome:?}");
    };
    let indices: Vec<usize> = failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [2, 4, 7, 10, 11], "{failed:?}");
    assert!(
        failed[0].1.contains("properties.time"),
        "the link: {}",
        failed[0].1
    );
    assert!(failed[2].1.contains("$remove"), "{}", failed[2].1);
    for (_, reason) in [&failed[1], &failed[3], &failed[4]] {
        assert!(
            reason.contains("401") && reason.contains("/groups"),
            "{reason}"
        );
    }
    server.assert_no_violations();
    let groups_requests = server.seen().iter().filter(|s| s.path == "/groups").count();
    assert_eq!(groups_requests, 1, "a permanent answer is not retried");
    let counts = server.accepted_counts();
    assert_eq!(
        counts.len(),
        1 + 7,
        "the event and the updates /engage kept"
    );
    assert!(!counts.contains_key(&canonical) && !counts.contains_key("id-02"));

    // A 200 with status 0 refuses the whole request: permanent, like a 401, for /engage only.
    server.script_path("/engage", [Fault::StatusZero]);
    let outcome = sink.deliver(&batch);
    let Outcome::Partial { failed } = outcome else {
        panic!("expected a partial outcome, got {outcome:?}");
    };
    let indices: Vec<usize> = failed.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [0, 3, 5, 6, 7, 8, 9]);
    assert!(failed.iter().all(|(_, r)| r.contains("status 0")));
}

#[test]
fn segment_fault_matrix_on_identify_group_and_alias() {
    let server = TestServer::segment(WRITE_KEY);
    let mut sink = segment(&server);
    let batch: Vec<Envelope> = (0..30)
        .map(|i| {
            let id = insert_id();
            match i % 5 {
                0 => profile(ProfileOp::Set, &id, &format!(r#"{{"n":{i}}}"#)),
                1 => join(&id),
                2 => group(ProfileOp::Set, &id, &format!(r#"{{"seats":{i}}}"#)),
                3 => link(&id),
                _ => profile(ProfileOp::Unset, &id, r#"["n"]"#),
            }
        })
        .collect();
    server.script([
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::TooManyRequests {
            retry_after_secs: 4,
        },
        Fault::Slow(Duration::from_millis(1500)),
        Fault::Reset,
    ]);
    for _ in 0..6 {
        let outcome = sink.deliver(&batch);
        assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
    }
    assert!(server.accepted().is_empty());
    assert_eq!(sink.deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();
    let counts = server.accepted_counts();
    assert_eq!(counts.len(), 30);
    assert!(counts.values().all(|&n| n == 1));

    // Segment answers a malformed batch or a bad key for the whole batch, once.
    for status in [400, 401] {
        server.script([Fault::Status(status)]);
        let before = server.seen().len();
        let outcome = sink.deliver(&batch);
        assert!(
            matches!(&outcome, Outcome::Failed { reason } if reason.contains(&status.to_string())),
            "{status}: {outcome:?}"
        );
        assert_eq!(server.seen().len(), before + 1, "not retried");
    }
}

/// The key `common::key()` holds, as bytes: the test derives distinct ids from it on its own.
const KEY: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A distinct id as the README defines it, computed here with the `hmac` and `sha2` crates
/// directly: the key's id (the first 4 bytes of SHA-256 of a domain tag and the key), `:`,
/// then the hex HMAC-SHA-256 of the raw id.
fn pseudonym(raw: &str) -> String {
    let id = Sha256::new()
        .chain_update(b"trackplan key id\0")
        .chain_update(KEY)
        .finalize();
    let mut mac = Hmac::<Sha256>::new_from_slice(&KEY).expect("any key length");
    mac.update(raw.as_bytes());
    format!("{}:{}", hex(&id[..4]), hex(&mac.finalize().into_bytes()))
}

const FAST: RetryPolicy = RetryPolicy {
    initial_backoff: Duration::from_millis(20),
    max_backoff: Duration::from_millis(100),
    max_retries: 10,
};

fn tracker(mp: &TestServer, seg: &TestServer) -> TrackerBuilder {
    tracker_with(mp, seg, FAST)
}

fn tracker_with(
    mp: &TestServer,
    seg: &TestServer,
    mixpanel_retries: RetryPolicy,
) -> TrackerBuilder {
    Tracker::builder(&common::PLAN)
        .key(common::key())
        .sink(
            destination::Mixpanel,
            mixpanel(mp).retry_policy(mixpanel_retries),
        )
        .sink(destination::Ads, segment(seg).retry_policy(FAST))
        .skip(destination::Warehouse)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .max_delay(Duration::from_millis(5))
        .flush_timeout(Duration::from_secs(20))
}

#[test]
fn a_stitch_through_the_tracker_links_both_pseudonymous_ids_at_each_destination() {
    let mp = TestServer::mixpanel(TOKEN);
    let seg = TestServer::segment(WRITE_KEY);
    // Faults first: the link must still arrive exactly once at each.
    mp.script([Fault::Status(503), Fault::Reset]);
    seg.script([Fault::TooManyRequests {
        retry_after_secs: 0,
    }]);
    let tracker = tracker(&mp, &seg).build().expect("tracker");
    let consent = Consent::none()
        .grant(purpose::ProductAnalytics)
        .grant(purpose::Advertising);
    let visitor = tracker.anonymous_with_id("cookie-7f3a", consent);
    let user = visitor.identify("user-42");
    tracker.flush().expect("flush");
    mp.assert_no_violations();
    seg.assert_no_violations();

    let (anon, id) = (pseudonym("cookie-7f3a"), pseudonym("user-42"));
    assert_eq!(visitor.distinct_id(), anon);
    assert_eq!(user.distinct_id(), id);

    let stored = mp.accepted();
    assert_eq!(stored.len(), 1, "one link at Mixpanel");
    let link = &stored[0];
    let expected = format!(
        concat!(
            r#"[{{"event":"$identify","properties":{{"time":{},"distinct_id":"{id}","$insert_id":"{}","ip":0,"#,
            r#""$user_id":"{id}","$device_id":"{anon}","$identified_id":"{id}","$anon_id":"{anon}"}}}}]"#
        ),
        link.properties["time"],
        link.insert_id,
        id = id,
        anon = anon
    );
    let bodies = body_of(&mp, "/import");
    assert_eq!(bodies.last(), Some(&expected));
    assert!(
        bodies.iter().all(|b| b == &expected),
        "retries resend the same bytes"
    );

    let aliases = seg.accepted();
    assert_eq!(aliases.len(), 1, "one alias at Segment");
    let alias = &aliases[0].raw;
    assert_eq!(alias["type"], "alias");
    assert_eq!(alias["previousId"], anon.as_str());
    assert_eq!(alias["userId"], id.as_str());
    tracker.shutdown().expect("shutdown");
}

#[test]
fn a_link_refused_for_good_is_reported_and_never_retried() {
    let mp = TestServer::mixpanel(TOKEN);
    let seg = TestServer::segment(WRITE_KEY);
    mp.script([Fault::Status(401)]);
    let tracker = tracker(&mp, &seg).build().expect("tracker");
    let visitor =
        tracker.anonymous_with_id("cookie-1", Consent::none().grant(purpose::ProductAnalytics));
    let _user = visitor.identify("user-1");
    match tracker.flush() {
        Err(e @ FlushError::Failed { .. }) => assert!(e.to_string().contains("`mixpanel`"), "{e}"),
        other => panic!("expected the 401 to be reported: {other:?}"),
    }
    let stats = *tracker.stats().destination("mixpanel").expect("stats");
    assert_eq!((stats.failed, stats.delivered, stats.retried), (1, 0, 0));
    assert_eq!(mp.seen().len(), 1, "one request, no retry");
    assert!(
        seg.seen().is_empty(),
        "no advertising consent: nothing for Segment"
    );
    tracker.shutdown().ok();
}

/// The `hmac` transform of a trait value, recomputed here: HMAC-SHA-256 under the key, hex.
fn hmac_hex(value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&KEY).expect("any key length");
    mac.update(value.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Through a tracker and the code `plan!` generates for the shop fixture: a visitor signs up
/// (stitch), updates their profile, joins a company, updates it and checks out as a member.
/// Every body is asserted byte for byte; only insert ids and the times of untimed messages are
/// read from what arrived. Both distinct ids and the `hmac` e-mail trait are recomputed here;
/// the e-mail trait is named `$email` in the plan, Mixpanel's reserved profile name, and arrives so.
#[test]
fn profiles_groups_and_a_stitch_from_generated_code_byte_for_byte() {
    use common::{Company, Currency, Profile, ProfileAdAudience, ProfilePlanTier};
    let mp = TestServer::mixpanel(TOKEN);
    let seg = TestServer::segment(WRITE_KEY);
    let tracker = tracker(&mp, &seg).build().expect("tracker");
    let consent = Consent::none()
        .grant(purpose::ProductAnalytics)
        .grant(purpose::Advertising);
    let visitor = tracker.anonymous_with_id("cookie-9", consent);
    let user = visitor.identify("user-42");
    user.update_profile(
        Profile::new()
            .set_plan_tier(ProfilePlanTier::Pro)
            .set_email(trackplan_runtime::Personal::new(
                " Alice@Example.COM ".into(),
            ))
            .set_ad_audience(ProfileAdAudience::Loyal)
            .add_order_count(2)
            .union_favourite_categories(["shoes", "bags"]),
    );
    user.update_profile(Profile::new().remove_favourite_categories(["hats", "caps"]));
    user.join(Company::new("acme"));
    user.update_group(Company::new("acme").set_seats(40).set_industry("retail"));
    let at = trackplan_runtime::Timestamp::from_unix_millis(1_700_000_000_123);
    user.track_at(
        common::CheckoutCompleted {
            revenue: 59.9,
            currency: Currency::Eur,
            item_count: 2,
            product_ids: vec!["sku-1".into()],
            coupon_codes: None,
            ordered_at: at,
        },
        at,
    );
    tracker.flush().expect("flush");
    mp.assert_no_violations();
    seg.assert_no_violations();

    let (anon, id) = (pseudonym("cookie-9"), pseudonym("user-42"));
    let email = hmac_hex("alice@example.com");
    let received = |server: &TestServer, path: &str| -> serde_json::Value {
        let seen: Vec<_> = server
            .seen()
            .into_iter()
            .filter(|s| s.path == path)
            .collect();
        assert_eq!(seen.len(), 1, "{path}: one request");
        seen[0].body.clone()
    };

    let import = received(&mp, "/import");
    let (link_time, link_id) = (
        &import[0]["properties"]["time"],
        &import[0]["properties"]["$insert_id"],
    );
    let checkout_id = &import[1]["properties"]["$insert_id"];
    let expected_import = format!(
        concat!(
            r#"[{{"event":"$identify","properties":{{"time":{link_time},"distinct_id":"{id}","$insert_id":{link_id},"ip":0,"#,
            r#""$user_id":"{id}","$device_id":"{anon}","$identified_id":"{id}","$anon_id":"{anon}"}}}},"#,
            r#"{{"event":"Checkout Completed","properties":{{"time":1700000000123,"distinct_id":"{id}","$insert_id":{checkout_id},"ip":0,"#,
            r#""Revenue":59.9,"Currency":"EUR","Item Count":2,"Product IDs":["sku-1"],"Ordered At":"2023-11-14T00:00:00.000Z","#,
            r#""Company ID":["acme"]}}}}]"#
        ),
        link_time = link_time,
        link_id = link_id,
        checkout_id = checkout_id,
        id = id,
        anon = anon,
    );
    assert_eq!(body_of(&mp, "/import"), [expected_import]);

    let user_update = format!(r#"{{"$token":"{TOKEN}","$distinct_id":"{id}","#);
    let engage = [
        format!(r#""$set":{{"Plan Tier":"pro","$email":"{email}"}}}}"#),
        r#""$add":{"Order Count":2}}"#.to_owned(),
        r#""$union":{"Favourite Categories":["shoes","bags"]}}"#.to_owned(),
        r#""$remove":{"Favourite Categories":"hats"}}"#.to_owned(),
        r#""$remove":{"Favourite Categories":"caps"}}"#.to_owned(),
        r#""$union":{"Company ID":["acme"]}}"#.to_owned(),
    ]
    .map(|op| format!("{user_update}{op}"));
    assert_eq!(
        body_of(&mp, "/engage"),
        [format!("[{}]", engage.join(","))],
        "the advertising trait stays out of Mixpanel"
    );
    assert_eq!(
        body_of(&mp, "/groups"),
        [format!(
            r#"[{{"$token":"{TOKEN}","$group_key":"Company ID","$group_id":"acme","$set":{{"Industry":"retail","Seats":40}}}}]"#
        )]
    );

    let batch = received(&seg, "/v1/batch");
    let calls = batch["batch"].as_array().expect("batch");
    let meta = |i: usize| {
        format!(
            r#""userId":"{id}","messageId":{},"timestamp":{}"#,
            calls[i]["messageId"], calls[i]["timestamp"]
        )
    };
    let library = format!(
        r#""library":{{"name":"trackplan","version":"{}"}}}}}}"#,
        env!("CARGO_PKG_VERSION")
    );
    let expected_calls = [
        format!(
            r#"{{"type":"alias","previousId":"{anon}",{},"context":{{{library}"#,
            meta(0)
        ),
        format!(
            r#"{{"type":"identify",{},"traits":{{"Ad Audience":"loyal"}},"context":{{{library}"#,
            meta(1)
        ),
        format!(
            r#"{{"type":"group","groupId":"acme",{},"traits":{{"group_type":"company"}},"context":{{{library}"#,
            meta(2)
        ),
        format!(
            r#"{{"type":"group","groupId":"acme",{},"traits":{{"group_type":"company","Industry":"retail"}},"context":{{{library}"#,
            meta(3)
        ),
        format!(
            concat!(
                r#"{{"type":"track","event":"Checkout Completed",{},"properties":{{"Revenue":59.9,"Currency":"EUR","#,
                r#""Item Count":2,"Product IDs":["sku-1"],"Ordered At":"2023-11-14T00:00:00.000Z"}},"#,
                r#""context":{{"groupId":"acme",{library}"#
            ),
            meta(4),
            library = library
        ),
    ];
    assert_eq!(
        body_of(&seg, "/v1/batch"),
        [format!(r#"{{"batch":[{}]}}"#, expected_calls.join(","))],
        "only the advertising purpose's data reaches the ad network"
    );
    assert_eq!(
        calls[4]["messageId"], *checkout_id,
        "an event has one insert id everywhere"
    );
    assert_eq!(calls[4]["timestamp"], "2023-11-14T22:13:20.123Z");
    tracker.shutdown().expect("shutdown");
}

/// The fault matrix through the worker: every fault once at each Mixpanel endpoint, for a
/// stitch, profile updates, a join and a group update from generated code. The worker retries
/// what is worth retrying, the per-update rejection fails that update for good, and each
/// record is stored exactly once.
#[test]
fn the_worker_retries_profile_batches_through_every_fault_and_stores_each_update_once() {
    use common::{Company, Profile, ProfilePlanTier};
    let mp = TestServer::mixpanel(TOKEN);
    let seg = TestServer::segment(WRITE_KEY);
    let faults = || {
        [
            Fault::Status(500),
            Fault::Status(502),
            Fault::Status(503),
            Fault::TooManyRequests {
                retry_after_secs: 0,
            },
            Fault::Slow(Duration::from_millis(700)),
            Fault::Reset,
        ]
    };
    mp.script_path("/import", faults());
    mp.script_path(
        "/engage",
        faults().into_iter().chain([Fault::RejectFirst(1)]),
    );
    mp.script_path("/groups", faults());
    // Enough retries for every fault at every endpoint, however the worker batches them.
    let patient = RetryPolicy {
        max_retries: 40,
        ..FAST
    };
    let tracker = tracker_with(&mp, &seg, patient).build().expect("tracker");
    let visitor =
        tracker.anonymous_with_id("cookie-3", Consent::none().grant(purpose::ProductAnalytics));
    let user = visitor.identify("user-3");
    user.update_profile(
        Profile::new()
            .set_plan_tier(ProfilePlanTier::Free)
            .add_order_count(1),
    );
    user.join(Company::new("initech"));
    user.update_group(Company::new("initech").set_seats(5));
    match tracker.flush() {
        Err(e @ FlushError::Failed { .. }) => assert!(e.to_string().contains("`mixpanel`"), "{e}"),
        other => panic!("the rejected update is reported: {other:?}"),
    }
    mp.assert_no_violations();
    let stats = *tracker.stats().destination("mixpanel").expect("stats");
    assert_eq!((stats.delivered, stats.failed), (4, 1), "{stats:?}");
    assert!(stats.retried > 0);
    let counts = mp.accepted_counts();
    assert_eq!(counts.len(), 4, "link, add, join, group update: {counts:?}");
    assert!(
        counts.values().all(|&n| n == 1),
        "none stored twice: {counts:?}"
    );
    assert!(
        !mp.accepted()
            .iter()
            .any(|a| a.raw.to_string().contains("Plan Tier")),
        "the rejected $set of the plan tier is not stored"
    );
    // The rejected update went out until the answer that rejected it, never after.
    let engage: Vec<_> = mp
        .seen()
        .into_iter()
        .filter(|s| s.path == "/engage")
        .collect();
    let rejected_at = engage
        .iter()
        .position(|s| s.fault == Some(Fault::RejectFirst(1)))
        .expect("the rejection was served");
    let carries_set = |s: &support::server::Seen| {
        String::from_utf8_lossy(&s.raw).contains(r#""$set":{"Plan Tier":"free"}"#)
    };
    assert!(carries_set(&engage[rejected_at]));
    assert!(
        !engage[rejected_at + 1..].iter().any(carries_set),
        "a permanent rejection is not retried"
    );
    assert_eq!(
        engage.iter().filter(|s| s.fault.is_some()).count(),
        7,
        "every fault was met"
    );
    tracker.shutdown().ok();
}

#[test]
fn mixpanel_splits_profile_requests_at_2000_updates() {
    let server = TestServer::mixpanel(TOKEN);
    let mut batch: Vec<Envelope> = (0..4100)
        .map(|i| profile(ProfileOp::Set, &insert_id(), &format!(r#"{{"n":{i}}}"#)))
        .collect();
    // A removal of three values is three updates: it does not fit in the 2000th place of a
    // request, so it opens the next one.
    batch.insert(
        1999,
        profile(ProfileOp::Remove, &insert_id(), r#"{"tags":["a","b","c"]}"#),
    );
    assert_eq!(mixpanel(&server).deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();
    let sizes: Vec<usize> = server.seen().iter().map(|s| s.events).collect();
    assert_eq!(
        sizes,
        [1999, 2000, 104],
        "3 + 1997 updates, then the last 104"
    );
    assert!(server.seen().iter().all(|s| s.path == "/engage"));
    assert_eq!(server.accepted().len(), 4103);
}
