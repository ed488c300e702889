//! What the `track` and `cpu_time` benches share: the plan's generated code, the serde
//! baseline (c), the discarding sinks and the inputs every variant starts from. Included by
//! each bench with `mod support;`; each uses a part of it.
#![allow(dead_code)]

use std::hint::black_box;
use std::time::Duration;

use serde::Serialize;
use trackplan::config::BatchLimits;
use trackplan::{Envelope, Key, Outcome, Sink};

// The events, purposes and destination, generated from the plan exactly as users get them.
trackplan::plan!("benches/track.toml");

/// `Category` and `Currency` as a hand-written serde event would spell them.
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

/// The baseline (c): what a hand-written serde struct would be.
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

/// The floor (c): the event as a `#[derive(Serialize)]` struct, written with
/// `serde_json::to_writer` into a fresh `Vec`.
pub fn floor() -> Vec<u8> {
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
    out
}

/// Discards every batch as the worker takes it: the worker delivers while `track` runs.
pub struct Discard;
impl Sink for Discard {
    fn declaration(&self) -> trackplan::config::SinkDeclaration {
        trackplan::config::SinkDeclaration::InProcess
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        black_box(batch);
        Outcome::Delivered
    }
}

/// Discards too, but its batches fill only at a flush: the worker stays idle while timed.
pub struct DiscardAtFlush;
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

// --- The inputs every variant starts from. ---
pub const PRODUCT_ID: &str = "sku-4711-blue-xl";
pub const PRICE: f64 = 19.99;
pub const QUANTITY: i64 = 2;
pub const EMAIL: &str = "Alice@Example.com";

/// Six traits with the same names, types and values as the event's properties, one `set`.
pub fn profile_update() -> Profile {
    Profile::new()
        .set_last_product_id(black_box(PRODUCT_ID).to_owned())
        .set_last_category(ProfileLastCategory::HealthBeauty)
        .set_last_price(black_box(PRICE))
        .set_currency(ProfileCurrency::Eur)
        .set_cart_quantity(black_box(QUANTITY))
        .set_in_stock(black_box(true))
}

pub fn product_event() -> ProductViewed {
    ProductViewed {
        product_id: black_box(PRODUCT_ID).to_owned(),
        category: Category::HealthBeauty,
        price: black_box(PRICE),
        currency: Currency::Eur,
        quantity: black_box(QUANTITY),
        in_stock: black_box(true),
    }
}

pub fn key() -> Key {
    Key::from_bytes([7u8; 32]).unwrap_or_else(|e| panic!("{e}"))
}
