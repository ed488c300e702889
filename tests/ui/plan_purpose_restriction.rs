trackplan::plan!("tests/ui/plans/purpose_restriction.toml");

fn main() {
    let _ = &PLAN;
}
