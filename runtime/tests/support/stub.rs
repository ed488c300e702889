//! A small HTTP stand-in on 127.0.0.1 for the SaaS APIs that have a contract file of their own
//! (`amplitude_server.rs`, `regulations_server.rs`): it reads each request, takes the next
//! fault of its script (by path prefix), and hands the request to the contract, which checks
//! it, records what it accepted, and answers.

use serde_json::Value;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A fault injected instead of (or into) the normal answer. The contract decides what a
/// fault it knows means; the generic ones are answered here.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// This status with an empty JSON body; nothing is accepted.
    Status(u16),
    /// 429 with `Retry-After: secs` and no body naming anyone; nothing is accepted.
    TooManyRequests { retry_after_secs: u64 },
    /// Wait this long, then answer 200 without accepting anything (the client timed out).
    Slow(Duration),
    /// Read the request, then close the connection without an answer.
    Reset,
    /// Amplitude: 429 naming this user in `throttled_users` (and its events in
    /// `throttled_events`); nothing is accepted. With `retry_after_secs`, a `Retry-After`.
    ThrottleUser {
        user: String,
        retry_after_secs: Option<u64>,
    },
    /// Amplitude: 400 naming these insert ids' events in `events_with_invalid_fields.time`;
    /// nothing is accepted.
    RejectEvents(Vec<String>),
}

/// A request, read.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A contract's answer.
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            body,
            headers: Vec::new(),
        }
    }
}

/// What a stand-in checks and answers.
pub trait Contract: Send + Sync + 'static {
    /// Checks `request`, records what it accepted (unless `fault` says otherwise), appends
    /// what broke the contract to `violations`, and answers. Called for every request but a
    /// [`Fault::Reset`] or [`Fault::Slow`].
    fn answer(
        &self,
        request: &Request,
        fault: Option<&Fault>,
        violations: &mut Vec<String>,
    ) -> Reply;
}

#[derive(Default)]
struct Script {
    general: VecDeque<Fault>,
    by_path: Vec<(String, VecDeque<Fault>)>,
}

/// One request seen, with its answer's status and fault.
#[derive(Debug, Clone)]
pub struct Seen {
    pub request: Request,
    pub status: u16,
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct State {
    /// The path prefix of the requests held before they are answered; `None`: none.
    held: Option<String>,
    /// Requests waiting at the hold now.
    waiting: usize,
    script: Script,
    seen: Vec<Seen>,
    violations: Vec<String>,
}

/// A running stand-in. Stops when dropped.
pub struct Stub<C: Contract> {
    url: String,
    pub contract: Arc<C>,
    state: Arc<Mutex<State>>,
    opened: Arc<std::sync::Condvar>,
    stop: Arc<AtomicBool>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

impl<C: Contract> Stub<C> {
    /// Starts `contract` on an ephemeral port of 127.0.0.1.
    pub fn start(contract: C) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let contract = Arc::new(contract);
        let state = Arc::new(Mutex::new(State::default()));
        let opened = Arc::new(std::sync::Condvar::new());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, state, stop, contract) = (
                server.clone(),
                state.clone(),
                stop.clone(),
                contract.clone(),
            );
            let opened = opened.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match server.recv_timeout(Duration::from_millis(50)) {
                        Ok(Some(request)) => {
                            let (state, contract) = (state.clone(), contract.clone());
                            let opened = opened.clone();
                            std::thread::spawn(move || {
                                hold(request.url(), &state, &opened);
                                handle(request, &state, &*contract)
                            });
                        }
                        Ok(None) => {}
                        Err(_) => break,
                    }
                }
            })
        };
        Stub {
            url: format!("http://127.0.0.1:{port}"),
            contract,
            state,
            opened,
            stop,
            server,
            thread: Some(thread),
        }
    }

    /// Holds the requests whose path starts with `prefix`, unanswered, until [`Stub::release`]:
    /// an API that stopped answering.
    pub fn hold_path(&self, prefix: &str) {
        lock(&self.state).held = Some(prefix.to_owned());
    }

    /// Lets held requests and later ones through.
    pub fn release(&self) {
        lock(&self.state).held = None;
        self.opened.notify_all();
    }

    /// Requests waiting at the hold now.
    pub fn held_requests(&self) -> usize {
        lock(&self.state).waiting
    }

    /// Base URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Queues faults for the next requests, whatever their path.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.state).script.general.extend(faults);
    }

    /// Queues faults for the requests whose path starts with `prefix` (taken first).
    pub fn script_path(&self, prefix: &str, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.state)
            .script
            .by_path
            .push((prefix.to_owned(), faults.into_iter().collect()));
    }

    /// Faults not yet used.
    pub fn faults_left(&self) -> usize {
        let state = lock(&self.state);
        state.script.general.len()
            + state
                .script
                .by_path
                .iter()
                .map(|(_, f)| f.len())
                .sum::<usize>()
    }

    /// Every request seen, in order of arrival.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.state).seen.clone()
    }

    /// Panics when any request broke the contract.
    pub fn assert_no_violations(&self) {
        let violations = lock(&self.state).violations.clone();
        assert!(
            violations.is_empty(),
            "contract violations: {violations:#?}"
        );
    }
}

impl<C: Contract> Drop for Stub<C> {
    fn drop(&mut self) {
        self.release();
        self.stop.store(true, Ordering::Relaxed);
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits while requests to `url` are held.
fn hold(url: &str, state: &Mutex<State>, opened: &std::sync::Condvar) {
    let holds = |st: &State| st.held.as_deref().is_some_and(|p| url.starts_with(p));
    let mut st = lock(state);
    if holds(&st) {
        st.waiting += 1;
        while holds(&st) {
            st = opened.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.waiting -= 1;
    }
}

fn handle(mut request: tiny_http::Request, state: &Mutex<State>, contract: &dyn Contract) {
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    let (body, unread) = super::read_body(&mut request);
    let incoming = Request {
        method: request.method().as_str().to_owned(),
        path,
        headers: super::headers(&request),
        body,
        at: Instant::now(),
    };
    let fault = {
        let mut state = lock(state);
        let script = &mut state.script;
        let by_path = script
            .by_path
            .iter_mut()
            .find(|(prefix, f)| incoming.path.starts_with(prefix.as_str()) && !f.is_empty())
            .and_then(|(_, f)| f.pop_front());
        by_path.or_else(|| script.general.pop_front())
    };
    let mut violations: Vec<String> = unread.into_iter().collect();
    let reply = match &fault {
        Some(Fault::Reset) => {
            let mut state = lock(state);
            state.seen.push(Seen {
                request: incoming,
                status: 0,
                fault: fault.clone(),
            });
            state.violations.extend(violations);
            drop(state);
            let stream = request.upgrade(
                "reset",
                tiny_http::Response::empty(tiny_http::StatusCode(100)),
            );
            drop(stream);
            return;
        }
        Some(Fault::Slow(delay)) => {
            std::thread::sleep(*delay);
            Reply::json(200, serde_json::json!({"code": 200}))
        }
        Some(Fault::Status(status)) => Reply::json(*status, serde_json::json!({})),
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut reply = Reply::json(429, serde_json::json!({"error": "too many requests"}));
            reply
                .headers
                .push(("Retry-After", retry_after_secs.to_string()));
            reply
        }
        _ => contract.answer(&incoming, fault.as_ref(), &mut violations),
    };
    {
        let mut state = lock(state);
        state.seen.push(Seen {
            request: incoming,
            status: reply.status,
            fault,
        });
        state.violations.extend(violations);
    }
    let mut response = tiny_http::Response::from_string(reply.body.to_string())
        .with_status_code(reply.status)
        .with_header(header("Content-Type", "application/json"));
    for (name, value) in reply.headers {
        response = response.with_header(header(name, &value));
    }
    let _ = request.respond(response);
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

/// The `user:password` of a Basic `Authorization` header.
pub fn basic_credentials(request: &Request) -> Option<String> {
    use base64::Engine as _;
    let value = request.header("Authorization")?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    String::from_utf8(decoded).ok()
}

/// Whether `text` is a `YYYY-MM-DD` date.
pub fn valid_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}
