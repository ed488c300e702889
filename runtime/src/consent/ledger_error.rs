//! Why the consent ledger could not record or read.

use std::io;
use std::path::PathBuf;

/// Why a [`Ledger`](super::Ledger) operation failed. Nothing acknowledged is lost on an
/// error: a failed [`Ledger::record`](super::Ledger::record) recorded nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// Reading or writing the ledger's files failed.
    #[error("consent ledger {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Another process (or ledger) has the directory open.
    #[error(
        "consent ledger {path} is in use by another process; several instances share a ledger \
         through PostgreSQL (`Ledger::connect`), not a directory"
    )]
    Locked {
        /// The directory.
        path: PathBuf,
    },
    /// The chain is broken before its end: the ledger refuses to append to it.
    #[error("consent ledger is broken at entry #{entry}: {reason}; run `trackplan consent verify`")]
    Broken {
        /// The first entry that does not verify.
        entry: u64,
        /// Why.
        reason: String,
    },
    /// The subject id is not a distinct id the tracker makes (`<key id>:<HMAC>` or
    /// `anon-<UUID>`): the ledger never stores a raw id.
    #[error(
        "the ledger takes the subject's distinct id (`Subject::distinct_id`, \
         `Tracker::distinct_id`), never a raw id"
    )]
    NotPseudonymous,
    /// The consent was built from another plan's purposes (or a forged marker).
    #[error("the consent does not belong to plan `{plan}`; nothing was recorded")]
    ForeignConsent {
        /// The plan the entry was to be recorded under.
        plan: &'static str,
    },
    /// [`Subject::record_consent`](crate::Subject::record_consent) on a tracker built without
    /// [`TrackerBuilder::ledger`](crate::TrackerBuilder::ledger).
    #[error("this tracker has no consent ledger: give it one with `TrackerBuilder::ledger`")]
    NoLedger,
    /// An encrypted ledger could not be opened: no key was given, or the keyring lacks the
    /// key an entry was sealed with. Nothing was changed.
    #[error("consent ledger {path}: {source}")]
    Crypt {
        /// The ledger file.
        path: PathBuf,
        /// Why.
        source: crate::crypt::CryptError,
    },
    /// The PostgreSQL store failed (connection, query).
    #[error("consent ledger in PostgreSQL: {reason}")]
    Database {
        /// What failed (the server's message; never the connection password).
        reason: String,
    },
}
