//! The built-in sinks and the test recorder on their own.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;

use common::*;
use serde_json::json;
use trackplan_runtime::sinks::{Memory, Ndjson, Stdout};
use trackplan_runtime::testing::Recorder;
use trackplan_runtime::{Consent, Subject, Tracker};

fn assert_handles_are_shareable<T: Clone + Send + Sync + 'static>() {}

#[test]
fn handles_are_clone_send_and_sync() {
    assert_handles_are_shareable::<Tracker>();
    assert_handles_are_shareable::<Subject>();
    assert_handles_are_shareable::<Recorder>();
    assert_handles_are_shareable::<Memory>();
}

fn tracker_with(warehouse: impl trackplan_runtime::Sink) -> Tracker {
    Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, warehouse)
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .build()
        .expect("build")
}

#[test]
fn recorder_assertions_pass_and_fail_with_useful_messages() {
    let recorder = Recorder::new();
    let tracker = tracker_with(recorder.clone());
    let user = tracker.subject("a", Consent::none().grant(purpose::ProductAnalytics));
    user.track(product("sku-1"));
    user.track(product("sku-2"));
    tracker.flush().expect("flush");

    let last = recorder.assert_tracked("Product Viewed");
    assert_eq!(last.property("Product ID"), Some(&json!("sku-2")));
    assert_eq!(last.purposes, ["product_analytics", "advertising"]);
    assert_eq!(last.plan, "shop@3");
    assert_eq!(last.distinct_id, user.distinct_id());
    recorder.assert_tracked_times("Product Viewed", 2);
    recorder.assert_property("Product Viewed", "Currency", json!("EUR"));
    recorder.assert_no_property("Product Viewed", "Query");
    recorder.assert_not_tracked("Signup Completed");

    let message = |f: Box<dyn FnOnce() + std::panic::UnwindSafe>| -> String {
        let payload = std::panic::catch_unwind(f).expect_err("the assertion fails");
        payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default()
    };
    let r = recorder.clone();
    let m = message(Box::new(move || {
        r.assert_tracked("Signup Completed");
    }));
    assert!(
        m.contains("`Signup Completed`") && m.contains("`Product Viewed`"),
        "{m}"
    );
    let r = recorder.clone();
    let m = message(Box::new(move || r.assert_not_tracked("Product Viewed")));
    assert!(m.contains("2 time(s)"), "{m}");
    let r = recorder.clone();
    let m = message(Box::new(move || {
        r.assert_property("Product Viewed", "Price", json!(1))
    }));
    assert!(m.contains("19.99"), "{m}");
    recorder.clear();
    assert!(recorder.events().is_empty());
}

#[test]
fn ndjson_append_keeps_what_was_there() {
    let path = temp_path("append", "events.ndjson");
    std::fs::write(&path, "{\"event\":\"Earlier\"}\n").expect("seed");
    let tracker = tracker_with(Ndjson::append(&path).expect("open"));
    let user = tracker.subject("a", Consent::none().grant(purpose::ProductAnalytics));
    user.track(product("sku-1"));
    tracker.flush().expect("flush");
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], "{\"event\":\"Earlier\"}");
    assert!(lines[1].starts_with("{\"type\":\"track\",\"event\":\"Product Viewed\""));
    // `create` truncates.
    drop(tracker);
    let tracker = tracker_with(Ndjson::create(&path).expect("create"));
    tracker.flush().expect("flush");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "");
}

#[test]
fn memory_and_stdout_deliver() {
    let memory = Memory::new();
    let tracker = tracker_with(memory.clone());
    let user = tracker.subject("a", Consent::none().grant(purpose::ProductAnalytics));
    user.track(product("sku-1"));
    tracker.flush().expect("flush");
    let envelopes = memory.take();
    assert_eq!(envelopes.len(), 1);
    assert_eq!(envelopes[0].event, "Product Viewed");
    assert!(memory.is_empty());

    let tracker = tracker_with(Stdout::new());
    let user = tracker.subject("a", Consent::none().grant(purpose::ProductAnalytics));
    user.track(product("sku-1"));
    tracker.flush().expect("flush");
    assert_eq!(
        tracker
            .stats()
            .destination("warehouse")
            .map(|c| c.delivered),
        Some(1)
    );
}
