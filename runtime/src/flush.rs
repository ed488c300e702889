//! Flushing and shutting down: waiting until every destination settled what was accepted
//! before, and what each delivered and failed meanwhile.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use crate::pipeline::Pipeline;
use crate::queue::Lifecycle;
use crate::stats::Counts;

/// Why `flush` or `shutdown` did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlushError {
    /// The deadline passed with events still pending; they stay queued (or, at shutdown, count
    /// as failed).
    #[error("{pending} event(s) were still pending after {waited:?}")]
    Timeout {
        /// Events (per destination) not settled.
        pending: u64,
        /// How long it waited.
        waited: Duration,
    },
    /// Events failed for good at a destination since the previous flush: it rejected them
    /// (e.g. 401: the credentials were rejected) or their retries ran out. The report has
    /// every destination's counts; `stats()` has each one's health.
    #[error(
        "{events} event(s) failed for good at destination `{destination}` since the last \
         flush: {reason}"
    )]
    Failed {
        /// The destination's plan id (the first one with failures, in plan order).
        destination: &'static str,
        /// How many of its events failed since the previous flush.
        events: u64,
        /// The latest failure's reason, as the sink gave it.
        reason: String,
        /// What every destination delivered, failed and has pending.
        report: FlushReport,
    },
    /// A sink could not make its data durable.
    #[error("flushing destination `{destination}` failed: {reason}")]
    Sink {
        /// The destination's plan id.
        destination: &'static str,
        /// The I/O error.
        reason: String,
    },
    /// Events of another plan were handed to this tracker since the last flush that reported
    /// them, and dropped (none of their data left the process). It happens when two crates of
    /// one workspace were built against different plans, or different contents of the same
    /// plan file (equal labels, different hashes): build them from one plan file. Each event
    /// is also counted in [`Stats::dropped_wrong_plan`](crate::stats::Stats::dropped_wrong_plan).
    #[error(
        "{events} event(s) of plan {event_plan} (hash {event_plan_hash}) were dropped since the \
         last flush: this tracker runs plan {plan} (hash {plan_hash}); build every crate from \
         the same plan file"
    )]
    WrongPlan {
        /// The label (`name@version`) of the first other plan whose events were dropped.
        event_plan: &'static str,
        /// That plan's hash.
        event_plan_hash: &'static str,
        /// The label of the tracker's own plan.
        plan: &'static str,
        /// The tracker's plan hash.
        plan_hash: &'static str,
        /// How many events of other plans were dropped since the last report.
        events: u64,
        /// What every destination delivered, failed and has pending.
        report: FlushReport,
    },
    /// The tracker was shut down.
    #[error("the tracker was shut down")]
    Closed,
}

/// What [`Tracker::flush`](crate::Tracker::flush) saw: per destination, in plan order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlushReport {
    /// Each destination's plan id and counts.
    pub destinations: Vec<(&'static str, DestinationFlush)>,
}

impl FlushReport {
    /// The counts of one destination, by plan id.
    pub fn destination(&self, id: &str) -> Option<&DestinationFlush> {
        self.destinations
            .iter()
            .find(|(d, _)| *d == id)
            .map(|(_, c)| c)
    }
}

/// One destination's part of a [`FlushReport`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationFlush {
    /// Events delivered since the previous flush.
    pub delivered: u64,
    /// Events that failed for good since the previous flush.
    pub failed: u64,
    /// Events still pending now (queued, being delivered or waiting to retry): with the
    /// flush complete, those tracked meanwhile.
    pub pending: u64,
}

impl Pipeline {
    pub(crate) fn flush(&self, timeout: Duration) -> Result<FlushReport, FlushError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut st = self.shared.lock();
        if !st.accepting() {
            return Err(FlushError::Closed);
        }
        let generation = st.request_flush();
        self.shared.wake_all();
        while !st.flushed(generation) {
            if st.lifecycle() == Lifecycle::Stopped {
                return Err(FlushError::Closed);
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                drop(st);
                return Err(FlushError::Timeout {
                    pending: self.shared.stats.snapshot().total.pending(),
                    waited: started.elapsed(),
                });
            };
            st = self.shared.wait_progress(st, left);
        }
        let (sink_error, failures) = st.flush_results();
        drop(st);
        let report = self.report();
        if let Some((d, reason)) = sink_error {
            return Err(FlushError::Sink {
                destination: self.destination_id(d),
                reason,
            });
        }
        if let Some((d, (events, reason))) = failures.into_iter().next() {
            return Err(FlushError::Failed {
                destination: self.destination_id(d),
                events,
                reason,
                report,
            });
        }
        // Taken only when reported, so a flush that fails for another reason loses nothing.
        let foreign = self
            .foreign
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take_unreported();
        match foreign {
            Some((other, events)) => Err(FlushError::WrongPlan {
                event_plan: other.label,
                event_plan_hash: other.hash,
                plan: self.plan.label,
                plan_hash: self.plan.hash,
                events,
                report,
            }),
            None => Ok(report),
        }
    }

    /// Per destination, what changed since the last report, and what is pending now.
    pub(crate) fn report(&self) -> FlushReport {
        let stats = self.shared.stats.snapshot();
        let mut reported = self.reported.lock().unwrap_or_else(PoisonError::into_inner);
        reported.resize(stats.destinations.len(), Counts::default());
        let destinations = stats
            .destinations
            .iter()
            .zip(reported.iter_mut())
            .map(|(now, before)| {
                let counts = DestinationFlush {
                    delivered: now.counts.delivered - before.delivered,
                    failed: now.counts.failed - before.failed,
                    pending: now.counts.pending(),
                };
                *before = now.counts;
                (now.id, counts)
            })
            .collect();
        FlushReport { destinations }
    }

    /// Flushes within `timeout`, then stops the workers; what is still pending counts as
    /// failed.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<FlushReport, FlushError> {
        let started = Instant::now();
        if !self.shared.lock().accepting() {
            return Ok(self.report());
        }
        let flushed = self.flush(timeout);
        let mut st = self.shared.lock();
        st.stop();
        self.shared.wake_all();
        let deadline = started + timeout + Duration::from_millis(100);
        while st.workers_running() > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            st = self.shared.wait_progress(st, left);
        }
        let exited = st.workers_running() == 0;
        drop(st);
        let handles =
            std::mem::take(&mut *self.workers.lock().unwrap_or_else(PoisonError::into_inner));
        if exited {
            for handle in handles {
                let _ = handle.join();
            }
        } else {
            // A worker is stuck in a sink call: leave the workers detached rather than hang.
            tracing::warn!("trackplan: a worker did not stop in time (a sink call is blocking)");
        }
        flushed
    }
}
