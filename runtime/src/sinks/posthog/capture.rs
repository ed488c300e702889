//! PostHog's capture `/batch/` endpoint as a wire format: each message kind as a PostHog event,
//! and what a response means for the events of its request.
//!
//! PostHog answers a request as a whole (200, or 400 naming no event), so the encoder refuses
//! beforehand every event capture would reject (no uuid, too large, an operation PostHog has no
//! equivalent of): such an event is counted as failed with its reason, never sent, and never
//! takes the rest of its request down with it.

use crate::http::{self, Client, TransportError, Verdict, WireFormat};
use crate::message::{GroupRef, Message, ProfileOp};
use crate::sink::Envelope;
use crate::sinks::segment::push_iso8601;
use crate::value::write_json_str;
use std::io::Write as _;
use std::time::Duration;

/// Most events in one request. PostHog documents no count limit; this keeps a request of small
/// events near the size of Mixpanel's.
pub(super) const MAX_EVENTS: usize = 2000;
/// Most bytes of one uncompressed body: PostHog's 20 MB, less room for the `api_key` prefix.
const MAX_BODY_BYTES: usize = 20_000_000 - 4096;
/// Capture forwards each event as one Kafka message of at most 1 000 000 bytes, holding the
/// event as an escaped JSON string beside its own fields: events stay well under it.
const MAX_EVENT_BYTES: usize = 750_000;
/// Longest project API key accepted in the prefix (they are ~47 characters).
const MAX_KEY_BYTES: usize = 2048;

/// One `deliver` call's view of the sink, as a wire format.
pub(super) struct Capture<'a> {
    client: &'a Client,
    url: &'a str,
    /// `{"api_key":"…","historical_migration":false,`: spliced before the body's `"batch"`.
    prefix: Vec<u8>,
    key_ok: bool,
    gzip: bool,
}

impl<'a> Capture<'a> {
    pub(super) fn new(
        client: &'a Client,
        url: &'a str,
        api_key: &str,
        historical_migration: bool,
        gzip: bool,
    ) -> Self {
        let mut prefix = Vec::with_capacity(api_key.len() + 48);
        prefix.extend_from_slice(b"{\"api_key\":");
        write_json_str(&mut prefix, api_key);
        prefix.extend_from_slice(if historical_migration {
            b",\"historical_migration\":true,"
        } else {
            b",\"historical_migration\":false,"
        });
        Capture {
            client,
            url,
            prefix,
            key_ok: !api_key.is_empty() && api_key.len() <= MAX_KEY_BYTES,
            gzip,
        }
    }

    /// The request body: the prefix, then `body` without its opening `{`.
    fn body(&self, body: &[u8]) -> Vec<u8> {
        let rest = body.get(1..).unwrap_or_default();
        if self.gzip {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 8 + 64),
                flate2::Compression::new(1),
            );
            // Writing into a Vec cannot fail.
            let written = encoder
                .write_all(&self.prefix)
                .and_then(|()| encoder.write_all(rest))
                .and_then(|()| encoder.finish());
            written.unwrap_or_default()
        } else {
            let mut out = Vec::with_capacity(self.prefix.len() + rest.len());
            out.extend_from_slice(&self.prefix);
            out.extend_from_slice(rest);
            out
        }
    }
}

/// Whether `id` is a UUID in its text form (8-4-4-4-12 hex digits): capture refuses the whole
/// request when one event's `uuid` does not parse.
pub(crate) fn is_uuid(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Writes a group's id as a JSON string: PostHog group keys are strings, so a numeric id
/// (`42`) is sent as `"42"`, the same key wherever it appears.
fn write_group_key(out: &mut Vec<u8>, group: &GroupRef) -> Result<(), String> {
    let id = group.id.trim();
    if id.starts_with('"') && id.len() >= 2 && id.ends_with('"') {
        if id.len() == 2 {
            return Err(format!("group `{}` has an empty key", group.kind));
        }
        out.extend_from_slice(id.as_bytes());
    } else if !id.is_empty() && id.bytes().all(|b| b"0123456789+-.eE".contains(&b)) {
        out.push(b'"');
        out.extend_from_slice(id.as_bytes());
        out.push(b'"');
    } else {
        return Err(format!(
            "group `{}` has a key that is neither a string nor a number",
            group.kind
        ));
    }
    Ok(())
}

/// `"$groups":{"company":"acme",…}`.
fn write_groups(out: &mut Vec<u8>, groups: &[GroupRef]) -> Result<(), String> {
    out.extend_from_slice(b"\"$groups\":{");
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, group.kind);
        out.push(b':');
        write_group_key(out, group)?;
    }
    out.push(b'}');
    Ok(())
}

/// `"$group_type":"company","$group_key":"acme"`.
fn write_group_identity(out: &mut Vec<u8>, group: &GroupRef) -> Result<(), String> {
    if group.kind.is_empty() {
        return Err("a group has an empty group type".into());
    }
    out.extend_from_slice(b"\"$group_type\":");
    write_json_str(out, group.kind);
    out.extend_from_slice(b",\"$group_key\":");
    write_group_key(out, group)
}

/// The members of `envelope.properties`, which must be an object.
fn members(envelope: &Envelope) -> Result<&str, String> {
    http::object_members(&envelope.properties)
        .ok_or_else(|| "properties are not a JSON object".into())
}

/// Why PostHog cannot apply `op` to a person.
fn unsupported_person_op(op: ProfileOp) -> String {
    format!(
        "PostHog person properties have no `{}` operation (only set, set_once and unset): \
         update this trait with `set`, or keep it out of this destination",
        op.key()
    )
}

impl WireFormat for Capture<'_> {
    const MAX_EVENTS: usize = MAX_EVENTS;
    const MAX_BODY_BYTES: usize = MAX_BODY_BYTES;
    const OPEN: &'static [u8] = b"{\"batch\":[";
    const CLOSE: &'static [u8] = b"]}";
    const NAME: &'static str = "posthog";

    fn encode(&mut self, envelope: &Envelope, out: &mut Vec<u8>) -> Result<usize, String> {
        if !is_uuid(&envelope.insert_id) {
            return Err("insert id is not a UUID, which PostHog's `uuid` must be".into());
        }
        if envelope.distinct_id.is_empty() {
            return Err("empty distinct id".into());
        }
        let event = match &envelope.message {
            Message::Track { .. } => envelope.event,
            Message::Profile { .. } => "$set",
            Message::Join { .. } | Message::Group { .. } => "$groupidentify",
            Message::Link { .. } => "$identify",
        };
        if event.is_empty() {
            return Err("empty event name".into());
        }
        out.extend_from_slice(b"{\"event\":");
        write_json_str(out, event);
        out.extend_from_slice(b",\"distinct_id\":");
        write_json_str(out, &envelope.distinct_id);
        out.extend_from_slice(b",\"timestamp\":\"");
        push_iso8601(out, envelope.time_ms);
        out.extend_from_slice(b"\",\"uuid\":\"");
        out.extend_from_slice(envelope.insert_id.as_bytes());
        out.extend_from_slice(b"\",\"properties\":{");
        match &envelope.message {
            Message::Track { groups } => {
                let members = members(envelope)?;
                out.extend_from_slice(members.as_bytes());
                if let Some(groups) = groups.as_deref().filter(|g| !g.is_empty()) {
                    if !members.is_empty() {
                        out.push(b',');
                    }
                    write_groups(out, groups)?;
                }
            }
            Message::Profile { op } => {
                let key: &[u8] = match op {
                    ProfileOp::Set => b"\"$set\":",
                    ProfileOp::SetOnce => b"\"$set_once\":",
                    ProfileOp::Unset => b"\"$unset\":",
                    other => return Err(unsupported_person_op(*other)),
                };
                out.extend_from_slice(key);
                let traits = envelope.properties.trim();
                let shaped = if *op == ProfileOp::Unset {
                    traits.starts_with('[') && traits.ends_with(']')
                } else {
                    http::object_members(traits).is_some()
                };
                if !shaped {
                    return Err(if *op == ProfileOp::Unset {
                        "the traits to unset are not a JSON array".into()
                    } else {
                        "properties are not a JSON object".into()
                    });
                }
                out.extend_from_slice(traits.as_bytes());
            }
            Message::Join { group } => {
                write_group_identity(out, group)?;
                out.push(b',');
                write_groups(out, std::slice::from_ref(group))?;
            }
            Message::Group { group, op } => {
                if *op != ProfileOp::Set {
                    return Err(format!(
                        "PostHog group properties have no `{}` operation (only set)",
                        op.key()
                    ));
                }
                let members = members(envelope)?;
                write_group_identity(out, group)?;
                out.extend_from_slice(b",\"$group_set\":{");
                out.extend_from_slice(members.as_bytes());
                out.push(b'}');
            }
            Message::Link { anonymous_id } => {
                if anonymous_id.is_empty() {
                    return Err("empty anonymous id".into());
                }
                out.extend_from_slice(b"\"$anon_distinct_id\":");
                write_json_str(out, anonymous_id);
            }
        }
        out.extend_from_slice(b"}}");
        if out.len() > MAX_EVENT_BYTES {
            return Err(format!(
                "{} bytes, PostHog events must stay under {MAX_EVENT_BYTES} bytes",
                out.len()
            ));
        }
        Ok(1)
    }

    fn send(&mut self, body: &[u8], _members: &[&Envelope]) -> Verdict {
        if !self.key_ok {
            return Verdict::Failed(
                "the PostHog project API key is empty or too long: check it".into(),
            );
        }
        let body = self.body(body);
        let mut headers = vec![
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ];
        if self.gzip {
            headers.push(("Content-Encoding", "gzip"));
        }
        match self.client.post(self.url, &headers, &body) {
            Ok(response) => capture_verdict(response.status, response.retry_after),
            Err(error) => transport_verdict(&error),
        }
    }
}

fn transport_verdict(error: &TransportError) -> Verdict {
    http::retry_on(error, "PostHog")
}

/// What a `/batch/` response means for the events of the request. PostHog names no failed
/// event in an error, so every answer covers the whole request.
pub(crate) fn capture_verdict(status: u16, retry_after: Option<Duration>) -> Verdict {
    match status {
        200..=299 => Verdict::Accepted,
        400 => Verdict::Failed(
            "PostHog rejected the request (400 Bad Request) without naming an event".into(),
        ),
        401 => Verdict::Failed(
            "PostHog refused the project API key (401 Unauthorized): check it, and the region (US, EU or your instance)"
                .into(),
        ),
        403 => Verdict::Failed("PostHog denied the request (403 Forbidden)".into()),
        413 => Verdict::Failed("PostHog refused the request as too large (413)".into()),
        // 429 is a rate or billing limit: both lift, so it is retried (with `Retry-After`
        // when PostHog sends one) rather than dropped.
        408 | 429 | 500..=599 => Verdict::Retry {
            reason: format!("PostHog answered {status}"),
            after: retry_after,
        },
        _ => Verdict::Failed(format!("PostHog answered {status}, which is not retried")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::plan::PurposeSet;
    use std::sync::Arc;

    const ID: &str = "0b5c6d7e-1f20-4a3b-8c4d-5e6f708192a3";

    fn envelope(message: Message, properties: &str) -> Envelope {
        Envelope {
            message,
            event: "Signup \"Completed\"",
            insert_id: ID.into(),
            time_ms: 1_700_000_000_123,
            distinct_id: "abc123".into(),
            plan: fixture::plan("t").build(),
            purposes: PurposeSet::EMPTY,
            properties: properties.into(),
        }
    }

    fn encode(e: &Envelope) -> Result<String, String> {
        let client = Client::new(http::Timeouts::default());
        let mut capture = Capture::new(&client, "", "phc_k", false, true);
        let mut out = Vec::new();
        capture.encode(e, &mut out)?;
        Ok(String::from_utf8(out).expect("utf-8"))
    }

    fn company(id: &str) -> GroupRef {
        GroupRef {
            kind: "company",
            key: "company_id",
            id: id.into(),
        }
    }

    #[test]
    fn encodes_each_message_kind_exactly() {
        let head = |event: &str| {
            format!(
                r#"{{"event":{event},"distinct_id":"abc123","timestamp":"2023-11-14T22:13:20.123Z","uuid":"{ID}","properties":"#
            )
        };
        let track = envelope(Message::TRACK, r#"{"Plan Tier":"pro"}"#);
        assert_eq!(
            encode(&track),
            Ok(format!(
                r#"{}{{"Plan Tier":"pro"}}}}"#,
                head(r#""Signup \"Completed\"""#)
            ))
        );
        let grouped = envelope(
            Message::Track {
                groups: Some(Arc::from([
                    company("\"acme\""),
                    GroupRef {
                        kind: "team",
                        key: "t",
                        id: "7".into(),
                    },
                ])),
            },
            "{}",
        );
        assert_eq!(
            encode(&grouped),
            Ok(format!(
                r#"{}{{"$groups":{{"company":"acme","team":"7"}}}}}}"#,
                head(r#""Signup \"Completed\"""#)
            ))
        );
        let set = envelope(
            Message::Profile {
                op: ProfileOp::SetOnce,
            },
            r#"{"plan":"pro"}"#,
        );
        assert_eq!(
            encode(&set),
            Ok(format!(
                r#"{}{{"$set_once":{{"plan":"pro"}}}}}}"#,
                head(r#""$set""#)
            ))
        );
        let unset = envelope(
            Message::Profile {
                op: ProfileOp::Unset,
            },
            r#"["plan","age"]"#,
        );
        assert_eq!(
            encode(&unset),
            Ok(format!(
                r#"{}{{"$unset":["plan","age"]}}}}"#,
                head(r#""$set""#)
            ))
        );
        let join = envelope(
            Message::Join {
                group: company("42"),
            },
            "{}",
        );
        assert_eq!(
            encode(&join),
            Ok(format!(
                r#"{}{{"$group_type":"company","$group_key":"42","$groups":{{"company":"42"}}}}}}"#,
                head(r#""$groupidentify""#)
            ))
        );
        let group = envelope(
            Message::Group {
                group: company("\"acme\""),
                op: ProfileOp::Set,
            },
            r#"{"seats":12}"#,
        );
        assert_eq!(
            encode(&group),
            Ok(format!(
                r#"{}{{"$group_type":"company","$group_key":"acme","$group_set":{{"seats":12}}}}}}"#,
                head(r#""$groupidentify""#)
            ))
        );
        let link = envelope(
            Message::Link {
                anonymous_id: "anon1".into(),
            },
            "{}",
        );
        assert_eq!(
            encode(&link),
            Ok(format!(
                r#"{}{{"$anon_distinct_id":"anon1"}}}}"#,
                head(r#""$identify""#)
            ))
        );
    }

    #[test]
    fn refuses_what_posthog_would_reject_or_cannot_apply() {
        for op in [ProfileOp::Add, ProfileOp::Union, ProfileOp::Remove] {
            let e = envelope(Message::Profile { op }, r#"{"n":1}"#);
            let reason = encode(&e).expect_err("no such person operation");
            assert!(reason.contains(op.key()), "{reason}");
        }
        let e = envelope(
            Message::Group {
                group: company("\"a\""),
                op: ProfileOp::SetOnce,
            },
            "{}",
        );
        assert!(encode(&e).is_err());
        let mut e = envelope(Message::TRACK, "{}");
        e.insert_id = "id-1".into();
        assert!(encode(&e).is_err(), "uuid must be a UUID");
        let e = envelope(
            Message::Join {
                group: company("\"\""),
            },
            "{}",
        );
        assert!(encode(&e).is_err(), "empty group key");
        let e = envelope(
            Message::Join {
                group: company("[1]"),
            },
            "{}",
        );
        assert!(encode(&e).is_err(), "a list is no group key");
        let e = envelope(
            Message::Profile {
                op: ProfileOp::Unset,
            },
            r#"{"a":1}"#,
        );
        assert!(encode(&e).is_err(), "unset takes a list of names");
        let big = format!(r#"{{"k":"{}"}}"#, "x".repeat(MAX_EVENT_BYTES));
        assert!(encode(&envelope(Message::TRACK, &big)).is_err());
    }

    #[test]
    fn the_body_splices_the_key_before_the_batch() {
        let client = Client::new(http::Timeouts::default());
        let plain = Capture::new(&client, "", "phc_\"k", true, false);
        assert_eq!(
            plain.body(br#"{"batch":[{}]}"#),
            br#"{"api_key":"phc_\"k","historical_migration":true,"batch":[{}]}"#.to_vec()
        );
        let zipped = Capture::new(&client, "", "phc_k", false, true);
        let mut back = Vec::new();
        use std::io::Read as _;
        flate2::read::GzDecoder::new(zipped.body(br#"{"batch":[]}"#).as_slice())
            .read_to_end(&mut back)
            .expect("gzip");
        assert_eq!(
            back,
            br#"{"api_key":"phc_k","historical_migration":false,"batch":[]}"#
        );
    }

    #[test]
    fn statuses_map_to_retry_classes() {
        assert_eq!(capture_verdict(200, None), Verdict::Accepted);
        for status in [400, 401, 403, 413, 404] {
            assert!(
                matches!(capture_verdict(status, None), Verdict::Failed(_)),
                "{status}"
            );
        }
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(capture_verdict(status, None), Verdict::Retry { .. }),
                "{status}"
            );
        }
        assert_eq!(
            capture_verdict(429, Some(Duration::from_secs(7))),
            Verdict::Retry {
                reason: "PostHog answered 429".into(),
                after: Some(Duration::from_secs(7))
            }
        );
        assert!(is_uuid(ID));
        assert!(!is_uuid("0b5c6d7e-1f20-4a3b-8c4d-5e6f708192aZ"));
        assert!(!is_uuid("0b5c6d7e1f20-4a3b-8c4d-5e6f708192a3-"));
    }
}
