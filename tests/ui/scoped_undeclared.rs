trackplan::plan!("plans/shop.toml");

fn record(tracker: &trackplan::Tracker) {
    let marketing = tracker.scoped::<purpose::Advertising>();
    let user = marketing.subject("user-42", trackplan::Consent::none());
    user.track(CartUpdated {
        product_id: "sku-1".into(),
        quantity: 2,
        cart_value: 19.9,
    });
}

fn main() {}
