//! Mixpanel's profile APIs as a wire format: user profile updates and group memberships go to
//! `/engage`, group profile updates to `/groups`, each a JSON array of update objects.
//!
//! What Mixpanel documents and this relies on (its Ingestion API reference, "Update Multiple
//! Profiles" and "Batch Update Group Profiles", and its User Profile API limits):
//! - an update names the project by `$token` (no other credential), the profile by
//!   `$distinct_id` (a group's by `$group_key` + `$group_id`), and carries one operation:
//!   `$set`, `$set_once`, `$add` (numbers), `$union` (non-empty lists of strings or numbers),
//!   `$remove` (one value per property) or `$unset` (a non-empty list of names);
//! - at most 2000 updates per request, each under 1 MB;
//! - `ip=0` keeps Mixpanel from geolocating the profile from the request's address (the
//!   server's); an update's own `$ip` is the address it geolocates the profile by instead
//!   (so a `set` of the plan's IP-address trait also sends it as `$ip`: the user's address,
//!   as the plan transforms it, never the server's); `strict=1` asks it to validate every
//!   update and name the failed ones, and `verbose=1` to answer `{"status": 1|0, "error": …}`
//!   instead of a bare `1`/`0`;
//! - the profile endpoints do not take gzip-encoded bodies, so bodies go uncompressed.

use super::*;
use crate::message::{GroupRef, Message, ProfileOp};

/// Most updates in one request.
const MAX_UPDATES: usize = 2000;
/// Most bytes of one update (Mixpanel: "a maximum of 1 MB"; read as decimal to be under
/// either reading).
const MAX_UPDATE_BYTES: usize = 1_000_000;
/// Most bytes of one request body. Mixpanel states no total for these endpoints; this keeps to
/// the 2 MiB its ingestion API takes per request.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Which of the two profile APIs a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/engage`: user profiles (updates, and the group keys of the groups a user joins).
    Engage,
    /// `/groups`: group profiles.
    Groups,
}

impl Endpoint {
    /// The path under the ingestion host.
    pub(super) fn path(self) -> &'static str {
        match self {
            Endpoint::Engage => "/engage",
            Endpoint::Groups => "/groups",
        }
    }

    /// Whether this endpoint carries `message`.
    pub(super) fn carries(self, message: &Message) -> bool {
        match self {
            Endpoint::Engage => matches!(message, Message::Profile { .. } | Message::Join { .. }),
            Endpoint::Groups => matches!(message, Message::Group { .. }),
        }
    }
}

/// One `deliver` call's view of the sink, as a wire format for one profile endpoint.
pub(super) struct Updates<'a> {
    pub(super) client: &'a Client,
    /// The full URL, query included.
    pub(super) url: &'a str,
    /// The project token every update names.
    pub(super) token: &'a str,
    pub(super) endpoint: Endpoint,
    /// Whether the last request got no answer (connection, timeout): the host may be down.
    pub(super) unanswered: bool,
}

/// Mixpanel's name of an operation.
fn operator(op: ProfileOp) -> &'static str {
    match op {
        ProfileOp::Set => "$set",
        ProfileOp::SetOnce => "$set_once",
        ProfileOp::Add => "$add",
        ProfileOp::Union => "$union",
        ProfileOp::Remove => "$remove",
        ProfileOp::Unset => "$unset",
    }
}

/// The operation objects (or `$unset` list) of an update, as JSON texts: one for most
/// updates, one per value for a `$remove` of several values from a list (Mixpanel removes one
/// value per property and update).
fn operands(op: ProfileOp, properties: &str) -> Result<Vec<String>, String> {
    let name = op.key();
    if op == ProfileOp::Unset {
        let names: Vec<String> = serde_json::from_str(properties)
            .map_err(|_| "the traits to unset are not a JSON list of names".to_owned())?;
        if names.is_empty() {
            return Err("an unset update names no trait".into());
        }
        return Ok(vec![properties.trim().to_owned()]);
    }
    let Some(members) = http::object_members(properties) else {
        return Err("traits are not a JSON object".into());
    };
    let pairs = http::split_members(members);
    match op {
        ProfileOp::Add => {
            for (key, value) in &pairs {
                if serde_json::from_str::<serde_json::Number>(value).is_err() {
                    return Err(format!(
                        "`{name}` of trait {key}: its value is not a number"
                    ));
                }
            }
        }
        ProfileOp::Union => {
            for (key, value) in &pairs {
                let fits =
                    serde_json::from_str::<Vec<serde_json::Value>>(value).is_ok_and(|items| {
                        !items.is_empty() && items.iter().all(|i| i.is_string() || i.is_number())
                    });
                if !fits {
                    return Err(format!(
                        "`{name}` of trait {key}: its value is not a non-empty list of strings or numbers"
                    ));
                }
            }
        }
        ProfileOp::Remove => return Ok(removals(&pairs)),
        ProfileOp::Set | ProfileOp::SetOnce | ProfileOp::Unset => {}
    }
    Ok(vec![format!("{{{members}}}")])
}

/// `$remove` objects: the n-th holds the n-th value of each trait's list (a single value
/// counts as a list of one), so every value is removed by one of them.
fn removals(pairs: &[(&str, &str)]) -> Vec<String> {
    let lists: Vec<(&str, Vec<String>)> = pairs
        .iter()
        .map(|(key, value)| {
            let items = match serde_json::from_str::<serde_json::Value>(value) {
                Ok(serde_json::Value::Array(items)) => {
                    items.iter().map(serde_json::Value::to_string).collect()
                }
                _ => vec![(*value).to_owned()],
            };
            (*key, items)
        })
        .collect();
    let rounds = lists
        .iter()
        .map(|(_, items)| items.len())
        .max()
        .unwrap_or(0)
        .max(1);
    (0..rounds)
        .map(|round| {
            let members: Vec<String> = lists
                .iter()
                .filter_map(|(key, items)| items.get(round).map(|item| format!("{key}:{item}")))
                .collect();
            format!("{{{}}}", members.join(","))
        })
        .collect()
}

/// The value of the plan's IP-address trait in a `set`/`set_once` of a user profile, if the
/// update carries it (as a string): Mixpanel's `$ip` for the profile.
fn ip_trait<'a>(envelope: &Envelope, op: ProfileOp, properties: &'a str) -> Option<&'a str> {
    if !matches!(op, ProfileOp::Set | ProfileOp::SetOnce) {
        return None;
    }
    let members = http::object_members(properties)?;
    let mut keys = envelope
        .plan
        .traits
        .iter()
        .filter(|t| import::is_ip_property(&t.property))
        .map(|t| {
            let mut key = Vec::with_capacity(t.property.name.len() + 2);
            write_json_str(&mut key, t.property.name);
            key
        })
        .peekable();
    keys.peek()?;
    let keys: Vec<Vec<u8>> = keys.collect();
    http::split_members(members)
        .into_iter()
        .find(|(key, value)| keys.iter().any(|k| k == key.as_bytes()) && value.starts_with('"'))
        .map(|(_, value)| value)
}

impl Updates<'_> {
    /// Appends the fields that say whose profile an update is for.
    fn write_identity(&self, envelope: &Envelope, group: Option<&GroupRef>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"$token\":");
        write_json_str(out, self.token);
        match group {
            Some(group) => {
                out.extend_from_slice(b",\"$group_key\":");
                write_json_str(out, group.key);
                out.extend_from_slice(b",\"$group_id\":");
                http::write_id_string(out, &group.id);
            }
            None => {
                out.extend_from_slice(b",\"$distinct_id\":");
                write_json_str(out, &envelope.distinct_id);
            }
        }
    }
}

impl WireFormat for Updates<'_> {
    const MAX_EVENTS: usize = MAX_UPDATES;
    const MAX_BODY_BYTES: usize = MAX_BODY_BYTES;
    const OPEN: &'static [u8] = b"[";
    const CLOSE: &'static [u8] = b"]";
    const NAME: &'static str = "mixpanel";

    fn encode(&mut self, envelope: &Envelope, out: &mut Vec<u8>) -> Result<usize, String> {
        let misrouted = || {
            format!(
                "a {} message does not go to {}",
                envelope.message.kind(),
                self.endpoint.path()
            )
        };
        if !self.endpoint.carries(&envelope.message) {
            return Err(misrouted());
        }
        let mut ip = None;
        let (group, op, operands) = match &envelope.message {
            Message::Profile { op } => {
                ip = ip_trait(envelope, *op, &envelope.properties);
                (None, *op, operands(*op, &envelope.properties)?)
            }
            // Joining adds the group's id to the user's list of ids under the group key, which
            // is how Mixpanel ties a user profile to its group profiles.
            Message::Join { group } => {
                let mut list = Vec::with_capacity(group.key.len() + group.id.len() + 8);
                list.push(b'{');
                write_json_str(&mut list, group.key);
                list.extend_from_slice(b":[");
                http::write_id_string(&mut list, &group.id);
                list.extend_from_slice(b"]}");
                let object =
                    String::from_utf8(list).map_err(|_| "the group key is not UTF-8".to_owned())?;
                (None, ProfileOp::Union, vec![object])
            }
            Message::Group { group, op } => {
                (Some(group), *op, operands(*op, &envelope.properties)?)
            }
            Message::Track { .. } | Message::Link { .. } => return Err(misrouted()),
        };
        for (i, operand) in operands.iter().enumerate() {
            let start = out.len();
            if i > 0 {
                out.push(b',');
            }
            self.write_identity(envelope, group, out);
            if let Some(ip) = ip {
                out.extend_from_slice(b",\"$ip\":");
                out.extend_from_slice(ip.as_bytes());
            }
            out.extend_from_slice(b",\"");
            out.extend_from_slice(operator(op).as_bytes());
            out.extend_from_slice(b"\":");
            out.extend_from_slice(operand.as_bytes());
            out.push(b'}');
            let size = out.len() - start;
            if size >= MAX_UPDATE_BYTES {
                return Err(format!(
                    "{size} bytes, Mixpanel accepts profile updates smaller than {MAX_UPDATE_BYTES} bytes"
                ));
            }
        }
        Ok(operands.len())
    }

    fn send(&mut self, body: &[u8], members: &[&Envelope]) -> Verdict {
        let headers = [
            ("Content-Type", "application/json"),
            ("Accept", "application/json"),
        ];
        match self.client.post(self.url, &headers, body) {
            Ok(response) => update_verdict(
                self.endpoint,
                response.status,
                response.retry_after,
                &response.body,
                members,
            ),
            Err(error) => {
                self.unanswered = true;
                import::transport_verdict(&error)
            }
        }
    }
}

/// What a response of `/engage` or `/groups` means for the updates of the request. These
/// endpoints answer 200 even when they refuse every update, so the body decides: `1` (or
/// `{"status": 1}`) is accepted, `0` (or `{"status": 0}`) refused; with `strict=1`, a 400
/// names the failed updates by index.
pub(crate) fn update_verdict(
    endpoint: Endpoint,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
    members: &[&Envelope],
) -> Verdict {
    let path = endpoint.path();
    match status {
        200..=299 => {
            let refused = match serde_json::from_slice::<serde_json::Value>(body) {
                Ok(serde_json::Value::Number(n)) => n.as_i64() == Some(0),
                Ok(serde_json::Value::Object(o)) => o
                    .get("status")
                    .is_some_and(|s| s == 0 || s == "0" || s == "error"),
                _ => false,
            };
            if refused {
                Verdict::Failed(format!(
                    "Mixpanel {path} accepted none of the updates of the request (status 0)"
                ))
            } else {
                Verdict::Accepted
            }
        }
        400 => match import::failed_records(body, members, usize::MAX, "profile update") {
            Some(failed) if !failed.is_empty() => Verdict::Partial(failed),
            _ => Verdict::Failed(format!(
                "Mixpanel {path} rejected the request (400 Bad Request) without naming the failed updates"
            )),
        },
        429 | 500..=599 => Verdict::Retry {
            reason: format!("Mixpanel {path} answered {status}"),
            after: retry_after,
        },
        _ => match import::import_verdict(status, retry_after, body, members) {
            Verdict::Failed(reason) => {
                Verdict::Failed(reason.replacen("Mixpanel", &format!("Mixpanel {path}"), 1))
            }
            other => other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::http::Timeouts;
    use crate::plan::PurposeSet;
    use std::sync::Arc;

    fn envelope(message: Message, properties: &str) -> Envelope {
        Envelope {
            message,
            event: "$profile",
            insert_id: "7d1e-4".into(),
            time_ms: 1_700_000_000_123,
            distinct_id: "u\"1".into(),
            plan: fixture::plan("t").build(),
            purposes: PurposeSet::EMPTY,
            properties: properties.into(),
        }
    }

    fn company(id: &str) -> GroupRef {
        GroupRef {
            kind: "company",
            key: "company_id",
            id: Arc::from(id),
        }
    }

    fn encode(endpoint: Endpoint, e: &Envelope) -> Result<(usize, String), String> {
        let client = Client::new(Timeouts::default());
        let mut updates = Updates {
            client: &client,
            url: "",
            token: "tok",
            endpoint,
            unanswered: false,
        };
        let mut out = Vec::new();
        let n = updates.encode(e, &mut out)?;
        let text = String::from_utf8(out).expect("utf-8");
        let parsed: serde_json::Value =
            serde_json::from_str(&format!("[{text}]")).expect("records are JSON");
        assert_eq!(parsed.as_array().map(Vec::len), Some(n), "{text}");
        Ok((n, text))
    }

    fn profile(op: ProfileOp, properties: &str) -> Result<String, String> {
        let e = envelope(Message::Profile { op }, properties);
        encode(Endpoint::Engage, &e).map(|(_, text)| text)
    }

    #[test]
    fn encodes_every_profile_operation_exactly() {
        let head = r#"{"$token":"tok","$distinct_id":"u\"1","#;
        let cases = [
            (
                ProfileOp::Set,
                r#"{"plan":"pro","$email":"h"}"#,
                r#""$set":{"plan":"pro","$email":"h"}}"#,
            ),
            (
                ProfileOp::SetOnce,
                r#"{"first_seen":"2023-11-14"}"#,
                r#""$set_once":{"first_seen":"2023-11-14"}}"#,
            ),
            (
                ProfileOp::Add,
                r#"{"logins":1,"credit":-2.5}"#,
                r#""$add":{"logins":1,"credit":-2.5}}"#,
            ),
            (
                ProfileOp::Union,
                r#"{"tags":["a",2]}"#,
                r#""$union":{"tags":["a",2]}}"#,
            ),
            (
                ProfileOp::Remove,
                r#"{"tags":["a"]}"#,
                r#""$remove":{"tags":"a"}}"#,
            ),
            (
                ProfileOp::Unset,
                r#"["plan","tags"]"#,
                r#""$unset":["plan","tags"]}"#,
            ),
        ];
        for (op, properties, tail) in cases {
            assert_eq!(
                profile(op, properties),
                Ok(format!("{head}{tail}")),
                "{op:?}"
            );
        }
    }

    #[test]
    fn removes_several_values_in_one_update_each() {
        let e = envelope(
            Message::Profile {
                op: ProfileOp::Remove,
            },
            r#"{"tags":["a","b"],"plans":"x"}"#,
        );
        assert_eq!(
            encode(Endpoint::Engage, &e),
            Ok((
                2,
                concat!(
                    r#"{"$token":"tok","$distinct_id":"u\"1","$remove":{"tags":"a","plans":"x"}},"#,
                    r#"{"$token":"tok","$distinct_id":"u\"1","$remove":{"tags":"b"}}"#
                )
                .to_owned()
            ))
        );
    }

    #[test]
    fn refuses_what_mixpanel_would_reject_naming_no_value() {
        let err = profile(ProfileOp::Add, r#"{"logins":"secret-9"}"#).expect_err("not a number");
        assert!(err.contains("logins") && !err.contains("secret"), "{err}");
        for bad in [r#"{"tags":[]}"#, r#"{"tags":"a"}"#, r#"{"tags":[{"x":1}]}"#] {
            assert!(profile(ProfileOp::Union, bad).is_err(), "{bad}");
        }
        assert!(profile(ProfileOp::Unset, "[]").is_err());
        assert!(profile(ProfileOp::Unset, r#"{"a":1}"#).is_err());
        assert!(profile(ProfileOp::Set, "[1]").is_err());
        let big = format!(r#"{{"note":"{}"}}"#, "x".repeat(MAX_UPDATE_BYTES));
        let err = profile(ProfileOp::Set, &big).expect_err("over 1 MB");
        assert!(err.contains("bytes") && !err.contains("xxx"), "{err}");
    }

    #[test]
    fn joins_and_group_updates() {
        let join = envelope(
            Message::Join {
                group: company("\"acme\""),
            },
            "{}",
        );
        assert_eq!(
            encode(Endpoint::Engage, &join).map(|(_, t)| t).as_deref(),
            Ok(r#"{"$token":"tok","$distinct_id":"u\"1","$union":{"company_id":["acme"]}}"#)
        );
        let update = envelope(
            Message::Group {
                group: company("42"),
                op: ProfileOp::SetOnce,
            },
            r#"{"name":"Acme"}"#,
        );
        assert_eq!(
            encode(Endpoint::Groups, &update).map(|(_, t)| t).as_deref(),
            Ok(
                r#"{"$token":"tok","$group_key":"company_id","$group_id":"42","$set_once":{"name":"Acme"}}"#
            )
        );
        // Each endpoint refuses the other's messages, and events.
        assert!(encode(Endpoint::Engage, &update).is_err());
        assert!(encode(Endpoint::Groups, &join).is_err());
        let track = envelope(Message::TRACK, "{}");
        assert!(encode(Endpoint::Engage, &track).is_err());
    }

    #[test]
    fn a_set_of_the_plans_ip_trait_geolocates_by_it_never_by_the_server() {
        use crate::plan::PropertyInfo;
        let ip = PropertyInfo {
            category: Some("user.device.ip_address"),
            ..fixture::property("last_ip")
        };
        let plan = fixture::plan("t")
            .purpose("analytics")
            .profile_trait(fixture::property("plan"), &[0])
            .profile_trait(ip, &[0])
            .build();
        let mut e = envelope(
            Message::Profile { op: ProfileOp::Set },
            r#"{"plan":"pro","last_ip":"203.0.113.0"}"#,
        );
        e.plan = plan;
        assert_eq!(
            encode(Endpoint::Engage, &e).map(|(_, t)| t).as_deref(),
            Ok(
                r#"{"$token":"tok","$distinct_id":"u\"1","$ip":"203.0.113.0","$set":{"plan":"pro","last_ip":"203.0.113.0"}}"#
            )
        );
        // Without the trait in the payload (withheld, left out), or for other operations:
        // no `$ip`, and the request's `ip=0` keeps the server's address out.
        for (op, traits) in [
            (ProfileOp::Set, r#"{"plan":"pro"}"#),
            (ProfileOp::Unset, r#"["last_ip"]"#),
        ] {
            let mut e = envelope(Message::Profile { op }, traits);
            e.plan = plan;
            let (_, text) = encode(Endpoint::Engage, &e).expect("encodes");
            assert!(!text.contains("$ip"), "{text}");
        }
    }

    #[test]
    fn maps_profile_responses() {
        let a = envelope(Message::TRACK, "{}");
        let members = [&a, &a, &a];
        let verdict =
            |status, body: &[u8]| update_verdict(Endpoint::Engage, status, None, body, &members);
        assert_eq!(verdict(200, b"1"), Verdict::Accepted);
        assert_eq!(
            verdict(200, br#"{"status":1,"error":null}"#),
            Verdict::Accepted
        );
        for refused in [
            &b"0"[..],
            br#"{"status":0,"error":"$distinct_id, missing or empty"}"#,
        ] {
            let Verdict::Failed(reason) = verdict(200, refused) else {
                panic!("a 200 with status 0 refuses the request");
            };
            assert!(
                reason.contains("/engage") && !reason.contains("distinct"),
                "{reason}"
            );
        }
        let body = br#"{"code":400,"error":"some data points failed","failed_records":[
            {"index":2,"field":"$add","message":"'$add' is invalid: 'secret'"}],"status":"Bad Request"}"#;
        let Verdict::Partial(failed) = verdict(400, body) else {
            panic!("a 400 naming records is partial");
        };
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, 2);
        assert!(failed[0].1.contains("$add") && !failed[0].1.contains("secret"));
        assert!(matches!(verdict(400, b"{}"), Verdict::Failed(_)));
        for status in [401, 403, 413, 404] {
            assert!(
                matches!(verdict(status, b""), Verdict::Failed(r) if r.contains("/engage")),
                "{status}"
            );
        }
        for status in [429, 500, 502, 503] {
            assert_eq!(
                update_verdict(
                    Endpoint::Groups,
                    status,
                    Some(Duration::from_secs(3)),
                    b"",
                    &members
                ),
                Verdict::Retry {
                    reason: format!("Mixpanel /groups answered {status}"),
                    after: Some(Duration::from_secs(3))
                }
            );
        }
    }
}
