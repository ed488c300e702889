//! The topic settings a Kafka destination needs from the plan: `retention.ms` from its
//! purposes' `retention_days`.

use std::fmt;

use crate::plan::PlanInfo;

/// The settings a destination's topic should have, derived from the plan: print it, or apply
/// it with your tooling (`kafka-configs.sh --alter --add-config retention.ms=…`). `trackplan
/// docs` shows the same values for every `kafka` destination of a plan.
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// # trackplan_macros::plan!("tests/fixture/shop.toml");
/// # fn main() {
/// use trackplan::sinks::kafka::TopicConfig;
///
/// // The security log's purpose keeps data 180 days.
/// let config = TopicConfig::for_destination(&PLAN, "security_log").unwrap();
/// assert_eq!(config.retention_ms, Some(180 * 86_400_000));
/// assert_eq!(config.to_string(), "retention.ms=15552000000");
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicConfig {
    /// `retention.ms`: the shortest `retention_days` among the destination's purposes, in
    /// milliseconds (see [`trackplan_vocab::retention_days`]); `None` when none declares one,
    /// and then the broker's default applies, which the plan does not bound.
    pub retention_ms: Option<u64>,
    /// That retention in days.
    pub retention_days: Option<u32>,
}

impl TopicConfig {
    /// The settings for the plan's destination with id `destination`; `None` if the plan has
    /// no such destination.
    pub fn for_destination(plan: &PlanInfo, destination: &str) -> Option<TopicConfig> {
        let d = plan.destinations.iter().find(|d| d.id == destination)?;
        let days = trackplan_vocab::retention_days(
            d.purposes
                .iter()
                .filter_map(|i| plan.purposes.get(i))
                .map(|p| p.retention_days),
        );
        Some(TopicConfig {
            retention_ms: days.map(trackplan_vocab::retention_ms),
            retention_days: days,
        })
    }
}

/// As `kafka-configs.sh --add-config` takes it: `retention.ms=…`, or nothing when the plan
/// sets no retention.
impl fmt::Display for TopicConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.retention_ms {
            Some(ms) => write!(f, "retention.ms={ms}"),
            None => Ok(()),
        }
    }
}
