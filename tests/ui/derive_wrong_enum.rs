#[derive(trackplan::Event)]
#[trackplan(event = "login_failed", plan = "plans/shop.toml")]
struct LoginFailed<'a> {
    email: trackplan::Personal<&'a str>,
    ip_address: trackplan::Personal<&'a str>,
    attempt: u8,
    reason: Tier,
}

#[derive(trackplan::Values)]
#[trackplan(property = "plan_tier", plan = "plans/shop.toml")]
enum Tier {
    Free,
    Pro,
    Enterprise,
}

fn main() {}
