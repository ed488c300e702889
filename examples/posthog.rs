//! `cargo run --example posthog --features posthog`: a small app's events, delivered to a real
//! PostHog project.
//!
//! Without `POSTHOG_API_KEY` it explains what it would send, and how, and exits without
//! touching the network. With it:
//!
//! ```text
//! POSTHOG_API_KEY=phc_… cargo run --example posthog --features posthog            # US Cloud
//! POSTHOG_API_KEY=phc_… POSTHOG_EU=1 cargo run --example posthog --features posthog
//! POSTHOG_API_KEY=phc_… POSTHOG_HOST=https://posthog.example.com cargo run …     # self-hosted
//! POSTHOG_API_KEY=… POSTHOG_PERSONAL_API_KEY=phx_… POSTHOG_PROJECT_ID=12345 \
//!     cargo run --example posthog --features posthog -- --request-access --forget
//! ```
//!
//! Optional: `TRACKPLAN_KEY` (64 hex digits; a fixed demo key otherwise). The plan
//! (`examples/posthog.toml`) keeps a first-party copy under `target/posthog-example/`.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use trackplan::requests::{Access, Erasure};
use trackplan::sinks::{Ndjson, PostHog};
use trackplan::{Consent, Personal, Tracker};

mod support;

trackplan::plan!("examples/posthog.toml");

fn main() -> ExitCode {
    support::run("POSTHOG_API_KEY", explain, send)
}

/// What the example does, without a key: all from the plan, no network.
fn explain() {
    println!(
        "This example sends the events of plan {} to PostHog.\n",
        PLAN.label
    );
    println!("POSTHOG_API_KEY is not set, so nothing was sent. To run it for real:");
    println!("  1. In PostHog, open Project settings and copy the project API key (phc_…).");
    println!("  2. POSTHOG_API_KEY=<key> cargo run --example posthog --features posthog");
    println!("     Add POSTHOG_EU=1 for PostHog Cloud EU, or POSTHOG_HOST=<url> for your own");
    println!("     instance.");
    println!("  3. Look for the printed distinct id under People in PostHog.\n");
    let Some((d, info)) = support::destination_of_kind(&PLAN, "posthog") else {
        println!("(This plan has no PostHog destination.)");
        return;
    };
    println!(
        "Per the plan, destination `{}` ({}; a {}) receives, from people whose\n\
         consent covers {}:",
        info.id,
        info.description.trim_end_matches('.'),
        if info.third_party {
            "third party"
        } else {
            "first party"
        },
        PLAN.purpose_ids(info.purposes)
            .collect::<Vec<_>>()
            .join(", "),
    );
    support::print_routed_events(&PLAN, d, info);
    println!(
        "\nEach event goes to PostHog's capture API (/batch/, gzip) as\n  \
         {{\"event\":…,\"distinct_id\":\"<key id>:<HMAC of the user id>\",\"timestamp\":…,\n   \
         \"uuid\":\"<insert id>\",\"properties\":{{…}}}}\n\
         and the uuid makes a retried batch count once. Person updates become `$set` events\n\
         ($set, $set_once, $unset), groups `$groupidentify` and `$groups`, and linking an\n\
         anonymous visitor to an account `$identify` with `$anon_distinct_id`.\n\n\
         With POSTHOG_PERSONAL_API_KEY and POSTHOG_PROJECT_ID, `--request-access` reads the\n\
         demo user's person from PostHog's persons API and `--forget` deletes it with its\n\
         events (one call every 3 s, PostHog's rate limit), apart from the deliveries."
    );
}

fn send(api_key: &str) -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let wants = |flag: &str| args.iter().any(|a| a == flag);
    let key = support::key()?;

    let mut posthog = PostHog::new(api_key);
    let mut host = "US Cloud";
    if std::env::var("POSTHOG_EU").is_ok_and(|v| v == "1") {
        posthog = posthog.eu();
        host = "EU Cloud";
    }
    if let Ok(url) = std::env::var("POSTHOG_HOST") {
        posthog = posthog.base_url(url);
        host = "POSTHOG_HOST";
    }
    let personal = match (
        std::env::var("POSTHOG_PERSONAL_API_KEY"),
        std::env::var("POSTHOG_PROJECT_ID"),
    ) {
        (Ok(personal), Ok(project)) => {
            posthog = posthog.personal_api_key(personal, project);
            true
        }
        _ => false,
    };

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/posthog-example");
    std::fs::create_dir_all(&dir)?;
    let tracker = Tracker::builder(&PLAN)
        .key(key)
        .sink(destination::Posthog, posthog)
        .sink(
            destination::Warehouse,
            Ndjson::create(dir.join("warehouse.ndjson"))?,
        )
        .flush_timeout(Duration::from_secs(60))
        .build()?;

    let user = tracker.subject(
        "demo-user-1",
        Consent::none().grant(purpose::ProductAnalytics),
    );
    let declined = tracker.subject("demo-user-2", Consent::none().opt_out_all());
    for who in [&user, &declined] {
        who.track(PageViewed {
            url: "https://app.example/pricing?utm_source=newsletter".into(),
            ip_address: Personal::new("203.0.113.77".into()),
        });
        who.track(SignupCompleted {
            plan_tier: SignupCompletedPlanTier::Pro,
            age: Personal::new(34),
        });
        who.track(SearchPerformed {
            query: Personal::new("invoices".into()),
            result_count: 3,
        });
    }
    let flushed = tracker.flush();
    let stats = tracker.stats();
    let p = stats.destination("posthog").copied().unwrap_or_default();
    support::print_counts(&format!("PostHog ({host})"), &p);
    println!(
        "\nIn PostHog, demo-user-1 is distinct id\n  {}\n\
         demo-user-2 declined: none of their events left the process.",
        user.distinct_id()
    );
    if let Err(e) = flushed {
        return Err(format!("not every event was delivered: {e}").into());
    }

    if wants("--request-access") || wants("--forget") {
        if !personal {
            println!(
                "\n--request-access/--forget need POSTHOG_PERSONAL_API_KEY and \
                 POSTHOG_PROJECT_ID: skipped."
            );
        }
        if personal && wants("--request-access") {
            // PostHog ingests asynchronously: give it a moment to make the person.
            std::thread::sleep(Duration::from_secs(10));
            let report = tracker.request_access("demo-user-1")?;
            for (destination, answer) in &report.destinations {
                if let Access::Records { records, source } = answer {
                    println!(
                        "  {destination:<10} {} record(s) from {}",
                        records.len(),
                        source.as_deref().unwrap_or("memory")
                    );
                }
            }
        }
        if personal && wants("--forget") {
            let report = tracker.forget("demo-user-1")?;
            for (destination, answer) in &report.destinations {
                match answer {
                    Erasure::Requested { reference } => println!(
                        "  {destination:<10} {}",
                        reference.as_deref().unwrap_or("requested")
                    ),
                    other => println!("  {destination:<10} {other:?}"),
                }
            }
        }
    }
    tracker.shutdown()?;
    Ok(())
}
