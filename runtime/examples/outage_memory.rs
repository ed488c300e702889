//! Memory and isolation during a destination outage: Mixpanel unreachable for the whole run
//! (30 s by default) while the warehouse and the ads partner keep delivering, and one thread
//! tracks about 10 000 events a second, each routed to all three.
//!
//! ```text
//! cargo run --release -p trackplan-runtime --features http --example outage_memory -- 30
//! ```
//!
//! Prints resident memory (VmRSS from /proc/self/status) every second, and exits non-zero if
//!
//! - memory grew past the bound: the memory at the first sample plus 2 KiB per event each
//!   destination's queue may hold (`queue_capacity` × 3 destinations) plus 16 MiB of allocator
//!   slack; only Mixpanel's share fills, its overflow dropped and counted;
//! - or the other two did not get every event they accepted (their queues never fill: the
//!   dead destination holds up only its own).

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/fixture/mod.rs"]
mod fixture;

use common::{destination, key, product, purpose};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use trackplan_runtime::config::RetryPolicy;
use trackplan_runtime::sinks::{Mixpanel, Segment};
use trackplan_runtime::{Consent, Envelope, Outcome, Sink, Tracker};

const CAPACITY: usize = 10_000;
const DESTINATIONS: u64 = 3;
const EVENTS_PER_SECOND: u64 = 10_000;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// A first-party warehouse that counts what it is handed and keeps nothing.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicU64>);

impl Sink for Counting {
    fn declaration(&self) -> trackplan_runtime::config::SinkDeclaration {
        trackplan_runtime::config::SinkDeclaration::InProcess
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Outcome::Delivered
    }
}

/// A Segment-compatible collector on 127.0.0.1 that counts the events of each batch (by their
/// `messageId`s) and answers 200.
fn collector(received: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> String {
    let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", server.server_addr().to_ip().expect("ip"));
    std::thread::spawn(move || {
        let mut body = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(Some(mut request)) = server.recv_timeout(Duration::from_millis(50)) {
                body.clear();
                let _ = request.as_reader().read_to_end(&mut body);
                let mut text = Vec::new();
                let _ = flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut text);
                let text = if text.is_empty() { &body } else { &text };
                let events = text.windows(11).filter(|w| w == b"\"messageId\"").count();
                received.fetch_add(events as u64, Ordering::Relaxed);
                let _ = request.respond(tiny_http::Response::from_string("{}"));
            }
        }
    });
    url
}

use std::io::Read as _;

fn main() {
    let seconds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    // A port nobody listens on: every delivery fails with "connection refused" and is retried.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let warehouse = Counting::default();
    let ads_received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let ads_url = collector(Arc::clone(&ads_received), Arc::clone(&stop));
    let tracker = Tracker::builder(&common::PLAN)
        .key(key())
        .sink(destination::Warehouse, warehouse.clone())
        .sink(
            destination::Mixpanel,
            Mixpanel::new("token")
                .base_url(&closed)
                .retry_policy(RetryPolicy {
                    initial_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    max_retries: u32::MAX,
                }),
        )
        .sink(destination::Ads, Segment::new("wk").base_url(&ads_url))
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .queue_capacity(CAPACITY)
        .max_delay(Duration::from_millis(50))
        .build()
        .expect("tracker");
    let subject = tracker.subject(
        "outage",
        Consent::none()
            .grant(purpose::ProductAnalytics)
            .grant(purpose::Advertising),
    );

    let start = Instant::now();
    let baseline = rss_kib();
    let mut peak = baseline;
    let mut next_sample = Duration::from_secs(1);
    let mut tracked = 0u64;
    println!("second  rss_kib  tracked  mixpanel_pending  mixpanel_dropped  warehouse  ads");
    while start.elapsed() < Duration::from_secs(seconds) {
        subject.track(product(&format!("sku-{tracked}")));
        tracked += 1;
        // Paced: the healthy destinations keep up, so none of their events overflow.
        if tracked.is_multiple_of(100) {
            let due = Duration::from_micros(tracked * 1_000_000 / EVENTS_PER_SECOND);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        if start.elapsed() >= next_sample {
            let stats = tracker.stats();
            let m = stats.destination("mixpanel").expect("stats");
            let rss = rss_kib();
            peak = peak.max(rss);
            println!(
                "{:>6}  {rss:>7}  {tracked:>7}  {:>16}  {:>16}  {:>9}  {:>7}",
                next_sample.as_secs(),
                m.pending(),
                m.dropped_overflow,
                warehouse.0.load(Ordering::Relaxed),
                ads_received.load(Ordering::Relaxed),
            );
            next_sample += Duration::from_secs(1);
        }
    }
    // The healthy destinations settle within a few batch delays; wait generously.
    let settled = Instant::now();
    let healthy_pending = || {
        let stats = tracker.stats();
        ["warehouse", "ads"]
            .iter()
            .map(|id| stats.destination(id).map_or(0, |c| c.pending()))
            .sum::<u64>()
    };
    while healthy_pending() > 0 && settled.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = tracker.stats();
    let (w, m, a) = (
        *stats.destination("warehouse").expect("stats"),
        *stats.destination("mixpanel").expect("stats"),
        *stats.destination("ads").expect("stats"),
    );
    let bound = baseline + CAPACITY as u64 * DESTINATIONS * 2 + 16 * 1024;
    println!(
        "tracked {tracked} events in {seconds} s; mixpanel: delivered {}, dropped (overflow) {}, \
         pending {}",
        m.delivered,
        m.dropped_overflow,
        m.pending()
    );
    println!(
        "warehouse: accepted {}, delivered {}, overflow {}; ads: accepted {}, delivered {} \
         (collector counted {}), overflow {}",
        w.accepted,
        w.delivered,
        w.dropped_overflow,
        a.accepted,
        a.delivered,
        ads_received.load(Ordering::Relaxed),
        a.dropped_overflow
    );
    println!("rss: baseline {baseline} KiB, peak {peak} KiB, bound {bound} KiB");
    let _ = tracker.shutdown_within(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let mut failed = false;
    if peak > bound {
        eprintln!("memory grew past the bound");
        failed = true;
    }
    let all_arrived = w.delivered == tracked
        && a.delivered == tracked
        && ads_received.load(Ordering::Relaxed) == tracked
        && warehouse.0.load(Ordering::Relaxed) == tracked;
    if !all_arrived {
        eprintln!("the healthy destinations did not get every event");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
}
