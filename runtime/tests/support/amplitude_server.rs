//! Amplitude's contract, for [`Stub`]: the upload APIs (`/2/httpapi`, `/batch`), the User
//! Privacy API (`/api/2/deletions/users`) and the DSAR API (`/api/2/dsar/requests`), as
//! Amplitude documents them. A request that breaks the contract is a violation and is
//! answered as Amplitude would (400, 413). Like Amplitude, the stand-in keeps one event per
//! `insert_id` and counts how often each arrived.

use super::stub::{Contract, Fault, Reply, Request, Stub, basic_credentials, valid_date};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Operations `user_properties` and `group_properties` may hold.
const OPERATIONS: [&str; 10] = [
    "$set",
    "$setOnce",
    "$add",
    "$append",
    "$prepend",
    "$unset",
    "$preInsert",
    "$postInsert",
    "$remove",
    "$clearAll",
];

/// One deletion request Amplitude accepted.
#[derive(Debug, Clone)]
pub struct Deletion {
    pub user_ids: Vec<String>,
    pub requester: Option<String>,
    pub at: Instant,
}

#[derive(Default)]
struct Store {
    /// Every event ingested, by insert id, with how often it arrived.
    events: HashMap<String, (Value, usize)>,
    /// Insert ids in order of first arrival.
    order: Vec<String>,
    deletions: Vec<Deletion>,
    access_requests: Vec<Value>,
}

/// The Amplitude contract: the credentials the client must use.
pub struct Amplitude {
    pub api_key: String,
    pub secret_key: String,
    pub org_keys: (String, String),
    store: Mutex<Store>,
}

impl Amplitude {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The events ingested, once per insert id, in order of first arrival.
    pub fn events(&self) -> Vec<Value> {
        let store = self.store();
        store
            .order
            .iter()
            .map(|id| store.events[id].0.clone())
            .collect()
    }

    /// How often each insert id arrived in a request Amplitude ingested.
    pub fn arrivals(&self) -> HashMap<String, usize> {
        self.store()
            .events
            .iter()
            .map(|(id, (_, n))| (id.clone(), *n))
            .collect()
    }

    pub fn deletions(&self) -> Vec<Deletion> {
        self.store().deletions.clone()
    }

    pub fn access_requests(&self) -> Vec<Value> {
        self.store().access_requests.clone()
    }
}

/// A stand-in for one Amplitude project with these credentials.
pub fn start(api_key: &str, secret_key: &str) -> Stub<Amplitude> {
    Stub::start(Amplitude {
        api_key: api_key.into(),
        secret_key: secret_key.into(),
        org_keys: ("org-key-31".into(), "org-secret-77".into()),
        store: Mutex::new(Store::default()),
    })
}

impl Contract for Amplitude {
    fn answer(
        &self,
        request: &Request,
        fault: Option<&Fault>,
        violations: &mut Vec<String>,
    ) -> Reply {
        if request.method != "POST" {
            violations.push(format!(
                "{} {}: only POST is used",
                request.method, request.path
            ));
            return Reply::json(405, json!({}));
        }
        match request.path.as_str() {
            "/2/httpapi" | "/batch" => self.upload(request, fault, violations),
            "/api/2/deletions/users" => self.deletion(request, violations),
            "/api/2/dsar/requests" => self.dsar(request, violations),
            other => {
                violations.push(format!("POST {other}: no such Amplitude API"));
                Reply::json(404, json!({}))
            }
        }
    }
}

impl Amplitude {
    fn upload(
        &self,
        request: &Request,
        fault: Option<&Fault>,
        violations: &mut Vec<String>,
    ) -> Reply {
        if request.header("Content-Type") != Some("application/json") {
            violations.push("upload without Content-Type: application/json".into());
        }
        if request.body.len() >= 1_000_000 {
            violations.push(format!(
                "upload of {} bytes, not under 1 MB",
                request.body.len()
            ));
            return Reply::json(413, json!({"code": 413, "error": "Payload too large"}));
        }
        let Some(body) = request.json() else {
            violations.push("upload body is not JSON".into());
            return Reply::json(
                400,
                json!({"code": 400, "error": "Invalid JSON request body"}),
            );
        };
        if body["api_key"].as_str() != Some(&self.api_key) {
            violations.push("upload without the project's api_key".into());
            return Reply::json(400, json!({"code": 400, "error": "Invalid API key"}));
        }
        let events = body["events"].as_array().cloned().unwrap_or_default();
        if events.is_empty() || events.len() > 2000 {
            violations.push(format!("upload of {} events, not 1 to 2000", events.len()));
            return Reply::json(
                400,
                json!({"code": 400, "error": "Request missing required field", "missing_field": "events"}),
            );
        }
        let min_id_length = match body.get("options") {
            None => 5,
            Some(options) => match options["min_id_length"].as_u64() {
                Some(n) if n >= 1 && options.as_object().is_some_and(|o| o.len() == 1) => {
                    n as usize
                }
                _ => {
                    violations.push(format!(
                        "options other than a min_id_length of 1 or more: {options}"
                    ));
                    5
                }
            },
        };
        let mut invalid: Map<String, Value> = Map::new();
        for (i, event) in events.iter().enumerate() {
            for problem in check_event(event, min_id_length) {
                violations.push(format!("event {i}: {problem}"));
                let list = invalid.entry("event").or_insert_with(|| json!([]));
                if let Some(list) = list.as_array_mut() {
                    list.push(i.into());
                }
            }
        }
        if !invalid.is_empty() {
            return Reply::json(
                400,
                json!({"code": 400, "error": "Invalid field values on some events", "events_with_invalid_fields": invalid}),
            );
        }
        let insert_id = |e: &Value| e["insert_id"].as_str().unwrap_or_default().to_owned();
        match fault {
            Some(Fault::ThrottleUser {
                user,
                retry_after_secs,
            }) => {
                let throttled: Vec<usize> = (0..events.len())
                    .filter(|&i| events[i]["user_id"].as_str() == Some(user.as_str()))
                    .collect();
                let mut reply = Reply::json(
                    429,
                    json!({
                        "code": 429, "error": "Too many requests for some devices and users",
                        "eps_threshold": 30, "throttled_users": {user.as_str(): 31},
                        "throttled_devices": {}, "throttled_events": throttled,
                    }),
                );
                if let Some(secs) = retry_after_secs {
                    reply.headers.push(("Retry-After", secs.to_string()));
                }
                return reply;
            }
            Some(Fault::RejectEvents(ids)) => {
                let rejected: Vec<usize> = (0..events.len())
                    .filter(|&i| ids.contains(&insert_id(&events[i])))
                    .collect();
                return Reply::json(
                    400,
                    json!({
                        "code": 400, "error": "Invalid field values on some events",
                        "events_with_invalid_fields": {"time": rejected},
                    }),
                );
            }
            _ => {}
        }
        let mut store = self.store();
        for event in &events {
            let id = insert_id(event);
            match store.events.get_mut(&id) {
                Some(entry) => entry.1 += 1,
                None => {
                    store.events.insert(id.clone(), (event.clone(), 1));
                    store.order.push(id);
                }
            }
        }
        Reply::json(
            200,
            json!({
                "code": 200, "events_ingested": events.len(),
                "payload_size_bytes": request.body.len(), "server_upload_time": 1_700_000_000_000_i64,
            }),
        )
    }

    fn deletion(&self, request: &Request, violations: &mut Vec<String>) -> Reply {
        if basic_credentials(request) != Some(format!("{}:{}", self.api_key, self.secret_key)) {
            violations.push("deletion request without Basic api_key:secret_key".into());
            return Reply::json(401, json!({"error": "Invalid credentials"}));
        }
        let mut store = self.store();
        if let Some(last) = store.deletions.last() {
            let gap = request.at.duration_since(last.at);
            if gap.as_millis() < 950 {
                violations.push(format!(
                    "deletion requests {gap:?} apart: the limit is 1 a second"
                ));
            }
        }
        let body = request.json().unwrap_or_default();
        let ids: Vec<String> = body["user_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if ids.is_empty() || ids.len() > 100 {
            violations.push(format!(
                "deletion request of {} user ids, not 1 to 100",
                ids.len()
            ));
            return Reply::json(400, json!({"error": "invalid user_ids"}));
        }
        let requester = body["requester"].as_str().map(str::to_owned);
        store.deletions.push(Deletion {
            user_ids: ids.clone(),
            requester,
            at: request.at,
        });
        Reply::json(
            200,
            json!({
                "day": "2026-12-12", "status": "staging", "user_ids": ids, "amplitude_ids": [],
            }),
        )
    }

    fn dsar(&self, request: &Request, violations: &mut Vec<String>) -> Reply {
        let (key, secret) = &self.org_keys;
        if basic_credentials(request) != Some(format!("{key}:{secret}")) {
            violations.push("DSAR request without the organization's Basic credentials".into());
            return Reply::json(401, json!({"error": "Invalid credentials"}));
        }
        let body = request.json().unwrap_or_default();
        let dates_ok = ["startDate", "endDate"]
            .iter()
            .all(|k| body[*k].as_str().is_some_and(valid_date));
        if body["userId"].as_str().is_none_or(str::is_empty) || !dates_ok {
            violations.push(format!(
                "DSAR request without userId, startDate, endDate: {body}"
            ));
            return Reply::json(400, json!({"error": "invalid request"}));
        }
        let mut store = self.store();
        store.access_requests.push(body);
        let id = 53_000 + store.access_requests.len();
        Reply::json(202, json!({"requestId": id}))
    }
}

/// What breaks Amplitude's event contract in `event`.
fn check_event(event: &Value, min_id_length: usize) -> Vec<String> {
    let mut problems = Vec::new();
    let id_ok = |key: &str| {
        event[key]
            .as_str()
            .is_some_and(|s| s.chars().count() >= min_id_length)
    };
    if !id_ok("user_id") && !id_ok("device_id") {
        problems.push(format!(
            "neither user_id nor device_id of {min_id_length} characters or more"
        ));
    }
    for key in ["user_id", "device_id"] {
        if event.get(key).is_some_and(|v| {
            !id_ok(key)
                || v.as_str()
                    .is_some_and(|s| ["null", "0", "-1", "none", "unknown"].contains(&s))
        }) {
            problems.push(format!("{key} that Amplitude drops"));
        }
    }
    let event_type = event["event_type"].as_str().unwrap_or_default();
    if event_type.is_empty() {
        problems.push("no event_type".into());
    }
    if !event["time"].is_i64() {
        problems.push("time is not milliseconds since the epoch".into());
    }
    if event["insert_id"].as_str().is_none_or(str::is_empty) {
        problems.push("no insert_id".into());
    }
    if let Some(object) = event.as_object() {
        for key in object.keys() {
            let known = [
                "event_type",
                "user_id",
                "device_id",
                "time",
                "insert_id",
                "event_properties",
                "user_properties",
                "group_properties",
                "groups",
            ];
            if !known.contains(&key.as_str()) {
                problems.push(format!("unexpected field `{key}`"));
            }
        }
    }
    let operations = |key: &str, problems: &mut Vec<String>| {
        let Some(ops) = event.get(key) else {
            return;
        };
        match ops.as_object() {
            Some(ops) => {
                for (op, value) in ops {
                    if !OPERATIONS.contains(&op.as_str()) {
                        problems.push(format!("{key} mixes `{op}` with operations"));
                    }
                    if !value.is_object() {
                        problems.push(format!("{key}.{op} is not an object"));
                    }
                }
            }
            None => problems.push(format!("{key} is not an object")),
        }
    };
    match event_type {
        "$identify" => {
            operations("user_properties", &mut problems);
            if event.get("user_properties").is_none()
                && event.get("groups").is_none()
                && event.get("device_id").is_none()
            {
                problems.push("$identify that changes nothing".into());
            }
        }
        "$groupidentify" => {
            operations("group_properties", &mut problems);
            if !event["groups"].is_object() || !event["group_properties"].is_object() {
                problems.push("$groupidentify without groups and group_properties".into());
            }
        }
        name if name.starts_with("[Amplitude]") || name.starts_with('$') => {
            problems.push(format!("reserved event_type {name:?}"));
        }
        _ => {
            if event
                .get("event_properties")
                .is_some_and(|p| !p.is_object())
            {
                problems.push("event_properties is not an object".into());
            }
        }
    }
    if let Some(groups) = event.get("groups") {
        let names_ok = groups.as_object().is_some_and(|g| {
            g.values().all(|v| {
                v.is_string() || v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
            })
        });
        if !names_ok {
            problems.push("groups is not an object of group names".into());
        }
    }
    problems
}
