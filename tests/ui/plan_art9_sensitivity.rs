trackplan::plan!("tests/ui/plans/art9_sensitivity.toml");

fn main() {
    let _ = &PLAN;
}
