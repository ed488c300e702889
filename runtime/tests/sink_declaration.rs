//! A sink is checked against the destination the plan declares (issue 10, hole 4): a
//! third-party collector attached to a first-party `ndjson` destination is refused by name,
//! before any event could reach it.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;

use common::{destination, key};
use trackplan_runtime::config::SinkDeclaration;
use trackplan_runtime::error::BuildError;
use trackplan_runtime::sinks::{Memory, Mixpanel, Ndjson, Segment};
use trackplan_runtime::{Envelope, Outcome, Sink, Tracker};

fn with_warehouse(sink: impl Sink) -> Result<Tracker, BuildError> {
    Tracker::builder(&common::PLAN)
        .key(key())
        .sink(destination::Warehouse, sink)
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .build()
}

#[test]
fn a_third_party_sink_on_a_first_party_ndjson_destination_is_refused_by_name() {
    let err = with_warehouse(Segment::new("wk")).expect_err("refused");
    assert!(
        matches!(
            err,
            BuildError::SinkMismatch {
                destination: "warehouse",
                plan_kind: "ndjson",
                plan_third_party: false,
                sink_kind: "segment",
                sink_third_party: true,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    for part in [
        "`warehouse`",
        "ndjson",
        "first party",
        "`segment`",
        "a third party",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    assert!(matches!(
        with_warehouse(Mixpanel::new("token")),
        Err(BuildError::SinkMismatch {
            sink_kind: "mixpanel",
            ..
        })
    ));
}

/// A custom sink that declares itself a third-party collector of the plan's own kind.
struct Collector;
impl Sink for Collector {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::third_party("ndjson")
    }
    fn deliver(&mut self, _: &[Envelope]) -> Outcome {
        Outcome::Delivered
    }
}

#[test]
fn declared_sinks_that_fit_are_accepted() {
    let path = common::temp_path("sink-declaration", "warehouse.ndjson");
    assert!(with_warehouse(Ndjson::create(&path).expect("create")).is_ok());
    assert!(
        with_warehouse(Memory::new()).is_ok(),
        "in process: fits anywhere"
    );
    // Even of the right kind, a third party does not get a first-party destination.
    assert!(matches!(
        with_warehouse(Collector),
        Err(BuildError::SinkMismatch {
            sink_third_party: true,
            ..
        })
    ));
    // The built-in third-party sinks on the destinations the plan declares of their kinds.
    let tracker = Tracker::builder(&common::PLAN)
        .key(key())
        .skip(destination::Warehouse)
        .sink(destination::Mixpanel, Mixpanel::new("token"))
        .sink(destination::Ads, Segment::new("wk"))
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .build();
    assert!(tracker.is_ok(), "{tracker:?}");
}
