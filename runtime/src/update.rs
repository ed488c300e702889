//! Profile and group updates: the traits generated code implements for them, and the writer
//! through which their values reach the wire.
//!
//! # What `plan!` emits (the interface between codegen and the runtime)
//!
//! The plan data. [`PlanInfo`](crate::info::PlanInfo) gains `traits`, `groups` and `context`;
//! a plan that declares any of them wraps its `plan_info(…)` in `plan_sections`, and an event
//! with `groups = [...]` wraps its `event_info(…)` in `event_groups`. Traits, group keys and
//! context properties are [`PropertyInfo`]s built by the same `property(…)` constructor as
//! event properties (`required` is `false`, except for a group key, which is `true`); a trait
//! adds its purposes and the destinations the routing rule gives for them (for a group trait:
//! also among its kind's destinations). `TrackerBuilder::build` re-derives and checks all of
//! it (see `verify`), as for events.
//!
//! ```text
//! pub static PLAN: PlanInfo = plan_sections(
//!     plan_info("shop", 3, "shop@3", "…", IdentityTransform::Hmac, &[…], &[…], &[
//!         event_groups(event_info("order_completed", "Order Completed", …), &[0]),
//!         …
//!     ]),
//!     // [traits.*], in plan order
//!     &[
//!         trait_info(
//!             property("plan_tier", "Plan Tier", "\"Plan Tier\":", ValueKind::Enum,
//!                      Sensitivity::Internal, None, TransformInfo::None, false, UNCONSTRAINED),
//!             PurposeSet::from_bits(0b1),
//!             DestinationSet::from_bits(0b11),
//!         ),
//!         trait_info(
//!             property("email", "Email", "\"Email\":", ValueKind::String,
//!                      Sensitivity::Personal, Some("user.contact.email"),
//!                      TransformInfo::Hmac { lowercase: true }, false, UNCONSTRAINED),
//!             PurposeSet::from_bits(0b1),
//!             DestinationSet::from_bits(0b11),
//!         ),
//!     ],
//!     // [groups.*]
//!     &[group_info(
//!         "company",
//!         property("company_id", "company_id", "\"company_id\":", ValueKind::String,
//!                  Sensitivity::Internal, None, TransformInfo::None, true, UNCONSTRAINED),
//!         PurposeSet::from_bits(0b1),
//!         DestinationSet::from_bits(0b11),
//!         &[trait_info(property("seats", "Seats", "\"Seats\":", ValueKind::Integer, …), …)],
//!     )],
//!     // [context.*]
//!     &[context_info(
//!         property("app_version", "App Version", "\"App Version\":", ValueKind::String,
//!                  Sensitivity::Public, None, TransformInfo::None, false, UNCONSTRAINED),
//!         None, // or Some(&[0, 2]): indices of the events it applies to
//!     )],
//! );
//! ```
//!
//! The typed API. A profile update is a struct holding one [`TraitOp`] per trait, with one
//! builder method per operation that fits the trait's type ([`ProfileOp::fits`]), so an
//! undeclared trait, a wrong type or `add` on a string is a compile error at the call site.
//! Its impls name only `__private` paths:
//!
//! ```text
//! /// An update of the user's profile: `user.update_profile(Profile::new().set_plan_tier(…))`.
//! #[derive(Debug, Default)]
//! pub struct Profile {
//!     plan_tier: ::trackplan::__private::TraitOp<PlanTier>,
//!     email: ::trackplan::__private::TraitOp<::trackplan::__private::Personal<String>>,
//! }
//! impl Profile {
//!     pub fn new() -> Self { Self::default() }
//!     pub fn set_plan_tier(mut self, value: PlanTier) -> Self {
//!         self.plan_tier = ::trackplan::__private::TraitOp::Set(value); self
//!     }
//!     pub fn set_once_plan_tier(mut self, value: PlanTier) -> Self { … TraitOp::SetOnce(value) … }
//!     pub fn unset_plan_tier(mut self) -> Self { … TraitOp::Unset … }
//!     // `add_<id>` for integer/number traits (TraitOp::Add), `union_<id>`/`remove_<id>` for
//!     // list traits (TraitOp::Union / TraitOp::Remove, with the list type).
//! }
//! #[doc(hidden)]
//! impl ::trackplan::__private::Sealed for Profile {}
//! impl ::trackplan::__private::ProfileUpdate for Profile {
//!     const PLAN: &'static ::trackplan::__private::PlanInfo = &PLAN;
//!     fn write_traits(&self, w: &mut ::trackplan::__private::TraitWriter<'_>) {
//!         let t = <Self as ::trackplan::__private::ProfileUpdate>::PLAN.traits;
//!         w.write(&t[0], &self.plan_tier);
//!         w.write(&t[1], &self.email);
//!     }
//! }
//! ```
//!
//! A group kind (`company`) is a struct holding its key and one [`TraitOp`] per group trait;
//! it implements [`Group`] (what `subject.join(…)` needs) and [`GroupUpdate`] (what
//! `subject.update_group(…)` needs):
//!
//! ```text
//! pub struct Company {
//!     key: String,                                   // the key property's Rust type
//!     seats: ::trackplan::__private::TraitOp<i64>,
//! }
//! impl Company {
//!     pub fn new(key: impl Into<String>) -> Self { … }   // or `key: <the key's type>`
//!     pub fn set_seats(mut self, value: i64) -> Self { … } // and the other fitting ops
//! }
//! impl ::trackplan::__private::Sealed for Company {}
//! impl ::trackplan::__private::Group for Company {
//!     const PLAN: &'static ::trackplan::__private::PlanInfo = &PLAN;
//!     const KIND: usize = 0;                              // index in PLAN.groups
//!     fn write_key(&self, key: &'static ::trackplan::__private::PropertyInfo,
//!                  w: &mut ::trackplan::__private::PropertyWriter<'_>) {
//!         ::trackplan::__private::Value::write(&self.key, key, w);
//!     }
//! }
//! impl ::trackplan::__private::GroupUpdate for Company {
//!     fn write_traits(&self, w: &mut ::trackplan::__private::TraitWriter<'_>) {
//!         let t = <Self as ::trackplan::__private::Group>::PLAN.groups[0].traits;
//!         w.write(&t[0], &self.seats);
//!     }
//! }
//! ```
//!
//! Context properties are one struct with an `Option` per context property, implementing
//! [`ContextProperties`](crate::ContextProperties) (see `context.rs`); a `None` leaves the
//! value set earlier in place.
//!
//! # The calls users make
//!
//! ```text
//! user.update_profile(Profile::new().set_plan_tier(PlanTier::Pro));   // Message::Profile
//! user.join(Company::new("acme"));                                   // Message::Join
//! user.update_group(Company::new("acme").set_seats(40));            // Message::Group
//! let visitor = tracker.anonymous(consent)?;   // or tracker.anonymous_with_id("<cookie id>", consent)
//! let user = visitor.identify("user-42");           // Message::Link, both ids pseudonymized
//! Tracker::builder(&PLAN).context(Context { app_version: Some("1.4.2".into()), ..Default::default() });
//! user.set_context(Context { platform: Some(Platform::Ios), ..Default::default() });
//! ```
//!
//! Trait wire names follow the rules of event property names (`verify` refuses `$…`, `mp_…`,
//! `distinct_id`, …): destinations' own profile fields (`$email`, `$name`, `$phone`) are
//! mapped by their sinks, deliberately, never by a trait's wire name.
//!
//! # What the runtime does with them
//!
//! The runtime decides the destinations before anything is written: a trait goes only to the
//! destinations in its `destinations` that the subject's consent permits (and that have a
//! sink), and a trait that reaches none is never serialized. [`TraitWriter::write`] uses the
//! `&TraitInfo` it is given only when its address is an entry of the tracker's own (verified)
//! plan; any other is resolved to its position in the update type's plan (by address, else by
//! plan id) and the tracker's entry at that position is used: a hand-made `TraitInfo` claiming
//! other routes, purposes or transforms gets only what the plan's entry allows, and one of an
//! id the plan does not declare writes nothing. Values go through [`PropertyWriter`]
//! (constraints, transform, `redact` to first parties only), exactly as event properties do.
//! Each operation of an update becomes one envelope per destination
//! ([`Message::Profile`](crate::Message::Profile) or
//! [`Message::Group`](crate::Message::Group)), with the traits that destination may receive.
//!
//! Two passes. The writer first assumes the common update: every trait with one operation,
//! for the same destinations, none first-party only, no `add` or `unset`. Its members are then
//! written as an event's properties are, comma-separated into the buffer that becomes the
//! message's text, and in the generated `write_traits` (where the writer is inlined and each
//! entry is a constant) the routing and constraint checks fold away. The first trait that does
//! not fit ends that pass; everything it wrote and counted is taken back, and the update is
//! written again with each member's operation, destinations and place recorded, to be split
//! per operation and destination.

use crate::event::Sealed;
use crate::key::Key;
use crate::message::ProfileOp;
use crate::plan::{
    Audience, DestinationSet, PlanInfo, PropertyInfo, PurposeSet, Sensitivity, TraitInfo, ValueKind,
};
use crate::value::{PropertyWriter, Value, ViolationPolicy};
use trackplan_vocab::TraitShape;

/// A typed update of a user's profile, generated by `plan!` from the plan's `[traits]`:
/// `user.update_profile(Profile::new().set_plan_tier(PlanTier::Pro))`.
/// Implemented by `plan!` only.
pub trait ProfileUpdate: Sealed {
    /// The plan the traits belong to.
    const PLAN: &'static PlanInfo;
    /// Writes every trait the update touches, through [`TraitWriter::write`].
    fn write_traits(&self, w: &mut TraitWriter<'_>);
}

/// A group of a kind the plan declares (`[groups.company]`), identified by its key:
/// `user.join(Company::new("acme"))`. Implemented by `plan!` only.
pub trait Group: Sealed {
    /// The plan the group kind belongs to.
    const PLAN: &'static PlanInfo;
    /// Index of the kind in `PLAN.groups`.
    const KIND: usize;
    /// Writes the group's key through `key` (the kind's key property, as the tracker's plan
    /// has it).
    fn write_key(&self, key: &'static PropertyInfo, w: &mut PropertyWriter<'_>);
}

/// A typed update of a group's profile: `user.update_group(Company::new("acme").set_seats(40))`.
/// Implemented by `plan!` only.
pub trait GroupUpdate: Group {
    /// Writes every group trait the update touches, through [`TraitWriter::write`].
    fn write_traits(&self, w: &mut TraitWriter<'_>);
}

/// What an update does with one trait. Generated update types hold one per trait, starting
/// [`TraitOp::Untouched`]; their builder methods offer only the operations that fit the
/// trait's type.
#[derive(Clone, Default, PartialEq)]
pub enum TraitOp<T> {
    /// The update leaves the trait alone.
    #[default]
    Untouched,
    /// Sets the trait ([`ProfileOp::Set`]).
    Set(T),
    /// Sets the trait unless it has a value ([`ProfileOp::SetOnce`]).
    SetOnce(T),
    /// Adds to a number trait ([`ProfileOp::Add`]).
    Add(T),
    /// Adds the items missing from a list trait ([`ProfileOp::Union`]).
    Union(T),
    /// Removes items from a list trait ([`ProfileOp::Remove`]).
    Remove(T),
    /// Removes the trait ([`ProfileOp::Unset`]).
    Unset,
}

// The values are the subject's data (an e-mail address before its HMAC): never printed.
impl<T> std::fmt::Debug for TraitOp<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.parts() {
            None => f.write_str("Untouched"),
            Some((op, None)) => write!(f, "{op:?}"),
            Some((op, Some(_))) => write!(f, "{op:?}([redacted])"),
        }
    }
}

impl<T> TraitOp<T> {
    /// The operation and its value (`None` for `Unset`); `None` when untouched.
    fn parts(&self) -> Option<(ProfileOp, Option<&T>)> {
        Some(match self {
            TraitOp::Untouched => return None,
            TraitOp::Set(v) => (ProfileOp::Set, Some(v)),
            TraitOp::SetOnce(v) => (ProfileOp::SetOnce, Some(v)),
            TraitOp::Add(v) => (ProfileOp::Add, Some(v)),
            TraitOp::Union(v) => (ProfileOp::Union, Some(v)),
            TraitOp::Remove(v) => (ProfileOp::Remove, Some(v)),
            TraitOp::Unset => (ProfileOp::Unset, None),
        })
    }
}

/// One trait an update wrote: where its JSON member (`"key":value`, or for `unset` the wire
/// name as a JSON string) lies, and who may receive it.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub op: ProfileOp,
    /// Index of the trait in its list (`PlanInfo::traits` or the kind's `traits`).
    pub index: usize,
    /// In the first-party buffer (`redact`) rather than the shared one.
    pub first_party: bool,
    pub start: usize,
    pub end: usize,
    /// Destinations that may receive it now: its routes, permitted by consent.
    pub destinations: DestinationSet,
    /// The trait's purposes.
    pub purposes: crate::plan::PurposeSet,
}

/// One trait operation of an update, routed: its entry in the verified list and the
/// destinations it may reach now.
#[derive(Clone, Copy)]
struct Routed {
    index: usize,
    info: &'static TraitInfo,
    destinations: DestinationSet,
    op: ProfileOp,
}

/// How a [`TraitWriter`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// The common update first: every trait with one operation, for the same destinations,
    /// none first-party only, `add` or `unset`. Its members go straight into the shared
    /// buffer, which then is the message's text, with no bookkeeping per member.
    Uniform,
    /// A trait did not fit the uniform pass: the rest are ignored, and the update is written
    /// again in the general pass.
    Unfit,
    /// Every trait with its own operation and destinations, recorded in `members`.
    General,
}

/// Writes the traits of one update, as the runtime hands it to generated `write_traits`.
///
/// Only the runtime makes one: it is never a way to read the update's raw values, and every
/// value written through it goes through its trait's transform to the destinations the trait
/// may reach.
pub struct TraitWriter<'a> {
    /// The trait list of the update type's plan (where generated code takes its `&TraitInfo`).
    source: &'static [TraitInfo],
    /// The same list in the tracker's verified plan.
    target: &'static [TraitInfo],
    /// Destinations the update may reach now (routes, consent, sinks).
    reach: DestinationSet,
    /// Of those, the ones special-category traits may reach: consent was given explicitly
    /// (`Consent::grant_explicit`), as for an event's special-category properties.
    special_reach: DestinationSet,
    /// Shared members, comma-separated after `shared_base` (the caller's prefix), so that an
    /// update whose members all go to the same destinations travels as this very buffer.
    shared: &'a mut Vec<u8>,
    shared_base: usize,
    first_party: &'a mut Vec<u8>,
    first_party_base: usize,
    pass: Pass,
    /// In the uniform pass: the operation and destinations of the first trait that reaches
    /// anyone, which every other one must share.
    uniform: Option<(ProfileOp, DestinationSet)>,
    /// In the uniform pass: the purposes of the traits written.
    purposes: PurposeSet,
    key: Option<&'a Key>,
    policy: ViolationPolicy,
    pub(crate) members: &'a mut Vec<Member>,
    /// The first 64 trait indexes already written (a later index is looked up in `members`).
    seen: u64,
    pub(crate) dropped: u32,
    /// `TraitInfo`s that are not the plan's.
    pub(crate) foreign: u32,
    /// The routes of every trait the update touches, reachable now or not (for the stats).
    pub(crate) wanted: DestinationSet,
}

impl<'a> TraitWriter<'a> {
    #[allow(clippy::too_many_arguments)] // the parts of one update's serialization
    pub(crate) fn new(
        source: &'static [TraitInfo],
        target: &'static [TraitInfo],
        (reach, special_reach): (DestinationSet, DestinationSet),
        shared: &'a mut Vec<u8>,
        first_party: &'a mut Vec<u8>,
        key: Option<&'a Key>,
        policy: ViolationPolicy,
        members: &'a mut Vec<Member>,
    ) -> Self {
        TraitWriter {
            source,
            target,
            reach,
            special_reach: special_reach & reach,
            shared_base: shared.len(),
            shared,
            first_party_base: first_party.len(),
            first_party,
            pass: Pass::Uniform,
            uniform: None,
            purposes: PurposeSet::EMPTY,
            key,
            policy,
            members,
            seen: 0,
            dropped: 0,
            foreign: 0,
            wanted: DestinationSet::EMPTY,
        }
    }

    /// Whether a trait did not fit the uniform pass: the update must be written again after
    /// [`TraitWriter::restart_general`].
    pub(crate) fn unfit(&self) -> bool {
        self.pass == Pass::Unfit
    }

    /// Takes back everything written, for the general pass.
    pub(crate) fn restart_general(&mut self) {
        self.shared.truncate(self.shared_base);
        self.first_party.truncate(self.first_party_base);
        self.members.clear();
        self.pass = Pass::General;
        self.uniform = None;
        self.purposes = PurposeSet::EMPTY;
        self.seen = 0;
        self.dropped = 0;
        self.foreign = 0;
        self.wanted = DestinationSet::EMPTY;
    }

    /// After a uniform pass that wrote something: its one operation, destinations and
    /// purposes (the members are comma-separated in the shared buffer).
    pub(crate) fn uniform(&self) -> Option<(ProfileOp, DestinationSet, PurposeSet)> {
        let (op, to) = self.uniform?;
        (self.pass == Pass::Uniform && self.shared.len() > self.shared_base).then_some((
            op,
            to,
            self.purposes,
        ))
    }

    /// Writes trait `t` (an entry of the update type's plan) with operation `op`: nothing for
    /// [`TraitOp::Untouched`], nor when no destination the update may reach may receive the
    /// trait.
    #[inline]
    pub fn write<T: Value>(&mut self, t: &'static TraitInfo, op: &TraitOp<T>) {
        if let Some((op, value)) = op.parts() {
            self.member(t, op, value);
        }
    }

    /// Whether trait `index` was written already (only a hand-made impl writes one twice),
    /// marking it written.
    #[inline]
    fn written_before(&mut self, index: usize) -> bool {
        match u32::try_from(index).ok().and_then(|i| 1u64.checked_shl(i)) {
            Some(bit) => {
                let before = self.seen & bit != 0;
                self.seen |= bit;
                before
            }
            None => self.members.iter().any(|m| m.index == index),
        }
    }

    // Inlined into the generated `write_traits`: when `t` is an entry of the verified list,
    // its routes, sensitivity, transform and type are constants there, and the checks they
    // decide fold away, as for an event's properties.
    #[inline(always)]
    fn member<T: Value>(&mut self, t: &'static TraitInfo, op: ProfileOp, value: Option<&T>) {
        if self.pass == Pass::Unfit {
            return;
        }
        match index_in(self.target, t) {
            // The tracker's own entry (generated code of the tracker's plan static): a
            // constant in the generated caller.
            Some(index) => self.entry(index, t, op, value),
            None => self.foreign_entry(t, op, value),
        }
    }

    /// [`TraitWriter::member`] for an entry that is not the tracker's static (the same plan
    /// generated twice): the verified entry at its position, or nothing (counted) for data
    /// that is not the plan's.
    #[cold]
    #[inline(never)]
    fn foreign_entry<T: Value>(&mut self, t: &'static TraitInfo, op: ProfileOp, value: Option<&T>) {
        let found = position(self.source, t, |t| t.property.id)
            .and_then(|index| Some((index, self.target.get(index)?)));
        match found {
            Some((index, info)) => self.entry(index, info, op, value),
            None => self.foreign += 1,
        }
    }

    /// Trait `index` of the verified list, `info`.
    #[inline(always)]
    fn entry<T: Value>(
        &mut self,
        index: usize,
        info: &'static TraitInfo,
        op: ProfileOp,
        value: Option<&T>,
    ) {
        self.wanted |= info.destinations;
        // Special-category traits (health, beliefs, …) go only where consent was explicit.
        let reach = if matches!(info.property.sensitivity, Sensitivity::Special) {
            self.special_reach
        } else {
            self.reach
        };
        let routed = Routed {
            index,
            info,
            destinations: info.destinations & reach,
            op,
        };
        if self.pass == Pass::Uniform {
            self.uniform_member(routed, value)
        } else {
            self.general_member(routed, value)
        }
    }

    /// A member in the general pass: written where its transform sends it, and recorded with
    /// its operation and destinations in `members`.
    #[inline(never)]
    fn general_member<T: Value>(&mut self, routed: Routed, value: Option<&T>) {
        let Routed {
            index,
            info,
            destinations,
            op,
        } = routed;
        if destinations.is_empty() || self.written_before(index) {
            // Reaches no one now (never serialized), or written twice by a hand-made impl.
            return;
        }
        let p = &info.property;
        if !op_fits(op, p) {
            self.dropped += 1;
            tracing::warn!(
                property = p.id,
                op = %op,
                "trackplan dropped a trait operation that does not fit the trait's type"
            );
            return;
        }
        let first_party = matches!(p.transform.audience(), Audience::FirstParty);
        // A shared member follows the one before after a comma (taken back if the value is
        // refused and nothing is written); `start` is after it.
        let comma = !first_party && self.shared.len() > self.shared_base;
        if comma {
            self.shared.push(b',');
        }
        let (start_shared, start_fp) = (self.shared.len(), self.first_party.len());
        match value {
            None => {
                // `unset` names the trait: its JSON key without the `:`.
                let buf = if first_party {
                    &mut *self.first_party
                } else {
                    &mut *self.shared
                };
                buf.extend_from_slice(&p.json_key.as_bytes()[..p.json_key.len() - 1]);
            }
            Some(v) if op == ProfileOp::Add => {
                // The trait's `min`/`max` bound its value, not the amount added (an order
                // count of 3 may be decremented): the amount is checked only for being a
                // finite number, and sent as is (`op_fits`: no transform but `redact`, which
                // only picks the buffer).
                let (own, other) = if first_party {
                    (&mut *self.first_party, &mut *self.shared)
                } else {
                    (&mut *self.shared, &mut *self.first_party)
                };
                let start = own.len();
                own.extend_from_slice(p.json_key.as_bytes());
                let mut w = PropertyWriter::with_context(own, other, None, self.policy);
                v.write(delta(p.kind), &mut w);
                let dropped = w.dropped();
                if dropped > 0 || own.len() == start + p.json_key.len() {
                    own.truncate(start);
                }
                self.dropped += dropped;
            }
            Some(v) => {
                let start = self.shared.len();
                self.write_value(p, v, start);
            }
        }
        let (start, end) = if first_party {
            (start_fp, self.first_party.len())
        } else {
            (start_shared, self.shared.len())
        };
        if comma && end == start {
            self.shared.pop();
        }
        if end > start {
            self.members.push(Member {
                op,
                index,
                first_party,
                start,
                end,
                destinations,
                purposes: info.purposes,
            });
        }
    }
}

impl TraitWriter<'_> {
    /// A member in the uniform pass: written as an event's property is, with the trait's
    /// constant entry (so its checks fold away in generated code), or the pass ends.
    #[inline(always)]
    fn uniform_member<T: Value>(&mut self, routed: Routed, value: Option<&T>) {
        let p = &routed.info.property;
        let op = routed.op;
        let Some(v) = value else {
            return self.unfit_here();
        };
        if op == ProfileOp::Add || matches!(p.transform.audience(), Audience::FirstParty) {
            return self.unfit_here();
        }
        if routed.destinations.is_empty() {
            // Reaches no one now: never serialized.
            return;
        }
        match self.uniform {
            None => self.uniform = Some((op, routed.destinations)),
            Some(first) if first == (op, routed.destinations) => {}
            Some(_) => return self.unfit_here(),
        }
        if self.written_before(routed.index) {
            return;
        }
        if !op_fits(op, p) {
            // The general pass drops it with a warning.
            return self.unfit_here();
        }
        let before = self.shared.len();
        self.write_value(p, v, self.shared_base);
        if self.shared.len() > before {
            self.purposes |= routed.info.purposes;
        }
    }

    /// Writes `v` as trait property `p` through its transform, as a member of the shared list
    /// begun at `shared_start` (a comma first after it), and counts a refused value.
    #[inline(always)]
    fn write_value<T: Value>(&mut self, p: &'static PropertyInfo, v: &T, shared_start: usize) {
        let mut w = PropertyWriter::continuing(
            self.shared,
            shared_start,
            self.first_party,
            self.key,
            self.policy,
        );
        v.write(p, &mut w);
        self.dropped += w.dropped();
    }

    #[cold]
    #[inline(never)]
    fn unfit_here(&mut self) {
        self.pass = Pass::Unfit;
    }
}

/// The amount an `add` adds to a number trait, as a property without a name (its member is
/// the bare number) or constraints.
fn delta(kind: ValueKind) -> &'static PropertyInfo {
    const fn amount(kind: ValueKind) -> PropertyInfo {
        crate::plan::property(
            "(the amount of an add)",
            "",
            "",
            kind,
            crate::plan::Sensitivity::Internal,
            None,
            crate::plan::TransformInfo::None,
            false,
            crate::plan::constraints(None, None, None),
        )
    }
    static INTEGER: PropertyInfo = amount(ValueKind::Integer);
    static NUMBER: PropertyInfo = amount(ValueKind::Number);
    if kind == ValueKind::Integer {
        &INTEGER
    } else {
        &NUMBER
    }
}

/// Whether `op` applies to trait `p`: [`ProfileOp::fits`] its type, and `add` only to a
/// number sent as is, or only to first parties (a bucket label cannot be added to).
fn op_fits(op: ProfileOp, p: &PropertyInfo) -> bool {
    let shape = match p.kind {
        ValueKind::Integer | ValueKind::Number => TraitShape::Number,
        ValueKind::List { .. } => TraitShape::List,
        _ => TraitShape::Scalar,
    };
    op.fits(shape)
        && (op != ProfileOp::Add
            || matches!(
                p.transform,
                crate::plan::TransformInfo::None | crate::plan::TransformInfo::Redact
            ))
}

/// The position in `list` of `item`: by address (generated code hands out the plan's own
/// entries), else of the entry with the same plan id (a copy, e.g. one a `const` made). The
/// caller uses its own verified entry at that position, never `item`'s contents, so a
/// hand-made description of a declared item gets only what the plan allows it, and one of an
/// undeclared item nothing.
pub(crate) fn position<T>(
    list: &'static [T],
    item: &'static T,
    id: impl Fn(&T) -> &str,
) -> Option<usize> {
    index_in(list, item).or_else(|| {
        let wanted = id(item);
        list.iter().position(|t| id(t) == wanted)
    })
}

/// The position of `item` in `slice`, by address: `None` when `item` is not one of its
/// elements (a copy made elsewhere, or another plan's).
pub(crate) fn index_in<T>(slice: &'static [T], item: &'static T) -> Option<usize> {
    let size = std::mem::size_of::<T>().max(1);
    let start = slice.as_ptr() as usize;
    let at = (item as *const T as usize).checked_sub(start)?;
    (at % size == 0 && at / size < slice.len()).then_some(at / size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_in_finds_elements_by_address_only() {
        static ITEMS: [u64; 3] = [1, 2, 3];
        static OTHER: u64 = 2;
        assert_eq!(index_in(&ITEMS, &ITEMS[2]), Some(2));
        assert_eq!(index_in(&ITEMS, &ITEMS[0]), Some(0));
        assert_eq!(index_in(&ITEMS, &OTHER), None);
    }

    #[test]
    fn trait_op_debug_hides_the_value() {
        let op = TraitOp::Set("alice@example.com");
        assert_eq!(format!("{op:?}"), "Set([redacted])");
        assert_eq!(format!("{:?}", TraitOp::<u8>::Unset), "Unset");
        assert_eq!(format!("{:?}", TraitOp::<u8>::Untouched), "Untouched");
    }
}
