//! The consent ledger's PostgreSQL store against a real, throwaway server (started by
//! `support/postgres.rs`; without the server binaries the tests fail naming `scripts/setup`):
//! several instances append to one chain, a row changed in the table is reported at its
//! entry, and forget keeps or deletes the proof.

// The fixture is generated code, which names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

mod fixture;
#[path = "support/postgres.rs"]
mod pg;

use std::collections::{HashMap, HashSet};

use fixture::shop::*;
use pg::PgServer;
use trackplan_runtime::consent::{
    Collection, EntryId, ForgetProof, Ledger, Method, Preference, Snapshot, Surface,
};
use trackplan_runtime::{Consent, Key};

fn who(n: usize) -> String {
    Key::from_hex(&"07".repeat(32))
        .unwrap_or_else(|e| panic!("{e}"))
        .pseudonymize(&format!("user-{n}"))
}

fn accept() -> Collection {
    Collection::new(Method::Accept, Surface::Banner)
}

#[test]
fn several_instances_append_to_one_intact_chain() {
    let server = PgServer::start();
    const INSTANCES: usize = 3;
    const THREADS: usize = 2;
    const EACH: usize = 25;
    let acked: Vec<(String, EntryId)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..INSTANCES * THREADS)
            .map(|n| {
                let url = server.url();
                s.spawn(move || {
                    // Each thread its own connection: an app instance of its own.
                    let ledger = Ledger::connect(&url).unwrap_or_else(|e| panic!("{e}"));
                    (0..EACH)
                        .map(|i| {
                            let subject = who(n * 100 + i % 4);
                            let consent = if i.is_multiple_of(2) {
                                Consent::none().grant(purpose::ProductAnalytics)
                            } else {
                                Consent::none().object(purpose::Security)
                            };
                            let id = ledger
                                .record(&subject, &PLAN, &consent, &accept())
                                .unwrap_or_else(|e| panic!("{e}"));
                            (subject, id)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });

    let snapshot = Snapshot::read_url(&server.url()).unwrap_or_else(|e| panic!("{e}"));
    let v = snapshot.verification();
    assert!(v.is_intact(), "{v:?}");
    let total = INSTANCES * THREADS * EACH;
    assert_eq!(v.records, total as u64 + 1, "every entry and one notice");
    let stored: HashMap<EntryId, &str> = snapshot
        .entries()
        .iter()
        .map(|e| (e.id, e.pii_principal_id.as_str()))
        .collect();
    let mut ids = HashSet::new();
    for (subject, id) in &acked {
        assert_eq!(stored.get(id), Some(&subject.as_str()), "entry {id}");
        assert!(ids.insert(*id), "{id} given twice");
    }
    let mut last: HashMap<&str, EntryId> = HashMap::new();
    for e in snapshot.entries() {
        assert_eq!(e.supersedes, last.get(e.pii_principal_id.as_str()).copied());
        last.insert(&e.pii_principal_id, e.id);
    }
}

fn three_entries(url: &str) -> Ledger {
    let ledger = Ledger::connect(url).unwrap_or_else(|e| panic!("{e}"));
    for (n, consent) in [
        (1, Consent::none().grant(purpose::ProductAnalytics)),
        (2, Consent::from_gpc(true)),
        (1, Consent::none()),
    ] {
        ledger
            .record(&who(n), &PLAN, &consent, &accept())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    ledger
}

#[test]
fn a_changed_or_removed_row_is_reported_at_its_entry() {
    let server = PgServer::start();
    let ledger = three_entries(&server.url());
    assert!(ledger.verify().expect("verify").is_intact());
    let mut client = server.client();

    // Entry #3 (user-2's GPC) rewritten to say it granted everything.
    client
        .execute(
            "UPDATE trackplan_consent_ledger \
             SET payload = convert_to(replace(convert_from(payload, 'UTF8'), '\"gpc\":true', '\"gpc\":false'), 'UTF8') \
             WHERE seq = 3",
            &[],
        )
        .expect("update");
    let broken = ledger.verify().expect("verify").broken.expect("found");
    assert_eq!(broken.entry, 3, "{broken}");
    assert!(broken.reason.contains("digest"), "{broken}");

    // With its digest "fixed" too, the stored hash no longer matches.
    client
        .execute(
            "UPDATE trackplan_consent_ledger SET digest = sha256(payload) WHERE seq = 3",
            &[],
        )
        .expect("update");
    let broken = ledger.verify().expect("verify").broken.expect("found");
    assert_eq!(broken.entry, 3, "{broken}");
    assert!(broken.reason.contains("hash"), "{broken}");

    // A row removed: the gap is reported where it is.
    client
        .execute("DELETE FROM trackplan_consent_ledger WHERE seq = 2", &[])
        .expect("delete");
    let broken = ledger.verify().expect("verify").broken.expect("found");
    assert_eq!(broken.entry, 2, "{broken}");
}

#[test]
fn forget_keeps_or_deletes_the_proof_in_postgres() {
    let server = PgServer::start();
    let ledger = three_entries(&server.url());

    assert_eq!(ledger.forget(&who(1), ForgetProof::Keep).expect("keep"), 2);
    let history = ledger.history(&who(1)).expect("history");
    assert_eq!(history.len(), 3);
    assert!(history.iter().all(|e| e.erased_subject));
    assert_eq!(history[0].purposes[0].preference, Preference::OptIn);
    assert_eq!(history[2].collection_method, Method::Erasure);

    assert_eq!(
        ledger.forget(&who(1), ForgetProof::Delete).expect("delete"),
        3
    );
    assert!(ledger.history(&who(1)).expect("history").is_empty());
    let v = ledger.verify().expect("verify");
    assert!(v.is_intact(), "{v:?}");
    assert_eq!(v.deleted, 3);
    let mut client = server.client();
    let left: i64 = client
        .query_one(
            "SELECT count(*) FROM trackplan_consent_ledger \
             WHERE principal = $1 OR position(convert_to($1, 'UTF8') in coalesce(payload, '')) > 0",
            &[&who(1)],
        )
        .expect("count")
        .get(0);
    assert_eq!(left, 0, "the distinct id left the table");
    // Others stay, and the chain goes on.
    assert_eq!(ledger.history(&who(2)).expect("history").len(), 1);
    ledger
        .record(&who(3), &PLAN, &Consent::none(), &accept())
        .expect("record");
    assert!(ledger.verify().expect("verify").is_intact());
}

#[test]
fn a_restarted_server_costs_the_calls_made_while_it_was_down_not_the_ledger() {
    let server = PgServer::start();
    let ledger = three_entries(&server.url());
    server.stop();
    let err = ledger
        .record(&who(4), &PLAN, &Consent::none(), &accept())
        .expect_err("the server is down");
    assert!(err.to_string().contains("PostgreSQL"), "{err}");
    server.start_again();
    let id = ledger
        .record(&who(4), &PLAN, &Consent::none(), &accept())
        .expect("reconnected");
    // Nothing half-written by the failed call: the next entry follows #4.
    assert_eq!(id, EntryId(5));
    assert!(ledger.verify().expect("verify").is_intact());
}
