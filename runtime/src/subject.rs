//! Subjects: the end users events are about, each with a distinct id and a consent.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::consent::{Collection, Consent, EntryId, LedgerError};
use crate::context::{ContextProperties, ContextSet};
use crate::event::{Destination, Event, Purpose, RoutableTo};
use crate::message::Message;
use crate::options::TrackOptions;
use crate::plan::DestinationSet;
use crate::scope::SubjectScope;
use crate::time::Timestamp;
use crate::tracker::Tracker;
use crate::update::{Group, GroupUpdate, ProfileUpdate};

pub(crate) struct SubjectState {
    pub distinct_id: Arc<str>,
    consent: Mutex<Consent>,
    /// Destinations the consent permits (a [`DestinationSet`]'s bits); read on every `track`
    /// without locking.
    allowed: AtomicU64,
    /// Of those, the destinations the consent permits special-category data for (explicitly
    /// granted, `Consent::grant_explicit`).
    allowed_special: AtomicU64,
    /// Whether the id is an anonymous visitor's (`Tracker::anonymous`), which
    /// [`Subject::identify`] links to an identified one.
    anonymous: bool,
    /// The subject's own context values (`Subject::set_context`).
    context: Mutex<Option<Arc<ContextSet>>>,
    /// The groups joined, one per kind (`Subject::join`), with their keys transformed.
    groups: Mutex<Vec<Joined>>,
}

impl SubjectState {
    /// The subject's own context values, if any were set.
    pub(crate) fn context(&self) -> Option<Arc<ContextSet>> {
        self.context
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// An event message carrying the subject's groups of the kinds at `kinds`.
    pub(crate) fn groups_message(&self, kinds: &[usize]) -> Message {
        let groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        let carried: Vec<crate::message::GroupRef> = kinds
            .iter()
            .filter_map(|&k| groups.iter().find(|g| g.kind_index == k))
            .map(|g| g.group.clone())
            .collect();
        if carried.is_empty() {
            Message::TRACK
        } else {
            Message::Track {
                groups: Some(carried.into()),
            }
        }
    }

    /// Records that the subject belongs to `group` (of kind `kind`), in place of another
    /// group of that kind.
    pub(crate) fn join(&self, kind: usize, group: crate::message::GroupRef) {
        let mut groups = self.groups.lock().unwrap_or_else(PoisonError::into_inner);
        groups.retain(|g| g.kind_index != kind);
        groups.push(Joined {
            kind_index: kind,
            group,
        });
    }

    pub(crate) fn allowed(&self) -> DestinationSet {
        DestinationSet::from_bits(self.allowed.load(Ordering::Acquire))
    }

    /// Stores a new permitted set; returns the previous one.
    pub(crate) fn set_allowed(&self, allowed: DestinationSet) -> DestinationSet {
        DestinationSet::from_bits(self.allowed.swap(allowed.bits(), Ordering::AcqRel))
    }

    /// Destinations that may receive the subject's special-category data.
    pub(crate) fn allowed_special(&self) -> DestinationSet {
        DestinationSet::from_bits(self.allowed_special.load(Ordering::Acquire))
    }

    /// Stores a new set of destinations permitted special-category data.
    pub(crate) fn set_allowed_special(&self, allowed: DestinationSet) {
        self.allowed_special
            .store(allowed.bits(), Ordering::Release);
    }
}

/// One end user, as the tracker sees them: a pseudonymous distinct id and their consent.
///
/// Cheap to clone; clones share the consent, so a consent change through one is seen by all.
/// Changing the consent so that a destination is no longer permitted also drops the subject's
/// queued, undelivered events for it.
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// # trackplan_macros::plan!("tests/fixture/shop.toml");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use trackplan::sinks::Memory;
/// use trackplan::{Consent, Key, Personal, Tracker};
///
/// let warehouse = Memory::new();
/// let tracker = Tracker::builder(&PLAN)
///     .key(Key::from_hex(&"07".repeat(32))?)
///     .sink(destination::Warehouse, warehouse.clone())
/// #   .skip(destination::Mixpanel)
/// #   .skip(destination::Ads)
/// #   .skip(destination::SecurityLog)
/// #   .skip(destination::SupportDesk)
///     .build()?;
///
/// // The consent the visitor gave on the consent screen: analytics only.
/// let visitor = tracker.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
/// visitor.track(PageViewed {
///     url: "https://shop.example/cart".into(),
///     ip_address: Personal::new("203.0.113.9".into()),
/// });
///
/// tracker.flush()?;
///
/// // They withdraw it: from now on nothing is tracked for them (and what was still queued
/// // for them is dropped).
/// visitor.withdraw(purpose::ProductAnalytics);
/// visitor.track(PageViewed {
///     url: "https://shop.example/checkout".into(),
///     ip_address: Personal::new("203.0.113.9".into()),
/// });
/// tracker.flush()?;
/// assert_eq!(warehouse.len(), 1);
/// // Delivered under the pseudonymous distinct id, never the raw subject id.
/// assert_ne!(visitor.distinct_id(), "user-42");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Subject {
    tracker: Tracker,
    inner: Arc<SubjectState>,
}

/// A group the subject joined, by kind index in the plan.
#[derive(Clone)]
struct Joined {
    kind_index: usize,
    group: crate::message::GroupRef,
}

impl fmt::Debug for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The distinct id is the raw subject id when the plan's identity is `none`, and a
        // pseudonym (still personal data) otherwise: neither belongs in logs.
        f.debug_struct("Subject")
            .field("distinct_id", &format_args!("[redacted]"))
            .field("consent", &self.consent())
            .finish()
    }
}

impl Subject {
    pub(crate) fn new(
        tracker: &Tracker,
        distinct_id: String,
        consent: Consent,
        anonymous: bool,
    ) -> Subject {
        let allowed = tracker.pipeline.allowed_destinations(&consent);
        let special = tracker.pipeline.special_destinations(&consent);
        Subject {
            tracker: tracker.clone(),
            inner: Arc::new(SubjectState {
                distinct_id: distinct_id.into(),
                consent: Mutex::new(consent),
                allowed: AtomicU64::new(allowed.bits()),
                allowed_special: AtomicU64::new(special.bits()),
                anonymous,
                context: Mutex::new(None),
                groups: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Tracks `event` to every destination the plan routes it to and the consent permits.
    ///
    /// Never blocks on I/O: when no destination is permitted the event is counted and dropped
    /// before it is serialized; otherwise its properties are serialized once, transformed per
    /// the plan, and queued for the background worker.
    pub fn track<E: Event>(&self, event: E) {
        self.tracker
            .pipeline
            .track(&self.inner, &event, DestinationSet::first(64));
    }

    /// Like [`Subject::track`], but builds the event only when some destination will receive
    /// it. When the consent refuses every destination of `E`, `build` is never called: no
    /// string is formatted or allocated and no personal value is copied for an event that
    /// goes nowhere. The refusal then costs a consent check and a counter.
    ///
    /// For example, with `text: &str`,
    /// `user.track_with(|| SearchPerformed { query: Personal::new(text.to_owned()) })`
    /// copies the search text only for a user whose consent lets the event go somewhere.
    pub fn track_with<E: Event>(&self, build: impl FnOnce() -> E) {
        let core = &self.tracker.pipeline;
        if let Some(send) = core.route::<E>(&self.inner, DestinationSet::first(64)) {
            core.enqueue(&self.inner, &build(), send, None, None);
        }
    }

    /// Tracks `event` as having happened at `time` (a backfill from the application's own
    /// records), instead of now. Everything else is as [`Subject::track`].
    pub fn track_at<E: Event>(&self, event: E, time: Timestamp) {
        self.track_with_options(event, &TrackOptions::new().at(time));
    }

    /// Tracks `event` with [`TrackOptions`]: an explicit event time and a caller-supplied
    /// insert id, e.g. to replay events from the application's own database idempotently
    /// (destinations drop a second event with the same insert id).
    ///
    /// ```
    /// # extern crate trackplan_runtime as trackplan;
    /// # trackplan_macros::plan!("tests/fixture/shop.toml");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use trackplan::{Consent, Key, Timestamp, TrackOptions, Tracker};
    /// # let tracker = Tracker::builder(&PLAN)
    /// #     .key(Key::from_hex(&"07".repeat(32))?)
    /// #     .sink(destination::SupportDesk, trackplan::sinks::Memory::new())
    /// #     .skip(destination::Warehouse).skip(destination::Mixpanel)
    /// #     .skip(destination::Ads).skip(destination::SecurityLog)
    /// #     .build()?;
    /// let customer = tracker.subject("user-42", Consent::none().grant(purpose::CustomerSupport));
    /// // The ticket row of the support database: its own UUID and creation time.
    /// let options = TrackOptions::new()
    ///     .at(Timestamp::from_unix_millis(1_764_547_200_000))
    ///     .insert_id("0b8e4f9c-6a1d-4c8e-9f3a-2d7b5e1c0a94")?;
    /// customer.track_with_options(SupportTicketOpened { topic: Topic::Refund, order_count: 3 }, &options);
    /// // An insert id a destination would refuse is refused here, with the rule.
    /// assert!(TrackOptions::new().insert_id("order 42").is_err());
    /// # Ok(()) }
    /// ```
    pub fn track_with_options<E: Event>(&self, event: E, options: &TrackOptions) {
        let core = &self.tracker.pipeline;
        if let Some(send) = core.route::<E>(&self.inner, DestinationSet::first(64)) {
            core.enqueue(&self.inner, &event, send, options.time(), options.id());
        }
    }

    /// Updates the subject's profile with the traits `update` sets
    /// (`user.update_profile(Profile::new().set_plan_tier(PlanTier::Pro))`).
    ///
    /// Each trait goes only to the destinations its purposes reach that the consent permits,
    /// through its transform, and a `redact` trait never to a third party; a trait no
    /// destination may receive now is never serialized. Each operation becomes one
    /// [`Message::Profile`] per destination, queued and delivered like events.
    pub fn update_profile<U: ProfileUpdate>(&self, update: U) {
        self.tracker.pipeline.update_profile(&self.inner, &update);
    }

    /// Records that the subject belongs to `group` (`user.join(Company::new("acme"))`),
    /// in place of any earlier group of that kind: the destinations of the group kind the
    /// consent permits receive a [`Message::Join`], and events that declare the kind carry the
    /// group from now on.
    pub fn join<G: Group>(&self, group: G) {
        self.tracker.pipeline.join(&self.inner, &group);
    }

    /// Updates a group's profile with the traits `update` sets
    /// (`user.update_group(Company::new("acme").set_seats(40))`), on behalf of this subject:
    /// its consent and the traits' routes decide who receives it, as for
    /// [`Subject::update_profile`].
    pub fn update_group<U: GroupUpdate>(&self, update: U) {
        self.tracker.pipeline.update_group(&self.inner, &update);
    }

    /// Sets the subject's own context values (`[context]` in the plan), merged into its
    /// events in place of the tracker's ([`TrackerBuilder::context`](crate::TrackerBuilder::context)).
    /// Values left `None` keep what was set before. Each value is checked and transformed
    /// once, here.
    pub fn set_context<C: ContextProperties>(&self, values: C) {
        let core = &self.tracker.pipeline;
        let mut own = self
            .inner
            .context
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let base = own.clone().unwrap_or_default();
        let (set, dropped) = base.merged(core.plan, &values, core.key.as_ref(), core.violations);
        if dropped > 0 {
            core.shared
                .stats
                .dropped_invalid
                .fetch_add(u64::from(dropped), Ordering::AcqRel);
        }
        *own = Some(set);
    }

    /// The anonymous visitor signed up or logged in as `subject_id`: returns the identified
    /// subject, with this one's consent, context and groups, and links the two ids at every
    /// destination the consent permits ([`Message::Link`]: Mixpanel `$identify`, Segment
    /// `alias`, …). Both ids are pseudonymous: the anonymous one as [`Tracker::anonymous`]
    /// made it, the identified one by the plan's identity transform, with the same key.
    ///
    /// The tracker remembers the link: [`Tracker::forget`] and
    /// [`Tracker::request_access`] of `subject_id` also cover the anonymous id, and name both
    /// to every destination. (This tracker remembers it, and NDJSON files keep it in their
    /// `link` records; for other destinations after a restart, forget the anonymous id by
    /// [`Tracker::forget_distinct_id`] too, or keep it with the account.)
    ///
    /// ```
    /// # extern crate trackplan_runtime as trackplan;
    /// # trackplan_macros::plan!("tests/fixture/shop.toml");
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use trackplan::testing::Recorder;
    /// use trackplan::{Consent, Key, Personal, Tracker};
    ///
    /// let recorder = Recorder::for_plan(&PLAN);
    /// let tracker = Tracker::builder(&PLAN)
    ///     .key(Key::from_hex(&"07".repeat(32))?)
    ///     .record_all(&recorder)
    ///     .build()?;
    /// let visitor = tracker.anonymous(Consent::none().grant(purpose::ProductAnalytics))?;
    /// visitor.track(PageViewed {
    ///     url: "https://shop.example/".into(),
    ///     ip_address: Personal::new("203.0.113.9".into()),
    /// });
    /// // The visitor signs up.
    /// let user = visitor.identify("user-42");
    /// user.update_profile(Profile::new().set_plan_tier(ProfilePlanTier::Pro));
    /// tracker.flush()?;
    /// recorder.assert_linked(visitor.distinct_id(), user.distinct_id());
    /// recorder.assert_trait(trackplan::ProfileOp::Set, "Plan Tier", "pro".into());
    ///
    /// // Forgetting the account forgets the anonymous visit too.
    /// tracker.forget("user-42")?;
    /// assert!(recorder.events().is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// Called on a subject that is not anonymous, it links nothing (and warns): merging two
    /// identified people is not a stitch.
    pub fn identify(&self, subject_id: &str) -> Subject {
        let core = &self.tracker.pipeline;
        let identified = Subject::new(
            &self.tracker,
            core.distinct_id_of(subject_id),
            self.consent(),
            false,
        );
        *identified
            .inner
            .context
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = self.inner.context();
        *identified
            .inner
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = self
            .inner
            .groups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if self.inner.anonymous {
            core.link(&identified.inner, &self.inner.distinct_id);
        } else {
            tracing::warn!(
                "trackplan: identify called on a subject that is not anonymous; nothing linked"
            );
        }
        identified
    }

    /// Whether the subject is an anonymous visitor ([`Tracker::anonymous`]).
    pub fn is_anonymous(&self) -> bool {
        self.inner.anonymous
    }

    /// Tracks `event` to destination `D` only (if the consent permits it):
    /// `user.send_to::<destination::Ads>(event)`. Compiles only when the plan allows `D` to
    /// receive the event.
    pub fn send_to<D: Destination>(&self, event: impl RoutableTo<D>) {
        self.send_to_inner::<D, _>(event);
    }

    fn send_to_inner<D: Destination, E: RoutableTo<D>>(&self, event: E) {
        // A destination of another plan routes nothing (the event is refused as foreign).
        let route = if D::INDEX < 64 && D::PLAN.same_as(self.tracker.pipeline.plan) {
            DestinationSet::only(D::INDEX)
        } else {
            DestinationSet::EMPTY
        };
        self.tracker.pipeline.track(&self.inner, &event, route);
    }

    /// A handle that only tracks events declared for purpose `P`.
    pub fn scoped<P: Purpose>(&self) -> SubjectScope<P> {
        SubjectScope::new(self.clone())
    }

    /// The pseudonymous id sent downstream.
    pub fn distinct_id(&self) -> &str {
        &self.inner.distinct_id
    }

    /// The current consent.
    pub fn consent(&self) -> Consent {
        *self
            .inner
            .consent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the consent. Queued events for destinations it no longer permits are dropped
    /// (counted as `dropped_consent`); events already handed to a sink cannot be recalled.
    pub fn set_consent(&self, consent: Consent) {
        let mut current = self
            .inner
            .consent
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *current = consent;
        // Under the consent lock, so two concurrent changes apply in the order they stored.
        self.tracker.pipeline.apply_consent(&self.inner, &consent);
    }

    /// Records `consent` in the tracker's consent ledger ([`TrackerBuilder::ledger`]) under
    /// this subject's distinct id, collected as `how` says, then applies it as
    /// [`Subject::set_consent`] does; returns the entry's id.
    ///
    /// When recording fails nothing is recorded and only what takes permission away is
    /// applied (withdrawals, objections, GPC, the opt-out of everything): a grant that cannot
    /// be proven is not acted on.
    ///
    /// [`TrackerBuilder::ledger`]: crate::TrackerBuilder::ledger
    pub fn record_consent(
        &self,
        consent: Consent,
        how: Collection,
    ) -> Result<EntryId, LedgerError> {
        let Some(ledger) = self.tracker.ledger() else {
            self.update_consent(|current| current.narrowed_by(&consent));
            return Err(LedgerError::NoLedger);
        };
        let mut current = self
            .inner
            .consent
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Under the consent lock, so the ledger's order for this subject is the order applied.
        let recorded = ledger.record(&self.inner.distinct_id, self.tracker.plan(), &consent, &how);
        let applied = match recorded {
            Ok(_) => consent,
            Err(_) => current.narrowed_by(&consent),
        };
        *current = applied;
        self.tracker.pipeline.apply_consent(&self.inner, &applied);
        recorded
    }

    /// Changes the consent with `f` (e.g. `|c| c.withdraw(purpose::Advertising)`); see
    /// [`Subject::set_consent`].
    pub fn update_consent(&self, f: impl FnOnce(Consent) -> Consent) {
        let mut current = self
            .inner
            .consent
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let consent = f(*current);
        *current = consent;
        self.tracker.pipeline.apply_consent(&self.inner, &consent);
    }

    /// Grants a purpose.
    pub fn grant<P: Purpose>(&self, purpose: P) {
        self.update_consent(|c| c.grant(purpose));
    }

    /// Withdraws a purpose (or objects to a legitimate-interest one).
    pub fn withdraw<P: Purpose>(&self, purpose: P) {
        self.update_consent(|c| c.withdraw(purpose));
    }

    /// Applies or lifts the Global Privacy Control signal.
    pub fn set_gpc(&self, signal: bool) {
        self.update_consent(|c| c.with_gpc(signal));
    }

    /// Stops all tracking of this subject.
    pub fn opt_out_all(&self) {
        self.update_consent(Consent::opt_out_all);
    }

    /// The tracker this subject tracks through.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }
}
