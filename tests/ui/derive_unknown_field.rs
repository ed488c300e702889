#[derive(trackplan::Event)]
#[trackplan(event = "signup_completed", plan = "plans/shop.toml")]
struct Signup {
    plan_tier: Tier,
    referer: Option<String>,
    age: trackplan::Personal<u8>,
    newsletter: bool,
}

#[derive(trackplan::Values)]
#[trackplan(property = "plan_tier", plan = "plans/shop.toml")]
enum Tier {
    Free,
    Pro,
    Enterprise,
}

fn main() {}
