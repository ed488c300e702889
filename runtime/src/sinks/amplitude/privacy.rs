//! Amplitude's APIs for data subjects' requests: the User Privacy API for erasure
//! (`POST /api/2/deletions/users`, at most 100 user ids a request, one request a second,
//! Basic auth with the project's API key and secret key) and the DSAR API for access
//! (`POST /api/2/dsar/requests`, one user a request, Basic auth with the organization's keys).
//! Both work asynchronously: the answer is a reference to follow up, not the data.

use crate::http::{self, Client, Secret};
use crate::privacy_api::PrivacyApi;
use crate::sink::{Access, Erasure, RetryPolicy};
use crate::sinks::privacy_call::{self, PrivacyEndpoint};
use crate::time::Timestamp;
use std::time::Duration;

/// Most user ids in one deletion request.
pub(crate) const MAX_DELETION_IDS: usize = 100;

const DELETIONS: PrivacyEndpoint = PrivacyEndpoint {
    name: "Amplitude's User Privacy API",
    // "1 HTTP request per second".
    interval: Duration::from_secs(1),
    refusal: |status| match status {
        400 => "check the user ids and the request body",
        401 | 403 => "check the project's API key and secret key, and the region",
        _ => "see Amplitude's User Privacy API documentation",
    },
};

const DSAR: PrivacyEndpoint = PrivacyEndpoint {
    name: "Amplitude's DSAR API",
    // 14 400 cost units an hour, 8 a request: one request every 2 s stays within it.
    interval: Duration::from_secs(2),
    refusal: |status| match status {
        400 => "check the user id and the date range",
        401 | 403 => "check the organization's API key and secret key (not the project's)",
        _ => "see Amplitude's DSAR API documentation",
    },
};

/// The privacy APIs of one project, with an HTTP client of their own.
#[derive(Debug)]
pub(super) struct PrivacyClient {
    pub(super) base: String,
    pub(super) api_key: Secret,
    pub(super) secret_key: Option<Secret>,
    pub(super) org_keys: Option<(Secret, Secret)>,
    pub(super) requester: Option<String>,
    pub(super) access_days: u32,
    pub(super) retry: RetryPolicy,
    pub(super) client: Client,
}

impl PrivacyApi for PrivacyClient {
    /// One deletion request per 100 ids; the reference lists, per request, the day Amplitude
    /// scheduled the deletion job for (`day`), comma-separated.
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        let Some(secret) = &self.secret_key else {
            tracing::warn!(
                "Amplitude: no secret key configured, so no deletion request was sent; \
                 configure `Amplitude::secret_key` or delete in Amplitude's UI"
            );
            return Erasure::NotSupported;
        };
        let url = format!("{}/api/2/deletions/users", self.base);
        let authorization = http::basic_auth(self.api_key.expose(), secret.expose());
        let mut references = Vec::new();
        for chunk in distinct_ids.chunks(MAX_DELETION_IDS) {
            let mut body = serde_json::json!({
                "user_ids": chunk,
                // Ids Amplitude never saw (a subject who sent nothing here) must not fail the
                // request for the others.
                "ignore_invalid_id": "true",
            });
            if let Some(requester) = &self.requester {
                body["requester"] = requester.as_str().into();
            }
            let body = body.to_string();
            let sent = privacy_call::post_json(
                &self.client,
                DELETIONS,
                self.api_key.expose(),
                &self.retry,
                &url,
                &authorization,
                &body,
            );
            match sent {
                Ok(response) => {
                    let answer = privacy_call::json(&response);
                    let day = answer["day"].as_str().unwrap_or("scheduled");
                    references.push(format!("deletion job {day}"));
                }
                Err(reason) => {
                    return Erasure::Failed {
                        reason: partial(reason, &references),
                    };
                }
            }
        }
        Erasure::Requested {
            reference: Some(references.join(", ")),
        }
    }

    /// One DSAR request per id, for the last `access_days` days; the reference lists the
    /// `requestId`s, comma-separated.
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        let Some((org_key, org_secret)) = &self.org_keys else {
            tracing::warn!(
                "Amplitude: no organization keys configured, so no DSAR request was sent; \
                 configure `Amplitude::dsar_keys` or export in Amplitude's UI"
            );
            return Access::NotSupported;
        };
        let url = format!("{}/api/2/dsar/requests", self.base);
        let authorization = http::basic_auth(org_key.expose(), org_secret.expose());
        let (start, end) = self.date_range();
        let mut references = Vec::new();
        for id in distinct_ids {
            let body = serde_json::json!({
                "userId": id,
                "startDate": start,
                "endDate": end,
            })
            .to_string();
            let sent = privacy_call::post_json(
                &self.client,
                DSAR,
                org_key.expose(),
                &self.retry,
                &url,
                &authorization,
                &body,
            );
            let answer = match sent {
                Ok(response) => privacy_call::json(&response),
                Err(reason) => {
                    return Access::Failed {
                        reason: partial(reason, &references),
                    };
                }
            };
            match &answer["requestId"] {
                serde_json::Value::Number(n) => references.push(n.to_string()),
                serde_json::Value::String(s) => references.push(s.clone()),
                _ => {
                    return Access::Failed {
                        reason: partial(
                            "Amplitude's DSAR API accepted a request but gave no requestId".into(),
                            &references,
                        ),
                    };
                }
            }
        }
        Access::Requested {
            reference: Some(references.join(", ")),
        }
    }
}

impl PrivacyClient {
    /// `startDate` and `endDate` (`YYYY-MM-DD`, UTC) of an access request: from `access_days`
    /// ago to today.
    fn date_range(&self) -> (String, String) {
        let now = Timestamp::now().unix_millis();
        let start = now - i64::from(self.access_days) * 86_400_000;
        let day = |ms: i64| {
            let iso = Timestamp::from_unix_millis(ms).iso8601();
            iso.as_str()[..10].to_owned()
        };
        (day(start), day(now))
    }
}

/// A failure reason that also says which requests went through before it.
fn partial(reason: String, done: &[String]) -> String {
    if done.is_empty() {
        reason
    } else {
        format!(
            "{reason} (after {} accepted: {})",
            done.len(),
            done.join(", ")
        )
    }
}
