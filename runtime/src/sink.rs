//! The sink contract: how delivered events leave the runtime.
//!
//! A [`Sink`] receives [`Envelope`]s after consent, routing and transforms have been applied:
//! it never sees a raw subject id or an untransformed value. The background worker batches
//! envelopes per destination within the sink's [`BatchLimits`], calls [`Sink::deliver`], and
//! handles the [`Outcome`]: retries with backoff, partial failures, permanent errors.

use crate::plan::{PlanInfo, PurposeSet};
use std::time::Duration;

/// One event, ready for one destination.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The event's wire name.
    pub event: &'static str,
    /// Unique id of this event (36 characters of `[A-Za-z0-9-]`): Mixpanel `$insert_id`, Segment
    /// `messageId`. Retries reuse it, so delivery is idempotent.
    pub insert_id: String,
    /// When it was tracked.
    pub time_ms: i64,
    /// The pseudonymous distinct id (never the raw subject id).
    pub distinct_id: String,
    /// The plan it was built from.
    pub plan: &'static PlanInfo,
    /// The event's purposes.
    pub purposes: PurposeSet,
    /// The properties as one JSON object (`{…}`), already transformed and filtered for this
    /// destination.
    pub properties: String,
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

/// What happened to a batch.
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

/// A destination the worker delivers to. Implement it for custom destinations; the built-in
/// sinks live in `trackplan::sinks`.
pub trait Sink: Send + 'static {
    /// Limits the worker batches by.
    fn limits(&self) -> BatchLimits {
        BatchLimits::default()
    }

    /// Sends one batch. Called from the background worker thread only.
    fn deliver(&mut self, batch: &[Envelope]) -> Outcome;

    /// Makes what was delivered durable (e.g. fsync a file). Called by `Tracker::flush`.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
