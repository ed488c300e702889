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
//!   `trackplan_refused_prebuilt` the same with the event built outside the timed part (its
//!   drop stays inside); `trackplan_refused_static` with an event borrowing its string, so
//!   nothing is allocated or freed; `event_build_drop_static` builds that event alone (the
//!   harness's share of it: what is left is the refusal).
//! - `trackplan_track_hmac`: `track` of the same event whose first property is an e-mail
//!   address pseudonymized with HMAC-SHA-256.
//!
//! Every variant builds its event from the same inputs on every iteration.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde::Serialize;
use trackplan::__private::Sealed;
use trackplan::{
    BatchLimits, Consent, Constraints, Destination, DestinationInfo, DestinationSet, Envelope,
    Event, EventInfo, IdentityInfo, Key, LegalBasis, Outcome, Personal, PlanInfo, PropertyInfo,
    PropertyWriter, Purpose, PurposeInfo, PurposeSet, Sensitivity, Sink, Subject, Timestamps,
    Tracker, TransformInfo, Value, ValueKind, Values,
};

// --- A plan as `plan!` would generate it: one purpose, one destination, two events. ---

const NONE: Constraints = Constraints {
    max_length: None,
    min: None,
    max: None,
};

const fn prop(
    id: &'static str,
    json_key: &'static str,
    kind: ValueKind,
    transform: TransformInfo,
    constraints: Constraints,
) -> PropertyInfo {
    PropertyInfo {
        id,
        name: id,
        json_key,
        kind,
        sensitivity: Sensitivity::Public,
        category: None,
        transform,
        required: true,
        constraints,
    }
}

static PRODUCT_PROPS: [PropertyInfo; 6] = [
    prop(
        "product_id",
        "\"Product ID\":",
        ValueKind::String,
        TransformInfo::None,
        Constraints {
            max_length: Some(64),
            min: None,
            max: None,
        },
    ),
    prop(
        "category",
        "\"Category\":",
        ValueKind::Enum,
        TransformInfo::None,
        NONE,
    ),
    prop(
        "price",
        "\"Price\":",
        ValueKind::Number,
        TransformInfo::None,
        Constraints {
            max_length: None,
            min: Some(0.0),
            max: None,
        },
    ),
    prop(
        "currency",
        "\"Currency\":",
        ValueKind::Enum,
        TransformInfo::None,
        NONE,
    ),
    prop(
        "quantity",
        "\"Quantity\":",
        ValueKind::Integer,
        TransformInfo::None,
        Constraints {
            max_length: None,
            min: Some(0.0),
            max: Some(99.0),
        },
    ),
    prop(
        "in_stock",
        "\"In Stock\":",
        ValueKind::Boolean,
        TransformInfo::None,
        NONE,
    ),
];

static ACCOUNT_PROPS: [PropertyInfo; 6] = [
    prop(
        "email",
        "\"Email\":",
        ValueKind::String,
        TransformInfo::Hmac { lowercase: true },
        NONE,
    ),
    prop(
        "category",
        "\"Category\":",
        ValueKind::Enum,
        TransformInfo::None,
        NONE,
    ),
    prop(
        "price",
        "\"Price\":",
        ValueKind::Number,
        TransformInfo::None,
        NONE,
    ),
    prop(
        "currency",
        "\"Currency\":",
        ValueKind::Enum,
        TransformInfo::None,
        NONE,
    ),
    prop(
        "quantity",
        "\"Quantity\":",
        ValueKind::Integer,
        TransformInfo::None,
        NONE,
    ),
    prop(
        "in_stock",
        "\"In Stock\":",
        ValueKind::Boolean,
        TransformInfo::None,
        NONE,
    ),
];

static EVENTS: [EventInfo; 2] = [
    EventInfo {
        id: "product_viewed",
        name: "Product Viewed",
        purposes: PurposeSet(1),
        destinations: DestinationSet(1),
        properties: &PRODUCT_PROPS,
    },
    EventInfo {
        id: "account_product_viewed",
        name: "Account Product Viewed",
        purposes: PurposeSet(1),
        destinations: DestinationSet(1),
        properties: &ACCOUNT_PROPS,
    },
];

static PLAN: PlanInfo = PlanInfo {
    name: "bench",
    version: 1,
    label: "bench@1",
    hash: "0000000000000000000000000000000000000000000000000000000000000000",
    identity: IdentityInfo::Hmac,
    purposes: &[PurposeInfo {
        id: "product_analytics",
        description: "Improve the shop.",
        basis: LegalBasis::Consent,
        data_use: "analytics.reporting",
        retention_days: None,
        sale_or_share: false,
    }],
    destinations: &[DestinationInfo {
        id: "warehouse",
        kind: "custom",
        description: "Discards everything.",
        purposes: PurposeSet(1),
        third_party: false,
    }],
    events: &EVENTS,
};

#[derive(Clone, Copy)]
struct ProductAnalytics;
impl Purpose for ProductAnalytics {
    const PLAN: &'static PlanInfo = &PLAN;
    const INDEX: usize = 0;
}

#[derive(Clone, Copy)]
struct Warehouse;
impl Destination for Warehouse {
    type Purposes = ProductAnalytics;
    const PLAN: &'static PlanInfo = &PLAN;
    const INDEX: usize = 0;
}

#[derive(Clone, Copy, Serialize)]
enum Category {
    #[serde(rename = "Health & Beauty")]
    HealthAndBeauty,
}
impl Sealed for Category {}
impl Values for Category {
    const PROPERTY: &'static str = "category";
    fn wire(&self) -> &'static str {
        "Health & Beauty"
    }
}

#[derive(Clone, Copy, Serialize)]
enum Currency {
    #[serde(rename = "EUR")]
    Eur,
}
impl Sealed for Currency {}
impl Values for Currency {
    const PROPERTY: &'static str = "currency";
    fn wire(&self) -> &'static str {
        "EUR"
    }
}

struct ProductViewed {
    product_id: String,
    category: Category,
    price: f64,
    currency: Currency,
    quantity: u32,
    in_stock: bool,
}
impl Sealed for ProductViewed {}
impl Event for ProductViewed {
    type Purposes = ProductAnalytics;
    const PLAN: &'static PlanInfo = &PLAN;
    const INFO: &'static EventInfo = &EVENTS[0];
    fn write_properties(&self, w: &mut PropertyWriter<'_>) {
        let p = Self::INFO.properties;
        Value::write(&self.product_id, &p[0], w);
        Value::write(&self.category, &p[1], w);
        Value::write(&self.price, &p[2], w);
        Value::write(&self.currency, &p[3], w);
        Value::write(&self.quantity, &p[4], w);
        Value::write(&self.in_stock, &p[5], w);
    }
}

struct AccountProductViewed {
    email: Personal<String>,
    category: Category,
    price: f64,
    currency: Currency,
    quantity: u32,
    in_stock: bool,
}
impl Sealed for AccountProductViewed {}
impl Event for AccountProductViewed {
    type Purposes = ProductAnalytics;
    const PLAN: &'static PlanInfo = &PLAN;
    const INFO: &'static EventInfo = &EVENTS[1];
    fn write_properties(&self, w: &mut PropertyWriter<'_>) {
        let p = Self::INFO.properties;
        Value::write(&self.email, &p[0], w);
        Value::write(&self.category, &p[1], w);
        Value::write(&self.price, &p[2], w);
        Value::write(&self.currency, &p[3], w);
        Value::write(&self.quantity, &p[4], w);
        Value::write(&self.in_stock, &p[5], w);
    }
}

/// `ProductViewed` borrowing its product id: building and dropping it costs nothing.
struct StaticProductViewed {
    product_id: &'static str,
    category: Category,
    price: f64,
    currency: Currency,
    quantity: u32,
    in_stock: bool,
}
impl Sealed for StaticProductViewed {}
impl Event for StaticProductViewed {
    type Purposes = ProductAnalytics;
    const PLAN: &'static PlanInfo = &PLAN;
    const INFO: &'static EventInfo = &EVENTS[0];
    fn write_properties(&self, w: &mut PropertyWriter<'_>) {
        let p = Self::INFO.properties;
        Value::write(&self.product_id, &p[0], w);
        Value::write(&self.category, &p[1], w);
        Value::write(&self.price, &p[2], w);
        Value::write(&self.currency, &p[3], w);
        Value::write(&self.quantity, &p[4], w);
        Value::write(&self.in_stock, &p[5], w);
    }
}

/// The baseline (c): what a hand-written serde struct would be.
#[derive(Serialize)]
struct SerdeProductViewed {
    #[serde(rename = "Product ID")]
    product_id: String,
    #[serde(rename = "Category")]
    category: Category,
    #[serde(rename = "Price")]
    price: f64,
    #[serde(rename = "Currency")]
    currency: Currency,
    #[serde(rename = "Quantity")]
    quantity: u32,
    #[serde(rename = "In Stock")]
    in_stock: bool,
}

struct Discard;
impl Sink for Discard {
    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        black_box(batch);
        Outcome::Delivered
    }
}

/// Discards too, but its batches fill only at a flush: the worker stays idle while timed.
struct DiscardAtFlush;
impl Sink for DiscardAtFlush {
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

// --- The inputs every variant starts from. ---
const PRODUCT_ID: &str = "sku-4711-blue-xl";
const PRICE: f64 = 19.99;
const QUANTITY: u32 = 2;
const EMAIL: &str = "Alice@Example.com";

fn product_event() -> ProductViewed {
    ProductViewed {
        product_id: black_box(PRODUCT_ID).to_owned(),
        category: Category::HealthAndBeauty,
        price: black_box(PRICE),
        currency: Currency::Eur,
        quantity: black_box(QUANTITY),
        in_stock: black_box(true),
    }
}

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

fn key() -> Key {
    Key::from_bytes([7u8; 32]).unwrap_or_else(|e| panic!("{e}"))
}

fn bench(c: &mut Criterion) {
    let tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(Warehouse, Discard)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let consenting: Subject = tracker.subject("user-42", Consent::none().grant(ProductAnalytics));
    let refusing: Subject = tracker.subject("user-43", Consent::none());
    let deferred_tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(Warehouse, DiscardAtFlush)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let deferred = deferred_tracker.subject("user-42", Consent::none().grant(ProductAnalytics));
    let coarse_tracker = Tracker::builder(&PLAN)
        .key(key())
        .sink(Warehouse, DiscardAtFlush)
        .timestamps(Timestamps::Coarse)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let coarse = coarse_tracker.subject("user-42", Consent::none().grant(ProductAnalytics));

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
    g.bench_function("c_derive_serialize", |b| {
        b.iter(|| {
            let event = SerdeProductViewed {
                product_id: black_box(PRODUCT_ID).to_owned(),
                category: Category::HealthAndBeauty,
                price: black_box(PRICE),
                currency: Currency::Eur,
                quantity: black_box(QUANTITY),
                in_stock: black_box(true),
            };
            let mut out = Vec::with_capacity(256);
            let _ = serde_json::to_writer(&mut out, &event);
            black_box(out)
        })
    });
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
    // The refusal alone: the event is built outside the timed part (its drop stays inside).
    g.bench_function("trackplan_refused_prebuilt", |b| {
        b.iter_batched(product_event, |e| refusing.track(e), BatchSize::SmallInput)
    });
    g.bench_function("event_build_drop_static", |b| {
        b.iter(|| {
            black_box(StaticProductViewed {
                product_id: black_box(PRODUCT_ID),
                category: Category::HealthAndBeauty,
                price: black_box(PRICE),
                currency: Currency::Eur,
                quantity: black_box(QUANTITY),
                in_stock: black_box(true),
            })
        })
    });
    g.bench_function("trackplan_refused_static", |b| {
        b.iter(|| {
            refusing.track(StaticProductViewed {
                product_id: black_box(PRODUCT_ID),
                category: Category::HealthAndBeauty,
                price: black_box(PRICE),
                currency: Currency::Eur,
                quantity: black_box(QUANTITY),
                in_stock: black_box(true),
            })
        })
    });
    g.bench_function("trackplan_track_hmac", |b| {
        b.iter_custom(|iters| {
            time_tracks(&tracker, iters, || {
                consenting.track(AccountProductViewed {
                    email: Personal::new(black_box(EMAIL).to_owned()),
                    category: Category::HealthAndBeauty,
                    price: black_box(PRICE),
                    currency: Currency::Eur,
                    quantity: black_box(QUANTITY),
                    in_stock: black_box(true),
                })
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

criterion_group!(benches, bench);
criterion_main!(benches);
