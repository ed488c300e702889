//! [`TrackerBuilder`]: the plan, a sink (or a skip) per destination, the key and the queue's
//! policies, checked before the workers start.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::event::Destination;
use crate::id::InsertIds;
use crate::key::Key;
use crate::pipeline::{Pipeline, Spooling};
use crate::plan::{DestinationSet, IdentityInfo, PlanInfo, TransformInfo};
use crate::queue::{Queue, QueueState};
use crate::sink::{BatchLimits, Sink, SinkDeclaration};
use crate::spool::Spool;
use crate::stats::StatsCells;
use crate::time::Timestamps;
use crate::tracker::Tracker;
use crate::value::ViolationPolicy;
use crate::worker::Worker;

/// What `track` does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Drop the new event and count it (`dropped_overflow`). `track` never waits.
    #[default]
    DropNewest,
    /// Wait up to this long for the destination's worker to make room, then drop and count as above.
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
    /// A sink's declaration does not fit the destination the plan declares: its kind differs,
    /// or it sends to a third party what the plan keeps first-party.
    #[error(
        "destination `{destination}` is declared `kind = \"{plan_kind}\"`, {}, in plan \
         `{plan}`, but was given a `{sink_kind}` sink that sends to {}: give it a sink of \
         the declared kind, or change the destination in the plan (and have it reviewed)",
        party(*.plan_third_party),
        if *.sink_third_party { "a third party" } else { "our own storage" }
    )]
    SinkMismatch {
        /// `name@version` of the plan.
        plan: &'static str,
        /// The destination's plan id.
        destination: &'static str,
        /// Its `kind` in the plan.
        plan_kind: &'static str,
        /// Whether the plan declares it a third party.
        plan_third_party: bool,
        /// The kind the sink declares.
        sink_kind: &'static str,
        /// Whether the sink declares it sends to a third party.
        sink_third_party: bool,
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
    /// A worker thread could not be started.
    #[error("could not start a trackplan worker thread: {0}")]
    Spawn(std::io::Error),
}

fn party(third_party: bool) -> &'static str {
    if third_party {
        "a third party"
    } else {
        "first party"
    }
}

fn list(ids: &[&str]) -> String {
    let quoted: Vec<String> = ids.iter().map(|id| format!("`{id}`")).collect();
    match quoted.len() {
        1 => format!("destination {}", quoted[0]),
        _ => format!("destinations {}", quoted.join(", ")),
    }
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
    /// The first sink whose declaration does not fit its destination.
    mismatch: Option<BuildError>,
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
    pub(crate) fn new(plan: &'static PlanInfo) -> TrackerBuilder {
        TrackerBuilder {
            plan,
            key: None,
            sinks: plan.destinations.iter().take(64).map(|_| None).collect(),
            skipped: DestinationSet::EMPTY,
            foreign: None,
            duplicate: None,
            mismatch: None,
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

    /// The secret key for HMAC pseudonymization (required when the plan's identity or any
    /// property uses `hmac`).
    pub fn key(mut self, key: Key) -> Self {
        self.key = Some(key);
        self
    }

    /// Delivers destination `D`'s events to `sink`.
    ///
    /// The sink's [`declaration`](Sink::declaration) must fit the destination the plan
    /// declares (same `kind`, and no third-party sink for a first-party destination), or
    /// [`build`](Self::build) fails with [`BuildError::SinkMismatch`].
    pub fn sink<D: Destination>(mut self, _: D, sink: impl Sink) -> Self {
        if let Some(slot) = self.slot::<D>() {
            let declared = sink.declaration();
            if let (Some(info), SinkDeclaration::Delivers { kind, third_party }) =
                (self.plan.destinations.get(slot), declared)
                && !declared.fits(info.kind, info.third_party)
            {
                self.mismatch.get_or_insert(BuildError::SinkMismatch {
                    plan: self.plan.label,
                    destination: info.id,
                    plan_kind: info.kind,
                    plan_third_party: info.third_party,
                    sink_kind: kind,
                    sink_third_party: third_party,
                });
            }
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

    /// Checks the configuration and starts one worker thread per destination with a sink.
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
        if let Some(mismatch) = self.mismatch {
            return Err(mismatch);
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
        let shared = Arc::new(Queue::new(QueueState::new(lanes, self.capacity), stats));
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
        let core = Arc::new(Pipeline {
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
            shared.lock().worker_starting();
            match worker.spawn() {
                Ok(handle) => core
                    .workers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(handle),
                Err(e) => {
                    shared.lock().worker_exited();
                    // Dropping `core` stops the workers already started.
                    return Err(BuildError::Spawn(e));
                }
            }
        }
        Ok(Tracker { pipeline: core })
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
