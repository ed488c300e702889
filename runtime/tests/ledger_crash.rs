//! Durability of the consent ledger: a process recording consent changes from several
//! threads is killed with SIGKILL mid-stream; the ledger reopened afterwards holds every entry
//! the killed process had acknowledged (`record` returned its id) under the synced policy, in
//! one intact chain.
//!
//! The child is this test binary itself, re-run on the ignored `ledger_crash_child` test with
//! the ledger directory in an environment variable. It reports each entry id on stdout as soon
//! as `record` has returned it.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod fixture;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use fixture::shop::*;
use trackplan_runtime::consent::{Collection, Ledger, Method, Snapshot, Surface};
use trackplan_runtime::spool::SyncPolicy;
use trackplan_runtime::{Consent, Key};

const DIR_ENV: &str = "TRACKPLAN_LEDGER_CRASH_DIR";
/// Entries the parent waits to see acknowledged before it kills the child.
const KILL_AFTER: usize = 300;
const THREADS: usize = 4;

fn who(n: usize) -> String {
    Key::from_hex(&"07".repeat(32))
        .unwrap_or_else(|e| panic!("{e}"))
        .pseudonymize(&format!("crash-{n}"))
}

/// The child's side: record until killed, reporting each acknowledged entry.
#[test]
#[ignore = "run by the ledger crash test as its child process"]
fn ledger_crash_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let ledger = Ledger::open_with(&dir, SyncPolicy::EveryEvent).expect("open the ledger");
    let out = Mutex::new(std::io::stdout());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (ledger, out) = (ledger.clone(), &out);
            s.spawn(move || {
                for i in 0..1_000_000usize {
                    let subject = t * 100 + i % 7;
                    let consent = if i % 2 == 0 {
                        Consent::none().grant(purpose::ProductAnalytics)
                    } else {
                        Consent::none().withdraw(purpose::ProductAnalytics)
                    };
                    let Ok(id) = ledger.record(
                        &who(subject),
                        &PLAN,
                        &consent,
                        &Collection::new(Method::SaveChoices, Surface::Settings),
                    ) else {
                        return;
                    };
                    let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
                    if writeln!(out, "acked {} {subject}", id.0)
                        .and_then(|()| out.flush())
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the child on `dir`, kills it once it acknowledged [`KILL_AFTER`] entries, and returns
/// every `(entry id, subject)` it reported.
fn run_and_kill(dir: &Path) -> HashMap<u64, usize> {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "ledger_crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut acked = HashMap::new();
    let parse = |line: &str| {
        let mut parts = line.strip_prefix("acked ")?.split(' ');
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        if let Some((id, subject)) = parse(&line) {
            acked.insert(id, subject);
            if acked.len() == KILL_AFTER {
                break;
            }
        }
    }
    assert_eq!(acked.len(), KILL_AFTER, "the child stopped early");
    child.kill().expect("SIGKILL"); // `Child::kill` sends SIGKILL on Unix
    let status = child.wait().expect("reap the child");
    assert!(
        !status.success(),
        "the child was killed, not finished: {status:?}"
    );
    // Lines written before it died are still in the pipe: those entries were acknowledged.
    for line in lines.map_while(Result::ok) {
        if let Some((id, subject)) = parse(&line) {
            acked.insert(id, subject);
        }
    }
    acked
}

#[test]
fn sigkill_loses_no_acknowledged_entry_and_the_chain_stays_intact() {
    let dir = TempDir(
        std::env::temp_dir().join(format!("trackplan-ledger-crash-{}", std::process::id())),
    );
    let _ = std::fs::remove_dir_all(&dir.0);
    for round in 0..2 {
        let acked = run_and_kill(&dir.0);
        // Reopening moves a torn last record aside (never acknowledged) and goes on.
        let ledger = Ledger::open(&dir.0).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let snapshot = ledger.snapshot().expect("snapshot");
        let v = snapshot.verification();
        assert!(v.is_intact(), "round {round}: {v:?}");
        let stored: HashMap<u64, &str> = snapshot
            .entries()
            .iter()
            .map(|e| (e.id.0, e.pii_principal_id.as_str()))
            .collect();
        for (id, subject) in &acked {
            assert_eq!(
                stored.get(id).copied(),
                Some(who(*subject).as_str()),
                "round {round}: acknowledged entry #{id} is missing or someone else's"
            );
        }
        drop(snapshot);
        drop(ledger);
    }
    // The second run appended to the first run's chain.
    let snapshot = Snapshot::read_dir(&dir.0).expect("read");
    assert!(snapshot.entries().len() >= 2 * KILL_AFTER);
}
