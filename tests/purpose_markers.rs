//! Hole 3 of the adversarial review: a purpose marker made by hand.
//!
//! Anything `plan!` generates can be written by hand, so the trait impl itself cannot be
//! sealed. Instead the plan data carries the identity (`TypeId`) of each generated marker, and
//! `Consent` refuses a marker that claims a purpose's index without being its type: the
//! consent then permits nothing. These tests play the attacker with `trackplan::__private`.

use trackplan::testing::Recorder;
use trackplan::{Consent, Key, Personal, Tracker};

mod shop {
    trackplan::plan!("plans/shop.toml");
}
use shop::*;

/// Claims to be the plan's `advertising` purpose (index 1 in `plans/shop.toml`).
#[derive(Clone, Copy)]
struct HandMadeAdvertising;

impl trackplan::__private::Purpose for HandMadeAdvertising {
    const PLAN: &'static trackplan::__private::PlanInfo = &PLAN;
    const INDEX: usize = 1;
}

/// Claims to be `security` (index 2), a legitimate-interest purpose, to withdraw it.
#[derive(Clone, Copy)]
struct HandMadeSecurity;

impl trackplan::__private::Purpose for HandMadeSecurity {
    const PLAN: &'static trackplan::__private::PlanInfo = &PLAN;
    const INDEX: usize = 2;
}

#[test]
fn the_index_is_the_one_the_attacker_meant() {
    assert_eq!(PLAN.purposes[1].id, "advertising");
    assert_eq!(PLAN.purposes[2].id, "security");
}

#[test]
fn a_hand_made_marker_grants_nothing_and_voids_the_consent() {
    let forged = Consent::none().grant(HandMadeAdvertising);
    assert!(!forged.permits(purpose::Advertising));
    assert!(!forged.permits(HandMadeAdvertising));
    assert!(forged.has_forged_purpose());
    assert!(forged.permitted(&PLAN).is_empty());

    // Mixed with genuine grants it still permits nothing: fail closed, not "ignore the bad one".
    let mixed = Consent::none()
        .grant(purpose::ProductAnalytics)
        .grant(HandMadeAdvertising);
    assert!(!mixed.permits(purpose::ProductAnalytics));
    assert!(!mixed.permits(purpose::Security), "legitimate interest too");

    // A forged withdrawal cannot be used to keep a grant standing either.
    let withdrawn = Consent::none()
        .grant(purpose::Advertising)
        .withdraw(HandMadeSecurity);
    assert!(!withdrawn.permits(purpose::Advertising));

    // The generated markers work as before.
    let genuine = Consent::none().grant(purpose::Advertising);
    assert!(genuine.permits(purpose::Advertising));
    assert!(genuine.permits(purpose::Security));
    assert!(!genuine.has_forged_purpose());
    assert!(!genuine.permits(HandMadeAdvertising));
}

#[test]
fn an_advertising_event_does_not_reach_the_ad_network_through_a_hand_made_marker() {
    let ads = Recorder::new();
    let security = Recorder::new();
    let tracker = Tracker::builder(&PLAN)
        .key(Key::from_hex(&"2a".repeat(32)).expect("a 32-byte hex key"))
        .sink(destination::Warehouse, Recorder::new())
        .sink(destination::Mixpanel, Recorder::new())
        .sink(destination::Ads, ads.clone())
        .sink(destination::SecurityLog, security.clone())
        .sink(destination::SupportDesk, Recorder::new())
        .build()
        .expect("the generated plan builds");
    let product = || ProductViewed {
        product_id: "sku-1".into(),
        product_category: ProductViewedProductCategory::HealthBeauty,
        price: 4.5,
        currency: Currency::Eur,
    };
    let login = || LoginFailed {
        email: Personal::new("someone@example.com".into()),
        ip_address: Personal::new("203.0.113.9".into()),
        attempt: 1,
        reason: LoginFailedReason::BadPassword,
    };

    let attacker = tracker.subject("user-1", Consent::none().grant(HandMadeAdvertising));
    attacker.track(product());
    attacker.track(login());
    // The control: the same events with the generated marker do go out.
    let genuine = tracker.subject("user-2", Consent::none().grant(purpose::Advertising));
    genuine.track(product());
    genuine.track(login());
    tracker.flush().expect("the recorders accept everything");

    assert_eq!(ads.count("Product Viewed"), 1, "only the genuine grant");
    assert_eq!(
        security.count("Login Failed"),
        1,
        "the forged consent permits nothing"
    );
    let sent_by =
        |r: &Recorder| -> Vec<String> { r.events().into_iter().map(|e| e.distinct_id).collect() };
    assert_eq!(sent_by(&ads), [genuine.distinct_id()]);
    assert_eq!(sent_by(&security), [genuine.distinct_id()]);
    tracker.shutdown().expect("clean shutdown");
}
