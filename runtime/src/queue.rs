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

use crate::lane::{Lane, POLL, Purge, Queued, SPARE_BATCHES_MAX, retain_batch};
use crate::plan::DestinationSet;
use crate::sink::BatchLimits;
use crate::stats::{Counter, Health, StatsCells};
use crate::subject_request::{Answer, RequestKind, SubjectRequest};

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
    lanes: Box<[Lane]>,
    /// Most events each lane holds (not counting a batch out for delivery or waiting to
    /// retry).
    capacity: usize,
    /// Sequence number of the next event.
    next_seq: u64,
    /// Callers blocked on `Queue::progress` (see [`Queue::wait_progress`]): with none, the
    /// workers skip the system call of a notification.
    progress_waiters: usize,
    flush_requested: u64,
    /// Every event with a sequence number up to this one must settle before the requested
    /// flush completes.
    flush_target: u64,
    next_request: u64,
    /// Answers of requests, per destination, until every destination answered and the caller
    /// collected them.
    answers: Vec<(u64, Vec<(usize, Answer)>)>,
    /// Requests whose caller stopped waiting, with how many destinations have still to
    /// answer: their answers are not kept.
    abandoned: Vec<(u64, usize)>,
    /// Empty queues with capacity, for the push that seals a batch to start the next one.
    spare_batches: Vec<VecDeque<Queued>>,
    /// Text buffers of delivered events, reused by `track`: in steady state the `track` path
    /// does not allocate, and memory is not freed on one thread and allocated on another.
    pool: Vec<Vec<u8>>,
    lifecycle: Lifecycle,
    /// Workers started that have not exited.
    workers_running: usize,
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

    /// Lane `d`, for its worker.
    pub(crate) fn lane(&self, d: usize) -> &Lane {
        &self.lanes[d]
    }

    /// Lane `d`, for its worker.
    pub(crate) fn lane_mut(&mut self, d: usize) -> &mut Lane {
        &mut self.lanes[d]
    }

    /// How many destinations (lanes) there are.
    pub(crate) fn destinations(&self) -> usize {
        self.lanes.len()
    }

    /// Whether a worker serves destination `d` (it has a sink, not a skip).
    pub(crate) fn serves(&self, d: usize) -> bool {
        self.lanes.get(d).is_some_and(|lane| lane.served)
    }

    /// Each destination's health, in plan order.
    pub(crate) fn health(&self) -> impl Iterator<Item = &Health> {
        self.lanes.iter().map(|lane| &lane.health)
    }

    pub(crate) fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// The sequence number of the next event, taken.
    pub(crate) fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Fills a thread's stash with spent buffers from the pool, up to `up_to`, once it holds
    /// half of that or fewer: one drain of the pool per `up_to / 2` events, not one per event.
    pub(crate) fn refill(&mut self, stash: &mut Vec<Vec<u8>>, up_to: usize) {
        if stash.len() <= up_to / 2 {
            let take = (up_to - stash.len()).min(self.pool.len());
            let from = self.pool.len() - take;
            stash.extend(self.pool.drain(from..));
        }
    }

    /// Returns a worker's spent buffers (cleared, reusable) to the pool, leaving `spent` empty.
    pub(crate) fn return_spent(&mut self, spent: &mut Vec<Vec<u8>>) {
        if self.pool.is_empty() {
            // Usually so in a steady stream: the buffers change hands without a copy.
            spent.truncate(POOL_MAX);
            std::mem::swap(&mut self.pool, spent);
        } else {
            let room = POOL_MAX.saturating_sub(self.pool.len());
            spent.truncate(room);
            self.pool.append(spent);
        }
        spent.clear();
    }

    /// Whether callers wait on `Queue::progress` (see [`Queue::wait_progress`]).
    pub(crate) fn has_waiters(&self) -> bool {
        self.progress_waiters > 0
    }

    /// Asks every worker to flush what was accepted so far; returns the flush's generation.
    pub(crate) fn request_flush(&mut self) -> u64 {
        self.flush_requested += 1;
        self.flush_target = self.next_seq - 1;
        self.flush_requested
    }

    /// Whether a flush waits for lane `d`.
    pub(crate) fn flush_wanted(&self, d: usize) -> bool {
        self.flush_requested > self.lanes[d].flush_completed
    }

    /// The generation lane `d` may complete now (a flush waits for it and it settled every
    /// event the flush covers), if any.
    pub(crate) fn flush_due(&self, d: usize) -> Option<u64> {
        let covered = self.lanes[d]
            .lowest_pending_seq()
            .is_none_or(|s| s > self.flush_target);
        (self.flush_wanted(d) && covered).then_some(self.flush_requested)
    }

    /// Lane `d` completed the flush of `generation`; `error`: its sink's flush error.
    pub(crate) fn complete_flush(&mut self, d: usize, generation: u64, error: Option<String>) {
        let lane = &mut self.lanes[d];
        lane.flush_completed = lane.flush_completed.max(generation);
        lane.flush_error = error;
    }

    /// After a completed flush: the first sink flush error, and every lane's failures for
    /// good since the previous flush (taken: reported once).
    #[allow(clippy::type_complexity)] // (destination, error) and (destination, (events, reason))
    pub(crate) fn flush_results(
        &mut self,
    ) -> (Option<(usize, String)>, Vec<(usize, (u64, String))>) {
        let sink_error = self
            .lanes
            .iter()
            .enumerate()
            .find_map(|(d, lane)| lane.flush_error.clone().map(|e| (d, e)));
        let failures = self
            .lanes
            .iter_mut()
            .enumerate()
            .filter_map(|(d, lane)| lane.failures.take().map(|f| (d, f)))
            .collect();
        (sink_error, failures)
    }

    /// A worker is about to start.
    pub(crate) fn worker_starting(&mut self) {
        self.workers_running += 1;
    }

    /// A worker exited (or did not start): the last one leaves the queue stopped.
    pub(crate) fn worker_exited(&mut self) {
        self.workers_running = self.workers_running.saturating_sub(1);
        if self.workers_running == 0 && self.lifecycle != Lifecycle::Open {
            self.lifecycle = Lifecycle::Stopped;
        }
    }

    /// Workers started that have not exited.
    pub(crate) fn workers_running(&self) -> usize {
        self.workers_running
    }

    /// No more events are accepted; the workers stop after their current step. Stopped at once
    /// when no worker runs.
    pub(crate) fn stop(&mut self) {
        if self.lifecycle == Lifecycle::Open {
            self.lifecycle = Lifecycle::Stopping;
        }
        if self.workers_running == 0 {
            self.lifecycle = Lifecycle::Stopped;
        }
    }

    /// Queues a data subject's request for every served destination; returns its id and the
    /// destinations that will answer.
    pub(crate) fn submit(
        &mut self,
        kind: RequestKind,
        distinct_ids: Vec<String>,
    ) -> (u64, DestinationSet) {
        let id = self.next_request;
        self.next_request += 1;
        let served: DestinationSet = (0..self.lanes.len()).filter(|&d| self.serves(d)).collect();
        for d in served {
            self.lanes[d].requests.push_back(SubjectRequest {
                id,
                kind,
                distinct_ids: distinct_ids.clone(),
            });
        }
        (id, served)
    }

    /// The next request destination `d` has to answer.
    pub(crate) fn next_request_for(&mut self, d: usize) -> Option<SubjectRequest> {
        self.lanes[d].requests.pop_front()
    }

    /// How many destinations answered request `id` so far.
    pub(crate) fn answered_count(&self, id: u64) -> usize {
        self.answers
            .iter()
            .find(|(r, _)| *r == id)
            .map_or(0, |(_, answers)| answers.len())
    }

    /// Takes the answers to request `id`.
    pub(crate) fn take_answers(&mut self, id: u64) -> Vec<(usize, Answer)> {
        match self.answers.iter().position(|(r, _)| *r == id) {
            Some(pos) => self.answers.swap_remove(pos).1,
            None => Vec::new(),
        }
    }

    /// The caller of request `id` stopped waiting, with `left` destinations yet to answer:
    /// their answers are dropped when they come.
    pub(crate) fn abandon(&mut self, id: u64, left: usize) {
        self.take_answers(id);
        if left > 0 {
            self.abandoned.push((id, left));
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
            capacity,
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
        // A sealed batch is due now: wake the worker unless it is polling for batches, or
        // the lane is half full (a fast producer must not fill it between two looks).
        if sealed {
            wake |= lane.queued * 2 >= *capacity
                || lane
                    .worker_wakes_by
                    .is_none_or(|t| t > Instant::now() + POLL);
        }
        // One wake-up per wait: later pushes need not make the system call again.
        wake && std::mem::replace(&mut lane.worker_waiting, false)
    }

    /// Moves one batch of `d`'s queued events out of the queue, into `into` (empty), while the
    /// caller holds the lock, so the time taken here is time `track` may wait.
    ///
    /// A full batch was sealed by the push that filled it and is taken whole: nothing here touches
    /// its events, which are still in the tracking thread's cache. A batch still filling (due by
    /// time or a flush) is swapped out whole too. Only a lane that holds more than one batch
    /// without sealing it (events replayed from the spool) is taken event by event.
    ///
    /// Returns whether the batch was a sealed, full one.
    pub(crate) fn take_batch(
        &mut self,
        d: usize,
        now: Instant,
        into: &mut VecDeque<Queued>,
    ) -> bool {
        let QueueState {
            lanes,
            spare_batches,
            ..
        } = self;
        let lane = &mut lanes[d];
        let limits = lane.limits;
        let max_events = limits.max_events.max(1);
        let full = if let Some(batch) = lane.sealed.pop_front() {
            let spare = std::mem::replace(into, batch);
            if spare_batches.len() < SPARE_BATCHES_MAX {
                spare_batches.push(spare);
            }
            true
        } else {
            if lane.items.len() <= max_events && lane.bytes <= limits.max_bytes {
                std::mem::swap(&mut lane.items, into);
                lane.bytes = 0;
            } else {
                let mut bytes = 0;
                while into.len() < max_events {
                    let Some(next) = lane.items.front() else {
                        break;
                    };
                    if !into.is_empty() && bytes + next.properties().len() > limits.max_bytes {
                        break;
                    }
                    let Some(q) = lane.items.pop_front() else {
                        break;
                    };
                    bytes += q.properties().len();
                    into.push_back(q);
                }
                lane.bytes -= bytes;
            }
            lane.filling_since = if lane.items.is_empty() {
                None
            } else {
                Some(now)
            };
            false
        };
        lane.queued -= into.len();
        full
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
                    let hit = q.distinct_id() == distinct_id.as_bytes() || q.links(distinct_id);
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
            let retried = lane.retry.as_mut().map_or(0, |r| {
                retain_batch(r, |e| {
                    &*e.distinct_id != distinct_id && !e.message.links(distinct_id)
                })
            });
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A lane of `n` events whose properties are `size` bytes each.
    fn lane_of(n: u64, size: usize, max_events: usize, max_bytes: usize) -> QueueState {
        let limits = crate::sink::BatchLimits {
            max_events,
            max_bytes,
            max_delay: Duration::from_secs(1),
        };
        let mut st = QueueState::new(vec![(limits, true)], 1000);
        for seq in 1..=n {
            st.lanes[0].items.push_back(Queued {
                seq,
                event: "e",
                time_ms: 0,
                purposes: crate::plan::PurposeSet::only(0),
                id_len: 2,
                text: [b"id".as_slice(), &vec![b'x'; size]].concat(),
                kind: crate::lane::Kind::Event,
            });
            st.lanes[0].bytes += size;
        }
        st.lanes[0].queued = n as usize;
        st
    }

    /// Takes one batch; returns its sequence numbers and what the lane kept.
    fn take(st: &mut QueueState) -> (Vec<u64>, Vec<u64>) {
        let mut into = VecDeque::new();
        st.take_batch(0, Instant::now(), &mut into);
        let lane = &st.lanes[0];
        let kept_bytes: usize = lane.items.iter().map(|q| q.properties().len()).sum();
        assert_eq!(lane.bytes, kept_bytes, "byte count of the lane");
        assert_eq!(lane.queued, lane.len(), "queued count");
        (
            into.iter().map(|q| q.seq).collect(),
            lane.sealed
                .iter()
                .flatten()
                .chain(&lane.items)
                .map(|q| q.seq)
                .collect(),
        )
    }

    #[test]
    fn an_unsealed_lane_gives_the_oldest_events_within_both_limits() {
        // Under one batch: all of it, swapped out.
        assert_eq!(take(&mut lane_of(3, 10, 5, 1000)), (vec![1, 2, 3], vec![]));
        // More than one batch (as after a replay from the spool): taken from the front.
        let mut st = lane_of(7, 10, 5, 1000);
        assert_eq!(take(&mut st), (vec![1, 2, 3, 4, 5], vec![6, 7]));
        assert_eq!(take(&mut st), (vec![6, 7], vec![]));
        // The byte limit binds first.
        assert_eq!(
            take(&mut lane_of(6, 10, 5, 25)),
            (vec![1, 2], (3..=6).collect())
        );
        // One event larger than the byte limit still goes, alone.
        assert_eq!(take(&mut lane_of(2, 50, 5, 25)), (vec![1], vec![2]));
    }

    #[test]
    fn sealed_batches_go_whole_and_first() {
        let mut st = lane_of(7, 10, 3, 1000);
        // Seal 1–3, then 4–6, the way pushes do; 7 is left filling.
        let mut filling = std::mem::take(&mut st.lanes[0].items);
        for _ in 0..2 {
            st.lanes[0].items = filling.drain(..3).collect();
            st.lanes[0].seal(None);
        }
        st.lanes[0].items = filling;
        st.lanes[0].bytes = 10;
        assert_eq!(st.lanes[0].lowest_pending_seq(), Some(1));
        assert_eq!(take(&mut st).0, vec![1, 2, 3]);
        assert_eq!(
            st.spare_batches.len(),
            1,
            "the emptied queue is kept for the next seal"
        );
        assert_eq!(take(&mut st).0, vec![4, 5, 6]);
        assert_eq!(take(&mut st), (vec![7], vec![]));
    }

    /// A worker polling for full batches is not woken for each sealed batch, except once its
    /// lane is half full: a fast producer must not fill the lane before the next look.
    #[test]
    fn a_polling_worker_is_woken_only_when_its_lane_is_half_full() {
        let limits = crate::sink::BatchLimits {
            max_events: 10,
            max_bytes: 1 << 20,
            max_delay: Duration::from_secs(1),
        };
        let mut st = QueueState::new(vec![(limits, true)], 100);
        let queued = |seq| Queued {
            seq,
            event: "e",
            time_ms: 0,
            purposes: crate::plan::PurposeSet::only(0),
            id_len: 2,
            text: b"id{}".to_vec(),
            kind: crate::lane::Kind::Event,
        };
        let mut woken = Vec::new();
        for seq in 1..=60 {
            // The worker sleeps and looks again within `POLL`, as while polling.
            st.lanes[0].worker_waiting = true;
            st.lanes[0].worker_wakes_by = Some(Instant::now() + POLL / 2);
            if st.push(0, queued(seq)) {
                woken.push(seq);
            }
        }
        // Batches are sealed at 10, 20, …; the lane holds 100: woken from 50 on.
        assert_eq!(woken, [50, 60]);
    }
}
