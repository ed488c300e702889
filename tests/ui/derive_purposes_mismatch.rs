#[derive(trackplan::Event)]
#[trackplan(
    event = "cart_updated",
    purposes(product_analytics, advertising),
    plan = "plans/shop.toml"
)]
struct CartUpdated {
    product_id: String,
    quantity: u8,
    cart_value: f64,
}

fn main() {}
