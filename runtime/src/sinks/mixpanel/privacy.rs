//! Mixpanel's GDPR API: deletion and retrieval requests for data subjects, their status,
//! paced per project and retried by the one backoff rule. The sink hands the tracker a client
//! of its own for it ([`GdprClient`]), so these calls never wait behind `/import` deliveries,
//! nor deliveries behind them.

use super::*;
use crate::privacy_api::PrivacyApi;
use crate::sinks::privacy_call::{self, GaveUp, Try};

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
        let api = self.gdpr();
        api.requests(self.http.client(), PrivacyKind::Deletion, distinct_ids)
    }

    /// Asks Mixpanel to export what it holds about these distinct ids (right of access). Same
    /// limits as [`request_deletion`](Self::request_deletion).
    pub fn request_retrieval(
        &mut self,
        distinct_ids: &[&str],
    ) -> Result<Vec<PrivacyRequest>, PrivacyError> {
        let api = self.gdpr();
        api.requests(self.http.client(), PrivacyKind::Retrieval, distinct_ids)
    }

    /// How far Mixpanel got with a request.
    pub fn privacy_status(
        &mut self,
        request: &PrivacyRequest,
    ) -> Result<PrivacyStatus, PrivacyError> {
        let api = self.gdpr();
        api.status(self.http.client(), request)
    }

    /// The GDPR API of this sink's project, as configured now.
    pub(super) fn gdpr(&self) -> Gdpr {
        Gdpr {
            project_token: self.token.clone(),
            oauth: self.gdpr_token.clone(),
            base: self.region.privacy(),
            compliance: self.compliance,
            retry: self.http.retry,
        }
    }
}

/// Mixpanel's GDPR API for one project: what its calls need of the sink's configuration.
/// Calls are paced per project across the process (see [`privacy_turn`]), whichever client
/// makes them.
#[derive(Debug, Clone)]
pub(super) struct Gdpr {
    /// Names the project in every call, and keys its pacing.
    project_token: Secret,
    /// The GDPR API's OAuth token; `None`: not configured.
    oauth: Option<Secret>,
    /// Base URL of the GDPR API (`…/api/app`).
    base: String,
    compliance: Compliance,
    retry: RetryPolicy,
}

impl Gdpr {
    /// Whether the OAuth token is configured.
    pub(super) fn configured(&self) -> bool {
        self.oauth.is_some()
    }

    /// Files a deletion request, as `Tracker::forget` reports it.
    pub(super) fn erase(&self, client: &Client, distinct_ids: &[String]) -> Erasure {
        if !self.configured() {
            tracing::warn!(
                "Mixpanel: no GDPR API token configured, so no deletion request was sent; \
                 configure `Mixpanel::gdpr_api_token` or delete in Mixpanel's UI"
            );
            return Erasure::NotSupported;
        }
        let ids: Vec<&str> = distinct_ids.iter().map(String::as_str).collect();
        match self.requests(client, PrivacyKind::Deletion, &ids) {
            Ok(requests) => Erasure::Requested {
                reference: Some(tracking_ids(&requests)),
            },
            Err(e) => Erasure::Failed {
                reason: e.to_string(),
            },
        }
    }

    /// Files a data-retrieval request, as `Tracker::request_access` reports it.
    pub(super) fn retrieve(&self, client: &Client, distinct_ids: &[String]) -> Access {
        if !self.configured() {
            tracing::warn!(
                "Mixpanel: no GDPR API token configured, so no data-retrieval request was sent; \
                 configure `Mixpanel::gdpr_api_token` or export in Mixpanel's UI"
            );
            return Access::NotSupported;
        }
        let ids: Vec<&str> = distinct_ids.iter().map(String::as_str).collect();
        match self.requests(client, PrivacyKind::Retrieval, &ids) {
            Ok(requests) => Access::Requested {
                reference: Some(tracking_ids(&requests)),
            },
            Err(e) => Access::Failed {
                reason: e.to_string(),
            },
        }
    }

    fn status(
        &self,
        client: &Client,
        request: &PrivacyRequest,
    ) -> Result<PrivacyStatus, PrivacyError> {
        let url = format!(
            "{}/{}{}?token={}",
            self.base,
            request.kind.path(),
            http::query_value(&request.tracking_id),
            http::query_value(self.project_token.expose())
        );
        let response = self.call(client, "status", |client, auth| {
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

    fn requests(
        &self,
        client: &Client,
        kind: PrivacyKind,
        distinct_ids: &[&str],
    ) -> Result<Vec<PrivacyRequest>, PrivacyError> {
        let url = format!(
            "{}/{}?token={}",
            self.base,
            kind.path(),
            http::query_value(self.project_token.expose())
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
            let response = self.call(client, kind.noun(), |client, auth| {
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
    fn call(
        &self,
        client: &Client,
        kind: &'static str,
        call: impl Fn(&Client, &str) -> Result<http::Response, TransportError>,
    ) -> Result<http::Response, PrivacyError> {
        let authorization = match &self.oauth {
            Some(token) => format!("Bearer {}", token.expose()),
            None => return Err(PrivacyError::NotConfigured),
        };
        privacy_call::retried(
            &self.retry,
            || privacy_turn(self.project_token.expose()),
            || match call(client, &authorization) {
                Ok(response) if (200..300).contains(&response.status) || response.status == 404 => {
                    Try::Done(response)
                }
                Ok(response) if response.status == 429 || response.status >= 500 => Try::Again(
                    format!("Mixpanel answered {}", response.status),
                    response.retry_after,
                ),
                Ok(response) => Try::Stop(PrivacyError::Refused {
                    kind,
                    status: response.status,
                    reason: match response.status {
                        401 => "check the GDPR API OAuth token (it expires after a year)",
                        403 => "the token's owner must be an owner or admin of the project",
                        400 => "check the project token and the distinct ids",
                        _ => "see Mixpanel's GDPR API documentation",
                    },
                }),
                Err(error) => Try::Again(error.to_string(), None),
            },
            |attempt, wait, failure| {
                tracing::warn!(
                    kind,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "Mixpanel GDPR API unavailable, retrying: {failure}"
                );
            },
        )
        .map_err(|gave_up| match gave_up {
            GaveUp::Stopped(refusal) => refusal,
            GaveUp::Unavailable { attempts, reason } => {
                PrivacyError::Unavailable { attempts, reason }
            }
        })
    }
}

/// The handle [`Sink::privacy`] gives the tracker: the project's GDPR API with an HTTP client
/// of its own, so its calls, pacing and retries run beside the sink's `/import` deliveries.
#[derive(Debug)]
pub(super) struct GdprClient {
    pub(super) api: Gdpr,
    pub(super) client: Client,
}

impl PrivacyApi for GdprClient {
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        self.api.erase(&self.client, distinct_ids)
    }

    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        self.api.retrieve(&self.client, distinct_ids)
    }
}

/// Reserves the next slot of the project's GDPR API pacing (one call per [`PRIVACY_INTERVAL`]
/// per project, across every Mixpanel sink of the process) and returns how long to wait for
/// it. The project is known by its token, held only in this process's memory.
pub(super) fn privacy_turn(project_token: &str) -> Duration {
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
