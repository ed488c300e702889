//! Who receives what: the routing rule and the rule for `redact` values.
//!
//! These are the two rules every side of trackplan applies (the code generator computing routes,
//! the runtime checking a plan and choosing which payload goes where, the review tools telling a
//! reviewer who receives a property), written once.

use crate::{DestinationSet, PurposeSet};

/// The routing rule: an event goes to a destination when every purpose the destination uses data
/// for is among the event's purposes.
///
/// ```
/// use trackplan_vocab::{routes, PurposeSet};
/// let event = PurposeSet::only(0).with(1);
/// assert!(routes(event, PurposeSet::only(1)));
/// assert!(!routes(event, PurposeSet::only(1).with(2)));
/// ```
pub const fn routes(event: PurposeSet, destination: PurposeSet) -> bool {
    event.contains_all(destination)
}

/// The destinations an event collected for `event` is routed to, given the purposes of each of
/// the plan's destinations in plan order (destinations past [`MAX_ITEMS`](crate::MAX_ITEMS) are
/// left out).
pub fn route(
    event: PurposeSet,
    destinations: impl IntoIterator<Item = PurposeSet>,
) -> DestinationSet {
    destinations
        .into_iter()
        .enumerate()
        .filter(|(_, d)| routes(event, *d))
        .map(|(i, _)| i)
        .collect()
}

/// Who may receive a property's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Every destination the event is routed to.
    All,
    /// Only first-party destinations: the value of a `redact` property never goes to a third
    /// party.
    FirstParty,
}

impl Audience {
    /// The audience of a property: first parties only when its transform is `redact`.
    pub const fn of(redacted: bool) -> Audience {
        if redacted {
            Audience::FirstParty
        } else {
            Audience::All
        }
    }

    /// Whether a destination may receive the value; `third_party` is the destination's.
    pub const fn admits(self, third_party: bool) -> bool {
        match self {
            Audience::All => true,
            Audience::FirstParty => !third_party,
        }
    }

    /// Of the destinations in `routed`, those that may receive the value; `third_parties` is
    /// the set of the plan's third-party destinations.
    pub const fn recipients(
        self,
        routed: DestinationSet,
        third_parties: DestinationSet,
    ) -> DestinationSet {
        match self {
            Audience::All => routed,
            Audience::FirstParty => routed.difference(third_parties),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_without_purposes_receives_every_event() {
        assert!(routes(PurposeSet::EMPTY, PurposeSet::EMPTY));
        assert!(routes(PurposeSet::only(3), PurposeSet::EMPTY));
    }

    #[test]
    fn route_keeps_plan_order() {
        let event = PurposeSet::only(0);
        let set = route(
            event,
            [PurposeSet::only(1), PurposeSet::only(0), PurposeSet::EMPTY],
        );
        assert_eq!(set, DestinationSet::only(1).with(2));
    }

    #[test]
    fn redact_never_reaches_a_third_party() {
        assert!(!Audience::of(true).admits(true));
        assert!(Audience::of(true).admits(false));
        assert!(Audience::of(false).admits(true));
        let routed = DestinationSet::first(3);
        let third = DestinationSet::only(1);
        assert_eq!(
            Audience::FirstParty.recipients(routed, third),
            DestinationSet::only(0).with(2)
        );
        assert_eq!(Audience::All.recipients(routed, third), routed);
    }
}
