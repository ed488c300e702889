//! Several threads tracking while another changes consent and flushes: no panic, no deadlock
//! (every wait is bounded), and every accepted event is accounted for at the end.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use trackplan_runtime::config::{BatchLimits, RetryPolicy};
use trackplan_runtime::sinks::Memory;
use trackplan_runtime::{Consent, Envelope, Outcome, Sink, Tracker};

/// A sink that asks for a retry on every third call, so retries interleave with purges.
struct Flaky {
    calls: usize,
    store: Memory,
}

impl Sink for Flaky {
    fn declaration(&self) -> trackplan_runtime::config::SinkDeclaration {
        trackplan_runtime::config::SinkDeclaration::InProcess
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: 7,
            max_bytes: 4096,
            max_delay: Duration::from_millis(1),
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            initial_backoff: Duration::from_micros(200),
            max_backoff: Duration::from_millis(1),
            max_retries: 3,
        }
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        self.calls += 1;
        if self.calls.is_multiple_of(3) {
            return Outcome::Retry {
                reason: "503".into(),
                after: None,
            };
        }
        self.store.deliver(batch)
    }
}

#[test]
fn tracking_withdrawing_and_flushing_concurrently_accounts_for_every_event() {
    let warehouse = Memory::new();
    let mixpanel = Memory::new();
    let ads = Memory::new();
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, warehouse.clone())
        .sink(
            destination::Mixpanel,
            Flaky {
                calls: 0,
                store: mixpanel.clone(),
            },
        )
        .sink(destination::Ads, ads.clone())
        .sink(destination::SecurityLog, Memory::new())
        .skip(destination::SupportDesk)
        .queue_capacity(500)
        .max_delay(Duration::from_millis(1))
        .flush_timeout(Duration::from_secs(20))
        .build()
        .expect("build");
    let everything = Consent::none()
        .grant(purpose::ProductAnalytics)
        .grant(purpose::Advertising);
    let subjects: Vec<_> = (0..4)
        .map(|i| tracker.subject(&format!("user-{i}"), everything))
        .collect();
    let done = Arc::new(AtomicBool::new(false));

    let producers: Vec<_> = (0..4)
        .map(|t| {
            let subjects = subjects.clone();
            std::thread::spawn(move || {
                for i in 0..2_000 {
                    let s = &subjects[(t + i) % subjects.len()];
                    match i % 3 {
                        0 => s.track(product("p")),
                        1 => s.track(login_failed("someone@example.com")),
                        _ => s.send_to::<destination::Ads>(product("q")),
                    }
                }
            })
        })
        .collect();
    let changer = {
        let subjects = subjects.clone();
        let tracker = tracker.clone();
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut round = 0usize;
            while !done.load(Ordering::Acquire) {
                let s = &subjects[round % subjects.len()];
                match round % 4 {
                    0 => s.withdraw(purpose::ProductAnalytics),
                    1 => s.set_gpc(true),
                    2 => s.set_consent(everything),
                    _ => s.withdraw(purpose::Security),
                }
                if round.is_multiple_of(5) {
                    tracker
                        .flush()
                        .expect("a flush completes within its deadline");
                }
                round += 1;
            }
            round
        })
    };
    for p in producers {
        p.join().expect("producer");
    }
    done.store(true, Ordering::Release);
    let rounds = changer.join().expect("changer");
    assert!(rounds > 0);
    tracker.flush().expect("final flush");

    let stats = tracker.stats();
    assert!(stats.total.accepted > 0);
    for d in &stats.destinations {
        let c = d.counts;
        assert_eq!(
            c.accepted,
            c.delivered + c.failed + c.dropped() + c.skipped,
            "{}: {c:?}",
            d.id
        );
    }
    assert_eq!(
        stats.destination("warehouse").map(|c| c.delivered),
        Some(warehouse.len() as u64)
    );
    assert_eq!(
        stats.destination("mixpanel").map(|c| c.delivered),
        Some(mixpanel.len() as u64)
    );
    assert_eq!(
        stats.destination("ads").map(|c| c.delivered),
        Some(ads.len() as u64)
    );
    // Every delivered envelope is unique: no duplicate from a retry or a purge race.
    let mut ids: Vec<String> = mixpanel
        .envelopes()
        .into_iter()
        .map(|e| e.insert_id)
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n);
    tracker.shutdown().expect("shutdown");
}
