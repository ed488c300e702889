trackplan::plan!("tests/ui/plans/special_without_consent.toml");

fn main() {
    let _ = &PLAN;
}
