#[derive(trackplan::Event)]
#[trackplan(event = "signup_complete", plan = "plans/shop.toml")]
struct Signup {
    newsletter: bool,
}

fn main() {}
