//! `cargo bench --bench cpu_time`: `track`'s cost in CPU time of the calling thread, which
//! other processes on a shared machine inflate far less than the wall time criterion measures
//! (a preempted thread's clock stops). Variants run interleaved, in rounds of 4096 calls with
//! an untimed flush after each, and the medians over rounds are printed with their ratio to
//! the floor of the same run:
//!
//! - `floor`: the `derive(Serialize)` struct into a fresh `Vec` (benches/track.rs's (c));
//! - `track_deferred`: `track` with the sink's batches filling only at a flush (the worker idle
//!   while timed), as benches/track.rs's `trackplan_track_deferred`;
//! - `track_concurrent`: `track` with a sink that discards each batch as the worker takes it
//!   (the worker delivering meanwhile, as `trackplan_track`); only the calling thread's CPU
//!   counts, so this shows what sharing the queue with a busy worker costs the caller;
//! - `profile_deferred`, `profile_concurrent`: `update_profile` of six traits (one `set`),
//!   the same two ways;
//! - `refused_track_with`: `track_with` for a subject whose consent refuses every destination
//!   (the event is never built); compare with `track_concurrent` (target: ≤ 5 %).
//!
//! Cache pollution by other processes still shows, so the README quotes the criterion ratios
//! of `scripts/track_ratios.sh` on a quiet machine; this bench guides work while it is not.
//!
//! `cargo bench --bench cpu_time -- [ROUNDS] [VARIANT]` (default: 200 rounds, every variant)

use std::hint::black_box;
use std::time::Duration;

use trackplan::{Consent, Subject, Tracker};

mod support;
use support::*;

fn track(subject: &Subject) {
    subject.track(product_event());
}

fn profile(subject: &Subject) {
    subject.update_profile(profile_update());
}

/// This thread's CPU time.
fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

const CHUNK: u32 = 4_096;

/// A variant's name, the tracker it flushes, and one call.
type Variant<'a> = (&'static str, &'a Tracker, Box<dyn Fn() + 'a>);

/// CPU time per call of `op` over one chunk, then an untimed flush.
fn round(tracker: &Tracker, op: &dyn Fn()) -> f64 {
    let start = thread_cpu();
    for _ in 0..CHUNK {
        op();
    }
    let spent = thread_cpu() - start;
    if let Err(e) = tracker.flush() {
        eprintln!("flush failed: {e}");
    }
    spent.as_secs_f64() * 1e9 / f64::from(CHUNK)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a number is the round count, a word picks the variants
    // whose name contains it (the floor always runs).
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let rounds: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(200);
    let filter = args.iter().find(|a| a.parse::<usize>().is_err());
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, DiscardAtFlush)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let subject = tracker.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
    let delivering = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, Discard)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let concurrent =
        delivering.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
    let refusing = tracker.subject("user-43", Consent::none());
    let variants: [Variant<'_>; 6] = [
        ("floor", &tracker, Box::new(|| drop(black_box(floor())))),
        ("track_deferred", &tracker, Box::new(|| track(&subject))),
        (
            "track_concurrent",
            &delivering,
            Box::new(|| track(&concurrent)),
        ),
        ("profile_deferred", &tracker, Box::new(|| profile(&subject))),
        (
            "profile_concurrent",
            &delivering,
            Box::new(|| profile(&concurrent)),
        ),
        (
            "refused_track_with",
            &tracker,
            Box::new(|| refusing.track_with(product_event)),
        ),
    ];
    let variants: Vec<_> = variants
        .into_iter()
        .filter(|(name, ..)| *name == "floor" || filter.is_none_or(|f| name.contains(f.as_str())))
        .collect();
    let mut times = vec![Vec::with_capacity(rounds); variants.len()];
    // Warm: the thread's buffers and the queue's pool filled, as in a running app.
    for (_, tracker, op) in &variants {
        round(tracker, &**op);
    }
    for _ in 0..rounds {
        for (i, (_, tracker, op)) in variants.iter().enumerate() {
            times[i].push(round(tracker, &**op));
        }
    }
    let medians: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    for ((name, ..), m) in variants.iter().zip(&medians) {
        println!(
            "{name:18} {m:7.1} ns CPU per call  {:.3}x the floor",
            m / medians[0]
        );
    }
}
