// Mistakes with groups: a group kind the plan does not declare, and a key of the wrong type
// (the `company` key is a string).
trackplan::plan!("plans/shop.toml");

fn main() {
    let _ = Team::new("red");
    let _ = Company::new(42).set_seats(10);
}
