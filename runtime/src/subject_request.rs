//! Data subjects' requests (GDPR Art. 15 and 17): a `forget` or `request_access` goes to every
//! destination's worker, each answers for its own destination, and the caller collects the
//! answers in plan order.

use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use crate::pipeline::Pipeline;
use crate::plan::DestinationSet;
use crate::queue::{Lifecycle, QueueState};
use crate::retention::Pruned;
use crate::sink::{Access, Erasure};
use crate::stats::Counter;

/// What a data subject asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    /// `forget`: [`Sink::erase`](crate::Sink::erase).
    Erase,
    /// `request_access`: [`Sink::retrieve`](crate::Sink::retrieve).
    Access,
    /// `prune`: [`Sink::prune`](crate::Sink::prune) with the destination's retention cutoff
    /// as of `now_ms` (see `retention.rs`).
    Prune {
        /// The time the retention is counted back from.
        now_ms: i64,
    },
}

/// A `forget` or `request_access` on its way to a destination's worker.
pub(crate) struct SubjectRequest {
    pub id: u64,
    pub kind: RequestKind,
    pub distinct_ids: Vec<String>,
}

/// One destination's answer to a [`SubjectRequest`].
pub(crate) enum Answer {
    Erasure(Erasure),
    Access(Access),
    Pruned(Pruned),
}

impl Answer {
    /// The answer of a destination whose tracker stopped before it got to the request.
    pub(crate) fn stopped(kind: RequestKind) -> Answer {
        let reason = "the tracker stopped before this destination answered".to_owned();
        match kind {
            RequestKind::Erase => Answer::Erasure(Erasure::Failed { reason }),
            RequestKind::Access => Answer::Access(Access::Failed { reason }),
            RequestKind::Prune { .. } => Answer::Pruned(Pruned::Failed { reason }),
        }
    }
}

/// Why `forget` did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForgetError {
    /// The sinks did not finish erasing in time. Queued events were purged; the erase request
    /// still runs when each destination's worker gets to it.
    #[error(
        "destinations did not confirm the erasure within {0:?}; it continues in the background"
    )]
    Timeout(Duration),
    /// Some destination failed to erase; see the report.
    #[error("erasure failed at {}", list_failed(.0))]
    Failed(ForgetReport),
    /// The tracker was shut down.
    #[error("the tracker was shut down")]
    Closed,
}

fn list_failed(report: &ForgetReport) -> String {
    let failed: Vec<String> = report
        .destinations
        .iter()
        .filter_map(|(id, e)| match e {
            Erasure::Failed { reason } => Some(format!("`{id}` ({reason})")),
            _ => None,
        })
        .collect();
    failed.join(", ")
}

/// What `forget` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgetReport {
    /// Queued events of the subject removed before delivery (per destination, added up).
    pub purged: u64,
    /// Each destination's answer to the erase request, in plan order.
    pub destinations: Vec<(&'static str, Erasure)>,
}

/// Why `request_access` did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The sinks did not answer in time; the request still runs when the workers get to it,
    /// but its answers are dropped: ask again later.
    #[error("destinations did not answer the access request within {0:?}")]
    Timeout(Duration),
    /// Some destination failed to retrieve; the report has every destination's answer.
    #[error("retrieval failed at {}", list_failed_access(.0))]
    Failed(AccessReport),
    /// The tracker was shut down.
    #[error("the tracker was shut down")]
    Closed,
}

fn list_failed_access(report: &AccessReport) -> String {
    let failed: Vec<String> = report
        .destinations
        .iter()
        .filter_map(|(id, a)| match a {
            Access::Failed { reason } => Some(format!("`{id}` ({reason})")),
            _ => None,
        })
        .collect();
    failed.join(", ")
}

/// What `request_access` found: each destination's answer, in plan order.
///
/// It holds the subject's data (the records destinations returned): hand it to the subject,
/// do not log it. `Debug` shows record counts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessReport {
    /// Each destination's answer, in plan order.
    pub destinations: Vec<(&'static str, Access)>,
}

impl AccessReport {
    /// The answer of one destination, by plan id.
    pub fn destination(&self, id: &str) -> Option<&Access> {
        self.destinations
            .iter()
            .find(|(d, _)| *d == id)
            .map(|(_, a)| a)
    }
}

/// How a data subject's request ended for the caller.
pub(crate) enum Asked {
    Answered(Vec<(usize, Answer)>),
    Closed,
    TimedOut,
}

impl Pipeline {
    /// The distinct ids a request about `distinct_id` covers: it, and the anonymous ids
    /// `Subject::identify` linked to it.
    pub(crate) fn with_stitched(&self, distinct_id: &str) -> Vec<String> {
        let mut ids = vec![distinct_id.to_owned()];
        let stitches = self
            .stitches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(linked) = stitches.get(distinct_id) {
            ids.extend(linked.iter().map(|a| a.to_string()));
        }
        ids
    }

    pub(crate) fn forget(
        &self,
        distinct_ids: Vec<String>,
        timeout: Duration,
    ) -> Result<ForgetReport, ForgetError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut st = self.shared.lock();
        if !st.accepting() {
            return Err(ForgetError::Closed);
        }
        let mut purged = 0;
        for id in &distinct_ids {
            purged += st.purge(
                &self.shared.stats,
                id,
                DestinationSet::EMPTY,
                Counter::DroppedForgotten,
            );
        }
        // Rewritten under the queue lock, so no event of the subject slips in between.
        let ids: Vec<&str> = distinct_ids.iter().map(String::as_str).collect();
        if let Some(spooling) = &self.spooling
            && let Err(e) = spooling.spool.forget(&ids)
        {
            tracing::warn!(error = %e, "trackplan: erasing the subject from the spool failed");
        }
        let answers = match self.ask(st, RequestKind::Erase, distinct_ids, deadline) {
            Asked::Answered(answers) => answers,
            Asked::Closed => return Err(ForgetError::Closed),
            Asked::TimedOut => return Err(ForgetError::Timeout(started.elapsed())),
        };
        let report = ForgetReport {
            purged,
            destinations: answers
                .into_iter()
                .filter_map(|(d, answer)| match answer {
                    Answer::Erasure(e) => Some((self.destination_id(d), e)),
                    _ => None,
                })
                .collect(),
        };
        let failed = report
            .destinations
            .iter()
            .any(|(_, e)| matches!(e, Erasure::Failed { .. }));
        if failed {
            Err(ForgetError::Failed(report))
        } else {
            Ok(report)
        }
    }

    pub(crate) fn request_access(
        &self,
        distinct_ids: Vec<String>,
        timeout: Duration,
    ) -> Result<AccessReport, AccessError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let st = self.shared.lock();
        if !st.accepting() {
            return Err(AccessError::Closed);
        }
        let answers = match self.ask(st, RequestKind::Access, distinct_ids, deadline) {
            Asked::Answered(answers) => answers,
            Asked::Closed => return Err(AccessError::Closed),
            Asked::TimedOut => return Err(AccessError::Timeout(started.elapsed())),
        };
        let report = AccessReport {
            destinations: answers
                .into_iter()
                .filter_map(|(d, answer)| match answer {
                    Answer::Access(a) => Some((self.destination_id(d), a)),
                    _ => None,
                })
                .collect(),
        };
        let failed = report
            .destinations
            .iter()
            .any(|(_, a)| matches!(a, Access::Failed { .. }));
        if failed {
            Err(AccessError::Failed(report))
        } else {
            Ok(report)
        }
    }

    /// Queues a data subject's request for every destination's worker and waits for all
    /// answers until `deadline`, in plan order (a skipped destination received nothing, so
    /// it stores nothing). A request whose caller stopped waiting still runs.
    pub(crate) fn ask<'s>(
        &'s self,
        mut st: MutexGuard<'s, QueueState>,
        kind: RequestKind,
        distinct_ids: Vec<String>,
        deadline: Instant,
    ) -> Asked {
        let (id, served) = st.submit(kind, distinct_ids);
        self.shared.wake(served);
        let expected = served.len();
        loop {
            let got = st.answered_count(id);
            if got == expected {
                let mut answers = st.take_answers(id);
                for d in (0..st.destinations()).filter(|d| !served.contains(*d)) {
                    answers.push((
                        d,
                        match kind {
                            RequestKind::Erase => Answer::Erasure(Erasure::NothingStored),
                            RequestKind::Access => Answer::Access(Access::NothingStored),
                            RequestKind::Prune { .. } => Answer::Pruned(Pruned::NothingStored),
                        },
                    ));
                }
                answers.sort_by_key(|(d, _)| *d);
                return Asked::Answered(answers);
            }
            let stopped = st.lifecycle() == Lifecycle::Stopped;
            let timed_out = deadline.checked_duration_since(Instant::now());
            if stopped || timed_out.is_none() {
                st.abandon(id, expected - got);
                return if stopped {
                    Asked::Closed
                } else {
                    Asked::TimedOut
                };
            }
            let left = timed_out.unwrap_or_default();
            st = self.shared.wait_progress(st, left);
        }
    }
}
