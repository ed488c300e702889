//! [`Ledger`]: the append-only, hash-chained record of consent changes (GDPR Art. 7(1): the
//! controller must be able to show that, when, how and to what the subject consented).

use std::path::Path;
use std::sync::Arc;

use super::Consent;
use super::ConsentRecord;
use super::chain::Verification;
use super::entry::{EntryId, LedgerEntry, Method, Preference, Surface};
use super::file_store::FileStore;
use super::ledger_error::LedgerError;
use super::snapshot::Snapshot;
use super::store::Store;
use crate::plan::{LegalBasis, PlanInfo, PurposeSet};
use crate::spool::SyncPolicy;

/// The consent record: every consent change the app records becomes an entry, hash-chained
/// to the one before, so a changed, removed or reordered entry is found by
/// [`Ledger::verify`] (and `trackplan consent verify`).
///
/// Stores: local files ([`Ledger::open`], a directory of its own, like the spool), or
/// PostgreSQL for apps with several instances (`Ledger::connect`, feature `postgres`).
/// Cloning is cheap and shares the store; it is safe to record from many threads.
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// # trackplan_macros::plan!("tests/fixture/shop.toml");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("trackplan-ledger-doc-{}", std::process::id()));
/// # let _ = std::fs::remove_dir_all(&dir);
/// use trackplan::Consent;
/// use trackplan::consent::{Collection, Ledger, Method, Surface};
/// use trackplan::sinks::Memory;
///
/// let ledger = Ledger::open(&dir)?;
/// let tracker = trackplan::Tracker::builder(&PLAN)
///     .key(trackplan::Key::from_hex(&"07".repeat(32))?)
///     .sink(destination::Warehouse, Memory::new())
/// #   .skip(destination::Mixpanel)
/// #   .skip(destination::Ads)
/// #   .skip(destination::SecurityLog)
/// #   .skip(destination::SupportDesk)
///     .ledger(ledger.clone())
///     .build()?;
///
/// let user = tracker.subject("user-42", Consent::none());
/// // The banner's "Accept" button: applied to the subject and recorded.
/// let id = user.record_consent(
///     Consent::none().grant(purpose::ProductAnalytics),
///     Collection::new(Method::Accept, Surface::Banner).jurisdiction("DE"),
/// )?;
///
/// let history = ledger.history(user.distinct_id())?;
/// assert_eq!(history.last().map(|e| e.id), Some(id));
/// assert!(ledger.verify()?.is_intact());
/// // Nothing changed in the plan since: nothing to ask again.
/// assert!(ledger.needs_reconsent(user.distinct_id(), &PLAN)?.is_empty());
/// # drop(tracker);
/// # drop(ledger);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Ledger {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("store", &self.store.describe())
            .finish()
    }
}

/// How and where a consent change was collected, and where the subject is: the context an
/// entry records besides the consent itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    method: Method,
    surface: Surface,
    jurisdiction: Option<String>,
    reconsent: bool,
    time_ms: Option<i64>,
}

impl Collection {
    /// A change made with `method` on `surface`.
    pub fn new(method: Method, surface: Surface) -> Collection {
        Collection {
            method,
            surface,
            jurisdiction: None,
            reconsent: false,
            time_ms: None,
        }
    }

    /// Where the subject is (`"DE"`, `"US-CA"`): an ISO 3166 code, as the app determined it.
    pub fn jurisdiction(mut self, code: impl Into<String>) -> Collection {
        self.jurisdiction = Some(code.into());
        self
    }

    /// Marks the change as the answer to a re-ask after a plan change
    /// ([`Ledger::needs_reconsent`]).
    pub fn reconsent(mut self) -> Collection {
        self.reconsent = true;
        self
    }

    /// Records the change at this time (milliseconds since the Unix epoch) instead of now:
    /// for importing choices collected elsewhere.
    pub fn at(mut self, time_ms: i64) -> Collection {
        self.time_ms = Some(time_ms);
        self
    }

    pub(crate) fn parts(&self) -> (Method, Surface, Option<&str>, bool, Option<i64>) {
        (
            self.method,
            self.surface,
            self.jurisdiction.as_deref(),
            self.reconsent,
            self.time_ms,
        )
    }
}

/// What [`Ledger::forget`] does with a subject's consent proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ForgetProof {
    /// Keep the pseudonymous proof of consent and withdrawal (needed to answer a complaint or
    /// a regulator, GDPR Art. 17(3)(e)), and append an [`Method::Erasure`] entry: the earlier
    /// entries read back with [`LedgerEntry::erased_subject`] set. The default.
    #[default]
    Keep,
    /// Delete the proof: the subject's entries are replaced by their chain digests, so the
    /// chain still verifies, but neither the distinct id nor the choices remain.
    Delete,
}

impl Ledger {
    /// Opens (or creates) the local-file ledger in `dir`, a directory of its own. Entries are
    /// synced to disk before [`Ledger::record`] returns ([`SyncPolicy::EveryEvent`]); see
    /// [`Ledger::open_with`]. A record torn by a crash at the end of the file is moved aside
    /// (`ledger.torn-<offset>`) and logged; a broken chain anywhere else is an error.
    pub fn open(dir: impl AsRef<Path>) -> Result<Ledger, LedgerError> {
        Ok(Ledger {
            store: Arc::new(FileStore::open(dir.as_ref(), SyncPolicy::EveryEvent, None)?),
        })
    }

    /// Opens the local-file ledger in `dir` syncing per `policy`: what an acknowledged entry
    /// survives, as for the spool. There is no background thread: under
    /// [`SyncPolicy::Interval`] the sync happens on the first [`Ledger::record`] after the
    /// interval; under it and [`SyncPolicy::OnFlush`] also on [`Ledger::sync`] and when the
    /// last clone is dropped.
    pub fn open_with(dir: impl AsRef<Path>, policy: SyncPolicy) -> Result<Ledger, LedgerError> {
        Ok(Ledger {
            store: Arc::new(FileStore::open(dir.as_ref(), policy, None)?),
        })
    }

    /// Opens the local-file ledger in `dir` encrypted (feature `encryption`): every record is
    /// sealed with the keyring's current key, records sealed with its old keys stay readable,
    /// and a plain ledger found there is sealed in place (its chain is unchanged). An entry
    /// sealed with a key the keyring lacks is a [`LedgerError::Crypt`]; nothing is changed.
    /// Read it elsewhere with [`Snapshot::read_dir_encrypted`](super::Snapshot::read_dir_encrypted).
    #[cfg(feature = "encryption")]
    pub fn open_encrypted(
        dir: impl AsRef<Path>,
        policy: SyncPolicy,
        keys: crate::crypt::Keyring,
    ) -> Result<Ledger, LedgerError> {
        Ok(Ledger {
            store: Arc::new(FileStore::open(dir.as_ref(), policy, Some(Arc::new(keys)))?),
        })
    }

    /// Connects to the PostgreSQL ledger at `url` (`postgres://user@host/db`), creating its
    /// table (`trackplan_consent_ledger`) when missing. Every instance of the app can record
    /// into the same chain: appends serialize on a transaction-level advisory lock.
    #[cfg(feature = "postgres")]
    pub fn connect(url: &str) -> Result<Ledger, LedgerError> {
        Ok(Ledger {
            store: Arc::new(super::pg_store::PgStore::connect(url)?),
        })
    }

    /// Records that the subject with distinct id `pii_principal_id` now has `consent`
    /// under `plan`, collected as `how` says; returns the new entry's id. The purpose texts of
    /// `plan` are stored once, the first time an entry is recorded under them.
    ///
    /// `pii_principal_id` must be a distinct id ([`Subject::distinct_id`](crate::Subject::distinct_id),
    /// [`Tracker::distinct_id`](crate::Tracker::distinct_id)): a raw id is refused
    /// ([`LedgerError::NotPseudonymous`]). [`Subject::record_consent`](crate::Subject::record_consent)
    /// records and applies in one call. A plan whose `[identity]` is `none` sends raw ids as
    /// distinct ids: its subjects cannot be recorded.
    ///
    /// **Blocks** until the entry is durable (a `fdatasync` of the file, or a commit): in
    /// async code call it from a blocking task (`tokio::task::spawn_blocking`).
    pub fn record(
        &self,
        pii_principal_id: &str,
        plan: &'static PlanInfo,
        consent: &Consent,
        how: &Collection,
    ) -> Result<EntryId, LedgerError> {
        if !is_pseudonymous(pii_principal_id) {
            return Err(LedgerError::NotPseudonymous);
        }
        if consent.is_foreign_to(plan) || consent.has_forged_purpose() {
            return Err(LedgerError::ForeignConsent { plan: plan.label });
        }
        self.store.record(pii_principal_id, plan, consent, how)
    }

    /// Every entry of the subject with this distinct id, oldest first.
    pub fn history(&self, pii_principal_id: &str) -> Result<Vec<LedgerEntry>, LedgerError> {
        Ok(self.snapshot()?.history(pii_principal_id))
    }

    /// The purposes of `plan` the subject must be asked about again: consent-based purposes
    /// whose text, legal basis or GPC marking differs from the notice the subject's last entry
    /// was recorded under, or that notice did not have. A subject with no entry (or whose
    /// proof was deleted) has never been asked: every consent-based purpose.
    pub fn needs_reconsent(
        &self,
        pii_principal_id: &str,
        plan: &'static PlanInfo,
    ) -> Result<PurposeSet, LedgerError> {
        let snapshot = self.snapshot()?;
        let last = snapshot
            .history(pii_principal_id)
            .into_iter()
            .rev()
            .find(|e| e.collection_method != Method::Erasure);
        let shown = last.and_then(|e| snapshot.notice(&e.notice_hash).cloned());
        let mut needs = PurposeSet::EMPTY;
        for (i, p) in plan
            .purposes
            .iter()
            .enumerate()
            .take(trackplan_vocab::MAX_ITEMS)
        {
            if p.basis != LegalBasis::Consent {
                continue;
            }
            let same = shown
                .as_ref()
                .and_then(|n| n.purpose(p.id))
                .is_some_and(|s| {
                    s.legal_basis == p.basis
                        && s.description == p.description
                        && s.sale_or_share == p.sale_or_share
                });
            if !same {
                needs = needs.with(i);
            }
        }
        Ok(needs)
    }

    /// The subject's consent as its last entry recorded it, under `plan`: what to start a
    /// returning subject (or a CLI tool's next run) with. Grants of purposes that need
    /// re-consent under `plan` ([`Ledger::needs_reconsent`]) are left out, and purposes `plan`
    /// no longer has are ignored. `None` when the subject has no entry or was erased since.
    ///
    /// ```
    /// # extern crate trackplan_runtime as trackplan;
    /// # trackplan_macros::plan!("tests/fixture/shop.toml");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = std::env::temp_dir().join(format!("trackplan-ledger-doc-last-{}", std::process::id()));
    /// # let _ = std::fs::remove_dir_all(&dir);
    /// use trackplan::Consent;
    /// use trackplan::consent::{Collection, Ledger, Method, Surface};
    ///
    /// let ledger = Ledger::open(&dir)?;
    /// let who = trackplan::Key::from_hex(&"07".repeat(32))?.pseudonymize("user-42");
    /// let consent = Consent::none().grant(purpose::ProductAnalytics).object(purpose::Security);
    /// ledger.record(&who, &PLAN, &consent, &Collection::new(Method::SaveChoices, Surface::Settings))?;
    /// assert_eq!(ledger.last_consent(&who, &PLAN)?, Some(consent));
    /// # drop(ledger);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok(()) }
    /// ```
    pub fn last_consent(
        &self,
        pii_principal_id: &str,
        plan: &'static PlanInfo,
    ) -> Result<Option<Consent>, LedgerError> {
        let Some(last) = self.history(pii_principal_id)?.pop() else {
            return Ok(None);
        };
        if last.erased_subject {
            return Ok(None);
        }
        let reask = self.needs_reconsent(pii_principal_id, plan)?;
        let ids = |keep: &dyn Fn(Preference) -> bool| -> Vec<String> {
            last.purposes
                .iter()
                .filter(|p| keep(p.preference))
                .filter(|p| {
                    plan.purposes
                        .iter()
                        .position(|q| q.id == p.purpose)
                        .is_some_and(|i| !reask.contains(i))
                })
                .map(|p| p.purpose.clone())
                .collect()
        };
        let record = ConsentRecord {
            plan: Some(plan.label.to_owned()),
            granted: ids(&|p| matches!(p, Preference::OptIn | Preference::OptInExplicit)),
            explicit: ids(&|p| p == Preference::OptInExplicit),
            objected: ids(&|p| p == Preference::OptOut),
            gpc: last.gpc,
            opt_out_all: last.opt_out_all,
        };
        record
            .resolve(plan)
            .map(Some)
            .map_err(|e| LedgerError::Broken {
                entry: last.id.0,
                reason: e.to_string(),
            })
    }

    /// Erases the subject's consent proof per `proof` (see [`ForgetProof`]); returns how many
    /// of its entries there were.
    pub fn forget(&self, pii_principal_id: &str, proof: ForgetProof) -> Result<usize, LedgerError> {
        if !is_pseudonymous(pii_principal_id) {
            return Err(LedgerError::NotPseudonymous);
        }
        self.store.forget(pii_principal_id, proof)
    }

    /// Checks the whole chain: every record intact, every link to the one before it right.
    pub fn verify(&self) -> Result<Verification, LedgerError> {
        Ok(self.snapshot()?.verification().clone())
    }

    /// Forces entries recorded so far to disk (under a policy that does not sync each one).
    pub fn sync(&self) -> Result<(), LedgerError> {
        self.store.sync()
    }

    /// Everything the ledger holds, read now.
    pub fn snapshot(&self) -> Result<Snapshot, LedgerError> {
        self.store.snapshot()
    }
}

/// Whether `id` looks like a distinct id the tracker makes: `"<8 hex>:<64 hex>"` (HMAC) or
/// `"anon-<UUID>"`.
pub(crate) fn is_pseudonymous(id: &str) -> bool {
    // Not short-circuiting: every call of `record` checks 73 bytes, on whole vectors.
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().fold(true, |ok, b| ok & b.is_ascii_hexdigit())
    };
    if let Some((key_id, mac)) = id.split_once(':') {
        return hex(key_id, 8) && hex(mac, 64);
    }
    id.strip_prefix("anon-").is_some_and(|uuid| {
        uuid.len() == 36
            && uuid.bytes().enumerate().all(|(i, b)| {
                matches!(i, 8 | 13 | 18 | 23) == (b == b'-') && (b == b'-' || b.is_ascii_hexdigit())
            })
    })
}
