#[derive(trackplan::Event)]
#[trackplan(event = "login_failed", plan = "plans/shop.toml")]
struct LoginFailed {
    email: u32,
    ip_address: trackplan::Personal<String>,
    attempt: u32,
    reason: Reason,
}

#[derive(trackplan::Values)]
#[trackplan(property = "login_failed.reason", plan = "plans/shop.toml")]
enum Reason {
    BadPassword,
    UnknownAccount,
    Locked,
}

fn main() {}
