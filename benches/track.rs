//! `cargo bench --bench track`: the cost of `track` (consent check, serialize, enqueue) against
//! what a dynamic analytics SDK does with the same 6-property event, in one run.
//!
//! - `trackplan_track`: `subject.track(event)` to one destination whose sink discards
//!   (the worker runs concurrently, as in production; the queue is flushed between timed chunks,
//!   untimed, so it never overflows).
//! - `a_json_macro`: a `serde_json::json!` object, serialized to a `Vec<u8>`.
//! - `b_hashmap`: a `HashMap<String, serde_json::Value>`, as dynamic SDKs build events,
//!   serialized to a `Vec<u8>`.
//! - `c_derive_serialize`: a `#[derive(Serialize)]` struct written with `serde_json::to_writer`
//!   into a fresh `Vec<u8>` (the floor: no maps, no dynamic values).
//! - `trackplan_track_deferred`: the same, but the sink's batch limits are never reached within
//!   a timed chunk, so the worker delivers only in the untimed flush: `track`'s own cost
//!   (serialize + enqueue) without the worker competing for the CPU. On a machine whose other
//!   cores are busy, the worker of `trackplan_track` runs on the tracking thread's core and
//!   part of its work shows up there.
//! - `trackplan_track_coarse_time`: `trackplan_track_deferred` with `Timestamps::Coarse` (the
//!   kernel's coarse clock per event instead of the default precise one).
//! - `event_build_drop`: building and dropping the event alone (its `String` allocation and
//!   free), which every variant contains.
//! - `trackplan_refused`: `track` when the subject's consent refuses every destination;
//!   `trackplan_refused_track_with` the same through `track_with`, which builds the event only
//!   when a destination will receive it; `trackplan_refused_prebuilt` with the event built
//!   outside the timed part (its drop stays inside).
//! - `trackplan_track_hmac`: `track` of the same event whose first property is an e-mail
//!   address pseudonymized with HMAC-SHA-256.
//! - `trackplan_profile_update`: `subject.update_profile(…)` setting six traits with the same
//!   names, types and values as the event's properties (one `set` message), to the same
//!   discarding sink; `trackplan_profile_update_deferred` the same with the worker idle while
//!   timed (as `trackplan_track_deferred`). Compare with `c_derive_serialize` (target: ≤ 1.3×).
//!
//! - `…_same_cpu` / `…_other_cpu`: `trackplan_track` and `trackplan_track_deferred` with the
//!   tracking thread pinned to the first CPU and the tracker's workers pinned to the same CPU
//!   or to another one (workers inherit the affinity of the thread that builds the tracker).
//!   The unpinned variants leave placement to the scheduler. On a machine with one CPU the
//!   placement variants are skipped.
//!
//! - `track_spool/plain` and `track_spool/encrypted`: `trackplan_track` with a spool (default
//!   policy, `Interval(200 ms)`) in the same run, plain and encrypted
//!   (`Spool::open_encrypted`, XChaCha20-Poly1305 per record): the cost of encryption at rest.
//!
//! Every variant builds its event from the same inputs on every iteration.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use trackplan::config::Timestamps;
use trackplan::{Consent, Personal, Sink, Subject, Tracker};

mod support;
use support::*;

/// Times `n` calls of `track` in chunks the queue can hold, flushing (untimed) in between.
fn time_tracks(tracker: &Tracker, iters: u64, mut track: impl FnMut()) -> Duration {
    const CHUNK: u64 = 4_096;
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let start = Instant::now();
        for _ in 0..n {
            track();
        }
        total += start.elapsed();
        if let Err(e) = tracker.flush() {
            eprintln!("flush failed: {e}");
        }
        left -= n;
    }
    total
}

/// Builds a tracker whose workers run on `worker_cpu`, then moves the calling thread (back) to
/// `caller_cpu`. Threads inherit their creator's affinity, so the workers stay where built.
fn pinned_tracker(
    sink: impl Sink,
    worker_cpu: core_affinity::CoreId,
    caller_cpu: core_affinity::CoreId,
) -> Tracker {
    core_affinity::set_for_current(worker_cpu);
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, sink)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    core_affinity::set_for_current(caller_cpu);
    tracker
}

/// `track` and `track` deferred with the workers on the caller's CPU and on another one.
fn placement(c: &mut Criterion) {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let (Some(&first), Some(&second)) = (cores.first(), cores.get(1)) else {
        eprintln!("one CPU: the placement variants are skipped");
        return;
    };
    core_affinity::set_for_current(first);
    let mut g = c.benchmark_group("track_6_properties");
    for (placement, worker_cpu) in [("same_cpu", first), ("other_cpu", second)] {
        let tracker = pinned_tracker(Discard, worker_cpu, first);
        let subject = tracker.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
        g.bench_function(format!("trackplan_track_{placement}"), |b| {
            b.iter_custom(|iters| time_tracks(&tracker, iters, || subject.track(product_event())))
        });
        let deferred = pinned_tracker(DiscardAtFlush, worker_cpu, first);
        let subject = deferred.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
        g.bench_function(format!("trackplan_track_deferred_{placement}"), |b| {
            b.iter_custom(|iters| time_tracks(&deferred, iters, || subject.track(product_event())))
        });
    }
    // The same floor, measured pinned like the placement variants.
    g.bench_function("c_derive_serialize_pinned", |b| {
        b.iter(|| black_box(floor()))
    });
    g.finish();
}

fn bench(c: &mut Criterion) {
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, Discard)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let consenting: Subject =
        tracker.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
    let refusing: Subject = tracker.subject("user-43", Consent::none());
    let deferred_tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, DiscardAtFlush)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let deferred =
        deferred_tracker.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
    let coarse_tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, DiscardAtFlush)
        .timestamps(Timestamps::Coarse)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let coarse =
        coarse_tracker.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));

    let mut g = c.benchmark_group("track_6_properties");
    g.bench_function("trackplan_track", |b| {
        b.iter_custom(|iters| time_tracks(&tracker, iters, || consenting.track(product_event())))
    });
    g.bench_function("a_json_macro", |b| {
        b.iter(|| {
            let event = serde_json::json!({
                "Product ID": black_box(PRODUCT_ID),
                "Category": "Health & Beauty",
                "Price": black_box(PRICE),
                "Currency": "EUR",
                "Quantity": black_box(QUANTITY),
                "In Stock": black_box(true),
            });
            black_box(serde_json::to_vec(&event).unwrap_or_default())
        })
    });
    g.bench_function("b_hashmap", |b| {
        b.iter(|| {
            let mut event: HashMap<String, serde_json::Value> = HashMap::new();
            event.insert("Product ID".into(), black_box(PRODUCT_ID).into());
            event.insert("Category".into(), "Health & Beauty".into());
            event.insert("Price".into(), black_box(PRICE).into());
            event.insert("Currency".into(), "EUR".into());
            event.insert("Quantity".into(), black_box(QUANTITY).into());
            event.insert("In Stock".into(), black_box(true).into());
            black_box(serde_json::to_vec(&event).unwrap_or_default())
        })
    });
    g.bench_function("c_derive_serialize", |b| b.iter(|| black_box(floor())));
    g.bench_function("trackplan_track_deferred", |b| {
        b.iter_custom(|iters| {
            time_tracks(&deferred_tracker, iters, || deferred.track(product_event()))
        })
    });
    g.bench_function("trackplan_track_coarse_time", |b| {
        b.iter_custom(|iters| time_tracks(&coarse_tracker, iters, || coarse.track(product_event())))
    });
    g.bench_function("event_build_drop", |b| {
        b.iter(|| black_box(product_event()))
    });
    g.bench_function("trackplan_refused", |b| {
        b.iter_custom(|iters| time_tracks(&tracker, iters, || refusing.track(product_event())))
    });
    // `track_with`: the event is built only when a destination will receive it, so a refusal
    // builds nothing.
    g.bench_function("trackplan_refused_track_with", |b| {
        b.iter_custom(|iters| time_tracks(&tracker, iters, || refusing.track_with(product_event)))
    });
    // The refusal alone: the event is built outside the timed part (its drop stays inside).
    g.bench_function("trackplan_refused_prebuilt", |b| {
        b.iter_batched(product_event, |e| refusing.track(e), BatchSize::SmallInput)
    });
    g.bench_function("trackplan_track_hmac", |b| {
        b.iter_custom(|iters| {
            time_tracks(&tracker, iters, || {
                consenting.track(AccountProductViewed {
                    email: Personal::new(black_box(EMAIL).to_owned()),
                    category: Category::HealthBeauty,
                    price: black_box(PRICE),
                    currency: Currency::Eur,
                    quantity: black_box(QUANTITY),
                    in_stock: black_box(true),
                })
            })
        })
    });
    g.bench_function("trackplan_profile_update", |b| {
        b.iter_custom(|iters| {
            time_tracks(&tracker, iters, || {
                consenting.update_profile(profile_update())
            })
        })
    });
    g.bench_function("trackplan_profile_update_deferred", |b| {
        b.iter_custom(|iters| {
            time_tracks(&deferred_tracker, iters, || {
                deferred.update_profile(profile_update())
            })
        })
    });
    g.finish();

    let stats = tracker.stats();
    eprintln!(
        "trackplan: accepted {}, delivered {}, dropped by consent {}, dropped by overflow {}, failed {}",
        stats.total.accepted,
        stats.total.delivered,
        stats.total.dropped_consent,
        stats.total.dropped_overflow,
        stats.total.failed
    );
}

/// `track` with a plain spool against an encrypted one, same run.
fn spooled(c: &mut Criterion) {
    use trackplan::crypt::{Keyring, SealKey};
    use trackplan::spool::Spool;
    let scratch = |name: &str| {
        let dir = std::env::temp_dir().join(format!(
            "trackplan-bench-track-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    };
    let (plain_dir, sealed_dir) = (scratch("plain"), scratch("sealed"));
    let build = |spool: Spool| {
        Tracker::builder(&PLAN)
            .key(key())
            .sink(destination::Warehouse, Discard)
            .spool(spool)
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let plain = build(Spool::open(&plain_dir).unwrap_or_else(|e| panic!("{e}")));
    let sealed = build(
        Spool::open_encrypted(&sealed_dir, Keyring::new(SealKey::derive(&key())))
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let consent = Consent::none().grant(purpose::ProductAnalytics);
    let (plain_subject, sealed_subject) = (
        plain.subject("user-42", consent),
        sealed.subject("user-42", consent),
    );
    let mut g = c.benchmark_group("track_spool");
    g.bench_function("plain", |b| {
        b.iter_custom(|iters| time_tracks(&plain, iters, || plain_subject.track(product_event())))
    });
    g.bench_function("encrypted", |b| {
        b.iter_custom(|iters| time_tracks(&sealed, iters, || sealed_subject.track(product_event())))
    });
    g.finish();
    drop((plain_subject, sealed_subject, plain, sealed));
    let _ = std::fs::remove_dir_all(&plain_dir);
    let _ = std::fs::remove_dir_all(&sealed_dir);
}

criterion_group!(benches, bench, placement, spooled);
criterion_main!(benches);
