//! A destination's worker: the thread that owns its sink, batches its lane's events, delivers
//! them, retries, flushes, and answers its data subjects' requests, or hands them to the
//! thread of the sink's privacy API ([`Sink::privacy`]) when it has one. Every destination
//! with a sink has its own, so a sink is only ever called from its one thread, and a
//! destination that is slow or down holds up no other; a privacy request that is retried for
//! minutes holds up not even its own destination's deliveries.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use crate::id::InsertIds;
use crate::lane::{POLL, Queued, RetryBatch, retain_batch};
use crate::plan::PlanInfo;
use crate::privacy_api::{self, OnSink, PrivacyThread};
use crate::queue::{Lifecycle, Queue, QueueState, reusable};
use crate::retention;
use crate::retry::{self, Step};
use crate::sink::{Envelope, Outcome, RetryPolicy, Sink};
use crate::spool::Spool;
use crate::stats::Counter;
use crate::subject_request::{Answer, RequestKind, SubjectRequest};

/// One destination's worker: what it owns outside the shared mutex.
pub(crate) struct Worker {
    shared: Arc<Queue>,
    plan: &'static PlanInfo,
    /// The destination (lane) served.
    d: usize,
    sink: Box<dyn Sink>,
    retry: RetryPolicy,
    ids: InsertIds,
    /// The on-disk spool: events are settled in it once delivered or given up on.
    spool: Option<Arc<Spool>>,
    /// Text buffers of events turned into envelopes, returned to the pool at the next lock.
    spent: Vec<Vec<u8>>,
    /// An empty queue with capacity, swapped with the lane's queue to take a whole batch.
    spare: VecDeque<Queued>,
    /// Insert-id strings of delivered envelopes, reused for the next ones.
    spare_ids: Vec<String>,
    /// A batch was taken since the worker last found nothing to do (see `run`).
    lingering: bool,
    /// A full (sealed) batch was taken since the worker last slept (see `run`).
    took_full: bool,
    /// The thread of the sink's privacy API ([`Sink::privacy`]), started with the worker.
    privacy: Option<PrivacyThread>,
}

/// Most insert-id strings kept for reuse (a few batches' worth).
const SPARE_IDS_MAX: usize = 4096;

impl Worker {
    /// The worker of destination `d`, delivering to `sink`.
    pub(crate) fn new(
        shared: Arc<Queue>,
        plan: &'static PlanInfo,
        d: usize,
        sink: Box<dyn Sink>,
        ids: InsertIds,
        spool: Option<Arc<Spool>>,
    ) -> Worker {
        Worker {
            retry: sink.retry_policy(),
            shared,
            plan,
            d,
            sink,
            ids,
            spool,
            spent: Vec::new(),
            spare: VecDeque::new(),
            spare_ids: Vec::new(),
            lingering: false,
            took_full: false,
            privacy: None,
        }
    }

    /// Starts the worker's thread, and the thread of its sink's privacy API if it has one,
    /// and registers the worker for wake-ups.
    pub(crate) fn spawn(mut self) -> std::io::Result<JoinHandle<()>> {
        let shared = Arc::clone(&self.shared);
        let d = self.d;
        let id = self.destination_id();
        let sink = &mut self.sink;
        let api = catch_unwind(AssertUnwindSafe(|| sink.privacy())).unwrap_or_else(|_| {
            tracing::warn!(
                destination = id,
                "trackplan: the sink panicked handing out its privacy API; \
                 its worker answers data subjects' requests"
            );
            None
        });
        if let Some(api) = api {
            // Should the worker not start, dropping it stops this thread too.
            self.privacy = Some(PrivacyThread::spawn(api, Arc::clone(&shared), d, id)?);
        }
        let handle = std::thread::Builder::new()
            .name(format!("trackplan-{id}"))
            .spawn(move || self.run())?;
        shared.set_worker(d, handle.thread().clone());
        Ok(handle)
    }

    fn destination_id(&self) -> &'static str {
        self.plan
            .destinations
            .get(self.d)
            .map_or("?", |info| info.id)
    }

    fn run(mut self) {
        let shared = Arc::clone(&self.shared);
        let d = self.d;
        let mut st = shared.lock();
        loop {
            if st.lifecycle() != Lifecycle::Open {
                break;
            }
            if let Some(request) = st.next_request_for(d) {
                // A destination with a privacy API of its own answers there: its deliveries
                // go on meanwhile. The request was taken between deliveries, so every batch
                // taken before it was handed to the sink first, as with an answer here.
                let request = match &self.privacy {
                    // Pruning is the sink's own store: answered here, in order with writes.
                    Some(_) if matches!(request.kind, RequestKind::Prune { .. }) => request,
                    Some(thread) => match thread.send(request) {
                        Ok(()) => continue,
                        Err(request) => request,
                    },
                    None => request,
                };
                drop(st);
                let answer = self.answer(&request);
                st = shared.lock();
                st.answered(request.id, d, answer);
                shared.progress.notify_all();
                continue;
            }
            let now = Instant::now();
            let lane = st.lane_mut(d);
            if lane.retry.as_ref().is_some_and(|r| r.due <= now) {
                if let Some(batch) = lane.retry.take() {
                    lane.in_flight = Some(batch.seqs.iter().min().copied().unwrap_or(u64::MAX));
                    drop(st);
                    st = self.attempt(&shared, batch);
                }
                continue;
            }
            let flush_wanted = st.flush_wanted(d);
            if st.lane(d).due(now, flush_wanted) {
                self.lingering = true;
                let mut items = std::mem::take(&mut self.spare);
                self.took_full |= st.take_batch(d, now, &mut items);
                st.lane_mut(d).in_flight = Some(items.front().map_or(u64::MAX, |q| q.seq));
                let waiters = st.has_waiters();
                drop(st);
                // Space was freed for producers blocked on a full queue.
                if waiters {
                    shared.progress.notify_all();
                }
                // Insert ids cost a hash each: made outside the lock, so `track` never waits
                // for them.
                let batch = self.envelopes(&mut items);
                self.spare = items;
                st = self.attempt(&shared, batch);
                continue;
            }
            if let Some(generation) = st.flush_due(d) {
                drop(st);
                let error = self.flush_sink();
                st = shared.lock();
                st.complete_flush(d, generation, error);
                shared.progress.notify_all();
                continue;
            }
            if let Some(spool) = &self.spool {
                // Sync outside the queue lock: `track` must not wait for the disk.
                if spool.next_sync().is_some_and(|at| at <= now) {
                    drop(st);
                    if let Err(e) = spool.sync_if_due() {
                        tracing::warn!(error = %e, "trackplan: syncing the spool failed");
                    }
                    st = shared.lock();
                    continue;
                }
            }
            let lane = st.lane_mut(d);
            lane.worker_waiting = true;
            let spool_due = self.spool.as_ref().and_then(|s| s.next_sync());
            let mut deadline = match (lane.next_deadline(), spool_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            // Nothing waits. While events keep coming, wake by the batch delay anyway: a
            // batch started meanwhile is then due no earlier than that, and `track` need not
            // make a system call to wake the worker for each new batch. After one such
            // wake-up finds nothing, the worker sleeps until woken.
            if deadline.is_none() && std::mem::take(&mut self.lingering) {
                deadline = now.checked_add(lane.limits.max_delay);
            }
            // Full batches came since the last sleep: look again soon (see `POLL`), and let
            // `track` seal batches without waking the worker. A look that finds none ends it.
            if std::mem::take(&mut self.took_full) {
                let poll = now + POLL;
                deadline = Some(deadline.map_or(poll, |d| d.min(poll)));
            }
            lane.worker_wakes_by = deadline;
            drop(st);
            // A wake-up between the unlock and the park is kept by the thread's token.
            match deadline {
                None => std::thread::park(),
                Some(at) => std::thread::park_timeout(at.saturating_duration_since(now)),
            }
            st = shared.lock();
            let lane = st.lane_mut(d);
            lane.worker_waiting = false;
            lane.worker_wakes_by = None;
        }
        self.abandon_rest(&mut st);
        if let Some(thread) = self.privacy.take() {
            // The privacy thread records its answers under the lock.
            drop(st);
            thread.stop();
            st = shared.lock();
        }
        st.worker_exited();
        shared.progress.notify_all();
    }

    /// Turns queued events into envelopes with their insert ids. Consecutive events of one
    /// subject share one distinct-id string.
    fn envelopes(&mut self, items: &mut VecDeque<Queued>) -> RetryBatch {
        let mut batch: Vec<Envelope> = Vec::with_capacity(items.len());
        let mut seqs = Vec::with_capacity(items.len());
        for mut q in items.drain(..) {
            seqs.push(q.seq);
            let distinct_id = match batch.last() {
                Some(prev) if prev.distinct_id.as_bytes() == q.distinct_id() => {
                    Arc::clone(&prev.distinct_id)
                }
                _ => text(q.distinct_id()),
            };
            let (message, own_id) = q.kind.take();
            let insert_id = match own_id {
                Some(stored) => stored,
                None => {
                    let mut id = self.spare_ids.pop().unwrap_or_default();
                    self.ids.write_id(q.seq, &mut id);
                    id
                }
            };
            batch.push(Envelope {
                message,
                event: q.event,
                insert_id,
                time_ms: q.time_ms,
                distinct_id,
                plan: self.plan,
                purposes: q.purposes,
                properties: text(q.properties()),
            });
            self.spent.push(std::mem::take(&mut q.text));
        }
        RetryBatch {
            batch,
            seqs,
            retries: 0,
            due: Instant::now(),
        }
    }

    /// Delivers `r` (the caller has marked it in flight and released the lock), then settles
    /// the outcome under the lock, which it returns.
    fn attempt<'s>(&mut self, shared: &'s Queue, mut r: RetryBatch) -> MutexGuard<'s, QueueState> {
        let d = self.d;
        let outcome = if r.batch.is_empty() {
            Outcome::Delivered
        } else {
            let sink = &mut self.sink;
            catch_unwind(AssertUnwindSafe(|| sink.deliver(&r.batch))).unwrap_or_else(|_| {
                Outcome::Failed {
                    reason: "the sink panicked".into(),
                }
            })
        };
        let step = match &outcome {
            Outcome::Retry { after, .. } => Some(retry::next_step(
                &self.retry,
                r.retries,
                *after,
                retry::jitter_permille(),
            )),
            _ => None,
        };
        if let Some(spool) = &self.spool
            && !matches!(step, Some(Step::RetryAfter(_)))
        {
            let ids = r.batch.iter().map(|e| e.insert_id.as_str());
            if let Err(e) = spool.settle(d, ids) {
                tracing::warn!(error = %e, "trackplan: recording delivery in the spool failed");
            }
        }
        let n = r.batch.len() as u64;
        if step.is_none() {
            // Settled: dropped here, outside the lock, so `track` does not wait for a whole
            // batch's deallocations.
            self.reclaim(std::mem::take(&mut r.batch));
        }
        // Spent buffers are cleared and sorted out here; under the lock they are only moved.
        self.spent.retain_mut(|buf| {
            buf.clear();
            reusable(buf)
        });
        let now = SystemTime::now();
        let mut st = shared.lock();
        st.return_spent(&mut self.spent);
        let lane = st.lane_mut(d);
        lane.in_flight = None;
        let purges = std::mem::take(&mut lane.purge_log);
        let stats = &self.shared.stats;
        let id = self.destination_id();
        match outcome {
            Outcome::Delivered => {
                stats.add(d, Counter::Delivered, n);
                lane.health.succeeded(now);
            }
            Outcome::Partial { failed } => {
                let mut indices: Vec<usize> = failed
                    .iter()
                    .map(|(i, _)| *i)
                    .filter(|&i| (i as u64) < n)
                    .collect();
                indices.sort_unstable();
                indices.dedup();
                let k = indices.len() as u64;
                stats.add(d, Counter::Failed, k);
                stats.add(d, Counter::Delivered, n - k);
                let reason = failed.first().map_or("", |(_, why)| why.as_str());
                lane.health.succeeded(now);
                lane.failed_for_good(k, reason);
                tracing::warn!(
                    destination = id,
                    failed = k,
                    delivered = n - k,
                    reason,
                    "trackplan: the destination rejected some events of a batch"
                );
            }
            Outcome::Failed { reason } => {
                stats.add(d, Counter::Failed, n);
                lane.health.failed(now, &reason);
                lane.failed_for_good(n, &reason);
                tracing::warn!(
                    destination = id,
                    failed = n,
                    reason = reason.as_str(),
                    "trackplan: the destination rejected a batch; not retrying"
                );
            }
            Outcome::Retry { reason, .. } => {
                lane.health.failed(now, &reason);
                // Events of subjects who withdrew consent or were forgotten meanwhile are
                // not sent again.
                for p in &purges {
                    if !p.keep.contains(d) {
                        let removed = retain_batch(&mut r, |e| {
                            *e.distinct_id != *p.distinct_id && !e.message.links(&p.distinct_id)
                        });
                        stats.add(d, p.counter, removed as u64);
                    }
                }
                let n = r.batch.len() as u64;
                r.retries += 1;
                match step {
                    Some(Step::RetryAfter(wait)) if n > 0 => {
                        stats.add(d, Counter::Retried, n);
                        tracing::debug!(
                            destination = id,
                            events = n,
                            retry = r.retries,
                            wait_ms = wait.as_millis() as u64,
                            reason = reason.as_str(),
                            "trackplan: delivery will be retried"
                        );
                        r.due = Instant::now() + wait;
                        lane.retry = Some(r);
                    }
                    Some(Step::RetryAfter(_)) => {}
                    Some(Step::GiveUp) | None => {
                        stats.add(d, Counter::Failed, n);
                        lane.failed_for_good(n, &reason);
                        tracing::warn!(
                            destination = id,
                            failed = n,
                            retries = self.retry.max_retries,
                            reason = reason.as_str(),
                            "trackplan: giving up on a batch after its retries ran out"
                        );
                    }
                }
            }
        }
        st
    }

    /// Drops a settled batch, keeping its insert-id strings for the next batches: the worker
    /// then allocates no string per event in steady state.
    fn reclaim(&mut self, batch: Vec<Envelope>) {
        for e in batch {
            if self.spare_ids.len() < SPARE_IDS_MAX {
                self.spare_ids.push(e.insert_id);
            }
        }
    }

    /// Answers `request` here, by the sink itself: for a destination without a privacy
    /// thread (see `run`), whose answers are quick and stay in order with its writes.
    fn answer(&mut self, request: &SubjectRequest) -> Answer {
        let destination = self.destination_id();
        if let RequestKind::Prune { now_ms } = request.kind {
            return retention::answer(&mut *self.sink, self.plan, self.d, now_ms);
        }
        privacy_api::answer(&mut OnSink(&mut *self.sink), request, destination)
    }

    /// Syncs the spool, then makes the sink durable; the error text, if either failed.
    fn flush_sink(&mut self) -> Option<String> {
        if let Some(spool) = &self.spool
            && let Err(e) = spool.sync()
        {
            tracing::warn!(error = %e, "trackplan: syncing the spool failed");
            return Some(format!("syncing the spool failed: {e}"));
        }
        let sink = &mut self.sink;
        let result = catch_unwind(AssertUnwindSafe(|| sink.flush()))
            .unwrap_or_else(|_| Err(std::io::Error::other("the sink panicked")));
        match result {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(
                    destination = self.destination_id(),
                    error = %e,
                    "trackplan: flushing a sink failed"
                );
                Some(e.to_string())
            }
        }
    }

    /// On stop: whatever could not be delivered counts as failed, never silently lost.
    /// With a spool, the events stay in it and are delivered after the next start.
    fn abandon_rest(&mut self, st: &mut QueueState) {
        if let Some(spool) = &self.spool
            && let Err(e) = spool.sync()
        {
            tracing::warn!(error = %e, "trackplan: syncing the spool failed");
        }
        let lane = st.lane_mut(self.d);
        let n = lane.len() + lane.retry.as_ref().map_or(0, |r| r.batch.len());
        lane.sealed.clear();
        lane.items.clear();
        lane.retry = None;
        lane.bytes = 0;
        lane.filling_since = None;
        lane.queued = 0;
        self.shared.stats.add(self.d, Counter::Failed, n as u64);
        if n > 0 {
            tracing::warn!(
                destination = self.destination_id(),
                failed = n,
                "trackplan: the tracker stopped before these events could be delivered"
            );
        }
        // Requests this destination will not answer now.
        let requests: Vec<SubjectRequest> = lane.requests.drain(..).collect();
        for request in requests {
            st.answered(request.id, self.d, Answer::stopped(request.kind));
        }
    }
}

/// Text the track path wrote (always UTF-8), as a shared string.
fn text(bytes: &[u8]) -> Arc<str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Arc::from(s),
        // Unreachable: the property writer only appends UTF-8. Lossy keeps a bug visible
        // without a panic.
        Err(_) => Arc::from(&*String::from_utf8_lossy(bytes)),
    }
}
