//! The settings each `kafka` destination's topic needs from the plan: `retention.ms` from its
//! purposes' `retention_days`. `trackplan check` prints them as notes and `trackplan docs`
//! lists them under the destinations; the runtime's `sinks::kafka::TopicConfig` computes the
//! same from the compiled plan.

use trackplan_model::{DestinationKind, Plan};

/// One `kafka` destination's topic setting.
pub struct TopicRetention<'p> {
    /// The destination's id.
    pub destination: &'p str,
    /// The shortest `retention_days` of its purposes, when one declares it.
    pub days: Option<u32>,
}

impl TopicRetention<'_> {
    /// `retention.ms=…` as `kafka-configs.sh --add-config` takes it.
    pub fn setting(&self) -> Option<String> {
        self.days
            .map(|d| format!("retention.ms={}", trackplan_vocab::retention_ms(d)))
    }

    /// The note `check` prints.
    pub fn note(&self) -> String {
        match (self.setting(), self.days) {
            (Some(setting), Some(days)) => format!(
                "note: destination `{}` (Apache Kafka): set {setting} on its topic ({days} days, \
                 the shortest retention_days of its purposes)",
                self.destination
            ),
            _ => format!(
                "note: destination `{}` (Apache Kafka): none of its purposes declares \
                 retention_days, so the plan sets no retention.ms for its topic (the broker's \
                 default applies)",
                self.destination
            ),
        }
    }
}

/// The plan's `kafka` destinations, in plan order, with their topic retention.
pub fn kafka_topics(plan: &Plan) -> Vec<TopicRetention<'_>> {
    plan.destinations
        .iter()
        .filter(|d| d.kind.value == DestinationKind::Kafka)
        .map(|d| TopicRetention {
            destination: &d.id.value,
            days: plan.retention_days(d),
        })
        .collect()
}
