//! Retention from the plan (`Tracker::prune`): a pruned NDJSON file and a pruned spool keep
//! every record younger than the retention of their destination's purposes and nothing older.
//!
//! The fixture's warehouse (NDJSON, `product_analytics`, 395 days) and security log
//! (`security`, 180 days, down: its events wait in the spool). Events are tracked in two
//! rounds around a `boundary`; pruning "as of" `boundary + retention` makes the first round
//! exactly the records older than the retention. (The time a record was tracked is the
//! tracker's clock, so the prune's `now` is moved instead.)

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;

use std::time::Duration;

use common::*;
use trackplan_runtime::retention::{Pruned, cutoff, retention_days};
use trackplan_runtime::sinks::{Memory, Ndjson};
use trackplan_runtime::spool::Spool;
use trackplan_runtime::{Consent, Timestamp, Tracker};

const DAY: i64 = 86_400_000;

fn page(i: usize) -> PageViewed {
    PageViewed {
        url: format!("https://shop.example/p/{i}"),
        ip_address: "203.0.113.9".to_string().into(),
    }
}

fn times_in(path: &std::path::Path) -> Vec<(i64, String)> {
    std::fs::read_to_string(path)
        .or_panic()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).or_panic();
            (
                v["time"].as_i64().unwrap_or_default(),
                v["properties"]["URL"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

#[test]
fn a_destination_keeps_records_for_the_shortest_retention_of_its_purposes() {
    assert_eq!(
        retention_days(&PLAN, 0),
        Some(395),
        "warehouse: product_analytics"
    );
    assert_eq!(
        retention_days(&PLAN, 3),
        Some(180),
        "security_log: security"
    );
    assert_eq!(
        retention_days(&PLAN, 4),
        Some(730),
        "support_desk: customer_support"
    );
    assert_eq!(retention_days(&PLAN, 99), None);
    let now = Timestamp::from_unix_millis(1_000 * DAY);
    assert_eq!(cutoff(180, now).unix_millis(), 820 * DAY);
}

#[test]
fn a_pruned_ndjson_file_and_spool_keep_the_younger_records_and_nothing_older() {
    let file = temp_path("retention", "warehouse.ndjson");
    let spool = file.with_file_name("spool");
    let boundary;
    {
        let security = Down::default();
        let tracker = Tracker::builder(&PLAN)
            .key(key())
            .sink(destination::Warehouse, Ndjson::create(&file).or_panic())
            .sink(destination::SecurityLog, security.clone())
            .skip(destination::Mixpanel)
            .skip(destination::Ads)
            .skip(destination::SupportDesk)
            .spool(Spool::open(&spool).or_panic())
            .max_delay(Duration::from_millis(5))
            .drop_timeout(Duration::from_millis(50))
            .build()
            .or_panic();
        let user = tracker.subject("alice", Consent::none().grant(purpose::ProductAnalytics));
        for i in 0..20 {
            user.track(page(i));
            user.track(login_failed(&format!("old-{i}@example.com")));
        }
        std::thread::sleep(Duration::from_millis(30));
        boundary = Timestamp::now();
        std::thread::sleep(Duration::from_millis(30));
        for i in 20..30 {
            user.track(page(i));
            user.track(login_failed(&format!("new-{i}@example.com")));
        }
        // The warehouse has every page; the security log is down, its events wait in the spool.
        let _ = tracker.flush_within(Duration::from_millis(300));
        assert_eq!(times_in(&file).len(), 30);

        // As of 180 days after the boundary: the security log's older records go (from the
        // spool), the warehouse (395 days) keeps everything.
        let report = tracker
            .prune_at(Timestamp::from_unix_millis(
                boundary.unix_millis() + 180 * DAY,
            ))
            .or_panic();
        assert_eq!(
            report.spool,
            Some(Pruned::Removed {
                records: 20,
                // The earliest cutoff of the plan's destinations: support_desk, 730 days.
                before: Timestamp::from_unix_millis(boundary.unix_millis() - 550 * DAY)
            }),
            "20 security events older than 180 days"
        );
        assert_eq!(
            report.destination("warehouse"),
            Some(&Pruned::Removed {
                records: 0,
                before: Timestamp::from_unix_millis(boundary.unix_millis() - 215 * DAY)
            })
        );
        assert_eq!(report.destination("mixpanel"), Some(&Pruned::NothingStored));
        assert_eq!(times_in(&file).len(), 30);

        let _ = tracker.shutdown_within(Duration::from_millis(100));
    }

    // What the spool still holds is replayed on the next start: the ten younger security
    // events only, and none of the pages (delivered before).
    let security = Memory::new();
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, Ndjson::append(&file).or_panic())
        .sink(destination::SecurityLog, security.clone())
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SupportDesk)
        .spool(Spool::open(&spool).or_panic())
        .max_delay(Duration::from_millis(5))
        .build()
        .or_panic();
    tracker.flush().or_panic();
    let replayed = security.envelopes();
    assert_eq!(replayed.len(), 10, "the younger security events, once each");
    assert!(replayed.iter().all(|e| e.time_ms >= boundary.unix_millis()));
    assert_eq!(
        times_in(&file).len(),
        30,
        "nothing replayed to the warehouse"
    );

    // As of 395 days after: the warehouse's first twenty pages are older than its retention.
    let report = tracker
        .prune_at(Timestamp::from_unix_millis(
            boundary.unix_millis() + 395 * DAY,
        ))
        .or_panic();
    assert_eq!(
        report.destination("warehouse"),
        Some(&Pruned::Removed {
            records: 20,
            before: boundary
        })
    );
    let kept = times_in(&file);
    let urls: Vec<String> = (20..30)
        .map(|i| format!("https://shop.example/p/{i}"))
        .collect();
    assert_eq!(
        kept.iter().map(|(_, u)| u.clone()).collect::<Vec<_>>(),
        urls
    );
    assert!(kept.iter().all(|(t, _)| *t >= boundary.unix_millis()));
}

#[test]
fn the_spool_of_a_stopped_application_is_pruned_by_destination_id() {
    let spool = temp_path("retention-offline", "spool");
    {
        let tracker = Tracker::builder(&PLAN)
            .key(key())
            .sink(destination::SecurityLog, Down::default())
            .skip(destination::Warehouse)
            .skip(destination::Mixpanel)
            .skip(destination::Ads)
            .skip(destination::SupportDesk)
            .spool(Spool::open(&spool).or_panic())
            .drop_timeout(Duration::from_millis(50))
            .build()
            .or_panic();
        let user = tracker.subject("bob", Consent::none());
        for i in 0..5 {
            user.track(login_failed(&format!("{i}@example.com")));
        }
        let _ = tracker.shutdown_within(Duration::from_millis(100));
    }
    // As `trackplan prune --spool` does: the spool alone, no tracker.
    let opened = Spool::open(&spool).or_panic();
    let far_future = Timestamp::from_unix_millis(Timestamp::now().unix_millis() + 1000 * DAY);
    assert_eq!(opened.prune(|_| None).or_panic(), 0, "no cutoff: all kept");
    assert_eq!(
        opened
            .prune(|id| (id == "warehouse").then_some(far_future))
            .or_panic(),
        0,
        "another destination's cutoff"
    );
    assert_eq!(
        opened
            .prune(|id| (id == "security_log").then_some(far_future))
            .or_panic(),
        5
    );
}
