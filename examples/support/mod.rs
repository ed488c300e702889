//! What the destination examples (`mixpanel`, `amplitude`, `posthog`) do alike: run offline
//! without a credential, pick the HMAC key, list what the plan routes to the destination, and
//! print its delivery counts. Each example includes it with `mod support;` and still builds
//! and runs on its own (`cargo run --example <name> --features …`).

use std::error::Error;
use std::process::ExitCode;

use trackplan::Key;
use trackplan::info::{DestinationInfo, PlanInfo, TransformInfo};
use trackplan::stats::Counts;

/// Runs an example: without the credential in the environment variable `variable`, only
/// `explain` (no network, success); with it, `send`, whose error is printed and fails the
/// exit code.
pub fn run(
    variable: &str,
    explain: fn(),
    send: fn(&str) -> Result<(), Box<dyn Error>>,
) -> ExitCode {
    let Ok(credential) = std::env::var(variable) else {
        explain();
        return ExitCode::SUCCESS;
    };
    match send(&credential) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The key distinct ids are HMACs under: `TRACKPLAN_KEY`, or a fixed demo key (said so).
pub fn key() -> Result<Key, Box<dyn Error>> {
    match Key::from_env("TRACKPLAN_KEY") {
        Ok(key) => Ok(key),
        Err(_) => {
            println!("TRACKPLAN_KEY is not set: pseudonymizing with a fixed demo key.");
            Ok(Key::from_hex(&"5a".repeat(32))?)
        }
    }
}

/// The plan's first destination of this kind, with its position.
pub fn destination_of_kind(
    plan: &'static PlanInfo,
    kind: &str,
) -> Option<(usize, &'static DestinationInfo)> {
    plan.destinations
        .iter()
        .enumerate()
        .find(|(_, d)| d.kind == kind)
}

/// Lists the events the plan routes to destination `d` (`info`), one a line, each with the
/// properties a third party does not get.
pub fn print_routed_events(plan: &PlanInfo, d: usize, info: &DestinationInfo) {
    for event in plan.events.iter().filter(|e| e.destinations.contains(d)) {
        let withheld: Vec<&str> = event
            .properties
            .iter()
            .filter(|p| info.third_party && p.transform == TransformInfo::Redact)
            .map(|p| p.name)
            .collect();
        let note = if withheld.is_empty() {
            String::new()
        } else {
            format!(" (without {}: first party only)", withheld.join(", "))
        };
        println!("  - {}{note}", event.name);
    }
}

/// Prints a destination's delivery counts under the heading `title`.
pub fn print_counts(title: &str, counts: &Counts) {
    println!("\n{title}:");
    println!("  routed by the plan:      {}", counts.accepted);
    println!("  delivered:               {}", counts.delivered);
    println!("  dropped (no consent):    {}", counts.dropped_consent);
    println!("  failed:                  {}", counts.failed);
    println!("  retried deliveries:      {}", counts.retried);
}
