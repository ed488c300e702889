// No `[[policies]]` in the plan, and still health data for marketing does not compile.
trackplan::plan!("tests/ui/plans/baseline_policy.toml");

fn main() {
    let _ = &PLAN;
}
