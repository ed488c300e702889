//! Erasure for Segment-compatible destinations, whose Tracking API cannot delete: opt-in
//! [`Regulations`] handlers, attached to a [`Segment`](crate::sinks::Segment) sink with
//! [`Segment::erase_with`](crate::sinks::Segment::erase_with), each with its own workspace
//! credential, that `Tracker::forget` carries to the collector's regulations API:
//!
//! - [`SegmentRegulations`]: Segment's Public API, `POST /regulations` with a workspace
//!   token (Bearer), `regulationType` `SUPPRESS_WITH_DELETE`, `subjectType` `USER_ID`, at most
//!   5000 `subjectIds` a call; the answer's `regulateId` is the reference.
//! - [`RudderStackRegulations`]: RudderStack's data regulation (user suppression) API,
//!   `POST /v2/regulations` with a personal or service access token (Bearer),
//!   `regulationType` `suppress_with_delete` for the configured `destinationIds` and
//!   `users` by `userId`; the answer's regulation `id` is the reference.
//!
//! Both work on the `userId`, which trackplan sends as the pseudonymous distinct id, so the
//! request names the ids exactly as the collector received them. The forget report's
//! reference says, per handler, what was requested and the id the API returned, e.g.
//! `segment SUPPRESS_WITH_DELETE 2cT9…, rudderstack suppress_with_delete 8b1f…`. Neither API
//! exports a user's data, so `request_access` answers `NotSupported` for these destinations.

use crate::http::{Client, Secret, Timeouts};
use crate::privacy_api::PrivacyApi;
use crate::sink::{Access, Erasure, RetryPolicy};
use crate::sinks::privacy_call::{self, PrivacyEndpoint};
use std::time::Duration;

/// Most `subjectIds` in one Segment regulation.
const SEGMENT_MAX_IDS: usize = 5000;
/// Users in one RudderStack regulation. RudderStack documents no limit; trackplan keeps
/// requests small.
const RUDDERSTACK_MAX_USERS: usize = 100;

const RETRY: RetryPolicy = RetryPolicy {
    initial_backoff: Duration::from_secs(2),
    max_backoff: Duration::from_secs(60),
    max_retries: 8,
};

const SEGMENT: PrivacyEndpoint = PrivacyEndpoint {
    name: "Segment's regulations API",
    interval: Duration::from_secs(1),
    refusal: |status| match status {
        401 | 403 => {
            "check the workspace token: it needs the Workspace Owner role or deletion access"
        }
        404 => "check the region: EU workspaces use eu1.api.segmentapis.com",
        422 => "Segment refused the regulation as invalid (ids, or the monthly regulation limit)",
        _ => "see Segment's Public API documentation",
    },
};

const RUDDERSTACK: PrivacyEndpoint = PrivacyEndpoint {
    name: "RudderStack's regulations API",
    interval: Duration::from_secs(1),
    refusal: |status| match status {
        401 | 403 => "check the access token, and that the plan includes user suppression",
        400 => "check the destination ids: they must support suppress_with_delete",
        _ => "see RudderStack's user suppression API documentation",
    },
};

/// One regulations API a [`Segment`](crate::sinks::Segment) sink's `forget` goes to.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Regulations {
    /// Segment's Public API.
    Segment(SegmentRegulations),
    /// RudderStack's data regulation API.
    RudderStack(RudderStackRegulations),
}

impl From<SegmentRegulations> for Regulations {
    fn from(handler: SegmentRegulations) -> Self {
        Regulations::Segment(handler)
    }
}

impl From<RudderStackRegulations> for Regulations {
    fn from(handler: RudderStackRegulations) -> Self {
        Regulations::RudderStack(handler)
    }
}

/// What both regulations APIs take: a Bearer token, a base URL, a retry policy, timeouts.
#[derive(Debug, Clone)]
struct RegulationsApi {
    token: Secret,
    base: String,
    retry: RetryPolicy,
    timeouts: Timeouts,
}

impl RegulationsApi {
    fn new(token: impl Into<String>, base: &str) -> Self {
        RegulationsApi {
            token: Secret::new(token),
            base: base.into(),
            retry: RETRY,
            timeouts: Timeouts::default(),
        }
    }

    /// Files one regulation per body at `{base}{path}`, one after the other, and returns the
    /// reference `reference` reads from each answer; `no_reference` is the failure of an
    /// answer it finds none in. A failure says which regulations were filed before it.
    fn file(
        &self,
        client: &Client,
        endpoint: PrivacyEndpoint,
        path: &str,
        bodies: impl Iterator<Item = serde_json::Value>,
        reference: impl Fn(&serde_json::Value) -> Option<String>,
        no_reference: &str,
    ) -> Result<Vec<String>, String> {
        let url = format!("{}{path}", self.base);
        let authorization = format!("Bearer {}", self.token.expose());
        let mut references = Vec::new();
        for body in bodies {
            let response = privacy_call::post_json(
                client,
                endpoint,
                self.token.expose(),
                &self.retry,
                &url,
                &authorization,
                &body.to_string(),
            )
            .map_err(|reason| progress(reason, &references))?;
            let answer = privacy_call::json(&response);
            let filed =
                reference(&answer).ok_or_else(|| progress(no_reference.into(), &references))?;
            references.push(filed);
        }
        Ok(references)
    }
}

/// The `retry_policy` and `timeout` builder methods of a regulations handler (its
/// [`RegulationsApi`] is its field `api`), expanded inside its `impl` block.
macro_rules! retry_and_timeout_builders {
    () => {
        /// How requests are retried while the API is unavailable (429, 5xx, no connection):
        /// default 2 s doubling to 60 s, 8 retries, `Retry-After` honoured.
        pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
            self.api.retry = policy;
            self
        }

        /// Longest one request may take. Default 30 s.
        pub fn timeout(mut self, timeout: Duration) -> Self {
            self.api.timeouts.request = timeout;
            self
        }
    };
}

/// Segment's regulations: a `SUPPRESS_WITH_DELETE` regulation of the forgotten users'
/// `userId`s, which stops collecting their data and deletes it from Segment and from the
/// destinations Segment forwards deletions to.
///
/// ```
/// # use trackplan_runtime::sinks::{Segment, SegmentRegulations};
/// let segment = Segment::new("write-key")
///     .erase_with(SegmentRegulations::new("workspace-token"));
/// # let _ = segment;
/// ```
#[derive(Debug, Clone)]
pub struct SegmentRegulations {
    api: RegulationsApi,
}

impl SegmentRegulations {
    /// Regulations of the workspace this Public API token belongs to, on Segment's US API
    /// (`api.segmentapis.com`).
    pub fn new(workspace_token: impl Into<String>) -> Self {
        SegmentRegulations {
            api: RegulationsApi::new(workspace_token, "https://api.segmentapis.com"),
        }
    }

    /// Use Segment's EU Public API (`eu1.api.segmentapis.com`), for EU workspaces.
    pub fn eu(mut self) -> Self {
        self.api.base = "https://eu1.api.segmentapis.com".into();
        self
    }

    /// Send the requests to `{base}/regulations` instead (a proxy, a test server).
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.api.base = base.into().trim_end_matches('/').to_owned();
        self
    }

    retry_and_timeout_builders!();

    fn request(&self, client: &Client, ids: &[String]) -> Result<Vec<String>, String> {
        let bodies = ids.chunks(SEGMENT_MAX_IDS).map(|chunk| {
            serde_json::json!({
                "regulationType": "SUPPRESS_WITH_DELETE",
                "subjectType": "USER_ID",
                "subjectIds": chunk,
            })
        });
        self.api.file(
            client,
            SEGMENT,
            "/regulations",
            bodies,
            |answer| {
                let id = answer["data"]["regulateId"]
                    .as_str()
                    .or_else(|| answer["regulateId"].as_str())?;
                Some(format!("segment SUPPRESS_WITH_DELETE {id}"))
            },
            "Segment accepted a regulation but its answer had no regulateId",
        )
    }
}

/// RudderStack's regulations: a `suppress_with_delete` regulation of the forgotten users'
/// `userId`s for the given destinations, which stops collecting their data and deletes it
/// there. An enterprise-plan feature of RudderStack Cloud.
///
/// ```
/// # use trackplan_runtime::sinks::{RudderStackRegulations, Segment};
/// let rudder = Segment::new("write-key")
///     .base_url("https://example-dataplane.rudderstack.com")
///     .erase_with(RudderStackRegulations::new("access-token", ["2Bv1x…destination-id"]));
/// # let _ = rudder;
/// ```
#[derive(Debug, Clone)]
pub struct RudderStackRegulations {
    destination_ids: Vec<String>,
    api: RegulationsApi,
}

impl RudderStackRegulations {
    /// Regulations with this personal or service access token, deleting from these
    /// RudderStack destinations (their ids, from the dashboard or `GET /v2/destinations`), on
    /// RudderStack's US API (`api.rudderstack.com`).
    pub fn new(
        access_token: impl Into<String>,
        destination_ids: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        RudderStackRegulations {
            destination_ids: destination_ids.into_iter().map(Into::into).collect(),
            api: RegulationsApi::new(access_token, "https://api.rudderstack.com"),
        }
    }

    /// Use RudderStack's EU API (`api.eu.rudderstack.com`), for EU workspaces.
    pub fn eu(mut self) -> Self {
        self.api.base = "https://api.eu.rudderstack.com".into();
        self
    }

    /// Send the requests to `{base}/v2/regulations` instead (a proxy, a test server).
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.api.base = base.into().trim_end_matches('/').to_owned();
        self
    }

    retry_and_timeout_builders!();

    fn request(&self, client: &Client, ids: &[String]) -> Result<Vec<String>, String> {
        if self.destination_ids.is_empty() {
            return Err(
                "RudderStack regulations need the ids of the destinations to delete from".into(),
            );
        }
        let bodies = ids.chunks(RUDDERSTACK_MAX_USERS).map(|chunk| {
            let users: Vec<serde_json::Value> = chunk
                .iter()
                .map(|id| serde_json::json!({ "userId": id }))
                .collect();
            serde_json::json!({
                "regulationType": "suppress_with_delete",
                "destinationIds": self.destination_ids,
                "users": users,
            })
        });
        self.api.file(
            client,
            RUDDERSTACK,
            "/v2/regulations",
            bodies,
            |answer| {
                // The answer is the regulation, or a list of those created.
                let first = answer.as_array().and_then(|a| a.first()).unwrap_or(answer);
                let id = first["id"]
                    .as_str()
                    .or_else(|| first["data"]["id"].as_str())?;
                Some(format!("rudderstack suppress_with_delete {id}"))
            },
            "RudderStack accepted a regulation but its answer had no id",
        )
    }
}

impl Regulations {
    fn timeouts(&self) -> Timeouts {
        match self {
            Regulations::Segment(h) => h.api.timeouts,
            Regulations::RudderStack(h) => h.api.timeouts,
        }
    }

    fn request(&self, client: &Client, ids: &[String]) -> Result<Vec<String>, String> {
        match self {
            Regulations::Segment(h) => h.request(client, ids),
            Regulations::RudderStack(h) => h.request(client, ids),
        }
    }
}

/// A failure reason that also says which regulations were created before it.
fn progress(reason: String, done: &[String]) -> String {
    if done.is_empty() {
        reason
    } else {
        format!("{reason} (already requested: {})", done.join(", "))
    }
}

/// The handle a Segment sink gives the tracker: its regulations handlers, each with an HTTP
/// client of its own, called one after the other on the destination's privacy thread.
#[derive(Debug)]
pub(crate) struct RegulationsClient {
    handlers: Vec<(Regulations, Client)>,
}

impl RegulationsClient {
    pub(crate) fn new(handlers: &[Regulations]) -> Self {
        RegulationsClient {
            handlers: handlers
                .iter()
                .map(|h| (h.clone(), Client::new(h.timeouts())))
                .collect(),
        }
    }
}

impl PrivacyApi for RegulationsClient {
    /// Files a regulation with every handler; `Requested` with all their references when
    /// every handler accepted, `Failed` (naming what was already requested) otherwise.
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        let mut references = Vec::new();
        let mut failures = Vec::new();
        for (handler, client) in &self.handlers {
            match handler.request(client, distinct_ids) {
                Ok(done) => references.extend(done),
                Err(reason) => failures.push(reason),
            }
        }
        if failures.is_empty() {
            Erasure::Requested {
                reference: Some(references.join(", ")),
            }
        } else {
            Erasure::Failed {
                reason: progress(failures.join("; "), &references),
            }
        }
    }

    fn retrieve(&mut self, _distinct_ids: &[String]) -> Access {
        tracing::warn!(
            "Segment-compatible destination: the regulations APIs delete and suppress but export \
             nothing; request the user's data in the collector's workspace"
        );
        Access::NotSupported
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_debug() {
        assert_eq!(
            SegmentRegulations::new("t").api.base,
            "https://api.segmentapis.com"
        );
        assert_eq!(
            SegmentRegulations::new("t").eu().api.base,
            "https://eu1.api.segmentapis.com"
        );
        assert_eq!(
            RudderStackRegulations::new("t", ["d"]).eu().api.base,
            "https://api.eu.rudderstack.com"
        );
        let debug = format!(
            "{:?} {:?}",
            SegmentRegulations::new("sgp_wT0k3n"),
            RudderStackRegulations::new("rs-pat-91x", ["d1"])
        );
        assert!(
            !debug.contains("sgp_wT0k3n") && !debug.contains("rs-pat-91x"),
            "{debug}"
        );
    }

    #[test]
    fn rudderstack_without_destinations_fails_before_sending() {
        let client = Client::new(Timeouts::default());
        let err = RudderStackRegulations::new("t", Vec::<String>::new())
            .base_url("http://127.0.0.1:9")
            .request(&client, &["u".into()])
            .expect_err("no destinations");
        assert!(err.contains("destinations"), "{err}");
    }
}
