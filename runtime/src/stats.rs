//! Delivery counters: every event `track` accepts for a destination ends in exactly one of
//! delivered, failed, dropped (by consent, overflow or `forget`) or skipped, so nothing
//! vanishes silently.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::plan::{DestinationSet, PlanInfo};
use crate::tally::{Tallies, Tally};

pub use crate::flush::{DestinationFlush, FlushReport};

/// Counts of one destination, or of all of them added up. Units are envelopes: one event for
/// one destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Counts {
    /// Events `track`/`send_to` routed here by the plan (before consent), and the messages of
    /// profile and group updates, memberships and identity links. Each ends in one of
    /// the counters below or is still [pending](Counts::pending).
    pub accepted: u64,
    /// Accepted by the destination.
    pub delivered: u64,
    /// Given up on: the destination rejected them, retries ran out, or the tracker shut down
    /// before they could be delivered.
    pub failed: u64,
    /// Not sent because the subject's consent did not cover every purpose of the destination,
    /// at `track` or when the consent changed while they were queued.
    pub dropped_consent: u64,
    /// Not queued because the queue was full.
    pub dropped_overflow: u64,
    /// Removed from the queue by `Tracker::forget`.
    pub dropped_forgotten: u64,
    /// Not sent because the destination was built with `.skip(…)`.
    pub skipped: u64,
    /// Delivery attempts repeated after a retryable failure (one per event per retry; not an
    /// end state).
    pub retried: u64,
}

impl Counts {
    /// All drops: consent, overflow and forget.
    pub fn dropped(&self) -> u64 {
        self.dropped_consent + self.dropped_overflow + self.dropped_forgotten
    }

    /// Events that reached an end state.
    pub fn settled(&self) -> u64 {
        self.delivered + self.failed + self.dropped() + self.skipped
    }

    /// Events accepted but not settled yet: queued, in a batch being delivered or waiting
    /// for a retry.
    pub fn pending(&self) -> u64 {
        self.accepted.saturating_sub(self.settled())
    }

    fn add(&mut self, other: &Counts) {
        self.accepted += other.accepted;
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.dropped_consent += other.dropped_consent;
        self.dropped_overflow += other.dropped_overflow;
        self.dropped_forgotten += other.dropped_forgotten;
        self.skipped += other.skipped;
        self.retried += other.retried;
    }
}

/// How a destination's deliveries went lately: enough to alert on a destination that stopped
/// accepting events (a revoked token answers every batch with 401).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// When a batch was last accepted (fully or partly).
    pub last_success: Option<SystemTime>,
    /// When a delivery attempt last failed (retryable or not), and why: the sink's reason,
    /// which names status codes and error kinds, never property values.
    pub last_error: Option<(SystemTime, String)>,
    /// Delivery attempts that failed in a row since the last success.
    pub consecutive_failures: u32,
}

impl Health {
    pub(crate) fn succeeded(&mut self, at: SystemTime) {
        self.last_success = Some(at);
        self.consecutive_failures = 0;
    }

    pub(crate) fn failed(&mut self, at: SystemTime, reason: &str) {
        self.last_error = Some((at, reason.to_owned()));
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
    }
}

/// The counts and health of one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationStats {
    /// The destination's plan id.
    pub id: &'static str,
    /// Its counts.
    pub counts: Counts,
    /// How its deliveries went lately.
    pub health: Health,
}

/// A snapshot of a tracker's counters (`Tracker::stats`).
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// # trackplan_macros::plan!("tests/fixture/shop.toml");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use trackplan::sinks::Memory;
/// use trackplan::{Consent, Key, Tracker};
///
/// let tracker = Tracker::builder(&PLAN)
///     .key(Key::from_hex(&"07".repeat(32))?)
///     .sink(destination::Warehouse, Memory::new())
///     .skip(destination::Mixpanel)
/// #   .skip(destination::Ads)
/// #   .skip(destination::SecurityLog)
/// #   .skip(destination::SupportDesk)
///     .build()?;
/// let product = || ProductViewed { product_id: "p-1".into(), price: 9.5, currency: Currency::Eur };
/// tracker.subject("a", Consent::none().grant(purpose::ProductAnalytics)).track(product());
/// tracker.subject("b", Consent::none()).track(product());
/// tracker.flush()?;
///
/// let stats = tracker.stats();
/// let warehouse = stats.destination("warehouse").ok_or("no warehouse")?;
/// // Both routed there by the plan; "b" gave no consent.
/// assert_eq!((warehouse.accepted, warehouse.delivered), (2, 1));
/// assert_eq!(warehouse.dropped_consent, 1);
/// assert_eq!(stats.destination("mixpanel").map(|m| m.skipped), Some(1));
/// assert_eq!(stats.dropped_wrong_plan, 0);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// All destinations added up.
    pub total: Counts,
    /// Per destination, in plan order.
    pub destinations: Vec<DestinationStats>,
    /// Property values left out of events because they broke a plan constraint or their
    /// transform could not apply (values, not events: the events were still sent).
    pub dropped_invalid: u64,
    /// Events not tracked because they belong to another plan than the tracker's (two crates
    /// built against different plans, or different contents of one plan file). The first of
    /// each other plan is warned about, and the next flush fails with
    /// [`FlushError::WrongPlan`](crate::error::FlushError::WrongPlan) naming both plans.
    pub dropped_wrong_plan: u64,
    /// Events not tracked because a *required* property's value broke a plan constraint or its
    /// transform could not apply (the value is also counted in `dropped_invalid`). They are
    /// in no destination's counts.
    pub refused_invalid: u64,
    /// Events an earlier run left in the spool that were not replayed because they were
    /// spooled under another plan (hash) than the running one: their routing, consent and
    /// transforms were decided by rules this tracker does not enforce. A warning names the
    /// plans. Not counted per destination (this run never accepted them).
    pub replay_refused: u64,
}

impl Stats {
    /// The counts of destination `id`.
    pub fn destination(&self, id: &str) -> Option<&Counts> {
        self.destinations
            .iter()
            .find(|d| d.id == id)
            .map(|d| &d.counts)
    }
}

/// Which counter to bump.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Counter {
    // Bumped by `track` (and consent changes).
    /// Routed and permitted (refused events are counted by `Refused` alone).
    Accepted,
    /// Routed but refused by consent at `track`: counts as accepted and dropped by consent,
    /// with one increment on the cheapest path.
    Refused,
    DroppedConsent,
    DroppedOverflow,
    Skipped,
    // Bumped by the worker (and `forget`).
    Delivered,
    Failed,
    DroppedForgotten,
    Retried,
}

/// One destination's counters. Producers bump the first five (what `track` counts on every
/// call, accepted, refused and skipped, goes to its thread's tallies instead, `crate::tally`,
/// and is added here by a snapshot), the worker the rest: the two groups sit on separate cache
/// lines so the worker's writes do not slow producers down.
#[derive(Default)]
#[repr(align(128))]
struct Cells {
    producer: Line<PRODUCER_COUNTERS>,
    worker: Line<WORKER_COUNTERS>,
}

const PRODUCER_COUNTERS: usize = 5;
const WORKER_COUNTERS: usize = 4;

#[repr(align(128))]
struct Line<const N: usize>([AtomicU64; N]);

impl<const N: usize> Default for Line<N> {
    fn default() -> Self {
        Line(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl Counter {
    /// The per-thread tally that `add_each` bumps for this counter, if it is one of those
    /// `track` bumps on every call.
    fn tally(self) -> Option<Tally> {
        match self {
            Counter::Accepted => Some(Tally::Accepted),
            Counter::Refused => Some(Tally::Refused),
            Counter::Skipped => Some(Tally::Skipped),
            _ => None,
        }
    }
}

impl Cells {
    fn cell(&self, counter: Counter) -> &AtomicU64 {
        let i = counter as usize;
        if i < PRODUCER_COUNTERS {
            &self.producer.0[i]
        } else {
            &self.worker.0[i - PRODUCER_COUNTERS]
        }
    }
}

/// The live counters, shared by the tracker handles and the workers.
pub(crate) struct StatsCells {
    plan: &'static PlanInfo,
    per_destination: Box<[Cells]>,
    /// What `track` threads counted in their own rows: added to `per_destination`'s cells.
    tallies: Tallies,
    pub(crate) dropped_invalid: AtomicU64,
    pub(crate) dropped_wrong_plan: AtomicU64,
    pub(crate) refused_invalid: AtomicU64,
    pub(crate) replay_refused: AtomicU64,
}

impl StatsCells {
    pub(crate) fn new(plan: &'static PlanInfo) -> Self {
        StatsCells {
            plan,
            per_destination: plan.destinations.iter().map(|_| Cells::default()).collect(),
            tallies: Tallies::new(plan.destinations.len()),
            dropped_invalid: AtomicU64::new(0),
            dropped_wrong_plan: AtomicU64::new(0),
            refused_invalid: AtomicU64::new(0),
            replay_refused: AtomicU64::new(0),
        }
    }

    pub(crate) fn add(&self, destination: usize, counter: Counter, n: u64) {
        if let Some(cells) = self.per_destination.get(destination) {
            cells.cell(counter).fetch_add(n, Ordering::AcqRel);
        }
    }

    /// Bumps `counter` by one for every destination in `destinations`: in this thread's row
    /// of tallies for the counters `track` bumps on every call, atomically for the others.
    #[inline]
    pub(crate) fn add_each(&self, destinations: DestinationSet, counter: Counter) {
        if let Some(tally) = counter.tally() {
            self.tallies.bump_each(destinations, tally);
            return;
        }
        for d in destinations {
            self.add(d, counter, 1);
        }
    }

    /// Takes back one of `counter` for every destination in `destinations` (an acceptance of
    /// an event that then turned out not to be trackable).
    pub(crate) fn take_back_each(&self, destinations: DestinationSet, counter: Counter) {
        for d in destinations {
            if let Some(cells) = self.per_destination.get(d) {
                cells.cell(counter).fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let mut total = Counts::default();
        let destinations = self
            .plan
            .destinations
            .iter()
            .zip(self.per_destination.iter())
            .enumerate()
            .map(|(d, (info, cells))| {
                // A counter's cell may have been taken back below zero (wrapping) by a thread
                // whose acceptance sits in its own tally: the sum is right, wrapping.
                let get = |c: Counter| {
                    let own = cells.cell(c).load(Ordering::Acquire);
                    c.tally()
                        .map_or(own, |t| own.wrapping_add(self.tallies.sum(d, t)))
                };
                // End states first, `accepted` last: an event's acceptance happens before its
                // settlement, so the snapshot never shows more settled than accepted.
                let refused = get(Counter::Refused);
                let mut counts = Counts {
                    delivered: get(Counter::Delivered),
                    failed: get(Counter::Failed),
                    dropped_consent: get(Counter::DroppedConsent).wrapping_add(refused),
                    dropped_overflow: get(Counter::DroppedOverflow),
                    dropped_forgotten: get(Counter::DroppedForgotten),
                    skipped: get(Counter::Skipped),
                    retried: get(Counter::Retried),
                    accepted: 0,
                };
                counts.accepted = get(Counter::Accepted).wrapping_add(refused);
                total.add(&counts);
                DestinationStats {
                    id: info.id,
                    counts,
                    health: Health::default(),
                }
            })
            .collect();
        Stats {
            total,
            destinations,
            dropped_invalid: self.dropped_invalid.load(Ordering::Acquire),
            dropped_wrong_plan: self.dropped_wrong_plan.load(Ordering::Acquire),
            refused_invalid: self.refused_invalid.load(Ordering::Acquire),
            replay_refused: self.replay_refused.load(Ordering::Acquire),
        }
    }
}
