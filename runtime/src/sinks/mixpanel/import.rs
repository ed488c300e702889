//! Mixpanel's `/import` API as a wire format: encoding each event, and what a response means
//! for the events of its request.

use super::*;
use crate::message::{GroupRef, Message};
use crate::plan::PropertyInfo;

/// One `deliver` call's view of the sink, as a wire format.
pub(super) struct Import<'a> {
    pub(super) client: &'a Client,
    pub(super) url: &'a str,
    pub(super) authorization: &'a str,
    pub(super) gzip: bool,
    pub(super) ip_properties: &'a mut Option<IpProperties>,
    /// Whether the last request got no answer (connection, timeout): the host may be down.
    pub(super) unanswered: bool,
}

/// Of the last plan seen (plans are `'static`: compared by address), per event that declares
/// any, the wire names of its IP-address properties, each as the JSON string that would be its
/// key in an envelope's properties.
pub(crate) type IpProperties = (&'static PlanInfo, Vec<(&'static str, Vec<Vec<u8>>)>);

impl Import<'_> {
    /// Whether `envelope` gets `"ip": 0`: unless the payload this destination receives for
    /// this event carries an IP-address property (or one named `ip`). An event that declares
    /// none, leaves its optional one out, or whose one is withheld from this destination
    /// (`redact` at a third party) is not geolocated from the request's address.
    fn sends_ip_zero(&mut self, envelope: &Envelope, members: &str) -> bool {
        let plan = envelope.plan;
        if !matches!(self.ip_properties, Some((seen, _)) if std::ptr::eq(*seen, plan)) {
            *self.ip_properties = Some((plan, ip_properties(plan)));
        }
        let events = self
            .ip_properties
            .as_ref()
            .map_or(&[][..], |(_, e)| e.as_slice());
        let Some((_, keys)) = events.iter().find(|(event, _)| *event == envelope.event) else {
            return true;
        };
        !top_level_keys(members).any(|key| keys.iter().any(|k| k.as_slice() == key))
    }
}

/// Whether a property is an IP address (its category, or a sub-category of it), or has Mixpanel's
/// own wire name `ip`, which `"ip": 0` must then not overwrite.
pub(super) fn is_ip_property(p: &PropertyInfo) -> bool {
    p.name == "ip"
        || p.category.is_some_and(|c| {
            c == IP_CATEGORY
                || c.strip_prefix(IP_CATEGORY)
                    .is_some_and(|rest| rest.starts_with('.'))
        })
}

/// Per event of `plan` that declares IP-address properties, their keys as JSON strings.
fn ip_properties(plan: &PlanInfo) -> Vec<(&'static str, Vec<Vec<u8>>)> {
    plan.events
        .iter()
        .filter_map(|e| {
            let keys: Vec<Vec<u8>> = e
                .properties
                .iter()
                .filter(|p| is_ip_property(p))
                .map(|p| {
                    let mut key = Vec::with_capacity(p.name.len() + 2);
                    write_json_str(&mut key, p.name);
                    key
                })
                .collect();
            (!keys.is_empty()).then_some((e.name, keys))
        })
        .collect()
}

/// The keys of an object's top-level members, as the JSON strings they are written as, from
/// the object's inner text (as [`http::object_members`] returns it).
pub(super) fn top_level_keys(members: &str) -> impl Iterator<Item = &[u8]> {
    let bytes = members.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut expect_key = true;
    let mut key_start = None;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() {
            let b = bytes[i];
            i += 1;
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => {
                        in_string = false;
                        if let Some(start) = key_start.take() {
                            return Some(&bytes[start..i]);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => {
                    in_string = true;
                    if depth == 0 && expect_key {
                        expect_key = false;
                        key_start = Some(i - 1);
                    }
                }
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                b',' if depth == 0 => expect_key = true,
                _ => {}
            }
        }
        None
    })
}

/// The event Mixpanel's identity merge reads a stitch from.
const IDENTIFY: &str = "$identify";

/// The properties an event adds for the groups it carries (Mixpanel group analytics): each
/// group key once, its value the list of the ids of the event's groups of that key, as
/// strings (a user may belong to several groups of one key; Mixpanel joins a group's profile
/// by its id as a string). A key the event's own properties already hold is left to them.
fn group_keys(groups: Option<&[GroupRef]>, members: &str) -> Vec<(&'static str, Vec<u8>)> {
    let mut by_key: Vec<(&'static str, Vec<&str>)> = Vec::new();
    for group in groups.unwrap_or_default() {
        match by_key.iter_mut().find(|(k, _)| *k == group.key) {
            Some((_, ids)) => ids.push(&group.id),
            None => by_key.push((group.key, vec![&group.id])),
        }
    }
    by_key
        .into_iter()
        .filter(|(key, _)| {
            let mut text = Vec::with_capacity(key.len() + 2);
            write_json_str(&mut text, key);
            !top_level_keys(members).any(|k| k == text.as_slice())
        })
        .map(|(key, ids)| {
            let mut list = vec![b'['];
            for (i, id) in ids.into_iter().enumerate() {
                if i > 0 {
                    list.push(b',');
                }
                http::write_id_string(&mut list, id);
            }
            list.push(b']');
            (key, list)
        })
        .collect()
}

/// The properties of the `$identify` event that links the anonymous id to the identified one:
/// `$device_id` and `$user_id` for the Simplified ID Merge API (an event carrying both merges
/// them), `$anon_id` and `$identified_id` for the Original one.
fn stitch(distinct_id: &str, anonymous_id: &str) -> Vec<(&'static str, Vec<u8>)> {
    let json = |id: &str| {
        let mut text = Vec::with_capacity(id.len() + 2);
        write_json_str(&mut text, id);
        text
    };
    vec![
        ("$user_id", json(distinct_id)),
        ("$device_id", json(anonymous_id)),
        ("$identified_id", json(distinct_id)),
        ("$anon_id", json(anonymous_id)),
    ]
}

/// Whether `id` is a valid `$insert_id`: 1 to 36 characters of `[A-Za-z0-9-]`.
pub(crate) fn valid_insert_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_INSERT_ID
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

impl WireFormat for Import<'_> {
    const MAX_EVENTS: usize = MAX_EVENTS;
    const MAX_BODY_BYTES: usize = MAX_BODY_BYTES;
    const OPEN: &'static [u8] = b"[";
    const CLOSE: &'static [u8] = b"]";
    const NAME: &'static str = "mixpanel";

    fn encode(&mut self, envelope: &Envelope, out: &mut Vec<u8>) -> Result<usize, String> {
        if !valid_insert_id(&envelope.insert_id) {
            return Err(format!(
                "insert id is not 1 to {MAX_INSERT_ID} characters of [A-Za-z0-9-]"
            ));
        }
        let Some(members) = http::object_members(&envelope.properties) else {
            return Err("properties are not a JSON object".into());
        };
        let ip_zero = self.sends_ip_zero(envelope, members);
        let (name, extra) = match &envelope.message {
            Message::Track { groups } => (envelope.event, group_keys(groups.as_deref(), members)),
            Message::Link { anonymous_id } => {
                (IDENTIFY, stitch(&envelope.distinct_id, anonymous_id))
            }
            other => {
                return Err(format!(
                    "a {} message is not an event: it goes to another endpoint",
                    other.kind()
                ));
            }
        };
        let count = http::count_members(members) + 3 + usize::from(ip_zero) + extra.len();
        if count > MAX_PROPERTIES {
            return Err(format!(
                "{count} properties, Mixpanel accepts at most {MAX_PROPERTIES} per event"
            ));
        }
        out.extend_from_slice(b"{\"event\":");
        write_json_str(out, name);
        out.extend_from_slice(b",\"properties\":{\"time\":");
        out.extend_from_slice(envelope.time_ms.to_string().as_bytes());
        out.extend_from_slice(b",\"distinct_id\":");
        write_json_str(out, &envelope.distinct_id);
        out.extend_from_slice(b",\"$insert_id\":\"");
        out.extend_from_slice(envelope.insert_id.as_bytes());
        out.push(b'"');
        if ip_zero {
            out.extend_from_slice(b",\"ip\":0");
        }
        if !members.is_empty() {
            out.push(b',');
            out.extend_from_slice(members.as_bytes());
        }
        for (key, value) in &extra {
            out.push(b',');
            write_json_str(out, key);
            out.push(b':');
            out.extend_from_slice(value);
        }
        out.extend_from_slice(b"}}");
        if out.len() >= MAX_EVENT_BYTES {
            return Err(format!(
                "{} bytes, Mixpanel accepts events smaller than {MAX_EVENT_BYTES} bytes",
                out.len()
            ));
        }
        Ok(1)
    }

    fn send(&mut self, body: &[u8], members: &[&Envelope]) -> Verdict {
        let compressed;
        let (body, encoding) = if self.gzip {
            compressed = http::gzip(body);
            (compressed.as_slice(), Some(("Content-Encoding", "gzip")))
        } else {
            (body, None)
        };
        let mut headers = vec![
            ("Authorization", self.authorization),
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ];
        headers.extend(encoding);
        match self.client.post(self.url, &headers, body) {
            Ok(response) => import_verdict(
                response.status,
                response.retry_after,
                &response.body,
                members,
            ),
            Err(error) => {
                self.unanswered = true;
                transport_verdict(&error)
            }
        }
    }
}

pub(super) fn transport_verdict(error: &TransportError) -> Verdict {
    http::retry_on(error, "Mixpanel")
}

/// What an `/import` response means for the events of the request.
pub(crate) fn import_verdict(
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    members: &[&Envelope],
) -> Verdict {
    match status {
        200..=299 => Verdict::Accepted,
        400 => match failed_records(body, members, members.len(), "event") {
            Some(failed) if !failed.is_empty() => Verdict::Partial(failed),
            _ => Verdict::Failed(
                "Mixpanel rejected the request (400 Bad Request) without naming the failed records"
                    .into(),
            ),
        },
        401 => Verdict::Failed(
            "Mixpanel refused the credentials (401 Unauthorized): check the project token or the service account"
                .into(),
        ),
        403 => Verdict::Failed(
            "Mixpanel denied access (403 Forbidden): the service account may lack access to the project, or the project is not in this region"
                .into(),
        ),
        413 => Verdict::Failed("Mixpanel refused the request as too large (413)".into()),
        429 | 500..=599 => Verdict::Retry {
            reason: format!("Mixpanel answered {status}"),
            after: retry_after,
        },
        _ => Verdict::Failed(format!("Mixpanel answered {status}, which is not retried")),
    }
}

/// The positions (in the request, of its `records`) and reasons of the records a 400 names, by
/// insert id (`insert_id` or `$insert_id`, for events: one record each), else by `index`. Reasons name the rejected field, never its
/// value: Mixpanel's messages can quote it.
pub(super) fn failed_records(
    body: &[u8],
    members: &[&Envelope],
    records: usize,
    what: &str,
) -> Option<Vec<(usize, String)>> {
    let response: serde_json::Value = serde_json::from_slice(body).ok()?;
    let listed = response.get("failed_records")?.as_array()?;
    let mut failed = Vec::with_capacity(listed.len());
    for record in listed {
        let by_id = record
            .get("insert_id")
            .or_else(|| record.get("$insert_id"))
            .and_then(|v| v.as_str())
            .and_then(|id| members.iter().position(|e| e.insert_id == id));
        let by_index = || {
            record
                .get("index")
                .and_then(|v| v.as_u64())
                .and_then(|i| usize::try_from(i).ok())
                .filter(|&i| i < records)
        };
        let Some(position) = by_id.or_else(by_index) else {
            continue;
        };
        let reason = match record.get("field").and_then(|v| v.as_str()) {
            Some(field) => format!("Mixpanel rejected the {what}: invalid `{field}`"),
            None => format!("Mixpanel rejected the {what}"),
        };
        failed.push((position, reason));
    }
    Some(failed)
}
