//! The consent ledger's local-file store: tamper evidence (every flipped byte is reported at
//! the entry it belongs to), concurrent writers, reopening, forget with and without keeping
//! the proof, re-consent after a plan change, and recording through a subject.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

#[path = "support/crc32.rs"]
mod crc32;
mod fixture;
#[path = "ledger/support.rs"]
mod support;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use fixture::shop::*;
use trackplan_runtime::consent::{
    Collection, EntryId, ForgetProof, Ledger, LedgerError, Method, Preference, Snapshot, Surface,
};
use trackplan_runtime::sinks::Memory;
use trackplan_runtime::{Consent, Key, Tracker};

/// The fixture shop at version 4, the `advertising` text reworded.
mod reworded {
    trackplan_macros::plan!("tests/ledger/shop_reworded.toml");
}

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "trackplan-ledger-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn key() -> Key {
    Key::from_hex(&"07".repeat(32)).unwrap_or_else(|e| panic!("{e}"))
}

fn who(n: usize) -> String {
    key().pseudonymize(&format!("user-{n}"))
}

fn accept() -> Collection {
    Collection::new(Method::Accept, Surface::Banner)
}

/// Byte offsets where each record of a ledger file starts (after the 8-byte magic), read
/// from the length fields.
fn record_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        starts.push(at);
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        at += 8 + len as usize;
    }
    assert_eq!(at, bytes.len(), "the records fill the file");
    starts
}

fn small_ledger(dir: &Path) {
    let ledger = Ledger::open(dir).expect("open");
    let analytics = Consent::none().grant(purpose::ProductAnalytics);
    ledger
        .record(&who(1), &PLAN, &analytics, &accept())
        .expect("record");
    ledger
        .record(
            &who(2),
            &PLAN,
            &Consent::none().object(purpose::Security).with_gpc(true),
            &Collection::new(Method::Gpc, Surface::Api).jurisdiction("US-CA"),
        )
        .expect("record");
    ledger
        .record(
            &who(1),
            &PLAN,
            &analytics.withdraw(purpose::ProductAnalytics),
            &Collection::new(Method::SaveChoices, Surface::Settings),
        )
        .expect("record");
}

#[test]
fn every_flipped_byte_is_reported_at_the_entry_it_belongs_to() {
    let dir = TempDir::new("flip");
    small_ledger(&dir.0);
    let file = dir.0.join("consent.ledger");
    let original = std::fs::read(&file).expect("read");
    let intact = Snapshot::read_dir(&dir.0).expect("read");
    assert!(
        intact.verification().is_intact(),
        "{:?}",
        intact.verification()
    );
    // A notice (the plan's texts) and three entries.
    assert_eq!(intact.verification().records, 4);
    assert_eq!(intact.entries().len(), 3);

    let starts = record_starts(&original);
    assert_eq!(starts.len(), 4);
    let copy = TempDir::new("flip-copy");
    std::fs::create_dir_all(&copy.0).expect("mkdir");
    for offset in 0..original.len() {
        for mask in [0x01u8, 0x80] {
            let mut bytes = original.clone();
            bytes[offset] ^= mask;
            std::fs::write(copy.0.join("consent.ledger"), &bytes).expect("write");
            let found = Snapshot::read_dir(&copy.0).expect("read");
            let broken =
                found.verification().broken.clone().unwrap_or_else(|| {
                    panic!("byte {offset} flipped with {mask:#04x} went unnoticed")
                });
            // The record holding the byte: the magic counts as the first record's.
            let record = starts.iter().rposition(|&s| s <= offset).unwrap_or(0);
            assert_eq!(
                broken.entry,
                record as u64 + 1,
                "byte {offset} ({mask:#04x}): {broken}"
            );
            let expected_offset = if offset < 8 { 0 } else { starts[record] as u64 };
            assert_eq!(
                broken.offset,
                Some(expected_offset),
                "byte {offset}: {broken}"
            );
            // Nothing after the break is trusted.
            assert_eq!(found.verification().records, record as u64);
        }
    }
}

#[test]
fn a_rewritten_entry_with_a_fixed_checksum_is_caught_by_the_chain() {
    let dir = TempDir::new("rewrite");
    small_ledger(&dir.0);
    let file = dir.0.join("consent.ledger");
    let mut bytes = std::fs::read(&file).expect("read");
    let starts = record_starts(&bytes);
    // Entry #2 (the first consent entry) says opt_in; make it say opt_out and fix the CRC,
    // as someone editing the file on purpose would.
    let (start, end) = (starts[1], starts[2]);
    let at = start
        + bytes[start..end]
            .windows(8)
            .position(|w| w == b"\"opt_in\"")
            .expect("entry #2 says opt_in");
    bytes[at..at + 8].copy_from_slice(b"\"opt_ot\"");
    let crc = crc32::crc32(&bytes[start + 8..end]);
    bytes[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&file, &bytes).expect("write");

    let broken = Snapshot::read_dir(&dir.0)
        .expect("read")
        .verification()
        .broken
        .clone()
        .expect("the forgery is found");
    assert_eq!(broken.entry, 2, "{broken}");
    assert!(broken.reason.contains("hash"), "{broken}");
    // And the ledger refuses to append to a broken chain.
    match Ledger::open(&dir.0) {
        Err(LedgerError::Broken { entry: 2, .. }) => {}
        other => panic!("expected Broken at #2, got {other:?}"),
    }
}

#[test]
fn entries_written_by_many_threads_are_all_present_and_chained() {
    let dir = TempDir::new("threads");
    let ledger = Ledger::open(&dir.0).expect("open");
    const THREADS: usize = 8;
    const EACH: usize = 40;
    let acknowledged: Vec<Vec<(String, EntryId)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let ledger = ledger.clone();
                s.spawn(move || {
                    (0..EACH)
                        .map(|i| {
                            let subject = who(t * 1000 + i % 5);
                            let consent = if i % 2 == 0 {
                                Consent::none().grant(purpose::ProductAnalytics)
                            } else {
                                Consent::none().grant(purpose::Advertising)
                            };
                            let id = ledger
                                .record(&subject, &PLAN, &consent, &accept())
                                .expect("record");
                            (subject, id)
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect()
    });
    drop(ledger);

    let snapshot = Snapshot::read_dir(&dir.0).expect("read");
    let v = snapshot.verification();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(
        v.records,
        (THREADS * EACH + 1) as u64,
        "every entry plus one notice"
    );
    let stored: HashMap<EntryId, &str> = snapshot
        .entries()
        .iter()
        .map(|e| (e.id, e.pii_principal_id.as_str()))
        .collect();
    let mut ids = HashSet::new();
    for (subject, id) in acknowledged.iter().flatten() {
        assert_eq!(stored.get(id), Some(&subject.as_str()), "entry {id}");
        assert!(ids.insert(*id), "{id} given twice");
    }
    // Each subject's entries supersede one another in order.
    let mut last: HashMap<&str, EntryId> = HashMap::new();
    for e in snapshot.entries() {
        assert_eq!(e.supersedes, last.get(e.pii_principal_id.as_str()).copied());
        last.insert(&e.pii_principal_id, e.id);
    }
}

#[test]
fn a_reopened_ledger_continues_the_chain() {
    let dir = TempDir::new("reopen");
    small_ledger(&dir.0);
    let ledger = Ledger::open(&dir.0).expect("reopen");
    let id = ledger
        .record(&who(2), &PLAN, &Consent::none(), &accept())
        .expect("record");
    // Notice #1, entries #2..#4 before.
    assert_eq!(id, EntryId(5));
    let history = ledger.history(&who(2)).expect("history");
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].supersedes, Some(history[0].id));
    assert!(ledger.verify().expect("verify").is_intact());
    // The directory is this ledger's while it is open.
    assert!(matches!(
        Ledger::open(&dir.0),
        Err(LedgerError::Locked { .. })
    ));
}

#[test]
fn an_entry_records_each_purpose_with_its_basis_method_surface_and_texts() {
    let dir = TempDir::new("fields");
    small_ledger(&dir.0);
    let snapshot = Snapshot::read_dir(&dir.0).expect("read");
    let gpc = &snapshot.history(&who(2))[0];
    assert_eq!(gpc.collection_method, Method::Gpc);
    assert_eq!(gpc.surface, Surface::Api);
    assert_eq!(gpc.jurisdiction.as_deref(), Some("US-CA"));
    assert!(gpc.gpc);
    assert_eq!(gpc.plan_label, "shop@3");
    assert_eq!(gpc.plan_hash, PLAN.hash);
    let states = support::choices(gpc);
    assert_eq!(
        states,
        [
            ("product_analytics", "consent", Preference::NotGiven, false),
            ("advertising", "consent", Preference::NotGiven, false),
            ("security", "legitimate_interest", Preference::OptOut, false),
            ("customer_support", "contract", Preference::NotGiven, true),
        ]
    );
    let notice = snapshot.notice(&gpc.notice_hash).expect("the texts shown");
    assert_eq!(notice.purposes.len(), PLAN.purposes.len());
    for (shown, planned) in notice.purposes.iter().zip(PLAN.purposes) {
        assert_eq!(shown.description, planned.description);
    }
    // The raw id is nowhere in the file.
    let bytes = std::fs::read(dir.0.join("consent.ledger")).expect("read");
    assert!(!contains(&bytes, b"user-2"));
    assert!(contains(&bytes, who(2).as_bytes()));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn raw_ids_and_foreign_consent_are_refused() {
    let dir = TempDir::new("raw");
    let ledger = Ledger::open(&dir.0).expect("open");
    for raw in [
        "user-1",
        "alice@example.com",
        "0000000:abc",
        "anon-not-a-uuid",
    ] {
        let err = ledger
            .record(raw, &PLAN, &Consent::none(), &accept())
            .expect_err(raw);
        assert!(matches!(err, LedgerError::NotPseudonymous), "{raw}: {err}");
        assert!(!err.to_string().contains(raw));
    }
    let foreign = Consent::none().grant(fixture::blog::purpose::ProductAnalytics);
    assert!(matches!(
        ledger.record(&who(1), &PLAN, &foreign, &accept()),
        Err(LedgerError::ForeignConsent { .. })
    ));
    assert_eq!(ledger.verify().expect("verify").records, 0);
}

#[test]
fn forget_keeps_a_pseudonymous_proof_marked_erased_by_default() {
    let dir = TempDir::new("forget-keep");
    small_ledger(&dir.0);
    let ledger = Ledger::open(&dir.0).expect("open");
    assert_eq!(
        ledger
            .forget(&who(1), ForgetProof::default())
            .expect("forget"),
        2
    );
    let history = ledger.history(&who(1)).expect("history");
    assert_eq!(
        history.len(),
        3,
        "both entries kept, an erasure entry added"
    );
    assert!(history.iter().all(|e| e.erased_subject));
    let erasure = &history[2];
    assert_eq!(erasure.collection_method, Method::Erasure);
    assert_eq!(erasure.supersedes, Some(history[1].id));
    // The consent and its withdrawal are still provable.
    assert_eq!(history[0].purposes[0].preference, Preference::OptIn);
    assert_eq!(history[1].purposes[0].preference, Preference::OptOut);
    // Others are untouched.
    assert!(!ledger.history(&who(2)).expect("history")[0].erased_subject);
    assert!(ledger.verify().expect("verify").is_intact());
}

#[test]
fn forget_with_delete_removes_the_proof_and_the_chain_still_verifies() {
    let dir = TempDir::new("forget-delete");
    small_ledger(&dir.0);
    let ledger = Ledger::open(&dir.0).expect("open");
    assert_eq!(
        ledger.forget(&who(1), ForgetProof::Delete).expect("forget"),
        2
    );
    assert!(ledger.history(&who(1)).expect("history").is_empty());
    let v = ledger.verify().expect("verify");
    assert!(v.is_intact(), "{v:?}");
    assert_eq!((v.records, v.deleted), (4, 2));
    assert_eq!(ledger.history(&who(2)).expect("history").len(), 1);
    let bytes = std::fs::read(dir.0.join("consent.ledger")).expect("read");
    assert!(
        !contains(&bytes, who(1).as_bytes()),
        "the distinct id left the file"
    );
    assert!(contains(&bytes, who(2).as_bytes()));
    // Appending after the rewrite continues the same chain, also after reopening.
    ledger
        .record(&who(3), &PLAN, &Consent::none(), &accept())
        .expect("record");
    drop(ledger);
    let reopened = Ledger::open(&dir.0).expect("reopen");
    let v = reopened.verify().expect("verify");
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.records, 5);
}

#[test]
fn a_reworded_purpose_needs_reconsent_from_those_who_saw_the_old_text() {
    let dir = TempDir::new("reconsent");
    let ledger = Ledger::open(&dir.0).expect("open");
    let both = Consent::none()
        .grant(purpose::ProductAnalytics)
        .grant(purpose::Advertising);
    ledger
        .record(&who(1), &PLAN, &both, &accept())
        .expect("record");

    // Under the plan they saw: nothing to ask.
    assert!(
        ledger
            .needs_reconsent(&who(1), &PLAN)
            .expect("check")
            .is_empty()
    );
    // Under the reworded plan: advertising only.
    let needs = ledger
        .needs_reconsent(&who(1), &reworded::PLAN)
        .expect("check");
    let ids: Vec<&str> = reworded::PLAN.purpose_ids(needs).collect();
    assert_eq!(ids, ["advertising"]);
    // Never asked: every consent-based purpose.
    let never: Vec<&str> = reworded::PLAN
        .purpose_ids(
            ledger
                .needs_reconsent(&who(9), &reworded::PLAN)
                .expect("check"),
        )
        .collect();
    assert_eq!(never, ["product_analytics", "advertising"]);

    // Asked again under the new plan, with the new texts stored as a second notice.
    let again = Consent::from_ids(&reworded::PLAN, ["product_analytics"]).expect("ids");
    ledger
        .record(&who(1), &reworded::PLAN, &again, &accept().reconsent())
        .expect("record");
    assert!(
        ledger
            .needs_reconsent(&who(1), &reworded::PLAN)
            .expect("check")
            .is_empty()
    );
    let snapshot = ledger.snapshot().expect("snapshot");
    let history = snapshot.history(&who(1));
    assert!(history[1].reconsent);
    assert_ne!(history[0].notice_hash, history[1].notice_hash);
    let old = snapshot.notice(&history[0].notice_hash).expect("old texts");
    let new = snapshot.notice(&history[1].notice_hash).expect("new texts");
    assert_eq!(old.plan_label, "shop@3");
    assert_eq!(new.plan_label, "shop@4");
    assert_ne!(
        old.purpose("advertising").map(|p| &p.description),
        new.purpose("advertising").map(|p| &p.description)
    );
}

fn tracker(ledger: Option<Ledger>) -> (Tracker, Memory) {
    let warehouse = Memory::new();
    let mut builder = Tracker::builder(&PLAN)
        .key(key())
        .sink(destination::Warehouse, warehouse.clone())
        .skip(destination::Mixpanel)
        .skip(destination::Ads)
        .skip(destination::SecurityLog)
        .skip(destination::SupportDesk);
    if let Some(ledger) = ledger {
        builder = builder.ledger(ledger);
    }
    (builder.build().expect("tracker"), warehouse)
}

fn page() -> PageViewed {
    PageViewed {
        url: "https://shop.example/".into(),
        ip_address: "203.0.113.9".to_string().into(),
    }
}

#[test]
fn a_subject_records_and_applies_its_consent() {
    let dir = TempDir::new("subject");
    let ledger = Ledger::open(&dir.0).expect("open");
    let (tracker, warehouse) = tracker(Some(ledger.clone()));
    let user = tracker.subject("user-7", Consent::none());
    let id = user
        .record_consent(
            Consent::none().grant(purpose::ProductAnalytics),
            Collection::new(Method::CliPrompt, Surface::CliPrompt),
        )
        .expect("record");
    user.track(page());
    tracker.flush().expect("flush");
    assert_eq!(warehouse.len(), 1);
    let history = ledger
        .history(&tracker.distinct_id("user-7"))
        .expect("history");
    assert_eq!(history.iter().map(|e| e.id).collect::<Vec<_>>(), [id]);
    assert_eq!(history[0].pii_principal_id, user.distinct_id());
    assert!(tracker.ledger().is_some());
}

#[test]
fn without_a_ledger_a_grant_is_not_applied_but_a_withdrawal_is() {
    let (tracker, warehouse) = tracker(None);
    let user = tracker.subject("user-8", Consent::none().grant(purpose::ProductAnalytics));
    let err = user
        .record_consent(
            Consent::none()
                .grant(purpose::ProductAnalytics)
                .grant(purpose::Advertising),
            accept(),
        )
        .expect_err("no ledger");
    assert!(matches!(err, LedgerError::NoLedger), "{err}");
    assert!(
        !user.consent().permits(purpose::Advertising),
        "unproven grant applied"
    );
    assert!(user.consent().permits(purpose::ProductAnalytics));
    let _ = user.record_consent(Consent::none(), accept());
    assert!(
        !user.consent().permits(purpose::ProductAnalytics),
        "withdrawal not applied"
    );
    user.track(page());
    tracker.flush().expect("flush");
    assert_eq!(warehouse.len(), 0);
}

#[test]
fn the_last_consent_comes_back_after_a_restart_without_grants_that_need_reconsent() {
    let dir = TempDir::new("last");
    let consent = Consent::none()
        .grant(purpose::ProductAnalytics)
        .grant_explicit(purpose::Advertising)
        .object(purpose::Security)
        .with_gpc(true);
    {
        let ledger = Ledger::open(&dir.0).expect("open");
        ledger
            .record(&who(1), &PLAN, &consent, &accept())
            .expect("record");
    }
    let ledger = Ledger::open(&dir.0).expect("reopen");
    assert_eq!(
        ledger.last_consent(&who(1), &PLAN).expect("read"),
        Some(consent)
    );
    assert_eq!(ledger.last_consent(&who(2), &PLAN).expect("read"), None);
    // Under the reworded plan the advertising grant is not carried over.
    let next = ledger
        .last_consent(&who(1), &reworded::PLAN)
        .expect("read")
        .expect("some");
    assert_eq!(next.to_ids(), ["product_analytics"]);
    assert_eq!(next.objected_ids(), ["security"]);
    assert!(next.gpc());
    // Erased: nothing to start from.
    ledger.forget(&who(1), ForgetProof::Keep).expect("forget");
    assert_eq!(ledger.last_consent(&who(1), &PLAN).expect("read"), None);
}
