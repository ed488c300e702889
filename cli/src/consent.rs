//! `trackplan consent verify|export|stats`: the consent ledger an application records with
//! `trackplan_runtime::consent::Ledger`, read without opening it for writing (it works while
//! the application runs).
//!
//! The ledger holds distinct ids (`<key id>:<HMAC>`), never raw ids: `export` pseudonymizes
//! the id it is given with the key from an environment variable, exactly as the tracker does,
//! and prints neither the raw id nor the key.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde_json::json;
use trackplan_runtime::Timestamp;
use trackplan_runtime::consent::{LedgerEntry, LedgerError, Method, Preference, Snapshot};

/// Why a consent command failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// The ledger could not be read.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// A PostgreSQL URL, but this build has no PostgreSQL client.
    #[cfg(not(feature = "postgres"))]
    #[error(
        "{0} is a PostgreSQL URL, but this trackplan was built without PostgreSQL support: \
         install it with `cargo install trackplan-cli --features postgres`"
    )]
    NoPostgres(String),
    /// Writing the report failed.
    #[error("standard output: {0}")]
    Write(#[from] io::Error),
}

/// A plan file given with `--plan`: its content hash and purpose texts, to recompute what an
/// entry recorded under that plan version showed.
#[derive(Debug)]
pub struct PlanTexts {
    /// The file, as given.
    pub path: String,
    /// SHA-256 of its text (what `PlanInfo::hash` and an entry's `plan_hash` hold).
    pub hash: String,
    /// `(id, legal basis, description, sale_or_share)` per purpose, in plan order.
    pub purposes: Vec<(String, &'static str, String, bool)>,
}

impl PlanTexts {
    /// The texts of a checked plan read from `path` with text `text`.
    pub fn of(path: &str, text: &str, plan: &trackplan_model::Plan) -> PlanTexts {
        PlanTexts {
            path: path.to_owned(),
            hash: trackplan_model::content_hash(text),
            purposes: plan
                .purposes
                .iter()
                .map(|p| {
                    (
                        p.id.value.clone(),
                        p.basis.value.key(),
                        p.description.value.clone(),
                        p.sale_or_share.value,
                    )
                })
                .collect(),
        }
    }
}

/// How the texts a plan file gives compare with the notice an entry names: `None` when no
/// given plan file is the entry's plan version; otherwise the file and the purposes whose
/// recomputed text differs from the recorded one (empty: all match).
fn recompute<'p>(
    snapshot: &Snapshot,
    e: &LedgerEntry,
    plans: &'p [PlanTexts],
) -> Option<(&'p PlanTexts, Vec<String>)> {
    let plan = plans.iter().find(|p| p.hash == e.plan_hash)?;
    let notice = snapshot.notice(&e.notice_hash);
    let differ = plan
        .purposes
        .iter()
        .filter(|(id, basis, text, sale)| {
            notice.and_then(|n| n.purpose(id)).is_none_or(|shown| {
                shown.description != *text
                    || shown.legal_basis.key() != *basis
                    || shown.sale_or_share != *sale
            })
        })
        .map(|(id, ..)| id.clone())
        .collect();
    Some((plan, differ))
}

/// Reads the ledger at `store`: a directory, or a `postgres://` URL; an encrypted directory
/// with `keys`.
pub fn read(store: &str, keys: Option<&crate::subject::Keys>) -> Result<Snapshot, ConsentError> {
    if store.starts_with("postgres://") || store.starts_with("postgresql://") {
        #[cfg(feature = "postgres")]
        return Ok(Snapshot::read_url(store)?);
        #[cfg(not(feature = "postgres"))]
        return Err(ConsentError::NoPostgres(redact_url(store)));
    }
    match keys {
        #[cfg(feature = "encryption")]
        Some(keys) => Ok(Snapshot::read_dir_encrypted(store, keys)?),
        #[cfg(not(feature = "encryption"))]
        Some(never) => match *never {},
        None => Ok(Snapshot::read_dir(store)?),
    }
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn iso(ms: i64) -> String {
    Timestamp::from_unix_millis(ms).iso8601().to_string()
}

/// Prints what checking the chain found; whether it is intact.
pub fn verify(snapshot: &Snapshot, store: &str, out: &mut dyn Write) -> Result<bool, ConsentError> {
    let v = snapshot.verification();
    match &v.broken {
        None => {
            writeln!(
                out,
                "{store}: chain intact, {} record(s) ({} entries, {} deleted by forget)",
                v.records,
                snapshot.entries().len(),
                v.deleted
            )?;
            if let Some(head) = &v.head {
                writeln!(out, "head {head}")?;
            }
            Ok(true)
        }
        Some(b) => {
            writeln!(out, "{store}: chain BROKEN at {b}")?;
            writeln!(
                out,
                "the {} record(s) before it verify{}",
                v.records,
                v.head
                    .as_deref()
                    .map(|h| format!(" (last good hash {h})"))
                    .unwrap_or_default()
            )?;
            Ok(false)
        }
    }
}

/// Prints the subject's entries, each with the texts shown; how many there were.
pub fn export(
    snapshot: &Snapshot,
    distinct_id: &str,
    plans: &[PlanTexts],
    json_format: bool,
    out: &mut dyn Write,
) -> Result<usize, ConsentError> {
    let history = snapshot.history(distinct_id);
    if json_format {
        let entries: Vec<serde_json::Value> = history
            .iter()
            .map(|e| entry_json(snapshot, e, plans))
            .collect();
        let doc = json!({
            "pii_principal_id": distinct_id,
            "chain_intact": snapshot.verification().is_intact(),
            "entries": entries,
        });
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::other)?;
        writeln!(out)?;
        return Ok(history.len());
    }
    writeln!(
        out,
        "subject {distinct_id} (pseudonymous: the raw id is not stored)"
    )?;
    if !snapshot.verification().is_intact() {
        writeln!(
            out,
            "WARNING: the ledger's chain is broken; only the entries before the break are shown"
        )?;
    }
    if history.is_empty() {
        writeln!(out, "no entries")?;
    }
    for e in &history {
        writeln!(out)?;
        write!(
            out,
            "entry #{}  {}  {} on {}",
            e.id.0,
            iso(e.consent_timestamp_ms),
            e.collection_method,
            e.surface
        )?;
        if let Some(j) = &e.jurisdiction {
            write!(out, "  jurisdiction {j}")?;
        }
        if let Some(s) = e.supersedes {
            write!(out, "  supersedes #{}", s.0)?;
        }
        writeln!(out)?;
        writeln!(out, "  plan {} (sha256 {})", e.plan_label, e.plan_hash)?;
        match recompute(snapshot, e, plans) {
            Some((plan, differ)) if differ.is_empty() => writeln!(
                out,
                "  texts recomputed from {}: the same as recorded",
                plan.path
            )?,
            Some((plan, differ)) => writeln!(
                out,
                "  texts recomputed from {} DIFFER from those recorded for: {}",
                plan.path,
                differ.join(", ")
            )?,
            None => {}
        }
        let mut flags = Vec::new();
        if e.reconsent {
            flags.push("answer to a re-ask after a plan change");
        }
        if e.gpc {
            flags.push("Global Privacy Control seen and honoured");
        }
        if e.opt_out_all {
            flags.push("opted out of everything");
        }
        if e.erased_subject {
            flags.push("subject erased since (proof kept)");
        }
        for f in flags {
            writeln!(out, "  {f}")?;
        }
        if e.collection_method == Method::Erasure {
            writeln!(out, "  the subject's data was erased here")?;
            continue;
        }
        let notice = snapshot.notice(&e.notice_hash);
        if notice.is_none() {
            writeln!(
                out,
                "  texts shown: MISSING (notice {} not in the ledger)",
                e.notice_hash
            )?;
        }
        for p in &e.purposes {
            writeln!(
                out,
                "  {:<24} {:<20} {:<16} {}",
                p.purpose,
                p.legal_basis.key(),
                p.preference.key(),
                if p.permitted {
                    "permitted"
                } else {
                    "not permitted"
                }
            )?;
            if let Some(shown) = notice.and_then(|n| n.purpose(&p.purpose)) {
                writeln!(out, "      shown: {:?}", shown.description)?;
            }
        }
    }
    Ok(history.len())
}

fn entry_json(snapshot: &Snapshot, e: &LedgerEntry, plans: &[PlanTexts]) -> serde_json::Value {
    let notice = snapshot.notice(&e.notice_hash);
    let recomputed = recompute(snapshot, e, plans);
    let purposes: Vec<serde_json::Value> = e
        .purposes
        .iter()
        .map(|p| {
            json!({
                "purpose": p.purpose,
                "legal_basis": p.legal_basis.key(),
                "preference": p.preference.key(),
                "permitted": p.permitted,
                "text_shown": notice.and_then(|n| n.purpose(&p.purpose)).map(|s| s.description.clone()),
            })
        })
        .collect();
    json!({
        "entry_id": e.id.0,
        "consent_timestamp": iso(e.consent_timestamp_ms),
        "collection_method": e.collection_method.key(),
        "surface": e.surface.key(),
        "jurisdiction": e.jurisdiction,
        "plan_label": e.plan_label,
        "plan_hash": e.plan_hash,
        "notice_hash": e.notice_hash,
        "supersedes": e.supersedes.map(|s| s.0),
        "reconsent": e.reconsent,
        "gpc": e.gpc,
        "opt_out_all": e.opt_out_all,
        "erased_subject": e.erased_subject,
        "purposes": purposes,
        "entry_hash": e.hash,
        "texts_recomputed_from": recomputed.as_ref().map(|(p, _)| p.path.clone()),
        "texts_differ_for": recomputed.map(|(_, d)| d),
    })
}

/// Prints counts per method, and per purpose the subjects' current preferences.
pub fn stats(snapshot: &Snapshot, out: &mut dyn Write) -> Result<(), ConsentError> {
    let entries = snapshot.entries();
    let mut methods: BTreeMap<&str, usize> = BTreeMap::new();
    let mut latest: BTreeMap<&str, &LedgerEntry> = BTreeMap::new();
    for e in entries {
        *methods.entry(e.collection_method.key()).or_default() += 1;
        latest.insert(&e.pii_principal_id, e);
    }
    let erased = latest.values().filter(|e| e.erased_subject).count();
    let current: Vec<&&LedgerEntry> = latest.values().filter(|e| !e.erased_subject).collect();
    writeln!(
        out,
        "{} entries, {} subjects ({} erased, proof kept), {} entries deleted by forget",
        entries.len(),
        latest.len(),
        erased,
        snapshot.verification().deleted
    )?;
    if !snapshot.verification().is_intact() {
        writeln!(out, "WARNING: the chain is broken; counted up to the break")?;
    }
    writeln!(out)?;
    writeln!(out, "entries per method")?;
    for (m, n) in &methods {
        writeln!(out, "  {m:<12} {n}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "current choice per purpose (each subject's last entry)\n  {:<24} {:>7} {:>16} {:>8} {:>10} {:>10}",
        "purpose", "opt_in", "opt_in_explicit", "opt_out", "not_given", "permitted"
    )?;
    let mut per: BTreeMap<&str, [usize; 5]> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for e in &current {
        for p in &e.purposes {
            let row = per.entry(&p.purpose).or_insert_with(|| {
                order.push(&p.purpose);
                [0; 5]
            });
            let i = match p.preference {
                Preference::OptIn => 0,
                Preference::OptInExplicit => 1,
                Preference::OptOut => 2,
                _ => 3,
            };
            row[i] += 1;
            if p.permitted {
                row[4] += 1;
            }
        }
    }
    for purpose in order {
        let r = per[purpose];
        writeln!(
            out,
            "  {purpose:<24} {:>7} {:>16} {:>8} {:>10} {:>10}",
            r[0], r[1], r[2], r[3], r[4]
        )?;
    }
    Ok(())
}
