//! PostHog, through its public capture API (`/batch/`, `capture.rs`), and its private persons
//! API for data subjects' requests (`persons.rs`).
//!
//! Each request is one gzip-compressed `{"api_key":…,"historical_migration":…,"batch":[…]}` body
//! of at most 2000 events and 20 MB (PostHog's documented body limit, uncompressed). Every
//! message kind is a PostHog event: events as they are named, person updates as `$set` events
//! (`$set`, `$set_once`, `$unset`), group joins and group updates as `$groupidentify`, identity
//! stitching as `$identify` with `$anon_distinct_id`. Each carries `uuid`, the envelope's insert
//! id, which PostHog keeps one event per: a retried request stores nothing twice.

use crate::http::Secret;
use crate::privacy_api::PrivacyApi;
use crate::sink::{
    Access, BatchLimits, Envelope, Erasure, Outcome, RetryPolicy, Sink, SinkDeclaration,
};
use crate::sinks::http_options::{HttpOptions, timeout_builders};
use std::time::Duration;

mod capture;
mod persons;

use capture::Capture;
use persons::Persons;

/// Backoff of failed deliveries and persons-API calls: 2 s doubling to 60 s, 8 retries.
const RETRY: RetryPolicy = RetryPolicy {
    initial_backoff: Duration::from_secs(2),
    max_backoff: Duration::from_secs(60),
    max_retries: 8,
};

/// PostHog's persons endpoints count against its analytics rate limit (240 calls a minute and
/// 1200 an hour per project): one call every 3 s keeps within both.
const PERSONS_INTERVAL: Duration = Duration::from_secs(3);

/// Where the APIs are.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Host {
    Us,
    Eu,
    /// A self-hosted instance, a proxy or a test server: both APIs under this base URL.
    Custom(String),
}

impl Host {
    /// Base URL of the public capture API (`/batch/`).
    fn capture(&self) -> &str {
        match self {
            Host::Us => "https://us.i.posthog.com",
            Host::Eu => "https://eu.i.posthog.com",
            Host::Custom(base) => base,
        }
    }

    /// Base URL of the private API (`/api/projects/…`).
    fn private(&self) -> &str {
        match self {
            Host::Us => "https://us.posthog.com",
            Host::Eu => "https://eu.posthog.com",
            Host::Custom(base) => base,
        }
    }
}

/// The persons API's credentials: a personal API key and the project it acts on.
#[derive(Debug, Clone)]
struct PersonalKey {
    key: Secret,
    project_id: String,
}

/// The PostHog destination (`kind = "posthog"`), PostHog Cloud US or EU or a self-hosted
/// instance.
///
/// ```no_run
/// # use trackplan_runtime::sinks::PostHog;
/// // PostHog Cloud EU, with erasure and access through the persons API:
/// let sink = PostHog::new("phc_project_api_key")
///     .eu()
///     .personal_api_key("phx_personal_api_key", "12345");
/// // A self-hosted instance:
/// let own = PostHog::new("phc_project_api_key").base_url("https://posthog.example.com");
/// # let _ = (sink, own);
/// ```
///
/// Defaults: US Cloud, gzip on, 10 s connect and 30 s request timeouts, retries from 2 s
/// doubling to 60 s (8 retries). `Debug` shows neither key.
#[derive(Debug)]
pub struct PostHog {
    api_key: Secret,
    host: Host,
    gzip: bool,
    historical_migration: bool,
    personal: Option<PersonalKey>,
    persons_interval: Duration,
    http: HttpOptions,
    /// Declared first party: an instance the plan's owner runs.
    self_hosted: bool,
}

impl PostHog {
    /// A sink for the project with this project API key (`phc_…`), on PostHog Cloud US.
    pub fn new(project_api_key: impl Into<String>) -> Self {
        PostHog {
            api_key: Secret::new(project_api_key),
            host: Host::Us,
            gzip: true,
            historical_migration: false,
            personal: None,
            persons_interval: PERSONS_INTERVAL,
            http: HttpOptions::new(RETRY),
            self_hosted: false,
        }
    }

    /// Use PostHog Cloud EU (`eu.i.posthog.com` for events, `eu.posthog.com` for the persons
    /// API).
    pub fn eu(mut self) -> Self {
        self.host = Host::Eu;
        self.self_hosted = false;
        self
    }

    /// Use PostHog Cloud US (the default).
    pub fn us(mut self) -> Self {
        self.host = Host::Us;
        self.self_hosted = false;
        self
    }

    /// Send every request under this base URL instead: a reverse proxy, a test server, or an
    /// instance run by another party, e.g. `https://posthog.example.com`. Events go to
    /// `{base}/batch/`, persons-API calls to `{base}/api/projects/…`. The sink still declares
    /// itself a third party; for an instance you run yourself, use [`PostHog::self_hosted`].
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        let base = base.into();
        self.host = Host::Custom(base.trim_end_matches('/').to_owned());
        self.self_hosted = false;
        self
    }

    /// Send to a PostHog instance you run yourself, under this base URL (as
    /// [`PostHog::base_url`]). The sink then declares itself first party, so it may serve a
    /// destination the plan keeps first party (`third_party = false` with a `location`); it
    /// is refused for none, since a first-party sink fits a third-party destination too.
    pub fn self_hosted(self, base: impl Into<String>) -> Self {
        let mut sink = self.base_url(base);
        sink.self_hosted = true;
        sink
    }

    /// A personal API key (`phx_…`, with the `person:read` and `person:write` scopes) and the
    /// id of the project it acts on, for `Tracker::forget` and `Tracker::request_access`.
    /// It is a credential of a PostHog user, kept apart from the project API key: without it
    /// those requests answer `NotSupported`.
    pub fn personal_api_key(
        mut self,
        key: impl Into<String>,
        project_id: impl Into<String>,
    ) -> Self {
        self.personal = Some(PersonalKey {
            key: Secret::new(key),
            project_id: project_id.into(),
        });
        self
    }

    /// Shortest time between two persons-API calls of this project, across the process
    /// (default 3 s: PostHog allows 1200 such calls an hour). A shorter interval only makes
    /// PostHog answer 429, which is retried.
    pub fn persons_api_interval(mut self, interval: Duration) -> Self {
        self.persons_interval = interval;
        self
    }

    /// Mark the batches as a historical migration (PostHog's `historical_migration`), for
    /// importing past events without tripping its spike detection. Default off.
    pub fn historical_migration(mut self, enabled: bool) -> Self {
        self.historical_migration = enabled;
        self
    }

    timeout_builders!();

    /// Whether request bodies are gzip-compressed (default: yes; PostHog's capture decodes
    /// `Content-Encoding: gzip`). Turn it off only for a proxy that cannot decode them.
    pub fn gzip(mut self, enabled: bool) -> Self {
        self.gzip = enabled;
        self
    }

    /// How failed deliveries and persons-API calls are retried (408, 429, 5xx, no
    /// connection): default 2 s doubling to 60 s with jitter, 8 retries, `Retry-After`
    /// honoured.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.http.retry = policy;
        self
    }

    /// The persons API of this sink's project, as configured now.
    fn persons(&self) -> Option<Persons> {
        self.personal.as_ref().map(|p| Persons {
            base: self.host.private().to_owned(),
            project_id: p.project_id.clone(),
            key: p.key.clone(),
            interval: self.persons_interval,
            retry: self.http.retry,
            client: self.http.separate_client(),
        })
    }
}

impl Sink for PostHog {
    fn declaration(&self) -> SinkDeclaration {
        if self.self_hosted {
            SinkDeclaration::first_party("posthog")
        } else {
            SinkDeclaration::third_party("posthog")
        }
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: capture::MAX_EVENTS,
            // The worker counts property bytes only; each event adds its name, ids, timestamp
            // and framing (~200 bytes). Requests stay far under PostHog's 20 MB so a slow link
            // still finishes one within the timeout; the sink splits what comes out larger.
            max_bytes: 4_000_000,
            max_delay: Duration::from_secs(1),
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.http.retry
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        let url = format!("{}/batch/", self.host.capture());
        let (client, settled) = self.http.delivery();
        let mut capture = Capture::new(
            client,
            &url,
            self.api_key.expose(),
            self.historical_migration,
            self.gzip,
        );
        crate::http::deliver_packed(&mut capture, settled, batch)
    }

    /// Deletes the persons of these distinct ids and asks PostHog to delete their events
    /// (`delete_events=true`; PostHog deletes events asynchronously), when a personal API key
    /// is configured. The reference lists the deleted persons' ids. A tracker calls the same
    /// through [`Sink::privacy`]'s handle, on a thread of its own.
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        match self.persons() {
            Some(mut persons) => persons.erase(distinct_ids),
            None => {
                tracing::warn!(
                    "PostHog: no personal API key configured, so no person was deleted; \
                     configure `PostHog::personal_api_key` or delete the persons in PostHog"
                );
                Erasure::NotSupported
            }
        }
    }

    /// Reads the persons of these distinct ids (their properties and distinct ids) from the
    /// persons API, when a personal API key is configured: one record per person, as PostHog
    /// returns it. Their events are not included (export them from PostHog).
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        match self.persons() {
            Some(mut persons) => persons.retrieve(distinct_ids),
            None => {
                tracing::warn!(
                    "PostHog: no personal API key configured, so no person was read; \
                     configure `PostHog::personal_api_key` or export in PostHog"
                );
                Access::NotSupported
            }
        }
    }

    /// With a personal API key: a persons-API client with its own HTTP connection, so its
    /// paced and retried calls never hold up this sink's deliveries. Without one: `None`, and
    /// the worker's [`Sink::erase`] answers at once that it is not configured.
    fn privacy(&mut self) -> Option<Box<dyn PrivacyApi>> {
        self.persons().map(|p| Box::new(p) as Box<dyn PrivacyApi>)
    }
}
