//! One call to a third party's privacy API (a deletion, a suppression, an access request):
//! paced to the API's documented rate per credential, and retried by the one backoff rule while
//! the API is unavailable. The Amplitude User Privacy and DSAR APIs and the regulations APIs of
//! Segment-compatible collectors make their calls through it.

use crate::http::{Client, Response, TransportError};
use crate::sink::RetryPolicy;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// An API a call goes to, for pacing and for the reasons it reports.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PrivacyEndpoint {
    /// Names the API in reasons and logs (`"Amplitude's User Privacy API"`).
    pub name: &'static str,
    /// Shortest time between two calls with one credential.
    pub interval: Duration,
    /// What a refusal (a 4xx other than 429) means, by status: what to check.
    pub refusal: fn(u16) -> &'static str,
}

/// What one try of a privacy API call came to.
pub(crate) enum Try<E> {
    /// The answer to return.
    Done(Response),
    /// The API is unavailable for now: why, and the wait it asked for (`Retry-After`).
    Again(String, Option<Duration>),
    /// A refusal: no point trying again.
    Stop(E),
}

/// Why a retried call returned no answer.
pub(crate) enum GaveUp<E> {
    /// A try ended in [`Try::Stop`].
    Stopped(E),
    /// Every try found the API unavailable; `reason` is the last one's.
    Unavailable {
        /// How many tries were made.
        attempts: u32,
        /// Why the last one failed.
        reason: String,
    },
}

/// The paced, retried loop of every privacy API call here (this module's, Mixpanel's GDPR
/// API, PostHog's persons API): before each of up to `retry.max_retries + 1` tries, sleeps
/// `pace()` (the API's turn); after a [`Try::Again`], calls `warn(attempt, wait, reason)` and
/// sleeps the backoff `retry` gives (at least the wait the API asked for).
pub(crate) fn retried<E>(
    retry: &RetryPolicy,
    pace: impl Fn() -> Duration,
    mut attempt: impl FnMut() -> Try<E>,
    warn: impl Fn(u32, Duration, &str),
) -> Result<Response, GaveUp<E>> {
    let attempts = retry.max_retries.saturating_add(1);
    let mut last_failure = String::new();
    for n in 0..attempts {
        std::thread::sleep(pace());
        let retry_after = match attempt() {
            Try::Done(response) => return Ok(response),
            Try::Stop(refusal) => return Err(GaveUp::Stopped(refusal)),
            Try::Again(failure, retry_after) => {
                last_failure = failure;
                retry_after
            }
        };
        if n + 1 < attempts {
            let wait =
                crate::retry::wait(retry, n + 1, retry_after, crate::retry::jitter_permille());
            warn(n + 1, wait, &last_failure);
            std::thread::sleep(wait);
        }
    }
    Err(GaveUp::Unavailable {
        attempts,
        reason: last_failure,
    })
}

/// Makes one call (`send`, given the client), waiting its turn in the pacing of `credential`
/// at `endpoint`, retrying 429, 5xx and transport failures under `retry` (a `Retry-After` is
/// honoured). Returns a 2xx response, or why there is none: the reason names the API and the
/// status, never an id or a credential.
pub(crate) fn call(
    client: &Client,
    endpoint: PrivacyEndpoint,
    credential: &str,
    retry: &RetryPolicy,
    send: impl Fn(&Client) -> Result<Response, TransportError>,
) -> Result<Response, String> {
    retried(
        retry,
        || turn(endpoint, credential),
        || match send(client) {
            Ok(response) if (200..300).contains(&response.status) => Try::Done(response),
            Ok(response) if response.status == 429 || response.status >= 500 => Try::Again(
                format!("{} answered {}", endpoint.name, response.status),
                response.retry_after,
            ),
            Ok(response) => Try::Stop(format!(
                "{} refused the request ({}): {}",
                endpoint.name,
                response.status,
                (endpoint.refusal)(response.status)
            )),
            Err(error) => Try::Again(format!("{}: {error}", endpoint.name), None),
        },
        |attempt, wait, failure| {
            tracing::warn!(
                api = endpoint.name,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "privacy API unavailable, retrying: {failure}"
            );
        },
    )
    .map_err(|gave_up| match gave_up {
        GaveUp::Stopped(reason) => reason,
        GaveUp::Unavailable { attempts, reason } => {
            format!("unavailable after {attempts} attempts: {reason}")
        }
    })
}

/// [`call`] with one `POST` of a JSON `body` to `url`, authorized by `authorization`, asking
/// for a JSON answer: the request every JSON privacy API here takes.
pub(crate) fn post_json(
    client: &Client,
    endpoint: PrivacyEndpoint,
    credential: &str,
    retry: &RetryPolicy,
    url: &str,
    authorization: &str,
    body: &str,
) -> Result<Response, String> {
    call(client, endpoint, credential, retry, |client| {
        client.post(
            url,
            &[
                ("Authorization", authorization),
                ("Content-Type", "application/json"),
                ("Accept", "application/json"),
            ],
            body.as_bytes(),
        )
    })
}

/// Reserves the next slot of `credential`'s pacing at `endpoint` (across every sink of the
/// process) and returns how long to wait for it. Credentials are held only in this process's
/// memory.
fn turn(endpoint: PrivacyEndpoint, credential: &str) -> Duration {
    static NEXT_CALL: Mutex<Option<HashMap<(&'static str, String), Instant>>> = Mutex::new(None);
    let now = Instant::now();
    let mut next = NEXT_CALL.lock().unwrap_or_else(PoisonError::into_inner);
    let slot = next
        .get_or_insert_with(HashMap::new)
        .entry((endpoint.name, credential.to_owned()))
        .or_insert(now);
    let at = (*slot).max(now);
    *slot = at + endpoint.interval;
    at - now
}

/// The JSON body of a response, or `Null` when it is not JSON.
pub(crate) fn json(response: &Response) -> serde_json::Value {
    serde_json::from_slice(&response.body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_are_paced_per_endpoint_and_credential() {
        let endpoint = PrivacyEndpoint {
            name: "test pacing",
            interval: Duration::from_secs(5),
            refusal: |_| "",
        };
        assert_eq!(turn(endpoint, "a"), Duration::ZERO);
        let second = turn(endpoint, "a");
        assert!(second > Duration::from_secs(4), "{second:?}");
        assert_eq!(turn(endpoint, "b"), Duration::ZERO, "another credential");
    }
}
