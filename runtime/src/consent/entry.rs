//! One entry of the consent ledger: who (pseudonymously) chose what, when, how, where, and
//! under which texts.
//!
//! Field names follow the Kantara Initiative's Consent Receipt (v1.1: `consent_timestamp`,
//! `collection_method`, `pii_principal_id`, `jurisdiction`, per-purpose `consent_type`) in
//! snake case, with Fides's words for the choice itself (`preference`: `opt_in` / `opt_out`,
//! and its `ConsentMethod` values `accept`, `reject`, `save`, `gpc`).

use std::fmt;

use crate::plan::LegalBasis;

/// The position of an entry in its ledger: 1 for the first, then one more for each entry
/// (notices of plan texts included). What [`Ledger::record`](super::Ledger::record) returns
/// and [`LedgerEntry::supersedes`] points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId(pub u64);

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// How the subject expressed the choice (Kantara's `collection_method`; values after Fides's
/// `ConsentMethod`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// "Accept all" (or the one accept button of a notice).
    Accept,
    /// "Reject all".
    Reject,
    /// Individual choices saved (per-purpose toggles).
    SaveChoices,
    /// The Global Privacy Control signal (`Sec-GPC: 1`) was seen and honoured.
    Gpc,
    /// Set through the app's API (a consent management platform's callback, a support tool).
    Api,
    /// Answered a prompt in a terminal (a CLI tool's first-run notice).
    CliPrompt,
    /// The subject's data was erased (`Ledger::forget` with [`ForgetProof::Keep`]): the entry
    /// that marks the proof before it as an erased subject's.
    ///
    /// [`ForgetProof::Keep`]: super::ForgetProof::Keep
    Erasure,
}

impl Method {
    /// The stored word (`accept`, `reject`, `save`, `gpc`, `api`, `cli_prompt`, `erasure`).
    pub const fn key(self) -> &'static str {
        match self {
            Method::Accept => "accept",
            Method::Reject => "reject",
            Method::SaveChoices => "save",
            Method::Gpc => "gpc",
            Method::Api => "api",
            Method::CliPrompt => "cli_prompt",
            Method::Erasure => "erasure",
        }
    }

    /// The method stored as `key`.
    pub fn from_key(key: &str) -> Option<Method> {
        [
            Method::Accept,
            Method::Reject,
            Method::SaveChoices,
            Method::Gpc,
            Method::Api,
            Method::CliPrompt,
            Method::Erasure,
        ]
        .into_iter()
        .find(|m| m.key() == key)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Where the choice was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Surface {
    /// A consent banner or first-layer notice.
    Banner,
    /// A privacy settings page (second layer, preference centre).
    Settings,
    /// A prompt in a terminal.
    CliPrompt,
    /// No screen: an API call, a request header (GPC), a back-office tool.
    Api,
}

impl Surface {
    /// The stored word (`banner`, `settings`, `cli_prompt`, `api`).
    pub const fn key(self) -> &'static str {
        match self {
            Surface::Banner => "banner",
            Surface::Settings => "settings",
            Surface::CliPrompt => "cli_prompt",
            Surface::Api => "api",
        }
    }

    /// The surface stored as `key`.
    pub fn from_key(key: &str) -> Option<Surface> {
        [
            Surface::Banner,
            Surface::Settings,
            Surface::CliPrompt,
            Surface::Api,
        ]
        .into_iter()
        .find(|s| s.key() == key)
    }
}

impl fmt::Display for Surface {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// What the subject chose for one purpose (Fides's `preference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Preference {
    /// Granted.
    OptIn,
    /// Granted explicitly (GDPR Art. 9(2)(a), [`Consent::grant_explicit`](crate::Consent::grant_explicit)).
    OptInExplicit,
    /// Withdrawn, or objected to (legitimate interest).
    OptOut,
    /// No choice recorded: off for a consent-based purpose, on for a legitimate-interest one.
    NotGiven,
}

impl Preference {
    /// The stored word (`opt_in`, `opt_in_explicit`, `opt_out`, `not_given`).
    pub const fn key(self) -> &'static str {
        match self {
            Preference::OptIn => "opt_in",
            Preference::OptInExplicit => "opt_in_explicit",
            Preference::OptOut => "opt_out",
            Preference::NotGiven => "not_given",
        }
    }

    /// The preference stored as `key`.
    pub fn from_key(key: &str) -> Option<Preference> {
        [
            Preference::OptIn,
            Preference::OptInExplicit,
            Preference::OptOut,
            Preference::NotGiven,
        ]
        .into_iter()
        .find(|p| p.key() == key)
    }
}

impl fmt::Display for Preference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// The state of one purpose in an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PurposeChoice {
    /// The purpose's plan id.
    pub purpose: String,
    /// Its legal basis in the plan the entry was recorded under.
    pub legal_basis: LegalBasis,
    /// What the subject chose.
    pub preference: Preference,
    /// Whether the consent permitted the purpose after GPC and the opt-out of everything
    /// (a `sale_or_share` purpose with GPC applied is `false` whatever the preference).
    pub permitted: bool,
}

/// One recorded consent change.
///
/// `pii_principal_id` is the subject's distinct id (`"<key id>:<HMAC-SHA-256 hex>"`, or
/// `"anon-<UUID>"`), never the raw id: the ledger refuses anything else. Its `Debug` output
/// redacts it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LedgerEntry {
    /// Its position in the ledger.
    pub id: EntryId,
    /// When it was recorded, milliseconds since the Unix epoch (Kantara `consentTimestamp`).
    pub consent_timestamp_ms: i64,
    /// The subject's distinct id (Kantara `piiPrincipalId`, pseudonymous).
    pub pii_principal_id: String,
    /// Every purpose of the plan, in plan order.
    pub purposes: Vec<PurposeChoice>,
    /// Whether the Global Privacy Control signal was seen and honoured.
    pub gpc: bool,
    /// Whether the subject opted out of everything.
    pub opt_out_all: bool,
    /// How the choice was expressed (Kantara `collectionMethod`).
    pub collection_method: Method,
    /// Where it was made.
    pub surface: Surface,
    /// `name@version` of the plan running when it was recorded.
    pub plan_label: String,
    /// SHA-256 of that plan file, hex.
    pub plan_hash: String,
    /// SHA-256 of the purpose texts shown (ids, legal bases, descriptions), hex: the key of
    /// the [`Notice`](super::Notice) the ledger holds with the texts themselves.
    pub notice_hash: String,
    /// Where the subject is, when the app knows (`"DE"`, `"US-CA"`; Kantara `jurisdiction`).
    pub jurisdiction: Option<String>,
    /// The subject's previous entry, if any.
    pub supersedes: Option<EntryId>,
    /// Whether this answers a re-ask after the plan changed a purpose's text or basis.
    pub reconsent: bool,
    /// Whether the subject's data was erased after this entry (kept as pseudonymous proof,
    /// [`ForgetProof::Keep`](super::ForgetProof::Keep)).
    pub erased_subject: bool,
    /// The entry's chain hash, hex (covers everything above but `erased_subject` and every
    /// entry before it).
    pub hash: String,
}

impl fmt::Debug for LedgerEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LedgerEntry")
            .field("id", &self.id)
            .field("consent_timestamp_ms", &self.consent_timestamp_ms)
            .field("pii_principal_id", &format_args!("[redacted]"))
            .field("purposes", &self.purposes)
            .field("gpc", &self.gpc)
            .field("opt_out_all", &self.opt_out_all)
            .field("collection_method", &self.collection_method)
            .field("surface", &self.surface)
            .field("plan_label", &self.plan_label)
            .field("notice_hash", &self.notice_hash)
            .field("jurisdiction", &self.jurisdiction)
            .field("supersedes", &self.supersedes)
            .field("reconsent", &self.reconsent)
            .field("erased_subject", &self.erased_subject)
            .finish_non_exhaustive()
    }
}
