//! Amplitude, through its HTTP V2 API (`/2/httpapi`, or the Batch Event Upload API `/batch`,
//! which takes the same requests) for events, profile and group updates and identity
//! stitching (`wire.rs`), and its User Privacy and DSAR APIs for data subjects' requests
//! (`privacy.rs`).
//!
//! Each request is `{"events":[…],"api_key":"…"}` with at most 2000 events and under 1 MB.
//! Every event carries `insert_id`, so a retried request is deduplicated by Amplitude (it
//! ignores an insert id it saw in the past 7 days).

use crate::http::Secret;
use crate::privacy_api::PrivacyApi;
use crate::sink::{
    Access, BatchLimits, Envelope, Erasure, Outcome, RetryPolicy, Sink, SinkDeclaration,
};
use crate::sinks::http_options::{HttpOptions, timeout_builders};
use std::time::Duration;

mod privacy;
pub(crate) mod wire;

use privacy::PrivacyClient;
use wire::Upload;

/// Amplitude's own advice: retry failed uploads; start at 2 s, doubling up to 60 s.
const RETRY: RetryPolicy = RetryPolicy {
    initial_backoff: Duration::from_secs(2),
    max_backoff: Duration::from_secs(60),
    max_retries: 8,
};

/// Where the APIs are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Region {
    Us,
    Eu,
    /// A proxy or a test server: every API under this base URL.
    Custom(String),
}

impl Region {
    /// Base URL of the ingestion APIs (`/2/httpapi`, `/batch`).
    fn ingestion(&self) -> &str {
        match self {
            Region::Us => "https://api2.amplitude.com",
            Region::Eu => "https://api.eu.amplitude.com",
            Region::Custom(base) => base,
        }
    }

    /// Base URL of the User Privacy and DSAR APIs (`/api/2/…`).
    fn privacy(&self) -> &str {
        match self {
            Region::Us => "https://amplitude.com",
            Region::Eu => "https://analytics.eu.amplitude.com",
            Region::Custom(base) => base,
        }
    }
}

/// Which upload endpoint events go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// `/2/httpapi`: the HTTP V2 API.
    HttpV2,
    /// `/batch`: the Batch Event Upload API, same format, higher per-user throttling limits.
    Batch,
}

/// An Amplitude project (`kind = "amplitude"`).
///
/// ```no_run
/// # use trackplan_runtime::sinks::Amplitude;
/// // A project with EU data residency, with deletion requests through the User Privacy API:
/// let amplitude = Amplitude::new("api-key")
///     .eu()
///     .secret_key("secret-key")
///     .requester("privacy@example.com");
/// # let _ = amplitude;
/// ```
///
/// Defaults: US hosts (`api2.amplitude.com`), the HTTP V2 API, 10 s connect and 30 s request
/// timeouts, retries from 2 s doubling to 60 s, 8 times.
///
/// Each envelope becomes one Amplitude event, with the pseudonymous distinct id as `user_id`:
///
/// | message | Amplitude event |
/// |---|---|
/// | `Track` | `event_type` = the event name, `event_properties`, `groups` of its plan groups |
/// | `Profile` | `$identify` with `user_properties` `{"$set"/"$setOnce"/"$add"/"$postInsert"/"$remove"/"$unset": …}` |
/// | `Join` | `$identify` with `groups` `{kind: id}` and the same `$set` on the user |
/// | `Group` | `$groupidentify` with `groups` `{kind: id}` and `group_properties` `{"$set": …}` (same operations) |
/// | `Link` | `$identify` with `user_id` the identified id and `device_id` the anonymous one |
///
/// A `429` that names throttled users or devices holds back only their events; the rest of
/// the request is sent again at once (see `docs/amplitude.md`).
#[derive(Debug)]
pub struct Amplitude {
    api_key: Secret,
    secret_key: Option<Secret>,
    org_keys: Option<(Secret, Secret)>,
    requester: Option<String>,
    access_days: u32,
    region: Region,
    endpoint: Endpoint,
    http: HttpOptions,
}

impl Amplitude {
    /// A sink for the project with this API key (Project Settings → General), on Amplitude's
    /// US hosts.
    pub fn new(api_key: impl Into<String>) -> Self {
        Amplitude {
            api_key: Secret::new(api_key),
            secret_key: None,
            org_keys: None,
            requester: None,
            access_days: 2 * 365,
            region: Region::Us,
            endpoint: Endpoint::HttpV2,
            http: HttpOptions::new(RETRY),
        }
    }

    /// Use Amplitude's EU data-residency hosts (`api.eu.amplitude.com` for events,
    /// `analytics.eu.amplitude.com` for privacy requests), for projects set up in Amplitude EU.
    pub fn eu(mut self) -> Self {
        self.region = Region::Eu;
        self
    }

    /// Send every request under this base URL instead (a proxy, a test server): events to
    /// `{base}/2/httpapi` (or `/batch`), privacy requests to `{base}/api/2/…`.
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.region = Region::Custom(base.into().trim_end_matches('/').to_owned());
        self
    }

    /// Upload through the Batch Event Upload API (`/batch`) instead of HTTP V2: the same
    /// requests and answers, with a higher events-per-second threshold per user or device
    /// before Amplitude throttles it. Request limits stay those of HTTP V2 (2000 events,
    /// under 1 MB), the stricter of the two.
    pub fn batch_api(mut self) -> Self {
        self.endpoint = Endpoint::Batch;
        self
    }

    /// The project's secret key (Project Settings → General), needed with the API key for
    /// deletion requests through the User Privacy API. Without it `forget` answers
    /// `NotSupported` for this destination.
    pub fn secret_key(mut self, secret_key: impl Into<String>) -> Self {
        self.secret_key = Some(Secret::new(secret_key));
        self
    }

    /// Who asks for deletions, recorded by Amplitude with each request for its audit trail
    /// (the User Privacy API's `requester`, e.g. your privacy team's address).
    pub fn requester(mut self, requester: impl Into<String>) -> Self {
        self.requester = Some(requester.into());
        self
    }

    /// The organization's API key and secret key (Organization settings → API keys), which
    /// Amplitude's DSAR API needs for access requests. Without them `request_access` answers
    /// `NotSupported` for this destination.
    pub fn dsar_keys(
        mut self,
        org_api_key: impl Into<String>,
        org_secret: impl Into<String>,
    ) -> Self {
        self.org_keys = Some((Secret::new(org_api_key), Secret::new(org_secret)));
        self
    }

    /// How many days back an access request asks for (its `startDate`; default 730).
    pub fn access_days(mut self, days: u32) -> Self {
        self.access_days = days;
        self
    }

    timeout_builders!();

    /// How failed uploads and privacy requests are retried (429, 5xx, no connection):
    /// default 2 s doubling to 60 s with jitter, 8 retries, `Retry-After` honoured.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.http.retry = policy;
        self
    }

    fn upload_url(&self) -> String {
        let path = match self.endpoint {
            Endpoint::HttpV2 => "/2/httpapi",
            Endpoint::Batch => "/batch",
        };
        format!("{}{path}", self.region.ingestion())
    }

    /// The privacy APIs of this project, as configured now.
    fn privacy_client(&self) -> PrivacyClient {
        PrivacyClient {
            base: self.region.privacy().to_owned(),
            api_key: self.api_key.clone(),
            secret_key: self.secret_key.clone(),
            org_keys: self.org_keys.clone(),
            requester: self.requester.clone(),
            access_days: self.access_days,
            retry: self.http.retry,
            client: self.http.separate_client(),
        }
    }
}

impl Sink for Amplitude {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::third_party("amplitude")
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: wire::MAX_EVENTS,
            // The worker counts property bytes only; each event adds its type, ids, time and
            // framing (~200 bytes), so leave room for 2000 of those under 1 MB. The sink still
            // splits a batch whose encoding comes out larger.
            max_bytes: wire::MAX_BODY_BYTES - wire::MAX_EVENTS * 200,
            max_delay: Duration::from_secs(1),
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.http.retry
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        let url = self.upload_url();
        let (client, settled) = self.http.delivery();
        let mut upload = Upload {
            client,
            url: &url,
            api_key: self.api_key.expose(),
        };
        crate::http::deliver_packed(&mut upload, settled, batch)
    }

    /// Files a deletion request through the User Privacy API (with the secret key), on the
    /// worker. A tracker calls it through [`Sink::privacy`]'s handle instead.
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        self.privacy_client().erase(distinct_ids)
    }

    /// Files DSAR requests (with the organization keys), on the worker. A tracker calls it
    /// through [`Sink::privacy`]'s handle instead.
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        self.privacy_client().retrieve(distinct_ids)
    }

    /// A client of the User Privacy and DSAR APIs with its own HTTP connection, so deletion
    /// and access requests (paced, retried) never hold up uploads. Always given: without keys
    /// it answers `NotSupported` and says which key is missing.
    fn privacy(&mut self) -> Option<Box<dyn PrivacyApi>> {
        Some(Box::new(self.privacy_client()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_endpoints_and_debug() {
        assert_eq!(
            Amplitude::new("k").upload_url(),
            "https://api2.amplitude.com/2/httpapi"
        );
        assert_eq!(
            Amplitude::new("k").eu().upload_url(),
            "https://api.eu.amplitude.com/2/httpapi"
        );
        assert_eq!(
            Amplitude::new("k").batch_api().upload_url(),
            "https://api2.amplitude.com/batch"
        );
        assert_eq!(
            Amplitude::new("k")
                .base_url("http://127.0.0.1:9/")
                .upload_url(),
            "http://127.0.0.1:9/2/httpapi"
        );
        assert_eq!(Region::Us.privacy(), "https://amplitude.com");
        assert_eq!(Region::Eu.privacy(), "https://analytics.eu.amplitude.com");
        let sink = Amplitude::new("ak-1f2e")
            .secret_key("sk-9a8b")
            .dsar_keys("org-7c6d", "orgsk-5e4f");
        let debug = format!("{sink:?} {:?}", sink.privacy_client());
        for secret in ["ak-1f2e", "sk-9a8b", "org-7c6d", "orgsk-5e4f"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
