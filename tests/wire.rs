//! The bytes that leave the process: every event of every example plan, tracked through a real
//! tracker and compared byte-for-byte with the JSON each destination receives. Wire names and
//! enum values are sent exactly as the plan writes them, whatever they contain; transforms and
//! first-party-only properties are applied per destination.
//!
//! `plans/edge_cases.toml` must also compile through `plan!` without a single warning: this
//! file denies them.
#![deny(warnings)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use hmac::{KeyInit, Mac};
use trackplan::{Consent, Envelope, Key, Outcome, Personal, Sink, Special, Timestamp, Tracker};

mod shop {
    trackplan::plan!("plans/shop.toml");
}

mod edge {
    trackplan::plan!("plans/edge_cases.toml");
}

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// What each destination received: `(destination, event wire name)` → properties JSON text.
type Log = Arc<Mutex<BTreeMap<(&'static str, String), Vec<String>>>>;

/// A sink that keeps the exact properties text of every envelope.
struct Capture {
    destination: &'static str,
    log: Log,
}

impl Sink for Capture {
    fn declaration(&self) -> trackplan::config::SinkDeclaration {
        trackplan::config::SinkDeclaration::InProcess
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        let mut log = self.log.lock().unwrap();
        for e in batch {
            log.entry((self.destination, e.event.to_owned()))
                .or_default()
                .push(e.properties.to_string());
        }
        Outcome::Delivered
    }
}

fn capture(destination: &'static str, log: &Log) -> Capture {
    Capture {
        destination,
        log: Arc::clone(log),
    }
}

/// The one properties object `destination` received for `event`.
#[track_caller]
fn sent(log: &Log, destination: &'static str, event: &str) -> String {
    let log = log.lock().unwrap();
    match log.get(&(destination, event.to_owned())).map(Vec::as_slice) {
        Some([one]) => one.clone(),
        other => panic!("{destination} received {event:?} {other:?}"),
    }
}

#[track_caller]
fn not_sent(log: &Log, destination: &'static str, event: &str) {
    let log = log.lock().unwrap();
    assert!(
        !log.contains_key(&(destination, event.to_owned())),
        "{destination} received {event:?}"
    );
}

/// Hex HMAC-SHA-256 under the test key, computed here independently of the runtime.
fn hmac_hex(text: &str) -> String {
    let key: Vec<u8> = (0u8..32).collect();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(text.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn shop_events_go_out_byte_for_byte() {
    use shop::*;
    let log = Log::default();
    let tracker = Tracker::builder(&PLAN)
        .key(Key::from_hex(KEY_HEX).unwrap())
        .violations(trackplan::config::ViolationPolicy::Panic)
        .sink(destination::Warehouse, capture("warehouse", &log))
        .sink(destination::Mixpanel, capture("mixpanel", &log))
        .sink(destination::Ads, capture("ads", &log))
        .sink(destination::SecurityLog, capture("security_log", &log))
        .sink(destination::SupportDesk, capture("support_desk", &log))
        .build()
        .unwrap();
    let user = tracker.subject(
        "user-42",
        // Explicitly for analytics: the health filter (special-category data) needs it.
        Consent::none()
            .grant_explicit(purpose::ProductAnalytics)
            .grant(purpose::Advertising),
    );

    user.track(PageViewed {
        url: "https://shop.example/cart?coupon=SPRING#top".into(),
        referrer: None,
        ip_address: Personal::new("203.0.113.9".into()),
    });
    user.track(SignupCompleted {
        plan_tier: PlanTier::Enterprise,
        referrer: Some("https://search.example/?q=shoes".into()),
        age: Personal::new(41),
        newsletter: false,
    });
    user.track(ProductViewed {
        product_id: "sku-1".into(),
        product_category: ProductViewedProductCategory::HealthBeauty,
        price: 4.5,
        currency: Currency::Eur,
    });
    user.track(CartUpdated {
        product_id: "sku-1".into(),
        quantity: 3,
        cart_value: 12.5,
    });
    user.track(CheckoutCompleted {
        revenue: 19.9,
        currency: Currency::Gbp,
        item_count: 2,
        product_ids: vec!["sku-1".into(), "sku-\"2\"".into()],
        coupon_codes: Some(vec!["SPRING".into()]),
        // 2023-11-14T22:13:20Z, sent as its day.
        ordered_at: Timestamp::from_unix_millis(1_700_000_000_000),
    });
    user.track(SearchPerformed {
        query: Personal::new("gluten free bread".into()),
        result_count: 12,
        health_filter: Some(Special::new(SearchPerformedHealthFilter::GlutenFree)),
    });
    user.track(LoginFailed {
        email: " Alice@Example.COM ".into(),
        ip_address: "2001:db8:85a3:1:2:8a2e:370:7334".into(),
        attempt: 3,
        reason: LoginFailedReason::Locked,
    });
    user.track(PasswordResetRequested {
        email: "bob@example.com".into(),
        ip_address: "198.51.100.77".into(),
    });
    user.track(SupportTicketOpened {
        topic: SupportTicketOpenedTopic::ProductQuestion,
        contact_email: "Alice@Example.com".into(),
        order_count: 7,
    });
    tracker.flush().unwrap();

    let page = r#"{"URL":"https://shop.example/cart","IP Address":"203.0.113.0"}"#;
    assert_eq!(sent(&log, "warehouse", "Page Viewed"), page);
    assert_eq!(sent(&log, "mixpanel", "Page Viewed"), page);
    not_sent(&log, "ads", "Page Viewed");

    let signup = r#"{"Plan Tier":"enterprise","Referrer":"https://search.example/","Age":"35-49","Newsletter":false}"#;
    assert_eq!(sent(&log, "warehouse", "Signup Completed"), signup);

    let product =
        r#"{"Product ID":"sku-1","Category":"Health & Beauty","Price":4.5,"Currency":"EUR"}"#;
    for d in ["warehouse", "mixpanel", "ads"] {
        assert_eq!(sent(&log, d, "Product Viewed"), product);
    }

    let cart = r#"{"Product ID":"sku-1","Quantity":3,"Cart Value":12.5}"#;
    assert_eq!(sent(&log, "mixpanel", "Cart Updated"), cart);
    not_sent(&log, "ads", "Cart Updated");

    let checkout = r#"{"Revenue":19.9,"Currency":"GBP","Item Count":2,"Product IDs":["sku-1","sku-\"2\""],"Coupon Codes":["SPRING"],"Ordered At":"2023-11-14T00:00:00.000Z"}"#;
    assert_eq!(sent(&log, "ads", "Checkout Completed"), checkout);

    // `redact`: the query and the health filter stay with the first-party warehouse.
    assert_eq!(
        sent(&log, "warehouse", "Search Performed"),
        r#"{"Result Count":12,"Query":"gluten free bread","Health Filter":"gluten_free"}"#
    );
    assert_eq!(
        sent(&log, "mixpanel", "Search Performed"),
        r#"{"Result Count":12}"#
    );

    // Security has a legitimate-interest basis: on without a grant. E-mail categories are
    // trimmed and lower-cased before the HMAC.
    assert_eq!(
        sent(&log, "security_log", "Login Failed"),
        format!(
            r#"{{"email":"{}","IP Address":"2001:db8:85a3::","Attempt":3,"Reason":"locked"}}"#,
            hmac_hex("alice@example.com")
        )
    );
    assert_eq!(
        sent(&log, "security_log", "Password Reset Requested"),
        format!(
            r#"{{"email":"{}","IP Address":"198.51.100.0"}}"#,
            hmac_hex("bob@example.com")
        )
    );
    not_sent(&log, "warehouse", "Login Failed");

    // `transform = "none"` with a justification: sent as written.
    assert_eq!(
        sent(&log, "support_desk", "Support Ticket Opened"),
        r#"{"Topic":"product_question","Contact E-mail":"Alice@Example.com","Order Count":7}"#
    );
    tracker.shutdown().unwrap();
}

#[test]
fn edge_case_names_and_values_go_out_byte_for_byte() {
    use edge::*;
    let log = Log::default();
    let tracker = Tracker::builder(&PLAN)
        .key(Key::from_hex(KEY_HEX).unwrap())
        .violations(trackplan::config::ViolationPolicy::Panic)
        .sink(destination::Match, capture("match", &log))
        .sink(destination::Super, capture("super", &log))
        .sink(destination::Both, capture("both", &log))
        .build()
        .unwrap();
    let user = tracker.subject("user-1", Consent::none().grant(purpose::Type));

    let values = [
        (PlanTierValue::Free, "free"),
        (PlanTierValue::ProPlan, "Pro Plan"),
        (PlanTierValue::Eur, "EUR"),
        (PlanTierValue::V1824, "18-24"),
        (PlanTierValue::Value5, "🎉"),
        (PlanTierValue::HealthBeauty, "Health & Beauty"),
        (PlanTierValue::日本, "日本"),
        (PlanTierValue::Straße, "Straße"),
        (PlanTierValue::Self_, "Self"),
        (PlanTierValue::WithQuotes, "with \"quotes\""),
        (PlanTierValue::BackSlash, "back\\slash"),
        (PlanTierValue::Hash, "#hash"),
        (PlanTierValue::V2nd, "2nd"),
    ];
    for (value, wire) in values {
        assert_eq!(trackplan::Values::wire(&value), wire);
    }

    user.track(Type {
        r#type: "t".into(),
        r#match: -1,
        r#async: true,
        self_: 0.5,
        crate_: Timestamp::from_unix_millis(1_700_000_000_123),
        super_: Some("s".into()),
        plan_tier: PlanTierValue::BackSlash,
    });
    user.track(Self_ {
        email: "\tMiXeD@Example.org ".into(),
        emails: Some(vec![Personal::new("a@b.c".into())]),
        tags: vec![SelfTags::AB, SelfTags::CD, SelfTags::Über],
    });
    user.track(Match {});
    user.track(PlanTier {
        plan_tier: PlanTierValue::Value5,
        self_: PlanTierSelf::Self_,
    });
    user.track(Option {
        maybe: ::std::option::Option::None,
    });
    user.track(String {
        text: "line\nbreak\u{1}".into(),
    });
    user.track(Vec { items: vec![1, -2] });
    tracker.flush().unwrap();

    assert_eq!(
        sent(&log, "match", "Type \"quoted\" \\ backslash"),
        r##"{"type":"t","# hash":-1,"🎉 emoji":true,"日本語のプロパティ":0.5,"Ελληνικά":"2023-11-14T22:13:20.123Z","1st visit":"s","Plan Tier":"back\\slash"}"##
    );
    assert_eq!(
        sent(&log, "super", "self"),
        format!(
            r#"{{"E-mail \t tab":"{}","Tags":["a b","C-D","über"],"E-mails":["a@b.c"]}}"#,
            hmac_hex("mixed@example.org")
        )
    );
    for d in ["match", "super", "both"] {
        assert_eq!(sent(&log, d, "Match 🔥 русский"), "{}");
    }
    assert_eq!(
        sent(&log, "match", "Plan Tier Changed"),
        r#"{"Plan Tier":"🎉","self":"Self"}"#
    );
    assert_eq!(sent(&log, "match", "option"), "{}");
    assert_eq!(
        sent(&log, "match", "string"),
        r#"{"text":"line\nbreak\u0001"}"#
    );
    assert_eq!(sent(&log, "match", "vec"), r#"{"items":[1,-2]}"#);
    tracker.shutdown().unwrap();
}
