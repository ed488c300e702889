//! Spool replay after a plan change (issue 10, hole 0): events spooled under one plan are
//! never delivered by position under another. The worst case: the destinations are listed in
//! another order, so a replay by position would hand the first-party warehouse's records,
//! with their raw `redact` values, to third-party Mixpanel.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;

use std::time::Duration;

use common::*;
use trackplan_runtime::sinks::Memory;
use trackplan_runtime::spool::Spool;
use trackplan_runtime::{Consent, Tracker};

const QUERY: &str = "canary-search-7f3a: my rash won't go away";

/// The next version of the plan (`tests/fixture/shop_next.toml`): the same destinations, with
/// third-party Mixpanel listed before the first-party warehouse.
use fixture::shop_next::{PLAN as REORDERED, destination as next};

#[test]
fn a_replay_under_a_reordered_plan_sends_no_raw_value_to_the_third_party() {
    let dir = temp_path("spool-reordered", "spool");
    {
        let (warehouse, mixpanel) = (Down::default(), Down::default());
        let tracker = Tracker::builder(&PLAN)
            .key(key())
            .sink(destination::Warehouse, warehouse.clone())
            .sink(destination::Mixpanel, mixpanel.clone())
            .skip(destination::Ads)
            .skip(destination::SecurityLog)
            .skip(destination::SupportDesk)
            .spool(Spool::open(&dir).or_panic())
            .max_delay(Duration::from_millis(5))
            .drop_timeout(Duration::from_millis(50))
            .build()
            .or_panic();
        let user = tracker.subject("alice", Consent::none().grant(purpose::ProductAnalytics));
        user.track(SearchPerformed {
            query: QUERY.to_string().into(),
            result_count: 3,
            health_filter: None,
        });
        let _ = tracker.shutdown_within(Duration::from_millis(100));
        let stats = tracker.stats();
        assert_eq!(stats.destination("warehouse").or_panic_none().failed, 1);
        assert_eq!(stats.destination("mixpanel").or_panic_none().failed, 1);
    }

    let (mixpanel, warehouse) = (Memory::new(), Memory::new());
    let tracker = Tracker::builder(&REORDERED)
        .key(key())
        .sink(next::Mixpanel, mixpanel.clone())
        .sink(next::Warehouse, warehouse.clone())
        .skip(next::Ads)
        .skip(next::SecurityLog)
        .skip(next::SupportDesk)
        .spool(Spool::open(&dir).or_panic())
        .max_delay(Duration::from_millis(5))
        .build()
        .or_panic();
    tracker.flush().or_panic();
    for e in mixpanel.envelopes() {
        assert!(
            !e.properties.contains("canary-search-7f3a"),
            "the raw query reached the third party: {}",
            e.properties
        );
    }
    assert!(
        mixpanel.is_empty() && warehouse.is_empty(),
        "nothing replayed"
    );
    let stats = tracker.stats();
    assert_eq!(stats.replay_refused, 2, "both records refused and counted");
    assert_eq!(stats.total.accepted, 0);
    drop(tracker);

    // Refused for good: a third start finds nothing to replay.
    let tracker = Tracker::builder(&REORDERED)
        .key(key())
        .sink(next::Mixpanel, Memory::new())
        .sink(next::Warehouse, Memory::new())
        .skip(next::Ads)
        .skip(next::SecurityLog)
        .skip(next::SupportDesk)
        .spool(Spool::open(&dir).or_panic())
        .build()
        .or_panic();
    assert_eq!(tracker.stats().replay_refused, 0);
}

trait OrPanicNone<T> {
    fn or_panic_none(self) -> T;
}

impl<T> OrPanicNone<T> for Option<T> {
    #[track_caller]
    fn or_panic_none(self) -> T {
        self.unwrap_or_else(|| panic!("missing"))
    }
}
