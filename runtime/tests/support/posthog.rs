//! PostHog's contract, for [`TestServer`]: the public capture endpoint `/batch/` (project API
//! key in the body, gzip decoded for real, every event shaped as PostHog's capture documents
//! it) and the private persons API (personal API key as a Bearer token, the project in the
//! path, calls spaced as the sink's pacing promises), answering from the events accepted so
//! far as PostHog would: one person per distinct id, `$identify` merging an anonymous id into
//! its identified person, `$set`/`$set_once`/`$unset` applied in order.

use super::server::{
    Accepted, Answer, Checked, Contract, CustomContract, Incoming, TestServer, decode_body, expect,
    valid_iso8601,
};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the PostHog stand-in expects.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The project API key (`api_key` in each batch body).
    pub api_key: String,
    /// The personal API key of the persons API.
    pub personal_key: String,
    /// The project id in persons-API paths.
    pub project_id: String,
    /// Whether batch bodies must be gzip-encoded.
    pub gzip: bool,
    /// Shortest gap between two persons-API calls (less 100 ms for scheduling).
    pub persons_interval: Duration,
}

impl Expect {
    /// Keys `phc_test` / `phx_test`, project `4242`, gzip, 250 ms between persons calls.
    pub fn new() -> Self {
        Expect {
            api_key: "phc_test".into(),
            personal_key: "phx_test".into(),
            project_id: "4242".into(),
            gzip: true,
            persons_interval: Duration::from_millis(250),
        }
    }
}

/// The PostHog contract and the persons it deleted.
#[derive(Debug)]
pub struct PostHogContract {
    expect: Expect,
    state: Mutex<PersonsState>,
}

#[derive(Debug, Default)]
struct PersonsState {
    last_call: Option<Instant>,
    /// Distinct ids whose person was deleted (PostHog does not reuse them).
    deleted: HashSet<String>,
    /// Persons deleted, with whether their events were to be deleted too.
    deletions: Vec<(String, bool)>,
}

impl TestServer {
    /// A PostHog stand-in.
    pub fn posthog(expect: Expect) -> (Self, Arc<PostHogContract>) {
        let contract = Arc::new(PostHogContract {
            expect,
            state: Mutex::new(PersonsState::default()),
        });
        (Self::start(Contract::Custom(contract.clone())), contract)
    }
}

impl PostHogContract {
    /// The persons deleted so far (their ids) and whether their events were to go too.
    pub fn deletions(&self) -> Vec<(String, bool)> {
        self.lock().deletions.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PersonsState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `8-4-4-4-12` hex digits.
pub fn valid_uuid(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

impl CustomContract for PostHogContract {
    fn check(
        &self,
        r: &Incoming,
        accepted: &dyn Fn() -> Vec<Accepted>,
        v: &mut Vec<String>,
    ) -> Checked {
        if r.path.starts_with("/api/projects/") {
            self.persons_api(r, accepted, v)
        } else {
            self.batch(r, v)
        }
    }

    fn accepted_body(&self, _events: usize) -> Value {
        json!({"status": 1})
    }
}

impl PostHogContract {
    fn batch(&self, r: &Incoming, v: &mut Vec<String>) -> Checked {
        let e = &self.expect;
        expect(v, r.method == "POST", || {
            format!("/batch/ needs POST, got {}", r.method)
        });
        expect(v, r.path == "/batch/", || {
            format!("unexpected path {}", r.path)
        });
        expect(v, r.query.is_empty(), || "unexpected query string".into());
        expect(v, r.header("Authorization").is_none(), || {
            "capture takes no Authorization header (a personal key must never reach it)".into()
        });
        expect(
            v,
            r.header("Content-Type")
                .is_some_and(|c| c.starts_with("application/json")),
            || "Content-Type is not application/json".into(),
        );
        let gzip = r.header("Content-Encoding") == Some("gzip");
        expect(v, gzip == e.gzip, || {
            format!("Content-Encoding gzip: {gzip}, expected {}", e.gzip)
        });
        if gzip {
            expect(v, r.body.starts_with(&[0x1f, 0x8b]), || {
                "not a gzip stream".into()
            });
        }
        let body = match decode_body(r) {
            Ok(body) => body,
            Err(err) => {
                v.push(err);
                return Checked::Events(Vec::new());
            }
        };
        expect(v, body.len() < 20_000_000, || {
            format!("body of {} bytes is over 20 MB", body.len())
        });
        let Ok(Value::Object(mut o)) = serde_json::from_slice::<Value>(&body) else {
            v.push("body is not a JSON object".into());
            return Checked::Events(Vec::new());
        };
        expect(
            v,
            o.get("api_key").and_then(Value::as_str) == Some(e.api_key.as_str()),
            || "wrong or missing api_key".into(),
        );
        expect(
            v,
            o.get("historical_migration").is_some_and(Value::is_boolean),
            || "historical_migration is not a boolean".into(),
        );
        let Some(Value::Array(batch)) = o.remove("batch") else {
            v.push("body has no batch array".into());
            return Checked::Events(Vec::new());
        };
        for key in o.keys() {
            expect(v, key == "api_key" || key == "historical_migration", || {
                format!("unexpected top-level key {key}")
            });
        }
        expect(v, (1..=2000).contains(&batch.len()), || {
            format!("{} events in one batch", batch.len())
        });
        batch
            .into_iter()
            .filter_map(|item| check_event(item, v))
            .collect::<Vec<_>>()
            .into()
    }

    fn persons_api(
        &self,
        r: &Incoming,
        accepted: &dyn Fn() -> Vec<Accepted>,
        v: &mut Vec<String>,
    ) -> Checked {
        let e = &self.expect;
        let bearer = format!("Bearer {}", e.personal_key);
        expect(
            v,
            r.header("Authorization") == Some(bearer.as_str()),
            || "wrong or missing personal API key".into(),
        );
        expect(
            v,
            !String::from_utf8_lossy(&r.body).contains(&e.api_key),
            || "the project API key was sent to the private API".into(),
        );
        {
            let now = Instant::now();
            let mut s = self.lock();
            if let Some(last) = s.last_call {
                let gap = now.duration_since(last);
                // Some slack: the client paces request starts, we see arrivals.
                let slack = Duration::from_millis(100);
                expect(v, gap + slack >= e.persons_interval, || {
                    format!(
                        "persons-API calls {gap:?} apart, paced at {:?}",
                        e.persons_interval
                    )
                });
            }
            s.last_call = Some(now);
        }
        let prefix = format!("/api/projects/{}/persons/", e.project_id);
        let Some(rest) = r.path.strip_prefix(&prefix) else {
            v.push(format!("unexpected path {}", r.path));
            return Checked::Answer(Answer::json(404, json!({"detail": "Not found."})));
        };
        let persons = persons(&accepted(), &self.lock().deleted);
        match (r.method.as_str(), rest) {
            ("GET", "") => {
                let id = r.query("distinct_id").unwrap_or_default();
                expect(v, !id.is_empty(), || "find without a distinct_id".into());
                let results: Vec<Value> = persons
                    .into_iter()
                    .filter(|p| {
                        p["distinct_ids"]
                            .as_array()
                            .is_some_and(|d| d.iter().any(|x| x == id))
                    })
                    .collect();
                Checked::Answer(Answer::json(200, json!({"results": results, "next": null})))
            }
            ("DELETE", id) if id.ends_with('/') && id.len() > 1 => {
                let id = id.trim_end_matches('/');
                let events = r.query("delete_events") == Some("true");
                expect(v, events, || "DELETE without delete_events=true".into());
                let Some(person) = persons.into_iter().find(|p| p["id"] == id) else {
                    return Checked::Answer(Answer::json(404, json!({"detail": "Not found."})));
                };
                let mut s = self.lock();
                for d in person["distinct_ids"].as_array().into_iter().flatten() {
                    s.deleted.insert(d.as_str().unwrap_or_default().to_owned());
                }
                s.deletions.push((id.to_owned(), events));
                Checked::Answer(Answer {
                    status: 204,
                    body: String::new(),
                    headers: Vec::new(),
                })
            }
            (method, _) => {
                v.push(format!("unexpected {method} {}", r.path));
                Checked::Answer(Answer::json(405, json!({})))
            }
        }
    }
}

impl From<Vec<Accepted>> for Checked {
    fn from(events: Vec<Accepted>) -> Self {
        Checked::Events(events)
    }
}

/// Checks one event of a batch as capture and ingestion read it.
fn check_event(item: Value, v: &mut Vec<String>) -> Option<Accepted> {
    let size = item.to_string().len();
    expect(v, size < 1_000_000, || format!("event of {size} bytes"));
    let Some(object) = item.as_object() else {
        v.push("an event is not an object".into());
        return None;
    };
    for key in object.keys() {
        expect(
            v,
            ["event", "distinct_id", "timestamp", "uuid", "properties"].contains(&key.as_str()),
            || format!("unexpected event key {key}"),
        );
    }
    let text = |k: &str| {
        object
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (event, distinct_id, uuid, ts) = (
        text("event"),
        text("distinct_id"),
        text("uuid"),
        text("timestamp"),
    );
    expect(v, !event.is_empty(), || "missing event name".into());
    expect(v, !distinct_id.is_empty(), || "missing distinct_id".into());
    expect(v, valid_uuid(&uuid), || {
        format!("uuid {uuid:?} is not a UUID")
    });
    expect(v, valid_iso8601(&ts), || {
        format!("timestamp {ts:?} is not ISO 8601")
    });
    let Some(properties) = object.get("properties").and_then(Value::as_object) else {
        v.push("missing properties object".into());
        return None;
    };
    let only = |v: &mut Vec<String>, allowed: &[&str]| {
        for key in properties.keys() {
            expect(v, allowed.contains(&key.as_str()), || {
                format!("{event} carries {key}")
            });
        }
    };
    let is_object = |k: &str| properties.get(k).is_none_or(Value::is_object);
    let nonempty = |k: &str| {
        properties
            .get(k)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    match event.as_str() {
        "$set" => {
            only(v, &["$set", "$set_once", "$unset"]);
            expect(
                v,
                !properties.is_empty() && is_object("$set") && is_object("$set_once"),
                || "$set without an update, or one that is not an object".into(),
            );
            if let Some(unset) = properties.get("$unset") {
                expect(
                    v,
                    unset
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string)),
                    || "$unset is not a list of names".into(),
                );
            }
        }
        "$groupidentify" => {
            only(v, &["$group_type", "$group_key", "$group_set", "$groups"]);
            expect(v, nonempty("$group_type") && nonempty("$group_key"), || {
                "$groupidentify without $group_type and $group_key strings".into()
            });
            expect(v, is_object("$group_set"), || {
                "$group_set is not an object".into()
            });
        }
        "$identify" => {
            only(v, &["$anon_distinct_id", "$set", "$set_once"]);
            expect(v, nonempty("$anon_distinct_id"), || {
                "$identify without $anon_distinct_id".into()
            });
        }
        _ => {
            for key in properties.keys().filter(|k| k.starts_with('$')) {
                expect(v, key == "$groups", || {
                    format!("event property {key} is PostHog's own")
                });
            }
        }
    }
    if let Some(groups) = properties.get("$groups") {
        expect(
            v,
            groups.as_object().is_some_and(|g| {
                g.values()
                    .all(|x| x.as_str().is_some_and(|s| !s.is_empty()))
            }),
            || "$groups is not an object of group keys".into(),
        );
    }
    Some(Accepted {
        insert_id: uuid,
        event,
        distinct_id,
        properties: properties.clone(),
        raw: item.clone(),
    })
}

/// The persons the accepted events make, as the persons API lists them, leaving out deleted
/// distinct ids.
pub fn persons(accepted: &[Accepted], deleted: &HashSet<String>) -> Vec<Value> {
    // Person index per distinct id, and each person's distinct ids and properties.
    let mut of: HashMap<String, usize> = HashMap::new();
    let mut people: Vec<(Vec<String>, Map<String, Value>)> = Vec::new();
    let person = |id: &str,
                  of: &mut HashMap<String, usize>,
                  people: &mut Vec<(Vec<String>, Map<String, Value>)>| {
        *of.entry(id.to_owned()).or_insert_with(|| {
            people.push((vec![id.to_owned()], Map::new()));
            people.len() - 1
        })
    };
    for a in accepted
        .iter()
        .filter(|a| !deleted.contains(&a.distinct_id))
    {
        let p = person(&a.distinct_id, &mut of, &mut people);
        let props = &a.properties;
        if a.event == "$identify" {
            let anon = props["$anon_distinct_id"].as_str().unwrap_or_default();
            match of.get(anon).copied() {
                Some(q) if q != p => {
                    let (ids, _) = std::mem::take(&mut people[q]);
                    for id in ids {
                        of.insert(id.clone(), p);
                        people[p].0.push(id);
                    }
                }
                Some(_) => {}
                None => {
                    of.insert(anon.to_owned(), p);
                    people[p].0.push(anon.to_owned());
                }
            }
        }
        let traits = &mut people[p].1;
        for (k, x) in props
            .get("$set")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            traits.insert(k.clone(), x.clone());
        }
        for (k, x) in props
            .get("$set_once")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            traits.entry(k.clone()).or_insert_with(|| x.clone());
        }
        for k in props
            .get("$unset")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            traits.remove(k.as_str().unwrap_or_default());
        }
    }
    people
        .into_iter()
        .enumerate()
        .filter(|(_, (ids, _))| !ids.is_empty())
        .map(|(i, (ids, properties))| {
            let id = format!("01890000-0000-7000-8000-{i:012x}");
            json!({"id": id, "uuid": id, "distinct_ids": ids, "properties": properties,
                   "created_at": "2023-11-14T22:13:20Z"})
        })
        .collect()
}
