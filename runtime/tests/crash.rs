//! Durability: a process tracking with a spool is killed with SIGKILL mid-stream; a tracker
//! built on the same spool afterwards delivers every event the killed process had accepted,
//! and the Mixpanel project stores each exactly once (deduplicated by `$insert_id`, which the
//! replay keeps).
//!
//! The child is this test binary itself, re-run on the ignored `crash_child` test with its
//! spool directory and destination in environment variables. It reports each event index on
//! stdout as soon as `track` has returned for it.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
mod fixture;
mod support;

use common::{PageViewed, destination, key, purpose};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::server::{Accepted, DedupKey, TestServer, project_store};
use trackplan_runtime::config::RetryPolicy;
use trackplan_runtime::sinks::Mixpanel;
use trackplan_runtime::spool::Spool;
use trackplan_runtime::{Consent, Tracker};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const SPOOL_ENV: &str = "TRACKPLAN_CRASH_CHILD_SPOOL";
const URL_ENV: &str = "TRACKPLAN_CRASH_CHILD_URL";
/// Set (to `1`) when the child's spool is encrypted.
const SEALED_ENV: &str = "TRACKPLAN_CRASH_CHILD_SEALED";
/// Events the parent waits to see accepted before it kills the child.
const KILL_AFTER: usize = 3000;

fn tracker(spool: &Path, url: &str) -> Tracker {
    tracker_on(open_spool(spool), url)
}

/// Opens the spool a tracker of this process dropped a moment ago. The tests of this file
/// run in parallel and spawn child processes: a child forked by another test holds a copy of
/// every open file, the spool's lock among them, until it execs (the files close on exec),
/// so the lock can outlive its tracker by that window. Waits it out, for a few seconds at
/// most; a lock held longer is a failure.
fn open_spool(spool: &Path) -> Spool {
    let started = std::time::Instant::now();
    loop {
        match Spool::open(spool) {
            Err(trackplan_runtime::spool::SpoolError::Locked { .. })
                if started.elapsed() < Duration::from_secs(5) =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            opened => return opened.expect("open the spool"),
        }
    }
}

/// The key the encrypted crash tests seal the spool with: derived from the tracker's key.
#[cfg(feature = "encryption")]
fn keyring() -> trackplan_runtime::crypt::Keyring {
    use trackplan_runtime::crypt::{Keyring, SealKey};
    Keyring::new(SealKey::derive(&key()))
}

#[cfg(feature = "encryption")]
fn sealed_tracker(spool: &Path, url: &str) -> Tracker {
    tracker_on(
        Spool::open_encrypted(spool, keyring()).expect("open the encrypted spool"),
        url,
    )
}

fn tracker_on(spool: Spool, url: &str) -> Tracker {
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
        .spool(spool)
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
    let sealed = std::env::var(SEALED_ENV).is_ok_and(|v| v == "1");
    #[cfg(feature = "encryption")]
    let tracker = if sealed {
        sealed_tracker(Path::new(&spool), &url)
    } else {
        tracker(Path::new(&spool), &url)
    };
    #[cfg(not(feature = "encryption"))]
    let tracker = {
        assert!(
            !sealed,
            "an encrypted crash test needs the `encryption` feature"
        );
        tracker(Path::new(&spool), &url)
    };
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
    run_and_kill_with(spool, url, false)
}

/// [`run_and_kill`], the child's spool encrypted when `sealed`.
fn run_and_kill_with(spool: &Path, url: &str, sealed: bool) -> HashSet<usize> {
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
        .env(SEALED_ENV, if sealed { "1" } else { "0" })
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

/// The event index of a delivered page view (its URL ends in the index).
fn index_of(event: &Accepted) -> Option<usize> {
    let url = event.properties.get("URL")?.as_str()?;
    url.rsplit('/').next()?.parse().ok()
}

/// The acceptance criterion: every event the child reported accepted is stored exactly once
/// in the project, deduplicated by `$insert_id` as Mixpanel does. A replay under a new insert
/// id would store a second copy; a lost event would store none.
fn assert_each_accepted_event_stored_once(
    accepted: &HashSet<usize>,
    store: &HashMap<DedupKey, (Accepted, usize)>,
) {
    let mut copies: HashMap<usize, usize> = HashMap::new();
    for (event, _) in store.values() {
        let i = index_of(event).expect("a page view of the child");
        *copies.entry(i).or_insert(0) += 1;
    }
    let lost: Vec<&usize> = accepted
        .iter()
        .filter(|i| !copies.contains_key(i))
        .collect();
    assert!(
        lost.is_empty(),
        "{} accepted events lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    // Events `track` accepted after the child's last report may be stored too: once as well.
    let twice: Vec<(&usize, &usize)> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "events stored under more than one insert id: {:?}",
        &twice[..twice.len().min(5)]
    );
}

/// How often each insert id reached this server.
fn raw_counts(server: &TestServer) -> HashMap<String, usize> {
    server.accepted_counts()
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
    let store = project_store(&[&server]);
    assert_each_accepted_event_stored_once(&accepted, &store);
    // Nothing reached a server before the kill, so nothing may arrive twice now.
    assert!(
        raw_counts(&server).values().all(|&n| n == 1),
        "an insert id arrived twice"
    );
    let stats = restarted.stats();
    let m = stats.destination("mixpanel").expect("stats");
    assert_eq!(m.delivered as usize, store.len());
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
    assert_eq!(server.accepted().len(), store.len());
}

/// The same kill with the spool encrypted: every accepted event is replayed from sealed
/// records (acknowledged only once its sealed bytes were written), stored once, and no URL
/// the child tracked is readable in the spool's files.
#[cfg(feature = "encryption")]
#[test]
fn killed_with_an_encrypted_spool_then_restarted() {
    let dir = TempDir::new("sealed");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let accepted = run_and_kill_with(&dir.0, &closed, true);

    // Before the restart: the segments hold the accepted events, sealed.
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&dir.0).expect("spool dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "spool") {
            bytes.extend(std::fs::read(&path).expect("segment"));
        }
    }
    assert!(
        bytes.len() > KILL_AFTER * 100,
        "the segments hold the events"
    );
    for needle in [
        b"shop.example".as_slice(),
        b"/p/1",
        b"page_viewed",
        b"203.0.113",
    ] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{:?} is readable in the encrypted spool",
            String::from_utf8_lossy(needle)
        );
    }
    // Without the key the spool is refused, and nothing is lost.
    let refused = Spool::open(&dir.0).expect_err("an encrypted spool needs its key");
    assert!(refused.to_string().contains("encrypted"), "{refused}");

    let server = TestServer::mixpanel(TOKEN);
    let restarted = sealed_tracker(&dir.0, server.url());
    restarted
        .flush()
        .expect("the replayed events are delivered");
    server.assert_no_violations();
    let store = project_store(&[&server]);
    assert_each_accepted_event_stored_once(&accepted, &store);
    assert!(
        raw_counts(&server).values().all(|&n| n == 1),
        "an insert id arrived twice"
    );
    restarted.shutdown().expect("shutdown");
}

/// Delivery is at least once: the worker settles a batch in the spool only after the
/// destination answered, so a kill between the answer and the settled record (or while the
/// request is on the wire) leaves a batch that the destination stored and the restart sends
/// again. Only the insert id, which the replay keeps, lets the destination store it once.
/// That window holds one batch: the worker has one request in flight at a time.
#[test]
fn killed_while_delivering_then_restarted() {
    let dir = TempDir::new("live");
    // One stand-in per run of the process, both for the same Mixpanel project: what reached
    // each run's server is then known for sure, whatever the kill interrupted.
    let before = TestServer::mixpanel(TOKEN);
    let accepted = run_and_kill(&dir.0, before.url());

    let after = TestServer::mixpanel(TOKEN);
    let restarted = tracker(&dir.0, after.url());
    restarted
        .flush()
        .expect("the replayed events are delivered");
    after.assert_no_violations();
    // The kill may tear the child's last request; every earlier one met the contract.
    let seen = before.seen();
    if let Some((_, earlier)) = seen.split_last() {
        assert!(
            earlier.iter().all(|r| r.status == 200),
            "{:?}",
            before.violations()
        );
    }

    let store = project_store(&[&before, &after]);
    assert_each_accepted_event_stored_once(&accepted, &store);

    // Raw re-deliveries: ids that reached both servers. Each run alone sends an id once.
    let (first, second) = (raw_counts(&before), raw_counts(&after));
    assert!(first.values().chain(second.values()).all(|&n| n == 1));
    let resent: HashSet<&String> = first.keys().filter(|id| second.contains_key(*id)).collect();
    let in_flight: HashSet<String> = seen
        .iter()
        .rev()
        .find(|r| r.status == 200)
        .map(|r| {
            r.body
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["properties"]["$insert_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        resent.iter().all(|id| in_flight.contains(*id)),
        "{} re-deliveries, not all from the batch in flight at the kill ({} events)",
        resent.len(),
        in_flight.len()
    );
    eprintln!(
        "re-delivered from the batch in flight at the kill: {} of {} events",
        resent.len(),
        in_flight.len()
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
    let mut delivered: Vec<usize> = server.accepted().iter().filter_map(index_of).collect();
    delivered.sort_unstable();
    assert_eq!(delivered, [0, 1, 2, 3, 4], "only ann's events come back");
}
