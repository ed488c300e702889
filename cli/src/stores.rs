//! Where each destination keeps its data and for how long: the system behind its kind, its
//! `location`, and the retention the plan asks of it (the shortest `retention_days` among its
//! purposes), with who enforces it: trackplan's prune for the stores it owns, the backend's
//! own retention setting for SaaS backends.

use trackplan_model::{Destination, DestinationKind, Plan};

/// The software or service behind a destination kind, as the docs and the Fides export name it.
pub fn system(kind: DestinationKind) -> &'static str {
    match kind {
        DestinationKind::Mixpanel => "Mixpanel",
        DestinationKind::Segment => "a Segment-compatible collector",
        DestinationKind::Posthog => "PostHog",
        DestinationKind::Amplitude => "Amplitude",
        DestinationKind::Kafka => "Apache Kafka",
        DestinationKind::Postgres => "PostgreSQL",
        DestinationKind::Ndjson => "an NDJSON file",
        DestinationKind::Stdout => "standard output",
        DestinationKind::Memory => "process memory",
        DestinationKind::Custom => "the application's own sink",
    }
}

/// The retention the plan asks of `d`: the shortest `retention_days` among its purposes
/// (a record is kept for all of them at once), `None` when none declares one.
pub fn retention_days(plan: &Plan, d: &Destination) -> Option<u32> {
    d.purposes
        .value
        .iter()
        .filter_map(|id| plan.purposes.iter().find(|p| p.id.value == id.value))
        .filter_map(|p| p.retention_days.as_ref().map(|r| r.value))
        .min()
}

/// Where the retention of a SaaS backend is set, for the kinds whose data trackplan cannot
/// prune; `None` for the stores trackplan prunes itself.
pub fn own_retention_setting(kind: DestinationKind) -> Option<&'static str> {
    match kind {
        DestinationKind::Mixpanel => {
            Some("the Mixpanel project's data retention (agreed with Mixpanel)")
        }
        DestinationKind::Segment => {
            Some("the collector's data retention (Segment: Privacy > Settings > Data Retention)")
        }
        DestinationKind::Posthog => Some("the PostHog project's data retention setting"),
        DestinationKind::Amplitude => Some("the Amplitude organization's data retention setting"),
        _ => None,
    }
}

/// Whether `e` reaches `d` by the routing rule: every purpose of the destination is among the
/// event's.
pub fn routed(e: &trackplan_model::Event, d: &Destination) -> bool {
    d.purposes
        .value
        .iter()
        .all(|p| e.purposes.value.iter().any(|q| q.value == p.value))
}

/// How the plan's retention is enforced for `d`, in a sentence.
pub fn enforcement(plan: &Plan, d: &Destination) -> String {
    let kind = d.kind.value;
    let Some(days) = retention_days(plan, d) else {
        return "no retention declared by its purposes".to_owned();
    };
    if let Some(setting) = own_retention_setting(kind) {
        return format!(
            "{days} days: trackplan cannot delete from {}; set {setting} to at most {days} days",
            system(kind)
        );
    }
    match kind {
        DestinationKind::Ndjson | DestinationKind::Postgres | DestinationKind::Memory => {
            format!("{days} days: Tracker::prune (or trackplan prune) deletes older records")
        }
        DestinationKind::Kafka => {
            format!("{days} days: the topic's retention.ms must be at most {days} days")
        }
        DestinationKind::Stdout => format!("{days} days: nothing is kept"),
        _ => format!("{days} days: Tracker::prune asks the sink to delete older records"),
    }
}

/// One note per SaaS destination whose own retention setting must match the plan, for
/// `trackplan check`.
pub fn saas_notes(plan: &Plan) -> Vec<String> {
    plan.destinations
        .iter()
        .filter_map(|d| {
            let setting = own_retention_setting(d.kind.value)?;
            let days = retention_days(plan, d)?;
            Some(format!(
                "destination `{}` ({}) keeps its own copy, which trackplan cannot prune: set {setting} to at most {days} days (the shortest retention of its purposes)",
                d.id.value,
                system(d.kind.value)
            ))
        })
        .collect()
}
