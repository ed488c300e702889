trackplan::plan!("/home/alice/shop/plans/shop.toml");

fn main() {
    let _ = &PLAN;
}
