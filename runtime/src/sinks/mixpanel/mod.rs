//! Mixpanel, through its server-side ingestion APIs: `/import` for events and identity stitching
//! (`import.rs`), `/engage` and `/groups` for user and group profiles (`profiles.rs`); and its
//! GDPR API for data subjects' requests (`privacy.rs`).
//!
//! A batch of mixed messages is split by endpoint, each with its own limits. An `/import`
//! request is a gzip-compressed JSON array of at most 2000 events and 2 MiB (uncompressed), sent
//! with `strict=1` so Mixpanel validates every event and names the ones it rejects. Events
//! carry `time` in milliseconds, the pseudonymous `distinct_id` and `$insert_id`, which makes
//! retries idempotent: Mixpanel keeps one event per insert id. Profile updates carry no such
//! id: `$set`, `$set_once`, `$union`, `$remove` and `$unset` give the same profile when applied
//! twice, `$add` does not (a retry after a lost response can add twice).

use crate::http::{self, Client, Secret, TransportError, Verdict, WireFormat};
use crate::plan::PlanInfo;
use crate::sink::{
    Access, BatchLimits, Envelope, Erasure, Outcome, RetryPolicy, Sink, SinkDeclaration,
};
use crate::sinks::http_options::{HttpOptions, timeout_builders};
use crate::value::write_json_str;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub(crate) mod import;
mod privacy;
pub(crate) mod profiles;

use crate::message::Message;
use crate::privacy_api::PrivacyApi;
use import::Import;
use privacy::GdprClient;
pub use privacy::{Compliance, PrivacyError, PrivacyKind, PrivacyRequest, PrivacyStatus};
use profiles::{Endpoint, Updates};

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
/// The fideslang category of an IP address: an event whose payload for Mixpanel carries one
/// may let Mixpanel geolocate; every other event is sent with `"ip": 0`.
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
    gzip: bool,
    /// Which events of the last plan seen declare IP-address properties, and their keys.
    ip_properties: Option<import::IpProperties>,
    gdpr_token: Option<Secret>,
    compliance: Compliance,
    http: HttpOptions,
}

impl Mixpanel {
    /// A sink for the project with this token, on Mixpanel's US servers.
    pub fn new(project_token: impl Into<String>) -> Self {
        Mixpanel {
            token: Secret::new(project_token),
            auth: Auth::ProjectToken,
            region: Region::Us,
            gzip: true,
            ip_properties: None,
            gdpr_token: None,
            compliance: Compliance::Gdpr,
            http: HttpOptions::new(RETRY),
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

    timeout_builders!();

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
        self.http.retry = policy;
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

    /// The URL of a profile endpoint: no geolocation from the request's address (the
    /// server's; an update that carries the plan's IP trait names its own `$ip`), validation
    /// of every update, and a JSON answer.
    fn updates_url(&self, endpoint: Endpoint) -> String {
        format!(
            "{}{}?ip=0&strict=1&verbose=1",
            self.region.ingestion(),
            endpoint.path()
        )
    }

    fn import_authorization(&self) -> String {
        match &self.auth {
            Auth::ProjectToken => http::basic_auth(self.token.expose(), ""),
            Auth::ServiceAccount { user, secret, .. } => http::basic_auth(user, secret.expose()),
        }
    }
}

impl Sink for Mixpanel {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::third_party("mixpanel")
    }

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
        self.http.retry
    }

    /// Files a GDPR/CCPA deletion request (when a GDPR API token is configured): Mixpanel
    /// erases the events and profiles of these distinct ids within its own deadlines. The
    /// reference is the tracking id (several, comma-separated, past 1999 ids). A tracker calls
    /// the same request through [`Sink::privacy`]'s handle instead, on a thread of its own.
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        let api = self.gdpr();
        api.erase(self.http.client(), distinct_ids)
    }

    /// Files a GDPR/CCPA data-retrieval request (when a GDPR API token is configured):
    /// Mixpanel prepares an export of these distinct ids' data. The reference is the tracking
    /// id (several, comma-separated, past 1999 ids); follow it with
    /// [`Mixpanel::privacy_status`]. A tracker calls it through [`Sink::privacy`]'s handle.
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        let api = self.gdpr();
        api.retrieve(self.http.client(), distinct_ids)
    }

    /// With a GDPR API token: a client of the GDPR API with its own HTTP connection, so
    /// deletion and retrieval requests (paced to one a second per project, retried for up to
    /// minutes) never hold up this sink's deliveries. Without one: `None`, and the worker's
    /// [`Sink::erase`] answers at once that deletion is not configured.
    fn privacy(&mut self) -> Option<Box<dyn PrivacyApi>> {
        let api = self.gdpr();
        api.configured().then(|| {
            Box::new(GdprClient {
                api,
                client: self.http.separate_client(),
            }) as Box<dyn PrivacyApi>
        })
    }

    /// Sends events and links to `/import`, then profile updates and joins to `/engage`, then
    /// group updates to `/groups`. A permanent failure of one endpoint (its credentials, its
    /// validation) fails that endpoint's envelopes only. An endpoint that answers "try again"
    /// (429, 5xx) does not hold up the others, so retries of a mixed batch do not add up
    /// across endpoints; one that does not answer at all (no connection, a timeout) ends the
    /// attempt, since the others are on the same host. The retry sends only what is not
    /// settled yet.
    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        let import_url = self.import_url();
        let authorization = self.import_authorization();
        let engage_url = self.updates_url(Endpoint::Engage);
        let groups_url = self.updates_url(Endpoint::Groups);
        let Mixpanel {
            token,
            gzip,
            ip_properties,
            http,
            ..
        } = self;
        let (client, settled) = http.delivery();
        let mut attempt = http::Attempt::new(settled, batch);
        let mut import = Import {
            client,
            url: &import_url,
            authorization: &authorization,
            gzip: *gzip,
            ip_properties,
            unanswered: false,
        };
        let is_event =
            |e: &Envelope| matches!(e.message, Message::Track { .. } | Message::Link { .. });
        let mut retry = attempt.send(&mut import, is_event);
        if !import.unanswered {
            for (endpoint, url) in [
                (Endpoint::Engage, &engage_url),
                (Endpoint::Groups, &groups_url),
            ] {
                let mut updates = Updates {
                    client,
                    url,
                    token: token.expose(),
                    endpoint,
                    unanswered: false,
                };
                let again = attempt.send(&mut updates, |e| endpoint.carries(&e.message));
                retry = http::sooner_or_later(retry, again);
                if updates.unanswered {
                    break;
                }
            }
        }
        attempt.finish(settled, retry)
    }
}

#[cfg(test)]
mod tests {
    use super::import::*;
    use super::*;
    use crate::fixture::{self, property};
    use crate::http::Timeouts;
    use crate::plan::{PropertyInfo, PurposeSet};
    use std::sync::LazyLock;

    static NO_IP: LazyLock<&'static PlanInfo> =
        LazyLock::new(|| fixture::plan("t").event("E", [property("url")]).build());
    static WITH_IP: LazyLock<&'static PlanInfo> = LazyLock::new(|| {
        let ip = PropertyInfo {
            category: Some("user.device.ip_address"),
            ..property("IP Address")
        };
        fixture::plan("t")
            .event("Page Viewed", [property("url")])
            .event("Login Failed", [property("Email"), ip])
            .build()
    });
    static NAMED_IP: LazyLock<&'static PlanInfo> =
        LazyLock::new(|| fixture::plan("t").event("E", [property("ip")]).build());

    fn envelope(plan: &'static PlanInfo, insert_id: &str, properties: &str) -> Envelope {
        envelope_of(plan, "Signup \"Completed\"", insert_id, properties)
    }

    fn envelope_of(
        plan: &'static PlanInfo,
        event: &'static str,
        insert_id: &str,
        properties: &str,
    ) -> Envelope {
        Envelope {
            message: crate::Message::TRACK,
            event,
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
            ip_properties: &mut ip,
            unanswered: false,
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
    fn events_carry_their_groups_keys_and_links_are_identify_events() {
        use crate::message::GroupRef;
        let group = |key: &'static str, id: &str| GroupRef {
            kind: "company",
            key,
            id: id.into(),
        };
        let mut e = envelope(&NO_IP, "g", r#"{"Plan Tier":"pro"}"#);
        e.message = Message::Track {
            groups: Some(
                vec![
                    group("company_id", "\"acme\""),
                    group("team_id", "7"),
                    group("company_id", "\"globex\""),
                ]
                .into(),
            ),
        };
        assert_eq!(
            encode(&e).as_deref(),
            Ok(concat!(
                r#"{"event":"Signup \"Completed\"","properties":{"time":1700000000123,"distinct_id":"abc123","$insert_id":"g","ip":0,"Plan Tier":"pro","#,
                r#""company_id":["acme","globex"],"team_id":["7"]}}"#
            ))
        );
        // A key the event's own properties hold is theirs.
        let mut own = envelope(&NO_IP, "h", r#"{"team_id":"t-1"}"#);
        own.message = Message::Track {
            groups: Some(vec![group("team_id", "7")].into()),
        };
        assert!(
            encode(&own)
                .expect("encodes")
                .ends_with(r#""ip":0,"team_id":"t-1"}}"#)
        );

        let mut link = envelope(&NO_IP, "l", "{}");
        link.event = "$link";
        link.message = Message::Link {
            anonymous_id: "anon9".into(),
        };
        assert_eq!(
            encode(&link).as_deref(),
            Ok(concat!(
                r#"{"event":"$identify","properties":{"time":1700000000123,"distinct_id":"abc123","$insert_id":"l","ip":0,"#,
                r#""$user_id":"abc123","$device_id":"anon9","$identified_id":"abc123","$anon_id":"anon9"}}"#
            ))
        );
        let mut profile = envelope(&NO_IP, "p", "{}");
        profile.message = Message::Profile {
            op: crate::message::ProfileOp::Set,
        };
        assert!(encode(&profile).is_err(), "profile updates are not events");
    }

    #[test]
    fn ip_zero_unless_this_events_payload_carries_an_ip_property() {
        // The plan declares an IP property, but not on this event: not geolocated.
        let page = envelope_of(
            &WITH_IP,
            "Page Viewed",
            "a",
            r#"{"url":"https://x.example/"}"#,
        );
        assert_eq!(
            encode(&page).as_deref(),
            Ok(
                r#"{"event":"Page Viewed","properties":{"time":1700000000123,"distinct_id":"abc123","$insert_id":"a","ip":0,"url":"https://x.example/"}}"#
            )
        );
        // The event declares one, and this destination's payload carries it (truncated).
        let login = envelope_of(
            &WITH_IP,
            "Login Failed",
            "b",
            r#"{"Email":"h","IP Address":"203.0.113.0"}"#,
        );
        assert_eq!(
            encode(&login).as_deref(),
            Ok(
                r#"{"event":"Login Failed","properties":{"time":1700000000123,"distinct_id":"abc123","$insert_id":"b","Email":"h","IP Address":"203.0.113.0"}}"#
            )
        );
        // The event declares one, but it is not in the payload (left out, or `redact` and so
        // withheld from a third party); a value or nested key that looks like it does not count.
        for payload in [
            r#"{"Email":"h"}"#,
            r#"{"Email":"\"IP Address\":\"1.2.3.4\""}"#,
            r#"{"Email":{"IP Address":"1.2.3.4"}}"#,
            "{}",
        ] {
            let e = envelope_of(&WITH_IP, "Login Failed", "c", payload);
            let encoded = encode(&e).expect("encodes");
            assert!(encoded.contains(r#""$insert_id":"c","ip":0"#), "{encoded}");
        }
        // A property Mixpanel itself calls `ip` is not overwritten.
        let named = envelope_of(&NAMED_IP, "E", "d", r#"{"ip":"10.0.0.0"}"#);
        let named = encode(&named).expect("encodes");
        assert!(!named.contains("\"ip\":0"), "{named}");
        let unnamed = encode(&envelope_of(&NAMED_IP, "E", "d", "{}")).expect("encodes");
        assert!(unnamed.contains("\"ip\":0"), "{unnamed}");
    }

    #[test]
    fn top_level_keys_skip_values_and_nested_objects() {
        let keys: Vec<&[u8]> =
            top_level_keys(r#""a":"x,\"b\":1","c\"q":{"d":[1,{"e":2}]},"f":[",",3]"#).collect();
        assert_eq!(keys, [&b"\"a\""[..], b"\"c\\\"q\"", b"\"f\""]);
        assert_eq!(top_level_keys("").count(), 0);
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
        assert_eq!(
            m.updates_url(Endpoint::Engage),
            "https://api.mixpanel.com/engage?ip=0&strict=1&verbose=1"
        );
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
            m.updates_url(Endpoint::Groups),
            "https://api-eu.mixpanel.com/groups?ip=0&strict=1&verbose=1",
            "no service account on the profile endpoints: the token is in the body"
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
