//! The HTTP side of the built-in destinations: one blocking client (ureq with rustls), gzip
//! request bodies, and the request packing every HTTP sink shares.
//!
//! Each sink runs on its destination's own worker thread, so a blocking client is the right
//! tool: no async runtime is forced on applications, and a slow destination (or one slow to
//! answer a privacy request) only delays its own queue.
//!
//! [`deliver_packed`] is the part the destinations have in common: it encodes a batch the worker
//! hands over, drops events the destination would reject anyway (too large, malformed), splits
//! what is left into requests within the destination's count and byte limits, sends them one by
//! one, and folds the responses into one [`Outcome`]. When a request fails in a way worth
//! retrying after earlier requests of the same batch were accepted, it remembers which events
//! are already settled, so the retry of that batch sends only the rest.

use crate::sink::{Envelope, Outcome};
use crate::time::days_from_civil;
use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest response body read: enough for a `failed_records` list of a full batch.
const MAX_RESPONSE_BYTES: u64 = 4 << 20;

/// Timeouts of a destination's HTTP requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// Connecting, including DNS and the TLS handshake.
    pub connect: Duration,
    /// The whole exchange: connect, send, response headers and body.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
        }
    }
}

/// A credential. Never printed: `Debug` shows `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for building a request header or query.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `Authorization` value for HTTP Basic auth.
pub(crate) fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine as _;
    let mut credentials = String::with_capacity(user.len() + password.len() + 1);
    credentials.push_str(user);
    credentials.push(':');
    credentials.push_str(password);
    let mut value = String::from("Basic ");
    base64::engine::general_purpose::STANDARD.encode_string(credentials.as_bytes(), &mut value);
    value
}

/// gzip-compresses a request body. Level 1: JSON batches shrink about tenfold at that level
/// already, and the worker's time is better spent sending than squeezing the last few percent.
pub(crate) fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 8 + 64),
        flate2::Compression::new(1),
    );
    // Writing into a Vec cannot fail: the only error source is the underlying writer.
    match encoder.write_all(body).and_then(|()| encoder.finish()) {
        Ok(compressed) => compressed,
        Err(_) => unreachable_vec_write(),
    }
}

#[cold]
fn unreachable_vec_write() -> Vec<u8> {
    // `Vec<u8>`'s `Write` impl never returns an error; an empty body would be rejected by the
    // destination rather than silently accepted, so even this impossible path stays safe.
    Vec::new()
}

/// A response, with the body read (up to a limit).
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    /// `Retry-After`, as a duration from now.
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

/// Why a request got no response. Messages name the failure, never the URL (it can carry a
/// project token) or a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TransportError {
    /// A timeout expired.
    #[error("no response within the timeout ({0})")]
    Timeout(&'static str),
    /// The connection could not be opened.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The connection broke while sending or receiving.
    #[error("connection failed: {0}")]
    Io(String),
    /// TLS failed (certificate, handshake).
    #[error("TLS error: {0}")]
    Tls(String),
    /// The server answered something that is not HTTP, or the URL is unusable.
    #[error("HTTP protocol error: {0}")]
    Protocol(String),
}

/// The blocking HTTP client shared by a sink's requests (keeps connections alive).
pub(crate) struct Client {
    agent: ureq::Agent,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

/// `User-Agent` of every request.
const USER_AGENT: &str = concat!("trackplan/", env!("CARGO_PKG_VERSION"));

impl Client {
    /// A client with these timeouts. Proxies from the environment (`HTTPS_PROXY`, …) apply.
    pub(crate) fn new(timeouts: Timeouts) -> Self {
        let agent = ureq::Agent::config_builder()
            // Status codes are data here: the sinks map them to outcomes themselves.
            .http_status_as_error(false)
            .timeout_connect(Some(timeouts.connect))
            .timeout_global(Some(timeouts.request))
            // The APIs answer directly; a redirect would resend the body with credentials to
            // wherever it points.
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(USER_AGENT)
            .build()
            .new_agent();
        Client { agent }
    }

    /// `POST`s `body` with the given headers.
    pub(crate) fn post(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response, TransportError> {
        read(with_headers(self.agent.post(url), headers).send(body))
    }

    /// `GET`s `url` with the given headers.
    pub(crate) fn get(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, TransportError> {
        read(with_headers(self.agent.get(url), headers).call())
    }

    /// `DELETE`s `url` with the given headers.
    #[cfg(feature = "posthog")]
    pub(crate) fn delete(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Response, TransportError> {
        read(with_headers(self.agent.delete(url), headers).call())
    }
}

/// `request` with these headers added, in order.
fn with_headers<B>(
    mut request: ureq::RequestBuilder<B>,
    headers: &[(&str, &str)],
) -> ureq::RequestBuilder<B> {
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
}

fn read(
    result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Response, TransportError> {
    let mut response = result.map_err(transport_error)?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, SystemTime::now()));
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_vec()
        .map_err(transport_error)?;
    Ok(Response {
        status,
        retry_after,
        body,
    })
}

fn transport_error(e: ureq::Error) -> TransportError {
    use ureq::Error as E;
    match e {
        E::Timeout(which) => TransportError::Timeout(match which {
            ureq::Timeout::Connect | ureq::Timeout::Resolve => "connect",
            ureq::Timeout::RecvResponse | ureq::Timeout::RecvBody => "waiting for the response",
            ureq::Timeout::SendRequest | ureq::Timeout::SendBody => "sending the request",
            _ => "request",
        }),
        E::Io(io) => TransportError::Io(io.kind().to_string()),
        E::HostNotFound => TransportError::Connect("host not found".into()),
        E::ConnectionFailed => TransportError::Connect("connection refused or unreachable".into()),
        E::Tls(msg) => TransportError::Tls(msg.into()),
        // Other variants describe the URL or the protocol exchange; their text can quote the
        // URL (and with it a token in the query), so only the kind is kept.
        E::BadUri(_) => TransportError::Protocol("invalid URL".into()),
        E::Protocol(_) => TransportError::Protocol("malformed response".into()),
        E::BodyExceedsLimit(_) => TransportError::Protocol("response body too large".into()),
        _ => TransportError::Protocol("request failed".into()),
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (IMF-fixdate), relative to `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = parse_http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    Some(Duration::from_secs(at.saturating_sub(now)))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` → seconds since the epoch.
fn parse_http_date(value: &str) -> Option<u64> {
    let mut parts = value.split_ascii_whitespace();
    let _weekday = parts.next()?;
    let day: u32 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':');
    let hour: u64 = clock.next()?.parse().ok()?;
    let minute: u64 = clock.next()?.parse().ok()?;
    let second: u64 = clock.next()?.parse().ok()?;
    // An IMF-fixdate's year has four digits; bounding it also keeps `days_from_civil` from
    // overflowing on a garbled header (`i64::MAX` as the year panicked there; found while
    // writing the http_response fuzz target).
    if parts.next()? != "GMT"
        || !(1..=31).contains(&day)
        || !(0..=9999).contains(&year)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// How a destination lays out a batch request and answers it.
pub(crate) trait WireFormat {
    /// Most records in one request.
    const MAX_EVENTS: usize;
    /// Most bytes of one uncompressed request body, framing included.
    const MAX_BODY_BYTES: usize;
    /// Bytes before the first event (`[`, `{"batch":[`).
    const OPEN: &'static [u8];
    /// Bytes after the last event.
    const CLOSE: &'static [u8];
    /// Destination name for logs.
    const NAME: &'static str;

    /// Appends one envelope's records to `out` (comma-separated JSON values; most envelopes
    /// are one record) and returns how many it wrote, or says why the destination would reject
    /// it. A rejection reason must not contain property values.
    fn encode(&mut self, envelope: &Envelope, out: &mut Vec<u8>) -> Result<usize, String>;

    /// Sends one request body holding the records of `members` (in body order) and says what
    /// became of them. [`Verdict::Partial`] names positions of records in the body.
    fn send(&mut self, body: &[u8], members: &[&Envelope]) -> Verdict;
}

/// What one request's response means for the records in it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Every record in the request was accepted.
    Accepted,
    /// The records at these positions (in the request body) failed; the rest were accepted.
    Partial(Vec<(usize, String)>),
    /// Nothing was accepted; worth trying again.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Nothing was accepted; trying again will not help.
    Failed(String),
    /// The events at `retry` positions were not accepted but may be later (the destination
    /// throttled their user or device, and said which), those at `failed` failed, and the rest
    /// were accepted. The batch's other requests are still sent; the attempt then ends in a
    /// retry that sends only the events still pending.
    #[cfg_attr(not(feature = "amplitude"), allow(dead_code))]
    RetrySome {
        retry: Vec<usize>,
        failed: Vec<(usize, String)>,
        reason: String,
        after: Option<Duration>,
    },
}

/// Events of a batch already settled by an earlier attempt that ended in a retry: the next
/// attempt of the same batch sends only the others. `None`: accepted; `Some`: failed, why.
#[derive(Debug, Default)]
pub(crate) struct Settled {
    by_insert_id: HashMap<String, Option<String>>,
}

/// Settled entries kept at most. Past this (the worker gave up on batches and never retried
/// them) they are forgotten, which at worst resends events the destination deduplicates by
/// insert id.
const MAX_SETTLED: usize = 100_000;

/// What became of one event of the batch during this attempt.
#[derive(Debug, Clone)]
enum State {
    Pending,
    Accepted,
    Failed(String),
}

/// Delivers `batch` through `format` in as many requests as its limits need.
pub(crate) fn deliver_packed<F: WireFormat>(
    format: &mut F,
    settled: &mut Settled,
    batch: &[Envelope],
) -> Outcome {
    let mut attempt = Attempt::new(settled, batch);
    let retry = attempt.send(format, |_| true);
    attempt.finish(settled, retry)
}

/// Why an attempt stopped early and should be tried again, and after how long.
pub(crate) type Retry = (String, Option<Duration>);

/// Both reasons to retry of one attempt as one: the first reason, and the longer of the waits
/// asked for (every endpoint that asked is honoured).
pub(crate) fn sooner_or_later(first: Option<Retry>, then: Option<Retry>) -> Option<Retry> {
    match (first, then) {
        (Some((reason, a)), Some((_, b))) => Some((reason, a.max(b))),
        (first, then) => first.or(then),
    }
}

/// One delivery attempt of a batch, through one or several wire formats (a destination whose
/// message kinds go to different endpoints sends each kind's events through its own): what
/// became of each event so far. Events settled by an earlier attempt of the same batch start
/// settled, so they are not sent again.
pub(crate) struct Attempt<'a> {
    batch: &'a [Envelope],
    states: Vec<State>,
    /// The first permanent failure of a whole request (bad credentials, …): it failed its
    /// endpoint's events that were still pending.
    permanent: Option<String>,
}

impl<'a> Attempt<'a> {
    /// An attempt of `batch`, knowing what `settled` remembers of earlier ones.
    pub(crate) fn new(settled: &Settled, batch: &'a [Envelope]) -> Self {
        let states = batch
            .iter()
            .map(|e| match settled.by_insert_id.get(&e.insert_id) {
                Some(None) => State::Accepted,
                Some(Some(reason)) => State::Failed(reason.clone()),
                None => State::Pending,
            })
            .collect();
        Attempt {
            batch,
            states,
            permanent: None,
        }
    }

    /// Sends the pending events that `include` selects through `format`, in as many requests
    /// as its limits need. A permanent failure of a request fails the selected events still
    /// pending (trying them in another request would meet the same answer) and lets the caller
    /// go on with other endpoints; a failure worth retrying stops here and is returned: the
    /// caller then ends the attempt with [`Attempt::finish`].
    pub(crate) fn send<F: WireFormat>(
        &mut self,
        format: &mut F,
        include: impl Fn(&Envelope) -> bool,
    ) -> Option<Retry> {
        match send_pending(format, self.batch, &mut self.states, &include)? {
            Verdict::Retry { reason, after } => Some((reason, after)),
            Verdict::Failed(reason) => {
                for (envelope, state) in self.batch.iter().zip(&mut self.states) {
                    if matches!(state, State::Pending) && include(envelope) {
                        *state = State::Failed(reason.clone());
                    }
                }
                self.permanent.get_or_insert(reason);
                None
            }
            Verdict::Accepted | Verdict::Partial(_) | Verdict::RetrySome { .. } => None,
        }
    }

    /// Folds the attempt into one [`Outcome`]. After a retry, remembers in `settled` which
    /// events are already settled, so the retry sends only the others.
    pub(crate) fn finish(self, settled: &mut Settled, retry: Option<Retry>) -> Outcome {
        let Attempt {
            batch,
            states,
            permanent,
        } = self;
        for envelope in batch {
            settled.by_insert_id.remove(&envelope.insert_id);
        }
        if let Some((reason, after)) = retry {
            if settled.by_insert_id.len() + batch.len() > MAX_SETTLED {
                settled.by_insert_id.clear();
            }
            for (envelope, state) in batch.iter().zip(&states) {
                let entry = match state {
                    State::Pending => continue,
                    State::Accepted => None,
                    State::Failed(reason) => Some(reason.clone()),
                };
                settled
                    .by_insert_id
                    .insert(envelope.insert_id.clone(), entry);
            }
            return Outcome::Retry { reason, after };
        }

        let mut failed = Vec::new();
        let mut any_accepted = false;
        for (index, state) in states.into_iter().enumerate() {
            match state {
                State::Accepted => any_accepted = true,
                State::Failed(why) => failed.push((index, why)),
                // Every selected event was sent or failed; one no format selected has no way
                // to this destination.
                State::Pending => failed.push((
                    index,
                    "no request of this destination carries this kind of message".to_owned(),
                )),
            }
        }
        match permanent {
            Some(reason) if !any_accepted => Outcome::Failed { reason },
            _ if failed.is_empty() => Outcome::Delivered,
            _ => Outcome::Partial { failed },
        }
    }
}

/// Encodes the pending events of `batch` that `include` selects into requests and sends them,
/// updating `states`. Returns the verdict that ended the attempt early (retry, permanent
/// failure), if any.
fn send_pending<F: WireFormat>(
    format: &mut F,
    batch: &[Envelope],
    states: &mut [State],
    include: &impl Fn(&Envelope) -> bool,
) -> Option<Verdict> {
    // Positions in `batch` of the events in the request being built, how many records each
    // wrote, and the body.
    let mut members: Vec<usize> = Vec::new();
    let mut records: Vec<usize> = Vec::new();
    let mut body: Vec<u8> = Vec::new();
    let mut event: Vec<u8> = Vec::new();
    // A request that left some of its events for a retry: the others go on, then the attempt
    // ends in that retry.
    let mut deferred: Option<Verdict> = None;

    for (index, envelope) in batch.iter().enumerate() {
        if !matches!(states[index], State::Pending) || !include(envelope) {
            continue;
        }
        event.clear();
        let encoded = format.encode(envelope, &mut event).and_then(|count| {
            if F::OPEN.len() + event.len() + F::CLOSE.len() > F::MAX_BODY_BYTES {
                Err(format!(
                    "event of {} bytes cannot fit in a request of at most {} bytes",
                    event.len(),
                    F::MAX_BODY_BYTES
                ))
            } else if count > F::MAX_EVENTS {
                Err(format!(
                    "{count} records cannot fit in a request of at most {}",
                    F::MAX_EVENTS
                ))
            } else {
                Ok(count)
            }
        });
        let count = match encoded {
            Ok(count) => count,
            Err(reason) => {
                // Name, insert id and reason only: never a property value.
                tracing::warn!(
                    destination = F::NAME,
                    event = envelope.event,
                    insert_id = %envelope.insert_id,
                    "event dropped and counted as failed, never sent: {reason}"
                );
                states[index] = State::Failed(reason);
                continue;
            }
        };
        let full = records.iter().sum::<usize>() + count > F::MAX_EVENTS
            || body.len() + 1 + event.len() + F::CLOSE.len() > F::MAX_BODY_BYTES;
        if full && !members.is_empty() {
            if let Some(stop) = send_request(
                format,
                batch,
                (&members, &records),
                &mut body,
                states,
                &mut deferred,
            ) {
                return Some(stop);
            }
            members.clear();
            records.clear();
        }
        if members.is_empty() {
            body.clear();
            body.extend_from_slice(F::OPEN);
        } else {
            body.push(b',');
        }
        body.extend_from_slice(&event);
        members.push(index);
        records.push(count);
    }
    if !members.is_empty()
        && let Some(stop) = send_request(
            format,
            batch,
            (&members, &records),
            &mut body,
            states,
            &mut deferred,
        )
    {
        return Some(stop);
    }
    deferred
}

/// Sends the request in `body` (its events at `members`, each written as `records` records),
/// records the verdict in `states`, and returns it when it ends the attempt.
fn send_request<F: WireFormat>(
    format: &mut F,
    batch: &[Envelope],
    (members, records): (&[usize], &[usize]),
    body: &mut Vec<u8>,
    states: &mut [State],
    deferred: &mut Option<Verdict>,
) -> Option<Verdict> {
    body.extend_from_slice(F::CLOSE);
    let envelopes: Vec<&Envelope> = members.iter().map(|&i| &batch[i]).collect();
    match format.send(body, &envelopes) {
        Verdict::Accepted => {
            for &i in members {
                states[i] = State::Accepted;
            }
            None
        }
        Verdict::Partial(rejected) => {
            for &i in members {
                states[i] = State::Accepted;
            }
            for (position, reason) in rejected {
                // An event one of whose records failed failed, even if its others were applied.
                if let Some(i) = member_at(members, records, position)
                    && !matches!(states[i], State::Failed(_))
                {
                    states[i] = State::Failed(reason);
                }
            }
            None
        }
        Verdict::RetrySome {
            retry,
            failed,
            reason,
            after,
        } => {
            for &i in members {
                states[i] = State::Accepted;
            }
            for (position, reason) in failed {
                if let Some(i) = member_at(members, records, position) {
                    states[i] = State::Failed(reason);
                }
            }
            for position in retry {
                if let Some(i) = member_at(members, records, position)
                    && !matches!(states[i], State::Failed(_))
                {
                    states[i] = State::Pending;
                }
            }
            let longest = match deferred.take() {
                Some(Verdict::Retry { after: before, .. }) => before.max(after),
                _ => after,
            };
            *deferred = Some(Verdict::Retry {
                reason,
                after: longest,
            });
            None
        }
        stop @ (Verdict::Retry { .. } | Verdict::Failed(_)) => Some(stop),
    }
}

/// The position in `batch` of the event that wrote the record at `position` of a request
/// whose events at `members` wrote `records` records each.
fn member_at(members: &[usize], records: &[usize], position: usize) -> Option<usize> {
    let mut end = 0;
    let member = records.iter().position(|&n| {
        end += n;
        position < end
    })?;
    members.get(member).copied()
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters pass through).
pub(crate) fn query_value(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// The members of a JSON object's text (`{…}` → the text between the braces, trimmed), or
/// `None` when `object` is not braced. Not a full parse: the runtime built the text.
pub(crate) fn object_members(object: &str) -> Option<&str> {
    let inner = object.trim().strip_prefix('{')?.strip_suffix('}')?;
    Some(inner.trim())
}

/// Calls `at` with the position and byte of every `:` and `,` of an object's inner text (as
/// [`object_members`] returns it) that stands outside strings and nested values: the places
/// where its members and their keys end.
fn top_level_separators(members: &str, mut at: impl FnMut(usize, u8)) {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in members.as_bytes().iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b':' | b',' if depth == 0 => at(i, b),
            _ => {}
        }
    }
}

/// Counts the top-level members of an object's inner text (as [`object_members`] returns it)
/// by scanning for commas outside strings and nested values.
pub(crate) fn count_members(members: &str) -> usize {
    if members.is_empty() {
        return 0;
    }
    let mut count = 1;
    top_level_separators(members, |_, b| {
        if b == b',' {
            count += 1;
        }
    });
    count
}

/// The top-level members of an object's inner text (as [`object_members`] returns it), each as
/// its key's JSON string text (with quotes) and its value's text, both trimmed. Not a full
/// parse: the runtime built the text.
pub(crate) fn split_members(members: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let (mut start, mut colon) = (0usize, None);
    top_level_separators(members, |i, b| match b {
        b':' if colon.is_none() => colon = Some(i),
        b',' => {
            if let Some(c) = colon.take() {
                out.push((members[start..c].trim(), members[c + 1..i].trim()));
            }
            start = i + 1;
        }
        _ => {}
    });
    if let Some(c) = colon {
        out.push((members[start..c].trim(), members[c + 1..].trim()));
    }
    out
}

/// Appends an id given as JSON value text (a group's id) as a JSON string, which is what
/// Mixpanel's `$group_id` and Segment's `groupId` must be: a string as it is, any other value
/// (a number) as its text in quotes.
pub(crate) fn write_id_string(out: &mut Vec<u8>, id: &str) {
    let id = id.trim();
    if id.starts_with('"') {
        out.extend_from_slice(id.as_bytes());
    } else {
        crate::value::write_json_str(out, id);
    }
}

/// Maps a transport failure to a retry: connection errors and timeouts are worth trying again.
pub(crate) fn retry_on(error: &TransportError, destination: &str) -> Verdict {
    Verdict::Retry {
        reason: format!("{destination}: {error}"),
        after: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::plan::PurposeSet;

    fn envelope(id: usize, properties: &str) -> Envelope {
        Envelope {
            message: crate::Message::TRACK,
            event: "Thing Happened",
            insert_id: format!("id-{id}"),
            time_ms: 1_700_000_000_000,
            distinct_id: "d".into(),
            plan: fixture::plan("test").build(),
            purposes: PurposeSet::EMPTY,
            properties: properties.into(),
        }
    }

    /// A format whose responses come from a script, recording what it was sent.
    struct Scripted {
        verdicts: Vec<Verdict>,
        sent: Vec<Vec<String>>,
    }

    impl WireFormat for Scripted {
        const MAX_EVENTS: usize = 3;
        const MAX_BODY_BYTES: usize = 64;
        const OPEN: &'static [u8] = b"[";
        const CLOSE: &'static [u8] = b"]";
        const NAME: &'static str = "scripted";

        fn encode(&mut self, envelope: &Envelope, out: &mut Vec<u8>) -> Result<usize, String> {
            if &*envelope.properties == "bad" {
                return Err("bad".into());
            }
            if &*envelope.properties == "two" {
                out.extend_from_slice(b"{},{}");
                return Ok(2);
            }
            out.extend_from_slice(envelope.properties.as_bytes());
            Ok(1)
        }

        fn send(&mut self, body: &[u8], members: &[&Envelope]) -> Verdict {
            let parsed: serde_json::Value = serde_json::from_slice(body).expect("valid JSON body");
            let doubled = members.iter().filter(|e| &*e.properties == "two").count();
            assert_eq!(
                parsed.as_array().map(Vec::len),
                Some(members.len() + doubled)
            );
            assert!(body.len() <= Self::MAX_BODY_BYTES);
            self.sent
                .push(members.iter().map(|e| e.insert_id.clone()).collect());
            if self.verdicts.is_empty() {
                Verdict::Accepted
            } else {
                self.verdicts.remove(0)
            }
        }
    }

    fn scripted(verdicts: Vec<Verdict>) -> Scripted {
        Scripted {
            verdicts,
            sent: Vec::new(),
        }
    }

    #[test]
    fn splits_by_count_and_bytes() {
        let mut format = scripted(vec![]);
        let batch: Vec<Envelope> = (0..7).map(|i| envelope(i, "{}")).collect();
        let outcome = deliver_packed(&mut format, &mut Settled::default(), &batch);
        assert_eq!(outcome, Outcome::Delivered);
        let sizes: Vec<usize> = format.sent.iter().map(Vec::len).collect();
        assert_eq!(sizes, [3, 3, 1]);

        let mut format = scripted(vec![]);
        let big = format!("{{\"k\":\"{}\"}}", "x".repeat(20)); // 28 bytes: two per request
        let batch: Vec<Envelope> = (0..5).map(|i| envelope(i, &big)).collect();
        assert_eq!(
            deliver_packed(&mut format, &mut Settled::default(), &batch),
            Outcome::Delivered
        );
        let sizes: Vec<usize> = format.sent.iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 2, 1]);
    }

    #[test]
    fn drops_unencodable_and_oversized_events_without_sending_them() {
        let mut format = scripted(vec![]);
        let huge = format!("{{\"k\":\"{}\"}}", "x".repeat(80));
        let batch = vec![
            envelope(0, "{}"),
            envelope(1, "bad"),
            envelope(2, &huge),
            envelope(3, "{}"),
        ];
        let outcome = deliver_packed(&mut format, &mut Settled::default(), &batch);
        let Outcome::Partial { failed } = outcome else {
            panic!("expected a partial outcome, got {outcome:?}");
        };
        assert_eq!(failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(format.sent, [vec!["id-0".to_string(), "id-3".to_string()]]);
    }

    #[test]
    fn retry_after_partial_progress_resends_only_the_rest() {
        let mut settled = Settled::default();
        let batch: Vec<Envelope> = (0..7).map(|i| envelope(i, "{}")).collect();
        let mut format = scripted(vec![
            Verdict::Partial(vec![(1, "nope".into())]),
            Verdict::Retry {
                reason: "503".into(),
                after: Some(Duration::from_secs(3)),
            },
        ]);
        let outcome = deliver_packed(&mut format, &mut settled, &batch);
        assert_eq!(
            outcome,
            Outcome::Retry {
                reason: "503".into(),
                after: Some(Duration::from_secs(3))
            }
        );
        assert_eq!(format.sent.len(), 2);

        let mut format = scripted(vec![]);
        let outcome = deliver_packed(&mut format, &mut settled, &batch);
        // The failure of the first attempt is still reported; only unsettled events are sent.
        assert_eq!(
            outcome,
            Outcome::Partial {
                failed: vec![(1, "nope".into())]
            }
        );
        let resent: Vec<String> = format.sent.concat();
        assert_eq!(resent, ["id-3", "id-4", "id-5", "id-6"]);
        assert!(
            settled.by_insert_id.is_empty(),
            "settled entries are dropped once reported"
        );
    }

    #[test]
    fn retry_some_sends_the_other_requests_then_retries_only_the_held_events() {
        let mut settled = Settled::default();
        let batch: Vec<Envelope> = (0..7).map(|i| envelope(i, "{}")).collect();
        let mut format = scripted(vec![Verdict::RetrySome {
            retry: vec![1],
            failed: vec![(2, "over quota".into())],
            reason: "throttled".into(),
            after: Some(Duration::from_secs(30)),
        }]);
        let outcome = deliver_packed(&mut format, &mut settled, &batch);
        assert_eq!(
            outcome,
            Outcome::Retry {
                reason: "throttled".into(),
                after: Some(Duration::from_secs(30))
            }
        );
        assert_eq!(
            format.sent.len(),
            3,
            "the batch's other requests still went out"
        );

        let mut format = scripted(vec![]);
        let outcome = deliver_packed(&mut format, &mut settled, &batch);
        assert_eq!(
            outcome,
            Outcome::Partial {
                failed: vec![(2, "over quota".into())]
            }
        );
        assert_eq!(
            format.sent,
            [vec!["id-1".to_string()]],
            "only the held event"
        );
    }

    #[test]
    fn permanent_failure_fails_the_rest_of_the_batch() {
        let batch: Vec<Envelope> = (0..5).map(|i| envelope(i, "{}")).collect();
        let mut format = scripted(vec![Verdict::Failed("401".into())]);
        let outcome = deliver_packed(&mut format, &mut Settled::default(), &batch);
        assert_eq!(
            outcome,
            Outcome::Failed {
                reason: "401".into()
            }
        );
        assert_eq!(
            format.sent.len(),
            1,
            "nothing is sent after a permanent error"
        );

        let mut format = scripted(vec![Verdict::Accepted, Verdict::Failed("401".into())]);
        let outcome = deliver_packed(&mut format, &mut Settled::default(), &batch);
        let Outcome::Partial { failed } = outcome else {
            panic!("expected partial, got {outcome:?}");
        };
        assert_eq!(failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [3, 4]);
    }

    #[test]
    fn envelopes_of_several_records_count_and_fail_as_one() {
        let mut format = scripted(vec![Verdict::Partial(vec![(3, "nope".into())])]);
        let batch = vec![envelope(0, "{}"), envelope(1, "two"), envelope(2, "two")];
        // 5 records: a request holds 3, so the third envelope goes in a second one.
        let outcome = deliver_packed(&mut format, &mut Settled::default(), &batch);
        assert_eq!(format.sent, [vec!["id-0", "id-1"], vec!["id-2"]]);
        assert_eq!(
            outcome,
            Outcome::Delivered,
            "record 3 is beyond the first request"
        );

        let mut format = scripted(vec![Verdict::Partial(vec![(2, "nope".into())])]);
        let outcome = deliver_packed(&mut format, &mut Settled::default(), &batch);
        assert_eq!(
            outcome,
            Outcome::Partial {
                failed: vec![(1, "nope".into())]
            },
            "record 2 is the second of envelope 1"
        );
    }

    #[test]
    fn an_attempt_across_formats_retries_only_what_is_unsettled() {
        let batch: Vec<Envelope> = (0..6).map(|i| envelope(i, "{}")).collect();
        let even = |e: &Envelope| e.insert_id.ends_with(['0', '2', '4']);
        let odd = |e: &Envelope| !even(e);
        let mut settled = Settled::default();
        let mut first = scripted(vec![Verdict::Partial(vec![(1, "bad".into())])]);
        let mut second = scripted(vec![Verdict::Retry {
            reason: "503".into(),
            after: None,
        }]);
        let mut attempt = Attempt::new(&settled, &batch);
        let retry = attempt
            .send(&mut first, even)
            .or_else(|| attempt.send(&mut second, odd));
        let outcome = attempt.finish(&mut settled, retry);
        assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");

        let mut first = scripted(vec![]);
        let mut second = scripted(vec![]);
        let mut attempt = Attempt::new(&settled, &batch);
        let retry = attempt
            .send(&mut first, even)
            .or_else(|| attempt.send(&mut second, odd));
        assert_eq!(
            attempt.finish(&mut settled, retry),
            Outcome::Partial {
                failed: vec![(2, "bad".into())]
            }
        );
        assert!(
            first.sent.is_empty(),
            "the first format's events were settled"
        );
        assert_eq!(second.sent.concat(), ["id-1", "id-3", "id-5"]);

        // A permanent failure of one format fails its events only.
        let mut first = scripted(vec![Verdict::Failed("401".into())]);
        let mut second = scripted(vec![]);
        let mut attempt = Attempt::new(&settled, &batch);
        let retry = attempt
            .send(&mut first, even)
            .or_else(|| attempt.send(&mut second, odd));
        let Outcome::Partial { failed } = attempt.finish(&mut settled, retry) else {
            panic!("partial");
        };
        assert_eq!(
            failed.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            [0, 2, 4]
        );
        assert_eq!(second.sent.concat(), ["id-1", "id-3", "id-5"]);
    }

    #[test]
    fn an_attempt_waits_for_the_longest_retry_after_asked() {
        let secs = |s| Some(Duration::from_secs(s));
        let retry = |r: &str, after| Some((r.to_owned(), after));
        assert_eq!(
            sooner_or_later(retry("503", secs(2)), retry("429", secs(9))),
            retry("503", secs(9))
        );
        assert_eq!(
            sooner_or_later(retry("503", None), retry("429", secs(3))),
            retry("503", secs(3))
        );
        assert_eq!(
            sooner_or_later(None, retry("429", None)),
            retry("429", None)
        );
        assert_eq!(sooner_or_later(None, None), None);
    }

    #[test]
    fn retry_after_forms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770); // Sun, 06 Nov 1994 08:49:30
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now),
            None
        );
    }

    #[test]
    fn retry_after_dates_of_any_year_never_overflow() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770);
        for year in [
            i64::MAX,
            i64::MIN,
            i64::MAX / 146_097,
            -1,
            0,
            584_554_051_223,
        ] {
            let value = format!("Sun, 06 Nov {year} 08:49:37 GMT");
            // Far past: now; too far ahead for a u64 of seconds: refused.
            let parsed = parse_retry_after(&value, now);
            assert!(
                parsed.is_none() || year <= 1994 || parsed > Some(Duration::from_secs(1 << 40)),
                "{value}: {parsed:?}"
            );
        }
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn members_are_counted_outside_strings_and_nesting() {
        assert_eq!(count_members(""), 0);
        assert_eq!(count_members(r#""a":1"#), 1);
        assert_eq!(
            count_members(r#""a":1,"b,c":"x,\",y","d":[1,2,{"e":3,"f":4}]"#),
            3
        );
        assert_eq!(object_members(" { \"a\":1 } "), Some("\"a\":1"));
        assert_eq!(object_members("[1]"), None);
        assert_eq!(
            split_members(r#""a":1, "b,c" : "x,\":y" ,"d":[1,{"e":2}]"#),
            [
                (r#""a""#, "1"),
                (r#""b,c""#, r#""x,\":y""#),
                (r#""d""#, r#"[1,{"e":2}]"#)
            ]
        );
        assert!(split_members("").is_empty());
    }

    #[test]
    fn auth_and_query_encoding() {
        assert_eq!(basic_auth("token", ""), "Basic dG9rZW46");
        assert_eq!(basic_auth("user", "pa:ss"), "Basic dXNlcjpwYTpzcw==");
        assert_eq!(query_value("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "[redacted]");
    }

    #[test]
    fn gzip_round_trips() {
        use std::io::Read as _;
        let body = b"[{\"event\":\"x\"}]".repeat(100);
        let compressed = gzip(&body);
        assert!(compressed.len() < body.len() / 4);
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_end(&mut back)
            .expect("valid gzip");
        assert_eq!(back, body);
    }
}
