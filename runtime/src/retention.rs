//! Retention from the plan: every purpose's `retention_days`, enforced on the stores trackplan
//! owns (NDJSON files, the spool, the PostgreSQL warehouse) by a prune the application runs,
//! [`Tracker::prune`].
//!
//! # The rule
//!
//! A destination keeps a record for as long as the **shortest** `retention_days` among the
//! destination's purposes allows: a record tracked before `now − days` is removed, every younger
//! one is kept. A purpose without `retention_days` sets no limit; a destination none of whose
//! purposes sets one is not pruned ([`Pruned::NoRetention`]).
//!
//! Why the shortest: a destination receives an event only when every one of its purposes is
//! among the event's (the routing rule), and it holds the record for all of them at once: a
//! table or a file cannot serve one purpose and not another. Keeping the record past the
//! shortest retention would keep using it for that purpose past its limit. Why the
//! destination's purposes and not the event's: an event's other purposes are served by other
//! destinations, each with its own limit.
//!
//! Stores outside the process's reach (Mixpanel, Segment, PostHog, Amplitude) answer
//! [`Pruned::NotSupported`]: their own retention setting must match the plan (`trackplan docs`
//! and `trackplan check` say where).

use std::time::{Duration, Instant};

use crate::pipeline::Pipeline;
use crate::plan::PlanInfo;
use crate::sink::Sink;
use crate::sinks::Ndjson;
use crate::spool::{Spool, SpoolError};
use crate::subject_request::{Answer, Asked, RequestKind};
use crate::time::Timestamp;
use crate::tracker::Tracker;

/// Milliseconds in a day of retention.
const MS_PER_DAY: i64 = 86_400_000;

/// What a store did with a prune.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pruned {
    /// The records tracked before `before` are gone; `records` of them were found.
    Removed {
        /// How many records were removed (0 when none was old enough).
        records: u64,
        /// The cutoff: records tracked before it were removed, the others kept.
        before: Timestamp,
    },
    /// None of the destination's purposes declares `retention_days`: nothing is pruned.
    NoRetention,
    /// The store cannot be pruned from here: its own retention setting must match the plan.
    NotSupported,
    /// The destination keeps nothing (skipped, standard output).
    NothingStored,
    /// Pruning failed; try again.
    Failed {
        /// What went wrong.
        reason: String,
    },
}

/// What [`Tracker::prune`] did, per store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    /// The time the retention was counted back from.
    pub now: Timestamp,
    /// The spool's answer, when the tracker has one: its pending events older than their
    /// destination's retention are removed (they would otherwise be delivered after a
    /// restart).
    pub spool: Option<Pruned>,
    /// Each destination's answer, in plan order.
    pub destinations: Vec<(&'static str, Pruned)>,
}

impl PruneReport {
    /// The answer of one destination, by plan id.
    pub fn destination(&self, id: &str) -> Option<&Pruned> {
        self.destinations
            .iter()
            .find(|(d, _)| *d == id)
            .map(|(_, p)| p)
    }
}

/// Why [`Tracker::prune`] did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PruneError {
    /// The sinks did not answer in time; the prune still runs when each worker gets to it.
    #[error("destinations did not answer the prune within {0:?}; it continues in the background")]
    Timeout(Duration),
    /// Some store failed to prune; the report has every store's answer.
    #[error("pruning failed at {}", list_failed(.0))]
    Failed(PruneReport),
    /// The tracker was shut down.
    #[error("the tracker was shut down")]
    Closed,
}

fn list_failed(report: &PruneReport) -> String {
    let spool = report.spool.iter().map(|p| ("the spool", p));
    let failed: Vec<String> = spool
        .chain(report.destinations.iter().map(|(d, p)| (*d, p)))
        .filter_map(|(id, p)| match p {
            Pruned::Failed { reason } => Some(format!("`{id}` ({reason})")),
            _ => None,
        })
        .collect();
    failed.join(", ")
}

/// The retention of destination `destination` (its index in the plan): the shortest
/// `retention_days` among its purposes, `None` when none declares one or there is no such
/// destination.
pub fn retention_days(plan: &PlanInfo, destination: usize) -> Option<u32> {
    let info = plan.destinations.get(destination)?;
    plan.purposes
        .iter()
        .enumerate()
        .filter(|(p, _)| info.purposes.contains(*p))
        .filter_map(|(_, purpose)| purpose.retention_days)
        .min()
}

/// The cutoff of a retention of `days` as of `now`: records tracked before it are older than
/// the retention.
pub fn cutoff(days: u32, now: Timestamp) -> Timestamp {
    Timestamp::from_unix_millis(
        now.unix_millis()
            .saturating_sub(i64::from(days).saturating_mul(MS_PER_DAY)),
    )
}

impl Spool {
    /// Removes from the disk the pending events older than their destination's retention:
    /// `before(destination id)` is the destination's cutoff (`None`: keep all of them).
    /// Returns how many events were removed. The tracker calls it from [`Tracker::prune`];
    /// `trackplan prune --spool DIR` calls it on the spool of a stopped application.
    pub fn prune(&self, before: impl Fn(&str) -> Option<Timestamp>) -> Result<u64, SpoolError> {
        let removed = self.remove_where(|destination, time_ms, _| {
            before(destination).is_some_and(|cutoff| time_ms < cutoff.unix_millis())
        })?;
        Ok(removed as u64)
    }
}

/// [`Sink::prune`] of an NDJSON file: rewrites it without the lines whose `time` is before
/// `before` (atomically, as `forget` does). Lines that are not events are kept.
pub(crate) fn prune_ndjson(file: &mut Ndjson, before: Timestamp) -> Pruned {
    let cutoff = before.unix_millis();
    let older = |line: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("time")?.as_i64())
            .is_some_and(|t| t < cutoff)
    };
    match file.rewrite_without(older) {
        Ok(removed) => Pruned::Removed {
            records: removed as u64,
            before,
        },
        Err(e) => Pruned::Failed {
            reason: format!("rewriting the NDJSON file failed: {}", e.kind()),
        },
    }
}

/// Destination `d`'s answer to a prune as of `now_ms`, on its worker.
pub(crate) fn answer(sink: &mut dyn Sink, plan: &PlanInfo, d: usize, now_ms: i64) -> Answer {
    let Some(days) = retention_days(plan, d) else {
        return Answer::Pruned(Pruned::NoRetention);
    };
    let before = cutoff(days, Timestamp::from_unix_millis(now_ms));
    let pruned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink.prune(before)))
        .unwrap_or_else(|_| Pruned::Failed {
            reason: "the sink panicked".into(),
        });
    if let Pruned::Failed { reason } = &pruned {
        let destination = plan.destinations.get(d).map_or("?", |info| info.id);
        tracing::warn!(
            destination,
            reason,
            "trackplan: pruning failed at a destination"
        );
    }
    Answer::Pruned(pruned)
}

impl Pipeline {
    fn prune(&self, now: Timestamp, timeout: Duration) -> Result<PruneReport, PruneError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let st = self.shared.lock();
        if !st.accepting() {
            return Err(PruneError::Closed);
        }
        let plan = self.plan;
        let spool = self.spooling.as_ref().map(|spooling| {
            let before = |id: &str| {
                let d = plan.destinations.iter().position(|info| info.id == id)?;
                retention_days(plan, d).map(|days| cutoff(days, now))
            };
            match spooling.spool.prune(before) {
                Ok(records) => Pruned::Removed {
                    records,
                    // Per destination; the report names the earliest.
                    before: (0..plan.destinations.len())
                        .filter_map(|d| retention_days(plan, d))
                        .max()
                        .map_or(now, |days| cutoff(days, now)),
                },
                Err(e) => Pruned::Failed {
                    reason: e.to_string(),
                },
            }
        });
        let kind = RequestKind::Prune {
            now_ms: now.unix_millis(),
        };
        let answers = match self.ask(st, kind, Vec::new(), deadline) {
            Asked::Answered(answers) => answers,
            Asked::Closed => return Err(PruneError::Closed),
            Asked::TimedOut => return Err(PruneError::Timeout(started.elapsed())),
        };
        let report = PruneReport {
            now,
            spool,
            destinations: answers
                .into_iter()
                .filter_map(|(d, answer)| match answer {
                    Answer::Pruned(p) => Some((self.destination_id(d), p)),
                    _ => None,
                })
                .collect(),
        };
        let failed = report
            .spool
            .iter()
            .chain(report.destinations.iter().map(|(_, p)| p))
            .any(|p| matches!(p, Pruned::Failed { .. }));
        if failed {
            Err(PruneError::Failed(report))
        } else {
            Ok(report)
        }
    }
}

impl Tracker {
    /// Enforces the plan's retention now: every destination's sink removes the records older
    /// than the shortest `retention_days` of the destination's purposes
    /// ([`Sink::prune`]: an NDJSON file is rewritten without them, the PostgreSQL warehouse
    /// deletes them), and so does the spool. Run it daily, e.g. from a scheduled job.
    ///
    /// Waits for every destination's answer up to
    /// [`TrackerBuilder::flush_timeout`](crate::TrackerBuilder::flush_timeout). **Blocks**.
    ///
    /// ```
    /// # extern crate trackplan_runtime as trackplan;
    /// # trackplan_macros::plan!("tests/fixture/shop.toml");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use trackplan::retention::Pruned;
    /// use trackplan::sinks::Memory;
    /// use trackplan::{Key, Tracker};
    ///
    /// let tracker = Tracker::builder(&PLAN)
    ///     .key(Key::from_hex(&"07".repeat(32))?)
    ///     .sink(destination::SupportDesk, Memory::new())
    /// #   .skip(destination::Warehouse)
    /// #   .skip(destination::Mixpanel)
    /// #   .skip(destination::Ads)
    /// #   .skip(destination::SecurityLog)
    ///     .build()?;
    /// let report = tracker.prune()?;
    /// // customer_support keeps its records 730 days.
    /// assert!(matches!(report.destination("support_desk"), Some(Pruned::Removed { records: 0, .. })));
    /// # Ok(()) }
    /// ```
    pub fn prune(&self) -> Result<PruneReport, PruneError> {
        self.prune_at(Timestamp::now())
    }

    /// [`Tracker::prune`] counting the retention back from `now` instead of the clock: for a
    /// job that runs on a schedule of its own. A `now` in the future removes more (everything
    /// older than the retention as of then). **Blocks**.
    pub fn prune_at(&self, now: Timestamp) -> Result<PruneReport, PruneError> {
        self.pipeline.prune(now, self.pipeline.flush_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn the_shortest_retention_among_the_destinations_purposes_applies() {
        let plan = fixture::plan("t")
            .purpose_with_retention("a", Some(30))
            .purpose_with_retention("b", Some(10))
            .purpose_with_retention("c", None)
            .destination_for("ab", "ndjson", &[0, 1], false)
            .destination_for("ac", "ndjson", &[0, 2], false)
            .destination_for("c", "ndjson", &[2], false)
            .event("E", [])
            .build();
        assert_eq!(retention_days(plan, 0), Some(10));
        assert_eq!(retention_days(plan, 1), Some(30));
        assert_eq!(retention_days(plan, 2), None);
        assert_eq!(retention_days(plan, 3), None);
        let now = Timestamp::from_unix_millis(100 * MS_PER_DAY);
        assert_eq!(cutoff(10, now).unix_millis(), 90 * MS_PER_DAY);
    }
}
