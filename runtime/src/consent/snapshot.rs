//! [`Snapshot`]: a ledger read whole, its chain checked, its entries and notices decoded.

use std::collections::HashMap;
use std::path::Path;

use super::chain::{self, Break, ENTRY, GENESIS, NOTICE, Verification};
use super::entry::{LedgerEntry, Method};
use super::ledger_error::LedgerError;
use super::notice::Notice;
use super::payload;

/// One stored record, as a store read it.
pub(crate) struct Raw {
    pub seq: u64,
    pub kind: u8,
    pub prev: [u8; 32],
    /// SHA-256 of the payload; for a deleted entry, all that is left of it.
    pub digest: [u8; 32],
    /// The chain hash stored with the record.
    pub hash: [u8; 32],
    /// `None` once deleted (`ForgetProof::Delete`).
    pub payload: Option<Vec<u8>>,
    /// Byte offset in the ledger file (local-file store).
    pub offset: Option<u64>,
}

/// A ledger as read at one moment: its entries and the notices (purpose texts) they were
/// recorded under, decoded up to the first record that does not verify, and what checking
/// the chain found. Read one from a live [`Ledger`](super::Ledger) with
/// [`Ledger::snapshot`](super::Ledger::snapshot), or from a directory with
/// [`Snapshot::read_dir`] (read-only: no lock, so it works while the app writes).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    entries: Vec<LedgerEntry>,
    pub(crate) notices: HashMap<String, Notice>,
    verification: Verification,
}

impl Snapshot {
    /// Reads the local-file ledger in `dir` without opening it for writing.
    pub fn read_dir(dir: impl AsRef<Path>) -> Result<Snapshot, LedgerError> {
        let (raws, tail) = super::file_store::read_file(dir.as_ref(), &None)?;
        Ok(Snapshot::from_raw(raws, tail))
    }

    /// Reads the encrypted local-file ledger in `dir` with `keys` (read-only, as
    /// [`Snapshot::read_dir`]). A plain ledger reads too.
    #[cfg(feature = "encryption")]
    pub fn read_dir_encrypted(
        dir: impl AsRef<Path>,
        keys: &crate::crypt::Keyring,
    ) -> Result<Snapshot, LedgerError> {
        let keys = Some(std::sync::Arc::new(keys.clone()));
        let (raws, tail) = super::file_store::read_file(dir.as_ref(), &keys)?;
        Ok(Snapshot::from_raw(raws, tail))
    }

    /// Reads the PostgreSQL ledger at `url`.
    #[cfg(feature = "postgres")]
    pub fn read_url(url: &str) -> Result<Snapshot, LedgerError> {
        super::pg_store::PgStore::connect(url)?.snapshot_now()
    }

    /// Every verified entry, oldest first (notices not included).
    pub fn entries(&self) -> &[LedgerEntry] {
        &self.entries
    }

    /// The entries of the subject with this distinct id, oldest first.
    pub fn history(&self, pii_principal_id: &str) -> Vec<LedgerEntry> {
        self.entries
            .iter()
            .filter(|e| e.pii_principal_id == pii_principal_id)
            .cloned()
            .collect()
    }

    /// The notice (purpose texts) with this hash.
    pub fn notice(&self, notice_hash: &str) -> Option<&Notice> {
        self.notices.get(notice_hash)
    }

    /// What checking the chain found.
    pub fn verification(&self) -> &Verification {
        &self.verification
    }

    /// Checks `raws` in order and decodes them; `tail` is where the store's own reading
    /// stopped (a frame that failed its length or checksum).
    pub(crate) fn from_raw(raws: Vec<Raw>, tail: Option<Break>) -> Snapshot {
        let mut snapshot = Snapshot::default();
        let mut prev = GENESIS;
        let mut broken = None;
        for (i, raw) in raws.into_iter().enumerate() {
            let expected = i as u64 + 1;
            let fail = |reason: String| Break {
                entry: expected,
                offset: raw.offset,
                reason,
            };
            if raw.seq != expected {
                broken = Some(fail(format!(
                    "numbered #{} where #{expected} belongs",
                    raw.seq
                )));
                break;
            }
            if raw.prev != prev {
                broken = Some(fail(
                    "its link to the entry before does not match that entry's hash".into(),
                ));
                break;
            }
            if let Some(payload) = &raw.payload
                && chain::digest(payload) != raw.digest
            {
                broken = Some(fail("its content does not match its digest".into()));
                break;
            }
            let hash = chain::link(raw.seq, &raw.prev, raw.kind, &raw.digest);
            if hash != raw.hash {
                broken = Some(fail("its content does not match its hash".into()));
                break;
            }
            match &raw.payload {
                None => snapshot.verification.deleted += 1,
                Some(payload) => {
                    let decoded = match raw.kind {
                        NOTICE => payload::decode_notice(payload).map(|n| {
                            snapshot.notices.insert(n.hash(), n);
                        }),
                        ENTRY => payload::decode_entry(
                            raw.seq,
                            payload,
                            chain::hex(&hash),
                            &snapshot.notices,
                        )
                        .map(|e| snapshot.entries.push(e)),
                        other => Err(format!("unknown record kind {other}")),
                    };
                    if let Err(reason) = decoded {
                        broken = Some(fail(reason));
                        break;
                    }
                }
            }
            prev = hash;
            snapshot.verification.records = expected;
        }
        snapshot.verification.head = (snapshot.verification.records > 0).then(|| chain::hex(&prev));
        snapshot.verification.broken = broken.or(tail.map(|mut t| {
            t.entry = snapshot.verification.records + 1;
            t
        }));
        // Each subject's last erasure marks it and the entries before it.
        let mut erased: HashMap<String, u64> = HashMap::new();
        for e in &snapshot.entries {
            if e.collection_method == Method::Erasure {
                erased.insert(e.pii_principal_id.clone(), e.id.0);
            }
        }
        for e in &mut snapshot.entries {
            e.erased_subject = erased
                .get(&e.pii_principal_id)
                .is_some_and(|&last| e.id.0 <= last);
        }
        snapshot
    }
}
