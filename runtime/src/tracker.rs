//! [`Tracker`]: the handle applications hold. Built once from the plan
//! ([`Tracker::builder`]), cloned freely; subjects, flush, shutdown, forget and stats hang off
//! it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::builder::TrackerBuilder;
use crate::completion::Completion;
use crate::consent::{Consent, Ledger};
use crate::event::Purpose;
use crate::flush::{FlushError, FlushReport};
use crate::id::{NoRandomness, random_uuid};
use crate::pipeline::Pipeline;
use crate::plan::PlanInfo;
use crate::scope::TrackerScope;
use crate::stats::Stats;
use crate::subject::Subject;
use crate::subject_request::{AccessError, AccessReport, ForgetError, ForgetReport};

/// The entry point of the runtime: built once from the plan, cloned freely (an `Arc`), shared
/// across threads.
///
/// Dropping the last handle (trackers and subjects) flushes with a short deadline
/// ([`TrackerBuilder::drop_timeout`]) and stops the workers; call [`Tracker::shutdown`] to
/// control that and see what was left undelivered.
#[derive(Clone)]
pub struct Tracker {
    pub(crate) pipeline: Arc<Pipeline>,
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker")
            .field("plan", &self.pipeline.plan.label)
            .field("key", &self.pipeline.key)
            .finish_non_exhaustive()
    }
}

impl Tracker {
    /// Starts building a tracker for `plan` (the `PLAN` static `plan!` generates).
    pub fn builder(plan: &'static PlanInfo) -> TrackerBuilder {
        TrackerBuilder::new(plan)
    }

    /// The plan this tracker enforces.
    pub fn plan(&self) -> &'static PlanInfo {
        self.pipeline.plan
    }

    /// A handle for tracking one end user. The distinct id is computed here, once, from
    /// `subject_id` by the plan's identity transform (`"<key id>:<HMAC-SHA-256 hex>"` for
    /// `hmac`); `subject_id` itself is not kept.
    pub fn subject(&self, subject_id: &str, consent: Consent) -> Subject {
        Subject::new(
            self,
            self.pipeline.distinct_id_of(subject_id),
            consent,
            false,
        )
    }

    /// A handle for a visitor without an account: a random distinct id
    /// (`"anon-<UUID v4>"`) from the operating system's generator, never derived from
    /// personal data. Keep [`Subject::distinct_id`] to forget it later.
    ///
    /// Fails when the operating system has no randomness to give: no id would then be both
    /// anonymous and the visitor's own, so the visitor is better not tracked.
    pub fn anonymous(&self, consent: Consent) -> Result<Subject, NoRandomness> {
        let id = crate::id::anonymous_id(random_uuid())?;
        Ok(Subject::new(self, id, consent, true))
    }

    /// A handle for a visitor without an account whom the application already knows by an
    /// anonymous id of its own (a first-party cookie, a device id): the distinct id is that id
    /// through the plan's identity transform (for `hmac`, pseudonymized with the same key as
    /// subject ids), so the same visitor gets the same distinct id in every process and
    /// [`Subject::identify`] can link it. `anonymous_id` itself is not kept.
    pub fn anonymous_with_id(&self, anonymous_id: &str, consent: Consent) -> Subject {
        Subject::new(
            self,
            self.pipeline.distinct_id_of(anonymous_id),
            consent,
            true,
        )
    }

    /// A scope whose subjects may only track events declared for purpose `P`.
    pub fn scoped<P: Purpose>(&self) -> TrackerScope<P> {
        TrackerScope::new(self.clone())
    }

    /// The consent ledger given to [`TrackerBuilder::ledger`], if any.
    pub fn ledger(&self) -> Option<&Ledger> {
        self.pipeline.ledger.as_ref()
    }

    /// The distinct id `subject_id` gets (see [`Tracker::subject`]).
    pub fn distinct_id(&self, subject_id: &str) -> String {
        self.pipeline.distinct_id_of(subject_id)
    }

    /// Waits until every event accepted before this call is delivered or failed, then makes
    /// sinks durable ([`Sink::flush`](crate::Sink::flush)). Gives up after [`TrackerBuilder::flush_timeout`].
    ///
    /// Returns what each destination delivered and failed since the previous flush, and what
    /// is still pending; or [`FlushError::Failed`] naming a destination when events failed
    /// for good since then (a destination answering 401 rejects the credentials); or
    /// [`FlushError::WrongPlan`] naming both plans when events of another plan were dropped
    /// since then (crates built against different plan contents).
    ///
    /// **Blocks** the calling thread, up to the timeout: in async code use
    /// [`Tracker::flush_async`].
    pub fn flush(&self) -> Result<FlushReport, FlushError> {
        self.pipeline.flush(self.pipeline.flush_timeout)
    }

    /// Like [`Tracker::flush`] with its own deadline. **Blocks**.
    pub fn flush_within(&self, timeout: Duration) -> Result<FlushReport, FlushError> {
        self.pipeline.flush(timeout)
    }

    /// [`Tracker::flush`] as a future that does not block: a helper thread waits, and the
    /// future completes when it is done. Works on any async runtime (or none).
    pub fn flush_async(&self) -> Completion<Result<FlushReport, FlushError>> {
        let core = Arc::clone(&self.pipeline);
        Completion::run("flush", move || core.flush(core.flush_timeout))
    }

    /// Flushes (within [`TrackerBuilder::flush_timeout`]) and stops the workers. Events still
    /// pending then count as failed (see [`Tracker::stats`]); later `track` calls count their
    /// events as failed too. Applies to every clone of this tracker. **Blocks**, up to the
    /// timeout: in async code use [`Tracker::shutdown_async`].
    pub fn shutdown(&self) -> Result<FlushReport, FlushError> {
        self.pipeline.shutdown(self.pipeline.flush_timeout)
    }

    /// [`Tracker::shutdown`] with its own deadline, e.g. what is left of a process's
    /// termination grace period. **Blocks**.
    pub fn shutdown_within(&self, timeout: Duration) -> Result<FlushReport, FlushError> {
        self.pipeline.shutdown(timeout)
    }

    /// [`Tracker::shutdown`] as a future that does not block (see [`Tracker::flush_async`]).
    pub fn shutdown_async(&self) -> Completion<Result<FlushReport, FlushError>> {
        let core = Arc::clone(&self.pipeline);
        Completion::run("shutdown", move || core.shutdown(core.flush_timeout))
    }

    /// Forgets a subject (GDPR Art. 17): purges its queued events for every destination and
    /// asks every sink to erase what it holds ([`Sink::erase`](crate::Sink::erase)), waiting for the answers up
    /// to [`TrackerBuilder::flush_timeout`]. Each destination answers on its own worker, so
    /// a slow privacy API delays only its own destination's deliveries. **Blocks**: in async
    /// code use [`Tracker::forget_async`].
    pub fn forget(&self, subject_id: &str) -> Result<ForgetReport, ForgetError> {
        let id = self.pipeline.distinct_id_of(subject_id);
        self.pipeline.forget(
            self.pipeline.with_stitched(&id),
            self.pipeline.flush_timeout,
        )
    }

    /// [`Tracker::forget`] by distinct id, e.g. for an anonymous subject. **Blocks**.
    pub fn forget_distinct_id(&self, distinct_id: &str) -> Result<ForgetReport, ForgetError> {
        self.pipeline.forget(
            self.pipeline.with_stitched(distinct_id),
            self.pipeline.flush_timeout,
        )
    }

    /// [`Tracker::forget`] as a future that does not block (see [`Tracker::flush_async`]).
    pub fn forget_async(&self, subject_id: &str) -> Completion<Result<ForgetReport, ForgetError>> {
        let core = Arc::clone(&self.pipeline);
        let ids = core.with_stitched(&core.distinct_id_of(subject_id));
        Completion::run("forget", move || core.forget(ids, core.flush_timeout))
    }

    /// Serves a subject's right of access (GDPR Art. 15): asks every sink for what it holds
    /// about the subject ([`Sink::retrieve`](crate::Sink::retrieve)) and returns each destination's answer: the
    /// records themselves (e.g. the subject's NDJSON lines), the reference of an export the
    /// destination prepares (e.g. a Mixpanel data-retrieval task), or that it cannot.
    /// Waits up to [`TrackerBuilder::flush_timeout`]. **Blocks**: in async code use
    /// [`Tracker::request_access_async`].
    ///
    /// Events still queued are not in the destinations yet: call [`Tracker::flush`] first to
    /// include everything tracked so far. Skipped destinations answer
    /// [`Access::NothingStored`](crate::requests::Access::NothingStored).
    ///
    /// ```
    /// # extern crate trackplan_runtime as trackplan;
    /// # trackplan_macros::plan!("tests/fixture/shop.toml");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use trackplan::requests::Access;
    /// use trackplan::sinks::Memory;
    /// use trackplan::{Consent, Key, Tracker};
    ///
    /// let tracker = Tracker::builder(&PLAN)
    ///     .key(Key::from_hex(&"07".repeat(32))?)
    ///     .sink(destination::SupportDesk, Memory::new())
    /// #   .skip(destination::Warehouse)
    /// #   .skip(destination::Mixpanel)
    /// #   .skip(destination::Ads)
    /// #   .skip(destination::SecurityLog)
    ///     .build()?;
    /// let customer = tracker.subject("user-42", Consent::none().grant(purpose::CustomerSupport));
    /// customer.track(SupportTicketOpened { topic: Topic::Refund, order_count: 3 });
    /// tracker.flush()?; // so the request sees everything tracked so far
    ///
    /// let report = tracker.request_access("user-42")?;
    /// for (destination, answer) in &report.destinations {
    ///     println!("{destination}: {answer:?}"); // counts only, never the records
    /// }
    /// match report.destination("support_desk") {
    ///     Some(Access::Records { records, .. }) => assert_eq!(records.len(), 1),
    ///     other => panic!("expected the support desk's records, got {other:?}"),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn request_access(&self, subject_id: &str) -> Result<AccessReport, AccessError> {
        let id = self.pipeline.distinct_id_of(subject_id);
        self.pipeline.request_access(
            self.pipeline.with_stitched(&id),
            self.pipeline.flush_timeout,
        )
    }

    /// [`Tracker::request_access`] by distinct id, e.g. for an anonymous subject. **Blocks**.
    pub fn request_access_distinct_id(
        &self,
        distinct_id: &str,
    ) -> Result<AccessReport, AccessError> {
        self.pipeline.request_access(
            self.pipeline.with_stitched(distinct_id),
            self.pipeline.flush_timeout,
        )
    }

    /// [`Tracker::request_access`] as a future that does not block (see
    /// [`Tracker::flush_async`]).
    pub fn request_access_async(
        &self,
        subject_id: &str,
    ) -> Completion<Result<AccessReport, AccessError>> {
        let core = Arc::clone(&self.pipeline);
        let ids = core.with_stitched(&core.distinct_id_of(subject_id));
        Completion::run("request-access", move || {
            core.request_access(ids, core.flush_timeout)
        })
    }

    /// A snapshot of the counters, with each destination's health.
    pub fn stats(&self) -> Stats {
        let mut stats = self.pipeline.shared.stats.snapshot();
        let st = self.pipeline.shared.lock();
        for (d, health) in stats.destinations.iter_mut().zip(st.health()) {
            d.health = health.clone();
        }
        stats
    }
}
