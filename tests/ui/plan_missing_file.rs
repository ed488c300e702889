trackplan::plan!("plans/shopp.toml");

fn main() {
    let _ = &PLAN;
}
