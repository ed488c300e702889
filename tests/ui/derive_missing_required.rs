#[derive(trackplan::Event)]
#[trackplan(event = "cart_updated", plan = "plans/shop.toml")]
struct CartUpdated {
    product_id: String,
    quantity: u8,
}

fn main() {}
