//! Every generated item of plans/shop.toml, used as an application would.
#![deny(warnings)]

mod analytics {
    trackplan::plan!("plans/shop.toml");
}

use analytics::*;
use trackplan::{DeclaredFor, Event, Personal, RoutableTo, Special, Timestamp};

// The bounds of `Tracker::send_to` and of `tracker.scoped::<P>().track`.
fn send_to<D: trackplan::Destination, E: RoutableTo<D>>(_: &E) {}
fn track_scoped<P: trackplan::Purpose, E: DeclaredFor<P>>(_: &E) {}

fn main() {
    let page = PageViewed {
        url: "https://shop.example/cart".into(),
        referrer: None,
        ip_address: Personal::new("203.0.113.9".into()),
    };
    let signup = SignupCompleted {
        plan_tier: PlanTier::Enterprise,
        referrer: Some("https://search.example/".into()),
        age: Personal::new(41),
        newsletter: false,
    };
    let product = ProductViewed {
        product_id: "sku-1".into(),
        product_category: ProductViewedProductCategory::HealthBeauty,
        price: 4.5,
        currency: Currency::Eur,
    };
    let checkout = CheckoutCompleted {
        revenue: 19.9,
        currency: Currency::Gbp,
        item_count: 2,
        product_ids: vec!["sku-1".into(), "sku-2".into()],
        coupon_codes: None,
        ordered_at: Timestamp::from_unix_millis(1_700_000_000_000),
    };
    let search = SearchPerformed {
        query: Personal::new("gluten free bread".into()),
        result_count: 12,
        health_filter: Some(Special::new(SearchPerformedHealthFilter::GlutenFree)),
    };
    let login = LoginFailed {
        email: "alice@example.com".into(),
        ip_address: "203.0.113.9".into(),
        attempt: 1,
        reason: LoginFailedReason::Locked,
    };
    let ticket = SupportTicketOpened {
        topic: SupportTicketOpenedTopic::Refund,
        contact_email: "alice@example.com".into(),
        order_count: 3,
    };
    let cart = CartUpdated {
        product_id: "sku-1".into(),
        quantity: 0,
        cart_value: 0.0,
    };
    let reset = PasswordResetRequested {
        email: "alice@example.com".into(),
        ip_address: "203.0.113.9".into(),
    };

    send_to::<destination::Warehouse, _>(&page);
    send_to::<destination::Mixpanel, _>(&signup);
    send_to::<destination::Ads, _>(&product);
    send_to::<destination::Ads, _>(&checkout);
    send_to::<destination::Warehouse, _>(&search);
    send_to::<destination::SecurityLog, _>(&login);
    send_to::<destination::SecurityLog, _>(&reset);
    send_to::<destination::SupportDesk, _>(&ticket);
    send_to::<destination::Mixpanel, _>(&cart);
    track_scoped::<purpose::Advertising, _>(&checkout);
    track_scoped::<purpose::Security, _>(&login);
    track_scoped::<purpose::CustomerSupport, _>(&ticket);

    assert_eq!(PLAN.label, "shop@3");
    assert_eq!(<purpose::Security as trackplan::Purpose>::INDEX, 2);
    assert_eq!(<destination::Ads as trackplan::Destination>::INDEX, 2);
    assert!(std::ptr::eq(CartUpdated::PLAN, &PLAN));
    assert_eq!(CheckoutCompleted::INFO.properties.len(), 6);
    // Profile, group and context items (issue 11): every operation that fits each trait.
    let profile = Profile::new()
        .set_plan_tier(ProfilePlanTier::Pro)
        .set_once_email("alice@example.com")
        .set_first_name(Personal::new("Alice".into()))
        .add_order_count(1)
        .union_favourite_categories(["Home", "Garden"])
        .remove_favourite_categories(vec![String::from("Toys")])
        .unset_plan_tier();
    let company = Company::new("acme").set_industry("retail").add_seats(3u8);
    assert_eq!(company.key(), "acme");
    let context = Context {
        app_version: Some("1.4.2".into()),
    };
    fn profile_update<U: trackplan::ProfileUpdate>(_: &U) {}
    fn group_update<G: trackplan::GroupUpdate>(_: &G) {}
    fn context_properties<C: trackplan::ContextProperties>(_: &C) {}
    profile_update(&profile);
    group_update(&company);
    context_properties(&context);
    assert_eq!(PLAN.traits.len(), 5);
    assert_eq!(PLAN.groups[0].id, "company");
    assert_eq!(PLAN.context[0].property.name, "App Version");
    let shown = format!("{profile:?}");
    assert!(!shown.contains("alice"), "trait values are never printed: {shown}");
    // Debug is derived and safe: wrapped values are redacted.
    let shown = format!("{login:?}");
    assert!(!shown.contains("alice"), "{shown}");
    let _ = (signup.clone(), product.clone(), cart.clone());
}
