//! The messages other than events on their way into the queue: profile updates, group
//! memberships, group updates and identity links. Each passes the same consent, routing and
//! transform rules as an event, then [`Pipeline::push`] (the same queue, spool and workers).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::message::{GroupRef, Message, ProfileOp};
use crate::pipeline::{Meta, Pipeline};
use crate::plan::{DestinationSet, GroupInfo, PlanInfo, PurposeSet, TraitInfo};
use crate::stats::Counter;
use crate::subject::SubjectState;
use crate::time::Timestamp;
use crate::update::{Group, GroupUpdate, Member, ProfileUpdate, TraitWriter};
use crate::value::PropertyWriter;
use trackplan_vocab::Keyword;

/// `Envelope::event` of each message kind.
pub(crate) const PROFILE: &str = "$profile";
pub(crate) const GROUP: &str = "$group";
pub(crate) const JOIN: &str = "$join";
pub(crate) const LINK: &str = "$link";

/// The traits one update wrote, before they are split per operation and destination, and
/// spent text buffers for the next messages. One per thread, reused.
#[derive(Default)]
struct Written {
    shared: Vec<u8>,
    first_party: Vec<u8>,
    members: Vec<Member>,
    stash: Vec<Vec<u8>>,
}

impl Written {
    fn clear(&mut self) {
        self.shared.clear();
        self.first_party.clear();
        self.members.clear();
    }
}

/// What [`Pipeline::write_traits`] wrote.
enum Outcome {
    /// Nothing to send.
    Nothing,
    /// The common update: one operation for the same destinations, with these purposes;
    /// the shared buffer is the message's text but its closing bracket.
    Uniform(ProfileOp, DestinationSet, PurposeSet),
    /// Members to split per operation and destination.
    Members,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Written> = std::cell::RefCell::default();
}

/// Runs `f` with this thread's scratch buffers (fresh ones if an update re-entered).
fn with_scratch<R>(f: impl FnOnce(&mut Written) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut written) => {
            written.clear();
            let r = f(&mut written);
            // Do not keep a rare huge update's buffers for the thread's lifetime.
            if written.shared.capacity() > 1 << 16 || written.first_party.capacity() > 1 << 16 {
                *written = Written::default();
            }
            r
        }
        Err(_) => f(&mut Written::default()),
    })
}

impl Pipeline {
    /// `Subject::update_profile`.
    pub(crate) fn update_profile<U: ProfileUpdate>(&self, subject: &SubjectState, update: &U) {
        if !self.same_plan(U::PLAN) {
            return;
        }
        let (traits, routes) = (self.plan.traits, self.profile_routes);
        with_scratch(|written| {
            let outcome =
                self.write_traits(subject, written, U::PLAN.traits, traits, routes, |w| {
                    update.write_traits(w)
                });
            self.push_update(subject, written, outcome, traits, PROFILE, |op| {
                Message::Profile { op }
            });
        });
    }

    /// `Subject::join`.
    pub(crate) fn join<G: Group>(&self, subject: &SubjectState, group: &G) {
        if !self.same_plan(G::PLAN) {
            return;
        }
        let Some(info) = self.plan.groups.get(G::KIND) else {
            return;
        };
        let Some(group_ref) = self.group_ref(info, group) else {
            return;
        };
        subject.join(G::KIND, group_ref.clone());
        let send = self.admit(subject, info.destinations);
        if send.is_empty() {
            return;
        }
        let meta = Meta {
            event: JOIN,
            purposes: info.purposes,
            time_ms: self.now_ms(),
            message: Message::Join { group: group_ref },
            insert_id: None,
        };
        self.push_empty(subject, send, &meta);
    }

    /// `Subject::update_group`.
    pub(crate) fn update_group<U: GroupUpdate>(&self, subject: &SubjectState, update: &U) {
        if !self.same_plan(U::PLAN) {
            return;
        }
        let (Some(info), Some(source)) =
            (self.plan.groups.get(U::KIND), U::PLAN.groups.get(U::KIND))
        else {
            return;
        };
        with_scratch(|written| {
            let write = |w: &mut TraitWriter<'_>| update.write_traits(w);
            let outcome = self.write_traits(
                subject,
                written,
                source.traits,
                info.traits,
                info.destinations,
                write,
            );
            if matches!(outcome, Outcome::Nothing) {
                return;
            }
            // The key is serialized only for an update that goes somewhere.
            let Some(group) = self.group_ref(info, update) else {
                return;
            };
            self.push_update(subject, written, outcome, info.traits, GROUP, |op| {
                Message::Group {
                    group: group.clone(),
                    op,
                }
            });
        });
    }

    /// Links `anonymous_id` to the identified `subject` (`Subject::identify`): remembered for
    /// `forget` and `request_access`, and sent to every destination the consent permits.
    pub(crate) fn link(&self, subject: &SubjectState, anonymous_id: &Arc<str>) {
        {
            let mut stitches = self
                .stitches
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let linked = stitches
                .entry(Arc::clone(&subject.distinct_id))
                .or_default();
            if !linked.contains(anonymous_id) {
                linked.push(Arc::clone(anonymous_id));
            }
        }
        let all = DestinationSet::first(self.plan.destinations.len());
        let send = self.admit(subject, all);
        let time_ms = self.now_ms();
        // One message per set of purposes: each destination's record names its own.
        let mut left = send;
        while let Some(d) = left.iter().next() {
            let purposes = self.destination_purposes[d];
            let same: DestinationSet = left
                .iter()
                .filter(|&o| self.destination_purposes[o] == purposes)
                .collect();
            left = left - same;
            let meta = Meta {
                event: LINK,
                purposes,
                time_ms,
                message: Message::Link {
                    anonymous_id: Arc::clone(anonymous_id),
                },
                insert_id: None,
            };
            self.push_empty(subject, same, &meta);
        }
    }

    /// Whether `plan` is the tracker's; another plan's update is dropped and counted like an
    /// event of another plan.
    fn same_plan(&self, plan: &'static PlanInfo) -> bool {
        if plan.same_as(self.plan) {
            return true;
        }
        self.shared
            .stats
            .dropped_wrong_plan
            .fetch_add(1, Ordering::AcqRel);
        tracing::warn!(
            update_plan = plan.label,
            plan = self.plan.label,
            "trackplan: a profile or group update of another plan is not sent"
        );
        false
    }

    /// The consent half for a message that goes to `routes`: counts the destinations it
    /// refuses, accepts and skips, and returns those to queue for.
    fn admit(&self, subject: &SubjectState, routes: DestinationSet) -> DestinationSet {
        let stats = &self.shared.stats;
        let allowed = subject.allowed();
        let refused = routes - allowed;
        if !refused.is_empty() {
            stats.add_each(refused, Counter::Refused);
        }
        let send = routes & allowed;
        stats.add_each(send, Counter::Accepted);
        let skipped = send & self.skipped;
        if !skipped.is_empty() {
            stats.add_each(skipped, Counter::Skipped);
        }
        send - skipped
    }

    fn now_ms(&self) -> i64 {
        Timestamp::now_for_events(self.timestamps).unix_millis()
    }

    /// Serializes an update's traits into `written` for the destinations the consent permits
    /// now (a trait that reaches none of them is not serialized at all): in the uniform pass,
    /// and again in the general one when a trait did not fit it.
    fn write_traits(
        &self,
        subject: &SubjectState,
        written: &mut Written,
        source: &'static [TraitInfo],
        target: &'static [TraitInfo],
        routes: DestinationSet,
        write: impl Fn(&mut TraitWriter<'_>),
    ) -> Outcome {
        let reach = routes & (subject.allowed() - self.skipped);
        // The shared members follow the distinct id and an opening bracket, as a message's
        // text does: an update whose members all go to the same place is queued as this buffer.
        written
            .shared
            .extend_from_slice(subject.distinct_id.as_bytes());
        written.shared.push(b'{');
        let mut w = TraitWriter::new(
            source,
            target,
            (reach, subject.allowed_special()),
            &mut written.shared,
            &mut written.first_party,
            self.key.as_ref(),
            self.violations,
            &mut written.members,
        );
        write(&mut w);
        if w.unfit() {
            w.restart_general();
            write(&mut w);
        }
        let uniform = w.uniform();
        let (dropped, foreign, wanted) = (w.dropped, w.foreign, w.wanted);
        if dropped > 0 {
            self.shared
                .stats
                .dropped_invalid
                .fetch_add(u64::from(dropped), Ordering::AcqRel);
        }
        if foreign > 0 {
            tracing::warn!(
                traits = foreign,
                "trackplan: trait data that is not the plan's was not sent"
            );
        }
        // Counted for the destinations the touched traits route to, as for an event: refused
        // and skipped ones here, the others as each of their messages is queued.
        let stats = &self.shared.stats;
        let allowed = subject.allowed();
        let refused = wanted - allowed;
        if !refused.is_empty() {
            stats.add_each(refused, Counter::Refused);
        }
        let skipped = wanted & allowed & self.skipped;
        if !skipped.is_empty() {
            stats.add_each(skipped, Counter::Accepted);
            stats.add_each(skipped, Counter::Skipped);
        }
        match uniform {
            Some((op, to, purposes)) => Outcome::Uniform(op, to, purposes),
            None if written.members.is_empty() => Outcome::Nothing,
            None => Outcome::Members,
        }
    }

    /// The group's reference with its key through the key's transform; `None` (counted and
    /// warned about) when the key's value is refused.
    fn group_ref(&self, info: &'static GroupInfo, group: &impl Group) -> Option<GroupRef> {
        let (mut shared, mut first_party) = (Vec::new(), Vec::new());
        let mut w = PropertyWriter::with_context(
            &mut shared,
            &mut first_party,
            self.key.as_ref(),
            self.violations,
        );
        group.write_key(&info.key, &mut w);
        let dropped = w.dropped();
        let id = shared
            .get(info.key.json_key.len()..)
            .filter(|id| dropped == 0 && !id.is_empty())
            .and_then(|id| std::str::from_utf8(id).ok());
        match id {
            Some(id) => Some(GroupRef {
                kind: info.id,
                key: info.key.name,
                id: id.into(),
            }),
            None => {
                self.shared
                    .stats
                    .refused_invalid
                    .fetch_add(1, Ordering::AcqRel);
                tracing::warn!(
                    group = info.id,
                    "trackplan: group not joined or updated: its key has a value that breaks the plan's constraints or transform"
                );
                None
            }
        }
    }

    /// Queues the written traits: one message per operation, and per set of destinations
    /// that receive the same traits of it.
    fn push_update(
        &self,
        subject: &SubjectState,
        written: &mut Written,
        outcome: Outcome,
        traits: &'static [TraitInfo],
        event: &'static str,
        message: impl Fn(ProfileOp) -> Message,
    ) {
        let id = subject.distinct_id.as_bytes();
        let uniform = match outcome {
            Outcome::Nothing => return,
            Outcome::Uniform(op, to, purposes) => Some((op, to, purposes)),
            // Written in the general pass, but still one operation for the same destinations
            // with no first-party-only member (all `add`, or all `unset`).
            Outcome::Members => written.members.first().and_then(|m| {
                written
                    .members
                    .iter()
                    .all(|o| o.op == m.op && o.destinations == m.destinations && !o.first_party)
                    .then(|| {
                        let purposes = written
                            .members
                            .iter()
                            .fold(PurposeSet::EMPTY, |p, m| p | m.purposes);
                        (m.op, m.destinations, purposes)
                    })
            }),
        };
        let time_ms = self.now_ms();
        if let Some((op, to, purposes)) = uniform {
            // The shared buffer already is the message's text.
            // Without a spent buffer, one as large as this one: the next update's text is
            // written without growing its buffer step by step.
            let spare = written
                .stash
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(written.shared.capacity()));
            let mut text = std::mem::replace(&mut written.shared, spare);
            if op == ProfileOp::Unset {
                text[id.len()] = b'[';
                text.push(b']');
            } else {
                text.push(b'}');
            }
            let kind = (event, purposes, time_ms, message(op));
            return self.queue_update(subject, to, kind, text, &mut written.stash);
        }
        // An update writes each trait of its plan list at most once: at most 64 members.
        let count = written.members.len().min(64);
        for &op in ProfileOp::ALL {
            let members = &written.members[..count];
            let to = members
                .iter()
                .filter(|m| m.op == op)
                .fold(DestinationSet::EMPTY, |s, m| s | m.destinations);
            if to.is_empty() {
                continue;
            }
            // Which members of `op` each destination receives, as bits over `members`.
            let selection = |d: usize| -> u64 {
                let third_party = self.third_party.contains(d);
                members
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| {
                        m.op == op && m.destinations.contains(d) && !(m.first_party && third_party)
                    })
                    .fold(0, |bits, (i, _)| bits | (1 << i))
            };
            let mut left = to;
            while let Some(d) = left.iter().next() {
                let bits = selection(d);
                let same: DestinationSet = left.iter().filter(|&o| selection(o) == bits).collect();
                left = left - same;
                if bits == 0 {
                    continue;
                }
                let (open, close) = if op == ProfileOp::Unset {
                    (b'[', b']')
                } else {
                    (b'{', b'}')
                };
                let mut text = written.stash.pop().unwrap_or_default();
                text.clear();
                text.reserve(id.len() + 2 + written.shared.len() + written.first_party.len());
                text.extend_from_slice(id);
                text.push(open);
                let mut purposes = PurposeSet::EMPTY;
                for (i, m) in members.iter().enumerate() {
                    if bits & (1 << i) == 0 {
                        continue;
                    }
                    if text.len() > id.len() + 1 {
                        text.push(b',');
                    }
                    let buf = if m.first_party {
                        &written.first_party
                    } else {
                        &written.shared
                    };
                    text.extend_from_slice(&buf[m.start..m.end]);
                    purposes |= traits.get(m.index).map_or(m.purposes, |t| t.purposes);
                }
                text.push(close);
                let kind = (event, purposes, time_ms, message(op));
                self.queue_update(subject, same, kind, text, &mut written.stash);
            }
        }
    }

    /// Counts one update message (`event`, its purposes, time and message) as accepted for
    /// `to` and queues its `text` (the distinct id, then the traits).
    ///
    /// Inlined: out of line, `perf` showed most of its own time on reading back from the stack
    /// the message parts its caller had just stored (wider loads than the stores: a stalled
    /// store forwarding).
    #[inline(always)]
    fn queue_update(
        &self,
        subject: &SubjectState,
        to: DestinationSet,
        (event, purposes, time_ms, message): (&'static str, PurposeSet, i64, Message),
        text: Vec<u8>,
        stash: &mut Vec<Vec<u8>>,
    ) {
        let meta = Meta {
            event,
            purposes,
            time_ms,
            message,
            insert_id: None,
        };
        self.shared.stats.add_each(to, Counter::Accepted);
        let id_len = subject.distinct_id.len();
        self.push(subject, to, &meta, id_len, &mut [(to, Some(text))], stash);
    }

    /// Queues a message whose properties are `{}` (a membership, a link).
    fn push_empty(&self, subject: &SubjectState, send: DestinationSet, meta: &Meta<'_>) {
        let id = subject.distinct_id.as_bytes();
        let mut text = Vec::with_capacity(id.len() + 2);
        text.extend_from_slice(id);
        text.extend_from_slice(b"{}");
        self.push(
            subject,
            send,
            meta,
            id.len(),
            &mut [(send, Some(text))],
            &mut Vec::new(),
        );
    }
}
