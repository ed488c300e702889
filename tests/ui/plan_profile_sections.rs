// Plan errors in [traits] and [context]: each names the file, line and column, and a fix.
trackplan::plan!("tests/ui/plans/profile_sections.toml");

fn main() {
    let _ = &PLAN;
}
