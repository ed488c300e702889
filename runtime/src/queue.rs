//! The bounded queue between `track` and the worker, and the state both sides share.
//!
//! One mutex guards everything the two sides exchange: per-destination lanes of queued events,
//! the batch waiting for a retry, flush requests and data subjects' requests. `track` holds it only to push a few
//! envelopes; the worker holds it only to take a batch or put one back, never during I/O.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::plan::PurposeSet;
use crate::sink::{Access, BatchLimits, Envelope, Erasure};
use crate::stats::{Counter, StatsCells};

/// An event waiting in one destination's lane. The envelope proper (with its insert id and
/// shared strings) is made by the worker when the event joins a batch, so `track` allocates
/// nothing: the text travels in a buffer recycled through [`State::pool`].
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
    /// The insert id an earlier run gave the event (replayed from the spool); `None`: derived
    /// from `seq` by the worker.
    pub insert_id: Option<String>,
}

impl Queued {
    pub(crate) fn distinct_id(&self) -> &[u8] {
        &self.text[..self.id_len]
    }

    pub(crate) fn properties(&self) -> &[u8] {
        &self.text[self.id_len..]
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
}

/// While full batches keep coming, the worker looks for the next one this often instead of
/// being woken for each: a wake-up is a system call on the tracking thread, a poll is not.
pub(crate) const POLL: Duration = Duration::from_micros(200);

/// Most empty queues kept in `State::spare_batches`.
pub(crate) const SPARE_BATCHES_MAX: usize = 4;

impl Lane {
    /// Queued events: sealed batches and the one filling.
    pub(crate) fn len(&self) -> usize {
        self.sealed.iter().map(VecDeque::len).sum::<usize>() + self.items.len()
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
    /// Destinations whose events are kept (bit set).
    pub keep: u64,
    pub counter: Counter,
}

/// What a data subject asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    /// `forget`: [`Sink::erase`](crate::Sink::erase).
    Erase,
    /// `request_access`: [`Sink::retrieve`](crate::Sink::retrieve).
    Access,
}

/// A `forget` or `request_access` on its way to the sinks.
pub(crate) struct SubjectRequest {
    pub id: u64,
    pub kind: RequestKind,
    pub distinct_ids: Vec<String>,
}

/// One destination's answer to a [`SubjectRequest`].
pub(crate) enum Answer {
    Erasure(Erasure),
    Access(Access),
}

/// The state shared by the tracker handles and the worker.
pub(crate) struct State {
    pub lanes: Box<[Lane]>,
    /// Envelopes in all lanes (not counting batches out for delivery or waiting to retry).
    pub queued: usize,
    pub capacity: usize,
    /// Sequence number of the next event.
    pub next_seq: u64,
    /// The worker sleeps (parked): a push that fills a batch must wake it, and
    /// so must a push that starts a lane whose delivery is due before `worker_wakes_by` (other
    /// pushes need not: the worker looks at every lane when it wakes anyway).
    pub worker_waiting: bool,
    /// When the waiting worker wakes by itself; `None`: only when woken.
    pub worker_wakes_by: Option<Instant>,
    /// Callers blocked on `Shared::progress` (see [`Shared::wait_progress`]): with none, the
    /// worker skips the system call of a notification.
    pub progress_waiters: usize,
    /// The batch the worker is delivering: (destination, lowest sequence number).
    pub in_flight: Option<(usize, u64)>,
    pub purge_log: Vec<Purge>,
    pub flush_requested: u64,
    /// Every event with a sequence number up to this one must settle before the requested
    /// flush completes.
    pub flush_target: u64,
    pub flush_completed: u64,
    /// Sink flush errors of the last completed flush: (destination, error text).
    pub flush_errors: Vec<(usize, String)>,
    pub requests: VecDeque<SubjectRequest>,
    pub next_request: u64,
    /// Answers of completed requests, per destination, until their callers collect them.
    pub answers: Vec<(u64, Vec<(usize, Answer)>)>,
    /// Requests whose caller stopped waiting: their answers are not kept.
    pub abandoned: Vec<u64>,
    /// Empty queues with capacity, for the push that seals a batch to start the next one.
    pub spare_batches: Vec<VecDeque<Queued>>,
    /// Text buffers of delivered events, reused by `track`: in steady state the `track` path
    /// does not allocate, and memory is not freed on one thread and allocated on another.
    pub pool: Vec<Vec<u8>>,
    /// No more events are accepted.
    pub closed: bool,
    /// The worker should stop.
    pub stop: bool,
    pub worker_exited: bool,
}

impl State {
    pub(crate) fn new(limits: Vec<BatchLimits>, capacity: usize) -> State {
        State {
            lanes: limits
                .into_iter()
                .map(|limits| Lane {
                    sealed: VecDeque::new(),
                    items: VecDeque::new(),
                    bytes: 0,
                    filling_since: None,
                    retry: None,
                    limits,
                })
                .collect(),
            queued: 0,
            capacity: capacity.max(1),
            next_seq: 1,
            worker_waiting: false,
            worker_wakes_by: None,
            progress_waiters: 0,
            in_flight: None,
            purge_log: Vec::new(),
            spare_batches: Vec::new(),
            flush_requested: 0,
            flush_target: 0,
            flush_completed: 0,
            flush_errors: Vec::new(),
            requests: VecDeque::new(),
            next_request: 1,
            answers: Vec::new(),
            abandoned: Vec::new(),
            pool: Vec::new(),
            closed: false,
            stop: false,
            worker_exited: false,
        }
    }

    /// The lowest sequence number not settled yet, if any.
    pub(crate) fn lowest_pending_seq(&self) -> Option<u64> {
        let lanes = self.lanes.iter().flat_map(|lane| {
            let queued = lane
                .sealed
                .front()
                .and_then(VecDeque::front)
                .or(lane.items.front())
                .map(|q| q.seq);
            let retry = lane
                .retry
                .as_ref()
                .and_then(|r| r.seqs.iter().min().copied());
            queued.into_iter().chain(retry)
        });
        lanes.chain(self.in_flight.map(|(_, seq)| seq)).min()
    }

    /// Removes the queued events of `distinct_id` for every destination not in `keep`,
    /// counting them under `counter`. Returns how many were removed.
    pub(crate) fn purge(
        &mut self,
        stats: &StatsCells,
        distinct_id: &str,
        keep: u64,
        counter: Counter,
    ) -> u64 {
        let mut removed_total = 0;
        for (d, lane) in self.lanes.iter_mut().enumerate() {
            if keep & (1u64 << d) != 0 {
                continue;
            }
            let pool = &mut self.pool;
            let mut remove = |items: &mut VecDeque<Queued>| {
                let before = items.len();
                let mut freed_bytes = 0;
                items.retain_mut(|q| {
                    let hit = q.distinct_id() == distinct_id.as_bytes();
                    if hit {
                        freed_bytes += q.properties().len();
                        recycle(pool, std::mem::take(&mut q.text));
                    }
                    !hit
                });
                (before - items.len(), freed_bytes)
            };
            let mut removed = 0;
            for batch in &mut lane.sealed {
                removed += remove(batch).0;
            }
            lane.sealed.retain(|batch| !batch.is_empty());
            let (from_filling, freed_bytes) = remove(&mut lane.items);
            removed += from_filling;
            lane.bytes -= freed_bytes;
            if lane.items.is_empty() {
                lane.filling_since = None;
            }
            self.queued -= removed;
            let retried = lane
                .retry
                .as_mut()
                .map_or(0, |r| retain_batch(r, |e| &*e.distinct_id != distinct_id));
            if lane.retry.as_ref().is_some_and(|r| r.batch.is_empty()) {
                lane.retry = None;
            }
            let n = (removed + retried) as u64;
            stats.add(d, counter, n);
            removed_total += n;
        }
        if self.in_flight.is_some() {
            self.purge_log.push(Purge {
                distinct_id: distinct_id.into(),
                keep,
                counter,
            });
        }
        removed_total
    }
}

/// Most buffers kept for reuse, and the largest: a rare huge event does not pin its memory.
pub(crate) const POOL_MAX: usize = 4096;
const POOLED_BYTES_MAX: usize = 16 * 1024;

/// Whether a spent text buffer is worth keeping in the pool.
pub(crate) fn reusable(buf: &Vec<u8>) -> bool {
    buf.capacity() > 0 && buf.capacity() <= POOLED_BYTES_MAX
}

/// Returns a spent text buffer to the pool.
pub(crate) fn recycle(pool: &mut Vec<Vec<u8>>, mut buf: Vec<u8>) {
    if pool.len() < POOL_MAX && reusable(&buf) {
        buf.clear();
        pool.push(buf);
    }
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

/// The state, the worker's thread, the condition variable of callers waiting on the worker,
/// and the counters.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// The worker thread, unparked when work arrives, a flush or a subject's request arrives,
    /// or it should stop. Set once, right after it is spawned.
    worker: OnceLock<Thread>,
    /// Wakes callers waiting on the worker: space freed, flush or request completed, exit.
    pub progress: Condvar,
    pub stats: StatsCells,
    /// Whether waiting for the lock may spin: not on a single CPU, where the holder cannot run
    /// while the waiter spins.
    spin: bool,
}

/// How long [`Shared::lock`] spins for a held lock before it sleeps.
const SPIN_FOR: Duration = Duration::from_micros(10);

impl Shared {
    pub(crate) fn new(state: State, stats: StatsCells) -> Shared {
        Shared {
            state: Mutex::new(state),
            worker: OnceLock::new(),
            progress: Condvar::new(),
            stats,
            spin: std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
        }
    }

    /// Locks the state. A panic while the lock was held cannot leave it inconsistent in a way
    /// that matters more than stopping delivery would, so poisoning is ignored.
    ///
    /// Every holder keeps the lock for a short step, never during I/O, so a held lock is
    /// first waited for on the CPU, for a few microseconds: sleeping in the kernel instead
    /// costs a context switch here and a system call to the holder, which must wake us.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        let attempt = || match self.state.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        if let Some(guard) = attempt() {
            return guard;
        }
        if self.spin {
            let started = Instant::now();
            loop {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                if let Some(guard) = attempt() {
                    return guard;
                }
                if started.elapsed() > SPIN_FOR {
                    break;
                }
            }
        }
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the worker's thread, so it can be woken.
    pub(crate) fn set_worker(&self, thread: Thread) {
        let _ = self.worker.set(thread);
    }

    /// Wakes the worker: it looks at the whole state when it wakes. A wake-up that comes
    /// before the worker sleeps is not lost: its next sleep returns at once.
    pub(crate) fn wake_worker(&self) {
        if let Some(worker) = self.worker.get() {
            worker.unpark();
        }
    }

    /// Waits on `progress` for at most `timeout`, counted in `State::progress_waiters`.
    pub(crate) fn wait_progress<'s>(
        &'s self,
        mut st: MutexGuard<'s, State>,
        timeout: Duration,
    ) -> MutexGuard<'s, State> {
        st.progress_waiters += 1;
        let mut st = self
            .progress
            .wait_timeout(st, timeout)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
        st.progress_waiters -= 1;
        st
    }
}
