#[derive(trackplan::Event)]
#[trackplan(event = "password_reset_requested", plan = "plans/shop.toml")]
struct PasswordReset {
    email: String,
    ip_address: trackplan::Personal<String>,
}

fn main() {}
