//! Memory during a destination outage: Mixpanel unreachable for the whole run while one thread
//! tracks as fast as it can. The queue bound (`queue_capacity`) must hold memory flat once the
//! queue is full: new events are dropped and counted, never buffered without limit.
//!
//! ```text
//! cargo run --release -p trackplan-runtime --features http --example outage_memory -- 30
//! ```
//!
//! Prints resident memory (VmRSS from /proc/self/status) every second and exits non-zero if it
//! grew past the bound: the memory at the first sample plus 2 KiB per queued event plus 16 MiB
//! of allocator slack.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/fixture/mod.rs"]
mod fixture;

use common::{PageViewed, destination, key, purpose};
use std::time::{Duration, Instant};
use trackplan_runtime::config::RetryPolicy;
use trackplan_runtime::sinks::Mixpanel;
use trackplan_runtime::{Consent, Tracker};

const CAPACITY: usize = 10_000;

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
    let tracker = Tracker::builder(&common::PLAN)
        .key(key())
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
        .skip(destination::Warehouse)
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .queue_capacity(CAPACITY)
        .flush_timeout(Duration::from_millis(200))
        .build()
        .expect("tracker");
    let subject = tracker.subject("outage", Consent::none().grant(purpose::ProductAnalytics));

    let start = Instant::now();
    let baseline = rss_kib();
    let mut peak = baseline;
    let mut next_sample = Duration::from_secs(1);
    let mut tracked = 0u64;
    println!("second  rss_kib  tracked  queued_or_retrying  dropped_overflow");
    while start.elapsed() < Duration::from_secs(seconds) {
        subject.track(PageViewed {
            url: format!("https://shop.example/p/{tracked}"),
            ip_address: "203.0.113.9".to_string().into(),
        });
        tracked += 1;
        if start.elapsed() >= next_sample {
            let m = *tracker.stats().destination("mixpanel").expect("stats");
            let rss = rss_kib();
            peak = peak.max(rss);
            println!(
                "{:>6}  {rss:>7}  {tracked:>7}  {:>18}  {:>16}",
                next_sample.as_secs(),
                m.pending(),
                m.dropped_overflow
            );
            next_sample += Duration::from_secs(1);
        }
    }
    let m = *tracker.stats().destination("mixpanel").expect("stats");
    let bound = baseline + (CAPACITY as u64 * 2) + 16 * 1024;
    println!(
        "tracked {tracked} events in {seconds} s; delivered {}; dropped (overflow) {}; pending {}",
        m.delivered,
        m.dropped_overflow,
        m.pending()
    );
    println!("rss: baseline {baseline} KiB, peak {peak} KiB, bound {bound} KiB");
    let _ = tracker.shutdown();
    if peak > bound {
        eprintln!("memory grew past the bound");
        std::process::exit(1);
    }
}
