//! What an [`Envelope`](crate::Envelope) asks its destination to do: record an event, update a
//! profile, update a group, or link two identities of one subject.
//!
//! Every message kind goes through the same pipeline as events (consent, routing, transforms,
//! `redact`), so a sink only chooses how to write each kind on its wire.

use std::sync::Arc;

pub use trackplan_vocab::ProfileOp;

/// One group a subject belongs to, as a destination receives it: the plan's group kind, the
/// wire name of its key and the group's id, already transformed as the plan says (an `hmac`
/// key arrives as its HMAC, never raw).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GroupRef {
    /// The group kind's id in the plan (`company`): PostHog's group type, Segment's trait
    /// `group_type`.
    pub kind: &'static str,
    /// The wire name of the group's key property (`company_id`): Mixpanel's `$group_key`.
    pub key: &'static str,
    /// The group's id, as a JSON value text (`"acme"` with its quotes, or `42`).
    pub id: Arc<str>,
}

/// What an envelope carries. `Envelope::properties` is, for every kind but
/// [`Message::Link`], one JSON object (`{…}`) already filtered and transformed for the
/// destination: an event's properties, or the traits an update applies to. For
/// [`ProfileOp::Unset`] it is a JSON array of the trait wire names to remove.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message {
    /// An event named `Envelope::event`, carrying the groups its plan entry declares and the
    /// subject belongs to (none for most events).
    Track {
        /// The groups of the subject that the event carries, in plan order; `None` when none.
        groups: Option<Arc<[GroupRef]>>,
    },
    /// An update of the subject's own profile (`Envelope::distinct_id`).
    Profile {
        /// What the update does with the traits in `Envelope::properties`.
        op: ProfileOp,
    },
    /// The subject joins a group (Segment `group`, Mixpanel's group key on the profile).
    Join {
        /// The group joined.
        group: GroupRef,
    },
    /// An update of a group's profile (Mixpanel `/groups`, Segment `group` traits, PostHog
    /// `$groupidentify`).
    Group {
        /// The group whose profile is updated.
        group: GroupRef,
        /// What the update does with the traits in `Envelope::properties`.
        op: ProfileOp,
    },
    /// Identity stitching: the subject known until now by the pseudonymous `anonymous_id`
    /// is the identified subject `Envelope::distinct_id` (Mixpanel `$identify`, Segment
    /// `alias`, PostHog `$identify` with `$anon_distinct_id`). Both ids are pseudonymized
    /// with the same key; `Envelope::properties` is `{}`.
    Link {
        /// The anonymous subject's pseudonymous distinct id.
        anonymous_id: Arc<str>,
    },
}

impl Message {
    /// An event with no groups.
    pub const TRACK: Message = Message::Track { groups: None };

    /// Whether this is an identity link whose anonymous id is `distinct_id`.
    pub(crate) fn links(&self, distinct_id: &str) -> bool {
        matches!(self, Message::Link { anonymous_id } if **anonymous_id == *distinct_id)
    }

    /// The kind's name in NDJSON records and logs: `track`, `profile`, `join`, `group`, `link`.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Track { .. } => "track",
            Message::Profile { .. } => "profile",
            Message::Join { .. } => "join",
            Message::Group { .. } => "group",
            Message::Link { .. } => "link",
        }
    }
}
