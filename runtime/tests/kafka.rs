//! `sinks::Kafka` against a real Kafka-protocol broker (Tansu, started by each test on a free
//! loopback port; see `support/broker.rs`): the record's bytes, delivery through a broker
//! restart, a broker refusing connections and an application killed with SIGKILL, and the
//! data subject's rights (tombstones, read-back).
//!
//! The shop plan's `support_desk` destination (kind `custom`, first party) receives the
//! Kafka sink here; `Support Ticket Opened` carries the event's index as `Order Count`.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;
mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{SupportTicketOpened, Topic};
use support::broker::{Broker, Record};
use trackplan_runtime::config::RetryPolicy;
use trackplan_runtime::requests::{Access, Erasure};
use trackplan_runtime::sinks::Kafka;
use trackplan_runtime::sinks::kafka::ERASURE_LIMITS;
use trackplan_runtime::{Consent, Subject, Tracker};

const TOPIC: &str = "support-events";

/// A Kafka sink for tests: short timeouts so outages go through the retry paths quickly, and
/// retries without end so an outage never fails an event.
fn sink(broker: &str) -> Kafka {
    Kafka::new(broker, TOPIC)
        .delivery_timeout(Duration::from_secs(2))
        .retry_policy(RetryPolicy {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            max_retries: 1_000_000,
        })
}

fn tracker(broker: &str, spool: Option<&Path>) -> Tracker {
    common::support_desk_tracker(sink(broker), spool)
}

fn ticket(i: usize) -> SupportTicketOpened {
    SupportTicketOpened {
        topic: Topic::Refund,
        order_count: i as i64,
    }
}

/// Customers whose tickets the tests track, round robin: several keys over several
/// partitions.
fn customers(tracker: &Tracker) -> Vec<Subject> {
    (0..5)
        .map(|c| tracker.subject(&format!("customer-{c}"), Consent::none()))
        .collect()
}

fn track_range(customers: &[Subject], range: std::ops::Range<usize>) {
    for i in range {
        customers[i % customers.len()].track(ticket(i));
    }
}

/// Index (`Order Count`) of a record.
fn index(r: &Record) -> usize {
    r.json()["properties"]["Order Count"]
        .as_u64()
        .unwrap_or_else(|| panic!("no Order Count in {}", r.text())) as usize
}

/// Asserts every index in `0..n` is on the topic exactly once, with one insert id each, and
/// each customer's records in the order they were tracked.
fn assert_exactly_once_in_order(records: &[Record], n: usize) {
    let mut seen: HashMap<usize, usize> = HashMap::new();
    let mut ids = HashSet::new();
    for r in records {
        *seen.entry(index(r)).or_default() += 1;
        assert!(ids.insert(r.insert_id()), "insert id twice: {}", r.text());
    }
    let missing: Vec<usize> = (0..n).filter(|i| !seen.contains_key(i)).collect();
    let twice: Vec<usize> = seen
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(i, _)| *i)
        .collect();
    assert!(
        missing.is_empty() && twice.is_empty() && seen.len() == n,
        "{} of {n} events missing (first: {:?}), {} twice (first: {:?}), {} records",
        missing.len(),
        missing.first(),
        twice.len(),
        twice.first(),
        records.len()
    );
    // Per key, offsets follow the tracking order.
    let mut last: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for r in records {
        let key = r.key.clone().unwrap_or_default();
        let i = index(r);
        if let Some(prev) = last.insert(key, i) {
            assert!(prev < i, "a customer's record {i} came after {prev}");
        }
    }
}

#[test]
fn the_record_carries_the_pseudonymous_key_the_plan_headers_and_the_ndjson_value() {
    let mut broker = Broker::start();
    broker.create_topic(TOPIC, 3);
    let tracker = tracker(&broker.address(), None);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    tracker
        .subject("customer-42", Consent::none())
        .track(ticket(7));
    tracker.flush().unwrap_or_else(|e| panic!("flush: {e}"));

    let records = broker.read_all(TOPIC);
    assert_eq!(records.len(), 1, "{records:?}");
    let r = &records[0];
    let distinct_id = tracker.distinct_id("customer-42");
    assert_eq!(r.key.as_deref(), Some(distinct_id.as_bytes()));
    assert_eq!(
        r.headers,
        [
            ("trackplan-plan".to_owned(), Some(b"shop@3".to_vec())),
            (
                "trackplan-plan-hash".to_owned(),
                Some(common::PLAN.hash.as_bytes().to_vec())
            ),
            (
                "trackplan-purposes".to_owned(),
                Some(b"customer_support".to_vec())
            ),
            ("trackplan-kind".to_owned(), Some(b"track".to_vec())),
        ]
    );
    // The value is the NDJSON record, byte for byte; its time and insert id are the event's.
    let v = r.json();
    let time = v["time"].as_i64().unwrap_or_else(|| panic!("no time"));
    let insert_id = r.insert_id();
    assert!(
        time >= before - 1000,
        "time {time} before the test {before}"
    );
    assert_eq!(
        r.timestamp,
        Some(time),
        "the record's timestamp is the event's time"
    );
    assert!(
        insert_id.len() == 36
            && insert_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b'-'),
        "{insert_id}"
    );
    assert_eq!(
        r.text(),
        format!(
            r#"{{"type":"track","event":"Support Ticket Opened","time":{time},"insert_id":"{insert_id}","distinct_id":"{distinct_id}","plan":"shop@3","purposes":["customer_support"],"properties":{{"Topic":"refund","Order Count":7}}}}"#
        )
    );
    assert!(!r.text().contains("customer-42"));
}

#[test]
fn a_broker_restarted_mid_stream_gets_every_event_exactly_once() {
    let mut broker = Broker::start();
    broker.create_topic(TOPIC, 3);
    let tracker = tracker(&broker.address(), None);
    let customers = customers(&tracker);

    track_range(&customers, 0..2000);
    tracker.flush().unwrap_or_else(|e| panic!("flush: {e}"));
    // The memory storage forgets what it held: read it before the restart.
    let mut records = broker.read_all(TOPIC);
    assert_eq!(records.len(), 2000);

    // The broker stops answering while the next events are on their way, then dies with
    // their requests unanswered, and a new broker starts on the same port.
    broker.freeze();
    track_range(&customers, 2000..4000);
    std::thread::sleep(Duration::from_millis(500));
    broker.kill();
    std::thread::sleep(Duration::from_millis(500));
    broker.start_again();
    let report = tracker.flush().unwrap_or_else(|e| panic!("flush: {e}"));
    records.extend(broker.read_all(TOPIC));

    assert_exactly_once_in_order(&records, 4000);
    let stats = tracker.stats();
    let d = stats
        .destination("support_desk")
        .unwrap_or_else(|| panic!("no stats"));
    assert_eq!((d.delivered, d.failed), (4000, 0), "{report:?}");
}

#[test]
fn a_broker_refusing_connections_for_a_while_gets_every_event_exactly_once() {
    let mut broker = Broker::start();
    broker.create_topic(TOPIC, 3);
    let tracker = tracker(&broker.address(), None);
    let customers = customers(&tracker);

    track_range(&customers, 0..1000);
    tracker.flush().unwrap_or_else(|e| panic!("flush: {e}"));
    let mut records = broker.read_all(TOPIC);

    // Down for longer than the sink's delivery timeout (2 s): librdkafka gives the records
    // back as timed out and the worker retries the batches.
    broker.kill();
    track_range(&customers, 1000..3000);
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        std::net::TcpStream::connect(broker.address()).is_err(),
        "the port should refuse connections"
    );
    broker.start_again();
    tracker.flush().unwrap_or_else(|e| panic!("flush: {e}"));
    records.extend(broker.read_all(TOPIC));

    assert_exactly_once_in_order(&records, 3000);
    let stats = tracker.stats();
    let d = stats
        .destination("support_desk")
        .unwrap_or_else(|| panic!("no stats"));
    assert_eq!((d.delivered, d.failed), (3000, 0));
    assert!(d.retried > 0, "the outage should have been retried: {d:?}");
}

const SPOOL_ENV: &str = "TRACKPLAN_KAFKA_CHILD_SPOOL";
const BROKER_ENV: &str = "TRACKPLAN_KAFKA_CHILD_BROKER";
/// Events the parent waits to see accepted before it kills the child.
const KILL_AFTER: usize = 3000;

/// The child's side of the SIGKILL test: track until killed, reporting each accepted index.
#[test]
#[ignore = "run by an_app_killed_with_sigkill_loses_no_accepted_event as its child process"]
fn kafka_child() {
    let (Ok(spool), Ok(broker)) = (std::env::var(SPOOL_ENV), std::env::var(BROKER_ENV)) else {
        return;
    };
    let tracker = tracker(&broker, Some(Path::new(&spool)));
    let customers = customers(&tracker);
    let mut out = std::io::stdout().lock();
    for i in 0..1_000_000 {
        customers[i % customers.len()].track(ticket(i));
        // Accepted: `track` returned. Reported right away, before the next event.
        if writeln!(out, "accepted {i}")
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn an_app_killed_with_sigkill_loses_no_accepted_event() {
    let mut broker = Broker::start();
    broker.create_topic(TOPIC, 3);
    let dir = TempDir(std::env::temp_dir().join(format!("trackplan-kafka-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);

    let mut child = Command::new(std::env::current_exe().unwrap_or_else(|e| panic!("{e}")))
        .args([
            "kafka_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SPOOL_ENV, &dir.0)
        .env(BROKER_ENV, broker.address())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start the child: {e}"));
    let stdout = child
        .stdout
        .take()
        .unwrap_or_else(|| panic!("child stdout"));
    let mut accepted = HashSet::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Some(i) = line
            .strip_prefix("accepted ")
            .and_then(|i| i.parse::<usize>().ok())
        {
            accepted.insert(i);
            if accepted.len() == KILL_AFTER {
                // SIGKILL: no destructor, no flush, no settling.
                child.kill().unwrap_or_else(|e| panic!("kill: {e}"));
                break;
            }
        }
    }
    let _ = child.wait();
    assert_eq!(accepted.len(), KILL_AFTER, "the child stopped early");

    // A restart on the same spool delivers what the child had not.
    let tracker = tracker(&broker.address(), Some(&dir.0));
    tracker
        .flush()
        .unwrap_or_else(|e| panic!("flush after the restart: {e}"));
    let replayed = tracker
        .stats()
        .destination("support_desk")
        .map_or(0, |d| d.delivered);
    assert!(
        replayed > 0,
        "the restart replayed nothing: the child was killed too late"
    );
    let records = broker.read_all(TOPIC);

    // At least once on the topic, with one insert id per event: the replay keeps the ids, so
    // a consumer that drops repeated insert ids stores each accepted event exactly once.
    let mut by_index: HashMap<usize, HashSet<String>> = HashMap::new();
    for r in &records {
        by_index.entry(index(r)).or_default().insert(r.insert_id());
    }
    let missing: Vec<&usize> = accepted
        .iter()
        .filter(|i| !by_index.contains_key(i))
        .collect();
    assert!(missing.is_empty(), "{} accepted events lost", missing.len());
    for (i, ids) in &by_index {
        assert_eq!(ids.len(), 1, "event {i} has several insert ids: {ids:?}");
    }
}

#[test]
fn forget_writes_a_tombstone_and_request_access_reads_the_records_back() {
    let mut broker = Broker::start();
    broker.create_topic(TOPIC, 3);
    let tracker = tracker(&broker.address(), None);
    let alice = tracker.subject("alice", Consent::none());
    let bob = tracker.subject("bob", Consent::none());
    for i in 0..6 {
        if i % 2 == 0 { &alice } else { &bob }.track(ticket(i));
    }
    tracker.flush().unwrap_or_else(|e| panic!("flush: {e}"));
    let alice_id = tracker.distinct_id("alice");

    // Read first: the harness waits until the broker's end offsets hold still.
    let on_topic: Vec<String> = broker
        .read_all(TOPIC)
        .into_iter()
        .filter(|r| r.key.as_deref() == Some(alice_id.as_bytes()))
        .map(|r| r.text())
        .collect();
    let access = tracker
        .request_access("alice")
        .unwrap_or_else(|e| panic!("access: {e}"));
    let Some(Access::Records { records, source }) = access.destination("support_desk") else {
        panic!("{access:?}");
    };
    assert_eq!(source.as_deref(), Some("Kafka topic support-events"));
    assert_eq!(records, &on_topic);
    let indices: Vec<u64> = records
        .iter()
        .map(|r| {
            serde_json::from_str::<serde_json::Value>(r).unwrap_or_else(|e| panic!("{e}"))
                ["properties"]["Order Count"]
                .as_u64()
                .unwrap_or(99)
        })
        .collect();
    assert_eq!(indices, [0, 2, 4]);

    let report = tracker
        .forget("alice")
        .unwrap_or_else(|e| panic!("forget: {e}"));
    let erasure = report
        .destinations
        .iter()
        .find(|(d, _)| *d == "support_desk")
        .map(|(_, e)| e.clone());
    let Some(Erasure::Requested {
        reference: Some(reference),
    }) = erasure
    else {
        panic!("{report:?}");
    };
    assert!(
        reference.starts_with("tombstones on topic support-events at partition@offset "),
        "{reference}"
    );
    assert!(reference.ends_with(ERASURE_LIMITS), "{reference}");
    assert!(!reference.contains(&alice_id));

    let records = broker.read_all(TOPIC);
    let alices: Vec<&Record> = records
        .iter()
        .filter(|r| r.key.as_deref() == Some(alice_id.as_bytes()))
        .collect();
    let last = alices
        .last()
        .unwrap_or_else(|| panic!("no record of alice"));
    assert_eq!(
        last.value, None,
        "the last record of the key is a tombstone"
    );
    assert_eq!(alices.len(), 4, "three events and the tombstone");
    let bobs = records
        .iter()
        .filter(|r| r.key.as_deref() == Some(tracker.distinct_id("bob").as_bytes()))
        .filter(|r| r.value.is_some())
        .count();
    assert_eq!(bobs, 3, "bob's records are untouched");
}
