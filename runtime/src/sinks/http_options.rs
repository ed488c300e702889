//! What every HTTP sink keeps to deliver, the same for Mixpanel, Segment, Amplitude and
//! PostHog: its timeouts, its connection (made at first use, made again after a timeout
//! changes), what earlier attempts of a retried batch settled, and its retry policy; and the
//! builder methods that set the timeouts, which those sinks share word for word.

use crate::http::{Client, Settled, Timeouts};
use crate::sink::RetryPolicy;
use std::time::Duration;

/// The delivery state and settings one HTTP sink keeps (its field `http`).
#[derive(Debug)]
pub(crate) struct HttpOptions {
    timeouts: Timeouts,
    client: Option<Client>,
    settled: Settled,
    /// How failed requests are retried; the sink's `retry_policy` builder sets it.
    pub(crate) retry: RetryPolicy,
}

impl HttpOptions {
    /// Default timeouts (10 s connect, 30 s request), no connection yet, this retry policy.
    pub(crate) fn new(retry: RetryPolicy) -> Self {
        HttpOptions {
            timeouts: Timeouts::default(),
            client: None,
            settled: Settled::default(),
            retry,
        }
    }

    /// Sets the request timeout; the next request makes a connection with it.
    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeouts.request = timeout;
        self.client = None;
    }

    /// Sets the connect timeout; the next request makes a connection with it.
    pub(crate) fn set_connect_timeout(&mut self, timeout: Duration) {
        self.timeouts.connect = timeout;
        self.client = None;
    }

    /// The sink's own client, made at first use.
    pub(crate) fn client(&mut self) -> &Client {
        let timeouts = self.timeouts;
        self.client.get_or_insert_with(|| Client::new(timeouts))
    }

    /// What one delivery works with: the sink's client (made at first use) and what earlier
    /// attempts settled.
    pub(crate) fn delivery(&mut self) -> (&Client, &mut Settled) {
        let timeouts = self.timeouts;
        let client = self.client.get_or_insert_with(|| Client::new(timeouts));
        (client, &mut self.settled)
    }

    /// A client of its own with the same timeouts, for a privacy handle whose slow, paced
    /// calls must not hold up deliveries.
    pub(crate) fn separate_client(&self) -> Client {
        Client::new(self.timeouts)
    }
}

/// The `timeout` and `connect_timeout` builder methods of an HTTP sink whose [`HttpOptions`]
/// is its field `http`, expanded inside the sink's `impl` block.
macro_rules! timeout_builders {
    () => {
        /// Longest a whole request may take (connect, send, response). Default 30 s.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.http.set_timeout(timeout);
            self
        }

        /// Longest connecting may take (DNS, TCP, TLS). Default 10 s.
        pub fn connect_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.http.set_connect_timeout(timeout);
            self
        }
    };
}
pub(crate) use timeout_builders;
