//! Delivery throughput of the Mixpanel sink to a Mixpanel-compatible server on 127.0.0.1:
//! batches of 2000 events, gzip-compressed as in production, against two baselines measured in
//! the same run: the same batch sent uncompressed, and serializing the batch with serde_json
//! alone (no HTTP).
//!
//! `tracker_3_destinations`: the whole path (track, queue, worker, HTTP) with `ProductViewed`
//! routed to three Mixpanel-compatible destinations on 127.0.0.1 (one server each), against
//! `tracker_1_destination`, the same with two of them skipped: combined delivered events per
//! second, and the process's CPU time per delivered event (printed after each variant).
//!
//! `sink_cpu_per_event`: each sink delivering the same batches of 2000 events to that server,
//! in the same run: events per second (criterion's throughput) and the process's CPU time per
//! delivered event, printed after each variant with its ratio to the uncompressed Mixpanel
//! baseline. With `--features posthog` it includes the PostHog sink (gzip, as it ships, and
//! uncompressed), with `--features amplitude` the Amplitude sink.
//!
//! `cargo bench -p trackplan-runtime --features posthog,amplitude --bench delivery -- sink_cpu`
//!
//! With the `postgres` feature, `postgres_delivery_2000`: the PostgreSQL sink (binary `COPY`
//! into `events`) to a local server the bench starts with PostgreSQL's default durability, as
//! it ships (`copy`: each batch over two connections at once) and on one connection
//! (`copy_1_connection`), against a multi-row `INSERT … VALUES … ON CONFLICT` of the same rows
//! (the alternative the sink does not use), and `tracker_postgres`, the whole path; each
//! prints the CPU per event of this process and of the server's backends.
//!
//! `cargo bench -p trackplan-runtime --features http --bench delivery`
//! `cargo bench -p trackplan-runtime --features http,postgres --bench delivery`
//!
//! `kafka_delivery` (with the `kafka` feature): the Kafka sink producing the same batches
//! to a Tansu broker on 127.0.0.1 (started by the bench, as the tests do; `scripts/setup`
//! installs it), every batch waiting for all its delivery reports, in batches of 2000 and of
//! 5000 (the sink's default), against the uncompressed Mixpanel sink in the same group; events
//! per second and the process's CPU time per event (librdkafka's threads included; the broker
//! is another process) printed after each.
//! `cargo bench -p trackplan-runtime --features http,kafka --bench delivery -- kafka_delivery`

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use trackplan_runtime::sinks::Mixpanel;
use trackplan_runtime::{Envelope, Event, Outcome, Sink};

// The fixture plan is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

#[path = "../tests/fixture/mod.rs"]
mod fixture;

#[cfg(feature = "kafka")]
#[allow(dead_code)] // the bench uses the broker, not the tests' reader
#[path = "../tests/support/broker.rs"]
mod broker;

use fixture::shop::{CheckoutCompleted, PLAN};

const BATCH: usize = 2000;

/// `checkout_completed` of the fixture shop plan: six properties, ~200 bytes of JSON, in the
/// plan's property order.
fn batch(round: u64) -> Vec<Envelope> {
    batch_of(BATCH, round)
}

/// `n` events as [`batch`] makes them.
fn batch_of(n: usize, round: u64) -> Vec<Envelope> {
    let info = CheckoutCompleted::INFO;
    (0..n)
        .map(|i| Envelope {
            message: trackplan_runtime::Message::TRACK,
            event: info.name,
            insert_id: format!("{round:08x}-0000-4000-8000-{i:012x}"),
            time_ms: 1_700_000_000_000 + i as i64,
            distinct_id: format!("{:064x}", i * 7919).into(),
            plan: &PLAN,
            purposes: info.purposes,
            properties: format!(
                r#"{{"Revenue":{}.5,"Currency":"EUR","Item Count":{},"Product IDs":["sku-{}","sku-{}"],"Coupon Codes":["SPRING"],"Ordered At":"2023-11-14T00:00:00.000Z"}}"#,
                i % 500,
                i % 7 + 1,
                i % 97,
                i % 89
            )
            .into(),
        })
        .collect()
}

/// A Mixpanel-compatible endpoint that reads each request fully and answers 200 (it does not
/// decode: the measurement is the client's work and the loopback transfer).
struct Server {
    url: String,
    stop: Arc<AtomicBool>,
    server: Arc<tiny_http::Server>,
}

impl Server {
    fn start() -> Server {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (server.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut body = Vec::with_capacity(4 << 20);
            while !st.load(Ordering::Relaxed) {
                if let Ok(Some(mut request)) = s.recv_timeout(Duration::from_millis(50)) {
                    body.clear();
                    let _ = request.as_reader().read_to_end(&mut body);
                    let _ = request.respond(tiny_http::Response::from_string(
                        r#"{"code":200,"num_records_imported":2000,"status":"OK"}"#,
                    ));
                }
            }
        });
        Server {
            url: format!("http://127.0.0.1:{port}"),
            stop,
            server,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
    }
}

fn delivery(c: &mut Criterion) {
    let server = Server::start();
    let mut group = c.benchmark_group("mixpanel_delivery_2000");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(30);

    let mut round = 0u64;
    let mut next = move || {
        round += 1;
        batch(round)
    };

    let mut gzip = Mixpanel::new("token").base_url(&server.url);
    group.bench_function("gzip", |b| {
        b.iter_batched(
            &mut next,
            |events| assert_eq!(gzip.deliver(&events), Outcome::Delivered),
            BatchSize::PerIteration,
        )
    });

    let mut plain = Mixpanel::new("token").base_url(&server.url).gzip(false);
    group.bench_function("uncompressed", |b| {
        b.iter_batched(
            &mut next,
            |events| assert_eq!(plain.deliver(&events), Outcome::Delivered),
            BatchSize::PerIteration,
        )
    });

    // Baseline without HTTP: the same events through serde_json::Value, the way a naive
    // client would build the body.
    group.bench_function("serde_json_only", |b| {
        b.iter_batched(
            &mut next,
            |events| {
                let body: Vec<serde_json::Value> = events
                    .iter()
                    .map(|e| {
                        let mut properties: serde_json::Map<String, serde_json::Value> =
                            serde_json::from_str(&e.properties).expect("object");
                        properties.insert("time".into(), e.time_ms.into());
                        properties.insert("distinct_id".into(), (&*e.distinct_id).into());
                        properties.insert("$insert_id".into(), e.insert_id.clone().into());
                        serde_json::json!({"event": e.event, "properties": properties})
                    })
                    .collect();
                serde_json::to_vec(&body).expect("serializes")
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat` (Linux; `None`
/// elsewhere). Ticks of 10 ms: enough over a run of seconds.
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The Mixpanel sink as an undeclared custom sink, so one kind of server stands in for all
/// three destinations (the plan declares them `ndjson`, `mixpanel` and `segment`).
struct Relay(Mixpanel);

impl Sink for Relay {
    fn declaration(&self) -> trackplan_runtime::config::SinkDeclaration {
        // A stand-in for each of the plan's kinds: the Mixpanel sink's own declaration would
        // be refused for the NDJSON and Segment destinations.
        trackplan_runtime::config::SinkDeclaration::InProcess
    }

    fn limits(&self) -> trackplan_runtime::config::BatchLimits {
        Sink::limits(&self.0)
    }

    fn retry_policy(&self) -> trackplan_runtime::config::RetryPolicy {
        Sink::retry_policy(&self.0)
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        self.0.deliver(batch)
    }
}

/// Events tracked per measured iteration.
const TRACKED: u64 = 4000;

fn tracker_delivery(c: &mut Criterion) {
    use common::{destination, key, product, purpose};
    use trackplan_runtime::config::RetryPolicy;
    use trackplan_runtime::{Consent, Tracker};

    let servers = [Server::start(), Server::start(), Server::start()];
    let sink = |server: &Server| {
        Relay(
            Mixpanel::new("0123456789abcdef0123456789abcdef")
                .base_url(&server.url)
                .retry_policy(RetryPolicy::NEVER),
        )
    };
    let mut group = c.benchmark_group("tracker_delivery");
    group.sample_size(10);
    for destinations in [1u64, 3] {
        let mut builder = Tracker::builder(&common::PLAN)
            .key(key())
            .queue_capacity(100_000)
            .sink(destination::Warehouse, sink(&servers[0]))
            .skip(destination::SecurityLog)
            .skip(destination::SupportDesk);
        builder = if destinations == 3 {
            builder
                .sink(destination::Mixpanel, sink(&servers[1]))
                .sink(destination::Ads, sink(&servers[2]))
        } else {
            builder.skip(destination::Mixpanel).skip(destination::Ads)
        };
        let tracker = builder.build().expect("builds");
        let subject = tracker.subject(
            "user-1",
            Consent::none()
                .grant(purpose::ProductAnalytics)
                .grant(purpose::Advertising),
        );
        let name = format!(
            "tracker_{destinations}_destination{}",
            if destinations == 1 { "" } else { "s" }
        );
        group.throughput(Throughput::Elements(TRACKED * destinations));
        let mut cpu = Duration::ZERO;
        let mut delivered = 0u64;
        group.bench_function(&name, |b| {
            b.iter_custom(|iters| {
                let cpu_before = process_cpu();
                let started = std::time::Instant::now();
                for _ in 0..iters {
                    for _ in 0..TRACKED {
                        subject.track(product("sku-1"));
                    }
                    tracker.flush().expect("flushes");
                }
                let elapsed = started.elapsed();
                if let (Some(a), Some(b)) = (cpu_before, process_cpu()) {
                    cpu += b - a;
                    delivered += iters * TRACKED * destinations;
                }
                elapsed
            })
        });
        if delivered > 0 {
            eprintln!(
                "{name}: CPU per delivered event {:.0} ns ({delivered} events)",
                cpu.as_nanos() as f64 / delivered as f64
            );
        }
        let stats = tracker.stats();
        assert_eq!(stats.total.failed, 0, "no event failed");
    }
    group.finish();
}

/// Batches rotated through by `sink_cpu_per_event`, built before measuring.
const ROTATION: u64 = 8;

fn sink_cpu_per_event(c: &mut Criterion) {
    let server = Server::start();
    let batches: Vec<Vec<Envelope>> = (0..ROTATION).map(batch).collect();
    let mut sinks: Vec<(&str, Box<dyn Sink>)> = vec![
        (
            "mixpanel_uncompressed",
            Box::new(Mixpanel::new("token").base_url(&server.url).gzip(false)),
        ),
        (
            "mixpanel_gzip",
            Box::new(Mixpanel::new("token").base_url(&server.url)),
        ),
    ];
    #[cfg(feature = "posthog")]
    {
        use trackplan_runtime::sinks::PostHog;
        sinks.push((
            "posthog_gzip",
            Box::new(PostHog::new("phc_bench").base_url(&server.url)),
        ));
        sinks.push((
            "posthog_uncompressed",
            Box::new(PostHog::new("phc_bench").base_url(&server.url).gzip(false)),
        ));
    }
    #[cfg(feature = "amplitude")]
    sinks.push((
        "amplitude",
        Box::new(
            trackplan_runtime::sinks::Amplitude::new("0123456789abcdef0123456789abcdef")
                .base_url(&server.url),
        ),
    ));
    let mut group = c.benchmark_group("sink_cpu_per_event");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    let mut baseline: Option<f64> = None;
    for (name, sink) in &mut sinks {
        let mut cpu = Duration::ZERO;
        let mut delivered = 0u64;
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let cpu_before = process_cpu();
                let started = std::time::Instant::now();
                for i in 0..iters {
                    let events = &batches[(i % ROTATION) as usize];
                    assert_eq!(sink.deliver(events), Outcome::Delivered);
                }
                let elapsed = started.elapsed();
                if let (Some(a), Some(b)) = (cpu_before, process_cpu()) {
                    cpu += b - a;
                    delivered += iters * BATCH as u64;
                }
                elapsed
            })
        });
        if delivered > 0 {
            let per_event = cpu.as_nanos() as f64 / delivered as f64;
            let base = *baseline.get_or_insert(per_event);
            eprintln!(
                "{name}: CPU per delivered event {per_event:.0} ns, {:.2}x the uncompressed Mixpanel sink ({delivered} events)",
                per_event / base
            );
        }
    }
    group.finish();
}

#[cfg(feature = "postgres")]
#[path = "../tests/support/postgres.rs"]
mod pg;

/// CPU time (user + system) of process `pid` so far (a PostgreSQL backend), from /proc.
#[cfg(feature = "postgres")]
fn pid_cpu(pid: i32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// The backends of the server that belong to `application_name`, for their CPU.
#[cfg(feature = "postgres")]
fn backends(client: &mut postgres::Client, application: &str) -> Vec<i32> {
    client
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&application],
        )
        .expect("pg_stat_activity")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[cfg(feature = "postgres")]
struct CpuMeter {
    name: &'static str,
    client: Duration,
    server: Duration,
    events: u64,
}

#[cfg(feature = "postgres")]
impl CpuMeter {
    fn new(name: &'static str) -> CpuMeter {
        CpuMeter {
            name,
            client: Duration::ZERO,
            server: Duration::ZERO,
            events: 0,
        }
    }

    /// Runs `f`, adding this process's and the backends' CPU to the totals.
    fn measure(&mut self, backends: &[i32], events: u64, f: impl FnOnce()) {
        let sum = |pids: &[i32]| pids.iter().filter_map(|&p| pid_cpu(p)).sum::<Duration>();
        let (client, server) = (process_cpu(), sum(backends));
        f();
        if let (Some(a), Some(b)) = (client, process_cpu()) {
            self.client += b - a;
            self.server += sum(backends) - server;
            self.events += events;
        }
    }

    fn report(&self) {
        if self.events > 0 {
            eprintln!(
                "{}: CPU per event {:.0} ns in this process, {:.0} ns in the server ({} events)",
                self.name,
                self.client.as_nanos() as f64 / self.events as f64,
                self.server.as_nanos() as f64 / self.events as f64,
                self.events
            );
        }
    }
}

#[cfg(feature = "postgres")]
fn postgres_delivery(c: &mut Criterion) {
    use trackplan_runtime::sinks::{Postgres, postgres_ddl};

    let server = pg::PgServer::start_with(pg::Durability::Default);
    let mut admin = server.client();
    let mut group = c.benchmark_group("postgres_delivery_2000");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    let mut round = 1_000_000u64;
    let mut next = move || {
        round += 1;
        batch(round)
    };

    // The sink as configured by default (the batch over two connections at once), and on one
    // (into tables of its own, so that it starts from empty tables too).
    for (name, connections, schema) in [
        ("copy", 2, "trackplan"),
        ("copy_1_connection", 1, "bench_one"),
    ] {
        let mut sink = Postgres::new(&server.url())
            .expect("url")
            .schema(schema)
            .expect("schema")
            .connections(connections);
        // Connect (and create the tables) before measuring.
        assert_eq!(sink.deliver(&next()), Outcome::Delivered);
        let pids = backends(&mut admin, "trackplan");
        assert_eq!(pids.len(), connections, "the sink's backends");
        let mut meter = CpuMeter::new(match connections {
            2 => "postgres_delivery_2000/copy",
            _ => "postgres_delivery_2000/copy_1_connection",
        });
        group.bench_function(name, |b| {
            b.iter_batched(
                &mut next,
                |events| {
                    meter.measure(&pids, BATCH as u64, || {
                        assert_eq!(sink.deliver(&events), Outcome::Delivered)
                    })
                },
                BatchSize::PerIteration,
            )
        });
        meter.report();
        drop(sink);
        // Until the server has let the backends go, the next sink's would count twice.
        while !backends(&mut admin, "trackplan").is_empty() {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    // The alternative: one multi-row INSERT with parameters, into a table of its own.
    let mut config: postgres::Config = server.url().parse().expect("url");
    let mut insert = config
        .application_name("bench_insert")
        .connect(postgres::NoTls)
        .expect("connect");
    insert
        .batch_execute(&postgres_ddl("bench_insert").expect("ddl"))
        .expect("tables");
    let values: Vec<String> = (0..BATCH)
        .map(|i| {
            let p = i * 7;
            format!(
                "(${}, ${}, timestamptz 'epoch' + ${}::bigint * interval '1 millisecond', ${}, ${}, ${}::text::text[], NULL, ${}::text::jsonb)",
                p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7
            )
        })
        .collect();
    let statement = insert
        .prepare(&format!(
            "INSERT INTO bench_insert.events VALUES {} ON CONFLICT (insert_id) DO NOTHING",
            values.join(", ")
        ))
        .expect("prepare");
    let pids = backends(&mut admin, "bench_insert");
    let mut meter = CpuMeter::new("postgres_delivery_2000/insert_values");
    group.bench_function("insert_values", |b| {
        b.iter_batched(
            &mut next,
            |events| {
                meter.measure(&pids, BATCH as u64, || {
                    let purposes: Vec<String> = events
                        .iter()
                        .map(|e| {
                            format!(
                                "{{{}}}",
                                PLAN.purpose_ids(e.purposes).collect::<Vec<_>>().join(",")
                            )
                        })
                        .collect();
                    let ids: Vec<&str> = events.iter().map(|e| &*e.distinct_id).collect();
                    let properties: Vec<&str> = events.iter().map(|e| &*e.properties).collect();
                    let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                        Vec::with_capacity(BATCH * 7);
                    for (i, e) in events.iter().enumerate() {
                        params.push(&e.insert_id);
                        params.push(&e.event);
                        params.push(&e.time_ms);
                        params.push(&ids[i]);
                        params.push(&PLAN.label);
                        params.push(&purposes[i]);
                        params.push(&properties[i]);
                    }
                    let rows = insert.execute(&statement, &params).expect("insert");
                    assert_eq!(rows, BATCH as u64);
                })
            },
            BatchSize::PerIteration,
        )
    });
    meter.report();
    group.finish();

    // The whole path: track, queue, worker, COPY.
    use common::{Topic, destination, key};
    use trackplan_runtime::{Consent, Tracker};
    let tracker = Tracker::builder(&common::PLAN)
        .key(key())
        .queue_capacity(100_000)
        .sink(
            destination::SupportDesk,
            Postgres::new(&server.url()).expect("url"),
        )
        .skip(destination::Warehouse)
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .build()
        .expect("builds");
    let subject = tracker.subject("user-1", Consent::none());
    let ticket = |i: u64| common::SupportTicketOpened {
        topic: Topic::Refund,
        order_count: i as i64,
    };
    // A full round first, so that every connection of the sink is open when measuring.
    for i in 0..TRACKED {
        subject.track(ticket(i));
    }
    tracker.flush().expect("connects");
    let pids = backends(&mut admin, "trackplan");
    let mut group = c.benchmark_group("tracker_delivery");
    group.sample_size(10);
    group.throughput(Throughput::Elements(TRACKED));
    let mut meter = CpuMeter::new("tracker_postgres");
    group.bench_function("tracker_postgres", |b| {
        b.iter_custom(|iters| {
            let started = std::time::Instant::now();
            meter.measure(&pids, iters * TRACKED, || {
                for _ in 0..iters {
                    for i in 0..TRACKED {
                        subject.track(ticket(i));
                    }
                    tracker.flush().expect("flushes");
                }
            });
            started.elapsed()
        })
    });
    meter.report();
    group.finish();
    assert_eq!(tracker.stats().total.failed, 0, "no event failed");
}

#[cfg(not(feature = "postgres"))]
fn postgres_delivery(_: &mut Criterion) {
    eprintln!(
        "postgres_delivery: not built; run with --features http,postgres to measure the PostgreSQL sink"
    );
}

#[cfg(feature = "kafka")]
fn kafka_delivery(c: &mut Criterion) {
    use trackplan_runtime::sinks::Kafka;

    let mut broker = broker::Broker::start();
    broker.create_topic("bench-events", 3);
    let server = Server::start();
    let mut group = c.benchmark_group("kafka_delivery");
    group.sample_size(20);
    let mut round = 1_000_000u64;
    let mut sinks: Vec<(&str, usize, Box<dyn Sink>)> = vec![
        (
            "kafka_2000",
            2000,
            Box::new(Kafka::new(broker.address(), "bench-events")),
        ),
        // The sink's default batch limit.
        (
            "kafka_5000",
            5000,
            Box::new(Kafka::new(broker.address(), "bench-events")),
        ),
        (
            "mixpanel_uncompressed_2000",
            2000,
            Box::new(Mixpanel::new("token").base_url(&server.url).gzip(false)),
        ),
    ];
    for (name, n, sink) in &mut sinks {
        let n = *n;
        group.throughput(Throughput::Elements(n as u64));
        let mut cpu = Duration::ZERO;
        let mut events = 0u64;
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let batches: Vec<Vec<Envelope>> = (0..iters)
                    .map(|_| {
                        round += 1;
                        batch_of(n, round)
                    })
                    .collect();
                let cpu_before = process_cpu();
                let started = std::time::Instant::now();
                for batch in &batches {
                    assert_eq!(sink.deliver(batch), Outcome::Delivered);
                }
                let elapsed = started.elapsed();
                if let (Some(a), Some(b)) = (cpu_before, process_cpu()) {
                    cpu += b - a;
                    events += iters * n as u64;
                }
                elapsed
            })
        });
        if events > 0 {
            eprintln!(
                "kafka_delivery/{name}: CPU per delivered event {:.0} ns ({events} events)",
                cpu.as_nanos() as f64 / events as f64
            );
        }
    }
    group.finish();
}

#[cfg(not(feature = "kafka"))]
fn kafka_delivery(_: &mut Criterion) {}

criterion_group!(
    benches,
    delivery,
    tracker_delivery,
    sink_cpu_per_event,
    postgres_delivery,
    kafka_delivery
);
criterion_main!(benches);
