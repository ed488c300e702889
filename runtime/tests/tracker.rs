//! The tracker end to end: building, routing, consent, transforms on the wire, delivery
//! outcomes, overflow, forget, shutdown.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;

use std::time::Duration;

use common::*;
use serde_json::{Value as Json, json};
use trackplan_runtime::config::{Overflow, RetryPolicy, Timestamps, ViolationPolicy};
use trackplan_runtime::error::{BuildError, FlushError};
use trackplan_runtime::requests::{Access, Erasure};
use trackplan_runtime::sinks::{Memory, Ndjson};
use trackplan_runtime::testing::Recorder;
use trackplan_runtime::{Consent, Outcome, Sink, Timestamp, Tracker, TrackerBuilder};

fn analytics() -> Consent {
    Consent::none().grant(purpose::ProductAnalytics)
}

fn everything() -> Consent {
    Consent::none()
        .grant(purpose::ProductAnalytics)
        .grant(purpose::Advertising)
}

fn fast_retry(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        max_retries,
    }
}

/// A tracker that delivers to the warehouse through `sink` and skips every other destination;
/// `configure` adjusts the builder.
fn warehouse_only(
    sink: impl Sink,
    configure: impl FnOnce(TrackerBuilder) -> TrackerBuilder,
) -> Tracker {
    let builder = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, sink)
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk);
    configure(builder).build().expect("build")
}

fn parse(text: &str) -> Json {
    serde_json::from_str(text).expect("valid JSON")
}

#[test]
fn build_names_every_destination_without_a_sink() {
    let err = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, Memory::new())
        .skip(destination::Ads)
        .build()
        .expect_err("sinks are missing");
    match &err {
        BuildError::MissingSinks { destinations, .. } => {
            assert_eq!(destinations, &["mixpanel", "security_log", "support_desk"]);
        }
        other => panic!("unexpected {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("`mixpanel`, `security_log`, `support_desk`"),
        "{text}"
    );
    assert!(text.contains(".skip(destination::"), "{text}");
}

#[test]
fn build_refuses_foreign_and_duplicate_destinations_and_a_missing_key() {
    let all = |b: trackplan_runtime::TrackerBuilder| {
        b.sink(destination::Warehouse, Memory::new())
            .sink(destination::Mixpanel, Memory::new())
            .sink(destination::Ads, Memory::new())
            .sink(destination::SecurityLog, Memory::new())
            .sink(destination::SupportDesk, Memory::new())
    };
    let err = all(Tracker::builder(&PLAN).key(key()))
        .sink(blog::destination::Warehouse, Memory::new())
        .build()
        .expect_err("foreign destination");
    assert!(
        matches!(
            err,
            BuildError::ForeignDestination {
                destination: "warehouse",
                destination_plan: "blog@1",
                plan: "shop@3"
            }
        ),
        "{err:?}"
    );
    let err = all(Tracker::builder(&PLAN).key(key()))
        .skip(destination::Ads)
        .build()
        .expect_err("duplicate");
    assert!(
        matches!(err, BuildError::DuplicateDestination { destination: "ads" }),
        "{err:?}"
    );
    let err = all(Tracker::builder(&PLAN)).build().expect_err("no key");
    assert!(matches!(err, BuildError::KeyRequired { .. }), "{err:?}");
    assert!(err.to_string().contains("Key::from_env"), "{err}");
    assert!(all(Tracker::builder(&PLAN).key(key())).build().is_ok());
}

#[test]
fn ndjson_lines_follow_the_wire_format() {
    let path = temp_path("wire", "events.ndjson");
    let tracker = warehouse_only(Ndjson::create(&path).expect("create"), |b| {
        b.timestamps(Timestamps::Coarse)
    });
    let user = tracker.subject("user-42", everything());
    let ordered_at = Timestamp::from_utc(2026, 11, 29, 0, 12, 4, 0).expect("valid date");
    let before = Timestamp::now().unix_millis();
    let precise_memory = Memory::new();
    let precise = warehouse_only(precise_memory.clone(), |b| {
        b.timestamps(Timestamps::Precise)
    });
    precise.subject("user-42", everything()).track(product("p"));
    user.track(CheckoutCompleted {
        revenue: 59.9,
        currency: Currency::Eur,
        item_count: 2,
        product_ids: vec!["sku-1".into(), "sku \"2\"".into()],
        coupon_codes: None,
        ordered_at,
    });
    tracker.flush().expect("flush");
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let line = parse(lines[0]);
    let insert_id = line["insert_id"].as_str().expect("insert_id");
    let time = line["time"].as_i64().expect("time");
    let after = Timestamp::now().unix_millis();
    // The coarse clock shows the last scheduler tick (at most 10 ms back); the precise clock,
    // the default, the millisecond.
    assert!(
        time > before - 50 && time <= after,
        "{before} {time} {after}"
    );
    precise.flush().expect("flush");
    let precise_time = precise_memory.envelopes()[0].time_ms;
    assert!(precise_time >= before && precise_time <= after);
    assert_eq!(insert_id.len(), 36);
    assert!(
        insert_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    );
    let distinct_id = key().pseudonymize("user-42");
    // The exact bytes, so key order and escaping are pinned down.
    let want = format!(
        concat!(
            r#"{{"type":"track","event":"Checkout Completed","time":{},"insert_id":"{}","distinct_id":"{}","#,
            r#""plan":"shop@3","purposes":["product_analytics","advertising"],"#,
            r#""properties":{{"Revenue":59.9,"Currency":"EUR","Item Count":2,"#,
            r#""Product IDs":["sku-1","sku \"2\""],"Ordered At":"2026-11-29T00:00:00.000Z"}}}}"#
        ),
        time, insert_id, distinct_id
    );
    assert_eq!(lines[0], want);
    assert!(text.ends_with('\n'));
    assert!(!text.contains("user-42"));
}

#[test]
fn routing_follows_the_plan_and_the_consent() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let analytics_only = tracker.subject("a", analytics());
    let both = tracker.subject("b", everything());
    analytics_only.track(product("p1"));
    both.track(product("p2"));
    both.send_to::<destination::Ads>(product("p3"));
    tracker.flush().expect("flush");
    let ids = |i: usize| -> Vec<String> {
        sinks[i]
            .delivered()
            .iter()
            .map(|e| {
                parse(&e.properties)["Product ID"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(ids(0), ["p1", "p2"]);
    assert_eq!(ids(1), ["p1", "p2"]);
    assert_eq!(ids(2), ["p2", "p3"]);
    assert!(sinks[3].delivered().is_empty() && sinks[4].delivered().is_empty());
    // One event, one insert id in every destination.
    assert_eq!(
        sinks[0].delivered()[1].insert_id,
        sinks[2].delivered()[0].insert_id
    );
    let stats = tracker.stats();
    let ads = stats.destination("ads").expect("ads");
    assert_eq!(
        (ads.accepted, ads.delivered, ads.dropped_consent),
        (3, 2, 1)
    );
    assert_eq!(stats.total.pending(), 0);
}

#[test]
fn redacted_properties_reach_first_party_destinations_only() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let user = tracker.subject("a", analytics());
    user.track(SearchPerformed {
        query: "running shoes".to_string().into(),
        result_count: 3,
        health_filter: None,
    });
    tracker.flush().expect("flush");
    let warehouse = parse(&sinks[0].delivered()[0].properties);
    let mixpanel = parse(&sinks[1].delivered()[0].properties);
    assert_eq!(
        warehouse,
        json!({"Result Count": 3, "Query": "running shoes"})
    );
    assert_eq!(mixpanel, json!({"Result Count": 3}));
}

#[test]
fn special_category_values_reach_first_party_destinations_only() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let explicit = Consent::none().grant_explicit(purpose::ProductAnalytics);
    let user = tracker.subject("a", explicit);
    user.track(SearchPerformed {
        query: "bread".to_string().into(),
        result_count: 2,
        health_filter: Some(SearchPerformedHealthFilter::GlutenFree.into()),
    });
    tracker.flush().expect("flush");
    let warehouse = parse(&sinks[0].delivered()[0].properties);
    let mixpanel = parse(&sinks[1].delivered()[0].properties);
    assert_eq!(
        warehouse,
        json!({"Result Count": 2, "Query": "bread", "Health Filter": "gluten_free"})
    );
    assert_eq!(mixpanel, json!({"Result Count": 2}));
}

#[test]
fn special_category_values_need_explicit_consent() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let search = || SearchPerformed {
        query: "bread".to_string().into(),
        result_count: 2,
        health_filter: Some(SearchPerformedHealthFilter::Diabetic.into()),
    };
    // An ordinary grant (a banner's "accept"): the event goes, its health data does not.
    let ordinary = tracker.subject("a", analytics());
    ordinary.track(search());
    tracker.flush().expect("flush");
    assert_eq!(
        parse(&sinks[0].delivered()[0].properties),
        json!({"Result Count": 2, "Query": "bread"})
    );
    assert_eq!(
        parse(&sinks[1].delivered()[0].properties),
        json!({"Result Count": 2})
    );
    // Made explicit later: from then on the first party receives it.
    ordinary.update_consent(|c| c.grant_explicit(purpose::ProductAnalytics));
    ordinary.track(search());
    tracker.flush().expect("flush");
    // And withdrawn: neither the event nor its health data go any more.
    ordinary.withdraw(purpose::ProductAnalytics);
    ordinary.track(search());
    tracker.flush().expect("flush");
    let warehouse = sinks[0].delivered();
    assert_eq!(warehouse.len(), 2);
    assert_eq!(
        parse(&warehouse[1].properties),
        json!({"Result Count": 2, "Query": "bread", "Health Filter": "diabetic"})
    );
    assert!(
        sinks[1]
            .delivered()
            .iter()
            .all(|e| !e.properties.contains("Health Filter"))
    );
}

#[test]
fn transforms_apply_on_the_wire() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let user = tracker.subject("a", analytics());
    user.track(login_failed("  Alice@Example.COM "));
    user.track(PageViewed {
        url: "https://shop.example/cart?email=alice@example.com#pay".into(),
        ip_address: "2001:db8:aaaa:bbbb::1".to_string().into(),
    });
    user.track(SignupCompleted {
        plan_tier: PlanTier::Pro,
        age: 33.into(),
        newsletter: true,
    });
    tracker.flush().expect("flush");
    let login = parse(&sinks[3].delivered()[0].properties);
    let lowercase_hmac = {
        let mut s = String::new();
        let mut k = key().pseudonymize("alice@example.com");
        k.drain(..9); // "<key id>:" prefix
        s.push_str(&k);
        s
    };
    assert_eq!(
        login,
        json!({"email": lowercase_hmac, "IP Address": "198.51.100.0", "Attempt": 1})
    );
    let page = parse(&sinks[0].delivered()[0].properties);
    assert_eq!(
        page,
        json!({"URL": "https://shop.example/cart", "IP Address": "2001:db8:aaaa::"})
    );
    let signup = parse(&sinks[0].delivered()[1].properties);
    assert_eq!(
        signup,
        json!({"Plan Tier": "pro", "Age": "25-34", "Newsletter": true})
    );
}

#[test]
fn events_whose_required_values_are_invalid_are_refused_and_counted() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let user = tracker.subject("a", analytics());
    user.track(ProductViewed {
        product_id: "x".repeat(65),
        price: -1.0,
        currency: Currency::Usd,
    });
    user.track(PageViewed {
        url: "/".into(),
        ip_address: "not an address".to_string().into(),
    });
    tracker.flush().expect("flush");
    // Every broken value is a required property: neither event is the one the plan
    // describes, so neither is sent (they used to go out without those properties).
    assert!(sinks[0].delivered().is_empty());
    let stats = tracker.stats();
    assert_eq!((stats.dropped_invalid, stats.refused_invalid), (3, 2));
    assert_eq!(stats.total.pending(), 0, "{stats:?}");
}

#[test]
fn panic_policy_fails_loudly_without_the_value() {
    let (tracker, _sinks) = gated_tracker(|b| b.violations(ViolationPolicy::Panic));
    let user = tracker.subject("a", analytics());
    let caught = std::panic::catch_unwind(|| {
        user.track(ProductViewed {
            product_id: "secret-sku-".repeat(10),
            price: 1.0,
            currency: Currency::Usd,
        })
    });
    let payload = caught.expect_err("panics");
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        msg.contains("`product_id`") && msg.contains("max_length of 64"),
        "{msg}"
    );
    assert!(!msg.contains("secret-sku"), "{msg}");
}

#[test]
fn gpc_drops_exactly_the_sale_or_share_purposes() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let user = tracker.subject("a", everything().with_gpc(true));
    user.track(product("p1"));
    user.track(login_failed("a@example.com"));
    tracker.flush().expect("flush");
    assert_eq!(sinks[0].delivered().len(), 1, "analytics still flows");
    assert_eq!(sinks[1].delivered().len(), 1);
    assert!(
        sinks[2].delivered().is_empty(),
        "advertising is sale_or_share"
    );
    assert_eq!(sinks[3].delivered().len(), 1, "security still flows");
    let c = everything().with_gpc(true);
    assert!(c.permits(purpose::ProductAnalytics) && !c.permits(purpose::Advertising));
    let gpc_first = Consent::from_gpc(true).grant(purpose::Advertising);
    assert!(
        !gpc_first.permits(purpose::Advertising),
        "a grant does not override GPC"
    );
    assert!(gpc_first.permits(purpose::Security) && gpc_first.gpc());
}

#[test]
fn opt_out_all_drops_everything_even_without_consent_basis() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let user = tracker.subject("a", everything().opt_out_all());
    user.track(product("p1"));
    user.track(login_failed("a@example.com"));
    user.track(SupportTicketOpened {
        topic: Topic::Refund,
        order_count: 1,
    });
    tracker.flush().expect("flush");
    assert!(sinks.iter().all(|s| s.delivered().is_empty()));
    let stats = tracker.stats();
    assert_eq!(stats.total.accepted, 5);
    assert_eq!(stats.total.dropped_consent, 5);
    assert!(
        sinks.iter().all(|s| s.calls() == 0),
        "nothing was serialized or sent"
    );
}

#[test]
fn legitimate_interest_flows_until_objected_and_contract_needs_no_consent() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let user = tracker.subject("a", Consent::none());
    user.track(login_failed("a@example.com"));
    user.track(SupportTicketOpened {
        topic: Topic::Delivery,
        order_count: 2,
    });
    user.track(product("p1"));
    tracker.flush().expect("flush");
    assert_eq!(sinks[3].delivered().len(), 1, "security is on by default");
    assert_eq!(sinks[4].delivered().len(), 1, "support is a contract");
    assert!(sinks[0].delivered().is_empty(), "analytics needs consent");
    user.update_consent(|c| {
        c.object(purpose::Security)
            .withdraw(purpose::CustomerSupport)
    });
    user.track(login_failed("a@example.com"));
    user.track(SupportTicketOpened {
        topic: Topic::Delivery,
        order_count: 2,
    });
    tracker.flush().expect("flush");
    assert_eq!(
        sinks[3].delivered().len(),
        1,
        "objected: no more security events"
    );
    assert_eq!(
        sinks[4].delivered().len(),
        2,
        "a contract purpose is not withdrawn"
    );
    user.grant(purpose::Security);
    user.track(login_failed("a@example.com"));
    tracker.flush().expect("flush");
    assert_eq!(sinks[3].delivered().len(), 2);
}

#[test]
fn withdrawing_consent_drops_queued_events_for_the_affected_destinations() {
    let (tracker, sinks) = gated_tracker(|b| b);
    sinks[0].close();
    let other = tracker.subject("b", analytics());
    let user = tracker.subject("a", everything());
    other.track(product("blocker"));
    assert!(
        sinks[0].wait_until_blocked(),
        "the worker is stuck in the warehouse"
    );
    for i in 0..5 {
        user.track(product(&format!("a{i}")));
    }
    other.track(product("b-after"));
    user.withdraw(purpose::ProductAnalytics);
    sinks[0].open();
    tracker.flush().expect("flush");
    let users = |i: usize| -> Vec<String> {
        sinks[i]
            .delivered()
            .iter()
            .map(|e| e.distinct_id.to_string())
            .collect()
    };
    let (a, b) = (
        user.distinct_id().to_owned(),
        other.distinct_id().to_owned(),
    );
    assert_eq!(users(0), [b.clone(), b.clone()]);
    assert_eq!(users(1), [b.clone(), b.clone()]);
    assert_eq!(
        users(2),
        vec![a.clone(); 5],
        "advertising was not withdrawn"
    );
    let stats = tracker.stats();
    for id in ["warehouse", "mixpanel"] {
        let c = stats.destination(id).expect("destination");
        assert_eq!(
            (c.accepted, c.delivered, c.dropped_consent),
            (7, 2, 5),
            "{id}"
        );
    }
    assert_eq!(stats.total.pending(), 0);
}

#[test]
fn a_batch_waiting_for_a_retry_is_purged_when_consent_is_withdrawn() {
    let (tracker, sinks) = gated_tracker(|b| b);
    sinks[0].close();
    sinks[0].script([Outcome::Retry {
        reason: "503".into(),
        after: Some(Duration::from_millis(1)),
    }]);
    let user = tracker.subject("a", analytics());
    user.track(product("p1"));
    assert!(sinks[0].wait_until_blocked());
    user.withdraw(purpose::ProductAnalytics);
    sinks[0].open();
    tracker.flush().expect("flush");
    assert!(sinks[0].delivered().is_empty());
    assert_eq!(sinks[0].calls(), 1, "not retried");
    let c = *tracker.stats().destination("warehouse").expect("warehouse");
    assert_eq!(
        (c.accepted, c.dropped_consent, c.retried, c.pending()),
        (1, 1, 0, 0)
    );
}

#[test]
fn retries_back_off_and_give_up_after_the_budget() {
    let retry = Outcome::Retry {
        reason: "429".into(),
        after: None,
    };
    let gated = Gated::new().with_retry(fast_retry(2));
    gated.script([retry.clone(), retry.clone()]);
    let gave_up = Gated::new().with_retry(fast_retry(2));
    gave_up.script([retry.clone(), retry.clone(), retry]);
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, gated.clone())
        .sink(destination::Mixpanel, gave_up.clone())
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .build()
        .expect("build");
    let user = tracker.subject("a", analytics());
    user.track(product("p1"));
    // The batch whose retries ran out is reported by the flush.
    match tracker.flush() {
        Err(FlushError::Failed { destination, .. }) => assert_eq!(destination, "mixpanel"),
        other => panic!("expected Mixpanel's given-up batch: {other:?}"),
    }
    assert_eq!(gated.delivered().len(), 1);
    assert_eq!(gated.calls(), 3);
    assert!(gave_up.delivered().is_empty());
    assert_eq!(gave_up.calls(), 3);
    let stats = tracker.stats();
    let w = stats.destination("warehouse").expect("w");
    assert_eq!((w.delivered, w.retried, w.failed), (1, 2, 0));
    let m = stats.destination("mixpanel").expect("m");
    assert_eq!((m.delivered, m.retried, m.failed), (0, 2, 1));
    // The same insert id on every attempt.
    assert_eq!(gated.delivered()[0].insert_id.len(), 36);
}

#[test]
fn partial_and_permanent_failures_are_counted_not_retried() {
    let partial = Gated::closed().with_retry(fast_retry(5));
    partial.script([Outcome::Partial {
        failed: vec![
            (1, "invalid property".into()),
            (1, "dup".into()),
            (9, "out of range".into()),
        ],
    }]);
    let failing = Gated::new().with_retry(fast_retry(5));
    failing.script([Outcome::Failed {
        reason: "401".into(),
    }]);
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, partial.clone())
        .sink(destination::Mixpanel, failing.clone())
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .max_delay(Duration::from_secs(60))
        .build()
        .expect("build");
    let user = tracker.subject("a", analytics());
    for i in 0..3 {
        user.track(product(&format!("p{i}")));
    }
    partial.open();
    // Failures for good are reported by the flush, the first destination (in plan order) named.
    match tracker.flush() {
        Err(FlushError::Failed {
            destination,
            report,
            ..
        }) => {
            assert_eq!(destination, "warehouse");
            let m = report.destination("mixpanel").expect("mixpanel");
            assert_eq!((m.delivered, m.failed), (0, 3));
        }
        other => panic!("expected the failures to be reported: {other:?}"),
    }
    let stats = tracker.stats();
    let w = stats.destination("warehouse").expect("w");
    assert_eq!((w.accepted, w.delivered, w.failed), (3, 2, 1));
    let m = stats.destination("mixpanel").expect("m");
    assert_eq!((m.accepted, m.delivered, m.failed, m.retried), (3, 0, 3, 0));
    assert_eq!(failing.calls(), 1);
}

/// Polls `done` for up to ten seconds.
fn eventually(done: impl Fn() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    done()
}

#[test]
fn events_are_delivered_after_max_delay_without_a_flush() {
    let memory = Memory::new();
    let tracker = warehouse_only(memory.clone(), |b| b.max_delay(Duration::from_millis(20)));
    let user = tracker.subject("a", analytics());
    // The worker sleeps until woken: the first event of a batch wakes it.
    user.track(product("p0"));
    assert!(eventually(|| memory.len() == 1), "p0 was not delivered");
    // Right after a delivery the worker wakes by itself within `max_delay`, and a new batch
    // does not wake it: its event must still go out, without a flush.
    user.track(product("p1"));
    assert!(eventually(|| memory.len() == 2), "p1 was not delivered");
    // Idle for longer than that, the worker sleeps until woken again.
    std::thread::sleep(Duration::from_millis(200));
    user.track(product("p2"));
    assert!(eventually(|| memory.len() == 3), "p2 was not delivered");
    let stats = tracker.stats();
    let w = stats.destination("warehouse").expect("warehouse");
    assert_eq!((w.accepted, w.delivered), (3, 3));
}

#[test]
fn batches_respect_the_sinks_max_events() {
    let small = Gated::new().with_max_events(2);
    let tracker = warehouse_only(small.clone(), |b| b);
    let user = tracker.subject("a", analytics());
    for i in 0..5 {
        user.track(product(&format!("p{i}")));
    }
    tracker.flush().expect("flush");
    assert_eq!(small.delivered().len(), 5);
    assert!(small.calls() >= 3, "{} calls", small.calls());
    let order: Vec<String> = small
        .delivered()
        .iter()
        .map(|e| {
            parse(&e.properties)["Product ID"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(order, ["p0", "p1", "p2", "p3", "p4"]);
    assert_eq!(
        tracker.stats().destination("mixpanel").map(|c| c.skipped),
        Some(5)
    );
}

#[test]
fn a_full_batch_goes_out_at_once_during_and_after_a_burst() {
    let small = Gated::new().with_max_events(2);
    let tracker = warehouse_only(small.clone(), |b| b.max_delay(Duration::from_secs(60)));
    let user = tracker.subject("a", analytics());
    // A burst of full batches: the worker polls for the next ones instead of being woken.
    for i in 0..20 {
        user.track(product(&format!("p{i}")));
    }
    assert!(eventually(|| small.delivered().len() == 20), "the burst");
    // Once a poll finds nothing, a full batch must wake the worker again: with a one-minute
    // max_delay, nothing else would send it.
    std::thread::sleep(Duration::from_millis(100));
    user.track(product("late-1"));
    // The worker wakes for the new batch, sees it is not due for a minute and sleeps again.
    std::thread::sleep(Duration::from_millis(50));
    user.track(product("late-2"));
    assert!(
        eventually(|| small.delivered().len() == 22),
        "the batch after the burst"
    );
}

#[test]
fn batches_respect_the_sinks_max_bytes() {
    // Each `product` event's properties are 50 bytes: two fit in 110, a third does not.
    let small = Gated::new().with_max_bytes(110);
    let tracker = warehouse_only(small.clone(), |b| b.max_delay(Duration::from_secs(60)));
    let user = tracker.subject("a", analytics());
    for i in 0..5 {
        user.track(product(&format!("p{i}")));
    }
    tracker.flush().expect("flush");
    let delivered = small.delivered();
    assert_eq!(delivered.len(), 5);
    let sizes: Vec<usize> = delivered.iter().map(|e| e.properties.len()).collect();
    assert!(sizes.iter().all(|&n| n == 50), "fixture size: {sizes:?}");
    assert_eq!(small.batch_sizes(), [2, 2, 1]);
}

#[test]
fn a_full_queue_drops_the_newest_and_counts_it() {
    let (tracker, sinks) = gated_tracker(|b| b.queue_capacity(2));
    sinks[3].close();
    let user = tracker.subject("a", Consent::none());
    user.track(login_failed("x@example.com"));
    assert!(sinks[3].wait_until_blocked());
    for _ in 0..4 {
        user.track(login_failed("x@example.com"));
    }
    let c = *tracker.stats().destination("security_log").expect("d");
    assert_eq!((c.accepted, c.dropped_overflow, c.pending()), (5, 2, 3));
    sinks[3].open();
    tracker.flush().expect("flush");
    let c = *tracker.stats().destination("security_log").expect("d");
    assert_eq!((c.delivered, c.dropped_overflow, c.pending()), (3, 2, 0));
}

#[test]
fn a_blocking_queue_waits_for_room_then_gives_up() {
    let (tracker, sinks) = gated_tracker(|b| {
        b.queue_capacity(1)
            .overflow(Overflow::Block(Duration::from_millis(30)))
    });
    sinks[3].close();
    let user = tracker.subject("a", Consent::none());
    user.track(login_failed("x@example.com"));
    assert!(sinks[3].wait_until_blocked());
    user.track(login_failed("x@example.com"));
    user.track(login_failed("x@example.com")); // waits 30 ms, then is dropped
    let c = *tracker.stats().destination("security_log").expect("d");
    assert_eq!((c.accepted, c.dropped_overflow), (3, 1));
    sinks[3].open();
    // With the worker running, a blocked producer gets room.
    for _ in 0..5 {
        user.track(login_failed("x@example.com"));
    }
    tracker.flush().expect("flush");
    let c = *tracker.stats().destination("security_log").expect("d");
    assert_eq!(c.dropped_overflow + c.delivered, 8);
    assert_eq!(c.pending(), 0);
}

#[test]
fn forget_purges_queued_events_and_erases_downstream() {
    let recorder = Recorder::new();
    let memory = Memory::new();
    let path = temp_path("forget", "warehouse.ndjson");
    let ads = Gated::new();
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, Ndjson::append(&path).expect("open"))
        .sink(destination::Mixpanel, recorder.clone())
        .sink(destination::Ads, ads.clone())
        .sink(destination::SecurityLog, memory.clone())
        .skip(destination::SupportDesk)
        .build()
        .expect("build");
    let alice = tracker.subject("alice", everything());
    let bob = tracker.subject("bob", everything());
    alice.track(product("a1"));
    bob.track(product("b1"));
    alice.track(login_failed("alice@example.com"));
    tracker.flush().expect("flush");
    ads.close();
    alice.track(product("a2")); // in flight at the ads sink during the forget
    assert!(ads.wait_until_blocked());
    // Each destination has its own worker: the two others deliver a2 meanwhile.
    assert!(eventually(|| {
        let stats = tracker.stats();
        ["warehouse", "mixpanel"]
            .iter()
            .all(|id| stats.destination(id).is_some_and(|c| c.delivered == 3))
    }));
    alice.track(product("a3")); // queued everywhere
    let opener = {
        let ads = ads.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            ads.open();
        })
    };
    let report = tracker.forget("alice").expect("forget");
    opener.join().expect("opener");
    assert_eq!(
        report.purged, 3,
        "a3 for warehouse, mixpanel and ads; a2 for the two others"
    );
    let answers: Vec<(&str, Erasure)> = report.destinations.clone();
    assert_eq!(
        answers,
        [
            ("warehouse", Erasure::Erased),
            ("mixpanel", Erasure::Erased),
            ("ads", Erasure::Erased),
            ("security_log", Erasure::Erased),
            ("support_desk", Erasure::NothingStored),
        ]
    );
    tracker.flush().expect("flush");
    let file = std::fs::read_to_string(&path).expect("read");
    let bob_id = bob.distinct_id();
    assert!(!file.contains(alice.distinct_id()), "{file}");
    assert_eq!(file.lines().count(), 1);
    assert!(file.contains(bob_id));
    assert!(recorder.events().iter().all(|r| r.distinct_id == bob_id));
    assert!(memory.is_empty());
    assert!(ads.delivered().iter().all(|e| &*e.distinct_id == bob_id));
    // The file sink keeps appending after the rewrite.
    bob.track(product("b2"));
    tracker.flush().expect("flush");
    let file = std::fs::read_to_string(&path).expect("read");
    assert_eq!(file.lines().count(), 2);
    let stats = tracker.stats();
    assert_eq!(stats.total.dropped_forgotten, 3);
    assert_eq!(stats.total.pending(), 0);
}

#[test]
fn request_access_returns_what_each_destination_holds() {
    let recorder = Recorder::new();
    let memory = Memory::new();
    let path = temp_path("access", "warehouse.ndjson");
    let ads = Gated::new();
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, Ndjson::create(&path).expect("open"))
        .sink(destination::Mixpanel, recorder.clone())
        .sink(destination::Ads, ads.clone())
        .sink(destination::SecurityLog, memory.clone())
        .skip(destination::SupportDesk)
        .max_delay(Duration::from_millis(5))
        .build()
        .expect("build");
    let alice = tracker.subject("alice", everything());
    let bob = tracker.subject("bob", everything());
    alice.track(product("a1"));
    bob.track(product("b1"));
    alice.track(login_failed("alice@example.com"));
    alice.track(product("a2"));
    tracker.flush().expect("flush");

    let report = tracker.request_access("alice").expect("access");
    let alice_id = alice.distinct_id();
    let records = |id: &str| -> Vec<Json> {
        match report.destination(id) {
            Some(Access::Records { records, .. }) => records.iter().map(|r| parse(r)).collect(),
            other => panic!("{id}: {other:?}"),
        }
    };
    for id in ["warehouse", "mixpanel"] {
        let got = records(id);
        assert_eq!(got.len(), 2, "{id}: a1 and a2, not bob's b1");
        assert!(got.iter().all(|r| r["distinct_id"] == alice_id), "{id}");
        assert_eq!(got[0]["properties"]["Product ID"], "a1", "{id}");
        assert_eq!(got[1]["properties"]["Product ID"], "a2", "{id}");
    }
    let security = records("security_log");
    assert_eq!(security.len(), 1);
    assert_eq!(security[0]["event"], "Login Failed");
    assert!(
        matches!(report.destination("warehouse"), Some(Access::Records { source: Some(s), .. }) if *s == path.display().to_string())
    );
    assert_eq!(
        report.destination("ads"),
        Some(&Access::NotSupported),
        "the default of a sink without `retrieve`"
    );
    assert_eq!(
        report.destination("support_desk"),
        Some(&Access::NothingStored)
    );
    // Access changes nothing: the data is still there, and still delivered.
    assert_eq!(
        std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .count(),
        3
    );
    assert_eq!(tracker.stats().total.dropped_forgotten, 0);
    let anonymous = tracker.request_access_distinct_id(bob.distinct_id());
    assert_eq!(
        anonymous
            .map(|r| match r.destination("mixpanel") {
                Some(Access::Records { records, .. }) => records.len(),
                _ => 0,
            })
            .ok(),
        Some(1)
    );
    tracker.shutdown().expect("shutdown");
    assert!(matches!(
        tracker.request_access("alice"),
        Err(trackplan_runtime::error::AccessError::Closed)
    ));
}

#[test]
fn anonymous_subjects_get_random_ids_and_can_be_forgotten() {
    let recorder = Recorder::new();
    let tracker = warehouse_only(recorder.clone(), |b| b);
    let a = tracker.anonymous(analytics()).expect("OS randomness");
    let b = tracker.anonymous(analytics()).expect("OS randomness");
    assert!(a.distinct_id().starts_with("anon-") && a.distinct_id().len() == 41);
    assert_ne!(a.distinct_id(), b.distinct_id());
    a.track(product("p"));
    b.track(product("p"));
    tracker.flush().expect("flush");
    tracker.forget_distinct_id(a.distinct_id()).expect("forget");
    assert_eq!(recorder.events().len(), 1);
    assert_eq!(recorder.events()[0].distinct_id, b.distinct_id());
}

#[test]
fn scoped_handles_track_declared_events() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let security = tracker
        .scoped::<purpose::Security>()
        .subject("a", Consent::none());
    security.track(login_failed("a@example.com"));
    let ads = tracker
        .subject("b", everything())
        .scoped::<purpose::Advertising>();
    ads.track(product("p"));
    tracker.flush().expect("flush");
    assert_eq!(sinks[3].delivered().len(), 1);
    assert_eq!(sinks[2].delivered().len(), 1);
}

#[test]
fn a_scoped_visitor_stays_scoped_through_a_stitch_and_backfills_and_replays() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let visitor = tracker
        .scoped::<purpose::ProductAnalytics>()
        .anonymous(analytics())
        .expect("randomness");
    let user: trackplan_runtime::SubjectScope<purpose::ProductAnalytics> =
        visitor.identify("user-7");
    assert!(!user.subject().is_anonymous());
    let at = Timestamp::from_unix_millis(1_700_000_000_123);
    user.track_at(product("p1"), at);
    let options = trackplan_runtime::TrackOptions::new()
        .insert_id("replay-0001")
        .expect("a valid insert id");
    user.track_with_options(product("p2"), &options);
    tracker.flush().expect("flush");
    let events: Vec<_> = sinks[1]
        .delivered()
        .into_iter()
        .filter(|e| e.event == "Product Viewed")
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    for e in &events {
        assert_eq!(*e.distinct_id, *user.subject().distinct_id());
        assert_ne!(*e.distinct_id, *visitor.subject().distinct_id());
    }
    assert_eq!(events[0].time_ms, 1_700_000_000_123);
    assert_eq!(events[1].insert_id, "replay-0001");
    assert!(
        sinks[1]
            .delivered()
            .iter()
            .any(|e| matches!(&e.message, trackplan_runtime::Message::Link { .. })),
        "the stitch is linked at Mixpanel"
    );
}

#[test]
fn track_with_builds_the_event_only_when_a_destination_will_receive_it() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let built = std::cell::Cell::new(0);
    let build = || {
        built.set(built.get() + 1);
        product("p")
    };
    let refusing = tracker.subject("a", Consent::none());
    let consenting = tracker.subject("b", analytics());
    refusing.track_with(build);
    refusing
        .scoped::<purpose::ProductAnalytics>()
        .track_with(build);
    assert_eq!(built.get(), 0, "a refused event is never built");
    consenting.track_with(build);
    consenting
        .scoped::<purpose::ProductAnalytics>()
        .track_with(build);
    assert_eq!(built.get(), 2);
    tracker.flush().expect("flush");
    assert_eq!(sinks[0].delivered().len(), 2);
    assert_eq!(sinks[1].delivered().len(), 2);
    let stats = tracker.stats();
    let w = stats.destination("warehouse").expect("warehouse");
    assert_eq!((w.accepted, w.delivered, w.dropped_consent), (4, 2, 2));
}

#[test]
fn events_and_consent_of_another_plan_are_refused() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let user = tracker.subject("a", everything());
    user.track(BlogRead {});
    assert_eq!(tracker.stats().dropped_wrong_plan, 1);
    let confused = tracker.subject("b", Consent::none().grant(blog::purpose::ProductAnalytics));
    confused.track(login_failed("b@example.com"));
    assert!(
        matches!(
            tracker.flush(),
            Err(FlushError::WrongPlan { events: 1, .. })
        ),
        "the flush reports the dropped event of another plan"
    );
    assert!(
        sinks[3].delivered().is_empty(),
        "foreign consent permits nothing"
    );
}

#[test]
fn identity_is_the_key_id_and_hmac_of_the_subject_id() {
    let (tracker, _sinks) = gated_tracker(|b| b);
    let k = key();
    let user = tracker.subject("user-42", Consent::none());
    assert_eq!(user.distinct_id(), k.pseudonymize("user-42"));
    assert!(user.distinct_id().starts_with(&format!("{}:", k.id())));
    assert_eq!(tracker.distinct_id("user-42"), user.distinct_id());
}

#[test]
fn flush_makes_sinks_durable_and_drop_flushes_pending_events() {
    let memory = Memory::new();
    let gated = Gated::new();
    {
        let tracker = Tracker::builder(&PLAN)
            .key(key())
            .sink(destination::Warehouse, memory.clone())
            .sink(destination::Mixpanel, gated.clone())
            .skip(destination::Ads)
            .skip(destination::SecurityLog)
            .skip(destination::SupportDesk)
            .max_delay(Duration::from_secs(60))
            .build()
            .expect("build");
        tracker.flush().expect("flush");
        assert_eq!(gated.flushes(), 1);
        let user = tracker.subject("a", analytics());
        user.track(product("p"));
        assert!(memory.is_empty(), "batched for up to a minute");
    }
    assert_eq!(memory.len(), 1, "dropping the last handle flushed");
}

#[test]
fn shutdown_reports_what_it_could_not_deliver() {
    let (tracker, sinks) = gated_tracker(|b| b.flush_timeout(Duration::from_millis(50)));
    sinks[3].close();
    let user = tracker.subject("a", Consent::none());
    user.track(login_failed("a@example.com"));
    assert!(sinks[3].wait_until_blocked());
    user.track(login_failed("a@example.com"));
    let err = tracker.shutdown().expect_err("stuck sink");
    assert!(
        matches!(err, FlushError::Timeout { pending: 2, .. }),
        "{err:?}"
    );
    sinks[3].open();
    // The worker finishes its call, then stops; the queued event counts as failed.
    assert!(
        eventually(|| tracker.stats().total.pending() == 0),
        "the worker stopped"
    );
    let c = *tracker.stats().destination("security_log").expect("d");
    assert_eq!((c.delivered, c.failed, c.pending()), (1, 1, 0));
    user.track(login_failed("a@example.com"));
    let c = *tracker.stats().destination("security_log").expect("d");
    assert_eq!(
        (c.accepted, c.failed),
        (3, 2),
        "tracking after shutdown fails visibly"
    );
    assert!(matches!(tracker.flush(), Err(FlushError::Closed)));
    assert!(tracker.shutdown().is_ok(), "a second shutdown is a no-op");
}
