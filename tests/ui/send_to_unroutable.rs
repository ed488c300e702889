trackplan::plan!("plans/shop.toml");

// Stand-in for `Tracker::send_to`, with the same bound.
fn send_to<D: trackplan::Destination, E: trackplan::RoutableTo<D>>(_: E) {}

fn main() {
    let event = CartUpdated {
        product_id: "sku-1".into(),
        quantity: 2,
        cart_value: 19.9,
    };
    send_to::<destination::Ads, _>(event);
}
