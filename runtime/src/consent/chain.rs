//! The hash chain: how each record is linked to the one before it, and what checking the
//! links found.

use sha2::{Digest, Sha256};

use crate::key::push_hex;

/// The link of the first record.
pub(crate) const GENESIS: [u8; 32] = [0; 32];

/// A notice: the purpose texts of one plan version (JSON payload).
pub(crate) const NOTICE: u8 = 1;
/// A consent entry (JSON payload).
pub(crate) const ENTRY: u8 = 2;

/// SHA-256 of a record's payload.
pub(crate) fn digest(payload: &[u8]) -> [u8; 32] {
    Sha256::digest(payload).into()
}

/// The chain hash of record `seq`: covers its kind, its payload (by digest) and the hash of
/// the record before it, so changing, dropping or reordering any record changes every hash
/// after it.
pub(crate) fn link(seq: u64, prev: &[u8; 32], kind: u8, digest: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"trackplan-ledger-v1");
    h.update(seq.to_le_bytes());
    h.update(prev);
    h.update([kind]);
    h.update(digest);
    h.finalize().into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push_hex(&mut out, bytes);
    out
}

/// What checking a ledger's chain found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Verification {
    /// Records that verified (entries and notices), from the first.
    pub records: u64,
    /// Of those, entries whose proof was deleted (`ForgetProof::Delete`): only their digest
    /// remains, which still links the chain.
    pub deleted: u64,
    /// The hash of the last verified record, hex: write it down elsewhere (a log, a ticket)
    /// to detect later that the tail was rewritten.
    pub head: Option<String>,
    /// The first record that does not verify, if any.
    pub broken: Option<Break>,
}

impl Verification {
    /// Whether every record verified.
    pub fn is_intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Where and why the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Break {
    /// The number of the first record that does not verify (1 for the first).
    pub entry: u64,
    /// Its byte offset in the ledger file (local-file store).
    pub offset: Option<u64>,
    /// Why.
    pub reason: String,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "entry #{}", self.entry)?;
        if let Some(offset) = self.offset {
            write!(f, " at byte {offset}")?;
        }
        write!(f, ": {}", self.reason)
    }
}
