//! The one backoff rule, and the decision what to do after a delivery attempt asked to be
//! retried: pure functions, so both are tested without I/O or a clock.
//!
//! Retry number `n` (1-based) waits `initial_backoff · 2ⁿ⁻¹`, capped at `max_backoff`, plus a
//! random extra of up to a fifth of that (so processes that failed together do not retry
//! together), and never less than the destination's `Retry-After`. The wait is never shorter
//! than the backoff itself: with the defaults (1 s doubling to 60 s) the first retry comes
//! after 1–1.2 s, the second after 2–2.4 s. Event batches (the workers) and privacy requests
//! (the Mixpanel sink) follow this same rule.

use std::time::Duration;

use crate::sink::RetryPolicy;

/// What to do with a batch whose attempt asked to be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Try again after this long.
    RetryAfter(Duration),
    /// The retries ran out: the batch's events fail.
    GiveUp,
}

/// The step after a retryable failure, when `retries_done` retries already happened.
/// `jitter_permille` (0..1000) picks the point in the jitter span; callers pass
/// [`jitter_permille`].
pub(crate) fn next_step(
    policy: &RetryPolicy,
    retries_done: u32,
    retry_after: Option<Duration>,
    jitter_permille: u32,
) -> Step {
    let retry = retries_done.saturating_add(1);
    if retry > policy.max_retries {
        return Step::GiveUp;
    }
    Step::RetryAfter(wait(policy, retry, retry_after, jitter_permille))
}

/// The wait before retry number `retry` (1-based): see the module documentation.
pub(crate) fn wait(
    policy: &RetryPolicy,
    retry: u32,
    retry_after: Option<Duration>,
    jitter_permille: u32,
) -> Duration {
    let base = policy.backoff(retry);
    let jitter = base.mul_f64(f64::from(jitter_permille.min(1000)) / 5000.0);
    (base + jitter).max(retry_after.unwrap_or_default())
}

/// A number in 0..1000 that differs between calls and processes; jitter needs no more.
pub(crate) fn jitter_permille() -> u32 {
    match getrandom::u64() {
        Ok(n) => (n % 1000) as u32,
        // Without OS randomness the jitter is lost, not the retry.
        Err(_) => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy {
        initial_backoff: Duration::from_secs(2),
        max_backoff: Duration::from_secs(60),
        max_retries: 7,
    };

    #[test]
    fn waits_double_to_the_cap_never_below_the_backoff() {
        let expected = [2, 4, 8, 16, 32, 60, 60];
        for (retry, secs) in (1..).zip(expected) {
            let base = Duration::from_secs(secs);
            assert_eq!(wait(&POLICY, retry, None, 0), base, "retry {retry}");
            assert_eq!(wait(&POLICY, retry, None, 1000), base + base / 5);
            assert!(wait(&POLICY, retry, None, jitter_permille()) >= base);
        }
    }

    #[test]
    fn retry_after_is_honoured_when_longer() {
        let after = Some(Duration::from_secs(30));
        assert_eq!(wait(&POLICY, 1, after, 1000), Duration::from_secs(30));
        assert_eq!(
            wait(&POLICY, 5, after, 0),
            Duration::from_secs(32),
            "a shorter Retry-After does not shorten the backoff"
        );
    }

    #[test]
    fn the_last_retry_is_the_policys_and_then_it_gives_up() {
        assert_eq!(
            next_step(&POLICY, 0, None, 0),
            Step::RetryAfter(Duration::from_secs(2))
        );
        assert_eq!(
            next_step(&POLICY, 6, None, 0),
            Step::RetryAfter(Duration::from_secs(60))
        );
        assert_eq!(next_step(&POLICY, 7, None, 0), Step::GiveUp);
        assert_eq!(next_step(&RetryPolicy::NEVER, 0, None, 0), Step::GiveUp);
    }
}
