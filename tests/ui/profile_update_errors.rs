// Mistakes with a profile update: a trait the plan does not declare, a value of the wrong
// type, and `add` on a string trait (only integer and number traits have `add_…`).
trackplan::plan!("plans/shop.toml");

fn main() {
    let _ = Profile::new().set_nickname("Sam");
    let _ = Profile::new().set_order_count("three");
    let _ = Profile::new().add_email(1);
}
