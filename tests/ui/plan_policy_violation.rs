trackplan::plan!("tests/ui/plans/policy_violation.toml");

fn main() {
    let _ = &PLAN;
}
