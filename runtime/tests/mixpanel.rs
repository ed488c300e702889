//! The Mixpanel sink against a contract-checking `/import` stand-in on 127.0.0.1.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod fixture;
mod support;

use std::collections::HashSet;
use std::time::Duration;
use support::logs::Logs;
use support::server::{Contract, Fault, TestServer};
use support::{PLAN, PLAN_WITH_IP, envelope_with, envelopes};
use trackplan_runtime::config::RetryPolicy;
use trackplan_runtime::sinks::{
    Compliance, Mixpanel, PrivacyError, PrivacyKind, PrivacyRequest, PrivacyStatus,
};
use trackplan_runtime::{Outcome, Sink};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

fn sink(server: &TestServer) -> Mixpanel {
    Mixpanel::new(TOKEN)
        .base_url(server.url())
        .timeout(Duration::from_millis(500))
}

fn ids(envelopes: &[trackplan_runtime::Envelope]) -> HashSet<String> {
    envelopes.iter().map(|e| e.insert_id.clone()).collect()
}

#[test]
fn delivers_a_batch_as_the_contract_says() {
    let server = TestServer::mixpanel(TOKEN);
    let batch = envelopes(25);
    assert_eq!(sink(&server).deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();

    let accepted = server.accepted();
    assert_eq!(accepted.len(), 25);
    let first = &accepted[0];
    assert_eq!(first.insert_id, batch[0].insert_id);
    assert_eq!(first.event, "Page Viewed");
    assert_eq!(first.distinct_id, &*batch[0].distinct_id);
    assert_eq!(first.properties["time"], batch[0].time_ms);
    assert_eq!(first.properties["URL"], "https://shop.example/p/0");
    assert_eq!(
        first.properties["ip"], 0,
        "no IP property in the plan: ip 0"
    );
    let mut keys: Vec<&str> = first.properties.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["$insert_id", "URL", "distinct_id", "ip", "time"]);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].events, 25);
}

#[test]
fn sends_no_ip_zero_when_the_plan_declares_an_ip_property() {
    let server = TestServer::mixpanel(TOKEN);
    let batch = vec![envelope_with(
        &PLAN_WITH_IP,
        r#"{"URL":"https://shop.example/","IP Address":"203.0.113.0"}"#.into(),
    )];
    assert_eq!(sink(&server).deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();
    let accepted = server.accepted();
    assert!(!accepted[0].properties.contains_key("ip"));
    assert_eq!(accepted[0].properties["IP Address"], "203.0.113.0");
}

#[test]
fn sends_ip_zero_for_an_event_whose_payload_has_no_ip_property() {
    // The plan declares an IP property, but this event's payload for Mixpanel carries none
    // (left out, or withheld as `redact` from a third party): Mixpanel must not geolocate it.
    let server = TestServer::mixpanel(TOKEN);
    let batch = vec![
        envelope_with(&PLAN_WITH_IP, r#"{"URL":"https://shop.example/"}"#.into()),
        envelope_with(
            &PLAN_WITH_IP,
            r#"{"URL":"https://shop.example/","IP Address":"203.0.113.0"}"#.into(),
        ),
    ];
    assert_eq!(sink(&server).deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();
    let accepted = server.accepted();
    assert_eq!(accepted[0].properties["ip"], 0);
    assert!(!accepted[0].properties.contains_key("IP Address"));
    assert!(!accepted[1].properties.contains_key("ip"));
    assert_eq!(accepted[1].properties["IP Address"], "203.0.113.0");
}

#[test]
fn authenticates_with_a_service_account_and_names_the_project() {
    let server = TestServer::start(Contract::Mixpanel {
        token: TOKEN.into(),
        service_account: Some((
            "importer.1a2b3c.mp-service-account".into(),
            "s3cr3t".into(),
            "424242".into(),
        )),
        gdpr_token: "unused".into(),
    });
    let mut mixpanel =
        sink(&server).service_account("importer.1a2b3c.mp-service-account", "s3cr3t", "424242");
    assert_eq!(mixpanel.deliver(&envelopes(3)), Outcome::Delivered);
    server.assert_no_violations();

    // The same server refuses the project token: a permanent failure, reported as such.
    let outcome = sink(&server).deliver(&envelopes(1));
    assert!(matches!(outcome, Outcome::Failed { .. }), "{outcome:?}");
}

#[test]
fn splits_batches_at_2000_events() {
    let server = TestServer::mixpanel(TOKEN);
    let batch = envelopes(4500);
    assert_eq!(sink(&server).deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();
    let counts: Vec<usize> = server.seen().iter().map(|s| s.events).collect();
    assert_eq!(counts, [2000, 2000, 500]);
    assert_eq!(server.accepted_counts().len(), 4500);
}

#[test]
fn splits_batches_at_2_mib() {
    let server = TestServer::mixpanel(TOKEN);
    let filler = "x".repeat(3000);
    let batch: Vec<_> = (0..1500)
        .map(|i| envelope_with(&PLAN, format!(r#"{{"URL":"/{i}","Note":"{filler}"}}"#)))
        .collect();
    assert_eq!(sink(&server).deliver(&batch), Outcome::Delivered);
    server.assert_no_violations();
    let seen = server.seen();
    assert!(seen.len() >= 3, "4.5 MB needs at least three requests");
    assert!(seen.iter().all(|s| s.body_bytes <= 2 * 1024 * 1024));
    assert_eq!(seen.iter().map(|s| s.events).sum::<usize>(), 1500);
    let accepted: HashSet<String> = server.accepted().into_iter().map(|a| a.insert_id).collect();
    assert_eq!(accepted, ids(&batch));
}

#[test]
fn drops_oversize_events_with_a_warning_that_quotes_no_value() {
    let server = TestServer::mixpanel(TOKEN);
    let secret = "4111-1111-1111-1111 ".repeat(60_000); // 1.2 MB
    let too_many: Vec<String> = (0..260).map(|i| format!("\"p{i}\":{i}")).collect();
    let mut batch = envelopes(3);
    batch.insert(1, envelope_with(&PLAN, format!(r#"{{"Note":"{secret}"}}"#)));
    batch.push(envelope_with(&PLAN, format!("{{{}}}", too_many.join(","))));
    let mut bad_id = envelopes(1).remove(0);
    bad_id.insert_id = "not a valid insert id!".into();
    batch.push(bad_id);

    let logs = Logs::default();
    let outcome = logs.capture(|| sink(&server).deliver(&batch));
    let Outcome::Partial { failed } = outcome else {
        panic!("expected a partial outcome, got {outcome:?}");
    };
    assert_eq!(
        failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        [1, 4, 5]
    );
    server.assert_no_violations();
    let accepted: HashSet<String> = server.accepted().into_iter().map(|a| a.insert_id).collect();
    assert_eq!(accepted.len(), 3, "only the valid events were sent");
    assert!(!accepted.contains(&batch[1].insert_id));

    let lines = logs.lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines.iter().all(|l| l.starts_with("WARN")));
    assert!(lines[0].contains(&batch[1].insert_id) && lines[0].contains("bytes"));
    assert!(lines[1].contains("properties"));
    assert!(
        lines
            .iter()
            .all(|l| !l.contains("4111") && !l.contains("\"p1\"")),
        "{lines:#?}"
    );
}

#[test]
fn maps_every_fault_to_the_right_outcome() {
    let server = TestServer::mixpanel(TOKEN);
    let mut mixpanel = sink(&server);
    let batch = envelopes(10);
    let reject = vec![batch[2].insert_id.clone(), batch[7].insert_id.clone()];
    server.script([
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::TooManyRequests {
            retry_after_secs: 7,
        },
        Fault::Slow(Duration::from_millis(1500)),
        Fault::Reset,
        Fault::Status(401),
    ]);
    for status in [500, 502, 503] {
        let outcome = mixpanel.deliver(&batch);
        assert_eq!(
            outcome,
            Outcome::Retry {
                reason: format!("Mixpanel answered {status}"),
                after: None
            }
        );
    }
    let outcome = mixpanel.deliver(&batch);
    assert_eq!(
        outcome,
        Outcome::Retry {
            reason: "Mixpanel answered 429".into(),
            after: Some(Duration::from_secs(7))
        }
    );
    let outcome = mixpanel.deliver(&batch);
    assert!(
        matches!(&outcome, Outcome::Retry { reason, .. } if reason.contains("timeout")),
        "slow response: {outcome:?}"
    );
    let outcome = mixpanel.deliver(&batch);
    assert!(
        matches!(&outcome, Outcome::Retry { .. }),
        "reset: {outcome:?}"
    );
    let outcome = mixpanel.deliver(&batch);
    assert!(
        matches!(&outcome, Outcome::Failed { reason } if reason.contains("401")),
        "401: {outcome:?}"
    );
    assert!(server.accepted().is_empty());

    server.script([Fault::Reject(reject.clone())]);
    let outcome = mixpanel.deliver(&batch);
    let Outcome::Partial { failed } = outcome else {
        panic!("expected partial, got {outcome:?}");
    };
    assert_eq!(failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [2, 7]);
    assert!(
        failed
            .iter()
            .all(|(_, why)| why.contains("properties.time"))
    );
    server.assert_no_violations();

    let counts = server.accepted_counts();
    assert_eq!(counts.len(), 8);
    assert!(counts.values().all(|&n| n == 1));
    assert!(reject.iter().all(|id| !counts.contains_key(id)));
}

#[test]
fn a_retried_split_batch_resends_only_what_was_not_accepted() {
    let server = TestServer::mixpanel(TOKEN);
    let mut mixpanel = sink(&server);
    let batch = envelopes(4100);
    server.script([
        Fault::Reject(vec![batch[5].insert_id.clone()]),
        Fault::Status(503),
    ]);
    // The first request is accepted but for one record, the second must be retried.
    let first = mixpanel.deliver(&batch);
    assert!(matches!(first, Outcome::Retry { .. }), "{first:?}");
    let second = mixpanel.deliver(&batch);
    let Outcome::Partial { failed } = second else {
        panic!("the rejected record is still reported: {second:?}");
    };
    assert_eq!(failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [5]);
    server.assert_no_violations();
    let counts = server.accepted_counts();
    assert_eq!(counts.len(), 4099);
    assert!(
        counts.values().all(|&n| n == 1),
        "no insert id accepted twice"
    );
    let sizes: Vec<usize> = server.seen().iter().map(|s| s.events).collect();
    assert_eq!(sizes, [2000, 2000, 2000, 100]);
}

#[test]
fn unreachable_host_is_a_retry() {
    // A port nobody listens on: bind, learn the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("ephemeral port")
        .port();
    let mut mixpanel = Mixpanel::new(TOKEN)
        .base_url(format!("http://127.0.0.1:{port}"))
        .timeout(Duration::from_millis(500));
    let outcome = mixpanel.deliver(&envelopes(1));
    assert!(
        matches!(&outcome, Outcome::Retry { reason, after: None } if reason.contains("connect")),
        "{outcome:?}"
    );
}

fn privacy_sink(server: &TestServer) -> Mixpanel {
    sink(server)
        .gdpr_api_token("gdpr-oauth-token")
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            max_retries: 2,
        })
}

#[test]
fn deletion_requests_follow_the_gdpr_api_contract() {
    let server = TestServer::mixpanel(TOKEN);
    let mut mixpanel = privacy_sink(&server);
    let ids: Vec<String> = (0..2500).map(|i| format!("distinct-{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();

    let requests = mixpanel.request_deletion(&refs).expect("accepted");
    assert_eq!(requests.len(), 2, "at most 1999 ids per request");
    assert_eq!(requests[0].distinct_ids, 1999);
    assert_eq!(requests[1].distinct_ids, 501);
    assert!(requests.iter().all(|r| r.kind == PrivacyKind::Deletion));
    assert_ne!(requests[0].tracking_id, requests[1].tracking_id);

    let status = mixpanel.privacy_status(&requests[0]).expect("status");
    assert_eq!(status, PrivacyStatus::Success);
    let unknown = PrivacyRequest {
        tracking_id: "deletion-999".into(),
        ..requests[0].clone()
    };
    assert_eq!(
        mixpanel.privacy_status(&unknown),
        Ok(PrivacyStatus::NotFound)
    );
    server.assert_no_violations(); // includes: no two requests within a second

    let seen = server.seen();
    let posts: Vec<_> = seen.iter().filter(|s| s.method == "POST").collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0].path, "/api/app/data-deletions/v3.0/");
    assert_eq!(posts[0].body["compliance_type"], "GDPR");
    assert_eq!(posts[0].body["distinct_ids"][0], "distinct-0");
    assert_eq!(posts[1].body["distinct_ids"][500], "distinct-2499");
    assert!(posts[1].at.duration_since(posts[0].at) >= Duration::from_millis(900));
}

#[test]
fn retrieval_requests_and_ccpa() {
    let server = TestServer::mixpanel(TOKEN);
    let mut mixpanel = privacy_sink(&server).compliance(Compliance::Ccpa);
    let requests = mixpanel.request_retrieval(&["d1", "d2"]).expect("accepted");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].kind, PrivacyKind::Retrieval);
    assert_eq!(
        mixpanel.privacy_status(&requests[0]),
        Ok(PrivacyStatus::Success)
    );
    server.assert_no_violations();
    let post = &server.seen()[0];
    assert_eq!(post.path, "/api/app/data-retrievals/v3.0/");
    assert_eq!(post.body["compliance_type"], "CCPA");
    assert_eq!(post.body["disclosure_type"], "Data");
}

#[test]
fn privacy_requests_retry_while_unavailable_and_stop_on_refusal() {
    let server = TestServer::mixpanel(TOKEN);
    let mut mixpanel = privacy_sink(&server);
    server.script([
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
        Fault::Status(503),
    ]);
    let requests = mixpanel
        .request_deletion(&["d1"])
        .expect("third attempt succeeds");
    assert_eq!(requests.len(), 1);
    assert_eq!(server.seen().len(), 3);

    server.script([Fault::Status(401)]);
    let refused = mixpanel.request_deletion(&["d1"]);
    assert!(
        matches!(refused, Err(PrivacyError::Refused { status: 401, .. })),
        "{refused:?}"
    );
    assert_eq!(server.seen().len(), 4, "a refusal is not retried");

    let unconfigured = sink(&server).request_deletion(&["d1"]);
    assert_eq!(unconfigured, Err(PrivacyError::NotConfigured));
    server.assert_no_violations();
}
