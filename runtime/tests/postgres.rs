//! The PostgreSQL warehouse (`sinks::Postgres`) against a real server the test starts
//! (`support/postgres.rs`): the rows as written, exactly once per insert id across retries, a
//! restarted server, a server refusing connections for a while and a process killed with
//! SIGKILL (with a spool); profiles, groups, joins and links; `forget`, `request_access` and
//! `prune` on the server.
//!
//! The fixture's `support_desk` destination (kind `custom`, purpose `customer_support`, kept
//! 730 days) is the warehouse here; `SupportTicketOpened`'s `order_count` numbers the events.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;
#[path = "support/postgres.rs"]
mod pg;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{SupportTicketOpened, Topic, destination, key};
use pg::PgServer;
use trackplan_runtime::config::{RetryPolicy, SinkDeclaration};
use trackplan_runtime::info::PurposeSet;
use trackplan_runtime::requests::{Access, Erasure};
use trackplan_runtime::retention::Pruned;
use trackplan_runtime::sinks::Postgres;
use trackplan_runtime::spool::Spool;
use trackplan_runtime::{
    Consent, Envelope, GroupRef, Message, Outcome, ProfileOp, Sink, Timestamp, Tracker,
};

/// Retries quickly and for long: the tests restart and stop the server.
fn patient() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(300),
        max_retries: 100_000,
    }
}

fn sink(server: &PgServer) -> Postgres {
    Postgres::new(&server.url())
        .expect("url")
        .retry_policy(patient())
}

/// A tracker whose only destination is the support desk, written to `server`.
fn tracker(server: &PgServer, spool: Option<&Path>) -> Tracker {
    common::support_desk_tracker(sink(server), spool)
}

fn ticket(i: i64) -> SupportTicketOpened {
    SupportTicketOpened {
        topic: Topic::Refund,
        order_count: i,
    }
}

fn count(client: &mut postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).expect(sql).get(0)
}

/// Every event numbered `0..n` is in `trackplan.events` exactly once.
fn assert_each_once(server: &PgServer, n: i64) {
    let mut c = server.client();
    let rows = count(&mut c, "SELECT count(*) FROM trackplan.events");
    let numbered = count(
        &mut c,
        "SELECT count(DISTINCT (properties->>'Order Count')::bigint) FROM trackplan.events",
    );
    let in_range = count(
        &mut c,
        &format!(
            "SELECT count(*) FROM trackplan.events \
             WHERE (properties->>'Order Count')::bigint BETWEEN 0 AND {}",
            n - 1
        ),
    );
    assert_eq!(
        (rows, numbered, in_range),
        (n, n, n),
        "rows, distinct events, events of 0..{n}"
    );
}

fn envelope(message: Message, event: &'static str, id: u32, time_ms: i64, props: &str) -> Envelope {
    Envelope {
        message,
        event,
        insert_id: format!("00000000-0000-4000-8000-{id:012}"),
        time_ms,
        distinct_id: Arc::from("k1:subject-a"),
        plan: &common::PLAN,
        purposes: PurposeSet::only(3),
        properties: Arc::from(props),
    }
}

#[test]
fn the_sink_declares_the_postgres_kind_first_party() {
    let sink = Postgres::new("postgresql://127.0.0.1/x").expect("url");
    assert_eq!(sink.declaration(), SinkDeclaration::first_party("postgres"));
    assert!(sink.declaration().fits("postgres", false));
    assert!(!sink.declaration().fits("ndjson", false));
}

#[test]
fn rows_are_the_envelopes_byte_for_byte() {
    let server = PgServer::start();
    let mut sink = sink(&server);
    // Every character COPY's text format or JSON escapes: backslashes, tabs, newlines, quotes,
    // non-ASCII, an escaped NUL-free control character.
    let tricky = r#"{"Topic":"a\\b\tc\nd \"q\" ü €","Order Count":7,"List":[1,2.5,true,null]}"#;
    let track = envelope(
        Message::TRACK,
        "Support Ticket Opened",
        1,
        1_795_911_124_123,
        tricky,
    );
    let groups: Arc<[GroupRef]> = Arc::from(vec![GroupRef {
        kind: "company",
        key: "company_id",
        id: Arc::from("\"acme\""),
    }]);
    let grouped = envelope(
        Message::Track {
            groups: Some(groups),
        },
        "Support Ticket Opened",
        2,
        1_795_911_124_999,
        "{}",
    );
    assert_eq!(sink.deliver(&[track, grouped]), Outcome::Delivered);

    let mut c = server.client();
    let rows = c
        .query(
            "SELECT insert_id, event, (extract(epoch FROM time) * 1000)::bigint, distinct_id, \
             plan, purposes::text, groups::text, properties::text, \
             properties = $1::text::jsonb FROM trackplan.events ORDER BY insert_id",
            &[&tricky],
        )
        .expect("select");
    assert_eq!(rows.len(), 2);
    let r = &rows[0];
    assert_eq!(
        r.get::<_, String>(0),
        "00000000-0000-4000-8000-000000000001"
    );
    assert_eq!(r.get::<_, String>(1), "Support Ticket Opened");
    assert_eq!(r.get::<_, i64>(2), 1_795_911_124_123);
    assert_eq!(r.get::<_, String>(3), "k1:subject-a");
    assert_eq!(r.get::<_, String>(4), "shop@3");
    assert_eq!(r.get::<_, String>(5), "{customer_support}");
    assert_eq!(r.get::<_, Option<String>>(6), None);
    // jsonb keeps the document, not its spacing or key order: its own text of the same value.
    assert_eq!(
        r.get::<_, String>(7),
        r#"{"List": [1, 2.5, true, null], "Topic": "a\\b\tc\nd \"q\" ü €", "Order Count": 7}"#
    );
    assert!(
        r.get::<_, bool>(8),
        "the stored properties equal the envelope's"
    );
    let g = &rows[1];
    assert_eq!(g.get::<_, i64>(2), 1_795_911_124_999);
    assert_eq!(
        g.get::<_, Option<String>>(6).as_deref(),
        Some(r#"[{"id": "acme", "key": "company_id", "kind": "company"}]"#)
    );
    assert_eq!(g.get::<_, String>(7), "{}");
}

#[test]
fn tracked_events_arrive_as_tracked_and_a_retried_batch_adds_nothing() {
    let server = PgServer::start();
    let tracker = tracker(&server, None);
    let subject = tracker.subject("user-42", Consent::none());
    let before = Timestamp::now().unix_millis();
    for i in 0..50 {
        subject.track(ticket(i));
    }
    tracker.flush().expect("flush");
    let after = Timestamp::now().unix_millis();
    assert_each_once(&server, 50);
    let mut c = server.client();
    let row = c
        .query_one(
            "SELECT event, distinct_id, plan, purposes::text, properties::text, \
             min((extract(epoch FROM time) * 1000)::bigint), \
             max((extract(epoch FROM time) * 1000)::bigint), count(DISTINCT insert_id) \
             FROM trackplan.events WHERE properties->>'Order Count' = '3' \
             GROUP BY 1, 2, 3, 4, 5",
            &[],
        )
        .expect("the event numbered 3");
    assert_eq!(row.get::<_, String>(0), "Support Ticket Opened");
    assert_eq!(row.get::<_, String>(1), tracker.distinct_id("user-42"));
    assert_eq!(row.get::<_, String>(2), "shop@3");
    assert_eq!(row.get::<_, String>(3), "{customer_support}");
    assert_eq!(
        row.get::<_, String>(4),
        r#"{"Topic": "refund", "Order Count": 3}"#
    );
    let (first, last) = (row.get::<_, i64>(5), row.get::<_, i64>(6));
    assert!(
        before - 20 <= first && last <= after + 20,
        "{before} {first} {last} {after}"
    );
    drop(tracker);

    // The same batch again (a commit whose answer was lost): no row twice.
    let mut again = sink(&server);
    let batch: Vec<Envelope> = (0..3)
        .map(|i| {
            envelope(
                Message::TRACK,
                "Support Ticket Opened",
                i,
                1,
                r#"{"Order Count":1}"#,
            )
        })
        .collect();
    assert_eq!(again.deliver(&batch), Outcome::Delivered);
    assert_eq!(again.deliver(&batch), Outcome::Delivered);
    assert_eq!(again.deliver(&batch[1..]), Outcome::Delivered);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM trackplan.events WHERE insert_id LIKE '00000000-%'"
        ),
        3
    );
}

#[test]
fn profiles_groups_joins_and_links_are_applied_once_each() {
    let server = PgServer::start();
    let mut sink = sink(&server);
    let profile = |op| Message::Profile { op };
    let acme = GroupRef {
        kind: "company",
        key: "company_id",
        id: Arc::from("\"acme\""),
    };
    let batch = vec![
        envelope(
            profile(ProfileOp::Set),
            "$profile",
            10,
            1000,
            r#"{"Name":"Ada","Visits":1,"Tags":["a"]}"#,
        ),
        envelope(
            profile(ProfileOp::SetOnce),
            "$profile",
            11,
            1001,
            r#"{"Name":"Bob","First Seen":"2026-01-01"}"#,
        ),
        envelope(
            profile(ProfileOp::Add),
            "$profile",
            12,
            1002,
            r#"{"Visits":2}"#,
        ),
        envelope(
            profile(ProfileOp::Add),
            "$profile",
            13,
            1003,
            r#"{"Visits":3}"#,
        ),
        envelope(
            profile(ProfileOp::Union),
            "$profile",
            14,
            1004,
            r#"{"Tags":["a","b","c"]}"#,
        ),
        envelope(
            profile(ProfileOp::Remove),
            "$profile",
            15,
            1005,
            r#"{"Tags":["b"]}"#,
        ),
        envelope(
            profile(ProfileOp::Set),
            "$profile",
            16,
            1006,
            r#"{"Gone":true}"#,
        ),
        envelope(
            profile(ProfileOp::Unset),
            "$profile",
            17,
            1007,
            r#"["Gone"]"#,
        ),
        envelope(
            Message::Group {
                group: acme.clone(),
                op: ProfileOp::Set,
            },
            "$group",
            18,
            1008,
            r#"{"Plan":"enterprise","Seats":10}"#,
        ),
        envelope(
            Message::Group {
                group: acme.clone(),
                op: ProfileOp::Add,
            },
            "$group",
            19,
            1009,
            r#"{"Seats":5}"#,
        ),
        envelope(
            Message::Join {
                group: acme.clone(),
            },
            "$join",
            20,
            1010,
            "{}",
        ),
        envelope(
            Message::Link {
                anonymous_id: Arc::from("anon-1"),
            },
            "$link",
            21,
            1011,
            "{}",
        ),
    ];
    assert_eq!(sink.deliver(&batch), Outcome::Delivered);
    // Delivered again (a retry after a lost answer): the adds and the union count once.
    assert_eq!(sink.deliver(&batch), Outcome::Delivered);

    let mut c = server.client();
    let traits: Vec<(String, String)> = c
        .query(
            "SELECT trait, value::text FROM trackplan.profiles WHERE distinct_id = 'k1:subject-a' \
             ORDER BY trait",
            &[],
        )
        .expect("profiles")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected = [
        ("First Seen", r#""2026-01-01""#),
        ("Name", r#""Ada""#),
        ("Tags", r#"["a", "c"]"#),
        ("Visits", "6"),
    ];
    let traits: Vec<(&str, &str)> = traits
        .iter()
        .map(|(t, v)| (t.as_str(), v.as_str()))
        .collect();
    assert_eq!(traits, expected);
    let group: Vec<(String, String, String)> = c
        .query(
            "SELECT group_id::text, trait, value::text FROM trackplan.groups \
             WHERE group_kind = 'company' ORDER BY trait",
            &[],
        )
        .expect("groups")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        group,
        [
            ("\"acme\"".into(), "Plan".into(), "\"enterprise\"".into()),
            ("\"acme\"".into(), "Seats".into(), "15".into())
        ]
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM trackplan.memberships WHERE distinct_id = 'k1:subject-a' AND group_id = '\"acme\"'"
        ),
        1
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM trackplan.links WHERE anonymous_id = 'anon-1' AND distinct_id = 'k1:subject-a'"
        ),
        1
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM trackplan.updates"), 12);
}

#[test]
fn a_row_the_server_refuses_fails_alone() {
    let server = PgServer::start();
    let mut sink = sink(&server);
    // jsonb refuses the NUL character; the other two rows are fine.
    let batch = vec![
        envelope(Message::TRACK, "E", 30, 1, r#"{"a":1}"#),
        envelope(Message::TRACK, "E", 31, 1, r#"{"a":"\u0000"}"#),
        envelope(Message::TRACK, "E", 32, 1, r#"{"a":3}"#),
    ];
    match sink.deliver(&batch) {
        Outcome::Partial { failed } => {
            assert_eq!(failed.len(), 1, "{failed:?}");
            assert_eq!(failed[0].0, 1);
            assert!(failed[0].1.starts_with("PostgreSQL 22"), "{}", failed[0].1);
        }
        other => panic!("expected one failed row, got {other:?}"),
    }
    let mut c = server.client();
    assert_eq!(count(&mut c, "SELECT count(*) FROM trackplan.events"), 2);
}

/// The sink's open connections, as the server lists them.
fn sessions(c: &mut postgres::Client) -> i64 {
    count(
        c,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'trackplan'",
    )
}

/// `n` tracked events numbered from `first` (`Order Count` and insert id).
fn tracks(first: u32, n: u32) -> Vec<Envelope> {
    (first..first + n)
        .map(|i| {
            envelope(
                Message::TRACK,
                "Support Ticket Opened",
                i,
                i64::from(i),
                &format!(r#"{{"Order Count":{i}}}"#),
            )
        })
        .collect()
}

#[test]
fn a_large_batch_goes_over_two_connections_exactly_once_with_its_updates_in_order() {
    let server = PgServer::start();
    let mut sink = sink(&server);
    let mut c = server.client();
    // 2000 events with profile updates among them, the last ones in the second half: an
    // update applied out of order would leave another plan or another count.
    let mut batch = tracks(0, 2000);
    let update = |id, op, props| envelope(Message::Profile { op }, "$profile", id, 5, props);
    batch.insert(10, update(90_001, ProfileOp::Set, r#"{"Plan":"free"}"#));
    batch.insert(700, update(90_002, ProfileOp::Add, r#"{"Visits":1}"#));
    batch.insert(1500, update(90_003, ProfileOp::Add, r#"{"Visits":2}"#));
    batch.insert(1990, update(90_004, ProfileOp::Set, r#"{"Plan":"pro"}"#));
    batch.push(update(90_005, ProfileOp::Unset, r#"["Visits"]"#));
    batch.push(update(90_006, ProfileOp::SetOnce, r#"{"Visits":7}"#));

    // The part an earlier attempt committed on the second connection (the last 1000 events;
    // the updates go with the first part): the whole batch then adds only what is missing.
    assert_eq!(sink.deliver(&tracks(1000, 1000)), Outcome::Delivered);
    assert_eq!(sink.deliver(&batch), Outcome::Delivered);
    assert_eq!(sessions(&mut c), 2, "the batch went over two connections");
    assert_each_once(&server, 2000);
    let traits = |c: &mut postgres::Client| -> Vec<(String, String)> {
        c.query(
            "SELECT trait, value::text FROM trackplan.profiles ORDER BY trait",
            &[],
        )
        .expect("profiles")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    let expected = vec![
        ("Plan".to_owned(), "\"pro\"".to_owned()),
        ("Visits".to_owned(), "7".to_owned()),
    ];
    assert_eq!(
        traits(&mut c),
        expected,
        "set, add, add, set, unset, set_once in order"
    );

    // The same batch again: nothing twice, no update applied twice.
    assert_eq!(sink.deliver(&batch), Outcome::Delivered);
    assert_each_once(&server, 2000);
    assert_eq!(traits(&mut c), expected);
    assert_eq!(count(&mut c, "SELECT count(*) FROM trackplan.updates"), 6);

    // One of the two connections dies between batches: the next batch is written once, after
    // at most a retry (the part on the live connection may have committed already).
    c.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'trackplan' ORDER BY backend_start LIMIT 1",
        &[],
    )
    .expect("terminate one session");
    let next = tracks(2000, 2000);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match sink.deliver(&next) {
            Outcome::Delivered => break,
            Outcome::Retry { .. } if attempts < 5 => {}
            other => panic!("attempt {attempts}: {other:?}"),
        }
    }
    assert_each_once(&server, 4000);
    // The terminated session leaves the list soon after its signal; give it generous time.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while sessions(&mut c) != 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sessions(&mut c), 2, "both connections open again");

    // A refused row in the second part fails alone.
    let mut refused = tracks(4000, 1200);
    refused[1100].properties = Arc::from(r#"{"Order Count":5100,"x":"\u0000"}"#);
    match sink.deliver(&refused) {
        Outcome::Partial { failed } => {
            assert_eq!(failed.len(), 1, "{failed:?}");
            assert_eq!(failed[0].0, 1100);
            assert!(failed[0].1.starts_with("PostgreSQL 22"), "{}", failed[0].1);
        }
        other => panic!("expected one failed row, got {other:?}"),
    }
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM trackplan.events"),
        4000 + 1199
    );

    // On one connection, the same batches are written the same way.
    let mut single = sink_with_one_connection(&server);
    assert_eq!(single.deliver(&tracks(6000, 2000)), Outcome::Delivered);
    assert_eq!(single.deliver(&tracks(6000, 2000)), Outcome::Delivered);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM trackplan.events"),
        4000 + 1199 + 2000
    );
}

#[test]
fn sinks_starting_together_on_an_empty_database_all_deliver() {
    let server = PgServer::start();
    // Four sinks (eight connections) create the tables at the same moment: a collision in the
    // catalog is at most a retry, never a failed batch.
    std::thread::scope(|s| {
        for k in 0..4u32 {
            let server = &server;
            s.spawn(move || {
                let mut sink = sink(server);
                let batch = tracks(k * 1200, 1200);
                for attempt in 1.. {
                    match sink.deliver(&batch) {
                        Outcome::Delivered => break,
                        Outcome::Retry { .. } if attempt < 20 => {
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        other => panic!("sink {k}, attempt {attempt}: {other:?}"),
                    }
                }
            });
        }
    });
    assert_each_once(&server, 4800);
}

fn sink_with_one_connection(server: &PgServer) -> Postgres {
    sink(server).connections(1)
}

#[test]
fn a_server_restarted_mid_stream_stores_every_event_once() {
    let server = PgServer::start();
    let tracker = tracker(&server, None);
    let n = 30_000;
    std::thread::scope(|s| {
        let subject = tracker.subject("user-restart", Consent::none());
        let producer = s.spawn(move || {
            for i in 0..n {
                subject.track(ticket(i));
                // About 3 s of events, so the restarts hit deliveries in flight.
                if i % 100 == 0 {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        });
        // Restarts while events stream in (a fast shutdown closes the sink's connection).
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(300));
            server.restart();
        }
        producer.join().expect("producer");
    });
    let report = tracker.flush().expect("flush");
    assert_eq!(
        report.destinations.iter().map(|d| d.1.failed).sum::<u64>(),
        0
    );
    let retried = tracker.stats().destinations[4].counts.retried;
    assert!(retried > 0, "the restarts interrupted no delivery");
    assert_each_once(&server, n);
}

#[test]
fn a_server_refusing_connections_for_a_while_loses_nothing() {
    let server = PgServer::start();
    let tracker = tracker(&server, None);
    let subject = tracker.subject("user-refused", Consent::none());
    for i in 0..2000 {
        subject.track(ticket(i));
    }
    tracker.flush().expect("flush before the outage");
    server.stop();
    // Connections are refused now: the sink's retries fail until the server is back.
    for i in 2000..6000 {
        subject.track(ticket(i));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let stats = tracker.stats();
    let health = &stats.destinations[4].health;
    assert!(health.consecutive_failures > 0, "{health:?}");
    server.start_again();
    tracker.flush().expect("flush after the outage");
    assert_each_once(&server, 6000);
}

const SPOOL_ENV: &str = "TRACKPLAN_PG_CHILD_SPOOL";
const URL_ENV: &str = "TRACKPLAN_PG_CHILD_URL";
const KILL_AFTER: usize = 3000;

/// The child's side of the SIGKILL test: track until killed, reporting each accepted number.
#[test]
#[ignore = "run by the SIGKILL test as its child process"]
fn postgres_crash_child() {
    let (Ok(spool), Ok(url)) = (std::env::var(SPOOL_ENV), std::env::var(URL_ENV)) else {
        return;
    };
    let tracker = Tracker::builder(&common::PLAN)
        .key(key())
        .sink(
            destination::SupportDesk,
            Postgres::new(&url).expect("url").retry_policy(patient()),
        )
        .skip(destination::Warehouse)
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .spool(Spool::open(&spool).expect("spool"))
        .max_delay(Duration::from_millis(5))
        .queue_capacity(1_000_000)
        .build()
        .expect("tracker");
    let subject = tracker.subject("user-crash", Consent::none());
    let mut out = std::io::stdout().lock();
    for i in 0..1_000_000 {
        subject.track(ticket(i));
        if writeln!(out, "accepted {i}")
            .and_then(|()| out.flush())
            .is_err()
        {
            break;
        }
    }
}

#[test]
fn a_process_killed_with_sigkill_loses_no_spooled_event_and_duplicates_none() {
    let server = PgServer::start();
    // The tables exist before the child runs, so what it wrote before the kill can be counted.
    let ddl = trackplan_runtime::sinks::postgres_ddl("trackplan").expect("ddl");
    server
        .client()
        .batch_execute(&ddl)
        .expect("create the tables");
    let spool = std::env::temp_dir().join(format!("trackplan-pg-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "postgres_crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SPOOL_ENV, &spool)
        .env(URL_ENV, server.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut accepted: HashSet<i64> = HashSet::new();
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        if let Some(i) = line.strip_prefix("accepted ").and_then(|i| i.parse().ok()) {
            accepted.insert(i);
            if accepted.len() == KILL_AFTER {
                break;
            }
        }
    }
    assert_eq!(accepted.len(), KILL_AFTER, "the child stopped early");
    child.kill().expect("SIGKILL");
    assert!(!child.wait().expect("reap").success());
    for line in lines.map_while(Result::ok) {
        if let Some(i) = line.strip_prefix("accepted ").and_then(|i| i.parse().ok()) {
            accepted.insert(i);
        }
    }
    // Some of the accepted events reached the server before the kill, the rest wait in the
    // spool, some maybe both (written, not yet settled).
    let mut c = server.client();
    let before_replay = count(&mut c, "SELECT count(*) FROM trackplan.events");

    let tracker = tracker(&server, Some(&spool));
    tracker.flush().expect("flush the replay");
    let stored: HashSet<i64> = c
        .query(
            "SELECT (properties->>'Order Count')::bigint FROM trackplan.events",
            &[],
        )
        .expect("select")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let rows = count(&mut c, "SELECT count(*) FROM trackplan.events");
    let missing: Vec<&i64> = accepted
        .iter()
        .filter(|i| !stored.contains(i))
        .take(5)
        .collect();
    assert!(missing.is_empty(), "accepted but not stored: {missing:?}…");
    assert_eq!(rows as usize, stored.len(), "an event was stored twice");
    assert!(rows as usize >= accepted.len());
    assert!(before_replay < rows || before_replay as usize >= accepted.len());
    drop(tracker);
    let _ = std::fs::remove_dir_all(&spool);
}

#[test]
fn forget_request_access_and_prune_reach_the_server() {
    let server = PgServer::start();
    let tracker = tracker(&server, None);
    let alice = tracker.subject("alice", Consent::none());
    let bob = tracker.subject("bob", Consent::none());
    for i in 0..5 {
        alice.track(ticket(i));
    }
    std::thread::sleep(Duration::from_millis(30));
    let boundary = Timestamp::now();
    std::thread::sleep(Duration::from_millis(30));
    for i in 5..8 {
        bob.track(ticket(i));
        alice.track(ticket(100 + i));
    }
    tracker.flush().expect("flush");
    let mut c = server.client();
    // Alice's profile in the same store, as a profile update would write it.
    let alice_id = tracker.distinct_id("alice");
    let mut direct = sink(&server);
    let mut update = envelope(
        Message::Profile { op: ProfileOp::Set },
        "$profile",
        40,
        boundary.unix_millis() + 1,
        r#"{"Name":"Alice"}"#,
    );
    update.distinct_id = Arc::from(alice_id.as_str());
    assert_eq!(direct.deliver(&[update]), Outcome::Delivered);

    let report = tracker.request_access("alice").expect("access");
    let Some(Access::Records { records, source }) = report.destination("support_desk") else {
        panic!("expected records: {report:?}");
    };
    assert_eq!(
        records.len(),
        5 + 3 + 1 + 1,
        "events, the update and the profile trait"
    );
    assert!(
        source.as_deref().is_some_and(|s| s.contains("trackplan")),
        "{source:?}"
    );
    let first: serde_json::Value = serde_json::from_str(&records[0]).expect("json");
    assert_eq!(first["table"], "events");
    assert_eq!(first["distinct_id"], alice_id.as_str());
    let mut numbers: Vec<i64> = records
        .iter()
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(r).ok())
        .filter(|r| r["table"] == "events")
        .filter_map(|r| r["properties"]["Order Count"].as_i64())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [0, 1, 2, 3, 4, 105, 106, 107]);
    assert!(records.iter().all(|r| r.contains(&alice_id)));
    assert_eq!(
        records
            .iter()
            .filter(|r| r.starts_with(r#"{"table": "profiles""#))
            .count(),
        1
    );

    // Prune as if 730 days (customer_support's retention) after `boundary`: the five early
    // events are older than the retention, everything later is kept.
    let days_730 = 730 * 86_400_000;
    let pruned = tracker
        .prune_at(Timestamp::from_unix_millis(
            boundary.unix_millis() + days_730,
        ))
        .expect("prune");
    assert_eq!(
        pruned.destination("support_desk"),
        Some(&Pruned::Removed {
            records: 5,
            before: boundary
        })
    );
    assert_eq!(
        pruned.destination("warehouse"),
        Some(&Pruned::NothingStored)
    );
    let left: Vec<i64> = c
        .query(
            "SELECT (properties->>'Order Count')::bigint FROM trackplan.events ORDER BY 1",
            &[],
        )
        .expect("select")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, [5, 6, 7, 105, 106, 107]);
    let older = format!(
        "SELECT count(*) FROM trackplan.events \
         WHERE time < timestamptz 'epoch' + {} * interval '1 millisecond'",
        boundary.unix_millis()
    );
    assert_eq!(count(&mut c, &older), 0);

    let forgotten = tracker.forget("alice").expect("forget");
    assert_eq!(forgotten.destinations[4], ("support_desk", Erasure::Erased));
    assert_eq!(
        count(
            &mut c,
            &format!("SELECT count(*) FROM trackplan.events WHERE distinct_id = '{alice_id}'")
        ),
        0
    );
    assert_eq!(
        count(
            &mut c,
            &format!("SELECT count(*) FROM trackplan.profiles WHERE distinct_id = '{alice_id}'")
        ),
        0
    );
    assert_eq!(
        count(
            &mut c,
            &format!("SELECT count(*) FROM trackplan.updates WHERE distinct_id = '{alice_id}'")
        ),
        0
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM trackplan.events"),
        3,
        "bob's stay"
    );
}
