//! `cargo run --features amplitude --example amplitude`: a note-taking app's events
//! (`examples/amplitude.toml`), delivered to a real Amplitude project.
//!
//! Without `AMPLITUDE_API_KEY` it explains what it would send and how to set it up, and exits
//! without touching the network. With it:
//!
//! ```text
//! AMPLITUDE_API_KEY=<project API key> cargo run --features amplitude --example amplitude
//! AMPLITUDE_API_KEY=… AMPLITUDE_US=1 cargo run --features amplitude --example amplitude   # a US project
//! AMPLITUDE_API_KEY=… AMPLITUDE_SECRET_KEY=… cargo run --features amplitude --example amplitude -- --forget
//! ```
//!
//! The plan says the project keeps its data in the EU, so the EU hosts are the default here.
//! Optional: `TRACKPLAN_KEY` (64 hex digits; a fixed demo key otherwise), `AMPLITUDE_API_URL`
//! (a proxy in front of Amplitude), `AMPLITUDE_SECRET_KEY` (for `--forget`, a User Privacy API
//! deletion request). The first-party NDJSON copy is written under `target/amplitude-example/`.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use trackplan::sinks::{Amplitude, Ndjson};
use trackplan::{Consent, Tracker};

mod support;

trackplan::plan!("examples/amplitude.toml");

fn main() -> ExitCode {
    support::run("AMPLITUDE_API_KEY", explain, send)
}

/// What the example does, without an API key: all from the plan, no network.
fn explain() {
    println!(
        "This example sends the events of plan {} to Amplitude.\n",
        PLAN.label
    );
    println!("AMPLITUDE_API_KEY is not set, so nothing was sent. To run it for real:");
    println!("  1. In Amplitude, open Settings → Projects → your project and copy its API key.");
    println!("  2. AMPLITUDE_API_KEY=<key> cargo run --features amplitude --example amplitude");
    println!("     Add AMPLITUDE_US=1 if the project is not in Amplitude's EU data center.");
    println!("  3. Look for the printed user id in Amplitude's User Look-Up.\n");
    let Some((d, info)) = support::destination_of_kind(&PLAN, "amplitude") else {
        println!("(This plan has no Amplitude destination.)");
        return;
    };
    let purposes: Vec<&str> = PLAN.purpose_ids(info.purposes).collect();
    println!(
        "Per the plan, destination `{}` — {} — receives only events whose purposes include\n\
         {}, and only from people whose consent covers it:",
        info.id,
        info.description,
        purposes.join(", "),
    );
    support::print_routed_events(&PLAN, d, info);
    println!(
        "\nEach event goes to Amplitude's HTTP V2 API as an Amplitude event: `event_type` is the\n\
         event's name, `user_id` the HMAC of the user id under your key (TRACKPLAN_KEY),\n\
         `insert_id` a UUID that Amplitude deduplicates retries by, `event_properties` what the\n\
         plan allows (e-mail addresses as HMACs too). If Amplitude throttles one user, only that\n\
         user's events wait. With AMPLITUDE_SECRET_KEY, `--forget` files a User Privacy API\n\
         deletion request for the demo user and prints the day Amplitude scheduled it for."
    );
}

fn send(api_key: &str) -> Result<(), Box<dyn Error>> {
    let forget = std::env::args().skip(1).any(|a| a == "--forget");
    let key = support::key()?;
    let mut amplitude = Amplitude::new(api_key);
    let mut region = "US";
    if !std::env::var("AMPLITUDE_US").is_ok_and(|v| v == "1") {
        amplitude = amplitude.eu();
        region = "EU";
    }
    if let Ok(url) = std::env::var("AMPLITUDE_API_URL") {
        amplitude = amplitude.base_url(url);
        region = "custom URL";
    }
    let secret = std::env::var("AMPLITUDE_SECRET_KEY").ok();
    if let Some(secret) = &secret {
        amplitude = amplitude
            .secret_key(secret)
            .requester("amplitude-example@notes.example");
    }

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/amplitude-example");
    std::fs::create_dir_all(&dir)?;
    let tracker = Tracker::builder(&PLAN)
        .key(key)
        .sink(destination::Amplitude, amplitude)
        .sink(
            destination::Warehouse,
            Ndjson::create(dir.join("warehouse.ndjson"))?,
        )
        .flush_timeout(Duration::from_secs(60))
        .build()?;

    // One writer who accepted product analytics, one who declined.
    let writer = tracker.subject(
        "demo-writer-1",
        Consent::none().grant(purpose::ProductAnalytics),
    );
    let declined = tracker.subject("demo-writer-2", Consent::none().opt_out_all());
    for user in [&writer, &declined] {
        user.track(NoteCreated {
            template: NoteCreatedTemplate::Meeting,
            word_count: 120,
        });
        user.track(NoteShared {
            recipient: "colleague@notes.example".to_string().into(),
            draft: Some("Agenda: the Q3 roadmap".to_string().into()),
        });
    }
    let flushed = tracker.flush();

    let stats = tracker.stats();
    let a = stats.destination("amplitude").copied().unwrap_or_default();
    support::print_counts(&format!("Amplitude ({region})"), &a);
    println!(
        "\nIn Amplitude, demo-writer-1 is user id\n  {}\n\
         demo-writer-2 declined: none of their events left the process.",
        writer.distinct_id()
    );
    println!(
        "First-party copy (with the draft text, which Amplitude does not get): {}",
        dir.display()
    );
    if let Err(e) = flushed {
        return Err(format!("not every event was delivered: {e}").into());
    }
    if a.failed > 0 {
        return Err(
            "Amplitude rejected events: check the API key and the region (AMPLITUDE_US=1 for US \
             projects); the warnings above name the HTTP status"
                .into(),
        );
    }
    if forget {
        if secret.is_none() {
            println!("\n--forget needs AMPLITUDE_SECRET_KEY: skipped.");
        } else {
            let report = tracker.forget("demo-writer-1")?;
            println!("\nforget(\"demo-writer-1\"):");
            for (destination, answer) in &report.destinations {
                println!("  {destination:<12} {answer:?}");
            }
        }
    }
    tracker.shutdown()?;
    Ok(())
}
