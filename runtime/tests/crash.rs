//! Durability: a process tracking with a spool is killed with SIGKILL mid-stream; a tracker
//! built on the same spool afterwards delivers every event the killed process had accepted,
//! once per insert id.
//!
//! The child is this test binary itself, re-run on the ignored `crash_child` test with its
//! spool directory and destination in environment variables. It reports each event index on
//! stdout as soon as `track` has returned for it.

mod common;
mod support;

use common::{PageViewed, destination, key, purpose};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::server::TestServer;
use trackplan_runtime::sinks::Mixpanel;
use trackplan_runtime::{Consent, RetryPolicy, Spool, Tracker};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const SPOOL_ENV: &str = "TRACKPLAN_CRASH_CHILD_SPOOL";
const URL_ENV: &str = "TRACKPLAN_CRASH_CHILD_URL";
/// Events the parent waits to see accepted before it kills the child.
const KILL_AFTER: usize = 3000;

fn tracker(spool: &Path, url: &str) -> Tracker {
    Tracker::builder(&common::PLAN)
        .key(key())
        .sink(
            destination::Mixpanel,
            Mixpanel::new(TOKEN)
                .base_url(url)
                .timeout(Duration::from_millis(500))
                .retry_policy(RetryPolicy {
                    initial_backoff: Duration::from_millis(20),
                    max_backoff: Duration::from_millis(200),
                    max_retries: 1_000_000,
                }),
        )
        .skip(destination::Warehouse)
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .spool(Spool::open(spool).expect("open the spool"))
        .max_delay(Duration::from_millis(5))
        .queue_capacity(1_000_000)
        .flush_timeout(Duration::from_secs(60))
        .build()
        .expect("tracker")
}

fn page(i: usize) -> PageViewed {
    PageViewed {
        url: format!("https://shop.example/p/{i}"),
        ip_address: "203.0.113.9".to_string().into(),
    }
}

/// The child's side: track until killed, reporting each accepted index.
#[test]
#[ignore = "run by the crash tests as their child process"]
fn crash_child() {
    let (Ok(spool), Ok(url)) = (std::env::var(SPOOL_ENV), std::env::var(URL_ENV)) else {
        return;
    };
    let tracker = tracker(Path::new(&spool), &url);
    let subject = tracker.subject(
        "crash-subject",
        Consent::none().grant(purpose::ProductAnalytics),
    );
    let mut out = std::io::stdout().lock();
    for i in 0..1_000_000 {
        subject.track(page(i));
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

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("trackplan-crash-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the child against `url` with `spool`, kills it with SIGKILL once it accepted
/// [`KILL_AFTER`] events, and returns every index it reported.
fn run_and_kill(spool: &Path, url: &str) -> HashSet<usize> {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(SPOOL_ENV, spool)
        .env(URL_ENV, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut accepted = HashSet::new();
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
    child.kill().expect("SIGKILL"); // `Child::kill` sends SIGKILL on Unix
    let status = child.wait().expect("reap the child");
    assert!(
        !status.success(),
        "the child was killed, not finished: {status:?}"
    );
    // Lines the child wrote before it died are still in the pipe: those events were accepted.
    for line in lines.map_while(Result::ok) {
        if let Some(i) = line.strip_prefix("accepted ").and_then(|i| i.parse().ok()) {
            accepted.insert(i);
        }
    }
    accepted
}

/// Index of each event the server kept, by the page URL, with how often its insert id came.
fn delivered(server: &TestServer) -> (HashMap<usize, String>, HashMap<String, usize>) {
    let by_index = server
        .accepted()
        .into_iter()
        .filter_map(|a| {
            let url = a.properties.get("URL")?.as_str()?.to_owned();
            let i = url.rsplit('/').next()?.parse().ok()?;
            Some((i, a.insert_id))
        })
        .collect();
    (by_index, server.accepted_counts())
}

#[test]
fn killed_while_the_destination_is_down_then_restarted() {
    let dir = TempDir::new("down");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let accepted = run_and_kill(&dir.0, &closed);

    let server = TestServer::mixpanel(TOKEN);
    let restarted = tracker(&dir.0, server.url());
    restarted
        .flush()
        .expect("the replayed events are delivered");
    server.assert_no_violations();
    let (by_index, counts) = delivered(&server);
    let missing: Vec<&usize> = accepted
        .iter()
        .filter(|i| !by_index.contains_key(i))
        .collect();
    assert!(
        missing.is_empty(),
        "{} accepted events lost, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        counts.values().all(|&n| n == 1),
        "an insert id arrived twice"
    );
    let stats = restarted.stats();
    let m = stats.destination("mixpanel").expect("stats");
    assert_eq!(m.delivered as usize, counts.len());
    assert_eq!(m.accepted, m.delivered, "everything replayed was delivered");
    restarted.shutdown().expect("shutdown");
    drop(restarted); // releases the spool's lock

    // Delivered events are settled: a third start has nothing to send.
    let third = tracker(&dir.0, server.url());
    third.flush().expect("flush");
    assert_eq!(
        third.stats().destination("mixpanel").map(|m| m.accepted),
        Some(0)
    );
    assert_eq!(server.accepted().len(), counts.len());
}

#[test]
fn killed_while_delivering_then_restarted() {
    let dir = TempDir::new("live");
    let server = TestServer::mixpanel(TOKEN);
    let accepted = run_and_kill(&dir.0, server.url());

    let restarted = tracker(&dir.0, server.url());
    restarted
        .flush()
        .expect("the replayed events are delivered");
    server.assert_no_violations();
    let (by_index, counts) = delivered(&server);
    let missing = accepted
        .iter()
        .filter(|i| !by_index.contains_key(i))
        .count();
    assert_eq!(missing, 0, "accepted events lost");
    // At least once by construction; exactly once unless the kill fell between the server's
    // answer and the spool's settled record, which can only affect the one batch in flight.
    let twice: Vec<&String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    if !twice.is_empty() {
        let in_one_request = server.seen().iter().any(|request| {
            let ids: HashSet<&str> = request
                .body
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["properties"]["$insert_id"].as_str())
                .collect();
            twice.iter().all(|id| ids.contains(id.as_str()))
        });
        assert!(
            in_one_request,
            "{} duplicates, not from one batch",
            twice.len()
        );
    }
    eprintln!(
        "duplicates from the batch in flight at the kill: {}",
        twice.len()
    );
    restarted.shutdown().expect("shutdown");
}

#[test]
fn withdrawn_and_forgotten_events_are_not_replayed() {
    let dir = TempDir::new("privacy");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    {
        let down = tracker(&dir.0, &closed);
        let consent = Consent::none().grant(purpose::ProductAnalytics);
        let (ann, ben, cat) = (
            down.subject("ann", consent),
            down.subject("ben", consent),
            down.subject("cat", consent),
        );
        for i in 0..5 {
            ann.track(page(i));
            ben.track(page(100 + i));
            cat.track(page(200 + i));
        }
        ben.withdraw(purpose::ProductAnalytics);
        let _ = down.forget("cat"); // Mixpanel has no GDPR token here: only local erasure
        for entry in std::fs::read_dir(&dir.0).expect("spool dir") {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
            let cat_id = down.distinct_id("cat");
            assert!(
                !String::from_utf8_lossy(&bytes).contains(&cat_id),
                "the forgotten subject's events left the disk"
            );
        }
        // Dropped with the destination still down, as a crash would leave it.
    }
    let server = TestServer::mixpanel(TOKEN);
    let restarted = tracker(&dir.0, server.url());
    restarted.flush().expect("flush");
    let (by_index, _) = delivered(&server);
    let mut delivered: Vec<usize> = by_index.into_keys().collect();
    delivered.sort_unstable();
    assert_eq!(delivered, [0, 1, 2, 3, 4], "only ann's events come back");
}
