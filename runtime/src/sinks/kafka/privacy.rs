//! The data subject's rights on a Kafka topic: tombstones for erasure, a read-back by key for
//! access. Run on the tracker's privacy thread, with a producer and consumer of their own.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};

use super::{Report, Reports};
use crate::privacy_api::PrivacyApi;
use crate::sink::{Access, Erasure};

/// What a Kafka erasure does and does not erase; the text of the reference in the
/// [`Erasure::Requested`] answer of `Kafka` starts with where the tombstones went and ends
/// with this.
///
/// A tombstone (a record with the subject's key and a null value) tells a *compacted* topic
/// (`cleanup.policy=compact`) to drop every earlier record with that key at its next
/// compaction; the tombstone itself goes after `delete.retention.ms`. A topic with
/// `cleanup.policy=delete` (Kafka's default) ignores tombstones: its records stay until
/// `retention.ms` (see [`TopicConfig`](super::TopicConfig)) expires them. Neither reaches copies
/// that consumers already read (a warehouse fed from the topic must erase on its own, e.g. by
/// consuming the tombstones) or records in a segment compaction has not reached yet.
pub const ERASURE_LIMITS: &str = "a compacted topic drops the subjects' earlier records at its \
next compaction; a topic with cleanup.policy=delete keeps them until retention.ms expires them; \
copies consumers already read are not reached";

/// How long a read-back waits for more records once it passed the partitions' ends.
const QUIET: Duration = Duration::from_secs(1);

/// The topic's privacy handle.
pub(crate) struct Privacy {
    settings: Vec<(String, String)>,
    topic: String,
    timeout: Duration,
}

impl Privacy {
    pub(crate) fn new(
        settings: Vec<(String, String)>,
        topic: String,
        timeout: Duration,
    ) -> Privacy {
        Privacy {
            settings,
            topic,
            timeout,
        }
    }

    fn base(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("client.id", "trackplan-privacy");
        for (k, v) in &self.settings {
            c.set(k, v);
        }
        c
    }

    fn tombstones(&self, ids: &[String]) -> Result<Vec<(i32, i64)>, String> {
        let mut config = self.base();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", self.timeout.as_millis().to_string());
        let producer: BaseProducer<Reports> = config
            .create_with_context(Reports::default())
            .map_err(|e| {
                format!(
                    "the Kafka producer could not be created: {:?}",
                    e.rdkafka_error_code()
                )
            })?;
        let reports = producer.context().clone();
        reports.expect(ids.len());
        for (i, id) in ids.iter().enumerate() {
            // No payload: a null value, Kafka's tombstone.
            let record: BaseRecord<'_, [u8], [u8], usize> =
                BaseRecord::with_opaque_to(&self.topic, i).key(id.as_bytes());
            if let Err((e, _)) = producer.send(record) {
                reports.file(i, super::reports::classify(&e));
            }
        }
        let started = Instant::now();
        while reports.received() < ids.len() && started.elapsed() < self.timeout * 2 {
            producer.poll(Duration::from_millis(1));
        }
        let mut at = Vec::new();
        for r in reports.snapshot() {
            match r {
                Some(Report::Acked { partition, offset }) => at.push((partition, offset)),
                Some(Report::Retryable(code) | Report::Permanent(code)) => {
                    return Err(format!("Kafka did not take a tombstone: {code:?}"));
                }
                None => return Err("Kafka did not acknowledge a tombstone in time".into()),
            }
        }
        Ok(at)
    }

    fn read_back(&self, ids: &[String]) -> Result<Vec<String>, String> {
        let mut config = self.base();
        config
            .set("group.id", "trackplan-access")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "false");
        let consumer: BaseConsumer = config.create().map_err(|e| {
            format!(
                "the Kafka consumer could not be created: {:?}",
                e.rdkafka_error_code()
            )
        })?;
        let failed = |what: &str, e: rdkafka::error::KafkaError| {
            format!("{what} failed: {:?}", e.rdkafka_error_code())
        };
        let metadata = consumer
            .fetch_metadata(Some(&self.topic), self.timeout)
            .map_err(|e| failed("reading the topic's metadata", e))?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == self.topic)
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        // Read every partition from its first record, through partitions assigned to this
        // consumer (no consumer group, so no rebalance), past its end offset as of now and
        // until no record came for a second: some Kafka-compatible brokers report an end
        // short of their last batch's records.
        let mut assignment = TopicPartitionList::new();
        let mut ends = BTreeMap::new();
        for p in partitions {
            let (low, high) = consumer
                .fetch_watermarks(&self.topic, p, self.timeout)
                .map_err(|e| failed("reading the topic's offsets", e))?;
            assignment
                .add_partition_offset(&self.topic, p, Offset::Offset(low))
                .map_err(|e| failed("assigning a partition", e))?;
            if high > low {
                ends.insert(p, high);
            }
        }
        consumer
            .assign(&assignment)
            .map_err(|e| failed("assigning the partitions", e))?;
        let wanted: HashSet<&[u8]> = ids.iter().map(|i| i.as_bytes()).collect();
        let mut records = Vec::new();
        let mut idle = Instant::now();
        loop {
            match consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    idle = Instant::now();
                    if m.key().is_some_and(|k| wanted.contains(k))
                        && let Some(value) = m.payload()
                    {
                        records.push(String::from_utf8_lossy(value).into_owned());
                    }
                    if ends
                        .get(&m.partition())
                        .is_some_and(|&end| m.offset() + 1 >= end)
                    {
                        ends.remove(&m.partition());
                    }
                }
                Some(Err(e)) => return Err(failed("reading the topic", e)),
                None if !ends.is_empty() && idle.elapsed() > self.timeout => {
                    return Err("reading the topic back timed out".into());
                }
                None if ends.is_empty() && idle.elapsed() > QUIET => break,
                None => {}
            }
        }
        Ok(records)
    }
}

impl PrivacyApi for Privacy {
    /// Writes one tombstone per subject and waits for the broker's acknowledgements.
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        match self.tombstones(distinct_ids) {
            Ok(at) => {
                let positions: Vec<String> = at.iter().map(|(p, o)| format!("{p}@{o}")).collect();
                Erasure::Requested {
                    reference: Some(format!(
                        "tombstones on topic {} at partition@offset {}: {ERASURE_LIMITS}",
                        self.topic,
                        positions.join(", ")
                    )),
                }
            }
            Err(reason) => Erasure::Failed { reason },
        }
    }

    /// The values of the subjects' records still on the topic, in partition order (a
    /// subject's records are on one partition, in the order they were written).
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        match self.read_back(distinct_ids) {
            Ok(records) => Access::Records {
                records,
                source: Some(format!("Kafka topic {}", self.topic)),
            },
            Err(reason) => Access::Failed { reason },
        }
    }
}
