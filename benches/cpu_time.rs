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
//!   the same two ways.
//!
//! Cache pollution by other processes still shows, so the README quotes the criterion ratios
//! of `scripts/track_ratios.sh` on a quiet machine; this bench guides work while it is not.
//!
//! `cargo bench --bench cpu_time -- [ROUNDS] [VARIANT]` (default: 200 rounds, every variant)

use std::hint::black_box;
use std::time::Duration;

use serde::Serialize;
use trackplan::config::BatchLimits;
use trackplan::{Consent, Envelope, Key, Outcome, Sink, Subject, Tracker};

trackplan::plan!("benches/track.toml");

#[derive(Clone, Copy, Serialize)]
enum SerdeCategory {
    #[serde(rename = "Health & Beauty")]
    HealthAndBeauty,
}

#[derive(Clone, Copy, Serialize)]
enum SerdeCurrency {
    #[serde(rename = "EUR")]
    Eur,
}

#[derive(Serialize)]
struct SerdeProductViewed {
    #[serde(rename = "Product ID")]
    product_id: String,
    #[serde(rename = "Category")]
    category: SerdeCategory,
    #[serde(rename = "Price")]
    price: f64,
    #[serde(rename = "Currency")]
    currency: SerdeCurrency,
    #[serde(rename = "Quantity")]
    quantity: i64,
    #[serde(rename = "In Stock")]
    in_stock: bool,
}

/// Discards every batch as the worker takes it: the worker delivers while `track` runs.
struct Discard;
impl Sink for Discard {
    fn declaration(&self) -> trackplan::config::SinkDeclaration {
        trackplan::config::SinkDeclaration::InProcess
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        black_box(batch);
        Outcome::Delivered
    }
}

/// Discards, and its batches fill only at a flush: the worker stays idle while measured.
struct DiscardAtFlush;
impl Sink for DiscardAtFlush {
    fn declaration(&self) -> trackplan::config::SinkDeclaration {
        trackplan::config::SinkDeclaration::InProcess
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: 1 << 20,
            max_bytes: 1 << 30,
            max_delay: Duration::from_secs(3600),
        }
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        black_box(batch);
        Outcome::Delivered
    }
}

const PRODUCT_ID: &str = "sku-4711-blue-xl";
const PRICE: f64 = 19.99;
const QUANTITY: i64 = 2;

fn floor() {
    let event = SerdeProductViewed {
        product_id: black_box(PRODUCT_ID).to_owned(),
        category: SerdeCategory::HealthAndBeauty,
        price: black_box(PRICE),
        currency: SerdeCurrency::Eur,
        quantity: black_box(QUANTITY),
        in_stock: black_box(true),
    };
    let mut out = Vec::with_capacity(256);
    let _ = serde_json::to_writer(&mut out, &event);
    black_box(out);
}

fn track(subject: &Subject) {
    subject.track(ProductViewed {
        product_id: black_box(PRODUCT_ID).to_owned(),
        category: Category::HealthBeauty,
        price: black_box(PRICE),
        currency: Currency::Eur,
        quantity: black_box(QUANTITY),
        in_stock: black_box(true),
    });
}

fn profile(subject: &Subject) {
    subject.update_profile(
        Profile::new()
            .set_last_product_id(black_box(PRODUCT_ID).to_owned())
            .set_last_category(ProfileLastCategory::HealthBeauty)
            .set_last_price(black_box(PRICE))
            .set_currency(ProfileCurrency::Eur)
            .set_cart_quantity(black_box(QUANTITY))
            .set_in_stock(black_box(true)),
    );
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
        .key(Key::from_bytes([7u8; 32]).unwrap_or_else(|e| panic!("{e}")))
        .sink(destination::Warehouse, DiscardAtFlush)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let subject = tracker.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
    let delivering = Tracker::builder(&PLAN)
        .key(Key::from_bytes([7u8; 32]).unwrap_or_else(|e| panic!("{e}")))
        .sink(destination::Warehouse, Discard)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let concurrent =
        delivering.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
    let variants: [Variant<'_>; 5] = [
        ("floor", &tracker, Box::new(floor)),
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
