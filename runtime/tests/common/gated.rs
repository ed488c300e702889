//! A sink whose deliveries wait at a gate the test opens and closes, answering from a script of
//! outcomes: the tests use it to hold a destination while events queue, and to fail on cue.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use trackplan_runtime::config::{BatchLimits, RetryPolicy};
use trackplan_runtime::requests::Erasure;
use trackplan_runtime::{Envelope, Outcome, Sink};

/// A sink with a gate: `deliver` blocks while the gate is closed, and a script of outcomes
/// (then `Delivered`). Records what it delivered and each call.
#[derive(Clone, Default)]
pub struct Gated {
    inner: Arc<(Mutex<GateState>, Condvar)>,
}

#[derive(Default)]
struct GateState {
    closed: bool,
    waiting: usize,
    script: VecDeque<Outcome>,
    delivered: Vec<Envelope>,
    calls: usize,
    retry: Option<RetryPolicy>,
    max_events: Option<usize>,
    max_bytes: Option<usize>,
    batch_sizes: Vec<usize>,
    flushes: usize,
}

impl Gated {
    pub fn new() -> Gated {
        Gated::default()
    }

    pub fn closed() -> Gated {
        let g = Gated::default();
        g.close();
        g
    }

    pub fn with_retry(self, policy: RetryPolicy) -> Gated {
        self.state().retry = Some(policy);
        self
    }

    pub fn with_max_events(self, n: usize) -> Gated {
        self.state().max_events = Some(n);
        self
    }

    pub fn with_max_bytes(self, n: usize) -> Gated {
        self.state().max_bytes = Some(n);
        self
    }

    /// The number of events of each `deliver` call, in order.
    pub fn batch_sizes(&self) -> Vec<usize> {
        self.state().batch_sizes.clone()
    }

    pub fn script(&self, outcomes: impl IntoIterator<Item = Outcome>) {
        self.state().script.extend(outcomes);
    }

    fn state(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn close(&self) {
        self.state().closed = true;
    }

    pub fn open(&self) {
        self.state().closed = false;
        self.inner.1.notify_all();
    }

    /// Waits (bounded) until a delivery is blocked at the gate.
    pub fn wait_until_blocked(&self) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut st = self.state();
        while st.waiting == 0 {
            let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) else {
                return false;
            };
            st = self
                .inner
                .1
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    pub fn delivered(&self) -> Vec<Envelope> {
        self.state().delivered.clone()
    }

    pub fn calls(&self) -> usize {
        self.state().calls
    }

    pub fn flushes(&self) -> usize {
        self.state().flushes
    }
}

impl Sink for Gated {
    fn declaration(&self) -> trackplan_runtime::config::SinkDeclaration {
        trackplan_runtime::config::SinkDeclaration::InProcess
    }

    fn limits(&self) -> BatchLimits {
        let mut l = BatchLimits::default();
        if let Some(n) = self.state().max_events {
            l.max_events = n;
        }
        if let Some(n) = self.state().max_bytes {
            l.max_bytes = n;
        }
        l
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.state().retry.unwrap_or_default()
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        let (lock, cv) = &*self.inner;
        let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
        st.calls += 1;
        st.batch_sizes.push(batch.len());
        st.waiting += 1;
        cv.notify_all();
        while st.closed {
            st = cv.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.waiting -= 1;
        let outcome = st.script.pop_front().unwrap_or(Outcome::Delivered);
        match &outcome {
            Outcome::Delivered => st.delivered.extend_from_slice(batch),
            Outcome::Partial { failed } => {
                let bad: Vec<usize> = failed.iter().map(|(i, _)| *i).collect();
                st.delivered.extend(
                    batch
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !bad.contains(i))
                        .map(|(_, e)| e.clone()),
                );
            }
            _ => {}
        }
        outcome
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.state().flushes += 1;
        Ok(())
    }

    fn erase(&mut self, ids: &[String]) -> Erasure {
        self.state()
            .delivered
            .retain(|e| !ids.iter().any(|i| **i == *e.distinct_id));
        Erasure::Erased
    }
}
