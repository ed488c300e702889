//! `cargo run --example postgres --features postgres`: the events of `plans/warehouse.toml`
//! written to our own PostgreSQL warehouse, read back for a data subject, pruned by the plan's
//! retention and erased.
//!
//! Without `TRACKPLAN_POSTGRES_URL` it explains what it would do and how to start a local
//! server, and exits without connecting anywhere. With it:
//!
//! ```text
//! TRACKPLAN_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres \
//!     cargo run --example postgres --features postgres
//! ```
//!
//! Optional: `TRACKPLAN_KEY` (64 hex digits; a fixed demo key otherwise),
//! `TRACKPLAN_POSTGRES_SCHEMA` (default `trackplan_example`). The security log writes NDJSON
//! under `target/postgres-example/`; the Mixpanel destination is skipped.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use trackplan::requests::Access;
use trackplan::retention::Pruned;
use trackplan::sinks::{Ndjson, Postgres};
use trackplan::{Consent, Key, Tracker};

trackplan::plan!("plans/warehouse.toml");

const SCHEMA: &str = "trackplan_example";

fn main() -> ExitCode {
    let Ok(url) = std::env::var("TRACKPLAN_POSTGRES_URL") else {
        explain();
        return ExitCode::SUCCESS;
    };
    match run(&url) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the example does, without a server: all from the plan, no connection.
fn explain() {
    println!(
        "This example writes the events of plan {} to a PostgreSQL warehouse.\n",
        PLAN.label
    );
    println!("TRACKPLAN_POSTGRES_URL is not set, so nothing was written. To run it for real:");
    println!(
        "  1. Start a server, e.g. Debian's `postgresql` package (scripts/setup installs it),"
    );
    println!("     or a throwaway one: initdb -D /tmp/pg -A trust -U postgres &&");
    println!("     pg_ctl -D /tmp/pg -o '-c listen_addresses=127.0.0.1 -p 5432' start");
    println!("     (as the `postgres` user when you are root: runuser -u postgres -- …).");
    println!("  2. TRACKPLAN_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres \\");
    println!("       cargo run --example postgres --features postgres");
    println!(
        "  3. psql … -c 'SELECT * FROM {SCHEMA}.event_page_viewed' (the views come from\n\
         \x20    `trackplan schema --sql postgres plans/warehouse.toml --sql-schema {SCHEMA}`).\n"
    );
    for (d, info) in PLAN.destinations.iter().enumerate() {
        if info.kind != "postgres" {
            continue;
        }
        let days = trackplan::retention::retention_days(&PLAN, d)
            .map_or("no retention".to_owned(), |d| format!("{d} days"));
        println!(
            "Destination `{}` ({}) receives, from people whose consent covers its purposes ({}),\n\
             kept {days} (Tracker::prune deletes older rows):",
            info.id,
            info.description,
            PLAN.purpose_ids(info.purposes)
                .collect::<Vec<_>>()
                .join(", "),
        );
        for event in PLAN.events.iter().filter(|e| e.destinations.contains(d)) {
            println!("  - {}", event.name);
        }
    }
}

fn run(url: &str) -> Result<(), Box<dyn Error>> {
    let key = match Key::from_env("TRACKPLAN_KEY") {
        Ok(key) => key,
        Err(_) => {
            println!("TRACKPLAN_KEY is not set: pseudonymizing with a fixed demo key.");
            Key::from_hex(&"5a".repeat(32))?
        }
    };
    let schema = std::env::var("TRACKPLAN_POSTGRES_SCHEMA").unwrap_or_else(|_| SCHEMA.into());
    let warehouse = Postgres::new(url)?.schema(&schema)?;
    println!("Writing to {warehouse:?}");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/postgres-example");
    std::fs::create_dir_all(&dir)?;
    let tracker = Tracker::builder(&PLAN)
        .key(key)
        .sink(destination::Warehouse, warehouse)
        .sink(
            destination::SecurityLog,
            Ndjson::create(dir.join("security_log.ndjson"))?,
        )
        .skip(destination::Mixpanel)
        .build()?;

    let user = tracker.subject(
        "demo-user-1",
        Consent::none().grant(purpose::ProductAnalytics),
    );
    for (i, page) in ["/", "/products/42", "/checkout"].iter().enumerate() {
        user.track(PageViewed {
            url: format!("https://shop.example{page}?utm_source=demo"),
            load_ms: 120 + 30 * i as i64,
        });
    }
    user.track(OrderPlaced {
        revenue: 59.90,
        product_ids: vec!["42".into(), "7".into()],
        gift: false,
    });
    let report = tracker.flush()?;
    println!("{report:?}");
    println!("Distinct id of the demo user: {}", user.distinct_id());

    match tracker
        .request_access("demo-user-1")?
        .destination("warehouse")
    {
        Some(Access::Records { records, source }) => {
            println!("{} record(s) of the demo user in {source:?}", records.len())
        }
        other => println!("access: {other:?}"),
    }
    match tracker.prune()?.destination("warehouse") {
        Some(Pruned::Removed { records, before }) => println!(
            "pruned {records} row(s) tracked before {}",
            before.iso8601().as_str()
        ),
        other => println!("prune: {other:?}"),
    }
    if std::env::args().any(|a| a == "--forget") {
        let forgotten = tracker.forget("demo-user-1")?;
        println!("forget: {:?}", forgotten.destinations);
    } else {
        println!("Run again with `-- --forget` to erase the demo user's rows.");
    }
    tracker.shutdown()?;
    Ok(())
}
