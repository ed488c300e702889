trackplan::plan!("tests/ui/plans/toml_syntax.toml");

fn main() {
    let _ = &PLAN;
}
