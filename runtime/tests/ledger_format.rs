//! The ledger's entry payloads across format versions: a ledger written before the compact
//! entry form (version 1, `tests/ledger/v1/consent.ledger`) still reads and verifies, decodes
//! to the same entries the current code records for the same choices, takes new (version 2)
//! entries on the same chain, and forgets subjects whose entries are of either version; a
//! compact entry that does not decode (unknown version, lists that do not fit its notice) is
//! a break at that entry even when its digest, chain hash and checksum were recomputed.
//!
//! The fixture was written by the code of commit bd4ff7c (the last with version 1 entries)
//! running [`record_history`] as it is here; its principals are `who(n)` under key `07…07`.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

#[path = "support/crc32.rs"]
mod crc32;
mod fixture;
#[path = "ledger/support.rs"]
mod support;

use std::path::{Path, PathBuf};

use fixture::shop::*;
use trackplan_runtime::consent::{
    Collection, ForgetProof, Ledger, LedgerEntry, Method, Preference, Snapshot, Surface,
};
use trackplan_runtime::{Consent, Key};

/// The fixture shop at version 4, the `advertising` text reworded.
mod reworded {
    trackplan_macros::plan!("tests/ledger/shop_reworded.toml");
}

const V1: &str = "tests/ledger/v1";

/// A fresh directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "trackplan-ledger-format-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }

    /// A fresh directory holding a copy of the version 1 fixture.
    fn with_v1(name: &str) -> TempDir {
        let dir = TempDir::new(name);
        std::fs::create_dir_all(&dir.0).expect("mkdir");
        std::fs::copy(
            Path::new(V1).join("consent.ledger"),
            dir.0.join("consent.ledger"),
        )
        .expect("copy the fixture");
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn who(n: usize) -> String {
    Key::from_hex(&"07".repeat(32))
        .unwrap_or_else(|e| panic!("{e}"))
        .pseudonymize(&format!("user-{n}"))
}

/// Choices of four subjects under two plan versions (two notices), at fixed times, then the
/// second subject forgotten with its proof kept.
fn record_history(dir: &Path) {
    let ledger = Ledger::open(dir).expect("open");
    let at = |n: i64| 1_790_000_000_000 + n * 1000;
    let record = |n: usize, plan, consent: Consent, how: Collection| {
        ledger
            .record(&who(n), plan, &consent, &how)
            .expect("record");
    };
    record(
        1,
        &PLAN,
        Consent::none()
            .grant(purpose::ProductAnalytics)
            .grant(purpose::Advertising),
        Collection::new(Method::Accept, Surface::Banner)
            .jurisdiction("DE")
            .at(at(1)),
    );
    record(
        2,
        &PLAN,
        Consent::from_gpc(true).object(purpose::Security),
        Collection::new(Method::Gpc, Surface::Api)
            .jurisdiction("US-CA")
            .at(at(2)),
    );
    record(
        3,
        &PLAN,
        Consent::none().grant_explicit(purpose::ProductAnalytics),
        Collection::new(Method::SaveChoices, Surface::Settings).at(at(3)),
    );
    record(
        1,
        &reworded::PLAN,
        Consent::none().grant(reworded::purpose::Advertising),
        Collection::new(Method::SaveChoices, Surface::Settings)
            .reconsent()
            .at(at(4)),
    );
    record(
        3,
        &PLAN,
        Consent::none().opt_out_all(),
        Collection::new(Method::Reject, Surface::Banner).at(at(5)),
    );
    record(
        4,
        &PLAN,
        Consent::none(),
        Collection::new(Method::CliPrompt, Surface::CliPrompt).at(at(6)),
    );
    ledger.forget(&who(2), ForgetProof::Keep).expect("forget");
}

/// What an entry says, without its chain hash (it covers the payload's bytes, which differ
/// between versions) and the erasure's time (the time of `forget`).
fn meaning(e: &LedgerEntry) -> LedgerEntry {
    let mut e = e.clone();
    e.hash = String::new();
    if e.collection_method == Method::Erasure {
        e.consent_timestamp_ms = 0;
    }
    e
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_version_1_ledger_reads_as_what_the_compact_form_records_for_the_same_choices() {
    let bytes = std::fs::read(Path::new(V1).join("consent.ledger")).expect("fixture");
    assert!(
        contains(
            &bytes,
            br#"{"purpose":"product_analytics","legal_basis":"consent""#
        ),
        "the fixture holds version 1 entries"
    );
    let old = Snapshot::read_dir(V1).expect("read the version 1 ledger");
    assert!(old.verification().is_intact(), "{:?}", old.verification());
    // 2 notices, 6 choices, 1 erasure.
    assert_eq!(old.verification().records, 9);
    assert_eq!(old.entries().len(), 7);

    let dir = TempDir::new("same");
    record_history(&dir.0);
    let new = Snapshot::read_dir(&dir.0).expect("read the new ledger");
    assert!(new.verification().is_intact(), "{:?}", new.verification());
    let new_bytes = std::fs::read(dir.0.join("consent.ledger")).expect("new file");
    assert!(
        !contains(&new_bytes, br#""legal_basis":"consent","preference""#)
            && contains(&new_bytes, br#""v":2"#),
        "new entries are compact"
    );
    assert!(
        new_bytes.len() < bytes.len(),
        "compact entries take less room: {} bytes against {}",
        new_bytes.len(),
        bytes.len()
    );

    let old: Vec<_> = old.entries().iter().map(meaning).collect();
    let new: Vec<_> = new.entries().iter().map(meaning).collect();
    assert_eq!(old, new);

    // And the decoded entries say what was recorded, purpose by purpose.
    let first = &new[0];
    assert_eq!(first.pii_principal_id, who(1));
    assert_eq!(first.jurisdiction.as_deref(), Some("DE"));
    let choices = support::choices(first);
    assert_eq!(
        choices,
        [
            ("product_analytics", "consent", Preference::OptIn, true),
            ("advertising", "consent", Preference::OptIn, true),
            (
                "security",
                "legitimate_interest",
                Preference::NotGiven,
                true
            ),
            ("customer_support", "contract", Preference::NotGiven, true),
        ]
    );
    let gpc = &new[1];
    assert!(gpc.gpc && gpc.erased_subject);
    assert_eq!(
        gpc.purposes
            .iter()
            .map(|p| (p.preference, p.permitted))
            .collect::<Vec<_>>(),
        [
            (Preference::NotGiven, false),
            (Preference::NotGiven, false),
            (Preference::OptOut, false),
            (Preference::NotGiven, true),
        ]
    );
    assert_eq!(new[2].purposes[0].preference, Preference::OptInExplicit);
    assert_eq!(new[3].plan_label, reworded::PLAN.label);
    assert!(new[3].reconsent);
    assert!(new[4].opt_out_all && new[4].purposes.iter().all(|p| !p.permitted));
    assert_eq!(new[6].collection_method, Method::Erasure);
    assert!(new[6].purposes.is_empty());
}

#[test]
fn a_version_1_ledger_takes_compact_entries_on_its_chain_and_forgets_across_both() {
    let dir = TempDir::with_v1("append");
    let ledger = Ledger::open(&dir.0).expect("open the version 1 ledger for appending");
    let head = ledger.verify().expect("verify").head.expect("a head");

    // A subject of the old entries chooses again, and a new one arrives.
    let id = ledger
        .record(
            &who(1),
            &PLAN,
            &Consent::none().grant(purpose::ProductAnalytics),
            &Collection::new(Method::SaveChoices, Surface::Settings),
        )
        .expect("record");
    ledger
        .record(
            &who(5),
            &PLAN,
            &Consent::none().grant(purpose::Advertising),
            &Collection::new(Method::Accept, Surface::Banner),
        )
        .expect("record");
    let v = ledger.verify().expect("verify");
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.records, 11);
    let history = ledger.history(&who(1)).expect("history");
    assert_eq!(history.len(), 3);
    assert_eq!(history[2].id, id);
    assert_eq!(history[2].supersedes, Some(history[1].id));
    assert_eq!(
        ledger.last_consent(&who(1), &PLAN).expect("last"),
        Some(Consent::none().grant(purpose::ProductAnalytics))
    );

    // Forgetting with the proof kept reads the subject's last entry, version 1 here.
    assert_eq!(
        ledger.forget(&who(3), ForgetProof::Keep).expect("forget"),
        2
    );
    let erasure = ledger
        .history(&who(3))
        .expect("history")
        .pop()
        .expect("one");
    assert_eq!(erasure.collection_method, Method::Erasure);
    assert_eq!(erasure.surface, Surface::Banner);
    assert!(erasure.opt_out_all);
    // Deleting the proof of a subject with entries of both versions.
    assert_eq!(
        ledger.forget(&who(1), ForgetProof::Delete).expect("forget"),
        3
    );
    assert!(ledger.history(&who(1)).expect("history").is_empty());
    drop(ledger);

    let snapshot = Snapshot::read_dir(&dir.0).expect("read");
    let v = snapshot.verification();
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.deleted, 3);
    // The old chain is still the start of the new one: its head is a record's hash.
    let hashes: Vec<_> = snapshot.entries().iter().map(|e| e.hash.clone()).collect();
    assert!(
        hashes.contains(&head),
        "the chain continues from the old head"
    );
    assert_eq!(snapshot.history(&who(5)).len(), 1);
}

/// Replaces the payload of the file's last record with `edit(payload)` and re-chains it as a
/// careful forger would (digest, chain hash and checksum recomputed), so only decoding can
/// object.
fn rewrite_last_payload(file: &Path, edit: impl Fn(&str) -> String) {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(file).expect("read");
    let mut at = 8;
    let mut last = at;
    while at < bytes.len() {
        last = at;
        at += 8 + u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
    }
    let body = &bytes[last + 8..];
    let (kind, seq, prev) = (body[0], &body[2..10], &body[10..42]);
    let payload = edit(std::str::from_utf8(&body[74..]).expect("JSON"));
    let digest = Sha256::digest(payload.as_bytes());
    let mut link = Sha256::new();
    link.update(b"trackplan-ledger-v1");
    link.update(seq);
    link.update(prev);
    link.update([kind]);
    link.update(digest);
    let mut new_body = body[..42].to_vec();
    new_body.extend_from_slice(&link.finalize());
    new_body.extend_from_slice(payload.as_bytes());
    let mut out = bytes[..last].to_vec();
    out.extend_from_slice(&(new_body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32::crc32(&new_body).to_le_bytes());
    out.extend_from_slice(&new_body);
    std::fs::write(file, out).expect("write");
}

/// How a case changes a payload.
type Edit = fn(&str) -> String;

#[test]
fn a_compact_entry_that_does_not_decode_is_reported_at_its_entry_even_when_rechained() {
    let cases: [(&str, Edit, &str); 3] = [
        (
            "version",
            |p| p.replace(r#""v":2"#, r#""v":3"#),
            "unknown entry version 3",
        ),
        (
            "lengths",
            |p| p.replace(r#""permitted":[true,"#, r#""permitted":["#),
            "differ in length",
        ),
        (
            "extra",
            |p| {
                p.replace(r#""preferences":["#, r#""preferences":["opt_in","#)
                    .replace(r#""permitted":["#, r#""permitted":[true,"#)
            },
            "more purposes than its notice",
        ),
    ];
    for (name, edit, reason) in cases {
        let dir = TempDir::new(name);
        let ledger = Ledger::open(&dir.0).expect("open");
        for n in 0..3 {
            ledger
                .record(
                    &who(n),
                    &PLAN,
                    &Consent::none().grant(purpose::ProductAnalytics),
                    &Collection::new(Method::Accept, Surface::Banner),
                )
                .expect("record");
        }
        drop(ledger);
        rewrite_last_payload(&dir.0.join("consent.ledger"), edit);
        let snapshot = Snapshot::read_dir(&dir.0).expect("read");
        let broken = snapshot
            .verification()
            .broken
            .clone()
            .unwrap_or_else(|| panic!("{name}: the bad entry is found"));
        // A notice, then three entries: the last is #4.
        assert_eq!(broken.entry, 4, "{name}: {broken}");
        assert!(broken.reason.contains(reason), "{name}: {broken}");
        assert_eq!(
            snapshot.entries().len(),
            2,
            "{name}: the entries before it read"
        );
        assert!(
            matches!(
                Ledger::open(&dir.0),
                Err(trackplan_runtime::consent::LedgerError::Broken { entry: 4, .. })
            ),
            "{name}: the ledger refuses to append"
        );
    }
}
