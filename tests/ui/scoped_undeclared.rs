trackplan::plan!("plans/shop.toml");

// Stand-in for `tracker.scoped::<P>().track(event)`, with the same bound.
fn track_scoped<P: trackplan::Purpose, E: trackplan::DeclaredFor<P>>(_: E) {}

fn main() {
    let event = CartUpdated {
        product_id: "sku-1".into(),
        quantity: 2,
        cart_value: 19.9,
    };
    track_scoped::<purpose::Advertising, _>(event);
}
