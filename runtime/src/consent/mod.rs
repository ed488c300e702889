//! An end user's consent, what it permits under the plan's legal bases, and its forms as
//! data: plan ids, a cookie value, a [`ConsentRecord`].

use std::fmt;

mod chain;
mod entry;
mod file_store;
mod ids;
mod ledger;
mod ledger_error;
mod notice;
mod payload;
#[cfg(feature = "postgres")]
mod pg_store;
mod snapshot;
mod store;

pub use chain::{Break, Verification};
pub use entry::{EntryId, LedgerEntry, Method, Preference, PurposeChoice, Surface};
pub use ids::{ConsentDataError, ConsentRecord};
pub use ledger::{Collection, ForgetProof, Ledger};
pub use ledger_error::LedgerError;
pub use notice::{Notice, NoticePurpose};
pub use snapshot::Snapshot;

use crate::event::Purpose;
use trackplan_vocab::MAX_ITEMS;

use crate::plan::{LegalBasis, PlanInfo, PurposeSet};

/// What one end user (a subject) agreed to, objected to or opted out of.
///
/// Built from purpose marker types, so a typo is a compile error:
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// # trackplan_macros::plan!("tests/fixture/shop.toml");
/// # fn main() {
/// # let request_has_sec_gpc_header = true;
/// use trackplan::Consent;
///
/// let consent = Consent::none()
///     .grant(purpose::ProductAnalytics)
///     .object(purpose::Security)
///     .with_gpc(request_has_sec_gpc_header);
///
/// assert!(consent.permits(purpose::ProductAnalytics));
/// // Legitimate interest, objected to.
/// assert!(!consent.permits(purpose::Security));
/// // Consent-based and never granted; GPC would withdraw it anyway (`sale_or_share`).
/// assert!(!consent.permits(purpose::Advertising));
/// // A contract purpose needs no grant.
/// assert!(consent.permits(purpose::CustomerSupport));
/// # }
/// ```
///
/// What it permits depends on each purpose's legal basis in the plan:
///
/// | basis | permitted when |
/// |---|---|
/// | `consent` | granted (and not withdrawn) |
/// | `legitimate_interest` | not objected to (on by default) |
/// | `contract`, `legal_obligation`, `vital_interest`, `public_task` | always: grants and objections do not change them |
///
/// On top of that, Global Privacy Control ([`Consent::from_gpc`], [`Consent::with_gpc`])
/// withdraws every purpose the plan marks `sale_or_share`, whatever its basis, and
/// [`Consent::opt_out_all`] stops all tracking of the subject, including purposes whose basis
/// is not consent.
///
/// Only the marker types `plan!` generated count. A type of one's own with a hand-written
/// `impl Purpose` naming the plan and an index is not the plan's purpose: granting or
/// withdrawing it makes the consent permit nothing, and [`Consent::permits`] says no for it
/// (both log why at debug level).
#[derive(Clone, Copy, Default)]
pub struct Consent {
    plan: Option<&'static PlanInfo>,
    granted: PurposeSet,
    /// Granted explicitly (a subset of `granted`): what special-category data needs.
    explicit: PurposeSet,
    objected: PurposeSet,
    gpc: bool,
    opted_out: bool,
    mixed_plans: bool,
    forged: bool,
}

impl Consent {
    /// Nothing granted, nothing objected to: only purposes that need no consent are permitted.
    pub const fn none() -> Consent {
        Consent {
            plan: None,
            granted: PurposeSet::EMPTY,
            explicit: PurposeSet::EMPTY,
            objected: PurposeSet::EMPTY,
            gpc: false,
            opted_out: false,
            mixed_plans: false,
            forged: false,
        }
    }

    /// [`Consent::none`] with the Global Privacy Control signal (`Sec-GPC: 1`) applied when
    /// `signal` is true.
    pub const fn from_gpc(signal: bool) -> Consent {
        Consent::none().with_gpc(signal)
    }

    /// Grants a purpose (and lifts an earlier objection to it).
    pub fn grant<P: Purpose>(mut self, _: P) -> Consent {
        if !generated::<P>("grant") {
            self.forged = true;
            return self;
        }
        self.bind(P::PLAN);
        self.granted = self.granted.with(P::INDEX);
        self.objected = self.objected.without(P::INDEX);
        self
    }

    /// Withdraws a purpose: a consent-based purpose is no longer granted, and a
    /// legitimate-interest purpose is objected to.
    pub fn withdraw<P: Purpose>(mut self, _: P) -> Consent {
        // Ignoring a forged withdrawal would leave a grant standing: fail closed instead.
        if !generated::<P>("withdraw") {
            self.forged = true;
            return self;
        }
        self.bind(P::PLAN);
        self.granted = self.granted.without(P::INDEX);
        self.explicit = self.explicit.without(P::INDEX);
        self.objected = self.objected.with(P::INDEX);
        self
    }

    /// Grants a purpose *explicitly* (GDPR Art. 9(2)(a)): the subject affirmed, in a statement
    /// of its own, consent to this purpose for special-category data. Only purposes granted
    /// this way carry special-category properties (health, beliefs, …): with an ordinary
    /// [`Consent::grant`], an event's special properties reach no destination.
    ///
    /// What counts as explicit is the app's to show: a separate, specific request that names
    /// the special category and the purpose ("Use my dietary filters to personalise
    /// recommendations"), answered by an affirmative act of its own (a checkbox not
    /// pre-ticked, not bundled with other terms), and recorded. A general "accept all" banner
    /// is an ordinary grant.
    ///
    /// ```
    /// # extern crate trackplan_runtime as trackplan;
    /// # trackplan_macros::plan!("tests/fixture/shop.toml");
    /// # fn main() {
    /// use trackplan::Consent;
    ///
    /// let consent = Consent::none().grant_explicit(purpose::ProductAnalytics);
    /// assert!(consent.permits(purpose::ProductAnalytics));
    /// assert!(consent.is_explicit(purpose::ProductAnalytics));
    /// assert!(!Consent::none().grant(purpose::ProductAnalytics).is_explicit(purpose::ProductAnalytics));
    /// # }
    /// ```
    pub fn grant_explicit<P: Purpose>(self, purpose: P) -> Consent {
        let mut consent = self.grant(purpose);
        if !consent.forged {
            consent.explicit = consent.explicit.with(P::INDEX);
        }
        consent
    }

    /// Whether `purpose` was granted explicitly ([`Consent::grant_explicit`]) and is permitted.
    pub fn is_explicit<P: Purpose>(&self, purpose: P) -> bool {
        self.permits(purpose) && self.explicit.contains(P::INDEX)
    }

    /// Objects to a purpose (GDPR Art. 21): the word for withdrawing a legitimate-interest
    /// purpose. Same effect as [`Consent::withdraw`].
    pub fn object<P: Purpose>(self, purpose: P) -> Consent {
        self.withdraw(purpose)
    }

    /// Applies (or lifts) the Global Privacy Control signal.
    pub const fn with_gpc(mut self, signal: bool) -> Consent {
        self.gpc = signal;
        self
    }

    /// Stops all tracking of the subject, whatever the legal bases.
    pub const fn opt_out_all(mut self) -> Consent {
        self.opted_out = true;
        self
    }

    /// Whether the GPC signal is applied.
    pub const fn gpc(&self) -> bool {
        self.gpc
    }

    /// Whether the subject opted out of everything.
    pub const fn is_opted_out(&self) -> bool {
        self.opted_out
    }

    /// Whether `purpose` is permitted by this consent under its plan's legal bases.
    pub fn permits<P: Purpose>(&self, _: P) -> bool {
        generated::<P>("permits") && self.permitted(P::PLAN).contains(P::INDEX)
    }

    /// The purposes of `plan` this consent permits (see the table on [`Consent`]).
    ///
    /// Consent built from purposes of another plan (or of several plans) permits nothing: it
    /// cannot mean what the caller intended, so the tracker fails closed.
    pub fn permitted(&self, plan: &'static PlanInfo) -> PurposeSet {
        let foreign = self.plan.is_some_and(|p| !same_plan(p, plan));
        if self.opted_out || self.mixed_plans || self.forged || foreign {
            return PurposeSet::EMPTY;
        }
        let mut on = PurposeSet::EMPTY;
        for (i, p) in plan.purposes.iter().enumerate().take(MAX_ITEMS) {
            let permitted = match p.basis {
                LegalBasis::Consent => self.granted.contains(i),
                LegalBasis::LegitimateInterest => !self.objected.contains(i),
                LegalBasis::Contract
                | LegalBasis::LegalObligation
                | LegalBasis::VitalInterest
                | LegalBasis::PublicTask => true,
            };
            if permitted && !(self.gpc && p.sale_or_share) {
                on = on.with(i);
            }
        }
        on
    }

    /// The purposes of `plan` this consent permits for special-category data: those
    /// [`Consent::permitted`] gives, except consent-based ones granted without
    /// [`Consent::grant_explicit`].
    pub fn permitted_explicitly(&self, plan: &'static PlanInfo) -> PurposeSet {
        let mut on = self.permitted(plan);
        for (i, p) in plan.purposes.iter().enumerate().take(MAX_ITEMS) {
            if p.basis == LegalBasis::Consent && !self.explicit.contains(i) {
                on = on.without(i);
            }
        }
        on
    }

    /// Consent bound to `plan` with these purposes granted (ordinarily) and objected to.
    pub(crate) fn bound_to(
        plan: &'static PlanInfo,
        granted: PurposeSet,
        objected: PurposeSet,
    ) -> Consent {
        // Naming no purpose, it is `Consent::none()`, bound to no plan, as the marker-built one.
        let names_some = !granted.union(objected).is_empty();
        Consent {
            plan: names_some.then_some(plan),
            granted,
            objected: objected - granted,
            ..Consent::none()
        }
    }

    /// The same consent with these granted purposes marked explicit.
    pub(crate) fn with_explicit(
        mut self,
        plan: &'static PlanInfo,
        explicit: PurposeSet,
    ) -> Consent {
        if !explicit.is_empty() {
            self.bind(plan);
        }
        self.granted = self.granted.union(explicit);
        self.objected = self.objected - explicit;
        self.explicit = self.explicit.union(explicit);
        self
    }

    pub(crate) fn plan_info(&self) -> Option<&'static PlanInfo> {
        self.plan
    }

    pub(crate) fn granted_set(&self) -> PurposeSet {
        self.granted
    }

    pub(crate) fn explicit_set(&self) -> PurposeSet {
        self.explicit
    }

    pub(crate) fn objected_set(&self) -> PurposeSet {
        self.objected
    }

    /// What stays of `self` when changing to `next` cannot be recorded: only what takes
    /// permission away (a grant both have stays; objections, GPC and the opt-out of
    /// everything of either apply).
    pub(crate) fn narrowed_by(&self, next: &Consent) -> Consent {
        Consent {
            plan: self.plan.or(next.plan),
            granted: self.granted.intersection(next.granted),
            explicit: self.explicit.intersection(next.explicit),
            objected: self.objected.union(next.objected),
            gpc: self.gpc || next.gpc,
            opted_out: self.opted_out || next.opted_out,
            mixed_plans: self.mixed_plans
                || next.mixed_plans
                || matches!((self.plan, next.plan), (Some(a), Some(b)) if !same_plan(a, b)),
            forged: self.forged || next.forged,
        }
    }

    /// Whether this consent was built from purposes of another plan.
    pub(crate) fn is_foreign_to(&self, plan: &'static PlanInfo) -> bool {
        self.mixed_plans || self.plan.is_some_and(|p| !same_plan(p, plan))
    }

    /// Whether a purpose marker that `plan!` did not generate was granted or withdrawn (the
    /// consent then permits nothing).
    pub fn has_forged_purpose(&self) -> bool {
        self.forged
    }

    fn bind(&mut self, plan: &'static PlanInfo) {
        match self.plan {
            None => self.plan = Some(plan),
            Some(p) if same_plan(p, plan) => {}
            Some(_) => self.mixed_plans = true,
        }
    }
}

/// Whether consent bound to plan `a` means the same purposes in plan `b`: the same plan
/// (equal label and content hash), and — unless it is the same data — the same purposes in the
/// same order, so a bit granted in one is the same purpose in the other even for plan data
/// made by hand with a copied hash.
fn same_plan(a: &'static PlanInfo, b: &'static PlanInfo) -> bool {
    std::ptr::eq(a, b)
        || (a.same_as(b)
            && a.purposes.len() == b.purposes.len()
            && a.purposes.iter().zip(b.purposes).all(|(x, y)| {
                x.id == y.id && x.basis == y.basis && x.sale_or_share == y.sale_or_share
            }))
}

/// Whether `P` is the marker type the plan generated for purpose `P::INDEX`; logs (at debug
/// level, naming the type and the plan, no personal data) when it is not.
fn generated<P: Purpose>(verb: &str) -> bool {
    let genuine = P::PLAN
        .purposes
        .get(P::INDEX)
        .is_some_and(|p| p.is_marked_by::<P>());
    if !genuine {
        tracing::debug!(
            marker = core::any::type_name::<P>(),
            index = P::INDEX,
            plan = P::PLAN.label,
            "Consent::{verb} refused a purpose marker the plan did not generate; the consent \
             permits nothing"
        );
    }
    genuine
}

impl PartialEq for Consent {
    fn eq(&self, other: &Consent) -> bool {
        let same_plan = match (self.plan, other.plan) {
            (None, None) => true,
            (Some(a), Some(b)) => a.same_as(b),
            _ => false,
        };
        same_plan
            && self.granted == other.granted
            && self.explicit == other.explicit
            && self.objected == other.objected
            && self.gpc == other.gpc
            && self.opted_out == other.opted_out
            && self.mixed_plans == other.mixed_plans
            && self.forged == other.forged
    }
}

impl Eq for Consent {}

impl fmt::Debug for Consent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids = |set: PurposeSet| -> Vec<&str> {
            match self.plan {
                Some(plan) => set
                    .iter()
                    .filter_map(|i| plan.purposes.get(i).map(|p| p.id))
                    .collect(),
                None => Vec::new(),
            }
        };
        f.debug_struct("Consent")
            .field("plan", &self.plan.map(|p| p.label))
            .field("granted", &ids(self.granted))
            .field("explicit", &ids(self.explicit))
            .field("objected", &ids(self.objected))
            .field("gpc", &self.gpc)
            .field("opt_out_all", &self.opted_out)
            .field("forged_purpose", &self.forged)
            .finish()
    }
}
