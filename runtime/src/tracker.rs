//! The tracker: built from a plan and one sink per destination, it owns the queue and the
//! background worker. Subjects, flush, shutdown, forget and stats hang off it.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::consent::Consent;
use crate::event::{Destination, Event, Purpose};
use crate::id::{InsertIds, random_uuid};
use crate::key::Key;
use crate::plan::{EventInfo, IdentityInfo, PlanInfo, PurposeSet, TransformInfo};
use crate::queue::{Answer, Queued, RequestKind, Shared, State, SubjectRequest};
use crate::sink::{Access, BatchLimits, Erasure, Sink};
use crate::spool::{Entry, Spool};
use crate::stats::{Counter, Stats, StatsCells};
use crate::subject::{Scope, Subject, SubjectInner};
use crate::time::{Timestamp, Timestamps};
use crate::value::{PropertyWriter, ViolationPolicy};
use crate::worker::{self, Worker};

/// What `track` does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop the new event and count it (`dropped_overflow`). `track` never waits.
    #[default]
    DropNewest,
    /// Wait up to this long for the worker to make room, then drop and count as above.
    /// `track` may then block, though still never on I/O of its own.
    Block(Duration),
}

/// Why a tracker could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Some destinations of the plan have neither a sink nor a `skip`.
    #[error(
        "plan `{plan}` has no sink for {}: give each a sink with `.sink(destination::…, sink)` \
         or leave it out on purpose with `.skip(destination::…)`",
        list(.destinations)
    )]
    MissingSinks {
        /// `name@version` of the plan.
        plan: &'static str,
        /// Plan ids of the destinations without a sink.
        destinations: Vec<&'static str>,
    },
    /// A sink or skip was given for a destination of another plan.
    #[error(
        "destination `{destination}` belongs to plan `{destination_plan}`, but this tracker \
         is built for plan `{plan}`: use the `destination` module generated from `{plan}`"
    )]
    ForeignDestination {
        /// The destination's plan id.
        destination: &'static str,
        /// `name@version` of its plan.
        destination_plan: &'static str,
        /// `name@version` of the tracker's plan.
        plan: &'static str,
    },
    /// A destination was given two sinks, or a sink and a skip.
    #[error(
        "destination `{destination}` was given more than one sink (or a sink and a skip); \
         give it exactly one"
    )]
    DuplicateDestination {
        /// The destination's plan id.
        destination: &'static str,
    },
    /// The plan pseudonymizes with HMAC but no key was given.
    #[error(
        "plan `{plan}` {needs}, which needs a secret key: add \
         `.key(trackplan::Key::from_env(\"TRACKPLAN_KEY\")?)` to the builder"
    )]
    KeyRequired {
        /// `name@version` of the plan.
        plan: &'static str,
        /// What needs it.
        needs: String,
    },
    /// The plan has more than 64 purposes or destinations.
    #[error(
        "plan `{plan}` has more than 64 purposes or destinations, which trackplan does not support"
    )]
    TooLarge {
        /// `name@version` of the plan.
        plan: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    /// The worker thread could not be started.
    #[error("could not start the trackplan worker thread: {0}")]
    Spawn(std::io::Error),
}

fn list(ids: &[&str]) -> String {
    let quoted: Vec<String> = ids.iter().map(|id| format!("`{id}`")).collect();
    match quoted.len() {
        1 => format!("destination {}", quoted[0]),
        _ => format!("destinations {}", quoted.join(", ")),
    }
}

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
    /// A sink could not make its data durable.
    #[error("flushing destination `{destination}` failed: {reason}")]
    Sink {
        /// The destination's plan id.
        destination: &'static str,
        /// The I/O error.
        reason: String,
    },
    /// The tracker was shut down.
    #[error("the tracker was shut down")]
    Closed,
}

/// Why `forget` did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ForgetError {
    /// The sinks did not finish erasing in time. Queued events were purged; the erase request
    /// still runs when the worker gets to it.
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
    /// The sinks did not answer in time; the request still runs when the worker gets to it,
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
enum Asked {
    Answered(Vec<(usize, Answer)>),
    Closed,
    TimedOut,
}

/// Builds a [`Tracker`]: see [`Tracker::builder`].
#[must_use = "call .build() to get a Tracker"]
pub struct TrackerBuilder {
    plan: &'static PlanInfo,
    key: Option<Key>,
    sinks: Vec<Option<Box<dyn Sink>>>,
    skipped: u64,
    foreign: Option<(&'static str, &'static str)>,
    duplicate: Option<&'static str>,
    capacity: usize,
    overflow: Overflow,
    violations: ViolationPolicy,
    max_delay: Option<Duration>,
    flush_timeout: Duration,
    drop_timeout: Duration,
    spool: Option<Spool>,
    timestamps: Timestamps,
}

impl fmt::Debug for TrackerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackerBuilder")
            .field("plan", &self.plan.label)
            .field("key", &self.key)
            .field("capacity", &self.capacity)
            .field("overflow", &self.overflow)
            .field("violations", &self.violations)
            .finish_non_exhaustive()
    }
}

impl TrackerBuilder {
    /// The secret key for HMAC pseudonymization (required when the plan's identity or any
    /// property uses `hmac`).
    pub fn key(mut self, key: Key) -> Self {
        self.key = Some(key);
        self
    }

    /// Delivers destination `D`'s events to `sink`.
    pub fn sink<D: Destination>(mut self, _: D, sink: impl Sink) -> Self {
        if let Some(slot) = self.slot::<D>() {
            self.sinks[slot] = Some(Box::new(sink));
        }
        self
    }

    /// Delivers nothing to destination `D`, on purpose (e.g. in development). Its events are
    /// counted as `skipped`.
    pub fn skip<D: Destination>(mut self, _: D) -> Self {
        if let Some(slot) = self.slot::<D>() {
            self.skipped |= 1u64 << slot;
        }
        self
    }

    /// Delivers destination `index` to `sink` unless it already has a sink or is skipped
    /// (for `TrackerBuilder::record_all` in `testing`).
    pub(crate) fn sink_if_unset(mut self, index: usize, sink: Box<dyn Sink>) -> Self {
        let skipped = index < 64 && self.skipped & (1u64 << index) != 0;
        if let Some(slot @ None) = self.sinks.get_mut(index)
            && !skipped
        {
            *slot = Some(sink);
        }
        self
    }

    /// The plan the tracker is built for.
    pub(crate) fn plan(&self) -> &'static PlanInfo {
        self.plan
    }

    fn slot<D: Destination>(&mut self) -> Option<usize> {
        let id = D::PLAN.destinations.get(D::INDEX).map_or("?", |d| d.id);
        if !D::PLAN.same_as(self.plan) || D::INDEX >= self.sinks.len().min(64) {
            self.foreign.get_or_insert((id, D::PLAN.label));
            return None;
        }
        if self.sinks[D::INDEX].is_some() || self.skipped & (1u64 << D::INDEX) != 0 {
            self.duplicate.get_or_insert(id);
        }
        Some(D::INDEX)
    }

    /// Most events waiting in the queue, counting an event once per destination it goes to
    /// (all destinations together); default 10 000.
    pub fn queue_capacity(mut self, events: usize) -> Self {
        self.capacity = events.max(1);
        self
    }

    /// What `track` does when the queue is full; default [`Overflow::DropNewest`].
    pub fn overflow(mut self, policy: Overflow) -> Self {
        self.overflow = policy;
        self
    }

    /// What happens to property values that break their constraints; default
    /// [`ViolationPolicy::Drop`].
    pub fn violations(mut self, policy: ViolationPolicy) -> Self {
        self.violations = policy;
        self
    }

    /// Overrides every sink's `max_delay`: the longest an event waits for its batch to fill.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = Some(delay);
        self
    }

    /// How long [`Tracker::flush`], [`Tracker::forget`] and [`Tracker::shutdown`] wait;
    /// default 30 s.
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// Keeps every accepted event in an on-disk [`Spool`] until it is delivered or given up
    /// on, so a crash or kill of the process loses none: the next tracker built with the same
    /// spool delivers them (with their original insert ids, so destinations drop duplicates).
    /// `track` then writes each event to the spool before it returns; see [`SyncPolicy`]
    /// (`crate::SyncPolicy`) for what survives a machine crash.
    ///
    /// [`SyncPolicy`]: crate::SyncPolicy
    pub fn spool(mut self, spool: Spool) -> Self {
        self.spool = Some(spool);
        self
    }

    /// How `track` reads the time of each event; default [`Timestamps::Precise`] (the system
    /// clock, to the millisecond). [`Timestamps::Coarse`] reads the kernel's coarse clock on
    /// Linux: a few nanoseconds instead of 25–40, at one scheduler tick of resolution.
    pub fn timestamps(mut self, timestamps: Timestamps) -> Self {
        self.timestamps = timestamps;
        self
    }

    /// How long dropping the last tracker handle waits for pending events; default 2 s.
    pub fn drop_timeout(mut self, timeout: Duration) -> Self {
        self.drop_timeout = timeout;
        self
    }

    /// Checks the configuration and starts the worker.
    pub fn build(self) -> Result<Tracker, BuildError> {
        let plan = self.plan;
        if plan.destinations.len() > 64 || plan.purposes.len() > 64 {
            return Err(BuildError::TooLarge { plan: plan.label });
        }
        if let Some((destination, destination_plan)) = self.foreign {
            return Err(BuildError::ForeignDestination {
                destination,
                destination_plan,
                plan: plan.label,
            });
        }
        if let Some(destination) = self.duplicate {
            return Err(BuildError::DuplicateDestination { destination });
        }
        if let (None, Some(needs)) = (&self.key, key_needed_by(plan)) {
            return Err(BuildError::KeyRequired {
                plan: plan.label,
                needs,
            });
        }
        let missing: Vec<&'static str> = plan
            .destinations
            .iter()
            .enumerate()
            .filter(|(d, _)| self.sinks[*d].is_none() && self.skipped & (1u64 << d) == 0)
            .map(|(_, info)| info.id)
            .collect();
        if !missing.is_empty() {
            return Err(BuildError::MissingSinks {
                plan: plan.label,
                destinations: missing,
            });
        }

        let limits: Vec<BatchLimits> = self
            .sinks
            .iter()
            .map(|s| {
                let mut l = s.as_ref().map(|s| s.limits()).unwrap_or_default();
                l.max_events = l.max_events.max(1);
                if let Some(delay) = self.max_delay {
                    l.max_delay = delay;
                }
                l
            })
            .collect();
        let retry = self
            .sinks
            .iter()
            .map(|s| s.as_ref().map(|s| s.retry_policy()).unwrap_or_default())
            .collect();
        let stats = StatsCells::new(plan);
        let shared = Arc::new(Shared::new(State::new(limits, self.capacity), stats));
        let ids = InsertIds::new().map_err(BuildError::Random)?;
        let spool = self.spool.map(Arc::new);
        if let Some(spool) = &spool {
            replay(spool, plan, &shared, &self.sinks);
        }
        let spooling = spool.as_ref().map(|spool| Spooling {
            spool: Arc::clone(spool),
            ids: ids.clone(),
        });
        let third_party = plan
            .destinations
            .iter()
            .enumerate()
            .filter(|(_, d)| d.third_party)
            .fold(0u64, |m, (i, _)| m | 1u64 << i);
        let worker = Worker {
            shared: Arc::clone(&shared),
            plan,
            sinks: self.sinks,
            retry,
            ids,
            spool,
            next_lane: 0,
            spent: Vec::new(),
            spare: std::collections::VecDeque::new(),
            spare_ids: Vec::new(),
            lingering: false,
            took_full: false,
        };
        let handle = worker::spawn(worker).map_err(BuildError::Spawn)?;
        shared.set_worker(handle.thread().clone());
        Ok(Tracker {
            core: Arc::new(Core {
                plan,
                key: self.key,
                violations: self.violations,
                overflow: self.overflow,
                skipped: self.skipped,
                third_party,
                destination_purposes: plan.destinations.iter().map(|d| d.purposes).collect(),
                shared,
                flush_timeout: self.flush_timeout,
                drop_timeout: self.drop_timeout,
                worker: Mutex::new(Some(handle)),
                spooling,
                timestamps: self.timestamps,
            }),
        })
    }
}

/// Queues the events a previous run left in the spool, ahead of anything tracked now. They
/// count as accepted again in this run's stats.
fn replay(
    spool: &Spool,
    plan: &'static PlanInfo,
    shared: &Shared,
    sinks: &[Option<Box<dyn Sink>>],
) {
    let mut st = shared.lock();
    let now = Instant::now();
    for item in spool.take_replayed(plan) {
        let d = item.destination;
        let e = item.envelope;
        if sinks.get(d).is_none_or(Option::is_none) {
            // The destination is skipped in this run: nothing will deliver it.
            let _ = spool.settle(d, [e.insert_id.as_str()]);
            continue;
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        let mut text = Vec::with_capacity(e.distinct_id.len() + e.properties.len());
        text.extend_from_slice(e.distinct_id.as_bytes());
        text.extend_from_slice(e.properties.as_bytes());
        let lane = &mut st.lanes[d];
        lane.bytes += e.properties.len();
        lane.filling_since.get_or_insert(now);
        lane.items.push_back(Queued {
            seq,
            event: e.event,
            time_ms: e.time_ms,
            purposes: e.purposes,
            id_len: e.distinct_id.len(),
            text,
            // The id it was first accepted under: destinations deduplicate by it.
            insert_id: Some(e.insert_id),
        });
        st.queued += 1;
        shared.stats.add(d, Counter::Accepted, 1);
    }
}

/// What in the plan needs a key, if anything.
fn key_needed_by(plan: &PlanInfo) -> Option<String> {
    if plan.identity == IdentityInfo::Hmac {
        return Some("pseudonymizes subject ids with HMAC (identity transform `hmac`)".into());
    }
    plan.events
        .iter()
        .flat_map(|e| e.properties.iter())
        .find(|p| matches!(p.transform, TransformInfo::Hmac { .. }))
        .map(|p| format!("pseudonymizes property `{}` with HMAC", p.id))
}

/// Everything the tracker handles and subjects share.
pub(crate) struct Core {
    pub plan: &'static PlanInfo,
    key: Option<Key>,
    violations: ViolationPolicy,
    overflow: Overflow,
    skipped: u64,
    third_party: u64,
    destination_purposes: Box<[PurposeSet]>,
    pub shared: Arc<Shared>,
    flush_timeout: Duration,
    drop_timeout: Duration,
    worker: Mutex<Option<JoinHandle<()>>>,
    /// Set when the tracker has a spool; `None` keeps the `track` path free of it.
    spooling: Option<Spooling>,
    timestamps: Timestamps,
}

/// The spool, and a clone of the worker's insert-id generator: an event is spooled under the
/// id the worker will deliver it with, so a replay after a crash re-sends the same id.
struct Spooling {
    spool: Arc<Spool>,
    ids: InsertIds,
}

impl Spooling {
    /// Appends the records of one event for the destinations in `send`: `variants[1]` (the
    /// first-party text) for those in `fp_mask`, `variants[0]` for the others.
    #[allow(clippy::too_many_arguments)] // the parts of one event, as `push` has them
    fn append(
        &self,
        subject: &SubjectInner,
        send: u64,
        fp_mask: u64,
        seq: u64,
        info: &'static EventInfo,
        time_ms: i64,
        id_len: usize,
        variants: &[Option<Vec<u8>>; 2],
    ) {
        let insert_id = self.ids.derive(seq);
        let properties = |d: usize| {
            let slot = usize::from(fp_mask & (1u64 << d) != 0);
            variants[slot].as_deref().map_or(&[][..], |t| &t[id_len..])
        };
        let entries: Vec<Entry<'_>> = destinations(send)
            .map(|d| Entry {
                destination: d,
                insert_id: &insert_id,
                event: info.name,
                time_ms,
                distinct_id: &subject.distinct_id,
                purposes: info.purposes.bits(),
                properties: properties(d),
            })
            .collect();
        if let Err(e) = self.spool.append(&entries) {
            tracing::warn!(
                error = %e,
                "trackplan: spooling an event failed; it is queued in memory only"
            );
        }
    }
}

/// The indices of the bits set in `mask`, lowest first.
fn destinations(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let d = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            d
        })
    })
}

/// Per-thread buffers: `redacted` collects `redact` properties; `stash` holds spent event
/// buffers taken from the queue's pool, so an event is written where it travels, without an
/// allocation or a copy.
#[derive(Default)]
struct Buffers {
    redacted: Vec<u8>,
    stash: Vec<Vec<u8>>,
}

impl Buffers {
    fn take(&mut self) -> Vec<u8> {
        match self.stash.pop() {
            Some(mut buf) => {
                buf.clear();
                buf
            }
            None => Vec::with_capacity(256),
        }
    }
}

/// How many spent buffers a thread takes from the pool when it is holding the lock anyway.
const STASH_REFILL: usize = 32;

thread_local! {
    static BUFFERS: RefCell<Buffers> = const {
        RefCell::new(Buffers {
            redacted: Vec::new(),
            stash: Vec::new(),
        })
    };
}

impl Core {
    /// Destinations (bit set) whose purposes are all permitted by `consent`.
    pub(crate) fn allowed_destinations(&self, consent: &Consent) -> u64 {
        if consent.is_foreign_to(self.plan) {
            tracing::warn!(
                plan = self.plan.label,
                "trackplan: consent built from another plan's purposes permits nothing"
            );
        }
        let permitted = consent.permitted(self.plan);
        self.destination_purposes
            .iter()
            .enumerate()
            .filter(|(_, purposes)| permitted.contains_all(**purposes))
            .fold(0, |m, (d, _)| m | 1u64 << d)
    }

    /// The whole `track` path: consent, serialization, enqueue. `routes` is the set of
    /// destinations the call may reach (the event's, or one for `send_to`).
    #[inline]
    pub(crate) fn track<E: Event>(&self, subject: &SubjectInner, event: &E, routes: u64) {
        if let Some(send) = self.route::<E>(subject, routes) {
            self.enqueue(subject, event, send);
        }
    }

    /// The consent half of `track`, before the event is needed: counts the destinations it
    /// refuses, accepts and skips, and returns those to serialize for (`None`: none).
    #[inline]
    pub(crate) fn route<E: Event>(&self, subject: &SubjectInner, routes: u64) -> Option<u64> {
        if !E::PLAN.same_as(self.plan) {
            self.foreign_event::<E>();
            return None;
        }
        let stats = &self.shared.stats;
        let routes = routes & E::INFO.destinations.bits();
        let allowed = subject.allowed();
        let refused = routes & !allowed;
        if refused != 0 {
            stats.add_each(refused, Counter::Refused);
        }
        let mut send = routes & allowed;
        if send == 0 {
            return None;
        }
        stats.add_each(send, Counter::Accepted);
        if send & self.skipped != 0 {
            stats.add_each(send & self.skipped, Counter::Skipped);
            send &= !self.skipped;
        }
        (send != 0).then_some(send)
    }

    #[cold]
    fn foreign_event<E: Event>(&self) {
        self.shared
            .stats
            .dropped_wrong_plan
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        // Two crates of one workspace built against different contents of the same plan file
        // have equal labels: the hashes tell them apart.
        tracing::warn!(
            event = E::INFO.id,
            event_plan = E::PLAN.label,
            event_plan_hash = E::PLAN.hash,
            plan = self.plan.label,
            plan_hash = self.plan.hash,
            "trackplan: event of another plan not tracked (counted in stats().dropped_wrong_plan); if the labels are equal, the crates were built from different contents of the plan file: share one with [workspace.metadata.trackplan]"
        );
    }

    /// The serializing half of `track`: `send` is what [`Core::route`] returned.
    pub(crate) fn enqueue<E: Event>(&self, subject: &SubjectInner, event: &E, send: u64) {
        let wants_first_party = send & !self.third_party != 0;
        let time_ms = Timestamp::now_for_events(self.timestamps).unix_millis();
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => {
                self.serialize_and_push(
                    subject,
                    send,
                    event,
                    time_ms,
                    &mut bufs,
                    wants_first_party,
                );
                // Do not keep a rare huge event's buffer for the thread's lifetime.
                if bufs.redacted.capacity() > 1 << 16 {
                    bufs.redacted = Vec::new();
                }
            }
            // Only if serialization re-entered `track`; fresh buffers keep it correct.
            Err(_) => self.serialize_and_push(
                subject,
                send,
                event,
                time_ms,
                &mut Buffers::default(),
                wants_first_party,
            ),
        });
    }

    /// Writes the event's text (distinct id, then the properties object) straight into the
    /// buffer that will travel through the queue, and queues it.
    ///
    /// Every destination gets the object without `redact` properties; when there are some and
    /// a first-party destination, first-party destinations get a second object with them.
    fn serialize_and_push<E: Event>(
        &self,
        subject: &SubjectInner,
        send: u64,
        event: &E,
        time_ms: i64,
        bufs: &mut Buffers,
        wants_first_party: bool,
    ) {
        let id = subject.distinct_id.as_bytes();
        let mut text = bufs.take();
        text.extend_from_slice(id);
        text.push(b'{');
        bufs.redacted.clear();
        let mut w = PropertyWriter::with_context(
            &mut text,
            &mut bufs.redacted,
            self.key.as_ref(),
            self.violations,
        );
        event.write_properties(&mut w);
        let dropped = w.dropped();
        if dropped > 0 {
            self.shared
                .stats
                .dropped_invalid
                .fetch_add(u64::from(dropped), std::sync::atomic::Ordering::AcqRel);
            if let Some(property) = w.missing_required() {
                bufs.stash.push(text);
                return self.refuse_invalid(E::INFO, property, send);
            }
        }
        let first_party = (wants_first_party && !bufs.redacted.is_empty()).then(|| {
            let mut fp = bufs.take();
            fp.extend_from_slice(&text);
            if text.len() > id.len() + 1 {
                fp.push(b',');
            }
            fp.extend_from_slice(&bufs.redacted);
            fp.push(b'}');
            fp
        });
        text.push(b'}');
        self.push(
            subject,
            send,
            E::INFO,
            time_ms,
            id.len(),
            text,
            first_party,
            &mut bufs.stash,
        );
    }

    /// An event whose required `property` had an invalid value: not tracked. Its acceptance
    /// for `send` is taken back, so it shows in `Stats::refused_invalid` and nowhere else.
    #[cold]
    #[inline(never)]
    fn refuse_invalid(&self, info: &'static EventInfo, property: &'static str, send: u64) {
        let stats = &self.shared.stats;
        stats
            .refused_invalid
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        stats.take_back_each(send, Counter::Accepted);
        tracing::warn!(
            event = info.id,
            property,
            "trackplan: event not tracked: its required property has a value that breaks the plan's constraints or transform"
        );
    }

    /// Queues one event for the destinations in `send`, re-checking consent under the lock
    /// so an event tracked during a withdrawal cannot slip past the purge. `shared` and
    /// `first_party` are the event's texts; the last destination of each takes it, the others
    /// get copies.
    #[allow(clippy::too_many_arguments)] // the parts of one event, split for the two variants
    fn push(
        &self,
        subject: &SubjectInner,
        mut send: u64,
        info: &'static EventInfo,
        time_ms: i64,
        id_len: usize,
        shared: Vec<u8>,
        first_party: Option<Vec<u8>>,
        stash: &mut Vec<Vec<u8>>,
    ) {
        let stats = &self.shared.stats;
        let mut st = self.shared.lock();
        let lost = send & !subject.allowed();
        if lost != 0 {
            stats.add_each(lost, Counter::DroppedConsent);
            send &= !lost;
        }
        if st.closed {
            stats.add_each(send, Counter::Failed);
            return;
        }
        let n = send.count_ones() as usize;
        if st.queued + n > st.capacity {
            if let Overflow::Block(limit) = self.overflow {
                let deadline = Instant::now() + limit;
                while st.queued + n > st.capacity && !st.closed {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    st = self.shared.wait_progress(st, left);
                }
                // Consent may have changed while waiting.
                let lost = send & !subject.allowed();
                stats.add_each(lost, Counter::DroppedConsent);
                send &= !lost;
            }
            if st.queued + n > st.capacity || st.closed {
                stats.add_each(send, Counter::DroppedOverflow);
                tracing::debug!("trackplan: queue full, event dropped");
                return;
            }
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        let fp_mask = if first_party.is_some() {
            send & !self.third_party
        } else {
            0
        };
        let n = send.count_ones() as usize;
        let mut variants = [Some(shared), first_party];
        if let Some(spooling) = &self.spooling {
            // Spooled under the queue lock, so the worker cannot settle an event before its
            // record exists; synced (if the policy says so) after the lock is released.
            spooling.append(
                subject, send, fp_mask, seq, info, time_ms, id_len, &variants,
            );
        }
        let mut wake = false;
        let mut sealed = false;
        let mut m = send;
        while m != 0 {
            let d = m.trailing_zeros() as usize;
            m &= m - 1;
            let (slot, users) = if fp_mask & (1u64 << d) != 0 {
                (1, fp_mask)
            } else {
                (0, send & !fp_mask)
            };
            let last_user = users & m == 0;
            let text = match (&mut variants[slot], last_user) {
                (Some(_), true) => variants[slot].take().unwrap_or_default(),
                (Some(v), false) => {
                    let mut copy = stash.pop().unwrap_or_default();
                    copy.clear();
                    copy.extend_from_slice(v);
                    copy
                }
                // Each variant is taken by its last user only.
                (None, _) => continue,
            };
            let props_len = text.len() - id_len;
            let waits_until = st.worker_wakes_by;
            let State {
                lanes,
                spare_batches,
                ..
            } = &mut *st;
            let lane = &mut lanes[d];
            // Batches are sealed here, where their events are still in this thread's cache:
            // the worker then takes a whole batch without touching them under the lock.
            if !lane.items.is_empty() && lane.bytes + props_len > lane.limits.max_bytes {
                lane.seal(spare_batches.pop());
                sealed = true;
            }
            if lane.items.is_empty() {
                let now = Instant::now();
                lane.filling_since = Some(now);
                // The worker must learn of the new batch's deadline unless it wakes by then.
                wake |= match (waits_until, now.checked_add(lane.limits.max_delay)) {
                    (Some(t), Some(due)) => t > due,
                    (None, _) => true,
                    // Never due by time: only a full batch or a flush sends it.
                    (Some(_), None) => false,
                };
            }
            lane.bytes += props_len;
            lane.items.push_back(Queued {
                seq,
                event: info.name,
                time_ms,
                purposes: info.purposes,
                id_len,
                text,
                insert_id: None,
            });
            if lane.items.len() >= lane.limits.max_events || lane.bytes >= lane.limits.max_bytes {
                lane.seal(spare_batches.pop());
                sealed = true;
            }
        }
        // A sealed batch is due now: wake the worker unless it is polling for batches.
        if sealed {
            wake |= st
                .worker_wakes_by
                .is_none_or(|t| t > Instant::now() + crate::queue::POLL);
        }
        st.queued += n;
        // Take spent buffers for the next events of this thread while holding the lock anyway.
        if stash.len() < STASH_REFILL {
            let take = (STASH_REFILL - stash.len()).min(st.pool.len());
            let from = st.pool.len() - take;
            stash.extend(st.pool.drain(from..));
        }
        // One wake-up per wait: later pushes need not make the system call again.
        let wake = wake && std::mem::replace(&mut st.worker_waiting, false);
        drop(st);
        // Woken after the lock is released, so the worker does not wake into a held lock.
        if wake {
            self.shared.wake_worker();
        }
        if let Some(spooling) = &self.spooling
            && let Err(e) = spooling.spool.sync_if_due()
        {
            tracing::warn!(error = %e, "trackplan: syncing the spool failed");
        }
    }

    /// Sets a subject's consent and purges its queued events for destinations no longer
    /// permitted.
    pub(crate) fn apply_consent(&self, subject: &SubjectInner, allowed: u64) {
        let mut st = self.shared.lock();
        let before = subject.set_allowed(allowed);
        let lost = before & !allowed;
        if lost != 0 {
            st.purge(
                &self.shared.stats,
                &subject.distinct_id,
                !lost,
                Counter::DroppedConsent,
            );
            // A restart must not deliver what consent no longer covers.
            if let Some(spooling) = &self.spooling
                && let Err(e) = spooling.spool.settle_subject(&subject.distinct_id, !lost)
            {
                tracing::warn!(error = %e, "trackplan: updating the spool failed");
            }
            // The flush target may be reachable now.
            self.shared.wake_worker();
            self.shared.progress.notify_all();
        }
    }

    pub(crate) fn distinct_id_of(&self, subject_id: &str) -> String {
        match (self.plan.identity, &self.key) {
            (IdentityInfo::Hmac, Some(key)) => key.pseudonymize(subject_id),
            // `build` refuses an `hmac` identity without a key.
            _ => subject_id.to_owned(),
        }
    }

    fn flush(&self, timeout: Duration) -> Result<(), FlushError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut st = self.shared.lock();
        if st.worker_exited {
            return Err(FlushError::Closed);
        }
        st.flush_requested += 1;
        let generation = st.flush_requested;
        st.flush_target = st.next_seq - 1;
        self.shared.wake_worker();
        while st.flush_completed < generation {
            if st.worker_exited {
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
        match st.flush_errors.first() {
            Some((d, reason)) => Err(FlushError::Sink {
                destination: self.plan.destinations.get(*d).map_or("spool", |i| i.id),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    fn forget(&self, distinct_id: &str) -> Result<ForgetReport, ForgetError> {
        let started = Instant::now();
        let deadline = started + self.flush_timeout;
        let mut st = self.shared.lock();
        if st.worker_exited || st.stop {
            return Err(ForgetError::Closed);
        }
        let purged = st.purge(
            &self.shared.stats,
            distinct_id,
            0,
            Counter::DroppedForgotten,
        );
        // Rewritten under the queue lock, so no event of the subject slips in between.
        if let Some(spooling) = &self.spooling
            && let Err(e) = spooling.spool.forget(distinct_id)
        {
            tracing::warn!(error = %e, "trackplan: erasing the subject from the spool failed");
        }
        let answers = match self.ask(st, RequestKind::Erase, distinct_id, deadline) {
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
                    Answer::Access(_) => None,
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

    fn request_access(&self, distinct_id: &str) -> Result<AccessReport, AccessError> {
        let started = Instant::now();
        let deadline = started + self.flush_timeout;
        let st = self.shared.lock();
        if st.worker_exited || st.stop {
            return Err(AccessError::Closed);
        }
        let answers = match self.ask(st, RequestKind::Access, distinct_id, deadline) {
            Asked::Answered(answers) => answers,
            Asked::Closed => return Err(AccessError::Closed),
            Asked::TimedOut => return Err(AccessError::Timeout(started.elapsed())),
        };
        let report = AccessReport {
            destinations: answers
                .into_iter()
                .filter_map(|(d, answer)| match answer {
                    Answer::Access(a) => Some((self.destination_id(d), a)),
                    Answer::Erasure(_) => None,
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

    fn destination_id(&self, d: usize) -> &'static str {
        self.plan.destinations.get(d).map_or("?", |i| i.id)
    }

    /// Queues a data subject's request for the worker and waits for every sink's answer
    /// until `deadline`. A request whose caller stopped waiting still runs.
    fn ask<'s>(
        &'s self,
        mut st: MutexGuard<'s, State>,
        kind: RequestKind,
        distinct_id: &str,
        deadline: Instant,
    ) -> Asked {
        let id = st.next_request;
        st.next_request += 1;
        st.requests.push_back(SubjectRequest {
            id,
            kind,
            distinct_ids: vec![distinct_id.to_owned()],
        });
        self.shared.wake_worker();
        loop {
            if let Some(pos) = st.answers.iter().position(|(request, _)| *request == id) {
                return Asked::Answered(st.answers.swap_remove(pos).1);
            }
            if st.worker_exited {
                return Asked::Closed;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                st.abandoned.push(id);
                return Asked::TimedOut;
            };
            st = self.shared.wait_progress(st, left);
        }
    }

    /// Flushes within `timeout`, then stops the worker; what is still pending counts as failed.
    fn shutdown(&self, timeout: Duration) -> Result<(), FlushError> {
        let started = Instant::now();
        let flushed = {
            let st = self.shared.lock();
            if st.stop {
                drop(st);
                return Ok(());
            }
            drop(st);
            self.flush(timeout)
        };
        let mut st = self.shared.lock();
        st.closed = true;
        st.stop = true;
        self.shared.wake_worker();
        let deadline = started + timeout + Duration::from_millis(100);
        while !st.worker_exited {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            st = self.shared.wait_progress(st, left);
        }
        let exited = st.worker_exited;
        drop(st);
        let handle = self
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle {
            if exited {
                let _ = handle.join();
            } else {
                // The worker is stuck in a sink call: leave it detached rather than hang.
                tracing::warn!("trackplan: worker did not stop in time (a sink call is blocking)");
            }
        }
        flushed
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown(self.drop_timeout) {
            tracing::warn!(error = %e, "trackplan: events pending when the tracker was dropped");
        }
    }
}

/// The entry point of the runtime: built once from the plan, cloned freely (an `Arc`), shared
/// across threads.
///
/// Dropping the last handle (trackers and subjects) flushes with a short deadline
/// ([`TrackerBuilder::drop_timeout`]) and stops the worker; call [`Tracker::shutdown`] to
/// control that and see what was left undelivered.
#[derive(Clone)]
pub struct Tracker {
    pub(crate) core: Arc<Core>,
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker")
            .field("plan", &self.core.plan.label)
            .field("key", &self.core.key)
            .finish_non_exhaustive()
    }
}

impl Tracker {
    /// Starts building a tracker for `plan` (the `PLAN` static `plan!` generates).
    pub fn builder(plan: &'static PlanInfo) -> TrackerBuilder {
        TrackerBuilder {
            plan,
            key: None,
            sinks: plan.destinations.iter().take(64).map(|_| None).collect(),
            skipped: 0,
            foreign: None,
            duplicate: None,
            capacity: 10_000,
            overflow: Overflow::default(),
            violations: ViolationPolicy::default(),
            max_delay: None,
            flush_timeout: Duration::from_secs(30),
            drop_timeout: Duration::from_secs(2),
            spool: None,
            timestamps: Timestamps::default(),
        }
    }

    /// The plan this tracker enforces.
    pub fn plan(&self) -> &'static PlanInfo {
        self.core.plan
    }

    /// A handle for tracking one end user. The distinct id is computed here, once, from
    /// `subject_id` by the plan's identity transform (`"<key id>:<HMAC-SHA-256 hex>"` for
    /// `hmac`); `subject_id` itself is not kept.
    pub fn subject(&self, subject_id: &str, consent: Consent) -> Subject {
        Subject::new(self, self.core.distinct_id_of(subject_id), consent)
    }

    /// A handle for a visitor without an account: a random distinct id
    /// (`"anon-<UUID v4>"`) from the operating system's generator, never derived from
    /// personal data. Keep [`Subject::distinct_id`] to forget it later.
    pub fn anonymous(&self, consent: Consent) -> Subject {
        // Without OS randomness: one id shared by every such visitor (see `anonymous_id`).
        Subject::new(self, crate::id::anonymous_id(random_uuid()), consent)
    }

    /// A scope whose subjects may only track events declared for purpose `P`.
    pub fn scoped<P: Purpose>(&self) -> Scope<P> {
        Scope::new(self.clone())
    }

    /// The distinct id `subject_id` gets (see [`Tracker::subject`]).
    pub fn distinct_id(&self, subject_id: &str) -> String {
        self.core.distinct_id_of(subject_id)
    }

    /// Waits until every event accepted before this call is delivered or failed, then makes
    /// sinks durable ([`Sink::flush`]). Gives up after [`TrackerBuilder::flush_timeout`].
    pub fn flush(&self) -> Result<(), FlushError> {
        self.core.flush(self.core.flush_timeout)
    }

    /// Like [`Tracker::flush`] with its own deadline.
    pub fn flush_within(&self, timeout: Duration) -> Result<(), FlushError> {
        self.core.flush(timeout)
    }

    /// Flushes (within [`TrackerBuilder::flush_timeout`]) and stops the worker. Events still
    /// pending then count as failed (see [`Tracker::stats`]); later `track` calls count their
    /// events as failed too. Applies to every clone of this tracker.
    pub fn shutdown(&self) -> Result<(), FlushError> {
        self.core.shutdown(self.core.flush_timeout)
    }

    /// Forgets a subject (GDPR Art. 17): purges its queued events for every destination and
    /// asks every sink to erase what it holds ([`Sink::erase`]), waiting for the answers up
    /// to [`TrackerBuilder::flush_timeout`].
    pub fn forget(&self, subject_id: &str) -> Result<ForgetReport, ForgetError> {
        self.core.forget(&self.core.distinct_id_of(subject_id))
    }

    /// [`Tracker::forget`] by distinct id, e.g. for an anonymous subject.
    pub fn forget_distinct_id(&self, distinct_id: &str) -> Result<ForgetReport, ForgetError> {
        self.core.forget(distinct_id)
    }

    /// Serves a subject's right of access (GDPR Art. 15): asks every sink for what it holds
    /// about the subject ([`Sink::retrieve`]) and returns each destination's answer: the
    /// records themselves (e.g. the subject's NDJSON lines), the reference of an export the
    /// destination prepares (e.g. a Mixpanel data-retrieval task), or that it cannot.
    /// Waits up to [`TrackerBuilder::flush_timeout`].
    ///
    /// Events still queued are not in the destinations yet: call [`Tracker::flush`] first to
    /// include everything tracked so far. Skipped destinations answer
    /// [`Access::NothingStored`].
    ///
    /// ```ignore
    /// let report = tracker.request_access("user-42")?;
    /// for (destination, answer) in &report.destinations {
    ///     println!("{destination}: {answer:?}"); // counts only, never the records
    /// }
    /// ```
    pub fn request_access(&self, subject_id: &str) -> Result<AccessReport, AccessError> {
        self.core
            .request_access(&self.core.distinct_id_of(subject_id))
    }

    /// [`Tracker::request_access`] by distinct id, e.g. for an anonymous subject.
    pub fn request_access_distinct_id(
        &self,
        distinct_id: &str,
    ) -> Result<AccessReport, AccessError> {
        self.core.request_access(distinct_id)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.core.shared.stats.snapshot()
    }
}
