#[derive(trackplan::Values)]
#[trackplan(property = "plan_tier", plan = "plans/shop.toml")]
enum Tier {
    Free,
    Professional,
    #[trackplan(rename = "Enterprise")]
    Business,
}

fn main() {}
