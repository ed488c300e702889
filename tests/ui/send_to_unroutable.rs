trackplan::plan!("plans/shop.toml");

fn record(user: &trackplan::Subject) {
    let event = CartUpdated {
        product_id: "sku-1".into(),
        quantity: 2,
        cart_value: 19.9,
    };
    // The ads destination uses data for advertising; carts are collected for product analytics.
    user.send_to::<destination::Ads>(event);
}

fn main() {}
