//! Durability of the consent ledger: a process recording consent changes from several
//! threads is killed with SIGKILL mid-stream; the ledger reopened afterwards holds every entry
//! the killed process had acknowledged (`record` returned its id) under the synced policy, in
//! one intact chain.
//!
//! The child is this test binary itself, re-run on the ignored `ledger_crash_child` test with
//! the ledger directory in an environment variable. It reports each entry id on stdout as soon
//! as `record` has returned it. The same kill runs on a plain ledger and on an encrypted one
//! (`Ledger::open_encrypted`, feature `encryption`), through one harness.

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
/// Set (to `1`) when the child's ledger is encrypted.
const SEALED_ENV: &str = "TRACKPLAN_LEDGER_CRASH_SEALED";
/// Entries the parent waits to see acknowledged before it kills the child.
const KILL_AFTER: usize = 300;
const THREADS: usize = 4;

fn key() -> Key {
    Key::from_hex(&"07".repeat(32)).unwrap_or_else(|e| panic!("{e}"))
}

fn who(n: usize) -> String {
    key().pseudonymize(&format!("crash-{n}"))
}

/// The key the encrypted variant seals the ledger with: derived from the app's key.
#[cfg(feature = "encryption")]
fn keyring() -> trackplan_runtime::crypt::Keyring {
    use trackplan_runtime::crypt::{Keyring, SealKey};
    Keyring::new(SealKey::derive(&key()))
}

/// Opens the ledger in `dir` with the synced policy, encrypted when `sealed`.
fn open(dir: &Path, sealed: bool) -> Ledger {
    if !sealed {
        return Ledger::open_with(dir, SyncPolicy::EveryEvent).expect("open the ledger");
    }
    #[cfg(feature = "encryption")]
    return Ledger::open_encrypted(dir, SyncPolicy::EveryEvent, keyring())
        .expect("open the encrypted ledger");
    #[cfg(not(feature = "encryption"))]
    panic!("an encrypted ledger crash test needs the `encryption` feature")
}

/// Everything the ledger in `dir` holds, read without its lock (encrypted when `sealed`).
fn read(dir: &Path, sealed: bool) -> Snapshot {
    if !sealed {
        return Snapshot::read_dir(dir).expect("read");
    }
    #[cfg(feature = "encryption")]
    return Snapshot::read_dir_encrypted(dir, &keyring()).expect("read encrypted");
    #[cfg(not(feature = "encryption"))]
    panic!("an encrypted ledger crash test needs the `encryption` feature")
}

/// The child's side: record until killed, reporting each acknowledged entry.
#[test]
#[ignore = "run by the ledger crash test as its child process"]
fn ledger_crash_child() {
    let Ok(dir) = std::env::var(DIR_ENV) else {
        return;
    };
    let sealed = std::env::var(SEALED_ENV).is_ok_and(|v| v == "1");
    let ledger = open(Path::new(&dir), sealed);
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

/// Runs the child on `dir` (its ledger encrypted when `sealed`), kills it once it acknowledged
/// [`KILL_AFTER`] entries, and returns every `(entry id, subject)` it reported.
fn run_and_kill(dir: &Path, sealed: bool) -> HashMap<u64, usize> {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "ledger_crash_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_ENV, dir)
        .env(SEALED_ENV, if sealed { "1" } else { "0" })
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

/// Kills the child twice on one directory (its ledger encrypted when `sealed`): after each kill
/// the reopened ledger holds every acknowledged entry in one intact chain, and the second run
/// appended to the first run's chain. Returns the directory's final snapshot.
fn kill_twice_and_check(dir: &Path, sealed: bool) -> Snapshot {
    for round in 0..2 {
        let acked = run_and_kill(dir, sealed);
        // Reopening moves a torn last record aside (never acknowledged) and goes on.
        let ledger = open(dir, sealed);
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
    let snapshot = read(dir, sealed);
    assert!(snapshot.verification().is_intact());
    assert!(snapshot.entries().len() >= 2 * KILL_AFTER);
    snapshot
}

fn scratch(name: &str) -> TempDir {
    let dir = TempDir(std::env::temp_dir().join(format!(
        "trackplan-ledger-crash-{name}-{}",
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&dir.0);
    dir
}

#[test]
fn sigkill_loses_no_acknowledged_entry_and_the_chain_stays_intact() {
    let dir = scratch("plain");
    kill_twice_and_check(&dir.0, false);
}

/// The same kills with the ledger encrypted: an entry is acknowledged only once its sealed
/// record was written, so none is lost; a record torn mid-`write` is found by its frame as in
/// a plain file; and no distinct id the child recorded is readable on disk.
#[cfg(feature = "encryption")]
#[test]
fn sigkill_with_an_encrypted_ledger_loses_no_acknowledged_entry() {
    let dir = scratch("sealed");
    let snapshot = kill_twice_and_check(&dir.0, true);

    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(&dir.0).expect("ledger dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).expect("ledger file"));
        }
    }
    assert!(
        bytes.len() > 2 * KILL_AFTER * 100,
        "the file holds the entries"
    );
    let ids: Vec<String> = (0..THREADS * 100)
        .map(who)
        .filter(|id| !snapshot.history(id).is_empty())
        .collect();
    assert!(!ids.is_empty());
    for needle in ids
        .iter()
        .map(String::as_bytes)
        .chain([b"pii_principal_id".as_slice(), b"product_analytics"])
    {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{:?} is readable in the encrypted ledger",
            String::from_utf8_lossy(needle)
        );
    }
    // Without the key the ledger is refused, and nothing is changed.
    let refused = Snapshot::read_dir(&dir.0).expect_err("an encrypted ledger needs its key");
    assert!(refused.to_string().contains("encrypted"), "{refused}");
    assert_eq!(
        read(&dir.0, true).entries().len(),
        snapshot.entries().len(),
        "refusing changed the ledger"
    );
}
