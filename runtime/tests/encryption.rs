//! Encryption at rest (feature `encryption`): a canary value tracked through an encrypted
//! spool, written to an encrypted NDJSON file and recorded in an encrypted ledger never
//! appears in their bytes on disk; rotating the key keeps what the old key sealed readable
//! while new writes use the new key; a wrong or missing key is a clear error that changes no
//! file.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod common;
#[path = "support/crc32.rs"]
mod crc32;
mod fixture;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use trackplan_runtime::consent::{Collection, Ledger, LedgerError, Method, Snapshot, Surface};
use trackplan_runtime::crypt::{CryptError, Keyring, SealKey, SealedNdjson};
use trackplan_runtime::sinks::{Memory, Ndjson};
use trackplan_runtime::spool::{Spool, SpoolError, SyncPolicy};
use trackplan_runtime::{Consent, Sink, Tracker};

/// A value that must never be readable on disk.
const CANARY: &str = "canary-7f3a9c";
/// The ledger's canary: a jurisdiction is free text the ledger stores as given.
const LEDGER_CANARY: &str = "XX-CANARY";

fn seal_key(byte: u8) -> SealKey {
    SealKey::from_hex(&format!("{byte:02x}").repeat(32)).or_panic()
}

fn ring(byte: u8) -> Keyring {
    Keyring::new(seal_key(byte))
}

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("trackplan-crypt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).or_panic();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every file under `dir` (recursively) with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).or_panic() {
            let path = entry.or_panic().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).or_panic());
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A tracker whose warehouse is `warehouse` and whose Mixpanel is down, so the events stay
/// pending in `spool`.
fn tracker(spool: Spool, warehouse: impl Sink) -> Tracker {
    Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, warehouse)
        .sink(destination::Mixpanel, Down::default())
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .spool(spool)
        .max_delay(Duration::from_millis(5))
        .flush_timeout(Duration::from_millis(300))
        .drop_timeout(Duration::from_millis(50))
        .build()
        .or_panic()
}

fn analytics() -> Consent {
    Consent::none().grant(purpose::ProductAnalytics)
}

/// Tracks `n` canary products for `who` and drops the tracker (Mixpanel's copies stay
/// pending in the spool).
fn track_canaries(spool: Spool, warehouse: impl Sink, who: &str, n: usize) {
    let tracker = tracker(spool, warehouse);
    let subject = tracker.subject(who, analytics());
    for i in 0..n {
        subject.track(product(&format!("{CANARY}-{i}")));
    }
    // Mixpanel is down: the flush reports it; the warehouse got everything.
    let _ = tracker.flush();
}

fn record_canary(ledger: &Ledger, n: usize) {
    ledger
        .record(
            &key().pseudonymize(&format!("user-{n}")),
            &PLAN,
            &analytics(),
            &Collection::new(Method::Accept, Surface::Banner).jurisdiction(LEDGER_CANARY),
        )
        .or_panic();
}

#[test]
fn plain_stores_hold_the_canary_so_the_scan_can_fail() {
    let dir = TempDir::new("plain");
    track_canaries(
        Spool::open(dir.join("spool")).or_panic(),
        Ndjson::create(dir.join("events.ndjson")).or_panic(),
        "ann",
        3,
    );
    record_canary(&Ledger::open(dir.join("ledger")).or_panic(), 1);
    let all = files(&dir.0);
    let holding = |needle: &str| {
        all.iter()
            .filter(|(_, bytes)| contains(bytes, needle.as_bytes()))
            .count()
    };
    // The spool segment and the NDJSON file hold the product id, the ledger its jurisdiction.
    assert!(
        holding(CANARY) >= 2,
        "plain spool and NDJSON hold the canary"
    );
    assert_eq!(
        holding(LEDGER_CANARY),
        1,
        "the plain ledger holds its canary"
    );
}

#[test]
fn a_canary_never_appears_in_the_bytes_of_an_encrypted_spool_ndjson_file_or_ledger() {
    let dir = TempDir::new("canary");
    let keys = Keyring::new(SealKey::derive(&key()));
    track_canaries(
        Spool::open_encrypted(dir.join("spool"), keys.clone()).or_panic(),
        Ndjson::create_encrypted(dir.join("events.ndjson"), keys.clone()).or_panic(),
        "ann",
        3,
    );
    let ledger =
        Ledger::open_encrypted(dir.join("ledger"), SyncPolicy::EveryEvent, keys.clone()).or_panic();
    record_canary(&ledger, 1);
    record_canary(&ledger, 2);
    drop(ledger);

    let all = files(&dir.0);
    assert!(
        all.len() >= 3,
        "spool segment, NDJSON file and ledger: {all:?}"
    );
    let distinct_id = key().pseudonymize("ann");
    let description = PLAN.purposes[0].description;
    for (path, bytes) in &all {
        for needle in [
            CANARY,
            LEDGER_CANARY,
            &distinct_id,
            &distinct_id[9..],
            "product_analytics",
            "Product Viewed",
            description,
        ] {
            assert!(
                !contains(bytes, needle.as_bytes()),
                "{needle:?} is readable in {}",
                path.display()
            );
        }
    }

    // With the key, everything reads back.
    let lines = SealedNdjson::read(&dir.join("events.ndjson"), &keys).or_panic();
    let lines: Vec<String> = lines
        .lines()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines
            .iter()
            .all(|l| l.contains(CANARY) && l.contains(&distinct_id))
    );
    let snapshot = Snapshot::read_dir_encrypted(dir.join("ledger"), &keys).or_panic();
    assert!(snapshot.verification().is_intact());
    assert_eq!(snapshot.entries().len(), 2);
    assert_eq!(
        snapshot.entries()[0].jurisdiction.as_deref(),
        Some(LEDGER_CANARY)
    );
    // The Mixpanel copies are still pending: a tracker with a working Mixpanel replays them.
    let replay = Memory::new();
    let spool = Spool::open_encrypted(dir.join("spool"), keys).or_panic();
    let t = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, Memory::new())
        .sink(destination::Mixpanel, replay.clone())
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .spool(spool)
        .max_delay(Duration::from_millis(5))
        .build()
        .or_panic();
    t.flush().or_panic();
    let mut ids: Vec<String> = replay
        .envelopes()
        .iter()
        .map(|e| e.properties.to_string())
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids[0].contains(&format!("{CANARY}-0")), "{ids:?}");
}

#[test]
fn the_encryption_key_is_derived_not_the_hmac_key_and_ids_differ_per_key() {
    let k = key();
    let derived = SealKey::derive(&k);
    assert_ne!(derived.id(), k.id(), "a key id of its own");
    assert_ne!(derived.id(), seal_key(0x11).id());
    assert_eq!(derived.id().len(), 8);
    // Debug shows ids only.
    let ring = Keyring::new(derived).with_old(seal_key(0x11));
    let debug = format!("{ring:?}");
    assert!(debug.contains(&seal_key(0x11).id()), "{debug}");
    assert!(!debug.contains("1111"), "{debug}");
}

#[test]
fn rotating_the_key_keeps_old_files_readable_and_writes_under_the_new_key() {
    let dir = TempDir::new("rotate");
    let (a, b) = (seal_key(0xaa), seal_key(0xbb));
    let rotated = || Keyring::new(seal_key(0xbb)).with_old(seal_key(0xaa));

    // NDJSON: lines under A, then appended under B; the rotated ring reads both.
    let path = dir.join("events.ndjson");
    track_canaries(
        Spool::open(dir.join("s1")).or_panic(),
        Ndjson::create_encrypted(&path, ring(0xaa)).or_panic(),
        "ann",
        2,
    );
    track_canaries(
        Spool::open(dir.join("s2")).or_panic(),
        Ndjson::append_encrypted(&path, rotated()).or_panic(),
        "ben",
        2,
    );
    let both = SealedNdjson::read(&path, &rotated()).or_panic();
    let people: Vec<bool> = both
        .lines()
        .map(|l| contains(l, key().pseudonymize("ann").as_bytes()))
        .collect();
    assert_eq!(people, [true, true, false, false], "A's lines, then B's");
    // B alone cannot read A's lines: the error names A's key id.
    let only_b = SealedNdjson::read(&path, &ring(0xbb)).expect_err("A's lines need A");
    assert!(only_b.to_string().contains(&a.id()), "{only_b}");
    // A alone cannot read B's.
    let only_a = SealedNdjson::read(&path, &ring(0xaa)).expect_err("B's lines need B");
    assert!(only_a.to_string().contains(&b.id()), "{only_a}");

    // Ledger: entries under A, reopened rotated, a new entry under B; one chain.
    let ledger_dir = dir.join("ledger");
    {
        let l = Ledger::open_encrypted(&ledger_dir, SyncPolicy::EveryEvent, ring(0xaa)).or_panic();
        record_canary(&l, 1);
    }
    {
        let l = Ledger::open_encrypted(&ledger_dir, SyncPolicy::EveryEvent, rotated()).or_panic();
        record_canary(&l, 2);
        let v = l.verify().or_panic();
        assert!(v.is_intact(), "{v:?}");
    }
    let snapshot = Snapshot::read_dir_encrypted(&ledger_dir, &rotated()).or_panic();
    assert_eq!(snapshot.entries().len(), 2);
    assert!(snapshot.verification().is_intact());
    match Snapshot::read_dir_encrypted(&ledger_dir, &ring(0xaa)) {
        Err(LedgerError::Crypt {
            source: CryptError::UnknownKey { key_id, .. },
            ..
        }) => assert_eq!(key_id, b.id(), "the new entry is sealed with B"),
        other => panic!("A alone must not read B's entry: {other:?}"),
    }

    // Spool: events pending under A are replayed by a spool opened with the rotated ring,
    // and copied forward under B.
    let spool_dir = dir.join("spool");
    track_canaries(
        Spool::open_encrypted(&spool_dir, ring(0xaa)).or_panic(),
        Memory::new(),
        "cat",
        2,
    );
    let segment_ids = |dir: &Path| -> Vec<[u8; 4]> {
        files(dir)
            .into_iter()
            .filter(|(p, _)| p.extension().is_some_and(|e| e == "spool"))
            .flat_map(|(_, bytes)| record_key_ids(&bytes))
            .collect()
    };
    let under_a = segment_ids(&spool_dir);
    assert!(!under_a.is_empty());
    assert!(under_a.iter().all(|id| hex(id) == a.id()));
    let replay = Memory::new();
    {
        let t = Tracker::builder(&PLAN)
            .key(key())
            .sink(destination::Warehouse, Memory::new())
            .sink(destination::Mixpanel, replay.clone())
            .skip(destination::Ads)
            .skip(destination::SecurityLog)
            .skip(destination::SupportDesk)
            .spool(Spool::open_encrypted(&spool_dir, rotated()).or_panic())
            .max_delay(Duration::from_millis(5))
            .build()
            .or_panic();
        let ids = segment_ids(&spool_dir);
        assert!(!ids.is_empty());
        assert!(
            ids.iter().all(|id| hex(id) == b.id()),
            "copied forward under B"
        );
        t.subject("dan", analytics()).track(product("new"));
        t.flush().or_panic();
    }
    assert_eq!(replay.len(), 3, "two replayed under A's records, one new");
    let ids = segment_ids(&spool_dir);
    assert!(ids.iter().all(|id| hex(id) == b.id()), "new writes under B");
}

/// The key ids of the sealed records of a spool segment or ledger file (after the magic).
fn record_key_ids(bytes: &[u8]) -> Vec<[u8; 4]> {
    let mut out = Vec::new();
    let mut at = 8;
    while at + 12 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().or_panic()) as usize;
        out.push(bytes[at + 8..at + 12].try_into().or_panic());
        at += 8 + len;
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_wrong_or_missing_key_is_a_clear_error_and_changes_no_file() {
    let dir = TempDir::new("wrong");
    let right = || ring(0x01);
    track_canaries(
        Spool::open_encrypted(dir.join("spool"), right()).or_panic(),
        Ndjson::create_encrypted(dir.join("events.ndjson"), right()).or_panic(),
        "ann",
        4,
    );
    {
        let l =
            Ledger::open_encrypted(dir.join("ledger"), SyncPolicy::EveryEvent, right()).or_panic();
        record_canary(&l, 1);
    }
    let before = files(&dir.0);
    let right_id = seal_key(0x01).id();

    // The spool: a wrong key and no key are both refused, naming the key id.
    match Spool::open_encrypted(dir.join("spool"), ring(0x02)) {
        Err(SpoolError::Crypt {
            source: CryptError::UnknownKey { key_id, known },
            ..
        }) => {
            assert_eq!(key_id, right_id);
            assert_eq!(known, seal_key(0x02).id());
        }
        other => panic!("a wrong key must be refused: {other:?}"),
    }
    let missing = Spool::open(dir.join("spool")).expect_err("no key");
    assert!(
        matches!(
            missing,
            SpoolError::Crypt {
                source: CryptError::NoKey { .. },
                ..
            }
        ),
        "{missing:?}"
    );
    let message = missing.to_string();
    assert!(
        message.contains("encrypted") && message.contains(&right_id),
        "{message}"
    );

    // The ledger: the same, from opening it for writing and from reading it.
    for result in [
        Ledger::open_encrypted(dir.join("ledger"), SyncPolicy::EveryEvent, ring(0x02)).map(drop),
        Ledger::open(dir.join("ledger")).map(drop),
        Snapshot::read_dir(dir.join("ledger")).map(drop),
    ] {
        let e = result.expect_err("the ledger needs its key");
        assert!(matches!(e, LedgerError::Crypt { .. }), "{e:?}");
        assert!(e.to_string().contains(&right_id), "{e}");
    }

    // NDJSON: a wrong key reads nothing; a plain file is not appended to as encrypted.
    let e = SealedNdjson::read(&dir.join("events.ndjson"), &ring(0x02)).expect_err("wrong key");
    assert!(e.to_string().contains(&right_id), "{e}");

    // Not one byte changed, and the right key still reads everything.
    assert_eq!(
        files(&dir.0).keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &before {
        if path.file_name().is_some_and(|n| n == "LOCK") {
            continue;
        }
        assert_eq!(
            &std::fs::read(path).or_panic(),
            bytes,
            "{} changed",
            path.display()
        );
    }
    assert_eq!(
        SealedNdjson::read(&dir.join("events.ndjson"), &right())
            .or_panic()
            .lines()
            .count(),
        4
    );
    assert_eq!(
        Snapshot::read_dir_encrypted(dir.join("ledger"), &right())
            .or_panic()
            .entries()
            .len(),
        1
    );
    let replay = Memory::new();
    let t = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, Memory::new())
        .sink(destination::Mixpanel, replay.clone())
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk)
        .spool(Spool::open_encrypted(dir.join("spool"), right()).or_panic())
        .max_delay(Duration::from_millis(5))
        .build()
        .or_panic();
    t.flush().or_panic();
    assert_eq!(replay.len(), 4, "every pending event survived the refusals");
}

#[test]
fn an_altered_sealed_ledger_entry_is_reported_at_that_entry() {
    let dir = TempDir::new("tamper");
    {
        let l = Ledger::open_encrypted(&dir.0, SyncPolicy::EveryEvent, ring(0x03)).or_panic();
        for n in 0..3 {
            record_canary(&l, n);
        }
    }
    let path = dir.join("consent.ledger");
    let mut bytes = std::fs::read(&path).or_panic();
    // Flip a ciphertext byte of the last record and fix its CRC: only the tag can tell.
    let starts: Vec<usize> = {
        let mut out = Vec::new();
        let mut at = 8;
        while at < bytes.len() {
            out.push(at);
            at += 8 + u32::from_le_bytes(bytes[at..at + 4].try_into().or_panic()) as usize;
        }
        out
    };
    let last = *starts.last().expect("records");
    let len = u32::from_le_bytes(bytes[last..last + 4].try_into().or_panic()) as usize;
    bytes[last + 8 + 40] ^= 1;
    let crc = crc32::crc32(&bytes[last + 8..last + 8 + len]);
    bytes[last + 4..last + 8].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).or_panic();
    let snapshot = Snapshot::read_dir_encrypted(&dir.0, &ring(0x03)).or_panic();
    let v = snapshot.verification();
    let broken = v.broken.as_ref().expect("the altered entry is reported");
    assert_eq!(broken.offset, Some(last as u64));
    assert_eq!(snapshot.entries().len(), 2, "the entries before it verify");
    // The ledger refuses to append to it, and leaves it as it is.
    let e = Ledger::open_encrypted(&dir.0, SyncPolicy::EveryEvent, ring(0x03)).map(drop);
    assert!(matches!(e, Err(LedgerError::Broken { .. })), "{e:?}");
    assert_eq!(std::fs::read(&path).or_panic(), bytes);
}
