trackplan::plan!("tests/ui/plans/personal_without_transform.toml");

fn main() {
    let _ = &PLAN;
}
