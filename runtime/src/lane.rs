//! A destination's lane of the queue: its queued events, sealed into batches by the pushes
//! that fill them, the batch waiting for a retry, and its worker's wake-up, flush and request
//! state.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::message::{Message, ProfileOp};
use crate::plan::{DestinationSet, PurposeSet};
use crate::sink::{BatchLimits, Envelope};
use crate::stats::{Counter, Health};
use crate::subject_request::SubjectRequest;

/// An event waiting in one destination's lane. The envelope proper (with its insert id and
/// shared strings) is made by the worker when the event joins a batch, so `track` allocates
/// nothing: the text travels in a buffer recycled through [`QueueState::pool`].
pub(crate) struct Queued {
    /// Sequence number of the event, shared by its envelopes for every destination.
    pub seq: u64,
    pub event: &'static str,
    pub time_ms: i64,
    pub purposes: PurposeSet,
    /// Length of the distinct id at the start of `text`.
    pub id_len: usize,
    /// The distinct id, then the properties object for this destination.
    pub text: Vec<u8>,
    /// What it asks the destination to do, and its own insert id if it has one.
    pub kind: Kind,
}

// `track` moves a `Queued` into the lane under the lock: it stays a few cache lines (a
// larger one made that move a `memcpy` call and cost plain events ~10 ns).
const _: () = assert!(std::mem::size_of::<Queued>() <= 96);

/// What a [`Queued`] item asks its destination to do. The common kinds are held inline, so
/// a plain event or a profile update moves through the lane as a small value; the others
/// (groups, links, a caller's or replay's insert id) are boxed.
pub(crate) enum Kind {
    /// [`Message::TRACK`], insert id derived from the sequence number.
    Event,
    /// [`Message::Profile`], insert id derived from the sequence number.
    Profile(ProfileOp),
    /// Any other message, or any message with an insert id of its own (a caller's, or the one
    /// a replayed event was first accepted under).
    Other(Box<Detail>),
}

/// The boxed part of [`Kind::Other`].
pub(crate) struct Detail {
    pub message: Message,
    pub insert_id: Option<String>,
}

impl Kind {
    /// The kind of `message` with `insert_id` (`None`: derived from the sequence number).
    #[inline]
    pub(crate) fn of(message: &Message, insert_id: Option<&str>) -> Kind {
        match (message, insert_id) {
            (Message::Track { groups: None }, None) => Kind::Event,
            (Message::Profile { op }, None) => Kind::Profile(*op),
            _ => Kind::Other(Box::new(Detail {
                message: message.clone(),
                insert_id: insert_id.map(str::to_owned),
            })),
        }
    }

    /// [`Kind::of`] an owned message and insert id (a replay's).
    pub(crate) fn owned(message: Message, insert_id: Option<String>) -> Kind {
        match (&message, &insert_id) {
            (Message::Track { groups: None }, None) => Kind::Event,
            (Message::Profile { op }, None) => Kind::Profile(*op),
            _ => Kind::Other(Box::new(Detail { message, insert_id })),
        }
    }

    /// The message and the insert id of its own, leaving [`Kind::Event`] behind.
    pub(crate) fn take(&mut self) -> (Message, Option<String>) {
        match std::mem::replace(self, Kind::Event) {
            Kind::Event => (Message::TRACK, None),
            Kind::Profile(op) => (Message::Profile { op }, None),
            Kind::Other(detail) => (detail.message, detail.insert_id),
        }
    }
}

impl Queued {
    pub(crate) fn distinct_id(&self) -> &[u8] {
        &self.text[..self.id_len]
    }

    pub(crate) fn properties(&self) -> &[u8] {
        &self.text[self.id_len..]
    }

    /// Whether this is an identity link whose anonymous id is `distinct_id`.
    pub(crate) fn links(&self, distinct_id: &str) -> bool {
        matches!(&self.kind, Kind::Other(detail) if detail.message.links(distinct_id))
    }
}

/// A batch whose delivery asked to be retried, waiting for its backoff to pass.
pub(crate) struct RetryBatch {
    pub batch: Vec<Envelope>,
    /// Sequence numbers, parallel to `batch`.
    pub seqs: Vec<u64>,
    /// Retries done so far.
    pub retries: u32,
    pub due: Instant,
}

/// One destination's side of the queue.
pub(crate) struct Lane {
    /// Full batches, oldest first, sealed by the push that filled them: the worker takes one
    /// whole, without touching its events while it holds the lock.
    pub sealed: VecDeque<VecDeque<Queued>>,
    /// The batch filling, after the sealed ones.
    pub items: VecDeque<Queued>,
    /// Bytes of properties in `items`, to batch by the sink's `max_bytes`.
    pub bytes: usize,
    /// When the batch now filling started waiting (for the sink's `max_delay`).
    pub filling_since: Option<Instant>,
    pub retry: Option<RetryBatch>,
    pub limits: BatchLimits,
    /// Events in `sealed` and `items` (not the batch out for delivery or waiting to retry);
    /// at most [`QueueState::capacity`].
    pub queued: usize,
    /// Whether a worker serves this lane (a skipped destination has none).
    pub served: bool,
    /// The worker sleeps (parked): a push that fills a batch must wake it, and so must a push
    /// that starts a batch due before `worker_wakes_by` (other pushes need not: the worker
    /// looks at its whole lane when it wakes anyway).
    pub worker_waiting: bool,
    /// When the waiting worker wakes by itself; `None`: only when woken.
    pub worker_wakes_by: Option<Instant>,
    /// Lowest sequence number of the batch the worker is delivering.
    pub in_flight: Option<u64>,
    /// Purges that happened while a batch was out, applied if it comes back for a retry.
    pub purge_log: Vec<Purge>,
    /// The last flush generation this lane completed.
    pub flush_completed: u64,
    /// The sink's flush error of that flush.
    pub flush_error: Option<String>,
    /// Data subjects' requests this destination has still to answer, oldest first.
    pub requests: VecDeque<SubjectRequest>,
    /// How deliveries went lately, for `stats()`.
    pub health: Health,
    /// Events that failed for good since the last flush reported them, with the latest reason.
    pub failures: Option<(u64, String)>,
}

/// While full batches keep coming, the worker looks for the next one this often instead of
/// being woken for each: a wake-up is a system call on the tracking thread, a poll is not.
/// Each look takes the queue lock and, on the caller's CPU, a context switch; 1 ms (it was
/// 200 µs) brought `track` with the worker delivering from about 1.5× to 1.2–1.3× of the
/// floor on the same CPU (benches/track.rs). A lane half full wakes the worker at once
/// (`QueueState::push`), so the longer interval cannot fill a lane.
pub(crate) const POLL: Duration = Duration::from_millis(1);

/// Most empty queues kept in `QueueState::spare_batches`.
pub(crate) const SPARE_BATCHES_MAX: usize = 4;

impl Lane {
    pub(crate) fn new(limits: BatchLimits, served: bool) -> Lane {
        Lane {
            sealed: VecDeque::new(),
            items: VecDeque::new(),
            bytes: 0,
            filling_since: None,
            retry: None,
            limits,
            queued: 0,
            served,
            worker_waiting: false,
            worker_wakes_by: None,
            in_flight: None,
            purge_log: Vec::new(),
            flush_completed: 0,
            flush_error: None,
            requests: VecDeque::new(),
            health: Health::default(),
            failures: None,
        }
    }

    /// Records that `n` events failed for good (no retry will deliver them).
    pub(crate) fn failed_for_good(&mut self, n: u64, reason: &str) {
        if n > 0 {
            let (count, last) = self.failures.get_or_insert_with(|| (0, String::new()));
            *count += n;
            reason.clone_into(last);
        }
    }

    /// Queued events: sealed batches and the one filling.
    pub(crate) fn len(&self) -> usize {
        self.sealed.iter().map(VecDeque::len).sum::<usize>() + self.items.len()
    }

    /// The lowest sequence number of this lane not settled yet, if any.
    pub(crate) fn lowest_pending_seq(&self) -> Option<u64> {
        let queued = self
            .sealed
            .front()
            .and_then(VecDeque::front)
            .or(self.items.front())
            .map(|q| q.seq);
        let retry = self
            .retry
            .as_ref()
            .and_then(|r| r.seqs.iter().min().copied());
        [queued, retry, self.in_flight].into_iter().flatten().min()
    }

    /// Whether a batch is due now: full, past its delay, or wanted by a flush.
    pub(crate) fn due(&self, now: Instant, flushing: bool) -> bool {
        !self.is_empty()
            && self.retry.is_none()
            && (flushing
                || !self.sealed.is_empty()
                || self.items.len() >= self.limits.max_events
                || self.bytes >= self.limits.max_bytes
                || self
                    .filling_since
                    .is_some_and(|t| now.saturating_duration_since(t) >= self.limits.max_delay))
    }

    /// When the worker must look again without being woken: the retry or the batch timeout.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match &self.retry {
            Some(r) => Some(r.due),
            None => self
                .filling_since
                .and_then(|t| t.checked_add(self.limits.max_delay)),
        }
    }

    /// Whether nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.sealed.is_empty() && self.items.is_empty()
    }

    /// Seals the filling batch (when it has events), starting the next one in `spare`.
    pub(crate) fn seal(&mut self, spare: Option<VecDeque<Queued>>) {
        if !self.items.is_empty() {
            let full = std::mem::replace(&mut self.items, spare.unwrap_or_default());
            self.sealed.push_back(full);
            self.bytes = 0;
            self.filling_since = None;
        }
    }
}

/// A purge that happened while the worker had a batch out; applied when the batch comes back
/// for a retry, so a withdrawn or forgotten subject's events are not retried.
pub(crate) struct Purge {
    pub distinct_id: Arc<str>,
    /// Destinations whose events are kept.
    pub keep: DestinationSet,
    pub counter: Counter,
}

/// Keeps the envelopes of a retry batch for which `keep` holds. Returns how many were removed.
pub(crate) fn retain_batch(r: &mut RetryBatch, keep: impl Fn(&Envelope) -> bool) -> usize {
    let before = r.batch.len();
    let (batch, seqs) = std::mem::take(&mut r.batch)
        .into_iter()
        .zip(std::mem::take(&mut r.seqs))
        .filter(|(e, _)| keep(e))
        .unzip();
    r.batch = batch;
    r.seqs = seqs;
    before - r.batch.len()
}
