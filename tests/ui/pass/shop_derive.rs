//! Application-owned types bound to every event of plans/shop.toml, with the field types the
//! derive accepts besides the ones `plan!` generates.
#![deny(warnings)]

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use trackplan::{Event, Personal, Special, Values};


#[derive(Clone, Copy, Values)]
#[trackplan(property = "plan_tier", plan = "plans/shop.toml")]
enum Tier {
    Free,
    Pro,
    #[trackplan(rename = "enterprise")]
    Business,
}

#[derive(Clone, Copy, Values)]
#[trackplan(property = "currency", plan = "plans/shop.toml")]
enum Currency {
    Eur,
    Usd,
    Gbp,
}

#[derive(Clone, Copy, Values)]
#[trackplan(property = "product_viewed.product_category", plan = "plans/shop.toml")]
enum Section {
    HealthBeauty,
    Home,
    Garden,
    Toys,
}

#[derive(Clone, Copy, Values)]
#[trackplan(property = "search_performed.health_filter", plan = "plans/shop.toml")]
enum Diet {
    GlutenFree,
    LactoseFree,
    Diabetic,
}

#[derive(Values)]
#[trackplan(property = "login_failed.reason", plan = "plans/shop.toml")]
enum Rejection {
    BadPassword,
    UnknownAccount,
    Locked,
}

#[derive(Values)]
#[trackplan(property = "support_ticket_opened.topic", plan = "plans/shop.toml")]
enum Topic {
    Delivery,
    Refund,
    ProductQuestion,
}

#[derive(Event)]
#[trackplan(event = "page_viewed", purposes(product_analytics), plan = "plans/shop.toml")]
struct PageView<'a> {
    url: &'a str,
    ip_address: Personal<Cow<'a, str>>,
}

#[derive(Event)]
#[trackplan(event = "signup_completed", plan = "plans/shop.toml")]
struct Signup {
    plan_tier: Tier,
    referrer: Option<Box<str>>,
    age: Personal<u8>,
    newsletter: bool,
}

#[derive(Event)]
#[trackplan(
    event = "product_viewed",
    purposes(advertising, product_analytics),
    plan = "plans/shop.toml"
)]
struct ProductView {
    product_id: Arc<str>,
    product_category: Section,
    price: f32,
    currency: Currency,
}

#[derive(Event)]
#[trackplan(event = "cart_updated", plan = "plans/shop.toml")]
struct Cart {
    product_id: String,
    quantity: i32,
    cart_value: f64,
}

#[derive(Event)]
#[trackplan(event = "checkout_completed", plan = "plans/shop.toml")]
struct Checkout {
    revenue: f64,
    currency: Currency,
    item_count: u16,
    product_ids: Vec<&'static str>,
    ordered_at: SystemTime,
}

#[derive(Event)]
#[trackplan(event = "search_performed", plan = "plans/shop.toml")]
struct Search {
    query: Personal<String>,
    result_count: u32,
    health_filter: Option<Special<Diet>>,
}

#[derive(Event)]
#[trackplan(event = "login_failed", purposes(security), plan = "plans/shop.toml")]
struct LoginFailure {
    email: Personal<String>,
    ip_address: Personal<String>,
    attempt: i8,
    reason: Rejection,
}

#[derive(Event)]
#[trackplan(event = "password_reset_requested", plan = "plans/shop.toml")]
struct PasswordReset {
    email: Personal<&'static str>,
    ip_address: Personal<&'static str>,
}

#[derive(Event)]
#[trackplan(event = "support_ticket_opened", plan = "plans/shop.toml")]
struct Ticket {
    topic: Topic,
    contact_email: Personal<String>,
    order_count: i64,
}

fn is_event<E: Event>(_: &E) -> &'static str {
    E::INFO.name
}

fn main() {
    let page = PageView {
        url: "https://shop.example/",
        ip_address: Personal::new(Cow::Borrowed("203.0.113.9")),
    };
    assert_eq!(is_event(&page), "Page Viewed");
    let _ = (
        Signup { plan_tier: Tier::Business, referrer: None, age: Personal::new(30), newsletter: true },
        ProductView { product_id: "sku".into(), product_category: Section::Toys, price: 1.0, currency: Currency::Usd },
        Cart { product_id: "sku".into(), quantity: 1, cart_value: 2.0 },
        Checkout { revenue: 1.0, currency: Currency::Eur, item_count: 1, product_ids: vec!["sku"], ordered_at: SystemTime::now() },
        Search { query: Personal::new("q".into()), result_count: 0, health_filter: Some(Special::new(Diet::Diabetic)) },
        LoginFailure { email: "a@b".into(), ip_address: "::1".into(), attempt: 1, reason: Rejection::Locked },
        PasswordReset { email: Personal::new("a@b"), ip_address: Personal::new("::1") },
        Ticket { topic: Topic::Refund, contact_email: "a@b".into(), order_count: 0 },
    );
    assert_eq!(Tier::Business.wire(), "enterprise");
    assert_eq!(Section::HealthBeauty.wire(), "Health & Beauty");
    assert_eq!(<Rejection as Values>::PROPERTY, "login_failed.reason");
    let _ = (Tier::Free, Tier::Pro, Currency::Gbp, Section::Home, Section::Garden, Diet::GlutenFree, Diet::LactoseFree);
    let _ = (Rejection::BadPassword, Rejection::UnknownAccount, Topic::Delivery, Topic::ProductQuestion);
}
