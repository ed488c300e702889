// Plan warnings are compiler warnings (denied here to show them).
#![deny(deprecated)]

trackplan::plan!("tests/ui/plans/unused_special_basis.toml");

fn main() {
    let _ = &PLAN;
}
