//! Plans for the crate's unit tests, built in a line or two instead of `PlanInfo` literals.
//!
//! The routing a plan compiler would compute is computed here too (an event reaches every
//! destination whose purposes are all among the event's), so a test plan is as consistent as a
//! generated one. The behaviour tests under `tests/` use the code `plan!` really generates
//! (`tests/fixture`); these plans are for the unit tests of a sink or the spool, which need a
//! plan of a particular shape and nothing else.
//!
//! Plans and properties are leaked to get the `'static` lifetime generated code has: a few
//! bytes per test process.

use crate::plan::{
    Constraints, ContextInfo, DestinationInfo, DestinationSet, EventInfo, GroupInfo,
    IdentityTransform, LegalBasis, PlanInfo, PropertyInfo, PurposeInfo, PurposeSet, Sensitivity,
    TraitInfo, TransformInfo, ValueKind,
};

/// A plan named `name`, version 1, HMAC identity, nothing declared yet.
pub(crate) fn plan(name: &'static str) -> PlanBuilder {
    PlanBuilder {
        name,
        version: 1,
        purposes: Vec::new(),
        destinations: Vec::new(),
        events: Vec::new(),
        traits: Vec::new(),
        groups: Vec::new(),
        context: Vec::new(),
    }
}

/// `p` as a trait, context property or optional property: not required.
pub(crate) fn optional(p: PropertyInfo) -> PropertyInfo {
    PropertyInfo {
        required: false,
        ..p
    }
}

/// A string property sent as `name`, internal, required, with no transform, category or
/// constraints; change fields with struct update syntax
/// (`PropertyInfo { category: Some(…), ..property("IP Address") }`).
pub(crate) fn property(name: &'static str) -> PropertyInfo {
    PropertyInfo {
        id: name,
        name,
        json_key: leak(format!("{}:", serde_json::Value::from(name))),
        kind: ValueKind::String,
        sensitivity: Sensitivity::Internal,
        category: None,
        transform: TransformInfo::None,
        required: true,
        constraints: Constraints::default(),
    }
}

/// A group kind as declared: id, key, purposes, traits with their purposes.
type GroupDecl = (
    &'static str,
    PropertyInfo,
    PurposeSet,
    Vec<(PropertyInfo, PurposeSet)>,
);

/// A plan under construction: see [`plan`].
pub(crate) struct PlanBuilder {
    name: &'static str,
    version: u32,
    purposes: Vec<PurposeInfo>,
    destinations: Vec<DestinationInfo>,
    events: Vec<(&'static str, Vec<PropertyInfo>, Vec<usize>)>,
    traits: Vec<(PropertyInfo, PurposeSet)>,
    groups: Vec<GroupDecl>,
    context: Vec<(PropertyInfo, Option<Vec<usize>>)>,
}

impl PlanBuilder {
    /// Sets `[plan] version`.
    pub(crate) fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// Declares a consent-based analytics purpose.
    pub(crate) fn purpose(mut self, id: &'static str) -> Self {
        self.purposes.push(crate::plan::purpose_info(
            id,
            "",
            LegalBasis::Consent,
            "analytics.reporting",
            None,
            false,
        ));
        self
    }

    /// Declares a first-party destination of `kind` that uses data for every purpose declared
    /// so far.
    pub(crate) fn destination(mut self, id: &'static str, kind: &'static str) -> Self {
        self.destinations.push(DestinationInfo {
            id,
            kind,
            description: "",
            purposes: PurposeSet::first(self.purposes.len()),
            third_party: false,
        });
        self
    }

    /// Declares a consent-based purpose kept `days` days (`None`: no `retention_days`).
    pub(crate) fn purpose_with_retention(mut self, id: &'static str, days: Option<u32>) -> Self {
        self = self.purpose(id);
        if let Some(last) = self.purposes.last_mut() {
            last.retention_days = days;
        }
        self
    }

    /// Declares an event sent as `name`, for every purpose, with `properties` in this order.
    pub(crate) fn event(
        mut self,
        name: &'static str,
        properties: impl IntoIterator<Item = PropertyInfo>,
    ) -> Self {
        self.events
            .push((name, properties.into_iter().collect(), Vec::new()));
        self
    }

    /// Declares a destination of `kind` for the purposes at `purposes` (indices), first or
    /// third party.
    pub(crate) fn destination_for(
        mut self,
        id: &'static str,
        kind: &'static str,
        purposes: &[usize],
        third_party: bool,
    ) -> Self {
        self.destinations.push(DestinationInfo {
            id,
            kind,
            description: "",
            purposes: purposes.iter().copied().collect(),
            third_party,
        });
        self
    }

    /// The last event declared carries the group kinds at `groups`.
    pub(crate) fn with_groups(mut self, groups: &[usize]) -> Self {
        if let Some(e) = self.events.last_mut() {
            e.2 = groups.to_vec();
        }
        self
    }

    /// Declares a profile trait collected for the purposes at `purposes`.
    pub(crate) fn profile_trait(mut self, property: PropertyInfo, purposes: &[usize]) -> Self {
        self.traits
            .push((optional(property), purposes.iter().copied().collect()));
        self
    }

    /// Declares a group kind with its key and traits (each with its purposes).
    pub(crate) fn group(
        mut self,
        id: &'static str,
        key: PropertyInfo,
        purposes: &[usize],
        traits: impl IntoIterator<Item = (PropertyInfo, &'static [usize])>,
    ) -> Self {
        let traits = traits
            .into_iter()
            .map(|(p, set)| (optional(p), set.iter().copied().collect()))
            .collect();
        self.groups
            .push((id, key, purposes.iter().copied().collect(), traits));
        self
    }

    /// Declares a context property for the events at `events` (`None`: every event).
    pub(crate) fn context(mut self, property: PropertyInfo, events: Option<&[usize]>) -> Self {
        self.context
            .push((optional(property), events.map(<[usize]>::to_vec)));
        self
    }

    /// The plan, with its label, a content hash of what was declared, and every event routed.
    pub(crate) fn build(self) -> &'static PlanInfo {
        let label = leak(format!("{}@{}", self.name, self.version));
        let purposes = PurposeSet::first(self.purposes.len());
        let destinations =
            trackplan_vocab::route(purposes, self.destinations.iter().map(|d| d.purposes));
        let events: Vec<EventInfo> = self
            .events
            .into_iter()
            .map(|(name, properties, groups)| EventInfo {
                id: leak(name.to_lowercase().replace(' ', "_")),
                name,
                purposes,
                destinations,
                properties: Vec::leak(properties),
                groups: Vec::leak(groups),
            })
            .collect();
        let routes =
            |p: PurposeSet| trackplan_vocab::route(p, self.destinations.iter().map(|d| d.purposes));
        let traits: Vec<TraitInfo> = self
            .traits
            .into_iter()
            .map(|(property, purposes)| TraitInfo {
                property,
                purposes,
                destinations: routes(purposes),
            })
            .collect();
        let groups: Vec<GroupInfo> = self
            .groups
            .into_iter()
            .map(|(id, key, purposes, traits)| {
                let within = routes(purposes);
                GroupInfo {
                    id,
                    key,
                    purposes,
                    destinations: within,
                    traits: Vec::leak(
                        traits
                            .into_iter()
                            .map(|(property, purposes)| TraitInfo {
                                property,
                                purposes,
                                destinations: routes(purposes) & within,
                            })
                            .collect(),
                    ),
                }
            })
            .collect();
        let context: Vec<ContextInfo> = self
            .context
            .into_iter()
            .map(|(property, events)| ContextInfo {
                property,
                events: events.map(|e| &*Vec::leak(e)),
            })
            .collect();
        // Not SHA-256 of a file, but it differs whenever what was declared differs, which is
        // what `PlanInfo::same_as` relies on.
        let hash = leak(format!(
            "{:064x}",
            fnv1a(&format!(
                "{label} {:?} {:?} {events:?} {traits:?} {groups:?} {context:?}",
                self.purposes, self.destinations
            ))
        ));
        Box::leak(Box::new(PlanInfo {
            name: self.name,
            version: self.version,
            label,
            hash,
            identity: IdentityTransform::Hmac,
            purposes: Vec::leak(self.purposes),
            destinations: Vec::leak(self.destinations),
            events: Vec::leak(events),
            traits: Vec::leak(traits),
            groups: Vec::leak(groups),
            context: Vec::leak(context),
        }))
    }
}

fn leak(text: String) -> &'static str {
    String::leak(text)
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

mod tests {
    use super::*;

    #[test]
    fn events_reach_the_destinations_their_purposes_cover() {
        let plan = plan("t")
            .purpose("analytics")
            .destination("a", "memory")
            .destination("b", "memory")
            .event("Thing Happened", [property("URL")])
            .build();
        assert_eq!(plan.label, "t@1");
        let event = &plan.events[0];
        assert_eq!((event.id, event.name), ("thing_happened", "Thing Happened"));
        assert_eq!(event.purposes, PurposeSet::only(0));
        assert_eq!(event.destinations, DestinationSet::first(2));
        assert_eq!(plan.destinations[1].purposes, PurposeSet::only(0));
        assert_eq!(event.properties[0].json_key, "\"URL\":");
    }

    #[test]
    fn plans_are_the_same_only_when_built_alike() {
        let a = plan("t").purpose("analytics").build();
        assert!(a.same_as(plan("t").purpose("analytics").build()));
        assert!(!a.same_as(plan("t").version(2).purpose("analytics").build()));
        assert!(!a.same_as(plan("t").purpose("other").build()));
    }
}
