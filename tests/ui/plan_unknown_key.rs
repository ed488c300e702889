trackplan::plan!("tests/ui/plans/unknown_key.toml");

fn main() {
    let _ = &PLAN;
}
