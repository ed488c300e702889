//! The spool through the tracker, without HTTP: events a stopped tracker could not deliver are
//! replayed by the next tracker on the same spool under the insert ids they were first given,
//! and only for the destinations that had not settled them.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;

use std::time::Duration;

use common::*;
use trackplan_runtime::sinks::Memory;
use trackplan_runtime::spool::Spool;
use trackplan_runtime::{Consent, Envelope, Tracker};

fn tracker(spool: Spool, warehouse: Memory, mixpanel: impl trackplan_runtime::Sink) -> Tracker {
    Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, warehouse)
        .sink(destination::Mixpanel, mixpanel)
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .spool(spool)
        .max_delay(Duration::from_millis(5))
        .flush_timeout(Duration::from_millis(200))
        .drop_timeout(Duration::from_millis(50))
        .build()
        .or_panic()
}

/// (insert id, distinct id, properties) of each envelope, sorted.
fn identities(envelopes: &[Envelope]) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = envelopes
        .iter()
        .map(|e| {
            (
                e.insert_id.clone(),
                e.distinct_id.to_string(),
                e.properties.to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn replayed_events_keep_their_original_insert_ids() {
    let dir = temp_path("spool-replay", "spool");
    let consent = Consent::none().grant(purpose::ProductAnalytics);
    let warehouse = Memory::new();
    let down = Down::default();
    {
        let first = tracker(
            Spool::open(&dir).or_panic(),
            warehouse.clone(),
            down.clone(),
        );
        let user = first.subject("ann", consent);
        for i in 0..10 {
            user.track(product(&format!("p{i}")));
        }
        // The warehouse gets everything; Mixpanel's batch waits an hour for its retry.
        assert!(first.flush().is_err(), "mixpanel is down");
        // Dropped: the pending events count as failed here, but stay in the spool.
    }
    let offered = down.offered();
    assert_eq!(offered.len(), 10, "the first run tried mixpanel once");
    assert_eq!(warehouse.len(), 10);
    let warehouse_ids: Vec<String> = warehouse
        .envelopes()
        .iter()
        .map(|e| e.insert_id.clone())
        .collect();

    let replayed = Memory::new();
    let second = tracker(
        Spool::open(&dir).or_panic(),
        warehouse.clone(),
        replayed.clone(),
    );
    second.flush().or_panic();
    assert_eq!(
        identities(&replayed.envelopes()),
        identities(&offered),
        "the same events, under the same insert ids"
    );
    assert_eq!(
        warehouse.len(),
        10,
        "what the warehouse settled in the first run is not replayed"
    );
    let mut first_ids: Vec<String> = offered.iter().map(|e| e.insert_id.clone()).collect();
    first_ids.sort();
    let mut wh_sorted = warehouse_ids.clone();
    wh_sorted.sort();
    assert_eq!(
        first_ids, wh_sorted,
        "one event has one insert id in every destination"
    );

    // New events of the second run get fresh ids, distinct from the replayed ones.
    let user = second.subject("ann", consent);
    user.track(product("new"));
    second.flush().or_panic();
    let fresh = replayed.envelopes().last().map(|e| e.insert_id.clone());
    assert!(fresh.is_some_and(|id| !first_ids.contains(&id)));
    let stats = second.stats();
    let m = stats.destination("mixpanel").expect("mixpanel");
    assert_eq!((m.accepted, m.delivered), (11, 11));
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}
