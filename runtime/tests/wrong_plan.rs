//! The wrong-plan trap made loud: a tracker handed events of another plan (two crates of a
//! workspace built against different plan contents) drops them, warns once per foreign plan,
//! counts them in `stats()`, and its next flush fails naming both plans.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;
mod support;

use common::*;
use support::logs::Logs;
use trackplan_runtime::Consent;
use trackplan_runtime::error::FlushError;

/// The WARN lines about events of another plan.
fn wrong_plan_warnings(logs: &Logs) -> Vec<String> {
    logs.lines()
        .into_iter()
        .filter(|l| l.starts_with("WARN") && l.contains("events of another plan"))
        .collect()
}

#[test]
fn events_of_another_plan_warn_once_and_fail_the_next_flush() {
    let (tracker, sinks) = gated_tracker(|b| b);
    let user = tracker.subject("a", Consent::none().grant(purpose::ProductAnalytics));
    let logs = Logs::default();
    logs.capture(|| {
        for _ in 0..5 {
            user.track(BlogRead {});
        }
    });

    let warnings = wrong_plan_warnings(&logs);
    assert_eq!(
        warnings.len(),
        1,
        "one warning for five events: {warnings:?}"
    );
    let warning = &warnings[0];
    for part in [OTHER_PLAN.label, OTHER_PLAN.hash, PLAN.label, PLAN.hash] {
        assert!(warning.contains(part), "`{part}` missing in {warning}");
    }
    assert_eq!(tracker.stats().dropped_wrong_plan, 5);

    match tracker.flush() {
        Err(FlushError::WrongPlan {
            event_plan,
            event_plan_hash,
            plan,
            plan_hash,
            events,
            ..
        }) => {
            assert_eq!(
                (event_plan, event_plan_hash),
                (OTHER_PLAN.label, OTHER_PLAN.hash)
            );
            assert_eq!((plan, plan_hash), (PLAN.label, PLAN.hash));
            assert_eq!(events, 5);
        }
        other => panic!("expected FlushError::WrongPlan, got {other:?}"),
    }
    let message = tracker
        .flush()
        .map(|_| ())
        .err()
        .map_or(String::new(), |e| e.to_string());
    assert!(message.is_empty(), "reported once: {message}");
    assert!(sinks.iter().all(|s| s.delivered().is_empty()));
}

#[test]
fn the_error_message_names_both_plans_and_later_drops_are_reported_again() {
    let (tracker, _sinks) = gated_tracker(|b| b);
    let user = tracker.subject("a", Consent::none().grant(purpose::ProductAnalytics));
    user.track(BlogRead {});
    let message = match tracker.flush() {
        Err(e @ FlushError::WrongPlan { .. }) => e.to_string(),
        other => panic!("expected FlushError::WrongPlan, got {other:?}"),
    };
    for part in [OTHER_PLAN.label, OTHER_PLAN.hash, PLAN.label, PLAN.hash] {
        assert!(message.contains(part), "`{part}` missing in {message}");
    }

    // Warned already, yet still an error for the flush after the next drop.
    let logs = Logs::default();
    logs.capture(|| user.track(BlogRead {}));
    assert!(
        wrong_plan_warnings(&logs).is_empty(),
        "warned once per tracker"
    );
    match tracker.flush() {
        Err(FlushError::WrongPlan { events: 1, .. }) => {}
        other => panic!("expected FlushError::WrongPlan for 1 event, got {other:?}"),
    }
    // The tracker's own events still go out, and a clean flush succeeds again.
    user.track(product("p"));
    tracker.flush().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tracker.stats().dropped_wrong_plan, 2);
}
