//! What a ledger store does: append a record to the chain, read all of it back, erase a
//! subject. The local-file store and the PostgreSQL one implement it.

use super::Consent;
use super::entry::EntryId;
use super::ledger::{Collection, ForgetProof};
use super::ledger_error::LedgerError;
use super::snapshot::Snapshot;
use crate::plan::PlanInfo;

pub(crate) trait Store: Send + Sync + std::panic::RefUnwindSafe + 'static {
    /// Appends the entry (and the plan's notice first, when the store has not got it).
    fn record(
        &self,
        principal: &str,
        plan: &'static PlanInfo,
        consent: &Consent,
        how: &Collection,
    ) -> Result<EntryId, LedgerError>;

    /// Erases the subject's proof per `proof`; how many entries it had.
    fn forget(&self, principal: &str, proof: ForgetProof) -> Result<usize, LedgerError>;

    /// Forces what was appended to durable storage.
    fn sync(&self) -> Result<(), LedgerError>;

    /// Everything, read now.
    fn snapshot(&self) -> Result<Snapshot, LedgerError>;

    /// Where it is, for `Debug` (a path, or the database without credentials).
    fn describe(&self) -> String;
}
