//! A destination's privacy API ([`PrivacyApi`]): where its data subjects' requests go when
//! answering them is slow (a third party's GDPR API, paced and retried), and the thread the
//! runtime calls it on, so those calls never hold up the destination's deliveries.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;

use crate::queue::{Lifecycle, Queue};
use crate::retention::Pruned;
use crate::sink::{Access, Erasure, Sink};
use crate::subject_request::{Answer, RequestKind, SubjectRequest};

/// A destination's API for data subjects' requests (`Tracker::forget`, `Tracker::request_access`),
/// separate from its sink: a sink hands one out from [`Sink::privacy`] when answering takes
/// long (a remote API with pacing and retries), and the tracker then calls it on a thread of
/// its own, so a deletion request that is retried for minutes delays none of the destination's
/// deliveries.
///
/// It is called from that one thread, one call at a time, after every batch the destination's
/// worker handed to the sink before the request; it should hold its own connection and
/// credentials rather than share the sink's. Reasons in a failed answer are logged: they must
/// describe the failure, never echo the ids.
pub trait PrivacyApi: Send {
    /// Erases (or files a request to erase) everything the destination holds about these
    /// distinct ids, as [`Sink::erase`] does.
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure;

    /// Returns (or requests an export of) everything the destination holds about these
    /// distinct ids, as [`Sink::retrieve`] does. The default answers [`Access::NotSupported`].
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        let _ = distinct_ids;
        Access::NotSupported
    }
}

/// A sink answering its own destination's requests, on its worker: for sinks without a
/// [`PrivacyApi`] (a local file, memory), whose answers are quick and must stay in order with
/// their writes.
pub(crate) struct OnSink<'s>(pub &'s mut dyn Sink);

impl PrivacyApi for OnSink<'_> {
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        self.0.erase(distinct_ids)
    }

    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        self.0.retrieve(distinct_ids)
    }
}

/// Asks `api` to answer `request` for `destination`; a panic or a failure is an answer too.
pub(crate) fn answer(
    api: &mut dyn PrivacyApi,
    request: &SubjectRequest,
    destination: &str,
) -> Answer {
    let ids = &request.distinct_ids;
    let answer = match request.kind {
        RequestKind::Erase => Answer::Erasure(
            catch_unwind(AssertUnwindSafe(|| api.erase(ids))).unwrap_or_else(|_| Erasure::Failed {
                reason: "the sink panicked".into(),
            }),
        ),
        RequestKind::Access => Answer::Access(
            catch_unwind(AssertUnwindSafe(|| api.retrieve(ids))).unwrap_or_else(|_| {
                Access::Failed {
                    reason: "the sink panicked".into(),
                }
            }),
        ),
        // Answered by the sink on its worker (see `Worker::run`); never a privacy API's.
        RequestKind::Prune { .. } => Answer::Pruned(Pruned::NotSupported),
    };
    let failed = match &answer {
        Answer::Erasure(Erasure::Failed { reason }) | Answer::Access(Access::Failed { reason }) => {
            Some(reason.as_str())
        }
        _ => None,
    };
    if let Some(reason) = failed {
        tracing::warn!(
            destination,
            request = ?request.kind,
            reason,
            "trackplan: a data subject's request failed at a destination"
        );
    }
    answer
}

/// The thread one destination's [`PrivacyApi`] is called on. Its worker hands it the
/// destination's requests in the order they came and keeps delivering; the thread records
/// each answer in the queue, as the worker would.
pub(crate) struct PrivacyThread {
    requests: mpsc::Sender<SubjectRequest>,
    handle: JoinHandle<()>,
}

impl PrivacyThread {
    /// Starts the thread answering destination `d`'s requests with `api`.
    pub(crate) fn spawn(
        api: Box<dyn PrivacyApi>,
        shared: Arc<Queue>,
        d: usize,
        destination: &'static str,
    ) -> std::io::Result<PrivacyThread> {
        let (requests, incoming) = mpsc::channel();
        let handle = std::thread::Builder::new()
            .name(format!("trackplan-{destination}-privacy"))
            .spawn(move || serve(api, &shared, d, destination, incoming))?;
        Ok(PrivacyThread { requests, handle })
    }

    /// Hands `request` to the thread; gives it back when the thread is gone.
    pub(crate) fn send(&self, request: SubjectRequest) -> Result<(), SubjectRequest> {
        self.requests.send(request).map_err(|e| e.0)
    }

    /// Lets the thread finish the call it is in, answer the requests it has not started as
    /// failed (the tracker stopped), and exit; waits for it.
    pub(crate) fn stop(self) {
        drop(self.requests);
        if self.handle.join().is_err() {
            tracing::warn!("trackplan: a privacy request thread panicked");
        }
    }
}

/// The thread's loop: until its worker drops the sender, answers each request, or fails it
/// once the tracker is stopping (as the worker fails the requests it has not handed over).
fn serve(
    mut api: Box<dyn PrivacyApi>,
    shared: &Queue,
    d: usize,
    destination: &'static str,
    incoming: mpsc::Receiver<SubjectRequest>,
) {
    for request in incoming {
        let open = shared.lock().lifecycle() == Lifecycle::Open;
        let answer = if open {
            answer(&mut *api, &request, destination)
        } else {
            Answer::stopped(request.kind)
        };
        shared.lock().answered(request.id, d, answer);
        shared.progress.notify_all();
    }
}
