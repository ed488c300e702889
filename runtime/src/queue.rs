//! The bounded queue between `track` and the workers, and the state both sides share.
//!
//! Every destination has its own lane (its queued events, the batch waiting for a retry, its
//! data subjects' requests and its flush progress) and its own worker thread, which owns the
//! destination's sink: a slow, failing or retrying destination only ever holds up its own
//! lane. One mutex guards all lanes: `track` holds it only to push a few events; a worker
//! holds it only to take a batch or put one back, never during I/O.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::lane::{Lane, POLL, Purge, Queued, retain_batch};
use crate::plan::DestinationSet;
use crate::sink::BatchLimits;
use crate::stats::{Counter, StatsCells};
use crate::subject_request::Answer;

/// Where the tracker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Accepting events; the workers deliver.
    Open,
    /// `shutdown` began: no more events are accepted, the workers stop after their current
    /// step.
    Stopping,
    /// Every worker has exited.
    Stopped,
}

/// The state shared by the tracker handles and the workers.
pub(crate) struct QueueState {
    pub lanes: Box<[Lane]>,
    /// Most events each lane holds (not counting a batch out for delivery or waiting to
    /// retry).
    pub capacity: usize,
    /// Sequence number of the next event.
    pub next_seq: u64,
    /// Callers blocked on `Queue::progress` (see [`Queue::wait_progress`]): with none, the
    /// workers skip the system call of a notification.
    pub progress_waiters: usize,
    pub flush_requested: u64,
    /// Every event with a sequence number up to this one must settle before the requested
    /// flush completes.
    pub flush_target: u64,
    pub next_request: u64,
    /// Answers of requests, per destination, until every destination answered and the caller
    /// collected them.
    pub answers: Vec<(u64, Vec<(usize, Answer)>)>,
    /// Requests whose caller stopped waiting, with how many destinations have still to
    /// answer: their answers are not kept.
    pub abandoned: Vec<(u64, usize)>,
    /// Empty queues with capacity, for the push that seals a batch to start the next one.
    pub spare_batches: Vec<VecDeque<Queued>>,
    /// Text buffers of delivered events, reused by `track`: in steady state the `track` path
    /// does not allocate, and memory is not freed on one thread and allocated on another.
    pub pool: Vec<Vec<u8>>,
    pub lifecycle: Lifecycle,
    /// Workers started that have not exited.
    pub workers_running: usize,
}

impl QueueState {
    /// `lanes`: per destination, its batch limits and whether a worker serves it.
    pub(crate) fn new(lanes: Vec<(BatchLimits, bool)>, capacity: usize) -> QueueState {
        QueueState {
            lanes: lanes
                .into_iter()
                .map(|(limits, served)| Lane::new(limits, served))
                .collect(),
            capacity: capacity.max(1),
            next_seq: 1,
            progress_waiters: 0,
            spare_batches: Vec::new(),
            flush_requested: 0,
            flush_target: 0,
            next_request: 1,
            answers: Vec::new(),
            abandoned: Vec::new(),
            pool: Vec::new(),
            lifecycle: Lifecycle::Open,
            // Counted by the builder as it starts each worker.
            workers_running: 0,
        }
    }

    /// Records destination `d`'s answer to request `id`; dropped if its caller stopped
    /// waiting.
    pub(crate) fn answered(&mut self, id: u64, d: usize, answer: Answer) {
        if let Some(pos) = self.abandoned.iter().position(|(r, _)| *r == id) {
            let left = &mut self.abandoned[pos].1;
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.abandoned.swap_remove(pos);
            }
            return;
        }
        match self.answers.iter_mut().find(|(r, _)| *r == id) {
            Some((_, answers)) => answers.push((d, answer)),
            None => self.answers.push((id, vec![(d, answer)])),
        }
    }

    /// The destinations of `send` whose lane is full.
    pub(crate) fn full_lanes(&self, send: DestinationSet) -> DestinationSet {
        send.iter()
            .filter(|&d| self.lanes.get(d).is_none_or(|l| l.queued >= self.capacity))
            .collect()
    }

    /// Queues one event in lane `d` (from `track` or a replay from the spool). Returns whether
    /// the lane's worker must be woken: it sleeps, and the event started a batch due before
    /// it wakes by itself, or filled one (unless it is polling for full batches anyway).
    pub(crate) fn push(&mut self, d: usize, q: Queued) -> bool {
        let QueueState {
            lanes,
            spare_batches,
            ..
        } = self;
        let Some(lane) = lanes.get_mut(d) else {
            return false;
        };
        let props_len = q.properties().len();
        let mut wake = false;
        let mut sealed = false;
        // Batches are sealed here, where their events are still in this thread's cache: the
        // worker then takes a whole batch without touching them under the lock.
        if !lane.items.is_empty() && lane.bytes + props_len > lane.limits.max_bytes {
            lane.seal(spare_batches.pop());
            sealed = true;
        }
        if lane.items.is_empty() {
            let now = Instant::now();
            lane.filling_since = Some(now);
            // The worker must learn of the new batch's deadline unless it wakes by then.
            wake |= match (lane.worker_wakes_by, now.checked_add(lane.limits.max_delay)) {
                (Some(t), Some(due)) => t > due,
                (None, _) => true,
                // Never due by time: only a full batch or a flush sends it.
                (Some(_), None) => false,
            };
        }
        lane.bytes += props_len;
        lane.items.push_back(q);
        lane.queued += 1;
        if lane.items.len() >= lane.limits.max_events || lane.bytes >= lane.limits.max_bytes {
            lane.seal(spare_batches.pop());
            sealed = true;
        }
        // A sealed batch is due now: wake the worker unless it is polling for batches.
        if sealed {
            wake |= lane
                .worker_wakes_by
                .is_none_or(|t| t > Instant::now() + POLL);
        }
        // One wake-up per wait: later pushes need not make the system call again.
        wake && std::mem::replace(&mut lane.worker_waiting, false)
    }

    /// Whether `track` may still queue events.
    pub(crate) fn accepting(&self) -> bool {
        self.lifecycle == Lifecycle::Open
    }

    /// Whether the flush of generation `generation` is complete at every served lane.
    pub(crate) fn flushed(&self, generation: u64) -> bool {
        self.lanes
            .iter()
            .all(|lane| !lane.served || lane.flush_completed >= generation)
    }

    /// Removes the queued events of `distinct_id` for every destination not in `keep`,
    /// counting them under `counter`. Returns how many were removed.
    pub(crate) fn purge(
        &mut self,
        stats: &StatsCells,
        distinct_id: &str,
        keep: DestinationSet,
        counter: Counter,
    ) -> u64 {
        let mut removed_total = 0;
        for (d, lane) in self.lanes.iter_mut().enumerate() {
            if keep.contains(d) {
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
            lane.queued -= removed;
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
            if lane.in_flight.is_some() {
                lane.purge_log.push(Purge {
                    distinct_id: distinct_id.into(),
                    keep,
                    counter,
                });
            }
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

/// The state, the workers' threads, the condition variable of callers waiting on the workers,
/// and the counters.
pub(crate) struct Queue {
    state: Mutex<QueueState>,
    /// Each lane's worker thread, unparked when work arrives, a flush or a subject's request
    /// arrives, or it should stop. Set once, right after it is spawned.
    workers: Box<[OnceLock<Thread>]>,
    /// Wakes callers waiting on the worker: space freed, flush or request completed, exit.
    pub progress: Condvar,
    pub stats: StatsCells,
    /// Whether waiting for the lock may spin: not on a single CPU, where the holder cannot run
    /// while the waiter spins.
    spin: bool,
}

/// How long [`Queue::lock`] spins for a held lock before it sleeps.
const SPIN_FOR: Duration = Duration::from_micros(10);

impl Queue {
    pub(crate) fn new(state: QueueState, stats: StatsCells) -> Queue {
        Queue {
            workers: state.lanes.iter().map(|_| OnceLock::new()).collect(),
            state: Mutex::new(state),
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
    pub(crate) fn lock(&self) -> MutexGuard<'_, QueueState> {
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

    /// Records the thread of lane `d`'s worker, so it can be woken.
    pub(crate) fn set_worker(&self, d: usize, thread: Thread) {
        if let Some(slot) = self.workers.get(d) {
            let _ = slot.set(thread);
        }
    }

    /// Wakes the workers of the lanes in `lanes`: each looks at its whole lane when it wakes.
    /// A wake-up that comes before a worker sleeps is not lost: its next sleep returns at once.
    pub(crate) fn wake(&self, lanes: DestinationSet) {
        for d in lanes {
            if let Some(worker) = self.workers.get(d).and_then(OnceLock::get) {
                worker.unpark();
            }
        }
    }

    /// Wakes every worker.
    pub(crate) fn wake_all(&self) {
        for worker in self.workers.iter().filter_map(OnceLock::get) {
            worker.unpark();
        }
    }

    /// Waits on `progress` for at most `timeout`, counted in `QueueState::progress_waiters`.
    pub(crate) fn wait_progress<'s>(
        &'s self,
        mut st: MutexGuard<'s, QueueState>,
        timeout: Duration,
    ) -> MutexGuard<'s, QueueState> {
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
