//! Times `check` (parse + validate) on a synthetic plan of 1000 events × 10 properties.
//!
//! ```text
//! cargo run --release -p trackplan-model --example check_timing [EVENTS] [PROPERTIES]
//! ```
//!
//! Prints the plan size and the minimum and median of 30 runs. The macros' benchmark measures
//! parse + validate + generate; this isolates the model's share.

use std::fmt::Write as _;
use std::time::Instant;

use trackplan_model::{SourceFile, check};

/// A valid plan with `events` events of `properties` properties each: shared and inline
/// definitions, every type, personal data with transforms, one policy.
fn synthetic_plan(events: usize, properties: usize) -> String {
    let mut s = String::from(
        r#"[plan]
name = "synthetic"
version = 1

[purposes.analytics]
description = "Product analytics."
basis = "consent"
data_use = "analytics.reporting"

[purposes.ads]
description = "Advertising."
basis = "consent"
data_use = "marketing.advertising.third_party.targeted"

[destinations.warehouse]
kind = "ndjson"
purposes = ["analytics"]

[destinations.ads]
kind = "segment"
purposes = ["ads"]
third_party = true

[properties.tier]
type = "enum"
values = ["free", "pro", "enterprise"]
sensitivity = "internal"

[properties.email]
type = "string"
sensitivity = "personal"
category = "user.contact.email"
transform = "hmac"

"#,
    );
    for e in 0..events {
        let _ = writeln!(
            s,
            "[events.event_{e}]\nname = \"Event {e}\"\ndescription = \"Synthetic event {e}.\"\npurposes = [\"analytics\", \"ads\"]\n\n[events.event_{e}.properties]\ntier = {{}}\nemail = {{}}"
        );
        for p in 2..properties {
            let def = match p % 6 {
                0 => "type = \"string\", sensitivity = \"internal\", max_length = 64".to_owned(),
                1 => "type = \"integer\", sensitivity = \"public\", min = 0".to_owned(),
                2 => "type = \"number\", sensitivity = \"internal\", required = false".to_owned(),
                3 => "type = \"boolean\", sensitivity = \"public\"".to_owned(),
                4 => "type = \"timestamp\", sensitivity = \"internal\", transform = \"coarsen\", to = \"day\"".to_owned(),
                _ => format!("type = \"enum\", values = [\"a{p}\", \"b{p}\", \"c{p}\"], sensitivity = \"public\""),
            };
            let _ = writeln!(
                s,
                "prop_{p} = {{ name = \"Property {p}\", {def}, description = \"Property {p} of event {e}.\" }}"
            );
        }
        s.push('\n');
    }
    s.push_str(
        "[[policies]]\nname = \"no health data for marketing\"\ndeny = { categories = [\"user.health_and_medical\"], data_uses = [\"marketing\"] }\n",
    );
    s
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>());
    let events = args.next().and_then(Result::ok).unwrap_or(1000);
    let properties = args.next().and_then(Result::ok).unwrap_or(10);
    let src = SourceFile::new("synthetic.toml", synthetic_plan(events, properties));
    let first = check(&src);
    if first.has_errors() {
        eprintln!("{}", first.render(&src));
        std::process::exit(1);
    }
    let mut times: Vec<f64> = (0..30)
        .map(|_| {
            let start = Instant::now();
            let checked = check(&src);
            let elapsed = start.elapsed().as_secs_f64() * 1000.0;
            assert!(checked.plan.is_some());
            elapsed
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "check of {events} events x {properties} properties ({} KiB): min {:.1} ms, median {:.1} ms",
        src.text.len() / 1024,
        times[0],
        times[times.len() / 2]
    );
}
