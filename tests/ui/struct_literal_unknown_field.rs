trackplan::plan!("plans/shop.toml");

fn main() {
    let _ = CartUpdated {
        product_id: "sku-1".into(),
        quantity: 2,
        cart_value: 19.9,
        coupon: "SPRING".into(),
    };
}
