//! A destination stand-in on 127.0.0.1: checks every request against the destination's
//! contract, records what it accepted, and injects faults from a script.
//!
//! Faults never record events as accepted (the stand-in "crashed before committing"), except
//! [`Fault::Reject`], which accepts every event it does not name, as Mixpanel does. So the
//! count per insert id at the server is exactly what a correct client can make it: 1.

use super::profiles::{
    ProfileEndpoint, check_identify, check_profile_body, check_profile_request, check_segment_call,
};
use base64::Engine as _;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the next request gets instead of the normal answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// This status with an empty JSON body.
    Status(u16),
    /// 429 with `Retry-After: secs`.
    TooManyRequests { retry_after_secs: u64 },
    /// Wait this long, then answer 200 without recording anything (the client timed out).
    Slow(Duration),
    /// Read the request, then close the connection without an answer.
    Reset,
    /// 400 with `failed_records` naming these insert ids (alternating `insert_id` and
    /// `$insert_id` keys); the request's other events are accepted.
    Reject(Vec<String>),
    /// Like [`Fault::Reject`] for the first `n` events of the request, whatever their ids.
    RejectFirst(usize),
    /// 200 with `{"status": 0, "error": …}`, recording nothing: how Mixpanel's profile
    /// endpoints refuse a request in which no update is valid.
    StatusZero,
}

/// Which API the server stands in for.
#[derive(Debug, Clone)]
pub enum Contract {
    /// Mixpanel `/import` and the GDPR API.
    Mixpanel {
        /// Expected project token (Basic auth user when no service account, GDPR `token`).
        token: String,
        /// `(user, secret, project_id)` when the client must use a service account.
        service_account: Option<(String, String, String)>,
        /// Expected Bearer token of the GDPR API.
        gdpr_token: String,
    },
    /// Segment `/v1/batch`.
    Segment {
        /// Expected write key.
        write_key: String,
    },
    /// A contract checked in a file of its own (e.g. `support/posthog.rs`).
    Custom(Arc<dyn CustomContract>),
}

/// A destination's contract kept outside this file: checks each request, and says what a
/// batch it accepted is answered with.
pub trait CustomContract: Send + Sync + std::fmt::Debug {
    /// Checks `request`, pushing every breach to `violations`; `accepted` reads the events the
    /// server accepted so far (for APIs that answer from them).
    fn check(
        &self,
        request: &Incoming,
        accepted: &dyn Fn() -> Vec<Accepted>,
        violations: &mut Vec<String>,
    ) -> Checked;

    /// The body of the answer to a batch of `events` accepted events.
    fn accepted_body(&self, events: usize) -> Value;
}

/// One event the server accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub insert_id: String,
    pub event: String,
    pub distinct_id: String,
    /// Every property as received (Mixpanel: including `time`, `$insert_id`, …).
    pub properties: serde_json::Map<String, Value>,
    /// The whole event object as received.
    pub raw: Value,
}

impl Accepted {
    /// What Mixpanel deduplicates by: events with the same name, distinct id, `time` and
    /// `$insert_id` are one event in the project (it keeps the latest).
    pub fn dedup_key(&self) -> DedupKey {
        let time = self.properties.get("time").and_then(Value::as_i64);
        (
            self.event.clone(),
            self.distinct_id.clone(),
            time.unwrap_or_default(),
            self.insert_id.clone(),
        )
    }
}

/// Event name, distinct id, time and insert id.
pub type DedupKey = (String, String, i64, String);

/// What one Mixpanel project stores after deduplication, given every server that stood in
/// for it (one per process run), with how many raw deliveries each stored event absorbed.
pub fn project_store(servers: &[&TestServer]) -> HashMap<DedupKey, (Accepted, usize)> {
    let mut store: HashMap<DedupKey, (Accepted, usize)> = HashMap::new();
    for server in servers {
        for event in server.accepted() {
            let entry = store
                .entry(event.dedup_key())
                .or_insert_with(|| (event.clone(), 0));
            entry.0 = event; // the latest wins, as in Mixpanel
            entry.1 += 1;
        }
    }
    store
}

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Events in the body (batch requests).
    pub events: usize,
    /// Uncompressed body bytes.
    pub body_bytes: usize,
    pub fault: Option<Fault>,
    pub at: Instant,
    /// The decoded JSON body.
    pub body: Value,
    /// The decoded body's bytes, as sent.
    pub raw: Vec<u8>,
}

#[derive(Default)]
struct State {
    script: VecDeque<Fault>,
    /// Faults for the requests under a path prefix, taken before `script`.
    path_scripts: Vec<(String, VecDeque<Fault>)>,
    accepted: Vec<Accepted>,
    seen: Vec<Seen>,
    violations: Vec<String>,
    tasks: HashMap<String, (String, Vec<String>)>,
    last_privacy_request: Option<Instant>,
}

/// Holds requests while closed: [`TestServer::hold`], [`TestServer::hold_path`] and
/// [`TestServer::release`].
#[derive(Default)]
struct Gate {
    /// The path prefix of the requests held (`""`: all); `None`: open.
    held: Mutex<Option<String>>,
    opened: std::sync::Condvar,
    /// Requests waiting at the gate now.
    waiting: std::sync::atomic::AtomicUsize,
}

impl Gate {
    fn pass(&self, url: &str) {
        let holds = |held: &Option<String>| held.as_deref().is_some_and(|p| url.starts_with(p));
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if holds(&held) {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            while holds(&held) {
                held = self.opened.wait(held).unwrap_or_else(|e| e.into_inner());
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// The running server. Stops when dropped.
pub struct TestServer {
    url: String,
    gate: Arc<Gate>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server for `contract` on an ephemeral port of 127.0.0.1.
    pub fn start(contract: Contract) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let gate = Arc::new(Gate::default());
        let thread = {
            let (server, state, stop) = (server.clone(), state.clone(), stop.clone());
            let gate = gate.clone();
            let contract = Arc::new(contract);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match server.recv_timeout(Duration::from_millis(50)) {
                        Ok(Some(request)) => {
                            let (state, contract) = (state.clone(), contract.clone());
                            let gate = gate.clone();
                            std::thread::spawn(move || {
                                gate.pass(request.url());
                                handle(request, &state, &contract)
                            });
                        }
                        Ok(None) => {}
                        Err(_) => break,
                    }
                }
            })
        };
        TestServer {
            url: format!("http://127.0.0.1:{port}"),
            gate,
            state,
            stop,
            server,
            thread: Some(thread),
        }
    }

    /// A Mixpanel stand-in with project-token auth.
    pub fn mixpanel(token: &str) -> Self {
        Self::start(Contract::Mixpanel {
            token: token.into(),
            service_account: None,
            gdpr_token: "gdpr-oauth-token".into(),
        })
    }

    /// A Segment stand-in.
    pub fn segment(write_key: &str) -> Self {
        Self::start(Contract::Segment {
            write_key: write_key.into(),
        })
    }

    /// Base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Holds every request from now on (before it is read or answered) until
    /// [`TestServer::release`]: a destination that stopped answering.
    pub fn hold(&self) {
        self.hold_path("");
    }

    /// Like [`TestServer::hold`], for the requests whose path starts with `prefix` only (e.g.
    /// Mixpanel's GDPR API, `/api/app/`); the others are answered as usual.
    pub fn hold_path(&self, prefix: &str) {
        *self.gate.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(prefix.to_owned());
    }

    /// Lets held requests and later ones through.
    pub fn release(&self) {
        *self.gate.held.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.gate.opened.notify_all();
    }

    /// Requests waiting at the gate now.
    pub fn held_requests(&self) -> usize {
        self.gate.waiting.load(Ordering::SeqCst)
    }

    /// Queues faults: each request takes the next one, then requests are answered normally.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state().script.extend(faults);
    }

    /// Queues faults for the requests whose path starts with `prefix` only (they take these
    /// before the general script); [`TestServer::clear_path_script`] drops those left.
    pub fn script_path(&self, prefix: &str, faults: impl IntoIterator<Item = Fault>) {
        let mut state = self.state();
        match state.path_scripts.iter_mut().find(|(p, _)| p == prefix) {
            Some((_, script)) => script.extend(faults),
            None => state
                .path_scripts
                .push((prefix.to_owned(), faults.into_iter().collect())),
        }
    }

    /// Drops the faults left for `prefix`: its requests are answered normally again.
    pub fn clear_path_script(&self, prefix: &str) {
        self.state().path_scripts.retain(|(p, _)| p != prefix);
    }

    /// Faults not yet used.
    pub fn faults_left(&self) -> usize {
        self.state().script.len()
    }

    /// Every accepted event, in order of arrival.
    pub fn accepted(&self) -> Vec<Accepted> {
        self.state().accepted.clone()
    }

    /// How often each insert id was accepted.
    pub fn accepted_counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for a in &self.state().accepted {
            *counts.entry(a.insert_id.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Every request seen, in order of arrival.
    pub fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }

    /// Contract violations found so far.
    pub fn violations(&self) -> Vec<String> {
        self.state().violations.clone()
    }

    /// Panics when any request broke the contract.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "contract violations: {violations:#?}"
        );
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.release();
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A request, read.
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The answer to send.
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

impl Answer {
    pub fn json(status: u16, body: Value) -> Self {
        Answer {
            status,
            body: body.to_string(),
            headers: Vec::new(),
        }
    }
}

fn handle(mut request: tiny_http::Request, state: &Mutex<State>, contract: &Contract) {
    let (path, query) = match request.url().split_once('?') {
        Some((p, q)) => (p.to_owned(), parse_query(q)),
        None => (request.url().to_owned(), Vec::new()),
    };
    let (body, unread) = super::read_body(&mut request);
    let incoming = Incoming {
        method: request.method().as_str().to_owned(),
        path,
        query,
        headers: super::headers(&request),
        body,
    };
    let fault = {
        let mut state = lock(state);
        let scripted = state
            .path_scripts
            .iter_mut()
            .find(|(prefix, script)| incoming.path.starts_with(prefix) && !script.is_empty())
            .and_then(|(_, script)| script.pop_front());
        scripted.or_else(|| state.script.pop_front())
    };
    let mut violations: Vec<String> = unread.into_iter().collect();

    let checked = match contract {
        Contract::Mixpanel {
            token,
            service_account,
            gdpr_token,
        } => {
            if incoming.path.starts_with("/api/app/") {
                check_privacy(&incoming, token, gdpr_token, state, &mut violations)
            } else if let Some(endpoint) = ProfileEndpoint::of(&incoming.path) {
                check_updates(&incoming, endpoint, token, &mut violations)
            } else {
                check_import(&incoming, token, service_account.as_ref(), &mut violations)
            }
        }
        Contract::Segment { write_key } => check_batch(&incoming, write_key, &mut violations),
        Contract::Custom(custom) => {
            custom.check(&incoming, &|| lock(state).accepted.clone(), &mut violations)
        }
    };

    let (answer, accepted) = match (&fault, checked) {
        _ if !violations.is_empty() => (
            Answer::json(400, serde_json::json!({"error": violations.join("; ")})),
            Vec::new(),
        ),
        (None, Checked::Events(events)) => {
            let n = events.len();
            let body = match contract {
                Contract::Mixpanel { .. } if incoming.path != "/import" => {
                    serde_json::json!({"status": 1, "error": null})
                }
                Contract::Mixpanel { .. } => {
                    serde_json::json!({"code": 200, "num_records_imported": n, "status": "OK"})
                }
                Contract::Segment { .. } => serde_json::json!({"success": true}),
                Contract::Custom(custom) => custom.accepted_body(n),
            };
            (Answer::json(200, body), events)
        }
        (None, Checked::Answer(answer)) => (answer, Vec::new()),
        (Some(fault @ (Fault::Reject(_) | Fault::RejectFirst(_))), Checked::Events(events)) => {
            let mut failed = Vec::new();
            let mut kept = Vec::new();
            for (index, event) in events.into_iter().enumerate() {
                let rejected = match fault {
                    Fault::Reject(ids) => ids.contains(&event.insert_id),
                    Fault::RejectFirst(n) => index < *n,
                    _ => false,
                };
                if rejected && incoming.path != "/import" {
                    // Profile updates have no insert id: named by index, the field their
                    // operation.
                    failed.push(serde_json::json!({
                        "index": index, "field": event.event,
                        "message": format!("'{}' is invalid: not allowed for this profile", event.event)
                    }));
                } else if rejected {
                    let key = if failed.len() % 2 == 0 {
                        "insert_id"
                    } else {
                        "$insert_id"
                    };
                    failed.push(serde_json::json!({
                        "index": index, key: event.insert_id, "field": "properties.time",
                        "message": "'properties.time' is invalid: must be a recent timestamp"
                    }));
                } else {
                    kept.push(event);
                }
            }
            let body = serde_json::json!({
                "code": 400, "error": "some data points in the request failed validation",
                "failed_records": failed, "num_records_imported": kept.len(),
                "status": "Bad Request"
            });
            (Answer::json(400, body), kept)
        }
        (Some(Fault::StatusZero), _) => (
            Answer::json(
                200,
                serde_json::json!({"status": 0, "error": "no valid update in the request"}),
            ),
            Vec::new(),
        ),
        (Some(Fault::Status(status)), _) => {
            (Answer::json(*status, serde_json::json!({})), Vec::new())
        }
        (Some(Fault::TooManyRequests { retry_after_secs }), _) => {
            let mut answer = Answer::json(429, serde_json::json!({"error": "rate limited"}));
            answer
                .headers
                .push(("Retry-After", retry_after_secs.to_string()));
            (answer, Vec::new())
        }
        (Some(Fault::Slow(delay)), _) => {
            std::thread::sleep(*delay);
            (
                Answer::json(200, serde_json::json!({"code": 200})),
                Vec::new(),
            )
        }
        (Some(Fault::Reset), _) => {
            record(state, &incoming, 0, fault.clone(), violations, Vec::new());
            // Hand back the raw stream and drop it: the connection closes without an answer.
            let stream = request.upgrade(
                "reset",
                tiny_http::Response::empty(tiny_http::StatusCode(100)),
            );
            drop(stream);
            return;
        }
        (Some(Fault::Reject(_) | Fault::RejectFirst(_)), Checked::Answer(answer)) => {
            (answer, Vec::new())
        }
    };

    record(state, &incoming, answer.status, fault, violations, accepted);
    let mut response = tiny_http::Response::from_string(answer.body)
        .with_status_code(answer.status)
        .with_header(header("Content-Type", "application/json"));
    for (name, value) in answer.headers {
        response = response.with_header(header(name, &value));
    }
    let _ = request.respond(response);
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn record(
    state: &Mutex<State>,
    incoming: &Incoming,
    status: u16,
    fault: Option<Fault>,
    violations: Vec<String>,
    accepted: Vec<Accepted>,
) {
    let decoded = decode_body(incoming).unwrap_or_default();
    let body: Value = serde_json::from_slice(&decoded).unwrap_or(Value::Null);
    let events = match &body {
        Value::Array(items) => items.len(),
        Value::Object(o) => o.get("batch").and_then(Value::as_array).map_or(0, Vec::len),
        _ => 0,
    };
    let mut state = lock(state);
    state.seen.push(Seen {
        method: incoming.method.clone(),
        path: incoming.path.clone(),
        status,
        events,
        body_bytes: decoded.len(),
        fault,
        at: Instant::now(),
        body,
        raw: decoded,
    });
    state.violations.extend(violations);
    state.accepted.extend(accepted);
}

/// What the contract check made of a request.
pub enum Checked {
    /// A batch of events, valid.
    Events(Vec<Accepted>),
    /// Not a batch: answer this.
    Answer(Answer),
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| s.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let Some(b) = escaped {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

pub fn decode_body(incoming: &Incoming) -> Result<Vec<u8>, String> {
    match incoming.header("Content-Encoding") {
        None | Some("identity") => Ok(incoming.body.clone()),
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(incoming.body.as_slice())
                .read_to_end(&mut out)
                .map_err(|e| format!("gzip body does not decode: {e}"))?;
            Ok(out)
        }
        Some(other) => Err(format!("unsupported Content-Encoding {other:?}")),
    }
}

pub fn expect(violations: &mut Vec<String>, ok: bool, what: impl FnOnce() -> String) {
    if !ok {
        violations.push(what());
    }
}

/// `[A-Za-z0-9-]{1,36}`.
pub fn valid_insert_id(id: &str) -> bool {
    (1..=36).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` with plausible fields.
pub fn valid_iso8601(ts: &str) -> bool {
    let b = ts.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    let num =
        |r: std::ops::Range<usize>| ts.get(r).and_then(|s| s.parse::<u32>().ok()).unwrap_or(99);
    let frac_ok = match b.get(19) {
        Some(b'Z') => b.len() == 20,
        Some(b'.') => {
            b.len() > 21
                && b[b.len() - 1] == b'Z'
                && b[20..b.len() - 1].iter().all(u8::is_ascii_digit)
        }
        _ => false,
    };
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
        && num(11..13) < 24
        && num(14..16) < 60
        && num(17..19) < 61
        && frac_ok
}

fn check_import(
    r: &Incoming,
    token: &str,
    service_account: Option<&(String, String, String)>,
    v: &mut Vec<String>,
) -> Checked {
    expect(v, r.method == "POST", || {
        format!("/import needs POST, got {}", r.method)
    });
    expect(v, r.path == "/import", || {
        format!("unexpected path {}", r.path)
    });
    expect(v, r.query("strict") == Some("1"), || {
        "missing strict=1".into()
    });
    let (auth, project) = match service_account {
        Some((user, secret, project)) => (basic(user, secret), Some(project.as_str())),
        None => (basic(token, ""), None),
    };
    expect(v, r.header("Authorization") == Some(auth.as_str()), || {
        "wrong or missing Basic auth".into()
    });
    expect(v, r.query("project_id") == project, || {
        format!(
            "project_id {:?}, expected {project:?}",
            r.query("project_id")
        )
    });
    for (key, _) in &r.query {
        expect(v, key == "strict" || key == "project_id", || {
            format!("unexpected query parameter {key}")
        });
    }
    expect(
        v,
        r.header("Content-Type")
            .is_some_and(|c| c.starts_with("application/json")),
        || "Content-Type is not application/json".into(),
    );
    expect(v, r.header("Content-Encoding") == Some("gzip"), || {
        "body is not gzip-encoded".into()
    });
    let body = match decode_body(r) {
        Ok(body) => body,
        Err(e) => {
            v.push(e);
            return Checked::Events(Vec::new());
        }
    };
    expect(v, body.len() <= 2 * 1024 * 1024, || {
        format!("body of {} bytes is over 2 MiB", body.len())
    });
    let items = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => items,
        _ => {
            v.push("body is not a JSON array".into());
            return Checked::Events(Vec::new());
        }
    };
    expect(v, (1..=2000).contains(&items.len()), || {
        format!("{} events in one request", items.len())
    });
    let mut events = Vec::new();
    for item in items {
        let size = item.to_string().len();
        expect(v, size < 1_000_000, || format!("event of {size} bytes"));
        let Some(object) = item.as_object() else {
            v.push("an event is not an object".into());
            continue;
        };
        expect(v, object.len() == 2, || {
            "an event has keys besides event and properties".into()
        });
        let event = object
            .get("event")
            .and_then(Value::as_str)
            .unwrap_or_default();
        expect(v, !event.is_empty(), || "missing event name".into());
        let Some(properties) = object.get("properties").and_then(Value::as_object) else {
            v.push("missing properties object".into());
            continue;
        };
        let time = properties.get("time").and_then(Value::as_i64);
        expect(v, time.is_some_and(|t| t > 100_000_000_000), || {
            format!("time {:?} is not in milliseconds", properties.get("time"))
        });
        let distinct_id = properties.get("distinct_id").and_then(Value::as_str);
        expect(v, distinct_id.is_some(), || "missing distinct_id".into());
        let insert_id = properties
            .get("$insert_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        expect(v, valid_insert_id(insert_id), || {
            format!("$insert_id {insert_id:?} breaks the pattern")
        });
        expect(v, properties.len() < 255, || {
            format!("{} properties", properties.len())
        });
        if event == "$identify" {
            check_identify(properties, v);
        }
        if let Some(ip) = properties.get("ip") {
            expect(v, ip == &Value::from(0) || ip.is_string(), || {
                "ip must be 0 or an address".into()
            });
        }
        events.push(Accepted {
            insert_id: insert_id.to_owned(),
            event: event.to_owned(),
            distinct_id: distinct_id.unwrap_or_default().to_owned(),
            properties: properties.clone(),
            raw: item.clone(),
        });
    }
    Checked::Events(events)
}

fn check_batch(r: &Incoming, write_key: &str, v: &mut Vec<String>) -> Checked {
    expect(v, r.method == "POST", || {
        format!("/v1/batch needs POST, got {}", r.method)
    });
    expect(v, r.path == "/v1/batch", || {
        format!("unexpected path {}", r.path)
    });
    expect(v, r.query.is_empty(), || "unexpected query string".into());
    expect(
        v,
        r.header("Authorization") == Some(basic(write_key, "").as_str()),
        || "wrong or missing Basic auth".into(),
    );
    expect(
        v,
        r.header("Content-Type")
            .is_some_and(|c| c.starts_with("application/json")),
        || "Content-Type is not application/json".into(),
    );
    let body = match decode_body(r) {
        Ok(body) => body,
        Err(e) => {
            v.push(e);
            return Checked::Events(Vec::new());
        }
    };
    expect(v, body.len() <= 500_000, || {
        format!("batch of {} bytes is over 500 KB", body.len())
    });
    let batch = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(mut o)) => match o.remove("batch") {
            Some(Value::Array(items)) => items,
            _ => {
                v.push("body has no batch array".into());
                return Checked::Events(Vec::new());
            }
        },
        _ => {
            v.push("body is not a JSON object".into());
            return Checked::Events(Vec::new());
        }
    };
    expect(v, (1..=2500).contains(&batch.len()), || {
        format!("{} events in one batch", batch.len())
    });
    let mut events = Vec::new();
    for item in batch {
        let size = item.to_string().len();
        expect(v, size <= 32_000, || {
            format!("event of {size} bytes is over 32 KB")
        });
        events.extend(check_segment_call(&item, v));
    }
    Checked::Events(events)
}

/// Mixpanel's `/engage` and `/groups` (the checks are in `profiles.rs`).
fn check_updates(
    r: &Incoming,
    endpoint: ProfileEndpoint,
    token: &str,
    v: &mut Vec<String>,
) -> Checked {
    check_profile_request(
        endpoint,
        &r.method,
        &r.query,
        |name| r.header(name).map(str::to_owned),
        v,
    );
    match decode_body(r) {
        Ok(body) => Checked::Events(check_profile_body(endpoint, token, &body, v)),
        Err(e) => {
            v.push(e);
            Checked::Events(Vec::new())
        }
    }
}

/// Mixpanel's GDPR API: deletions and retrievals (create, status).
fn check_privacy(
    r: &Incoming,
    token: &str,
    gdpr_token: &str,
    state: &Mutex<State>,
    v: &mut Vec<String>,
) -> Checked {
    let expected = format!("Bearer {gdpr_token}");
    expect(
        v,
        r.header("Authorization") == Some(expected.as_str()),
        || "wrong or missing Bearer token".into(),
    );
    expect(v, r.query("token") == Some(token), || {
        "missing or wrong token parameter".into()
    });
    let kind = if r.path.starts_with("/api/app/data-deletions/v3.0/") {
        "deletion"
    } else if r.path.starts_with("/api/app/data-retrievals/v3.0/") {
        "retrieval"
    } else {
        v.push(format!("unexpected path {}", r.path));
        return Checked::Answer(Answer::json(404, serde_json::json!({})));
    };
    let rest = r.path.splitn(6, '/').nth(5).unwrap_or_default();
    if r.method == "GET" {
        let task = rest.trim_end_matches('/');
        let known = lock(state).tasks.get(task).cloned();
        return Checked::Answer(match known {
            Some((k, ids)) if k == kind => Answer::json(
                200,
                serde_json::json!({"status": "ok", "results": {"status": "SUCCESS", "distinct_ids": ids}}),
            ),
            _ => Answer::json(
                404,
                serde_json::json!({"status": "error", "error": "not found"}),
            ),
        });
    }
    expect(v, r.method == "POST", || {
        format!("{kind} needs POST, got {}", r.method)
    });
    expect(v, rest.is_empty(), || format!("unexpected path {}", r.path));
    {
        let now = Instant::now();
        let mut s = lock(state);
        if let Some(last) = s.last_privacy_request {
            // Some slack for scheduling: the client paces request starts, we see arrivals.
            expect(
                v,
                now.duration_since(last) >= Duration::from_millis(900),
                || "more than one GDPR API request per second".into(),
            );
        }
        s.last_privacy_request = Some(now);
    }
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let ids: Vec<String> = body["distinct_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    expect(v, (1..=1999).contains(&ids.len()), || {
        format!("{} distinct ids in one request", ids.len())
    });
    let compliance = body["compliance_type"].as_str().unwrap_or_default();
    expect(v, compliance == "GDPR" || compliance == "CCPA", || {
        format!("compliance_type {compliance:?}")
    });
    if !v.is_empty() {
        return Checked::Answer(Answer::json(400, serde_json::json!({})));
    }
    let mut s = lock(state);
    let task = format!("{kind}-{}", s.tasks.len() + 1);
    s.tasks.insert(task.clone(), (kind.to_owned(), ids));
    Checked::Answer(Answer::json(
        200,
        serde_json::json!({"status": "ok", "results": {"task_id": task}}),
    ))
}
