//! Mixpanel, through its server-side `/import` API.
//!
//! Each request is a gzip-compressed JSON array of at most 2000 events and 2 MiB (uncompressed),
//! sent with `strict=1` so Mixpanel validates every event and names the ones it rejects. Events
//! carry `time` in milliseconds, the pseudonymous `distinct_id` and `$insert_id`, which makes
//! retries idempotent: Mixpanel keeps one event per insert id.

use crate::http::{self, Client, Secret, Settled, Timeouts, TransportError, Verdict, WireFormat};
use crate::plan::PlanInfo;
use crate::sink::{Access, BatchLimits, Envelope, Erasure, Outcome, RetryPolicy, Sink};
use crate::value::write_json_str;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most distinct ids in one GDPR API request.
const MAX_PRIVACY_IDS: usize = 1999;
/// Mixpanel allows one GDPR API request per second.
const PRIVACY_INTERVAL: Duration = Duration::from_secs(1);

/// Mixpanel's recommendation: back off from 2 s, doubling, up to 60 s.
const RETRY: RetryPolicy = RetryPolicy {
    initial_backoff: Duration::from_secs(2),
    max_backoff: Duration::from_secs(60),
    max_retries: 8,
};

/// Most events in one `/import` request.
const MAX_EVENTS: usize = 2000;
/// Most bytes of one uncompressed `/import` body.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// Events must be smaller than 1 MB; a decimal megabyte keeps us under either reading.
const MAX_EVENT_BYTES: usize = 1_000_000;
/// Events must have fewer than 255 properties (`time`, `distinct_id`, … included).
const MAX_PROPERTIES: usize = 254;
/// Longest `$insert_id`.
const MAX_INSERT_ID: usize = 36;
/// The fideslang category of an IP address: a plan that declares one may let Mixpanel
/// geolocate; every other plan sends `"ip": 0`.
const IP_CATEGORY: &str = "user.device.ip_address";

/// Where the APIs are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Region {
    Us,
    Eu,
    India,
    /// A proxy or a test server: every API under this base URL.
    Custom(String),
}

impl Region {
    /// Base URL of the ingestion API (`/import`).
    fn ingestion(&self) -> &str {
        match self {
            Region::Us => "https://api.mixpanel.com",
            Region::Eu => "https://api-eu.mixpanel.com",
            Region::India => "https://api-in.mixpanel.com",
            Region::Custom(base) => base,
        }
    }

    /// Base URL of the GDPR API (`/api/app/data-deletions/…`).
    fn privacy(&self) -> String {
        match self {
            Region::Us => "https://mixpanel.com/api/app".into(),
            Region::Eu => "https://eu.mixpanel.com/api/app".into(),
            Region::India => "https://in.mixpanel.com/api/app".into(),
            Region::Custom(base) => format!("{base}/api/app"),
        }
    }
}

/// How requests authenticate.
#[derive(Debug, Clone)]
enum Auth {
    /// The project token as the Basic-auth user, empty password.
    ProjectToken,
    /// A service account (`user:secret`), scoped to `project_id`.
    ServiceAccount {
        user: String,
        secret: Secret,
        project_id: String,
    },
}

/// The Mixpanel destination (`kind = "mixpanel"`).
///
/// ```no_run
/// # use trackplan_runtime::sinks::Mixpanel;
/// let sink = Mixpanel::new("project-token").eu();
/// # let _ = sink;
/// ```
///
/// Defaults: US host, project-token auth, gzip on, 10 s connect and 30 s request timeouts.
#[derive(Debug)]
pub struct Mixpanel {
    token: Secret,
    auth: Auth,
    region: Region,
    timeouts: Timeouts,
    gzip: bool,
    client: Option<Client>,
    settled: Settled,
    /// Whether the last plan seen declares an IP property (plans are `'static`: compared by
    /// address).
    ip_declared: Option<(&'static PlanInfo, bool)>,
    gdpr_token: Option<Secret>,
    compliance: Compliance,
    retry: RetryPolicy,
}

impl Mixpanel {
    /// A sink for the project with this token, on Mixpanel's US servers.
    pub fn new(project_token: impl Into<String>) -> Self {
        Mixpanel {
            token: Secret::new(project_token),
            auth: Auth::ProjectToken,
            region: Region::Us,
            timeouts: Timeouts::default(),
            gzip: true,
            client: None,
            settled: Settled::default(),
            ip_declared: None,
            gdpr_token: None,
            compliance: Compliance::Gdpr,
            retry: RETRY,
        }
    }

    /// Use the EU data-residency servers (`api-eu.mixpanel.com`).
    pub fn eu(mut self) -> Self {
        self.region = Region::Eu;
        self
    }

    /// Use the India data-residency servers (`api-in.mixpanel.com`).
    pub fn india(mut self) -> Self {
        self.region = Region::India;
        self
    }

    /// Send every request under this base URL instead (a proxy, a test server), e.g.
    /// `http://127.0.0.1:8080`: events go to `{base}/import`.
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        let base = base.into();
        self.region = Region::Custom(base.trim_end_matches('/').to_owned());
        self
    }

    /// Authenticate with a service account instead of the project token (Mixpanel's
    /// recommendation for `/import`); requests then name the project.
    pub fn service_account(
        mut self,
        user: impl Into<String>,
        secret: impl Into<String>,
        project_id: impl Into<String>,
    ) -> Self {
        self.auth = Auth::ServiceAccount {
            user: user.into(),
            secret: Secret::new(secret),
            project_id: project_id.into(),
        };
        self
    }

    /// Longest a whole request may take (connect, send, response). Default 30 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.request = timeout;
        self.client = None;
        self
    }

    /// Longest connecting may take (DNS, TCP, TLS). Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self.client = None;
        self
    }

    /// Whether request bodies are gzip-compressed (default: yes). Turn it off only for a proxy
    /// that cannot decode them.
    pub fn gzip(mut self, enabled: bool) -> Self {
        self.gzip = enabled;
        self
    }

    /// The OAuth token of Mixpanel's GDPR API (Project Settings → Data & Privacy), needed for
    /// deletion and retrieval requests. It is a personal token with a one-year expiry.
    pub fn gdpr_api_token(mut self, token: impl Into<String>) -> Self {
        self.gdpr_token = Some(Secret::new(token));
        self
    }

    /// The law privacy requests are made under (default GDPR).
    pub fn compliance(mut self, compliance: Compliance) -> Self {
        self.compliance = compliance;
        self
    }

    /// How failed deliveries and privacy requests are retried (429, 5xx, no connection):
    /// default 2 s doubling to 60 s with jitter, 8 retries, `Retry-After` honoured.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    fn import_url(&self) -> String {
        let mut url = format!("{}/import?strict=1", self.region.ingestion());
        if let Auth::ServiceAccount { project_id, .. } = &self.auth {
            url.push_str("&project_id=");
            url.push_str(&http::query_value(project_id));
        }
        url
    }

    fn import_authorization(&self) -> String {
        match &self.auth {
            Auth::ProjectToken => http::basic_auth(self.token.expose(), ""),
            Auth::ServiceAccount { user, secret, .. } => http::basic_auth(user, secret.expose()),
        }
    }
}

impl Sink for Mixpanel {
    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: MAX_EVENTS,
            // The worker counts property bytes only; each event adds its name, time, ids and
            // framing (~200 bytes), so leave room for 2000 of those under the 2 MiB cap. The
            // sink still splits a batch whose encoding comes out larger.
            max_bytes: MAX_BODY_BYTES - MAX_EVENTS * 256,
            max_delay: Duration::from_secs(1),
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    /// Files a GDPR/CCPA deletion request (when a GDPR API token is configured): Mixpanel
    /// erases the events and profiles of these distinct ids within its own deadlines. The
    /// reference is the tracking id (several, comma-separated, past 1999 ids).
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        if self.gdpr_token.is_none() {
            tracing::warn!(
                "Mixpanel: no GDPR API token configured, so no deletion request was sent; \
                 configure `Mixpanel::gdpr_api_token` or delete in Mixpanel's UI"
            );
            return Erasure::NotSupported;
        }
        let ids: Vec<&str> = distinct_ids.iter().map(String::as_str).collect();
        match self.request_deletion(&ids) {
            Ok(requests) => Erasure::Requested {
                reference: Some(tracking_ids(&requests)),
            },
            Err(e) => Erasure::Failed {
                reason: e.to_string(),
            },
        }
    }

    /// Files a GDPR/CCPA data-retrieval request (when a GDPR API token is configured):
    /// Mixpanel prepares an export of these distinct ids' data. The reference is the tracking
    /// id (several, comma-separated, past 1999 ids); follow it with
    /// [`Mixpanel::privacy_status`].
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        if self.gdpr_token.is_none() {
            tracing::warn!(
                "Mixpanel: no GDPR API token configured, so no data-retrieval request was sent; \
                 configure `Mixpanel::gdpr_api_token` or export in Mixpanel's UI"
            );
            return Access::NotSupported;
        }
        let ids: Vec<&str> = distinct_ids.iter().map(String::as_str).collect();
        match self.request_retrieval(&ids) {
            Ok(requests) => Access::Requested {
                reference: Some(tracking_ids(&requests)),
            },
            Err(e) => Access::Failed {
                reason: e.to_string(),
            },
        }
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        let url = self.import_url();
        let authorization = self.import_authorization();
        let Mixpanel {
            timeouts,
            gzip,
            client,
            settled,
            ip_declared,
            ..
        } = self;
        let mut import = Import {
            client: client.get_or_insert_with(|| Client::new(*timeouts)),
            url: &url,
            authorization: &authorization,
            gzip: *gzip,
            ip_declared,
        };
        http::deliver_packed(&mut import, settled, batch)
    }
}

/// The tracking ids of requests, comma-separated.
fn tracking_ids(requests: &[PrivacyRequest]) -> String {
    let ids: Vec<&str> = requests.iter().map(|r| r.tracking_id.as_str()).collect();
    ids.join(",")
}

/// The law a Mixpanel privacy request is made under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compliance {
    /// EU General Data Protection Regulation (Art. 15 access, Art. 17 erasure).
    #[default]
    Gdpr,
    /// California Consumer Privacy Act.
    Ccpa,
}

impl Compliance {
    fn key(self) -> &'static str {
        match self {
            Compliance::Gdpr => "GDPR",
            Compliance::Ccpa => "CCPA",
        }
    }
}

/// Which GDPR API a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivacyKind {
    /// `data-deletions`: erase the subjects' events and profiles.
    Deletion,
    /// `data-retrievals`: export the subjects' data (right of access).
    Retrieval,
}

impl PrivacyKind {
    fn path(self) -> &'static str {
        match self {
            PrivacyKind::Deletion => "data-deletions/v3.0/",
            PrivacyKind::Retrieval => "data-retrievals/v3.0/",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            PrivacyKind::Deletion => "deletion",
            PrivacyKind::Retrieval => "retrieval",
        }
    }
}

/// A deletion or retrieval request that Mixpanel accepted. Mixpanel works on it
/// asynchronously; [`Mixpanel::privacy_status`] asks how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivacyRequest {
    /// Deletion or retrieval.
    pub kind: PrivacyKind,
    /// Mixpanel's task id: quote it to Mixpanel support, keep it as evidence of the request.
    pub tracking_id: String,
    /// How many distinct ids the request covers.
    pub distinct_ids: usize,
}

/// How far Mixpanel got with a privacy request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivacyStatus {
    /// Queued.
    Pending,
    /// Being prepared.
    Staging,
    /// Running; a deletion can no longer be cancelled.
    Started,
    /// Done.
    Success,
    /// Mixpanel could not complete it.
    Failure,
    /// Cancelled.
    Revoked,
    /// Mixpanel does not know the tracking id.
    NotFound,
    /// A status this version does not know, as Mixpanel spelled it.
    Other(String),
}

/// Why a privacy request did not reach Mixpanel.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivacyError {
    /// No GDPR API token was configured.
    #[error(
        "Mixpanel privacy requests need the GDPR API's OAuth token: configure it with `Mixpanel::gdpr_api_token`"
    )]
    NotConfigured,
    /// Mixpanel refused the request; retrying will not help.
    #[error("Mixpanel refused the {kind} request ({status}): {reason}")]
    Refused {
        /// `deletion`, `retrieval` or `status`.
        kind: &'static str,
        /// The HTTP status.
        status: u16,
        /// What to check.
        reason: &'static str,
    },
    /// The GDPR API stayed unavailable through every retry.
    #[error("Mixpanel's GDPR API was unavailable after {attempts} attempts: {reason}")]
    Unavailable {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// Mixpanel answered 200 without a task id.
    #[error("Mixpanel accepted the {kind} request but its answer had no tracking id")]
    NoTrackingId {
        /// `deletion` or `retrieval`.
        kind: &'static str,
    },
}

impl Mixpanel {
    /// Asks Mixpanel to delete everything it holds about these distinct ids (events and
    /// profiles), under the configured [`Compliance`]. Sends one request per 1999 ids, at most
    /// one request per second, retrying while the API is unavailable.
    pub fn request_deletion(
        &mut self,
        distinct_ids: &[&str],
    ) -> Result<Vec<PrivacyRequest>, PrivacyError> {
        self.privacy_requests(PrivacyKind::Deletion, distinct_ids)
    }

    /// Asks Mixpanel to export what it holds about these distinct ids (right of access). Same
    /// limits as [`request_deletion`](Self::request_deletion).
    pub fn request_retrieval(
        &mut self,
        distinct_ids: &[&str],
    ) -> Result<Vec<PrivacyRequest>, PrivacyError> {
        self.privacy_requests(PrivacyKind::Retrieval, distinct_ids)
    }

    /// How far Mixpanel got with a request.
    pub fn privacy_status(
        &mut self,
        request: &PrivacyRequest,
    ) -> Result<PrivacyStatus, PrivacyError> {
        let url = format!(
            "{}/{}{}?token={}",
            self.region.privacy(),
            request.kind.path(),
            http::query_value(&request.tracking_id),
            http::query_value(self.token.expose())
        );
        let response = self.privacy_call("status", |client, auth| {
            client.get(
                &url,
                &[("Authorization", auth), ("Accept", "application/json")],
            )
        })?;
        if response.status == 404 {
            return Ok(PrivacyStatus::NotFound);
        }
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
        let status = body["results"]["status"]
            .as_str()
            .or_else(|| body["status"].as_str())
            .unwrap_or_default();
        Ok(match status {
            "PENDING" => PrivacyStatus::Pending,
            "STAGING" => PrivacyStatus::Staging,
            "STARTED" => PrivacyStatus::Started,
            "SUCCESS" => PrivacyStatus::Success,
            "FAILURE" => PrivacyStatus::Failure,
            "REVOKED" => PrivacyStatus::Revoked,
            "NOT_FOUND" => PrivacyStatus::NotFound,
            other => PrivacyStatus::Other(other.to_owned()),
        })
    }

    fn privacy_requests(
        &mut self,
        kind: PrivacyKind,
        distinct_ids: &[&str],
    ) -> Result<Vec<PrivacyRequest>, PrivacyError> {
        let url = format!(
            "{}/{}?token={}",
            self.region.privacy(),
            kind.path(),
            http::query_value(self.token.expose())
        );
        let mut requests = Vec::new();
        for chunk in distinct_ids.chunks(MAX_PRIVACY_IDS) {
            let mut body = serde_json::json!({
                "distinct_ids": chunk,
                "compliance_type": self.compliance.key(),
            });
            if kind == PrivacyKind::Retrieval && self.compliance == Compliance::Ccpa {
                body["disclosure_type"] = "Data".into();
            }
            let body = body.to_string();
            let response = self.privacy_call(kind.noun(), |client, auth| {
                client.post(
                    &url,
                    &[
                        ("Authorization", auth),
                        ("Content-Type", "application/json"),
                        ("Accept", "application/json"),
                    ],
                    body.as_bytes(),
                )
            })?;
            let answer: serde_json::Value =
                serde_json::from_slice(&response.body).unwrap_or_default();
            let tracking_id = answer["results"]["task_id"]
                .as_str()
                .or_else(|| answer["task_id"].as_str())
                .ok_or(PrivacyError::NoTrackingId { kind: kind.noun() })?;
            requests.push(PrivacyRequest {
                kind,
                tracking_id: tracking_id.to_owned(),
                distinct_ids: chunk.len(),
            });
        }
        Ok(requests)
    }

    /// Makes one GDPR API call, paced to one per second, retried while the API is unavailable.
    /// Returns a 2xx or 404 response.
    fn privacy_call(
        &mut self,
        kind: &'static str,
        call: impl Fn(&Client, &str) -> Result<http::Response, TransportError>,
    ) -> Result<http::Response, PrivacyError> {
        let authorization = match &self.gdpr_token {
            Some(token) => format!("Bearer {}", token.expose()),
            None => return Err(PrivacyError::NotConfigured),
        };
        let client = self
            .client
            .get_or_insert_with(|| Client::new(self.timeouts));
        let mut last_failure = String::new();
        let attempts = self.retry.max_retries.saturating_add(1);
        for attempt in 0..attempts {
            std::thread::sleep(privacy_turn(self.token.expose()));
            let retry_after = match call(client, &authorization) {
                Ok(response) if (200..300).contains(&response.status) || response.status == 404 => {
                    return Ok(response);
                }
                Ok(response) if response.status == 429 || response.status >= 500 => {
                    last_failure = format!("Mixpanel answered {}", response.status);
                    response.retry_after
                }
                Ok(response) => {
                    return Err(PrivacyError::Refused {
                        kind,
                        status: response.status,
                        reason: match response.status {
                            401 => "check the GDPR API OAuth token (it expires after a year)",
                            403 => "the token's owner must be an owner or admin of the project",
                            400 => "check the project token and the distinct ids",
                            _ => "see Mixpanel's GDPR API documentation",
                        },
                    });
                }
                Err(error) => {
                    last_failure = error.to_string();
                    None
                }
            };
            if attempt + 1 < attempts {
                let wait = crate::retry::wait(
                    &self.retry,
                    attempt + 1,
                    retry_after,
                    crate::retry::jitter_permille(),
                );
                tracing::warn!(
                    kind,
                    attempt = attempt + 1,
                    wait_ms = wait.as_millis() as u64,
                    "Mixpanel GDPR API unavailable, retrying: {last_failure}"
                );
                std::thread::sleep(wait);
            }
        }
        Err(PrivacyError::Unavailable {
            attempts,
            reason: last_failure,
        })
    }
}

/// Reserves the next slot of the project's GDPR API pacing (one call per [`PRIVACY_INTERVAL`]
/// per project, across every Mixpanel sink of the process) and returns how long to wait for
/// it. The project is known by its token, held only in this process's memory.
fn privacy_turn(project_token: &str) -> Duration {
    static NEXT_CALL: Mutex<Option<HashMap<String, Instant>>> = Mutex::new(None);
    let now = Instant::now();
    let mut next = NEXT_CALL.lock().unwrap_or_else(PoisonError::into_inner);
    let slot = next
        .get_or_insert_with(HashMap::new)
        .entry(project_token.to_owned())
        .or_insert(now);
    let at = (*slot).max(now);
    *slot = at + PRIVACY_INTERVAL;
    at - now
}

/// One `deliver` call's view of the sink, as a wire format.
struct Import<'a> {
    client: &'a Client,
    url: &'a str,
    authorization: &'a str,
    gzip: bool,
    ip_declared: &'a mut Option<(&'static PlanInfo, bool)>,
}

impl Import<'_> {
    fn sends_ip_zero(&mut self, plan: &'static PlanInfo) -> bool {
        match *self.ip_declared {
            Some((seen, declared)) if std::ptr::eq(seen, plan) => !declared,
            _ => {
                let declared = plan_declares_ip(plan);
                *self.ip_declared = Some((plan, declared));
                !declared
            }
        }
    }
}

/// Whether the plan declares an IP-address property (or one whose wire name is Mixpanel's
/// `ip`, which must then not be overwritten).
fn plan_declares_ip(plan: &PlanInfo) -> bool {
    plan.events.iter().flat_map(|e| e.properties).any(|p| {
        p.name == "ip"
            || p.category.is_some_and(|c| {
                c == IP_CATEGORY
                    || c.strip_prefix(IP_CATEGORY)
                        .is_some_and(|rest| rest.starts_with('.'))
            })
    })
}

/// Whether `id` is a valid `$insert_id`: 1 to 36 characters of `[A-Za-z0-9-]`.
pub(crate) fn valid_insert_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_INSERT_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl WireFormat for Import<'_> {
    const MAX_EVENTS: usize = MAX_EVENTS;
    const MAX_BODY_BYTES: usize = MAX_BODY_BYTES;
    const OPEN: &'static [u8] = b"[";
    const CLOSE: &'static [u8] = b"]";
    const NAME: &'static str = "mixpanel";

    fn encode(&mut self, envelope: &Envelope, out: &mut Vec<u8>) -> Result<(), String> {
        if !valid_insert_id(&envelope.insert_id) {
            return Err(format!(
                "insert id is not 1 to {MAX_INSERT_ID} characters of [A-Za-z0-9-]"
            ));
        }
        let Some(members) = http::object_members(&envelope.properties) else {
            return Err("properties are not a JSON object".into());
        };
        let ip_zero = self.sends_ip_zero(envelope.plan);
        let count = http::count_members(members) + 3 + usize::from(ip_zero);
        if count > MAX_PROPERTIES {
            return Err(format!(
                "{count} properties, Mixpanel accepts at most {MAX_PROPERTIES} per event"
            ));
        }
        out.extend_from_slice(b"{\"event\":");
        write_json_str(out, envelope.event);
        out.extend_from_slice(b",\"properties\":{\"time\":");
        out.extend_from_slice(envelope.time_ms.to_string().as_bytes());
        out.extend_from_slice(b",\"distinct_id\":");
        write_json_str(out, &envelope.distinct_id);
        out.extend_from_slice(b",\"$insert_id\":\"");
        out.extend_from_slice(envelope.insert_id.as_bytes());
        out.push(b'"');
        if ip_zero {
            out.extend_from_slice(b",\"ip\":0");
        }
        if !members.is_empty() {
            out.push(b',');
            out.extend_from_slice(members.as_bytes());
        }
        out.extend_from_slice(b"}}");
        if out.len() >= MAX_EVENT_BYTES {
            return Err(format!(
                "{} bytes, Mixpanel accepts events smaller than {MAX_EVENT_BYTES} bytes",
                out.len()
            ));
        }
        Ok(())
    }

    fn send(&mut self, body: &[u8], members: &[&Envelope]) -> Verdict {
        let compressed;
        let (body, encoding) = if self.gzip {
            compressed = http::gzip(body);
            (compressed.as_slice(), Some(("Content-Encoding", "gzip")))
        } else {
            (body, None)
        };
        let mut headers = vec![
            ("Authorization", self.authorization),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ];
        headers.extend(encoding);
        match self.client.post(self.url, &headers, body) {
            Ok(response) => import_verdict(
                response.status,
                response.retry_after,
                &response.body,
                members,
            ),
            Err(error) => transport_verdict(&error),
        }
    }
}

fn transport_verdict(error: &TransportError) -> Verdict {
    http::retry_on(error, "Mixpanel")
}

/// What an `/import` response means for the events of the request.
pub(crate) fn import_verdict(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    members: &[&Envelope],
) -> Verdict {
    match status {
        200..=299 => Verdict::Accepted,
        400 => match failed_records(body, members) {
            Some(failed) if !failed.is_empty() => Verdict::Partial(failed),
            _ => Verdict::Failed(
                "Mixpanel rejected the request (400 Bad Request) without naming the failed records"
                    .into(),
            ),
        },
        401 => Verdict::Failed(
            "Mixpanel refused the credentials (401 Unauthorized): check the project token or the service account"
                .into(),
        ),
        403 => Verdict::Failed(
            "Mixpanel denied access (403 Forbidden): the service account may lack access to the project, or the project is not in this region"
                .into(),
        ),
        413 => Verdict::Failed("Mixpanel refused the request as too large (413)".into()),
        429 | 500..=599 => Verdict::Retry {
            reason: format!("Mixpanel answered {status}"),
            after: retry_after,
        },
        _ => Verdict::Failed(format!("Mixpanel answered {status}, which is not retried")),
    }
}

/// The positions (in the request) and reasons of the records a 400 names, by insert id
/// (`insert_id` or `$insert_id`), else by `index`. Reasons name the rejected field, never its
/// value: Mixpanel's messages can quote it.
fn failed_records(body: &[u8], members: &[&Envelope]) -> Option<Vec<(usize, String)>> {
    let response: serde_json::Value = serde_json::from_slice(body).ok()?;
    let records = response.get("failed_records")?.as_array()?;
    let mut failed = Vec::with_capacity(records.len());
    for record in records {
        let by_id = record
            .get("insert_id")
            .or_else(|| record.get("$insert_id"))
            .and_then(|v| v.as_str())
            .and_then(|id| members.iter().position(|e| e.insert_id == id));
        let by_index = || {
            record
                .get("index")
                .and_then(|v| v.as_u64())
                .and_then(|i| usize::try_from(i).ok())
                .filter(|&i| i < members.len())
        };
        let Some(position) = by_id.or_else(by_index) else {
            continue;
        };
        let reason = match record.get("field").and_then(|v| v.as_str()) {
            Some(field) => format!("Mixpanel rejected the event: invalid `{field}`"),
            None => "Mixpanel rejected the event".to_owned(),
        };
        failed.push((position, reason));
    }
    Some(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{
        Constraints, DestinationSet, EventInfo, IdentityInfo, PropertyInfo, PurposeSet,
        Sensitivity, TransformInfo, ValueKind,
    };

    const fn property(name: &'static str, category: Option<&'static str>) -> PropertyInfo {
        PropertyInfo {
            id: name,
            name,
            json_key: "",
            kind: ValueKind::String,
            sensitivity: Sensitivity::Public,
            category,
            transform: TransformInfo::None,
            required: true,
            constraints: Constraints {
                max_length: None,
                min: None,
                max: None,
            },
        }
    }

    const fn event(properties: &'static [PropertyInfo]) -> EventInfo {
        EventInfo {
            id: "e",
            name: "E",
            purposes: PurposeSet::EMPTY,
            destinations: DestinationSet::from_bits(0),
            properties,
        }
    }

    const fn plan(events: &'static [EventInfo]) -> PlanInfo {
        PlanInfo {
            name: "t",
            version: 1,
            label: "t@1",
            hash: "0",
            identity: IdentityInfo::Hmac,
            purposes: &[],
            destinations: &[],
            events,
        }
    }

    static NO_IP: PlanInfo = plan(&[event(&[property("url", None)])]);
    static WITH_IP: PlanInfo = plan(&[
        event(&[property("url", None)]),
        event(&[property("IP Address", Some("user.device.ip_address"))]),
    ]);
    static NAMED_IP: PlanInfo = plan(&[event(&[property("ip", None)])]);

    fn envelope(plan: &'static PlanInfo, insert_id: &str, properties: &str) -> Envelope {
        Envelope {
            event: "Signup \"Completed\"",
            insert_id: insert_id.into(),
            time_ms: 1_700_000_000_123,
            distinct_id: "abc123".into(),
            plan,
            purposes: PurposeSet::EMPTY,
            properties: properties.into(),
        }
    }

    fn encode(e: &Envelope) -> Result<String, String> {
        let client = Client::new(Timeouts::default());
        let mut ip = None;
        let mut import = Import {
            client: &client,
            url: "",
            authorization: "",
            gzip: true,
            ip_declared: &mut ip,
        };
        let mut out = Vec::new();
        import.encode(e, &mut out)?;
        Ok(String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn encodes_the_import_event_exactly() {
        let e = envelope(&NO_IP, "0b5c-1", r#"{"Plan Tier":"pro","n":[1,2]}"#);
        assert_eq!(
            encode(&e).as_deref(),
            Ok(
                r#"{"event":"Signup \"Completed\"","properties":{"time":1700000000123,"distinct_id":"abc123","$insert_id":"0b5c-1","ip":0,"Plan Tier":"pro","n":[1,2]}}"#
            )
        );
        let e = envelope(&NO_IP, "x", "{}");
        assert_eq!(
            encode(&e).as_deref(),
            Ok(
                r#"{"event":"Signup \"Completed\"","properties":{"time":1700000000123,"distinct_id":"abc123","$insert_id":"x","ip":0}}"#
            )
        );
    }

    #[test]
    fn ip_zero_only_when_the_plan_declares_no_ip_property() {
        let with_ip = encode(&envelope(&WITH_IP, "a", "{}")).expect("encodes");
        assert!(!with_ip.contains("\"ip\""), "{with_ip}");
        let named_ip = encode(&envelope(&NAMED_IP, "a", r#"{"ip":"10.0.0.0"}"#)).expect("encodes");
        assert!(!named_ip.contains("\"ip\":0"), "{named_ip}");
        assert!(plan_declares_ip(&WITH_IP));
        assert!(!plan_declares_ip(&NO_IP));
    }

    #[test]
    fn rejects_bad_insert_ids_and_oversized_events() {
        assert!(valid_insert_id("0123456789abcdef0123456789ABCDEF-123"));
        for bad in ["", "has space", "under_score", "é", &"a".repeat(37)] {
            assert!(!valid_insert_id(bad), "{bad:?}");
            assert!(encode(&envelope(&NO_IP, bad, "{}")).is_err());
        }

        let many: Vec<String> = (0..251).map(|i| format!("\"p{i}\":{i}")).collect();
        let ok = format!("{{{}}}", many[..250].join(","));
        assert!(
            encode(&envelope(&NO_IP, "a", &ok)).is_ok(),
            "250 + 4 = 254 properties"
        );
        let too_many = format!("{{{}}}", many.join(","));
        let err = encode(&envelope(&NO_IP, "a", &too_many)).expect_err("255 properties");
        assert!(err.contains("255 properties"), "{err}");

        let secret_value = "s3cret-value-".repeat(80_000);
        let big = format!("{{\"note\":\"{secret_value}\"}}");
        let err = encode(&envelope(&NO_IP, "a", &big)).expect_err("over 1 MB");
        assert!(err.contains("bytes"), "{err}");
        assert!(!err.contains("s3cret"), "the reason never quotes a value");
    }

    #[test]
    fn maps_import_responses() {
        let a = envelope(&NO_IP, "a", "{}");
        let b = envelope(&NO_IP, "b", "{}");
        let c = envelope(&NO_IP, "c", "{}");
        let members = [&a, &b, &c];
        assert_eq!(
            import_verdict(200, None, b"{}", &members),
            Verdict::Accepted
        );

        let body = br#"{"code":400,"error":"some data points in the request failed validation",
            "failed_records":[{"index":0,"insert_id":"c","field":"properties.time","message":"'properties.time' is invalid: 'x'"},
                              {"index":1,"$insert_id":"a","field":"event","message":"bad"},
                              {"index":1,"field":"distinct_id","message":"no id"}],
            "num_records_imported":0,"status":"Bad Request"}"#;
        let Verdict::Partial(failed) = import_verdict(400, None, body, &members) else {
            panic!("a 400 with failed_records is partial");
        };
        let positions: Vec<usize> = failed.iter().map(|(p, _)| *p).collect();
        assert_eq!(positions, [2, 0, 1]);
        assert!(failed[0].1.contains("properties.time"));
        assert!(
            !failed.iter().any(|(_, r)| r.contains("'x'")),
            "no values in reasons"
        );

        assert!(matches!(
            import_verdict(400, None, b"{\"error\":\"bad\"}", &members),
            Verdict::Failed(_)
        ));
        for status in [401, 403, 404, 413, 422] {
            assert!(
                matches!(
                    import_verdict(status, None, b"", &members),
                    Verdict::Failed(_)
                ),
                "{status} is permanent"
            );
        }
        for status in [429, 500, 502, 503, 504] {
            let after = Some(Duration::from_secs(7));
            assert_eq!(
                import_verdict(status, after, b"", &members),
                Verdict::Retry {
                    reason: format!("Mixpanel answered {status}"),
                    after
                }
            );
        }
    }

    #[test]
    fn urls_and_credentials() {
        let m = Mixpanel::new("tok");
        assert_eq!(m.import_url(), "https://api.mixpanel.com/import?strict=1");
        assert_eq!(m.import_authorization(), http::basic_auth("tok", ""));
        let m = Mixpanel::new("tok")
            .eu()
            .service_account("sa.user", "s3cret", "12345");
        assert_eq!(
            m.import_url(),
            "https://api-eu.mixpanel.com/import?strict=1&project_id=12345"
        );
        assert_eq!(
            m.import_authorization(),
            http::basic_auth("sa.user", "s3cret")
        );
        assert_eq!(
            Mixpanel::new("t").india().import_url(),
            "https://api-in.mixpanel.com/import?strict=1"
        );
        assert_eq!(
            Mixpanel::new("t")
                .base_url("http://127.0.0.1:9/")
                .import_url(),
            "http://127.0.0.1:9/import?strict=1"
        );
        let debug = format!(
            "{:?}",
            Mixpanel::new("pt-4f2a").service_account("u", "s3cret", "1")
        );
        assert!(
            !debug.contains("pt-4f2a") && !debug.contains("s3cret"),
            "{debug}"
        );
    }
}
