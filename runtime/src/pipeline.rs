//! The pipeline behind every tracker handle and subject: the hot path of `track` (consent,
//! serialization, enqueue), consent changes and the replay of the spool. Flushes and data
//! subjects' requests wait on it (`flush.rs`, `subject_request.rs`).

use std::cell::RefCell;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::builder::Overflow;
use crate::consent::Consent;
use crate::context::ContextSet;
use crate::event::Event;
use crate::id::InsertIds;
use crate::key::Key;
use crate::lane::{Kind, Queued};
use crate::message::Message;
use crate::plan::{
    Audience, DestinationSet, EventInfo, IdentityTransform, PlanInfo, PurposeSet, Sensitivity,
};
use crate::queue::Queue;
use crate::spool::{Entry, Spool, Stamp};
use crate::stats::{Counter, Counts};
use crate::subject::SubjectState;
use crate::time::{Timestamp, Timestamps};
use crate::value::{PropertyWriter, ViolationPolicy};

/// Everything the tracker handles and subjects share.
pub(crate) struct Pipeline {
    pub(crate) plan: &'static PlanInfo,
    pub(crate) key: Option<Key>,
    pub(crate) violations: ViolationPolicy,
    pub(crate) overflow: Overflow,
    pub(crate) skipped: DestinationSet,
    pub(crate) third_party: DestinationSet,
    pub(crate) destination_purposes: Box<[PurposeSet]>,
    /// The destinations any profile trait may reach (the plan's, worked out once).
    pub(crate) profile_routes: DestinationSet,
    pub(crate) shared: Arc<Queue>,
    pub(crate) flush_timeout: Duration,
    pub(crate) drop_timeout: Duration,
    /// One per destination with a sink.
    pub(crate) workers: Mutex<Vec<JoinHandle<()>>>,
    /// Set when the tracker has a spool; `None` keeps the `track` path free of it.
    pub(crate) spooling: Option<Spooling>,
    /// The consent ledger `Subject::record_consent` writes.
    pub(crate) ledger: Option<crate::consent::Ledger>,
    pub(crate) timestamps: Timestamps,
    /// Per destination, the counts the last flush reported, so the next reports the change.
    pub(crate) reported: Mutex<Vec<Counts>>,
    /// Events of other plans this tracker was handed: warned about once per plan, and
    /// reported by the next flush.
    pub(crate) foreign: Mutex<ForeignPlans>,
    /// The tracker's context values (`TrackerBuilder::context`).
    pub(crate) context: Option<Arc<ContextSet>>,
    /// Whether the plan has context properties: the `track` path skips merging otherwise.
    pub(crate) has_context: bool,
    /// Position of each event in the plan, by plan id, for context restricted to some events.
    pub(crate) event_index: std::collections::HashMap<&'static str, usize>,
    /// Identity stitches made by `Subject::identify`: for an identified distinct id, the
    /// anonymous ids linked to it, which `forget` and `request_access` cover too.
    pub(crate) stitches: Mutex<std::collections::HashMap<Arc<str>, Vec<Arc<str>>>>,
}

/// Another plan whose events reached this tracker: its label and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ForeignPlan {
    pub(crate) label: &'static str,
    pub(crate) hash: &'static str,
}

/// The plans whose events a tracker dropped, and what the next flush reports.
#[derive(Debug, Default)]
pub(crate) struct ForeignPlans {
    /// Every foreign plan seen so far: each is warned about once.
    warned: Vec<ForeignPlan>,
    /// Since the last flush that reported them: the first foreign plan and how many events
    /// (of any foreign plan) were dropped.
    unreported: Option<(ForeignPlan, u64)>,
}

impl ForeignPlans {
    /// Records one dropped event of `plan`; true when `plan` was not seen before.
    fn record(&mut self, plan: ForeignPlan) -> bool {
        match &mut self.unreported {
            Some((_, events)) => *events += 1,
            None => self.unreported = Some((plan, 1)),
        }
        if self.warned.contains(&plan) {
            return false;
        }
        self.warned.push(plan);
        true
    }

    /// The drops since the last call, for a flush to report.
    pub(crate) fn take_unreported(&mut self) -> Option<(ForeignPlan, u64)> {
        self.unreported.take()
    }
}

/// The spool, and a clone of the workers' insert-id generator: an event is spooled under the
/// id its worker will deliver it with, so a replay after a crash re-sends the same id.
pub(crate) struct Spooling {
    pub(crate) spool: Arc<Spool>,
    pub(crate) ids: InsertIds,
}

impl Spooling {
    /// Appends the records of one message for the destinations in `send`, each with the
    /// text of the variant that holds it (`variants`: disjoint destination sets and texts,
    /// distinct id first).
    #[allow(clippy::too_many_arguments)] // the parts of one message, as `push` has them
    pub(crate) fn append(
        &self,
        plan: &'static PlanInfo,
        subject: &SubjectState,
        send: DestinationSet,
        seq: u64,
        meta: &Meta<'_>,
        id_len: usize,
        variants: &[(DestinationSet, Option<Vec<u8>>)],
    ) {
        let derived;
        let insert_id = match meta.insert_id {
            Some(id) => id,
            None => {
                derived = self.ids.derive(seq);
                &derived
            }
        };
        let properties = |d: usize| {
            variants
                .iter()
                .find(|(set, _)| set.contains(d))
                .and_then(|(_, t)| t.as_deref())
                .map_or(&[][..], |t| &t[id_len..])
        };
        let entries: Vec<Entry<'_>> = send
            .iter()
            .map(|d| Entry {
                plan: Stamp::of(plan, d),
                destination: d,
                insert_id,
                event: meta.event,
                time_ms: meta.time_ms,
                distinct_id: &subject.distinct_id,
                purposes: meta.purposes,
                properties: properties(d),
                message: &meta.message,
            })
            .collect();
        if let Err(e) = self.spool.append(&entries) {
            tracing::warn!(
                error = %e,
                "trackplan: spooling an event failed; it is queued in memory only"
            );
        }
    }
}

/// What one queued message is, apart from its text: shared by its envelopes for every
/// destination.
pub(crate) struct Meta<'a> {
    /// The event's wire name, or `$profile`, `$group`, `$join`, `$link`.
    pub event: &'static str,
    pub purposes: PurposeSet,
    pub time_ms: i64,
    pub message: Message,
    /// A caller-supplied insert id (validated); `None`: derived from the sequence number.
    pub insert_id: Option<&'a str>,
}

/// Per-thread buffers: `redacted` collects `redact` properties; `stash` holds spent event
/// buffers taken from the queue's pool, so an event is written where it travels, without an
/// allocation or a copy.
#[derive(Default)]
struct Buffers {
    redacted: Vec<u8>,
    stash: Vec<Vec<u8>>,
}

impl Buffers {
    fn take(&mut self) -> Vec<u8> {
        match self.stash.pop() {
            Some(mut buf) => {
                buf.clear();
                buf
            }
            None => Vec::with_capacity(256),
        }
    }
}

/// How many spent buffers a thread takes from the pool when it is holding the lock anyway.
const STASH_REFILL: usize = 32;

thread_local! {
    static BUFFERS: RefCell<Buffers> = const {
        RefCell::new(Buffers {
            redacted: Vec::new(),
            stash: Vec::new(),
        })
    };
}

impl Pipeline {
    /// Destinations whose purposes are all permitted by `consent`.
    pub(crate) fn allowed_destinations(&self, consent: &Consent) -> DestinationSet {
        if consent.is_foreign_to(self.plan) {
            tracing::warn!(
                plan = self.plan.label,
                "trackplan: consent built from another plan's purposes permits nothing"
            );
        }
        // The routing rule, applied to what the consent permits: a destination may receive the
        // subject's events when every purpose it uses data for is permitted.
        trackplan_vocab::route(
            consent.permitted(self.plan),
            self.destination_purposes.iter().copied(),
        )
    }

    /// Destinations whose purposes are all permitted by `consent` for special-category data
    /// (consent-based purposes granted explicitly).
    pub(crate) fn special_destinations(&self, consent: &Consent) -> DestinationSet {
        trackplan_vocab::route(
            consent.permitted_explicitly(self.plan),
            self.destination_purposes.iter().copied(),
        )
    }

    /// The whole `track` path: consent, serialization, enqueue. `routes` is the set of
    /// destinations the call may reach (the event's, or one for `send_to`).
    #[inline]
    pub(crate) fn track<E: Event>(
        &self,
        subject: &SubjectState,
        event: &E,
        routes: DestinationSet,
    ) {
        if let Some(send) = self.route::<E>(subject, routes) {
            self.enqueue(subject, event, send, None, None);
        }
    }

    /// The consent half of `track`, before the event is needed: counts the destinations it
    /// refuses, accepts and skips, and returns those to serialize for (`None`: none).
    #[inline]
    pub(crate) fn route<E: Event>(
        &self,
        subject: &SubjectState,
        routes: DestinationSet,
    ) -> Option<DestinationSet> {
        if !E::PLAN.same_as(self.plan) {
            self.foreign_event::<E>();
            return None;
        }
        let stats = &self.shared.stats;
        let routes = routes & E::INFO.destinations;
        let allowed = subject.allowed();
        let refused = routes - allowed;
        if !refused.is_empty() {
            stats.add_each(refused, Counter::Refused);
        }
        let mut send = routes & allowed;
        if send.is_empty() {
            return None;
        }
        stats.add_each(send, Counter::Accepted);
        let skipped = send & self.skipped;
        if !skipped.is_empty() {
            stats.add_each(skipped, Counter::Skipped);
            send = send - skipped;
        }
        (!send.is_empty()).then_some(send)
    }

    /// An event of another plan: dropped and counted; the first of each foreign plan is
    /// warned about, and the next flush returns an error naming both plans.
    #[cold]
    #[inline(never)]
    fn foreign_event<E: Event>(&self) {
        self.shared
            .stats
            .dropped_wrong_plan
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let first = self
            .foreign
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .record(ForeignPlan {
                label: E::PLAN.label,
                hash: E::PLAN.hash,
            });
        if !first {
            return;
        }
        // Two crates of one workspace built against different contents of the same plan file
        // have equal labels: the hashes tell them apart.
        tracing::warn!(
            event = E::INFO.id,
            event_plan = E::PLAN.label,
            event_plan_hash = E::PLAN.hash,
            plan = self.plan.label,
            plan_hash = self.plan.hash,
            "trackplan: events of another plan are not tracked (this warning is given once per plan; they are counted in stats().dropped_wrong_plan and the next flush fails with FlushError::WrongPlan); if the labels are equal, the crates were built from different contents of the plan file: share one with [workspace.metadata.trackplan]"
        );
    }

    /// Of the destinations in `send`, those that may receive `redact` properties (the
    /// vocabulary's redact rule: first parties only).
    #[inline]
    fn first_party_recipients(&self, send: DestinationSet) -> DestinationSet {
        Audience::FirstParty.recipients(send, self.third_party)
    }

    /// An event whose required `property` had an invalid value: not tracked. Its acceptance
    /// for `send` is taken back, so it shows in `Stats::refused_invalid` and nowhere else.
    #[cold]
    #[inline(never)]
    fn refuse_invalid(
        &self,
        info: &'static EventInfo,
        property: &'static str,
        send: DestinationSet,
    ) {
        let stats = &self.shared.stats;
        stats
            .refused_invalid
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        stats.take_back_each(send, Counter::Accepted);
        tracing::warn!(
            event = info.id,
            property,
            "trackplan: event not tracked: its required property has a value that breaks the plan's constraints or transform"
        );
    }

    /// An event whose required special-category property may not go to `send` (their
    /// consent was not explicit): not sent there, counted as refused.
    #[cold]
    #[inline(never)]
    fn refuse_without_explicit(&self, info: &'static EventInfo, send: DestinationSet) {
        let stats = &self.shared.stats;
        stats.take_back_each(send, Counter::Accepted);
        stats.add_each(send, Counter::Refused);
        tracing::debug!(
            event = info.id,
            "trackplan: event not sent where consent for its special-category data was not explicit"
        );
    }

    /// The serializing half of `track`: `send` is what [`Pipeline::route`] returned. `at` and
    /// `insert_id` are a backfill's explicit time and a replay's own insert id (validated).
    pub(crate) fn enqueue<E: Event>(
        &self,
        subject: &SubjectState,
        event: &E,
        send: DestinationSet,
        at: Option<Timestamp>,
        insert_id: Option<&str>,
    ) {
        let time_ms = match at {
            Some(t) => t.unix_millis(),
            None => Timestamp::now_for_events(self.timestamps).unix_millis(),
        };
        let stamp = (time_ms, insert_id);
        if const { carries_special(E::INFO) } {
            // Special-category properties go only where consent was given explicitly; the
            // other recipients get the event without them (under the same insert id).
            let ordinary = send - subject.allowed_special();
            if !ordinary.is_empty() {
                self.serialize_in_buffers(subject, ordinary, event, stamp, true);
            }
            let explicit = send - ordinary;
            if !explicit.is_empty() {
                self.serialize_in_buffers(subject, explicit, event, stamp, false);
            }
            return;
        }
        self.serialize_in_buffers(subject, send, event, stamp, false);
    }

    /// [`Pipeline::serialize_and_push`] with this thread's buffers.
    #[inline]
    fn serialize_in_buffers<E: Event>(
        &self,
        subject: &SubjectState,
        send: DestinationSet,
        event: &E,
        (time_ms, insert_id): (i64, Option<&str>),
        omit_special: bool,
    ) {
        let wants_first_party = !self.first_party_recipients(send).is_empty();
        BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => {
                self.serialize_and_push(
                    subject,
                    send,
                    event,
                    (time_ms, insert_id),
                    &mut bufs,
                    wants_first_party,
                    omit_special,
                );
                // Do not keep a rare huge event's buffer for the thread's lifetime.
                if bufs.redacted.capacity() > 1 << 16 {
                    bufs.redacted = Vec::new();
                }
            }
            // Only if serialization re-entered `track`; fresh buffers keep it correct.
            Err(_) => self.serialize_and_push(
                subject,
                send,
                event,
                (time_ms, insert_id),
                &mut Buffers::default(),
                wants_first_party,
                omit_special,
            ),
        });
    }

    /// Writes the event's text (distinct id, then the properties object) straight into the
    /// buffer that will travel through the queue, and queues it.
    ///
    /// Every destination gets the object without `redact` properties; when there are some and
    /// a first-party destination, first-party destinations get a second object with them.
    #[allow(clippy::too_many_arguments)] // the event and how to write it
    fn serialize_and_push<E: Event>(
        &self,
        subject: &SubjectState,
        send: DestinationSet,
        event: &E,
        (time_ms, insert_id): (i64, Option<&str>),
        bufs: &mut Buffers,
        wants_first_party: bool,
        omit_special: bool,
    ) {
        let id = subject.distinct_id.as_bytes();
        let mut text = bufs.take();
        text.extend_from_slice(id);
        text.push(b'{');
        bufs.redacted.clear();
        let mut w = PropertyWriter::with_context(
            &mut text,
            &mut bufs.redacted,
            self.key.as_ref(),
            self.violations,
        );
        if omit_special {
            w = w.omitting_special();
        }
        event.write_properties(&mut w);
        if w.withheld_required() {
            bufs.stash.push(text);
            return self.refuse_without_explicit(E::INFO, send);
        }
        let dropped = w.dropped();
        if dropped > 0 {
            self.shared
                .stats
                .dropped_invalid
                .fetch_add(u64::from(dropped), std::sync::atomic::Ordering::AcqRel);
            if let Some(property) = w.missing_required() {
                bufs.stash.push(text);
                return self.refuse_invalid(E::INFO, property, send);
            }
        }
        if self.has_context {
            self.merge_context(subject, E::INFO, id.len(), &mut text, &mut bufs.redacted);
        }
        let message = if E::INFO.groups.is_empty() {
            Message::TRACK
        } else {
            subject.groups_message(E::INFO.groups)
        };
        let first_party = (wants_first_party && !bufs.redacted.is_empty()).then(|| {
            let mut fp = bufs.take();
            fp.extend_from_slice(&text);
            if text.len() > id.len() + 1 {
                fp.push(b',');
            }
            fp.extend_from_slice(&bufs.redacted);
            fp.push(b'}');
            fp
        });
        text.push(b'}');
        let fp = if first_party.is_some() {
            self.first_party_recipients(send)
        } else {
            DestinationSet::EMPTY
        };
        let meta = Meta {
            event: E::INFO.name,
            purposes: E::INFO.purposes,
            time_ms,
            message,
            insert_id,
        };
        self.push(
            subject,
            send,
            &meta,
            id.len(),
            &mut [(send - fp, Some(text)), (fp, first_party)],
            &mut bufs.stash,
        );
    }

    /// Merges the context values that apply to `info` into an event's texts: the subject's,
    /// else the tracker's. `shared` holds the distinct id (`id_len` bytes) and the open object.
    #[inline(never)]
    fn merge_context(
        &self,
        subject: &SubjectState,
        info: &'static EventInfo,
        id_len: usize,
        shared: &mut Vec<u8>,
        first_party: &mut Vec<u8>,
    ) {
        // Only context properties restricted to some events need the event's position.
        let event = if self.plan.context.iter().all(|c| c.events.is_none()) {
            0
        } else {
            match self.event_index.get(info.id) {
                Some(&i) => i,
                None => return,
            }
        };
        let own = subject.context();
        let base = self.context.as_deref();
        let Some(values) = own.as_deref().or(base) else {
            return;
        };
        let fallback = if own.is_some() { base } else { None };
        for (c, ctx) in self.plan.context.iter().enumerate() {
            if !ctx.applies_to(event) {
                continue;
            }
            let Some(member) = values.get(fallback, c) else {
                continue;
            };
            let (buf, empty) = if member.first_party {
                let empty = first_party.is_empty();
                (&mut *first_party, empty)
            } else {
                let empty = shared.len() <= id_len + 1;
                (&mut *shared, empty)
            };
            if !empty {
                buf.push(b',');
            }
            buf.extend_from_slice(&member.text);
        }
    }

    /// Queues one message for the destinations in `send`, re-checking consent under the lock
    /// so a message tracked during a withdrawal cannot slip past the purge. `variants` are its
    /// texts (distinct id first, `id_len` bytes), each for a disjoint set of destinations; the
    /// last destination of each takes it, the others get copies. A destination whose queue is
    /// full drops the message (or, with [`Overflow::Block`], waits for room); the others still
    /// get it.
    pub(crate) fn push(
        &self,
        subject: &SubjectState,
        mut send: DestinationSet,
        meta: &Meta<'_>,
        id_len: usize,
        variants: &mut [(DestinationSet, Option<Vec<u8>>)],
        stash: &mut Vec<Vec<u8>>,
    ) {
        let stats = &self.shared.stats;
        let mut st = self.shared.lock();
        let lost = send - subject.allowed();
        if !lost.is_empty() {
            stats.add_each(lost, Counter::DroppedConsent);
            send = send - lost;
        }
        if !st.accepting() {
            stats.add_each(send, Counter::Failed);
            return;
        }
        let mut full = st.full_lanes(send);
        if !full.is_empty() {
            if let Overflow::Block(limit) = self.overflow {
                let deadline = Instant::now() + limit;
                while !full.is_empty() && st.accepting() {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    st = self.shared.wait_progress(st, left);
                    full = st.full_lanes(send);
                }
                // Consent may have changed while waiting.
                let lost = send - subject.allowed();
                stats.add_each(lost, Counter::DroppedConsent);
                send = send - lost;
                full &= send;
                if !st.accepting() {
                    full = send;
                }
            }
            if !full.is_empty() {
                stats.add_each(full, Counter::DroppedOverflow);
                tracing::debug!("trackplan: queue full, event dropped");
                send = send - full;
            }
            if send.is_empty() {
                return;
            }
        }
        for (set, _) in variants.iter_mut() {
            *set &= send;
        }
        let seq = st.next_seq();
        if let Some(spooling) = &self.spooling {
            // Spooled under the queue lock, so a worker cannot settle an event before its
            // record exists; synced (if the policy says so) after the lock is released.
            spooling.append(self.plan, subject, send, seq, meta, id_len, variants);
        }
        let mut wake = DestinationSet::EMPTY;
        let mut rest = send;
        for d in send {
            rest = rest.without(d);
            let Some((users, slot)) = variants.iter_mut().find(|(set, _)| set.contains(d)) else {
                continue;
            };
            let last_user = !users.intersects(rest);
            let text = match (&mut *slot, last_user) {
                (Some(_), true) => slot.take().unwrap_or_default(),
                (Some(v), false) => {
                    let mut copy = stash.pop().unwrap_or_default();
                    copy.clear();
                    copy.extend_from_slice(v);
                    copy
                }
                // Each variant is taken by its last user only.
                (None, _) => continue,
            };
            let queued = Queued {
                seq,
                event: meta.event,
                time_ms: meta.time_ms,
                purposes: meta.purposes,
                id_len,
                text,
                kind: Kind::of(&meta.message, meta.insert_id),
            };
            if st.push(d, queued) {
                wake = wake.with(d);
            }
        }
        // Take spent buffers for the next events of this thread while holding the lock anyway.
        st.refill(stash, STASH_REFILL);
        drop(st);
        // Woken after the lock is released, so a worker does not wake into a held lock.
        if !wake.is_empty() {
            self.shared.wake(wake);
        }
        if let Some(spooling) = &self.spooling
            && let Err(e) = spooling.spool.sync_if_due()
        {
            tracing::warn!(error = %e, "trackplan: syncing the spool failed");
        }
    }

    /// Queues the events a previous run left in the spool, ahead of anything tracked now,
    /// through the same lane verb as `track`. Only events spooled under this very plan (by
    /// hash) are replayed: their routing, consent decision, party and transforms are this
    /// plan's. The others are refused, counted (`Stats::replay_refused`) and logged. Replayed
    /// events count as accepted again in this run's stats.
    pub(crate) fn replay(&self, spool: &Spool) {
        let replayed = spool.take_replayed(self.plan);
        for (plan, count) in &replayed.refused {
            self.shared
                .stats
                .replay_refused
                .fetch_add(*count, std::sync::atomic::Ordering::AcqRel);
            tracing::warn!(
                refused = count,
                spooled_under = %plan,
                running = self.plan.label,
                running_hash = self.plan.hash,
                "trackplan: not replaying spooled events of another plan: they were routed \
                 and transformed by rules this tracker does not enforce"
            );
        }
        let mut st = self.shared.lock();
        for item in replayed.events {
            let d = item.destination;
            let e = item.envelope;
            if self.skipped.contains(d) || !st.serves(d) {
                // The destination is skipped in this run: nothing will deliver it.
                let _ = spool.settle(d, [e.insert_id.as_str()]);
                continue;
            }
            let seq = st.next_seq();
            let mut text = Vec::with_capacity(e.distinct_id.len() + e.properties.len());
            text.extend_from_slice(e.distinct_id.as_bytes());
            text.extend_from_slice(e.properties.as_bytes());
            st.push(
                d,
                Queued {
                    seq,
                    event: e.event,
                    time_ms: e.time_ms,
                    purposes: e.purposes,
                    id_len: e.distinct_id.len(),
                    text,
                    // The id it was first accepted under: destinations deduplicate by it.
                    kind: Kind::owned(e.message, Some(e.insert_id)),
                },
            );
            self.shared.stats.add(d, Counter::Accepted, 1);
        }
    }

    /// Sets a subject's consent and purges its queued events for destinations no longer
    /// permitted.
    pub(crate) fn apply_consent(&self, subject: &SubjectState, consent: &Consent) {
        let allowed = self.allowed_destinations(consent);
        let special = self.special_destinations(consent);
        let mut st = self.shared.lock();
        subject.set_allowed_special(special);
        let before = subject.set_allowed(allowed);
        let lost = before - allowed;
        if !lost.is_empty() {
            st.purge(
                &self.shared.stats,
                &subject.distinct_id,
                !lost,
                Counter::DroppedConsent,
            );
            // A restart must not deliver what consent no longer covers.
            if let Some(spooling) = &self.spooling
                && let Err(e) = spooling.spool.settle_subject(&subject.distinct_id, !lost)
            {
                tracing::warn!(error = %e, "trackplan: updating the spool failed");
            }
            drop(st);
            // A flush target may be reachable now.
            self.shared.wake(lost);
            self.shared.progress.notify_all();
        }
    }

    pub(crate) fn distinct_id_of(&self, subject_id: &str) -> String {
        match (self.plan.identity, &self.key) {
            (IdentityTransform::Hmac, Some(key)) => key.pseudonymize(subject_id),
            // `build` refuses an `hmac` identity without a key.
            _ => subject_id.to_owned(),
        }
    }

    pub(crate) fn destination_id(&self, d: usize) -> &'static str {
        self.plan.destinations.get(d).map_or("?", |i| i.id)
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown(self.drop_timeout) {
            tracing::warn!(error = %e, "trackplan: events pending when the tracker was dropped");
        }
    }
}

/// Whether the event declares special-category properties (health, beliefs, …): a constant
/// for each generated event, so events without them pay nothing.
const fn carries_special(info: &EventInfo) -> bool {
    let mut i = 0;
    while i < info.properties.len() {
        if matches!(info.properties[i].sensitivity, Sensitivity::Special) {
            return true;
        }
        i += 1;
    }
    false
}
