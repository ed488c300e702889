//! The sink contract: how delivered events leave the runtime.
//!
//! A [`Sink`] receives [`Envelope`]s after consent, routing and transforms have been applied:
//! it never sees a raw subject id or an untransformed value. The destination's worker batches
//! its envelopes within the sink's [`BatchLimits`], calls [`Sink::deliver`], and
//! handles the [`Outcome`]: retries with backoff under the sink's [`RetryPolicy`], partial
//! failures, permanent errors. [`Sink::erase`] carries `Tracker::forget` downstream, and
//! [`Sink::retrieve`] carries `Tracker::request_access`.
//!
//! Every method is called from the destination's own worker thread, one call at a time, so a
//! sink needs no locking of its own; a call may block (an HTTP request, an fsync, a privacy
//! API's retries) without blocking `track` or any other destination.

use crate::message::Message;
use crate::plan::{PlanInfo, PurposeSet};
use crate::privacy_api::PrivacyApi;
use crate::retention::Pruned;
use crate::time::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// One event, ready for one destination.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// What the destination is asked to do: record an event (most envelopes), update a
    /// profile or group, or link two identities.
    pub message: Message,
    /// The event's wire name; for other messages, the name of the plan section they come
    /// from (`"$profile"`, `"$group"`, `"$join"`, `"$link"`).
    pub event: &'static str,
    /// Unique id of this event: Mixpanel `$insert_id`, Segment `messageId`. UUID v4 text
    /// (36 characters of `[A-Za-z0-9-]`), or the caller's own id for a replay
    /// ([`TrackOptions::insert_id`](crate::TrackOptions::insert_id): 1 to 36 characters of
    /// `[A-Za-z0-9-]`). The same event carries the same id in every destination, and retries
    /// reuse it, so delivery is idempotent. Each message of a profile or group update has its
    /// own.
    pub insert_id: String,
    /// When it was tracked, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// The pseudonymous distinct id (never the raw subject id). Shared by all envelopes of a
    /// subject.
    pub distinct_id: Arc<str>,
    /// The plan it was built from.
    pub plan: &'static PlanInfo,
    /// The event's purposes.
    pub purposes: PurposeSet,
    /// The properties as one JSON object (`{…}`), already transformed and filtered for this
    /// destination. Shared by the envelopes of one event that receive the same properties.
    pub properties: Arc<str>,
}

/// Size limits a sink's destination imposes on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Most events per batch.
    pub max_events: usize,
    /// Most bytes of serialized properties per batch (an estimate the worker batches by; the
    /// sink enforces the exact wire limit).
    pub max_bytes: usize,
    /// Longest an event waits for its batch to fill before it is sent anyway.
    pub max_delay: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        BatchLimits {
            max_events: 500,
            max_bytes: 1 << 20,
            max_delay: Duration::from_millis(500),
        }
    }
}

/// How the worker retries a batch whose delivery returned [`Outcome::Retry`].
///
/// The n-th retry waits `initial_backoff · 2ⁿ⁻¹`, capped at `max_backoff`, with "equal jitter"
/// (a uniformly random point in the upper half of that wait) so many processes do not retry in
/// step, and never less than the destination's `Retry-After`. After `max_retries` retries the
/// batch's events count as failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait before the first retry.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts (a longer `Retry-After` is still honoured).
    pub max_backoff: Duration,
    /// Retries after the first attempt before giving up; 0 never retries.
    pub max_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            max_retries: 8,
        }
    }
}

impl RetryPolicy {
    /// No retries: a retryable failure fails at once.
    pub const NEVER: RetryPolicy = RetryPolicy {
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        max_retries: 0,
    };

    /// The wait before retry number `retry` (1-based) without jitter.
    pub fn backoff(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }
}

/// What happened to a batch.
///
/// Reasons are logged: they must describe the failure (status code, error kind), never echo
/// property values or ids.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every event was accepted.
    Delivered,
    /// The events at these indices failed permanently, with a reason; the rest were accepted.
    Partial {
        /// Indices into the batch, with the destination's reason.
        failed: Vec<(usize, String)>,
    },
    /// Nothing was accepted, and trying again may succeed (429, 5xx, connection error).
    Retry {
        /// What went wrong.
        reason: String,
        /// How long the destination asked us to wait (`Retry-After`), if it said.
        after: Option<Duration>,
    },
    /// Nothing was accepted, and trying again will not help (401, 403, other 4xx).
    Failed {
        /// What went wrong.
        reason: String,
    },
}

/// What a destination did with a request to erase subjects' data (`Tracker::forget`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Erasure {
    /// The data is gone (e.g. a file rewritten without it).
    Erased,
    /// The destination accepted a deletion request that it carries out later (e.g. a
    /// Mixpanel GDPR deletion task), with its reference when it gave one.
    Requested {
        /// The destination's id of the request, to follow it up.
        reference: Option<String>,
    },
    /// The destination keeps nothing to erase (e.g. standard output).
    NothingStored,
    /// This sink cannot erase: the data must be erased at the destination by other means.
    NotSupported,
    /// Erasing failed; the caller should try again.
    Failed {
        /// What went wrong (never the ids).
        reason: String,
    },
}

/// What a destination answered to a request for subjects' data (`Tracker::request_access`,
/// the data subject's right of access, GDPR Art. 15).
///
/// `Debug` shows how many records there are, never their content: they are the subject's data.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Access {
    /// The destination's records about the subjects, read back now: one JSON text per record,
    /// as the destination stores it (e.g. the subject's NDJSON lines).
    Records {
        /// The records, in the order the destination holds them.
        records: Vec<String>,
        /// Where they were read from (e.g. the file), when the sink knows.
        source: Option<String>,
    },
    /// The destination accepted an export request that it carries out later (e.g. a Mixpanel
    /// GDPR data-retrieval task), with its reference when it gave one.
    Requested {
        /// The destination's id of the request, to follow it up.
        reference: Option<String>,
    },
    /// The destination keeps nothing about anyone (e.g. standard output).
    NothingStored,
    /// This sink cannot retrieve: ask the destination by other means.
    NotSupported,
    /// Retrieving failed; the caller should try again.
    Failed {
        /// What went wrong (never the ids).
        reason: String,
    },
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Access::Records { records, source } => f
                .debug_struct("Records")
                .field("records", &records.len())
                .field("source", source)
                .finish(),
            Access::Requested { reference } => f
                .debug_struct("Requested")
                .field("reference", reference)
                .finish(),
            Access::NothingStored => f.write_str("NothingStored"),
            Access::NotSupported => f.write_str("NotSupported"),
            Access::Failed { reason } => f.debug_struct("Failed").field("reason", reason).finish(),
        }
    }
}

/// What a sink says it is, so [`TrackerBuilder::sink`](crate::TrackerBuilder::sink) can check
/// it against the destination the plan declares (its `kind` and whether it is a third party):
/// a sink that would send a first-party destination's data (health data, `redact` values) to
/// an outside collector is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkDeclaration {
    /// Keeps events in this process (an in-memory store, a test recorder): fits any
    /// destination, since nothing leaves.
    InProcess,
    /// Delivers the plan kind `kind` (`"ndjson"`, `"mixpanel"`, `"segment"`, …) to our own
    /// storage (`third_party: false`) or to another party (`third_party: true`).
    Delivers {
        /// The plan `kind` the sink implements.
        kind: &'static str,
        /// Whether the events leave to another party.
        third_party: bool,
    },
}

impl SinkDeclaration {
    /// A sink of plan kind `kind` that delivers to our own storage.
    pub const fn first_party(kind: &'static str) -> SinkDeclaration {
        SinkDeclaration::Delivers {
            kind,
            third_party: false,
        }
    }

    /// A sink of plan kind `kind` that delivers to another party.
    pub const fn third_party(kind: &'static str) -> SinkDeclaration {
        SinkDeclaration::Delivers {
            kind,
            third_party: true,
        }
    }

    /// Whether a destination of plan kind `kind` (third party or not) may be given this sink:
    /// the kinds agree (a plan kind `custom` takes any), and a third-party sink never gets a
    /// first-party destination.
    pub fn fits(self, kind: &str, third_party: bool) -> bool {
        match self {
            SinkDeclaration::InProcess => true,
            SinkDeclaration::Delivers {
                kind: sink_kind,
                third_party: sink_third,
            } => (kind == "custom" || sink_kind == kind) && (third_party || !sink_third),
        }
    }
}

/// A destination a worker delivers to. Implement it for custom destinations; the built-in
/// sinks live in `trackplan::sinks`.
///
/// A sink gets each event as an [`Envelope`]: the plan's transforms already applied, `redact`
/// properties already withheld from third parties. It answers each batch with an
/// [`Outcome`]; a retryable failure is retried by its worker.
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// # trackplan_macros::plan!("tests/fixture/shop.toml");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::{Arc, Mutex};
/// use trackplan::config::SinkDeclaration;
/// use trackplan::requests::Erasure;
/// use trackplan::{Consent, Envelope, Key, Outcome, Sink, Tracker};
///
/// /// Hands events to the support desk's inbox (here, a list of event names).
/// #[derive(Clone, Default)]
/// struct SupportInbox(Arc<Mutex<Vec<String>>>);
///
/// impl Sink for SupportInbox {
///     fn declaration(&self) -> SinkDeclaration {
///         // Our own system: the builder refuses it for a destination the plan keeps elsewhere.
///         SinkDeclaration::first_party("custom")
///     }
///
///     fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
///         let Ok(mut inbox) = self.0.lock() else {
///             return Outcome::Failed { reason: "the inbox is poisoned".into() };
///         };
///         inbox.extend(batch.iter().map(|e| e.event.to_owned()));
///         Outcome::Delivered
///     }
///
///     fn erase(&mut self, _distinct_ids: &[String]) -> Erasure {
///         // Names only: it keeps nothing about anyone.
///         Erasure::NothingStored
///     }
/// }
///
/// let inbox = SupportInbox::default();
/// let tracker = Tracker::builder(&PLAN)
///     .key(Key::from_hex(&"07".repeat(32))?)
///     .sink(destination::SupportDesk, inbox.clone())
/// #   .skip(destination::Warehouse)
/// #   .skip(destination::Mixpanel)
/// #   .skip(destination::Ads)
/// #   .skip(destination::SecurityLog)
///     .build()?;
/// let customer = tracker.subject("user-42", Consent::none().grant(purpose::CustomerSupport));
/// customer.track(SupportTicketOpened { topic: Topic::Refund, order_count: 3 });
/// tracker.flush()?;
/// assert_eq!(*inbox.0.lock().map_err(|_| "poisoned")?, ["Support Ticket Opened"]);
/// # Ok(()) }
/// ```
pub trait Sink: Send + 'static {
    /// What the sink is, checked against the plan's destination when the tracker is built
    /// (see [`SinkDeclaration`]). Every sink says it, custom ones too: a sink that keeps
    /// events in the process returns [`SinkDeclaration::InProcess`]; one that sends them on
    /// names the plan `kind` it implements and its party, e.g.
    /// `SinkDeclaration::third_party("segment")`, so the builder refuses it for a destination
    /// the plan keeps first party.
    fn declaration(&self) -> SinkDeclaration;

    /// Limits the worker batches by.
    fn limits(&self) -> BatchLimits {
        BatchLimits::default()
    }

    /// How retryable failures are retried.
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::default()
    }

    /// Sends one batch (never empty). Called from the destination's worker thread only.
    fn deliver(&mut self, batch: &[Envelope]) -> Outcome;

    /// Makes what was delivered durable (e.g. fsync a file). Called by `Tracker::flush` after
    /// everything accepted before the flush was delivered or failed.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    /// Erases everything this destination holds about these distinct ids (`Tracker::forget`).
    /// Called after every batch handed to the sink before the request has completed.
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        let _ = distinct_ids;
        Erasure::NotSupported
    }

    /// Returns (or requests an export of) everything this destination holds about these
    /// distinct ids (`Tracker::request_access`). Called after every batch handed to the sink
    /// before the request has completed. The default answers [`Access::NotSupported`].
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        let _ = distinct_ids;
        Access::NotSupported
    }

    /// Removes every record this destination holds that was tracked before `before`
    /// (`Tracker::prune`: the plan's retention, see [`crate::retention`]). Called after every
    /// batch handed to the sink before the request, on the worker. The default answers
    /// [`Pruned::NotSupported`]: a store the sink cannot prune (a SaaS backend's own retention
    /// setting must then match the plan).
    fn prune(&mut self, before: Timestamp) -> Pruned {
        let _ = before;
        Pruned::NotSupported
    }

    /// This destination's privacy API, when answering data subjects' requests takes long
    /// enough (a remote API's pacing and retries) that it must not hold up deliveries. Called
    /// once, when the tracker starts; with a handle, the tracker calls it on a thread of its
    /// own instead of [`Sink::erase`] and [`Sink::retrieve`]. The default, `None`, keeps the
    /// requests on the worker, in order with the deliveries: right for a local file.
    fn privacy(&mut self) -> Option<Box<dyn PrivacyApi>> {
        None
    }
}
