//! The cost of recording a consent change in the ledger against tracking one event, in the
//! same run:
//!
//! - `track_event`: `subject.track(ProductViewed)` to one destination whose sink discards,
//!   no spool (the queue is flushed between timed chunks, untimed).
//! - `track_event_spooled`: the same with a spool (default policy, `Interval(200 ms)`): each
//!   event is also written to disk before `track` returns.
//! - `record_consent`: `ledger.record(..)` of a new consent for one of 1000 subjects, the
//!   ledger under the same policy as the spool (`Interval(200 ms)`): the entry is built,
//!   hashed into the chain and written before `record` returns.
//! - `subject_record_consent`: the same through `Subject::record_consent`, which also applies
//!   the consent to the subject (its queued events re-checked).
//! - `record_consent_synced`: `record` under the ledger's default policy (`EveryEvent`):
//!   `fdatasync` per entry, what a durable acknowledgement costs on this disk.
//!
//! The ledger is started afresh every 20 000 entries (untimed) so the bench stays small on
//! disk.
//!
//! `cargo bench -p trackplan-runtime --bench ledger`

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use trackplan_runtime::consent::{Collection, Ledger, Method, Surface};
use trackplan_runtime::spool::{Spool, SyncPolicy};
use trackplan_runtime::{Consent, Envelope, Key, Outcome, Sink, Tracker};

// The fixture plan is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

#[path = "../tests/fixture/mod.rs"]
mod fixture;

use fixture::shop::*;

struct Discard;
impl Sink for Discard {
    fn declaration(&self) -> trackplan_runtime::config::SinkDeclaration {
        trackplan_runtime::config::SinkDeclaration::InProcess
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        black_box(batch);
        Outcome::Delivered
    }
}

fn key() -> Key {
    Key::from_bytes([7u8; 32]).unwrap_or_else(|e| panic!("{e}"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("trackplan-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn tracker(spool: Option<Spool>, ledger: Option<Ledger>) -> Tracker {
    let mut b = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, Discard)
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk);
    if let Some(spool) = spool {
        b = b.spool(spool);
    }
    if let Some(ledger) = ledger {
        b = b.ledger(ledger);
    }
    b.build().unwrap_or_else(|e| panic!("{e}"))
}

fn product() -> ProductViewed {
    ProductViewed {
        product_id: black_box("sku-4711-blue-xl").to_owned(),
        price: black_box(19.99),
        currency: Currency::Eur,
    }
}

/// Times `iters` tracks in chunks the queue holds, flushing (untimed) in between.
fn time_tracks(tracker: &Tracker, iters: u64, mut track: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(4096);
        let start = Instant::now();
        for _ in 0..n {
            track();
        }
        total += start.elapsed();
        tracker.flush().unwrap_or_else(|e| panic!("{e}"));
        left -= n;
    }
    total
}

/// The consents the ledger benches alternate between.
fn consent(i: u64) -> Consent {
    if i.is_multiple_of(2) {
        Consent::none().grant(purpose::ProductAnalytics)
    } else {
        Consent::none()
            .grant(purpose::ProductAnalytics)
            .grant(purpose::Advertising)
            .object(purpose::Security)
    }
}

/// Times `iters` records into fresh ledgers of at most 20 000 entries each.
fn time_records(
    name: &str,
    policy: SyncPolicy,
    iters: u64,
    mut record: impl FnMut(&Ledger, u64),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut done = 0;
    while done < iters {
        let dir = scratch(name);
        let ledger = Ledger::open_with(&dir, policy).unwrap_or_else(|e| panic!("{e}"));
        let n = (iters - done).min(20_000);
        let start = Instant::now();
        for i in done..done + n {
            record(&ledger, i);
        }
        total += start.elapsed();
        drop(ledger);
        let _ = std::fs::remove_dir_all(&dir);
        done += n;
    }
    total
}

fn bench(c: &mut Criterion) {
    let subjects: Vec<String> = (0..1000)
        .map(|i| key().pseudonymize(&format!("user-{i}")))
        .collect();
    let how = Collection::new(Method::SaveChoices, Surface::Settings);
    let mut g = c.benchmark_group("consent_change_vs_track");

    let plain = tracker(None, None);
    let subject = plain.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
    g.bench_function("track_event", |b| {
        b.iter_custom(|iters| time_tracks(&plain, iters, || subject.track(product())))
    });
    drop(subject);
    drop(plain);

    let spool_dir = scratch("spool");
    let spooled = tracker(
        Some(Spool::open(&spool_dir).unwrap_or_else(|e| panic!("{e}"))),
        None,
    );
    let subject = spooled.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
    g.bench_function("track_event_spooled", |b| {
        b.iter_custom(|iters| time_tracks(&spooled, iters, || subject.track(product())))
    });
    drop(subject);
    drop(spooled);
    let _ = std::fs::remove_dir_all(&spool_dir);

    g.bench_function("record_consent", |b| {
        b.iter_custom(|iters| {
            time_records("record", SyncPolicy::default(), iters, |ledger, i| {
                let who = &subjects[(i % 1000) as usize];
                black_box(ledger.record(who, &PLAN, &consent(i), &how))
                    .unwrap_or_else(|e| panic!("{e}"));
            })
        })
    });

    g.bench_function("subject_record_consent", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let dir = scratch("subject");
                let ledger = Ledger::open_with(&dir, SyncPolicy::default())
                    .unwrap_or_else(|e| panic!("{e}"));
                let t = tracker(None, Some(ledger));
                let people: Vec<_> = (0..100)
                    .map(|i| t.subject(&format!("user-{i}"), Consent::none()))
                    .collect();
                let n = (iters - done).min(20_000);
                let start = Instant::now();
                for i in done..done + n {
                    let who = &people[(i % 100) as usize];
                    black_box(who.record_consent(consent(i), how.clone()))
                        .unwrap_or_else(|e| panic!("{e}"));
                }
                total += start.elapsed();
                drop(people);
                drop(t);
                let _ = std::fs::remove_dir_all(&dir);
                done += n;
            }
            total
        })
    });

    g.sample_size(20);
    g.bench_function("record_consent_synced", |b| {
        b.iter_custom(|iters| {
            time_records("synced", SyncPolicy::EveryEvent, iters, |ledger, i| {
                let who = &subjects[(i % 1000) as usize];
                black_box(ledger.record(who, &PLAN, &consent(i), &how))
                    .unwrap_or_else(|e| panic!("{e}"));
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
