//! Amplitude's upload API (HTTP V2 `/2/httpapi`, Batch `/batch`) as a wire format: each
//! message kind encoded as an Amplitude event, and what a response means for the events of
//! its request, including the per-event answers of a `400` and a `429`.

use crate::http::{self, Client, Verdict, WireFormat};
use crate::message::{GroupRef, Message, ProfileOp};
use crate::sink::Envelope;
use crate::value::write_json_str;
use std::collections::HashSet;
use std::time::Duration;

/// Most events in one request.
pub(crate) const MAX_EVENTS: usize = 2000;
/// Most bytes of one request, "under 1 MB" read as decimal, less room for the `api_key`
/// member added after the events.
pub(crate) const MAX_BODY_BYTES: usize = 1_000_000 - TAIL_RESERVE;
/// Room kept for `,"api_key":"…"}`: API keys are 32 characters; longer ones still fit.
const TAIL_RESERVE: usize = 1024;
/// Shortest `user_id` or `device_id` Amplitude accepts without `options.min_id_length`; a
/// request with shorter ids (a plan with identity `none` and short raw ids) lowers it.
const MIN_ID_LENGTH: usize = 5;
/// Ids Amplitude refuses whatever their length (its HTTP V2 documentation lists them).
const INVALID_IDS: [&str; 14] = [
    "anonymous",
    "nil",
    "none",
    "null",
    "n/a",
    "na",
    "undefined",
    "unknown",
    "\"\"",
    "{}",
    "lmy47d",
    "0",
    "-1",
    "00000000-0000-0000-0000-000000000000",
];
/// How long Amplitude asks a throttled user or device to pause when its `429` gives no
/// `Retry-After` ("pause sending events for that user / device for a period of 30 seconds").
pub(crate) const THROTTLE_PAUSE: Duration = Duration::from_secs(30);

/// One `deliver` call's view of the sink, as a wire format.
pub(crate) struct Upload<'a> {
    pub(crate) client: &'a Client,
    pub(crate) url: &'a str,
    pub(crate) api_key: &'a str,
}

impl WireFormat for Upload<'_> {
    const MAX_EVENTS: usize = MAX_EVENTS;
    const MAX_BODY_BYTES: usize = MAX_BODY_BYTES;
    const OPEN: &'static [u8] = b"{\"events\":[";
    const CLOSE: &'static [u8] = b"]}";
    const NAME: &'static str = "amplitude";

    fn encode(&mut self, envelope: &Envelope, out: &mut Vec<u8>) -> Result<usize, String> {
        encode(envelope, out).map(|()| 1)
    }

    fn send(&mut self, body: &[u8], members: &[&Envelope]) -> Verdict {
        // Positions (in `members`) still to be sent, and what became of the others.
        let mut pending: Vec<usize> = (0..members.len()).collect();
        let mut failed: Vec<(usize, String)> = Vec::new();
        let mut later: Vec<usize> = Vec::new();
        let mut after: Option<Duration> = None;
        let mut request = self.finish(body, members.iter().copied());
        loop {
            let answer = match self.client.post(
                self.url,
                &[("Content-Type", "application/json"), ("Accept", "*/*")],
                &request,
            ) {
                Ok(response) => {
                    let sent: Vec<&Envelope> = pending.iter().map(|&i| members[i]).collect();
                    upload_verdict(response.status, response.retry_after, &response.body, &sent)
                }
                Err(error) => Answer::Retry {
                    reason: format!("Amplitude: {error}"),
                    after: None,
                },
            };
            let rest = match answer {
                Answer::Accepted => Vec::new(),
                Answer::SomeRejected { rejected } => {
                    let (failing, rest) = split_off(&pending, rejected.into_iter());
                    failed.extend(failing.into_iter().map(|(i, why)| (pending[i], why)));
                    rest
                }
                Answer::Throttled {
                    throttled,
                    over_quota,
                    after: pause,
                } => {
                    let (quota, _) = split_off(&pending, over_quota.into_iter());
                    let (held, _) = split_off(&pending, throttled.into_iter().map(|i| (i, ())));
                    let quota_positions: HashSet<usize> = quota.iter().map(|(i, _)| *i).collect();
                    let held_positions: HashSet<usize> = held
                        .iter()
                        .map(|(i, _)| *i)
                        .filter(|i| !quota_positions.contains(i))
                        .collect();
                    failed.extend(quota.into_iter().map(|(i, why)| (pending[i], why)));
                    later.extend(held_positions.iter().map(|&i| pending[i]));
                    after = after.max(Some(pause));
                    (0..pending.len())
                        .filter(|i| !quota_positions.contains(i) && !held_positions.contains(i))
                        .collect()
                }
                Answer::Retry { reason, after: a } => {
                    if failed.is_empty() && later.is_empty() {
                        // Nothing settled: the batch's other requests wait for the retry too.
                        return Verdict::Retry { reason, after: a };
                    }
                    later.extend(&pending);
                    return settle(failed, later, reason, after.max(a));
                }
                Answer::Failed(reason) => {
                    if failed.is_empty() && later.is_empty() {
                        return Verdict::Failed(reason);
                    }
                    failed.extend(pending.iter().map(|&i| (i, reason.clone())));
                    return settle(failed, later, reason, after);
                }
            };
            // `rest` are positions in `pending` that were neither accepted nor settled: the
            // request must be sent again without the events Amplitude named.
            if rest.is_empty() {
                let reason = "Amplitude throttled some users or devices (429)".to_owned();
                return settle(failed, later, reason, after);
            }
            pending = rest.into_iter().map(|i| pending[i]).collect();
            let mut body = Self::OPEN.to_vec();
            for (n, &i) in pending.iter().enumerate() {
                if n > 0 {
                    body.push(b',');
                }
                if let Err(reason) = encode(members[i], &mut body) {
                    // It encoded the first time; it cannot fail now, but never send it half.
                    failed.push((i, reason));
                }
            }
            body.extend_from_slice(Self::CLOSE);
            request = self.finish(&body, pending.iter().map(|&i| members[i]));
        }
    }
}

impl Upload<'_> {
    /// The request body: the events, `options.min_id_length` when one of them has an id
    /// shorter than Amplitude's default minimum, then the API key.
    fn finish<'e>(&self, events: &[u8], members: impl Iterator<Item = &'e Envelope>) -> Vec<u8> {
        let mut request = Vec::with_capacity(events.len() + self.api_key.len() + 48);
        request.extend_from_slice(&events[..events.len().saturating_sub(1)]);
        let shortest = members
            .flat_map(|e| std::iter::once(&*e.distinct_id).chain(device_id(e)))
            .map(|id| id.chars().count())
            .min()
            .unwrap_or(MIN_ID_LENGTH);
        if shortest < MIN_ID_LENGTH {
            request.extend_from_slice(b",\"options\":{\"min_id_length\":");
            request.extend_from_slice(itoa::Buffer::new().format(shortest).as_bytes());
            request.push(b'}');
        }
        request.extend_from_slice(b",\"api_key\":");
        write_json_str(&mut request, self.api_key);
        request.push(b'}');
        request
    }
}

/// What became of one request's events, once the loop is over.
fn settle(
    failed: Vec<(usize, String)>,
    later: Vec<usize>,
    reason: String,
    after: Option<Duration>,
) -> Verdict {
    if later.is_empty() {
        return if failed.is_empty() {
            Verdict::Accepted
        } else {
            Verdict::Partial(failed)
        };
    }
    Verdict::RetrySome {
        retry: later,
        failed,
        reason,
        after,
    }
}

/// Splits `pending` by the positions (into it) that `named` names, with their payload:
/// returns the named ones and the positions of the others.
fn split_off<T>(
    pending: &[usize],
    named: impl Iterator<Item = (usize, T)>,
) -> (Vec<(usize, T)>, Vec<usize>) {
    let mut hits: Vec<(usize, T)> = Vec::new();
    let mut seen = HashSet::new();
    for (i, payload) in named {
        if i < pending.len() && seen.insert(i) {
            hits.push((i, payload));
        }
    }
    let rest = (0..pending.len()).filter(|i| !seen.contains(i)).collect();
    (hits, rest)
}

/// What one upload response means, by position in the request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// `200`: every event ingested.
    Accepted,
    /// `400` naming events with invalid or missing fields: those failed, and nothing was
    /// ingested; the others must be sent again.
    SomeRejected { rejected: Vec<(usize, String)> },
    /// `429` naming throttled users, devices or events (or ones over their daily quota):
    /// nothing was ingested; the throttled ones wait `after`, the over-quota ones failed,
    /// the others must be sent again now.
    Throttled {
        throttled: Vec<usize>,
        over_quota: Vec<(usize, String)>,
        after: Duration,
    },
    /// Nothing ingested; worth trying again as a whole.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Nothing ingested; trying again will not help.
    Failed(String),
}

/// What an upload response means for the events of its request (`sent`, in body order).
/// Reasons name fields and statuses, never values or ids.
pub(crate) fn upload_verdict(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    sent: &[&Envelope],
) -> Answer {
    match status {
        200..=299 => Answer::Accepted,
        400 => {
            let response: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let mut rejected = Vec::new();
            for (key, what) in [
                ("events_with_invalid_fields", "invalid"),
                ("events_with_missing_fields", "missing"),
                ("events_missing_required_fields", "missing"),
            ] {
                let Some(fields) = response.get(key).and_then(|v| v.as_object()) else {
                    continue;
                };
                for (field, indices) in fields {
                    for i in indices.as_array().into_iter().flatten() {
                        if let Some(i) = i.as_u64().and_then(|i| usize::try_from(i).ok()) {
                            rejected.push((
                                i,
                                format!("Amplitude rejected the event: {what} `{field}`"),
                            ));
                        }
                    }
                }
            }
            rejected.retain(|(i, _)| *i < sent.len());
            if rejected.is_empty() {
                let error = response["error"].as_str().unwrap_or("no error named");
                // Amplitude's `error` is one of a fixed set of descriptions ("Invalid API
                // key", "Invalid JSON request body", …), never a value of ours.
                let error: String = error.chars().take(80).collect();
                Answer::Failed(format!("Amplitude rejected the request (400): {error}"))
            } else {
                Answer::SomeRejected { rejected }
            }
        }
        401 | 403 => Answer::Failed(format!(
            "Amplitude refused the request ({status}): check the API key and the region"
        )),
        413 => Answer::Failed("Amplitude refused the request as too large (413)".into()),
        429 => throttled(retry_after, body, sent),
        500..=599 => Answer::Retry {
            reason: format!("Amplitude answered {status}"),
            after: retry_after,
        },
        _ => Answer::Failed(format!("Amplitude answered {status}, which is not retried")),
    }
}

/// A `429`: which events Amplitude throttled (by `throttled_events`, or by their `user_id` or
/// `device_id` in `throttled_users`/`throttled_devices`) and which are over their daily quota
/// (`exceeded_daily_quota_users`/`_devices`). Naming none: the whole request waits.
fn throttled(retry_after: Option<Duration>, body: &[u8], sent: &[&Envelope]) -> Answer {
    let response: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let ids = |key: &str| -> HashSet<&str> {
        response
            .get(key)
            .and_then(|v| v.as_object())
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    };
    let (users, devices) = (ids("throttled_users"), ids("throttled_devices"));
    let (quota_users, quota_devices) = (
        ids("exceeded_daily_quota_users"),
        ids("exceeded_daily_quota_devices"),
    );
    let events: HashSet<usize> = response
        .get("throttled_events")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
        .filter_map(|i| i.as_u64().and_then(|i| usize::try_from(i).ok()))
        .collect();
    let mut throttled = Vec::new();
    let mut over_quota = Vec::new();
    for (i, e) in sent.iter().enumerate() {
        let device = device_id(e);
        if quota_users.contains(&*e.distinct_id)
            || device.is_some_and(|d| quota_devices.contains(d))
        {
            over_quota.push((
                i,
                "Amplitude: the user or device is over its daily event quota (429)".to_owned(),
            ));
        } else if events.contains(&i)
            || users.contains(&*e.distinct_id)
            || device.is_some_and(|d| devices.contains(d))
        {
            throttled.push(i);
        }
    }
    if throttled.is_empty() && over_quota.is_empty() {
        return Answer::Retry {
            reason: "Amplitude answered 429".into(),
            after: retry_after,
        };
    }
    Answer::Throttled {
        throttled,
        over_quota,
        after: retry_after.unwrap_or(THROTTLE_PAUSE),
    }
}

/// The `device_id` an envelope is sent with: the anonymous id of a stitching message.
fn device_id(envelope: &Envelope) -> Option<&str> {
    match &envelope.message {
        Message::Link { anonymous_id } => Some(anonymous_id),
        _ => None,
    }
}

/// Whether Amplitude reserves this event name (`[Amplitude] …`, and the `$`-prefixed names
/// of its own identify calls).
fn reserved_event_type(name: &str) -> bool {
    name.starts_with("[Amplitude]") || name.starts_with('$')
}

/// Appends one envelope as an Amplitude event, or says why Amplitude would reject it.
pub(crate) fn encode(envelope: &Envelope, out: &mut Vec<u8>) -> Result<(), String> {
    if envelope.insert_id.is_empty() {
        return Err("empty insert id".into());
    }
    check_id(&envelope.distinct_id, "user id")?;
    let event_type = match &envelope.message {
        Message::Track { .. } => {
            if reserved_event_type(envelope.event) {
                return Err("Amplitude reserves this event name".into());
            }
            envelope.event
        }
        Message::Profile { .. } | Message::Join { .. } | Message::Link { .. } => "$identify",
        Message::Group { .. } => "$groupidentify",
    };
    out.extend_from_slice(b"{\"event_type\":");
    write_json_str(out, event_type);
    out.extend_from_slice(b",\"user_id\":");
    write_json_str(out, &envelope.distinct_id);
    if let Message::Link { anonymous_id } = &envelope.message {
        check_id(anonymous_id, "anonymous id")?;
        out.extend_from_slice(b",\"device_id\":");
        write_json_str(out, anonymous_id);
    }
    out.extend_from_slice(b",\"time\":");
    out.extend_from_slice(itoa::Buffer::new().format(envelope.time_ms).as_bytes());
    out.extend_from_slice(b",\"insert_id\":");
    write_json_str(out, &envelope.insert_id);
    let properties = envelope.properties.trim();
    match &envelope.message {
        Message::Track { groups } => {
            object(properties)?;
            out.extend_from_slice(b",\"event_properties\":");
            out.extend_from_slice(properties.as_bytes());
            if let Some(groups) = groups.as_deref().filter(|g| !g.is_empty()) {
                out.extend_from_slice(b",\"groups\":");
                write_groups(out, groups);
            }
        }
        Message::Profile { op } => {
            out.extend_from_slice(b",\"user_properties\":");
            write_operation(out, *op, properties)?;
        }
        Message::Join { group } => {
            let members = object(properties)?;
            out.extend_from_slice(b",\"groups\":");
            write_groups(out, std::slice::from_ref(group));
            // As Amplitude's SDKs do for a group membership: the group also becomes a user
            // property, with any traits the join carries.
            out.extend_from_slice(b",\"user_properties\":{\"$set\":{");
            write_json_str(out, group.kind);
            out.push(b':');
            write_group_name(out, &group.id);
            if !members.is_empty() {
                out.push(b',');
                out.extend_from_slice(members.as_bytes());
            }
            out.extend_from_slice(b"}}");
        }
        Message::Group { group, op } => {
            out.extend_from_slice(b",\"groups\":");
            write_groups(out, std::slice::from_ref(group));
            out.extend_from_slice(b",\"group_properties\":");
            write_operation(out, *op, properties)?;
        }
        Message::Link { .. } => {}
    }
    out.push(b'}');
    Ok(())
}

/// Whether Amplitude takes `id` as a user or device id: not empty, and not one of the values
/// it refuses. The reason names the rule, never the id.
fn check_id(id: &str, what: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("empty {what}"));
    }
    if INVALID_IDS.iter().any(|bad| bad.eq_ignore_ascii_case(id)) {
        return Err(format!(
            "Amplitude refuses this {what} (one of its invalid ids)"
        ));
    }
    Ok(())
}

/// The members of an object's text, or why it is not one.
fn object(properties: &str) -> Result<&str, String> {
    http::object_members(properties).ok_or_else(|| "properties are not a JSON object".into())
}

/// Writes `{"$op":{…}}` for a profile or group update. Every [`ProfileOp`] has an Amplitude
/// operation: `union` is `$postInsert` (adds the values a list lacks, in order) and `unset`
/// sends each trait name with the placeholder value `"-"` Amplitude's examples use.
fn write_operation(out: &mut Vec<u8>, op: ProfileOp, properties: &str) -> Result<(), String> {
    let operation = match op {
        ProfileOp::Set => "$set",
        ProfileOp::SetOnce => "$setOnce",
        ProfileOp::Add => "$add",
        ProfileOp::Union => "$postInsert",
        ProfileOp::Remove => "$remove",
        ProfileOp::Unset => "$unset",
    };
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(operation.as_bytes());
    out.extend_from_slice(b"\":");
    if op == ProfileOp::Unset {
        let names: Vec<String> = serde_json::from_str(properties)
            .map_err(|_| "an unset's traits are not a JSON array of names".to_owned())?;
        out.push(b'{');
        for (n, name) in names.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            write_json_str(out, name);
            out.extend_from_slice(b":\"-\"");
        }
        out.push(b'}');
    } else {
        object(properties)?;
        out.extend_from_slice(properties.as_bytes());
    }
    out.push(b'}');
    Ok(())
}

/// Writes `{"kind":"id",…}`; several groups of one kind become an array of names.
fn write_groups(out: &mut Vec<u8>, groups: &[GroupRef]) {
    out.push(b'{');
    let mut first = true;
    for (n, group) in groups.iter().enumerate() {
        if groups[..n].iter().any(|g| g.kind == group.kind) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_json_str(out, group.kind);
        out.push(b':');
        let same: Vec<&GroupRef> = groups[n..]
            .iter()
            .filter(|g| g.kind == group.kind)
            .collect();
        if same.len() == 1 {
            write_group_name(out, &group.id);
        } else {
            out.push(b'[');
            for (m, g) in same.iter().enumerate() {
                if m > 0 {
                    out.push(b',');
                }
                write_group_name(out, &g.id);
            }
            out.push(b']');
        }
    }
    out.push(b'}');
}

/// A group's id as Amplitude's group name, which is a string: a JSON string as it is, a
/// number (or other value) as its text in a string.
fn write_group_name(out: &mut Vec<u8>, id: &str) {
    let id = id.trim();
    if id.starts_with('"') {
        out.extend_from_slice(id.as_bytes());
    } else {
        write_json_str(out, id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::plan::PurposeSet;
    use std::sync::Arc;

    fn envelope(message: Message, properties: &str) -> Envelope {
        Envelope {
            message,
            event: "Order \"Placed\"",
            insert_id: "0b5c-1".into(),
            time_ms: 1_700_000_000_123,
            distinct_id: "abc123".into(),
            plan: fixture::plan("t").build(),
            purposes: PurposeSet::EMPTY,
            properties: properties.into(),
        }
    }

    fn encoded(message: Message, properties: &str) -> Result<String, String> {
        let mut out = Vec::new();
        encode(&envelope(message, properties), &mut out)?;
        Ok(String::from_utf8(out).expect("utf-8"))
    }

    fn company(id: &str) -> GroupRef {
        GroupRef {
            kind: "company",
            key: "company_id",
            id: id.into(),
        }
    }

    const HEAD: &str =
        r#"{"event_type":"$identify","user_id":"abc123","time":1700000000123,"insert_id":"0b5c-1""#;

    #[test]
    fn encodes_each_message_kind_exactly() {
        assert_eq!(
            encoded(Message::TRACK, r#"{"total":9.5}"#).as_deref(),
            Ok(
                r#"{"event_type":"Order \"Placed\"","user_id":"abc123","time":1700000000123,"insert_id":"0b5c-1","event_properties":{"total":9.5}}"#
            )
        );
        let groups: Arc<[GroupRef]> = vec![
            company("\"acme\""),
            company("7"),
            GroupRef {
                kind: "team",
                key: "team_id",
                id: "\"t\"".into(),
            },
        ]
        .into();
        assert_eq!(
            encoded(
                Message::Track {
                    groups: Some(groups)
                },
                "{}"
            )
            .as_deref(),
            Ok(
                r#"{"event_type":"Order \"Placed\"","user_id":"abc123","time":1700000000123,"insert_id":"0b5c-1","event_properties":{},"groups":{"company":["acme","7"],"team":"t"}}"#
            )
        );
        let ops = [
            (
                ProfileOp::Set,
                r#"{"plan":"pro"}"#,
                r#"{"$set":{"plan":"pro"}}"#,
            ),
            (
                ProfileOp::SetOnce,
                r#"{"first":"x"}"#,
                r#"{"$setOnce":{"first":"x"}}"#,
            ),
            (
                ProfileOp::Add,
                r#"{"orders":1}"#,
                r#"{"$add":{"orders":1}}"#,
            ),
            (
                ProfileOp::Union,
                r#"{"tags":["a"]}"#,
                r#"{"$postInsert":{"tags":["a"]}}"#,
            ),
            (
                ProfileOp::Remove,
                r#"{"tags":["a"]}"#,
                r#"{"$remove":{"tags":["a"]}}"#,
            ),
            (
                ProfileOp::Unset,
                r#"["plan","x\"y"]"#,
                r#"{"$unset":{"plan":"-","x\"y":"-"}}"#,
            ),
        ];
        for (op, properties, expected) in ops {
            assert_eq!(
                encoded(Message::Profile { op }, properties),
                Ok(format!("{HEAD},\"user_properties\":{expected}}}")),
                "{op:?}"
            );
            let group = encoded(
                Message::Group {
                    group: company("42"),
                    op,
                },
                properties,
            );
            assert_eq!(
                group,
                Ok(format!(
                    r#"{{"event_type":"$groupidentify","user_id":"abc123","time":1700000000123,"insert_id":"0b5c-1","groups":{{"company":"42"}},"group_properties":{expected}}}"#
                )),
                "{op:?}"
            );
        }
        assert_eq!(
            encoded(
                Message::Join {
                    group: company("\"acme\"")
                },
                "{}"
            ),
            Ok(format!(
                r#"{HEAD},"groups":{{"company":"acme"}},"user_properties":{{"$set":{{"company":"acme"}}}}}}"#
            ))
        );
        assert_eq!(
            encoded(Message::Link { anonymous_id: "anon-77".into() }, "{}"),
            Ok(r#"{"event_type":"$identify","user_id":"abc123","device_id":"anon-77","time":1700000000123,"insert_id":"0b5c-1"}"#.to_owned())
        );
        for text in ops
            .iter()
            .map(|(op, p, _)| encoded(Message::Profile { op: *op }, p).expect("encodes"))
        {
            let _: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        }
    }

    #[test]
    fn refuses_what_amplitude_would_reject_without_quoting_values() {
        for bad in [
            "",
            "null",
            "Unknown",
            "0",
            "-1",
            "00000000-0000-0000-0000-000000000000",
        ] {
            let mut invalid = envelope(Message::TRACK, "{}");
            invalid.distinct_id = bad.into();
            let err = encode(&invalid, &mut Vec::new()).expect_err(bad);
            assert!(bad.is_empty() || !err.contains(bad), "{err}");
        }
        let mut reserved = envelope(Message::TRACK, "{}");
        reserved.event = "[Amplitude] Revenue";
        assert!(encode(&reserved, &mut Vec::new()).is_err());
        assert!(encoded(Message::TRACK, "[1]").is_err());
        let err = encoded(
            Message::Profile {
                op: ProfileOp::Unset,
            },
            r#"{"secret-value":1}"#,
        )
        .expect_err("not an array");
        assert!(!err.contains("secret-value"), "{err}");
        let link = |id: &str| {
            encoded(
                Message::Link {
                    anonymous_id: id.into(),
                },
                "{}",
            )
        };
        assert!(link("null").is_err() && link("").is_err());
        assert!(
            link("a").is_ok(),
            "short ids lower the request's min_id_length instead"
        );
    }

    #[test]
    fn short_ids_lower_the_requests_minimum_id_length() {
        let client = Client::new(crate::http::Timeouts::default());
        let upload = Upload {
            client: &client,
            url: "",
            api_key: "k",
        };
        let long = envelope(Message::TRACK, "{}");
        assert_eq!(
            upload.finish(b"{\"events\":[]}", [&long].into_iter()),
            br#"{"events":[],"api_key":"k"}"#
        );
        let mut short = envelope(
            Message::Link {
                anonymous_id: "d7".into(),
            },
            "{}",
        );
        short.distinct_id = "u-1".into();
        assert_eq!(
            upload.finish(b"{\"events\":[]}", [&long, &short].into_iter()),
            br#"{"events":[],"options":{"min_id_length":2},"api_key":"k"}"#
        );
    }

    fn envelopes(ids: &[&str]) -> Vec<Envelope> {
        ids.iter()
            .map(|id| Envelope {
                distinct_id: (*id).into(),
                ..envelope(Message::TRACK, "{}")
            })
            .collect()
    }

    #[test]
    fn maps_upload_responses() {
        let batch = envelopes(&["user-a", "user-b", "user-c"]);
        let sent: Vec<&Envelope> = batch.iter().collect();
        assert_eq!(upload_verdict(200, None, b"{}", &sent), Answer::Accepted);
        let body = br#"{"code":400,"error":"Invalid field values on some events",
            "events_with_invalid_fields":{"time":[2]},"events_with_missing_fields":{"event_type":[0,9]}}"#;
        let Answer::SomeRejected { rejected } = upload_verdict(400, None, body, &sent) else {
            panic!("a 400 naming events is per event");
        };
        let mut positions: Vec<usize> = rejected.iter().map(|(i, _)| *i).collect();
        positions.sort_unstable();
        assert_eq!(positions, [0, 2]);
        assert!(
            rejected
                .iter()
                .any(|(i, r)| *i == 2 && r.contains("invalid `time`"))
        );
        assert!(matches!(
            upload_verdict(400, None, br#"{"error":"Invalid API key"}"#, &sent),
            Answer::Failed(r) if r.contains("Invalid API key")
        ));
        for status in [401, 403, 404, 413] {
            assert!(
                matches!(upload_verdict(status, None, b"", &sent), Answer::Failed(_)),
                "{status}"
            );
        }
        for status in [500, 502, 503, 504] {
            assert!(
                matches!(
                    upload_verdict(status, None, b"", &sent),
                    Answer::Retry { .. }
                ),
                "{status}"
            );
        }
        let after = Some(Duration::from_secs(3));
        assert_eq!(
            upload_verdict(429, after, b"", &sent),
            Answer::Retry {
                reason: "Amplitude answered 429".into(),
                after
            }
        );
        let body = br#"{"code":429,"error":"Too many requests for some devices and users","eps_threshold":30,
            "throttled_users":{"user-b":31},"throttled_events":[0],"exceeded_daily_quota_users":{"user-c":500001}}"#;
        let Answer::Throttled {
            throttled,
            over_quota,
            after,
        } = upload_verdict(429, None, body, &sent)
        else {
            panic!("a 429 naming users is per event");
        };
        assert_eq!(throttled, [0, 1]);
        assert_eq!(over_quota.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [2]);
        assert_eq!(
            after, THROTTLE_PAUSE,
            "Amplitude's 30 s pause without a Retry-After"
        );
    }
}
