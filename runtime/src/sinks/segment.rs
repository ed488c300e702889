//! Segment-compatible collectors, through the HTTP Tracking API's `/v1/batch`.
//!
//! Segment, RudderStack, Jitsu and other collectors accept the same batch format. Each request
//! is `{"batch":[…]}` of calls, at most 2500 messages and 500 KB, each message at most 32 KB,
//! authenticated by HTTP Basic auth with the write key as the user. `messageId` is the insert id,
//! so a retried batch is deduplicated by the collector.
//!
//! Each message kind is the call Segment's spec has for it: events are `track` calls (with
//! `context.groupId`, the spec's field for attributing a call to an account, set to the first
//! group the event carries); profile updates are `identify` calls, joins and group updates
//! `group` calls (`groupId` and the group's traits, its plan kind as the `group_type` trait), and
//! identity stitching an `alias` call (`previousId` the anonymous id, `userId` the identified
//! one). `identify` and `group` traits can only set values: a `set` update is its traits, an
//! `unset` sets the traits to `null`, and `set_once`, `add`, `union` and `remove` are counted
//! as failed with a reason naming the operation, never sent.
//!
//! # Deletion requests
//!
//! The Tracking API has no deletion call, and the write key cannot authorize one, so `forget`
//! sends nothing to these destinations. Erasure there is a workspace-level operation with its
//! own credentials: Segment calls it a *regulation* (`SUPPRESS_WITH_DELETE`), issued from the
//! workspace's End User Privacy settings or its Public API with a workspace access token;
//! RudderStack offers a User Suppression API (enterprise plans) authorized by a service access
//! token. Both work on the `userId`, which here is the pseudonymous distinct id: record it
//! from the tracker (`Tracker::subject` derives it) when you file the request.
//!
//! Or let `forget` file them: attach [`Regulations`] handlers with [`Segment::erase_with`]
//! (see `regulations.rs`), each with its own workspace credential.

use crate::http::{self, Client, Secret, Verdict, WireFormat};
use crate::message::{GroupRef, Message, ProfileOp};
use crate::privacy_api::PrivacyApi;
use crate::sink::{BatchLimits, Envelope, Erasure, Outcome, RetryPolicy, Sink, SinkDeclaration};
use crate::sinks::http_options::{HttpOptions, timeout_builders};
use crate::sinks::regulations::{Regulations, RegulationsClient};
use crate::time::Timestamp;
use crate::value::write_json_str;
use std::time::Duration;

/// Most events in one batch.
const MAX_EVENTS: usize = 2500;
/// Most bytes of one batch request (500 KB, read as decimal kilobytes to be under either
/// reading).
const MAX_BODY_BYTES: usize = 500_000;
/// Most bytes of one event.
const MAX_EVENT_BYTES: usize = 32_000;

/// The `context.library` every message carries, and the end of the message.
const LIBRARY: &str = concat!(
    "\"library\":{\"name\":\"trackplan\",\"version\":\"",
    env!("CARGO_PKG_VERSION"),
    "\"}}}"
);

/// A Segment-compatible destination (`kind = "segment"`).
///
/// ```no_run
/// # use trackplan_runtime::sinks::Segment;
/// // Segment's EU workspace:
/// let segment = Segment::new("write-key").eu();
/// // A self-hosted RudderStack data plane:
/// let rudder = Segment::new("write-key").base_url("https://rudder.example.com");
/// # let _ = (segment, rudder);
/// ```
///
/// Defaults: `https://api.segment.io`, 10 s connect and 30 s request timeouts. Bodies are sent
/// uncompressed, which every compatible collector accepts.
#[derive(Debug)]
pub struct Segment {
    write_key: Secret,
    base: String,
    http: HttpOptions,
    erasure: Vec<Regulations>,
}

impl Segment {
    /// A sink for the source with this write key, on Segment's US endpoint.
    pub fn new(write_key: impl Into<String>) -> Self {
        Segment {
            write_key: Secret::new(write_key),
            base: "https://api.segment.io".into(),
            http: HttpOptions::new(RetryPolicy {
                initial_backoff: Duration::from_secs(2),
                max_backoff: Duration::from_secs(60),
                max_retries: 8,
            }),
            erasure: Vec::new(),
        }
    }

    /// Carries `Tracker::forget` to a regulations API with its own credential (Segment's
    /// Public API, RudderStack's data regulation API): the Tracking API this sink delivers
    /// through cannot delete. Call it once per API; each answers in the forget report.
    pub fn erase_with(mut self, handler: impl Into<Regulations>) -> Self {
        self.erasure.push(handler.into());
        self
    }

    /// Use Segment's EU endpoint (`events.eu1.segmentapis.com`), for EU workspaces.
    pub fn eu(mut self) -> Self {
        self.base = "https://events.eu1.segmentapis.com".into();
        self
    }

    /// Send to another compatible collector (RudderStack data plane, a proxy, a test server):
    /// batches go to `{base}/v1/batch`.
    pub fn base_url(mut self, base: impl Into<String>) -> Self {
        self.base = base.into().trim_end_matches('/').to_owned();
        self
    }

    timeout_builders!();

    /// How failed batches are retried (429, 5xx, no connection): default 2 s doubling to 60 s
    /// with jitter, 8 retries, `Retry-After` honoured.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.http.retry = policy;
        self
    }
}

impl Sink for Segment {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::third_party("segment")
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_events: MAX_EVENTS,
            // Each event adds ~250 bytes of envelope to its properties; the sink splits batches
            // that still come out larger than 500 KB.
            max_bytes: 400_000,
            max_delay: Duration::from_secs(1),
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.http.retry
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        let url = format!("{}/v1/batch", self.base);
        let authorization = http::basic_auth(self.write_key.expose(), "");
        let (client, settled) = self.http.delivery();
        let mut format = Batch {
            client,
            url: &url,
            authorization: &authorization,
        };
        http::deliver_packed(&mut format, settled, batch)
    }

    /// With [`Segment::erase_with`] handlers: files their regulations (on the worker; a
    /// tracker calls them through [`Sink::privacy`] instead). Without: `NotSupported`.
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        if self.erasure.is_empty() {
            return Erasure::NotSupported;
        }
        RegulationsClient::new(&self.erasure).erase(distinct_ids)
    }

    /// With [`Segment::erase_with`] handlers: a client of their regulations APIs, called on
    /// a thread of its own so regulations (paced, retried) never hold up deliveries.
    fn privacy(&mut self) -> Option<Box<dyn PrivacyApi>> {
        (!self.erasure.is_empty())
            .then(|| Box::new(RegulationsClient::new(&self.erasure)) as Box<dyn PrivacyApi>)
    }
}

/// One `deliver` call's view of the sink, as a wire format.
struct Batch<'a> {
    client: &'a Client,
    url: &'a str,
    authorization: &'a str,
}

impl WireFormat for Batch<'_> {
    const MAX_EVENTS: usize = MAX_EVENTS;
    const MAX_BODY_BYTES: usize = MAX_BODY_BYTES;
    const OPEN: &'static [u8] = b"{\"batch\":[";
    const CLOSE: &'static [u8] = b"]}";
    const NAME: &'static str = "segment";

    fn encode(&mut self, envelope: &Envelope, out: &mut Vec<u8>) -> Result<usize, String> {
        if envelope.insert_id.is_empty() {
            return Err("empty insert id (messageId)".into());
        }
        match &envelope.message {
            Message::Track { groups } => {
                let properties = object(&envelope.properties, "properties")?;
                out.extend_from_slice(b"{\"type\":\"track\",\"event\":");
                write_json_str(out, envelope.event);
                write_common(envelope, out);
                out.extend_from_slice(b",\"properties\":");
                out.extend_from_slice(properties.as_bytes());
                write_context(groups.as_deref().and_then(<[GroupRef]>::first), out);
            }
            Message::Profile { op } => {
                let traits = traits(*op, &envelope.properties, "identify")?;
                out.extend_from_slice(b"{\"type\":\"identify\"");
                write_common(envelope, out);
                out.extend_from_slice(b",\"traits\":");
                out.extend_from_slice(traits.as_bytes());
                write_context(None, out);
            }
            Message::Join { group } => {
                let traits = object(&envelope.properties, "traits")?;
                write_group(envelope, group, traits, out);
            }
            Message::Group { group, op } => {
                let traits = traits(*op, &envelope.properties, "group")?;
                write_group(envelope, group, &traits, out);
            }
            Message::Link { anonymous_id } => {
                out.extend_from_slice(b"{\"type\":\"alias\",\"previousId\":");
                write_json_str(out, anonymous_id);
                write_common(envelope, out);
                write_context(None, out);
            }
        }
        if out.len() > MAX_EVENT_BYTES {
            return Err(format!(
                "{} bytes, Segment accepts messages of at most {MAX_EVENT_BYTES} bytes",
                out.len()
            ));
        }
        Ok(1)
    }

    fn send(&mut self, body: &[u8], _members: &[&Envelope]) -> Verdict {
        let headers = [
            ("Authorization", self.authorization),
            ("Content-Type", "application/json"),
        ];
        match self.client.post(self.url, &headers, body) {
            Ok(response) => batch_verdict(response.status, response.retry_after),
            Err(error) => http::retry_on(&error, "Segment"),
        }
    }
}

/// The fields every message carries: `userId` (the pseudonymous distinct id), `messageId` (the
/// insert id, which the collector deduplicates by) and `timestamp`.
fn write_common(envelope: &Envelope, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"userId\":");
    write_json_str(out, &envelope.distinct_id);
    out.extend_from_slice(b",\"messageId\":");
    write_json_str(out, &envelope.insert_id);
    out.extend_from_slice(b",\"timestamp\":\"");
    push_iso8601(out, envelope.time_ms);
    out.push(b'"');
}

/// Appends `context` (with `groupId` when the message is attributed to a group) and closes the
/// message.
fn write_context(group: Option<&GroupRef>, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"context\":{");
    if let Some(group) = group {
        out.extend_from_slice(b"\"groupId\":");
        http::write_id_string(out, &group.id);
        out.push(b',');
    }
    out.extend_from_slice(LIBRARY.as_bytes());
}

/// A `group` call: the subject belongs to `group`, whose traits are `traits` (a JSON object),
/// with the group's kind as the `group_type` trait unless the traits name one.
fn write_group(envelope: &Envelope, group: &GroupRef, traits: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"type\":\"group\",\"groupId\":");
    http::write_id_string(out, &group.id);
    write_common(envelope, out);
    out.extend_from_slice(b",\"traits\":{");
    let members = http::object_members(traits).unwrap_or_default();
    let named = http::split_members(members)
        .iter()
        .any(|(key, _)| *key == "\"group_type\"");
    if !named {
        out.extend_from_slice(b"\"group_type\":");
        write_json_str(out, group.kind);
        if !members.is_empty() {
            out.push(b',');
        }
    }
    out.extend_from_slice(members.as_bytes());
    out.push(b'}');
    write_context(None, out);
}

/// `text`, trimmed, when it is a JSON object.
fn object<'a>(text: &'a str, what: &str) -> Result<&'a str, String> {
    match http::object_members(text) {
        Some(_) => Ok(text.trim()),
        None => Err(format!("{what} are not a JSON object")),
    }
}

/// The `traits` of an `identify` or `group` call for an update: `set` as they are, `unset` as
/// each named trait set to `null` (Segment has no removal; a null trait is its way to clear
/// one). The other operations have no Segment equivalent: the update fails with a reason
/// naming the operation, and is never sent.
fn traits(op: ProfileOp, properties: &str, call: &str) -> Result<String, String> {
    match op {
        ProfileOp::Set => object(properties, "traits").map(str::to_owned),
        ProfileOp::Unset => {
            let names: Vec<String> = serde_json::from_str(properties)
                .map_err(|_| "the traits to unset are not a JSON list of names".to_owned())?;
            let mut out = Vec::with_capacity(properties.len() + names.len() * 6);
            out.push(b'{');
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(&mut out, name);
                out.extend_from_slice(b":null");
            }
            out.push(b'}');
            String::from_utf8(out).map_err(|_| "a trait name is not UTF-8".to_owned())
        }
        ProfileOp::SetOnce | ProfileOp::Add | ProfileOp::Union | ProfileOp::Remove => Err(format!(
            "Segment's `{call}` call cannot express the `{}` operation: only `set` and `unset` map to its traits",
            op.key()
        )),
    }
}

/// What a `/v1/batch` response means. Segment validates events after answering, so a batch is
/// accepted or refused as a whole.
pub(crate) fn batch_verdict(status: u16, retry_after: Option<Duration>) -> Verdict {
    match status {
        200..=299 => Verdict::Accepted,
        400 => Verdict::Failed(
            "the collector rejected the batch (400 Bad Request): malformed or over its size limits"
                .into(),
        ),
        401 | 403 => Verdict::Failed(format!(
            "the collector refused the write key ({status}): check it, and the region"
        )),
        413 => Verdict::Failed("the collector refused the batch as too large (413)".into()),
        429 | 500..=599 => Verdict::Retry {
            reason: format!("the collector answered {status}"),
            after: retry_after,
        },
        _ => Verdict::Failed(format!(
            "the collector answered {status}, which is not retried"
        )),
    }
}

/// Appends `time_ms` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub(crate) fn push_iso8601(out: &mut Vec<u8>, time_ms: i64) {
    out.extend_from_slice(
        Timestamp::from_unix_millis(time_ms)
            .iso8601()
            .as_str()
            .as_bytes(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::http::Timeouts;
    use crate::plan::PurposeSet;

    fn encode(properties: &str) -> Result<String, String> {
        encode_message(crate::Message::TRACK, properties)
    }

    fn encode_message(message: Message, properties: &str) -> Result<String, String> {
        let client = Client::new(Timeouts::default());
        let mut format = Batch {
            client: &client,
            url: "",
            authorization: "",
        };
        let e = Envelope {
            message,
            event: "Product Viewed",
            insert_id: "6f1c-2".into(),
            time_ms: 1_700_000_000_123,
            distinct_id: "abc\"123".into(),
            plan: fixture::plan("t").build(),
            purposes: PurposeSet::EMPTY,
            properties: properties.into(),
        };
        let mut out = Vec::new();
        format.encode(&e, &mut out)?;
        Ok(String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn encodes_a_track_call_exactly() {
        let expected = concat!(
            r#"{"type":"track","event":"Product Viewed","userId":"abc\"123","messageId":"6f1c-2","#,
            r#""timestamp":"2023-11-14T22:13:20.123Z","properties":{"Price":9.5},"#,
            r#""context":{"library":{"name":"trackplan","version":""#,
            env!("CARGO_PKG_VERSION"),
            r#""}}}"#
        );
        assert_eq!(encode(r#"{"Price":9.5}"#).as_deref(), Ok(expected));
        let parsed: serde_json::Value = serde_json::from_str(expected).expect("valid JSON");
        assert_eq!(parsed["context"]["library"]["name"], "trackplan");
    }

    const COMMON: &str =
        r#""userId":"abc\"123","messageId":"6f1c-2","timestamp":"2023-11-14T22:13:20.123Z""#;

    fn context() -> String {
        format!(
            r#""context":{{"library":{{"name":"trackplan","version":"{}"}}}}}}"#,
            env!("CARGO_PKG_VERSION")
        )
    }

    fn company(id: &str) -> GroupRef {
        GroupRef {
            kind: "company",
            key: "company_id",
            id: id.into(),
        }
    }

    #[test]
    fn encodes_identify_group_alias_and_grouped_tracks_exactly() {
        let set = encode_message(
            Message::Profile { op: ProfileOp::Set },
            r#"{"plan":"pro","email":"h"}"#,
        );
        assert_eq!(
            set,
            Ok(format!(
                r#"{{"type":"identify",{COMMON},"traits":{{"plan":"pro","email":"h"}},{}"#,
                context()
            ))
        );
        let unset = encode_message(
            Message::Profile {
                op: ProfileOp::Unset,
            },
            r#"["plan","e\"x"]"#,
        );
        assert_eq!(
            unset,
            Ok(format!(
                r#"{{"type":"identify",{COMMON},"traits":{{"plan":null,"e\"x":null}},{}"#,
                context()
            ))
        );
        let join = encode_message(
            Message::Join {
                group: company("\"acme\""),
            },
            "{}",
        );
        assert_eq!(
            join,
            Ok(format!(
                r#"{{"type":"group","groupId":"acme",{COMMON},"traits":{{"group_type":"company"}},{}"#,
                context()
            ))
        );
        let update = encode_message(
            Message::Group {
                group: company("42"),
                op: ProfileOp::Set,
            },
            r#"{"name":"Acme"}"#,
        );
        assert_eq!(
            update,
            Ok(format!(
                r#"{{"type":"group","groupId":"42",{COMMON},"traits":{{"group_type":"company","name":"Acme"}},{}"#,
                context()
            ))
        );
        let alias = encode_message(
            Message::Link {
                anonymous_id: "anon\"7".into(),
            },
            "{}",
        );
        assert_eq!(
            alias,
            Ok(format!(
                r#"{{"type":"alias","previousId":"anon\"7",{COMMON},{}"#,
                context()
            ))
        );
        let grouped = encode_message(
            Message::Track {
                groups: Some(vec![company("\"acme\""), company("\"globex\"")].into()),
            },
            "{}",
        );
        assert_eq!(
            grouped,
            Ok(format!(
                r#"{{"type":"track","event":"Product Viewed",{COMMON},"properties":{{}},"context":{{"groupId":"acme",{}"#,
                &context()[11..]
            ))
        );
        for text in [set, unset, join, update, alias, grouped] {
            let text = text.expect("encoded");
            serde_json::from_str::<serde_json::Value>(&text).expect("valid JSON");
        }
    }

    #[test]
    fn operations_segment_cannot_express_fail_naming_the_operation() {
        for (op, name) in [
            (ProfileOp::SetOnce, "set_once"),
            (ProfileOp::Add, "add"),
            (ProfileOp::Union, "union"),
            (ProfileOp::Remove, "remove"),
        ] {
            let err = encode_message(Message::Profile { op }, r#"{"n":["secret"]}"#)
                .expect_err("no Segment equivalent");
            assert!(
                err.contains(&format!("`{name}`")) && err.contains("identify"),
                "{err}"
            );
            assert!(!err.contains("secret"), "{err}");
            let err = encode_message(
                Message::Group {
                    group: company("1"),
                    op,
                },
                "{}",
            )
            .expect_err("no Segment equivalent");
            assert!(
                err.contains(&format!("`{name}`")) && err.contains("group"),
                "{err}"
            );
        }
    }

    #[test]
    fn rejects_events_over_32_kb_without_quoting_them() {
        let value = "private".repeat(5000);
        let err = encode(&format!("{{\"note\":\"{value}\"}}")).expect_err("over 32 KB");
        assert!(err.contains("32000") && !err.contains("private"), "{err}");
        assert!(encode("not json").is_err());
    }

    #[test]
    fn formats_iso_8601() {
        let iso = |ms| {
            let mut out = Vec::new();
            push_iso8601(&mut out, ms);
            String::from_utf8(out).expect("ascii")
        };
        assert_eq!(iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(iso(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn maps_batch_responses() {
        assert_eq!(batch_verdict(200, None), Verdict::Accepted);
        for status in [400, 401, 403, 404, 413] {
            assert!(
                matches!(batch_verdict(status, None), Verdict::Failed(_)),
                "{status}"
            );
        }
        let after = Some(Duration::from_secs(2));
        for status in [429, 500, 502, 503] {
            assert!(
                matches!(batch_verdict(status, after), Verdict::Retry { after: a, .. } if a == after),
                "{status}"
            );
        }
    }

    #[test]
    fn hosts_and_debug() {
        assert_eq!(Segment::new("k").base, "https://api.segment.io");
        assert_eq!(
            Segment::new("k").eu().base,
            "https://events.eu1.segmentapis.com"
        );
        assert_eq!(
            Segment::new("k").base_url("http://127.0.0.1:1/").base,
            "http://127.0.0.1:1"
        );
        assert!(!format!("{:?}", Segment::new("wk-secret")).contains("wk-secret"));
    }
}
