//! Prints a synthetic plan, or the serde baseline crate with the same structs.
//!
//! ```text
//! cargo run -p trackplan-codegen --example synth -- plan 1000 10 > plan.toml
//! cargo run -p trackplan-codegen --example synth -- serde 1000 10 > lib.rs
//! ```

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| {
        args.get(i)
            .map(|a| a.parse().unwrap_or_else(|_| panic!("not a number: {a}")))
            .unwrap_or(default)
    };
    let (events, properties) = (number(1, 1000), number(2, 10));
    match args.first().map(String::as_str) {
        Some("plan") | None => print!("{}", trackplan_codegen::synth::plan(events, properties)),
        Some("serde") => print!(
            "{}",
            trackplan_codegen::synth::serde_crate(events, properties)
        ),
        Some(other) => panic!("unknown mode {other}: expected `plan` or `serde`"),
    }
}
