//! axum integration for trackplan: the subject's consent from where the browser gives it.
//!
//! A request carries consent in two places: the **Global Privacy Control** header
//! (`Sec-GPC: 1`, an opt-out of sale and sharing that California and Colorado require to be
//! honoured) and a **consent cookie** the app set when the person answered its banner.
//! [`RequestConsent`] reads both: the cookie through [`Consent::from_cookie_value`] (checked
//! against the running plan), the header on top (GPC only ever takes permission away).
//! [`ConsentCookie`] names the cookie and writes its `Set-Cookie` header.
//!
//! ```no_run
//! use axum::extract::FromRef;
//! use trackplan::Tracker;
//! use trackplan_axum::{ConsentCookie, RequestConsent};
//! # trackplan::plan!("../plans/shop.toml");
//!
//! #[derive(Clone)]
//! struct App {
//!     tracker: Tracker,
//!     cookie: ConsentCookie,
//! }
//!
//! impl FromRef<App> for ConsentCookie {
//!     fn from_ref(app: &App) -> ConsentCookie {
//!         app.cookie.clone()
//!     }
//! }
//!
//! async fn product(
//!     axum::extract::State(app): axum::extract::State<App>,
//!     consent: RequestConsent,
//! ) -> &'static str {
//!     let visitor = app.tracker.subject("user-42", consent.consent());
//!     // visitor.track(...): advertising destinations see nothing when `Sec-GPC: 1` was sent.
//!     "ok"
//! }
//! # fn main() {}
//! ```
//!
//! See `examples/axum.rs` in this crate for a whole service (consent endpoint writing the
//! ledger, instrumented handlers, `forget`, graceful shutdown) and `docs/web.md`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::convert::Infallible;
use std::fmt;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::{COOKIE, HeaderValue};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use trackplan::Consent;
use trackplan::error::ConsentDataError;
use trackplan::info::PlanInfo;

/// The `Sec-GPC` request header of the Global Privacy Control specification.
pub const SEC_GPC: HeaderName = HeaderName::from_static("sec-gpc");

/// Whether `headers` carry the Global Privacy Control signal: a `Sec-GPC` header whose value
/// is `1` (surrounding spaces allowed, as the specification's grammar does). Any other value
/// is no signal.
pub fn gpc_signal(headers: &HeaderMap) -> bool {
    headers
        .get_all(&SEC_GPC)
        .iter()
        .any(|value| value.as_bytes().trim_ascii() == b"1")
}

/// Which consent cookie the app uses, for which plan: the configuration [`RequestConsent`]
/// reads from the router's state (`impl FromRef<YourState> for ConsentCookie`).
#[derive(Clone)]
pub struct ConsentCookie {
    plan: &'static PlanInfo,
    name: &'static str,
    max_age_secs: u64,
    secure: bool,
}

impl fmt::Debug for ConsentCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsentCookie")
            .field("plan", &self.plan.name)
            .field("name", &self.name)
            .field("max_age_secs", &self.max_age_secs)
            .field("secure", &self.secure)
            .finish()
    }
}

/// A cookie name that is not an RFC 6265 token (empty, or holding a space, `=`, `;`, a
/// separator or a control character).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCookieName {
    name: String,
}

impl fmt::Display for InvalidCookieName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} cannot name a cookie: use letters, digits and `-_.!#$%&'*+^`|~` only",
            self.name
        )
    }
}

impl std::error::Error for InvalidCookieName {}

fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl ConsentCookie {
    /// One year: how long the browser keeps the choice unless [`ConsentCookie::max_age`]
    /// says otherwise (EU regulators commonly expect consent to be asked again within
    /// 6 to 13 months).
    pub const DEFAULT_MAX_AGE_SECS: u64 = 365 * 24 * 60 * 60;

    /// The consent cookie `name`, read and written for `plan`.
    pub fn new(plan: &'static PlanInfo, name: &'static str) -> Result<Self, InvalidCookieName> {
        if !is_token(name) {
            return Err(InvalidCookieName {
                name: name.to_owned(),
            });
        }
        Ok(ConsentCookie {
            plan,
            name,
            max_age_secs: Self::DEFAULT_MAX_AGE_SECS,
            secure: true,
        })
    }

    /// How long the browser keeps the cookie (`Max-Age`).
    pub fn max_age(mut self, secs: u64) -> Self {
        self.max_age_secs = secs;
        self
    }

    /// Whether the cookie is sent over HTTPS only (`Secure`, the default). Browsers treat
    /// `http://localhost` as secure; turn it off only for a plain-HTTP deployment you trust.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The cookie's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The plan the cookie's purpose ids are checked against.
    pub fn plan(&self) -> &'static PlanInfo {
        self.plan
    }

    /// The `Set-Cookie` header value that stores `consent`: its
    /// [`Consent::to_cookie_value`], `Path=/`, `Max-Age`, `SameSite=Lax`, `HttpOnly`
    /// (scripts never need it: the server reads it) and `Secure` unless turned off.
    pub fn set_cookie(&self, consent: &Consent) -> HeaderValue {
        let mut header = format!(
            "{}={}; Path=/; Max-Age={}; SameSite=Lax; HttpOnly",
            self.name,
            consent.to_cookie_value(),
            self.max_age_secs
        );
        if self.secure {
            header.push_str("; Secure");
        }
        HeaderValue::from_str(&header).expect(
            "a token name and a cookie value of ids, `.`, `=` and `:` are valid header bytes",
        )
    }

    /// The `Set-Cookie` header value that removes the cookie (after `forget`, or "reset my
    /// choices").
    pub fn clear_cookie(&self) -> HeaderValue {
        let mut header = format!("{}=; Path=/; Max-Age=0; SameSite=Lax; HttpOnly", self.name);
        if self.secure {
            header.push_str("; Secure");
        }
        HeaderValue::from_str(&header).expect("a token name is valid header bytes")
    }

    /// The cookie's raw value in `headers`, if the request sent it (the first one when sent
    /// twice).
    fn raw_value<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == self.name)
            .map(|(_, value)| value.trim().trim_matches('"'))
    }

    /// The consent `headers` carry: see [`RequestConsent`].
    pub fn read(&self, headers: &HeaderMap) -> RequestConsent {
        let (stored, cookie) = match self.raw_value(headers) {
            None => (Consent::none(), CookieState::Absent),
            Some(value) => match Consent::from_cookie_value(self.plan, value) {
                Ok(consent) => (consent, CookieState::Read),
                Err(error) => (Consent::none(), CookieState::Invalid(error)),
            },
        };
        let gpc_header = gpc_signal(headers);
        RequestConsent {
            consent: if gpc_header {
                stored.with_gpc(true)
            } else {
                stored
            },
            stored,
            gpc_header,
            cookie,
        }
    }
}

/// What became of the consent cookie of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum CookieState {
    /// The request sent no consent cookie: the person has not answered yet.
    Absent,
    /// The cookie was read.
    Read,
    /// The cookie could not be read (altered, or naming a purpose the plan dropped): treated
    /// as no answer, so the app asks again. The error names what was wrong, never the value
    /// beyond its first characters.
    Invalid(ConsentDataError),
}

/// The subject's consent as a request carries it: an extractor (`consent: RequestConsent` in
/// a handler's arguments) for any router state `S` with `ConsentCookie: FromRef<S>`.
///
/// - The consent cookie, read with [`Consent::from_cookie_value`] against the plan; absent
///   or unreadable, the subject has granted nothing ([`Consent::none`]), so purposes based
///   on consent receive nothing while contract and legitimate-interest purposes still do.
/// - `Sec-GPC: 1` on top: [`Consent::with_gpc`], so no `sale_or_share` purpose receives
///   anything, whatever the cookie says.
///
/// The extractor never rejects a request. Record the GPC signal in the ledger when
/// [`RequestConsent::gpc_unrecorded`] says the stored choice does not hold it yet.
#[derive(Debug, Clone)]
pub struct RequestConsent {
    consent: Consent,
    stored: Consent,
    gpc_header: bool,
    cookie: CookieState,
}

impl RequestConsent {
    /// The consent to track this request under: the cookie's, with GPC when the header
    /// carries it.
    pub fn consent(&self) -> Consent {
        self.consent
    }

    /// The consent the cookie stored, without this request's GPC header.
    pub fn stored(&self) -> Consent {
        self.stored
    }

    /// The request carried `Sec-GPC: 1`.
    pub fn gpc_header(&self) -> bool {
        self.gpc_header
    }

    /// The request carried `Sec-GPC: 1` but the stored choice does not hold GPC yet: record
    /// [`RequestConsent::consent`] in the ledger (method `Gpc`) and store it in the cookie,
    /// so the proof that the signal was honoured exists once, not on every request.
    pub fn gpc_unrecorded(&self) -> bool {
        self.gpc_header && !self.stored.gpc()
    }

    /// What became of the consent cookie.
    pub fn cookie(&self) -> &CookieState {
        &self.cookie
    }
}

impl<S> FromRequestParts<S> for RequestConsent
where
    ConsentCookie: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(ConsentCookie::from_ref(state).read(&parts.headers))
    }
}
