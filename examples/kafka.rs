//! `cargo run --example kafka --features kafka`: the events of `examples/kafka.toml` on two
//! Kafka topics, then the data subject's rights on them.
//!
//! Without `KAFKA_BROKERS` it explains what it would send and how to start a local broker, and
//! exits without touching the network. With it:
//!
//! ```text
//! .venv/bin/tansu broker --listener-url tcp://127.0.0.1:9092 \
//!     --advertised-listener-url tcp://127.0.0.1:9092 --storage-engine memory://tansu/ &
//! .venv/bin/tansu topic create stream.events --broker tcp://127.0.0.1:9092
//! .venv/bin/tansu topic create stream.tickets --broker tcp://127.0.0.1:9092
//! KAFKA_BROKERS=127.0.0.1:9092 cargo run --example kafka --features kafka
//! KAFKA_BROKERS=127.0.0.1:9092 cargo run --example kafka --features kafka -- --forget
//! ```
//!
//! Optional: `TRACKPLAN_KEY` (64 hex digits; a fixed demo key otherwise).

use std::error::Error;
use std::process::ExitCode;

use trackplan::requests::{Access, Erasure};
use trackplan::sinks::Kafka;
use trackplan::sinks::kafka::TopicConfig;
use trackplan::{Consent, Key, Tracker};

trackplan::plan!("examples/kafka.toml");

/// The topic of each Kafka destination of the plan.
const TOPICS: [(&str, &str); 2] = [("events", "stream.events"), ("tickets", "stream.tickets")];

fn main() -> ExitCode {
    let Ok(brokers) = std::env::var("KAFKA_BROKERS") else {
        explain();
        return ExitCode::SUCCESS;
    };
    let forget = std::env::args().any(|a| a == "--forget");
    match send(&brokers, forget) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the example does, without a broker: all from the plan, no network.
fn explain() {
    println!(
        "This example sends the events of plan {} to Kafka.\n",
        PLAN.label
    );
    for (destination, topic) in TOPICS {
        let config = TopicConfig::for_destination(&PLAN, destination);
        let retention = match config {
            Some(c) if c.retention_ms.is_some() => format!("set {c} on it (from the plan)"),
            _ => "the plan sets no retention for it".to_owned(),
        };
        println!("  destination `{destination}` → topic {topic}: {retention}");
    }
    println!("\nKAFKA_BROKERS is not set, so nothing was sent. To run it against a local broker:");
    println!("  1. scripts/setup   (installs the Tansu broker into .venv/bin/tansu)");
    println!(
        "  2. .venv/bin/tansu broker --listener-url tcp://127.0.0.1:9092 \
         --advertised-listener-url tcp://127.0.0.1:9092 --storage-engine memory://tansu/ &"
    );
    for (_, topic) in TOPICS {
        println!("     .venv/bin/tansu topic create {topic} --broker tcp://127.0.0.1:9092");
    }
    println!("  3. KAFKA_BROKERS=127.0.0.1:9092 cargo run --example kafka --features kafka");
    println!("     Add `-- --forget` to write the subject's tombstones afterwards.");
}

fn send(brokers: &str, forget: bool) -> Result<(), Box<dyn Error>> {
    let key = match std::env::var("TRACKPLAN_KEY") {
        Ok(_) => Key::from_env("TRACKPLAN_KEY")?,
        Err(_) => Key::from_hex(&"5e".repeat(32))?,
    };
    let tracker = Tracker::builder(&PLAN)
        .key(key)
        .sink(destination::Events, Kafka::new(brokers, TOPICS[0].1))
        .sink(destination::Tickets, Kafka::new(brokers, TOPICS[1].1))
        .build()?;
    let visitor = tracker.subject("customer-1001", Consent::none().grant(purpose::Analytics));
    for path in ["/", "/pricing", "/signup"] {
        visitor.track(PageViewed { path: path.into() });
    }
    visitor.track(TicketOpened {
        topic: "billing".into(),
    });
    let report = tracker.flush()?;
    println!("{report:?}");
    println!(
        "The subject's records are keyed by its pseudonymous id {}.",
        visitor.distinct_id()
    );

    let access = tracker.request_access("customer-1001")?;
    for (destination, answer) in &access.destinations {
        if let Access::Records { records, source } = answer {
            println!(
                "{destination}: {} record(s) read back from {}",
                records.len(),
                source.as_deref().unwrap_or("?")
            );
        }
    }
    if forget {
        let report = tracker.forget("customer-1001")?;
        for (destination, answer) in &report.destinations {
            if let Erasure::Requested { reference: Some(r) } = answer {
                println!("{destination}: {r}");
            }
        }
    }
    tracker.shutdown()?;
    Ok(())
}
