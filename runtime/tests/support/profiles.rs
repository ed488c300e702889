//! The contracts of the profile, group and identity messages, for the stand-in server:
//! Mixpanel's `/engage` and `/groups` batch endpoints and its `$identify` event, and Segment's
//! `identify`, `group` and `alias` calls (with `track`) inside `/v1/batch`.
//!
//! Each check follows the backend's documentation (Mixpanel's Ingestion API reference and its
//! User Profile API limits; Segment's HTTP Tracking API and Spec), plus the rules this client
//! keeps on top of it (`ip=0` on every profile request, no credential where none is taken).

use super::server::Accepted;
use serde_json::{Map, Value};

/// Which Mixpanel profile endpoint a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileEndpoint {
    /// `/engage`: user profiles.
    Engage,
    /// `/groups`: group profiles.
    Groups,
}

impl ProfileEndpoint {
    /// The endpoint of a request path, if it is one.
    pub fn of(path: &str) -> Option<Self> {
        match path {
            "/engage" => Some(ProfileEndpoint::Engage),
            "/groups" => Some(ProfileEndpoint::Groups),
            _ => None,
        }
    }

    /// The operations Mixpanel documents for the endpoint's batch updates.
    fn operations(self) -> &'static [&'static str] {
        match self {
            ProfileEndpoint::Engage => &[
                "$set",
                "$set_once",
                "$add",
                "$union",
                "$append",
                "$remove",
                "$unset",
                "$delete",
            ],
            ProfileEndpoint::Groups => &[
                "$set",
                "$set_once",
                "$add",
                "$union",
                "$remove",
                "$unset",
                "$delete",
            ],
        }
    }
}

fn expect(v: &mut Vec<String>, ok: bool, what: impl FnOnce() -> String) {
    if !ok {
        v.push(what());
    }
}

fn non_empty_str(value: Option<&Value>) -> bool {
    value.and_then(Value::as_str).is_some_and(|s| !s.is_empty())
}

/// The request line and headers of a profile request: `POST`, `ip=0` (the sink never lets
/// Mixpanel geolocate a profile from the server's address), only the documented query
/// parameters, a JSON body that is not gzip-encoded (these endpoints do not decode it), and no
/// `Authorization` header (the project token in each update is the only credential they take).
pub fn check_profile_request(
    endpoint: ProfileEndpoint,
    method: &str,
    query: &[(String, String)],
    header: impl Fn(&str) -> Option<String>,
    v: &mut Vec<String>,
) {
    let path = match endpoint {
        ProfileEndpoint::Engage => "/engage",
        ProfileEndpoint::Groups => "/groups",
    };
    expect(v, method == "POST", || {
        format!("{path} needs POST, got {method}")
    });
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    expect(v, param("ip") == Some("0"), || {
        format!("{path} without ip=0: Mixpanel would geolocate the profile from the server")
    });
    for (key, value) in query {
        let known = matches!(key.as_str(), "ip" | "strict" | "verbose");
        expect(v, known, || {
            format!("unexpected query parameter {key} on {path}")
        });
        expect(v, value == "0" || value == "1", || {
            format!("query parameter {key}={value:?} is not 0 or 1")
        });
    }
    expect(
        v,
        header("Content-Type").is_some_and(|c| c.starts_with("application/json")),
        || format!("{path}: Content-Type is not application/json"),
    );
    expect(v, header("Content-Encoding").is_none(), || {
        format!("{path} does not take a gzip-encoded body")
    });
    expect(v, header("Authorization").is_none(), || {
        format!("{path} takes no Authorization: a credential sent for nothing")
    });
}

/// The body of a profile request: a JSON array of 1 to 2000 updates, each under 1 MB, each
/// naming the project by `$token`, the profile by `$distinct_id` (`/engage`) or `$group_key`
/// and `$group_id` (`/groups`, strings), and carrying exactly one documented operation of the
/// documented shape. Returns the updates, each accepted as one record whose dedup key is its
/// whole text (Mixpanel keeps no insert id for updates: one sent twice applies twice).
pub fn check_profile_body(
    endpoint: ProfileEndpoint,
    token: &str,
    body: &[u8],
    v: &mut Vec<String>,
) -> Vec<Accepted> {
    let items = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items,
        _ => {
            v.push("profile request body is not a JSON array".into());
            return Vec::new();
        }
    };
    expect(v, (1..=2000).contains(&items.len()), || {
        format!("{} profile updates in one request", items.len())
    });
    let mut accepted = Vec::new();
    for item in items {
        let size = item.to_string().len();
        expect(v, size < 1_000_000, || {
            format!("profile update of {size} bytes")
        });
        let Some(update) = item.as_object() else {
            v.push("a profile update is not an object".into());
            continue;
        };
        expect(
            v,
            update.get("$token").and_then(Value::as_str) == Some(token),
            || "missing or wrong $token".into(),
        );
        let who = match endpoint {
            ProfileEndpoint::Engage => {
                expect(v, non_empty_str(update.get("$distinct_id")), || {
                    "missing $distinct_id (a non-empty string)".into()
                });
                expect(v, !update.contains_key("$group_key"), || {
                    "/engage update with $group_key".into()
                });
                update["$distinct_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }
            ProfileEndpoint::Groups => {
                for field in ["$group_key", "$group_id"] {
                    expect(v, non_empty_str(update.get(field)), || {
                        format!("missing {field} (a non-empty string)")
                    });
                }
                expect(v, !update.contains_key("$distinct_id"), || {
                    "/groups update with $distinct_id".into()
                });
                format!(
                    "{}={}",
                    update["$group_key"].as_str().unwrap_or_default(),
                    update["$group_id"].as_str().unwrap_or_default()
                )
            }
        };
        let ops: Vec<&String> = update
            .keys()
            .filter(|k| {
                !matches!(
                    k.as_str(),
                    "$token" | "$distinct_id" | "$group_key" | "$group_id"
                )
            })
            .collect();
        expect(v, ops.len() == 1, || {
            format!(
                "a profile update carries {} operations or unknown keys: {ops:?}",
                ops.len()
            )
        });
        let Some(op) = ops.first().map(|s| s.as_str()) else {
            continue;
        };
        expect(v, endpoint.operations().contains(&op), || {
            format!("{op} is not an operation of {endpoint:?}")
        });
        check_operand(op, &update[op], v);
        let properties = match &update[op] {
            Value::Object(o) => o.clone(),
            other => Map::from_iter([(op.to_owned(), other.clone())]),
        };
        accepted.push(Accepted {
            insert_id: item.to_string(),
            event: op.to_owned(),
            distinct_id: who,
            properties,
            raw: item.clone(),
        });
    }
    accepted
}

/// The shape Mixpanel documents for each operation's value.
fn check_operand(op: &str, operand: &Value, v: &mut Vec<String>) {
    match op {
        "$set" | "$set_once" | "$append" => {
            expect(v, operand.is_object(), || format!("{op} is not an object"));
        }
        "$add" => {
            let ok = operand
                .as_object()
                .is_some_and(|o| o.values().all(Value::is_number));
            expect(v, ok, || format!("{op} is not an object of numbers"));
        }
        "$union" => {
            let ok = operand.as_object().is_some_and(|o| {
                !o.is_empty()
                    && o.values().all(|list| {
                        list.as_array().is_some_and(|items| {
                            !items.is_empty()
                                && items.iter().all(|i| i.is_string() || i.is_number())
                        })
                    })
            });
            expect(v, ok, || {
                format!("{op} is not an object of non-empty lists of strings or numbers")
            });
        }
        "$remove" => {
            // One value per property: a list would be removed as one (list) value.
            let ok = operand
                .as_object()
                .is_some_and(|o| o.values().all(|x| !x.is_array() && !x.is_object()));
            expect(v, ok, || format!("{op} is not an object of single values"));
        }
        "$unset" => {
            let ok = operand
                .as_array()
                .is_some_and(|names| !names.is_empty() && names.iter().all(Value::is_string));
            expect(v, ok, || format!("{op} is not a non-empty list of names"));
        }
        _ => {}
    }
}

/// Mixpanel's `$identify` event, imported to stitch two ids: the Simplified ID Merge API merges
/// `$device_id` into `$user_id` when an event carries both (then `distinct_id` must be the
/// `$user_id`); the Original one reads `$anon_id` and `$identified_id`.
pub fn check_identify(properties: &Map<String, Value>, v: &mut Vec<String>) {
    for field in ["$user_id", "$device_id", "$identified_id", "$anon_id"] {
        expect(v, non_empty_str(properties.get(field)), || {
            format!("$identify without {field}")
        });
    }
    expect(
        v,
        properties.get("distinct_id") == properties.get("$user_id"),
        || "$identify whose distinct_id is not its $user_id".into(),
    );
    expect(
        v,
        properties.get("$device_id") != properties.get("$user_id"),
        || "$identify links an id to itself".into(),
    );
}

/// One call of a Segment batch, by its `type`: the spec's common fields (`messageId`,
/// ISO-8601 `timestamp`, a `userId` or `anonymousId`, this library's `context.library`, a
/// string `context.groupId` if any) and each type's own: `track` an `event` and `properties`,
/// `identify` `traits`, `group` a string `groupId` and `traits`, `alias` a `previousId` and a
/// `userId`. Returns the call as accepted (`event`: the event's name, or the call's type).
pub fn check_segment_call(item: &Value, v: &mut Vec<String>) -> Option<Accepted> {
    let text = |k: &str| {
        item.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let kind = text("type");
    expect(v, non_empty_str(item.get("messageId")), || {
        "missing messageId".into()
    });
    let ts = text("timestamp");
    expect(v, super::server::valid_iso8601(&ts), || {
        format!("timestamp {ts:?} is not ISO-8601")
    });
    expect(
        v,
        non_empty_str(item.get("userId")) || non_empty_str(item.get("anonymousId")),
        || format!("{kind} call without userId or anonymousId"),
    );
    let context = &item["context"];
    expect(
        v,
        context["library"]["name"] == "trackplan" && context["library"]["version"].is_string(),
        || "context.library is not trackplan's".into(),
    );
    if let Some(group) = context.get("groupId") {
        expect(v, group.as_str().is_some_and(|g| !g.is_empty()), || {
            "context.groupId is not a non-empty string".into()
        });
    }
    let object = |k: &str| item.get(k).and_then(Value::as_object).cloned();
    let allowed: &[&str] = match kind.as_str() {
        "track" => &["event", "properties"],
        "identify" => &["traits"],
        "group" => &["groupId", "traits"],
        "alias" => &["previousId"],
        _ => {
            v.push(format!("unknown call type {kind:?}"));
            return None;
        }
    };
    if let Some(fields) = item.as_object() {
        for key in fields.keys() {
            let common = matches!(
                key.as_str(),
                "type" | "messageId" | "timestamp" | "userId" | "anonymousId" | "context"
            );
            expect(v, common || allowed.contains(&key.as_str()), || {
                format!("{kind} call with unexpected field {key}")
            });
        }
    }
    let (event, properties) = match kind.as_str() {
        "track" => {
            expect(v, non_empty_str(item.get("event")), || {
                "missing event".into()
            });
            (text("event"), object("properties"))
        }
        "identify" => (kind.clone(), object("traits")),
        "group" => {
            expect(v, non_empty_str(item.get("groupId")), || {
                "group call without a string groupId".into()
            });
            (kind.clone(), object("traits"))
        }
        _ => {
            expect(v, non_empty_str(item.get("previousId")), || {
                "alias call without previousId".into()
            });
            expect(v, non_empty_str(item.get("userId")), || {
                "alias call without userId".into()
            });
            let mut ids = Map::new();
            ids.insert("previousId".into(), item["previousId"].clone());
            (kind.clone(), Some(ids))
        }
    };
    let Some(properties) = properties else {
        v.push(format!(
            "{kind} call without its properties or traits object"
        ));
        return None;
    };
    Some(Accepted {
        insert_id: text("messageId"),
        event,
        distinct_id: text("userId"),
        properties,
        raw: item.clone(),
    })
}
