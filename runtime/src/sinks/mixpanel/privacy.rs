//! Mixpanel's GDPR API: deletion and retrieval requests for data subjects, their status,
//! paced per project and retried by the one backoff rule.

use super::*;

/// The tracking ids of requests, comma-separated.
pub(super) fn tracking_ids(requests: &[PrivacyRequest]) -> String {
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
