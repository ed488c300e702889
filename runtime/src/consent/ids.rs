//! Consent as plan ids: built from the ids a consent form or cookie holds, written back as
//! ids, and carried in a cookie value.
//!
//! Marker types ([`Consent::grant`]) are the compile-checked way to name a purpose in code.
//! Consent that arrives as data — a consent banner's form, a stored cookie, a consent
//! management platform's callback — names purposes by their plan ids instead; these functions
//! check every id against the plan and name the ones it does not declare.

use std::fmt;

use super::Consent;
use crate::plan::{PlanInfo, PurposeSet};

/// Longest piece of caller text an error repeats (ids come from requests; the rest is cut).
const ECHO_MAX: usize = 64;

/// Why consent data could not be read: ids the plan does not declare, or a cookie value that
/// is not one [`Consent::to_cookie_value`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConsentDataError {
    /// Ids that are not purposes of the plan (each cut to 64 characters), with the plan's
    /// label and its purpose ids, so the message says what would have been accepted.
    UnknownPurposes {
        /// The ids given that the plan does not declare, in the order given.
        unknown: Vec<String>,
        /// The plan's `name@version`.
        plan: &'static str,
        /// The purpose ids the plan declares, in plan order.
        known: Vec<&'static str>,
    },
    /// The cookie value is not in the format [`Consent::to_cookie_value`] writes.
    Malformed {
        /// What is wrong with it (never the whole value).
        reason: String,
    },
}

impl fmt::Display for ConsentDataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsentDataError::UnknownPurposes {
                unknown,
                plan,
                known,
            } => {
                let s = if unknown.len() == 1 { "" } else { "s" };
                write!(f, "plan `{plan}` declares no purpose{s} ")?;
                for (i, id) in unknown.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}{id:?}")?;
                }
                f.write_str("; its purposes are ")?;
                for (i, id) in known.iter().enumerate() {
                    let sep = if i == 0 { "" } else { ", " };
                    write!(f, "{sep}`{id}`")?;
                }
                Ok(())
            }
            ConsentDataError::Malformed { reason } => {
                write!(f, "not a trackplan consent cookie value: {reason}")
            }
        }
    }
}

impl std::error::Error for ConsentDataError {}

/// The version tag that starts every cookie value.
const COOKIE_VERSION: &str = "tp1";

impl Consent {
    /// Consent granting the purposes with these plan ids, and nothing else: what a consent
    /// form's accepted checkboxes mean. Every id must be a purpose of `plan`; otherwise the
    /// error names each unknown id and lists the plan's.
    ///
    /// ```
    /// # extern crate trackplan_runtime as trackplan;
    /// # trackplan_macros::plan!("tests/fixture/shop.toml");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use trackplan::Consent;
    ///
    /// // The checkboxes the visitor ticked on the consent form.
    /// let consent = Consent::from_ids(&PLAN, ["product_analytics"])?;
    /// assert!(consent.permits(purpose::ProductAnalytics));
    /// assert!(!consent.permits(purpose::Advertising));
    /// assert_eq!(consent.to_ids(), ["product_analytics"]);
    ///
    /// let typo = Consent::from_ids(&PLAN, ["product_analytic"]).unwrap_err();
    /// assert!(typo.to_string().contains("declares no purpose \"product_analytic\""));
    /// # Ok(()) }
    /// ```
    pub fn from_ids<'a>(
        plan: &'static PlanInfo,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Consent, ConsentDataError> {
        let granted = purpose_set(plan, ids)?;
        Ok(Consent::bound_to(plan, granted, PurposeSet::EMPTY))
    }

    /// The ids of the purposes this consent grants, in plan order (what
    /// [`Consent::from_ids`] takes back). Empty for consent that grants nothing.
    pub fn to_ids(&self) -> Vec<&'static str> {
        self.ids_of(self.granted_set())
    }

    /// [`Consent::from_ids`] with every purpose granted explicitly
    /// ([`Consent::grant_explicit`]): for a form that asked for explicit consent to use
    /// special-category data for these purposes.
    pub fn from_explicit_ids<'a>(
        plan: &'static PlanInfo,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<Consent, ConsentDataError> {
        let explicit = purpose_set(plan, ids)?;
        Ok(
            Consent::bound_to(plan, PurposeSet::EMPTY, PurposeSet::EMPTY)
                .with_explicit(plan, explicit),
        )
    }

    /// The ids of the purposes granted explicitly, in plan order (a subset of
    /// [`Consent::to_ids`]).
    pub fn explicit_ids(&self) -> Vec<&'static str> {
        self.ids_of(self.explicit_set())
    }

    /// The ids of the purposes this consent withdraws or objects to, in plan order.
    pub fn objected_ids(&self) -> Vec<&'static str> {
        self.ids_of(self.objected_set())
    }

    /// The whole consent as a cookie value: the granted and objected purpose ids, GPC and the
    /// opt-out of everything, in characters a cookie value may hold unquoted (RFC 6265
    /// `cookie-octet`), e.g. `tp1.g=product_analytics:advertising.x=product_analytics.o=security.gpc`
    /// (`g`: granted, `x`: of those, granted explicitly, `o`: objected to).
    /// [`Consent::from_cookie_value`] reads it back. It names purposes, never the subject.
    ///
    /// ```
    /// # extern crate trackplan_runtime as trackplan;
    /// # trackplan_macros::plan!("tests/fixture/shop.toml");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use trackplan::Consent;
    ///
    /// let consent = Consent::none()
    ///     .grant(purpose::ProductAnalytics)
    ///     .object(purpose::Security)
    ///     .with_gpc(true);
    /// let cookie = consent.to_cookie_value();
    /// assert_eq!(cookie, "tp1.g=product_analytics.o=security.gpc");
    /// assert_eq!(Consent::from_cookie_value(&PLAN, &cookie)?, consent);
    /// # Ok(()) }
    /// ```
    pub fn to_cookie_value(&self) -> String {
        let mut out = String::from(COOKIE_VERSION);
        let fields = [
            ("g", self.to_ids()),
            ("x", self.explicit_ids()),
            ("o", self.objected_ids()),
        ];
        for (tag, ids) in fields {
            if !ids.is_empty() {
                out.push('.');
                out.push_str(tag);
                out.push('=');
                out.push_str(&ids.join(":"));
            }
        }
        if self.gpc() {
            out.push_str(".gpc");
        }
        if self.is_opted_out() {
            out.push_str(".out");
        }
        out
    }

    /// Reads a value written by [`Consent::to_cookie_value`], checking every purpose id
    /// against `plan`. A value from an older plan version that still names only purposes
    /// `plan` declares reads fine; one naming a purpose the plan dropped is an
    /// [`ConsentDataError::UnknownPurposes`] error, so the app can ask again.
    pub fn from_cookie_value(
        plan: &'static PlanInfo,
        value: &str,
    ) -> Result<Consent, ConsentDataError> {
        let malformed = |reason: String| ConsentDataError::Malformed { reason };
        let mut fields = value.split('.');
        if fields.next() != Some(COOKIE_VERSION) {
            return Err(malformed(format!(
                "it does not start with `{COOKIE_VERSION}.` or `{COOKIE_VERSION}` alone"
            )));
        }
        let (mut granted, mut explicit, mut objected) = (None, None, None);
        let (mut gpc, mut out) = (false, false);
        for field in fields {
            let (slot, ids) = match field.split_once('=') {
                Some(("g", ids)) => (&mut granted, ids),
                Some(("x", ids)) => (&mut explicit, ids),
                Some(("o", ids)) => (&mut objected, ids),
                None if field == "gpc" && !gpc => {
                    gpc = true;
                    continue;
                }
                None if field == "out" && !out => {
                    out = true;
                    continue;
                }
                _ => {
                    return Err(malformed(format!(
                        "unexpected or repeated field {:?}",
                        echo(field)
                    )));
                }
            };
            if slot.is_some() || ids.is_empty() {
                return Err(malformed(format!(
                    "repeated or empty field {:?}",
                    echo(field)
                )));
            }
            *slot = Some(purpose_set(plan, ids.split(':'))?);
        }
        let granted = granted.unwrap_or(PurposeSet::EMPTY);
        let explicit = explicit.unwrap_or(PurposeSet::EMPTY);
        let objected = objected.unwrap_or(PurposeSet::EMPTY);
        if !(explicit - granted).is_empty() {
            return Err(malformed(
                "a purpose is granted explicitly (`x`) but not granted (`g`)".to_owned(),
            ));
        }
        if !granted.intersection(objected).is_empty() {
            return Err(malformed(
                "a purpose is both granted and objected to".to_owned(),
            ));
        }
        let consent = Consent::bound_to(plan, granted, objected)
            .with_explicit(plan, explicit)
            .with_gpc(gpc);
        Ok(if out { consent.opt_out_all() } else { consent })
    }

    fn ids_of(&self, set: PurposeSet) -> Vec<&'static str> {
        match self.plan_info() {
            Some(plan) => plan.purpose_ids(set).collect(),
            None => Vec::new(),
        }
    }
}

/// The purposes of `plan` with these ids, or the ids it does not declare.
fn purpose_set<'a>(
    plan: &'static PlanInfo,
    ids: impl IntoIterator<Item = &'a str>,
) -> Result<PurposeSet, ConsentDataError> {
    let mut set = PurposeSet::EMPTY;
    let mut unknown = Vec::new();
    for id in ids {
        match plan
            .purposes
            .iter()
            .position(|p| p.id == id)
            .filter(|&i| i < trackplan_vocab::MAX_ITEMS)
        {
            Some(i) => set = set.with(i),
            None => unknown.push(echo(id)),
        }
    }
    if unknown.is_empty() {
        Ok(set)
    } else {
        Err(ConsentDataError::UnknownPurposes {
            unknown,
            plan: plan.label,
            known: plan.purposes.iter().map(|p| p.id).collect(),
        })
    }
}

/// Caller text cut to [`ECHO_MAX`] characters, for an error message.
fn echo(text: &str) -> String {
    match text.char_indices().nth(ECHO_MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A [`Consent`] as plain data: purpose ids and flags, for storing or sending it (a
/// database row, a consent management platform's API, JSON with the `serde` feature).
/// [`ConsentRecord::resolve`] turns it back into a [`Consent`], checking every id against
/// the plan.
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// # trackplan_macros::plan!("tests/fixture/shop.toml");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use trackplan::Consent;
/// use trackplan::consent::ConsentRecord;
///
/// let consent = Consent::none().grant(purpose::ProductAnalytics).with_gpc(true);
/// let record = consent.to_record();
/// assert_eq!(record.granted, ["product_analytics"]);
/// assert_eq!(record.plan.as_deref(), Some("shop@3"));
/// assert_eq!(record.resolve(&PLAN)?, consent);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct ConsentRecord {
    /// The `name@version` of the plan the consent was given under (`None` for consent that
    /// names no purpose).
    #[cfg_attr(feature = "serde", serde(default))]
    pub plan: Option<String>,
    /// Purposes granted, by plan id.
    #[cfg_attr(feature = "serde", serde(default))]
    pub granted: Vec<String>,
    /// Of those, purposes granted explicitly (Art. 9(2)(a)).
    #[cfg_attr(feature = "serde", serde(default))]
    pub explicit: Vec<String>,
    /// Purposes withdrawn or objected to, by plan id.
    #[cfg_attr(feature = "serde", serde(default))]
    pub objected: Vec<String>,
    /// Whether the Global Privacy Control signal applies.
    #[cfg_attr(feature = "serde", serde(default))]
    pub gpc: bool,
    /// Whether the subject opted out of everything.
    #[cfg_attr(feature = "serde", serde(default))]
    pub opt_out_all: bool,
}

impl ConsentRecord {
    /// The consent this record describes under `plan`; an error names every id `plan` does
    /// not declare. The recorded plan version may differ from `plan`'s (purposes keep their
    /// ids across versions); a recorded plan of another name is refused.
    pub fn resolve(&self, plan: &'static PlanInfo) -> Result<Consent, ConsentDataError> {
        if let Some(recorded) = &self.plan {
            let name = |label: &str| label.split('@').next().unwrap_or("").to_owned();
            if name(recorded) != name(plan.label) {
                return Err(ConsentDataError::Malformed {
                    reason: format!(
                        "it was recorded for plan {:?}, not for `{}`",
                        echo(recorded),
                        plan.label
                    ),
                });
            }
        }
        let ids = |list: &[String]| purpose_set(plan, list.iter().map(String::as_str));
        let (granted, explicit, objected) = (
            ids(&self.granted)?,
            ids(&self.explicit)?,
            ids(&self.objected)?,
        );
        let consent = Consent::bound_to(plan, granted, objected)
            .with_explicit(plan, explicit)
            .with_gpc(self.gpc);
        Ok(if self.opt_out_all {
            consent.opt_out_all()
        } else {
            consent
        })
    }
}

impl Consent {
    /// This consent as plain data (see [`ConsentRecord`]).
    pub fn to_record(&self) -> ConsentRecord {
        let owned = |ids: Vec<&str>| ids.into_iter().map(str::to_owned).collect();
        ConsentRecord {
            plan: self.plan_info().map(|p| p.label.to_owned()),
            granted: owned(self.to_ids()),
            explicit: owned(self.explicit_ids()),
            objected: owned(self.objected_ids()),
            gpc: self.gpc(),
            opt_out_all: self.is_opted_out(),
        }
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Consent {
    /// As its [`ConsentRecord`].
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_record().serialize(serializer)
    }
}
