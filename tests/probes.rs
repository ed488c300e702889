//! Probes of the public API, after an adversarial review (issue 10): each test is one way
//! around the plan that used to work, run against code that `plan!` really generates, and
//! shows it closed. Compile-time holes are `tests/ui` cases instead.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use trackplan::testing::Recorder;
use trackplan::{Consent, Tracker};

mod probe {
    trackplan::plan!("tests/plans/probe.toml");
}

use probe::*;

/// A tracker of the probe plan with a recorder on its one destination.
fn tracker() -> (Tracker, Recorder) {
    let recorder = Recorder::new();
    let tracker = Tracker::builder(&PLAN)
        .sink(destination::Warehouse, recorder.clone())
        .build()
        .expect("build the probe tracker");
    (tracker, recorder)
}

/// Log lines written while `f` runs on this thread, at every level.
fn logs_of(f: impl FnOnce()) -> String {
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);
    impl Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let lines = Lines::default();
    let writer = lines.clone();
    // No timestamps: the assertions look for values that must not appear, and a time of day
    // can contain any digits.
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = lines
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn subject_debug_never_shows_the_subject_id() {
    // The plan's identity is `none`: the distinct id *is* the subject id.
    let (tracker, _) = tracker();
    let user = tracker.subject("alice@example.com", Consent::none());
    assert_eq!(user.distinct_id(), "alice@example.com");
    for text in [format!("{user:?}"), format!("{user:#?}")] {
        assert!(!text.contains("alice"), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }
}

#[test]
fn a_required_property_that_breaks_its_constraints_refuses_the_whole_event() {
    let (tracker, recorder) = tracker();
    let user = tracker.subject("user-1", Consent::none().grant(purpose::ProductAnalytics));
    let logs = logs_of(|| {
        user.track(QuantityChanged {
            quantity: 150, // max = 99
            note: None,
        });
    });
    tracker.flush().expect("flush");
    recorder.assert_not_tracked("Quantity Changed");
    let stats = tracker.stats();
    assert_eq!(stats.refused_invalid, 1, "{stats:?}");
    let warehouse = stats.destination("warehouse").expect("warehouse stats");
    assert_eq!(
        (warehouse.accepted, warehouse.pending()),
        (0, 0),
        "{stats:?}"
    );
    assert!(logs.contains("WARN"), "{logs}");
    assert!(logs.contains("quantity_changed"), "names the event: {logs}");
    assert!(
        logs.contains("property=\"quantity\""),
        "names the property: {logs}"
    );
    assert!(!logs.contains("150"), "never the value: {logs}");

    // An optional property that breaks its constraints is left out; the event goes.
    user.track(QuantityChanged {
        quantity: 3,
        note: Some("far longer than eight characters".into()),
    });
    tracker.flush().expect("flush");
    let sent = recorder.assert_tracked("Quantity Changed");
    assert_eq!(sent.property("Quantity"), Some(&serde_json::json!(3)));
    assert_eq!(sent.property("Note"), None);
    let stats = tracker.stats();
    assert_eq!(
        (stats.refused_invalid, stats.dropped_invalid),
        (1, 2),
        "{stats:?}"
    );
}

#[test]
fn plan_works_inside_a_function_body() {
    // Used to give 28 errors starting with "cannot find `purpose` in `super`".
    trackplan::plan!("tests/plans/probe.toml");
    let recorder = Recorder::new();
    let tracker = Tracker::builder(&PLAN)
        .sink(destination::Warehouse, recorder.clone())
        .build()
        .expect("build");
    tracker
        .subject("u", Consent::none().grant(purpose::ProductAnalytics))
        .track(PlanChosen {
            tier: PlanChosenTier::ProPlus,
        });
    tracker.flush().expect("flush");
    recorder.assert_property("Plan Chosen", "Tier", serde_json::json!("pro plus"));
}

#[test]
fn generated_enums_parse_their_wire_values() {
    use std::str::FromStr;
    assert_eq!(
        PlanChosenTier::ALL,
        [PlanChosenTier::Free, PlanChosenTier::ProPlus]
    );
    assert_eq!(PlanChosenTier::WIRE_VALUES, ["free", "pro plus"]);
    assert_eq!(
        PlanChosenTier::from_str("pro plus"),
        Ok(PlanChosenTier::ProPlus)
    );
    assert_eq!(PlanChosenTier::try_from("free"), Ok(PlanChosenTier::Free));
    // By wire value, byte for byte: not the variant name, not another case.
    for wrong in ["ProPlus", "Free", "pro", "", "free "] {
        let err = wrong.parse::<PlanChosenTier>().unwrap_err();
        assert_eq!(err.enum_name(), "PlanChosenTier");
        assert_eq!(
            err.to_string(),
            "not a value of `PlanChosenTier`; expected one of \"free\", \"pro plus\""
        );
    }
    for tier in PlanChosenTier::ALL {
        assert_eq!(
            trackplan::Values::wire(&tier).parse::<PlanChosenTier>(),
            Ok(tier)
        );
    }
}

#[test]
fn recorder_assertions_are_typed_and_wire_names_are_checked() {
    let recorder = Recorder::for_plan(&PLAN);
    let tracker = Tracker::builder(&PLAN)
        .record_all(&recorder)
        .build()
        .expect("one line attaches every destination");
    tracker
        .subject("u", Consent::none().grant(purpose::ProductAnalytics))
        .track(QuantityChanged {
            quantity: 2,
            note: None,
        });
    tracker.flush().expect("flush");

    let sent = recorder.assert_event::<QuantityChanged>();
    assert_eq!(sent.destination, Some("warehouse"));
    recorder.assert_event_times::<QuantityChanged>(1);
    recorder.assert_no_event::<PlanChosen>();
    recorder.assert_tracked("Quantity Changed");

    // A misspelt wire name used to pass `assert_not_tracked` although the event was sent.
    let typo = std::panic::catch_unwind(|| recorder.assert_not_tracked("Quantity Change"))
        .expect_err("a name the plan does not have fails");
    let message = typo.downcast_ref::<String>().cloned().unwrap_or_default();
    assert_eq!(
        message,
        "plan probe@1 has no event named `Quantity Change`; did you mean `Quantity Changed`?"
    );
    // The event's id is not its wire name either.
    assert!(std::panic::catch_unwind(|| recorder.count("quantity_changed")).is_err());
}

#[test]
fn a_plain_recorder_learns_the_plan_from_what_it_receives() {
    let (tracker, recorder) = tracker();
    // Nothing received, no plan known: the name cannot be checked yet.
    recorder.assert_not_tracked("Anything");
    tracker
        .subject("u", Consent::none().grant(purpose::ProductAnalytics))
        .track(PlanChosen {
            tier: PlanChosenTier::Free,
        });
    tracker.flush().expect("flush");
    assert!(std::panic::catch_unwind(|| recorder.assert_not_tracked("Plan Chosn")).is_err());
    assert_eq!(recorder.assert_event::<PlanChosen>().destination, None);
}
