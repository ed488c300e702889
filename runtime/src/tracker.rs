//! The tracker: built from a plan and one sink per destination, it owns the queue and the
//! background worker. Subjects, flush, shutdown, forget and stats hang off it.

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::completion::Completion;
use crate::consent::Consent;
use crate::event::{Destination, Event, Purpose};
use crate::id::{InsertIds, random_uuid};
use crate::key::Key;
use crate::plan::DestinationSet;
use crate::plan::{EventInfo, IdentityInfo, PlanInfo, PurposeSet, TransformInfo};
use crate::queue::{Answer, Lifecycle, Queued, RequestKind, Shared, State, SubjectRequest};
use crate::sink::{Access, BatchLimits, Erasure, Sink};
use crate::spool::{Entry, Spool, Stamp};
use crate::stats::{Counter, Counts, Stats, StatsCells};
use crate::subject::{Scope, Subject, SubjectInner};
use crate::time::{Timestamp, Timestamps};
use crate::value::{PropertyWriter, ViolationPolicy};
use crate::worker::Worker;

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
    /// The tracker was shut down.
    #[error("the tracker was shut down")]
    Closed,
}

/// What [`Tracker::flush`] saw: per destination, in plan order.
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
    skipped: DestinationSet,
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
            self.skipped = self.skipped.with(slot);
        }
        self
    }

    fn slot<D: Destination>(&mut self) -> Option<usize> {
        let id = D::PLAN.destinations.get(D::INDEX).map_or("?", |d| d.id);
        if !D::PLAN.same_as(self.plan) || D::INDEX >= self.sinks.len().min(64) {
            self.foreign.get_or_insert((id, D::PLAN.label));
            return None;
        }
        if self.sinks[D::INDEX].is_some() || self.skipped.contains(D::INDEX) {
            self.duplicate.get_or_insert(id);
        }
        Some(D::INDEX)
    }

    /// Most events waiting in each destination's queue; default 10 000. A destination that is
    /// down fills only its own queue: the others keep theirs. Memory is bounded by
    /// `events × (destinations with a sink) × (largest event)`, plus one batch out for
    /// delivery or waiting to retry per destination (see `docs/design.md`).
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
            .filter(|(d, _)| self.sinks[*d].is_none() && !self.skipped.contains(*d))
            .map(|(_, info)| info.id)
            .collect();
        if !missing.is_empty() {
            return Err(BuildError::MissingSinks {
                plan: plan.label,
                destinations: missing,
            });
        }

        let lanes: Vec<(BatchLimits, bool)> = self
            .sinks
            .iter()
            .map(|s| {
                let mut l = s.as_ref().map(|s| s.limits()).unwrap_or_default();
                l.max_events = l.max_events.max(1);
                if let Some(delay) = self.max_delay {
                    l.max_delay = delay;
                }
                (l, s.is_some())
            })
            .collect();
        let stats = StatsCells::new(plan);
        let shared = Arc::new(Shared::new(State::new(lanes, self.capacity), stats));
        let ids = InsertIds::new().map_err(BuildError::Random)?;
        let spool = self.spool.map(Arc::new);
        let spooling = spool.as_ref().map(|spool| Spooling {
            spool: Arc::clone(spool),
            ids: ids.clone(),
        });
        let third_party = plan
            .destinations
            .iter()
            .enumerate()
            .filter(|(_, d)| d.third_party)
            .map(|(i, _)| i)
            .collect();
        let core = Arc::new(Core {
            plan,
            key: self.key,
            violations: self.violations,
            overflow: self.overflow,
            skipped: self.skipped,
            third_party,
            destination_purposes: plan.destinations.iter().map(|d| d.purposes).collect(),
            shared: Arc::clone(&shared),
            flush_timeout: self.flush_timeout,
            drop_timeout: self.drop_timeout,
            workers: Mutex::new(Vec::new()),
            spooling,
            timestamps: self.timestamps,
            reported: Mutex::new(Vec::new()),
        });
        if let Some(spool) = &spool {
            core.replay(spool);
        }
        for (d, sink) in self.sinks.into_iter().enumerate() {
            let Some(sink) = sink else { continue };
            let worker = Worker::new(
                Arc::clone(&shared),
                plan,
                d,
                sink,
                ids.clone(),
                spool.clone(),
            );
            shared.lock().workers_running += 1;
            match worker.spawn() {
                Ok(handle) => core
                    .workers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(handle),
                Err(e) => {
                    shared.lock().workers_running -= 1;
                    // Dropping `core` stops the workers already started.
                    return Err(BuildError::Spawn(e));
                }
            }
        }
        Ok(Tracker { core })
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
    skipped: DestinationSet,
    third_party: DestinationSet,
    destination_purposes: Box<[PurposeSet]>,
    pub shared: Arc<Shared>,
    flush_timeout: Duration,
    drop_timeout: Duration,
    /// One per destination with a sink.
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// Set when the tracker has a spool; `None` keeps the `track` path free of it.
    spooling: Option<Spooling>,
    timestamps: Timestamps,
    /// Per destination, the counts the last flush reported, so the next reports the change.
    reported: Mutex<Vec<Counts>>,
}

/// The spool, and a clone of the workers' insert-id generator: an event is spooled under the
/// id its worker will deliver it with, so a replay after a crash re-sends the same id.
struct Spooling {
    spool: Arc<Spool>,
    ids: InsertIds,
}

impl Spooling {
    /// Appends the records of one event for the destinations in `send`: `variants[1]` (the
    /// first-party text) for those in `first_party`, `variants[0]` for the others.
    #[allow(clippy::too_many_arguments)] // the parts of one event, as `push` has them
    fn append(
        &self,
        plan: &'static PlanInfo,
        subject: &SubjectInner,
        send: DestinationSet,
        first_party: DestinationSet,
        seq: u64,
        info: &'static EventInfo,
        time_ms: i64,
        id_len: usize,
        variants: &[Option<Vec<u8>>; 2],
    ) {
        let insert_id = self.ids.derive(seq);
        let properties = |d: usize| {
            let slot = usize::from(first_party.contains(d));
            variants[slot].as_deref().map_or(&[][..], |t| &t[id_len..])
        };
        let entries: Vec<Entry<'_>> = send
            .iter()
            .map(|d| Entry {
                plan: Stamp::of(plan, d),
                destination: d,
                insert_id: &insert_id,
                event: info.name,
                time_ms,
                distinct_id: &subject.distinct_id,
                purposes: info.purposes,
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
    /// Destinations whose purposes are all permitted by `consent`.
    pub(crate) fn allowed_destinations(&self, consent: &Consent) -> DestinationSet {
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
            .map(|(d, _)| d)
            .collect()
    }

    /// The whole `track` path: consent, serialization, enqueue. `routes` is the set of
    /// destinations the call may reach (the event's, or one for `send_to`).
    #[inline]
    pub(crate) fn track<E: Event>(
        &self,
        subject: &SubjectInner,
        event: &E,
        routes: DestinationSet,
    ) {
        if let Some(send) = self.route::<E>(subject, routes) {
            self.enqueue(subject, event, send);
        }
    }

    /// The consent half of `track`, before the event is needed: counts the destinations it
    /// refuses, accepts and skips, and returns those to serialize for (`None`: none).
    #[inline]
    pub(crate) fn route<E: Event>(
        &self,
        subject: &SubjectInner,
        routes: DestinationSet,
    ) -> Option<DestinationSet> {
        if !E::PLAN.same_as(self.plan) {
            self.foreign_event::<E>();
            return None;
        }
        let stats = &self.shared.stats;
        let routes = routes & E::INFO.destinations;
        let allowed = subject.allowed();
        let refused = routes - allowed;
        if !refused.is_empty() {
            stats.add_each(refused, Counter::Refused);
        }
        let mut send = routes & allowed;
        if send.is_empty() {
            return None;
        }
        stats.add_each(send, Counter::Accepted);
        let skipped = send & self.skipped;
        if !skipped.is_empty() {
            stats.add_each(skipped, Counter::Skipped);
            send = send - skipped;
        }
        (!send.is_empty()).then_some(send)
    }

    #[cold]
    fn foreign_event<E: Event>(&self) {
        self.shared
            .stats
            .dropped_wrong_plan
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        tracing::warn!(
            event = E::INFO.id,
            event_plan = E::PLAN.label,
            plan = self.plan.label,
            "trackplan: event of another plan not tracked"
        );
    }

    /// The serializing half of `track`: `send` is what [`Core::route`] returned.
    pub(crate) fn enqueue<E: Event>(
        &self,
        subject: &SubjectInner,
        event: &E,
        send: DestinationSet,
    ) {
        let wants_first_party = !(send - self.third_party).is_empty();
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
        send: DestinationSet,
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

    /// Queues one event for the destinations in `send`, re-checking consent under the lock
    /// so an event tracked during a withdrawal cannot slip past the purge. `shared` and
    /// `first_party` are the event's texts; the last destination of each takes it, the others
    /// get copies. A destination whose queue is full drops the event (or, with
    /// [`Overflow::Block`], waits for room); the others still get it.
    #[allow(clippy::too_many_arguments)] // the parts of one event, split for the two variants
    fn push(
        &self,
        subject: &SubjectInner,
        mut send: DestinationSet,
        info: &'static EventInfo,
        time_ms: i64,
        id_len: usize,
        shared: Vec<u8>,
        first_party: Option<Vec<u8>>,
        stash: &mut Vec<Vec<u8>>,
    ) {
        let stats = &self.shared.stats;
        let mut st = self.shared.lock();
        let lost = send - subject.allowed();
        if !lost.is_empty() {
            stats.add_each(lost, Counter::DroppedConsent);
            send = send - lost;
        }
        if !st.accepting() {
            stats.add_each(send, Counter::Failed);
            return;
        }
        let mut full = st.full_lanes(send);
        if !full.is_empty() {
            if let Overflow::Block(limit) = self.overflow {
                let deadline = Instant::now() + limit;
                while !full.is_empty() && st.accepting() {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    st = self.shared.wait_progress(st, left);
                    full = st.full_lanes(send);
                }
                // Consent may have changed while waiting.
                let lost = send - subject.allowed();
                stats.add_each(lost, Counter::DroppedConsent);
                send = send - lost;
                full &= send;
                if !st.accepting() {
                    full = send;
                }
            }
            if !full.is_empty() {
                stats.add_each(full, Counter::DroppedOverflow);
                tracing::debug!("trackplan: queue full, event dropped");
                send = send - full;
            }
            if send.is_empty() {
                return;
            }
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        let fp = if first_party.is_some() {
            send - self.third_party
        } else {
            DestinationSet::EMPTY
        };
        let mut variants = [Some(shared), first_party];
        if let Some(spooling) = &self.spooling {
            // Spooled under the queue lock, so a worker cannot settle an event before its
            // record exists; synced (if the policy says so) after the lock is released.
            spooling.append(
                self.plan, subject, send, fp, seq, info, time_ms, id_len, &variants,
            );
        }
        let mut wake = DestinationSet::EMPTY;
        let mut rest = send;
        for d in send {
            rest = rest.without(d);
            let (slot, users) = if fp.contains(d) {
                (1, fp)
            } else {
                (0, send - fp)
            };
            let last_user = !users.intersects(rest);
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
            let queued = Queued {
                seq,
                event: info.name,
                time_ms,
                purposes: info.purposes,
                id_len,
                text,
                insert_id: None,
            };
            if st.push(d, queued) {
                wake = wake.with(d);
            }
        }
        // Take spent buffers for the next events of this thread while holding the lock anyway.
        if stash.len() < STASH_REFILL {
            let take = (STASH_REFILL - stash.len()).min(st.pool.len());
            let from = st.pool.len() - take;
            stash.extend(st.pool.drain(from..));
        }
        drop(st);
        // Woken after the lock is released, so a worker does not wake into a held lock.
        if !wake.is_empty() {
            self.shared.wake(wake);
        }
        if let Some(spooling) = &self.spooling
            && let Err(e) = spooling.spool.sync_if_due()
        {
            tracing::warn!(error = %e, "trackplan: syncing the spool failed");
        }
    }

    /// Queues the events a previous run left in the spool, ahead of anything tracked now,
    /// through the same lane verb as `track`. Only events spooled under this very plan (by
    /// hash) are replayed: their routing, consent decision, party and transforms are this
    /// plan's. The others are refused, counted (`Stats::replay_refused`) and logged. Replayed
    /// events count as accepted again in this run's stats.
    fn replay(&self, spool: &Spool) {
        let replayed = spool.take_replayed(self.plan);
        for (plan, count) in &replayed.refused {
            self.shared
                .stats
                .replay_refused
                .fetch_add(*count, std::sync::atomic::Ordering::AcqRel);
            tracing::warn!(
                refused = count,
                spooled_under = %plan,
                running = self.plan.label,
                running_hash = self.plan.hash,
                "trackplan: not replaying spooled events of another plan: they were routed \
                 and transformed by rules this tracker does not enforce"
            );
        }
        let mut st = self.shared.lock();
        for item in replayed.events {
            let d = item.destination;
            let e = item.envelope;
            if self.skipped.contains(d) || !st.lanes.get(d).is_some_and(|l| l.served) {
                // The destination is skipped in this run: nothing will deliver it.
                let _ = spool.settle(d, [e.insert_id.as_str()]);
                continue;
            }
            let seq = st.next_seq;
            st.next_seq += 1;
            let mut text = Vec::with_capacity(e.distinct_id.len() + e.properties.len());
            text.extend_from_slice(e.distinct_id.as_bytes());
            text.extend_from_slice(e.properties.as_bytes());
            st.push(
                d,
                Queued {
                    seq,
                    event: e.event,
                    time_ms: e.time_ms,
                    purposes: e.purposes,
                    id_len: e.distinct_id.len(),
                    text,
                    // The id it was first accepted under: destinations deduplicate by it.
                    insert_id: Some(e.insert_id),
                },
            );
            self.shared.stats.add(d, Counter::Accepted, 1);
        }
    }

    /// Sets a subject's consent and purges its queued events for destinations no longer
    /// permitted.
    pub(crate) fn apply_consent(&self, subject: &SubjectInner, allowed: DestinationSet) {
        let mut st = self.shared.lock();
        let before = subject.set_allowed(allowed);
        let lost = before - allowed;
        if !lost.is_empty() {
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
            drop(st);
            // A flush target may be reachable now.
            self.shared.wake(lost);
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

    fn flush(&self, timeout: Duration) -> Result<FlushReport, FlushError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut st = self.shared.lock();
        if !st.accepting() {
            return Err(FlushError::Closed);
        }
        st.flush_requested += 1;
        let generation = st.flush_requested;
        st.flush_target = st.next_seq - 1;
        self.shared.wake_all();
        while !st.flushed(generation) {
            if st.lifecycle == Lifecycle::Stopped {
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
        let sink_error = st
            .lanes
            .iter()
            .enumerate()
            .find_map(|(d, lane)| lane.flush_error.clone().map(|e| (d, e)));
        let failures: Vec<(usize, (u64, String))> = st
            .lanes
            .iter_mut()
            .enumerate()
            .filter_map(|(d, lane)| lane.failures.take().map(|f| (d, f)))
            .collect();
        drop(st);
        let report = self.report();
        if let Some((d, reason)) = sink_error {
            return Err(FlushError::Sink {
                destination: self.destination_id(d),
                reason,
            });
        }
        match failures.into_iter().next() {
            Some((d, (events, reason))) => Err(FlushError::Failed {
                destination: self.destination_id(d),
                events,
                reason,
                report,
            }),
            None => Ok(report),
        }
    }

    /// Per destination, what changed since the last report, and what is pending now.
    fn report(&self) -> FlushReport {
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

    fn forget(&self, distinct_id: &str, timeout: Duration) -> Result<ForgetReport, ForgetError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let mut st = self.shared.lock();
        if !st.accepting() {
            return Err(ForgetError::Closed);
        }
        let purged = st.purge(
            &self.shared.stats,
            distinct_id,
            DestinationSet::EMPTY,
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

    fn request_access(
        &self,
        distinct_id: &str,
        timeout: Duration,
    ) -> Result<AccessReport, AccessError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let st = self.shared.lock();
        if !st.accepting() {
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

    /// Queues a data subject's request for every destination's worker and waits for all
    /// answers until `deadline`, in plan order (a skipped destination received nothing, so
    /// it stores nothing). A request whose caller stopped waiting still runs.
    fn ask<'s>(
        &'s self,
        mut st: MutexGuard<'s, State>,
        kind: RequestKind,
        distinct_id: &str,
        deadline: Instant,
    ) -> Asked {
        let id = st.next_request;
        st.next_request += 1;
        let served: DestinationSet = (0..st.lanes.len())
            .filter(|&d| st.lanes[d].served)
            .collect();
        for d in served {
            st.lanes[d].requests.push_back(SubjectRequest {
                id,
                kind,
                distinct_ids: vec![distinct_id.to_owned()],
            });
        }
        self.shared.wake(served);
        let expected = served.len();
        loop {
            let got = st
                .answers
                .iter()
                .position(|(request, _)| *request == id)
                .map_or(0, |pos| st.answers[pos].1.len());
            if got == expected {
                let mut answers = match st.answers.iter().position(|(r, _)| *r == id) {
                    Some(pos) => st.answers.swap_remove(pos).1,
                    None => Vec::new(),
                };
                for d in (0..st.lanes.len()).filter(|d| !served.contains(*d)) {
                    answers.push((
                        d,
                        match kind {
                            RequestKind::Erase => Answer::Erasure(Erasure::NothingStored),
                            RequestKind::Access => Answer::Access(Access::NothingStored),
                        },
                    ));
                }
                answers.sort_by_key(|(d, _)| *d);
                return Asked::Answered(answers);
            }
            let stopped = st.lifecycle == Lifecycle::Stopped;
            let timed_out = deadline.checked_duration_since(Instant::now());
            if stopped || timed_out.is_none() {
                if let Some(pos) = st.answers.iter().position(|(r, _)| *r == id) {
                    st.answers.swap_remove(pos);
                }
                if expected > got {
                    st.abandoned.push((id, expected - got));
                }
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

    /// Flushes within `timeout`, then stops the workers; what is still pending counts as
    /// failed.
    fn shutdown(&self, timeout: Duration) -> Result<FlushReport, FlushError> {
        let started = Instant::now();
        if !self.shared.lock().accepting() {
            return Ok(self.report());
        }
        let flushed = self.flush(timeout);
        let mut st = self.shared.lock();
        if st.lifecycle == Lifecycle::Open {
            st.lifecycle = Lifecycle::Stopping;
        }
        self.shared.wake_all();
        let deadline = started + timeout + Duration::from_millis(100);
        while st.workers_running > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            st = self.shared.wait_progress(st, left);
        }
        let exited = st.workers_running == 0;
        if exited {
            st.lifecycle = Lifecycle::Stopped;
        }
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
            skipped: DestinationSet::EMPTY,
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
        let id = match random_uuid() {
            Ok(uuid) => uuid,
            // Without OS randomness there is no safe anonymous id: fall back to an id
            // shared by every such visitor, which links nothing.
            Err(e) => {
                tracing::error!(error = %e, "trackplan: no OS randomness for an anonymous id");
                "00000000-0000-4000-8000-000000000000".into()
            }
        };
        Subject::new(self, format!("anon-{id}"), consent)
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
    ///
    /// Returns what each destination delivered and failed since the previous flush, and what
    /// is still pending; or [`FlushError::Failed`] naming a destination when events failed
    /// for good since then (a destination answering 401 rejects the credentials).
    ///
    /// **Blocks** the calling thread, up to the timeout: in async code use
    /// [`Tracker::flush_async`].
    pub fn flush(&self) -> Result<FlushReport, FlushError> {
        self.core.flush(self.core.flush_timeout)
    }

    /// Like [`Tracker::flush`] with its own deadline. **Blocks**.
    pub fn flush_within(&self, timeout: Duration) -> Result<FlushReport, FlushError> {
        self.core.flush(timeout)
    }

    /// [`Tracker::flush`] as a future that does not block: a helper thread waits, and the
    /// future completes when it is done. Works on any async runtime (or none).
    pub fn flush_async(&self) -> Completion<Result<FlushReport, FlushError>> {
        let core = Arc::clone(&self.core);
        Completion::run("flush", move || core.flush(core.flush_timeout))
    }

    /// Flushes (within [`TrackerBuilder::flush_timeout`]) and stops the workers. Events still
    /// pending then count as failed (see [`Tracker::stats`]); later `track` calls count their
    /// events as failed too. Applies to every clone of this tracker. **Blocks**, up to the
    /// timeout: in async code use [`Tracker::shutdown_async`].
    pub fn shutdown(&self) -> Result<FlushReport, FlushError> {
        self.core.shutdown(self.core.flush_timeout)
    }

    /// [`Tracker::shutdown`] with its own deadline, e.g. what is left of a process's
    /// termination grace period. **Blocks**.
    pub fn shutdown_within(&self, timeout: Duration) -> Result<FlushReport, FlushError> {
        self.core.shutdown(timeout)
    }

    /// [`Tracker::shutdown`] as a future that does not block (see [`Tracker::flush_async`]).
    pub fn shutdown_async(&self) -> Completion<Result<FlushReport, FlushError>> {
        let core = Arc::clone(&self.core);
        Completion::run("shutdown", move || core.shutdown(core.flush_timeout))
    }

    /// Forgets a subject (GDPR Art. 17): purges its queued events for every destination and
    /// asks every sink to erase what it holds ([`Sink::erase`]), waiting for the answers up
    /// to [`TrackerBuilder::flush_timeout`]. Each destination answers on its own worker, so
    /// a slow privacy API delays only its own destination's deliveries. **Blocks**: in async
    /// code use [`Tracker::forget_async`].
    pub fn forget(&self, subject_id: &str) -> Result<ForgetReport, ForgetError> {
        self.core.forget(
            &self.core.distinct_id_of(subject_id),
            self.core.flush_timeout,
        )
    }

    /// [`Tracker::forget`] by distinct id, e.g. for an anonymous subject. **Blocks**.
    pub fn forget_distinct_id(&self, distinct_id: &str) -> Result<ForgetReport, ForgetError> {
        self.core.forget(distinct_id, self.core.flush_timeout)
    }

    /// [`Tracker::forget`] as a future that does not block (see [`Tracker::flush_async`]).
    pub fn forget_async(&self, subject_id: &str) -> Completion<Result<ForgetReport, ForgetError>> {
        let core = Arc::clone(&self.core);
        let distinct_id = core.distinct_id_of(subject_id);
        Completion::run("forget", move || {
            core.forget(&distinct_id, core.flush_timeout)
        })
    }

    /// Serves a subject's right of access (GDPR Art. 15): asks every sink for what it holds
    /// about the subject ([`Sink::retrieve`]) and returns each destination's answer: the
    /// records themselves (e.g. the subject's NDJSON lines), the reference of an export the
    /// destination prepares (e.g. a Mixpanel data-retrieval task), or that it cannot.
    /// Waits up to [`TrackerBuilder::flush_timeout`]. **Blocks**: in async code use
    /// [`Tracker::request_access_async`].
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
        self.core.request_access(
            &self.core.distinct_id_of(subject_id),
            self.core.flush_timeout,
        )
    }

    /// [`Tracker::request_access`] by distinct id, e.g. for an anonymous subject. **Blocks**.
    pub fn request_access_distinct_id(
        &self,
        distinct_id: &str,
    ) -> Result<AccessReport, AccessError> {
        self.core
            .request_access(distinct_id, self.core.flush_timeout)
    }

    /// [`Tracker::request_access`] as a future that does not block (see
    /// [`Tracker::flush_async`]).
    pub fn request_access_async(
        &self,
        subject_id: &str,
    ) -> Completion<Result<AccessReport, AccessError>> {
        let core = Arc::clone(&self.core);
        let distinct_id = core.distinct_id_of(subject_id);
        Completion::run("request-access", move || {
            core.request_access(&distinct_id, core.flush_timeout)
        })
    }

    /// A snapshot of the counters, with each destination's health.
    pub fn stats(&self) -> Stats {
        let mut stats = self.core.shared.stats.snapshot();
        let st = self.core.shared.lock();
        for (d, lane) in stats.destinations.iter_mut().zip(st.lanes.iter()) {
            d.health = lane.health.clone();
        }
        stats
    }
}
