//! Records on a Kafka topic ([`Kafka`]), through librdkafka's idempotent producer; the
//! record's header names, what an erasure reaches ([`ERASURE_LIMITS`]) and the topic settings
//! the plan asks for ([`TopicConfig`]).

mod privacy;
mod record;
mod reports;
mod retention;

use std::fmt;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, Producer, PurgeConfig};

use crate::privacy_api::PrivacyApi;
use crate::sink::{
    Access, BatchLimits, Envelope, Erasure, Outcome, RetryPolicy, Sink, SinkDeclaration,
};

pub use privacy::ERASURE_LIMITS;
use record::Records;
pub use record::{HEADER_KIND, HEADER_PLAN, HEADER_PLAN_HASH, HEADER_PURPOSES};
pub(crate) use reports::{Report, Reports};
pub use retention::TopicConfig;

/// A Kafka topic, written by librdkafka's idempotent producer (`enable.idempotence=true`,
/// `acks=all`): one record per envelope, the subject's pseudonymous distinct id as its key
/// (so a subject's records stay in order on one partition), the NDJSON record as its value
/// and the plan's label, hash and the event's purposes in its headers (see `docs/kafka.md`
/// for the exact bytes).
///
/// A batch counts as delivered only when every record's delivery report is in: `deliver`
/// sends the batch and polls the producer until the broker acknowledged each record (or
/// librdkafka gave up on it after [`Kafka::delivery_timeout`]). While the broker restarts or
/// refuses connections, librdkafka keeps the records and retries; a batch whose records all
/// time out is retried by the worker under [`Kafka::retry_policy`], one whose records partly
/// timed out is sent again (those records only) within the same call.
///
/// ```no_run
/// # extern crate trackplan_runtime as trackplan;
/// # trackplan_macros::plan!("tests/fixture/shop.toml");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use trackplan::sinks::Kafka;
///
/// let tracker = trackplan::Tracker::builder(&PLAN)
///     .key(trackplan::Key::from_hex(&"07".repeat(32))?)
///     .sink(destination::SupportDesk, Kafka::new("127.0.0.1:9092", "support-events")
///         .set("security.protocol", "plaintext"))
/// #   .skip(destination::Warehouse).skip(destination::Mixpanel).skip(destination::Ads)
/// #   .skip(destination::SecurityLog)
///     .build()?;
/// # Ok(()) }
/// ```
pub struct Kafka {
    topic: String,
    settings: Vec<(String, String)>,
    delivery_timeout: Duration,
    retry: RetryPolicy,
    limits: BatchLimits,
    producer: Option<BaseProducer<Reports>>,
    records: Records,
}

/// Settings the sink owns: they make the delivery guarantee, so [`Kafka::set`] refuses them.
const OWNED: &[&str] = &[
    "bootstrap.servers",
    "enable.idempotence",
    "acks",
    "request.required.acks",
    "message.timeout.ms",
    "delivery.timeout.ms",
];

impl Kafka {
    /// A sink producing to `topic` on the cluster reached through `bootstrap_servers`
    /// (`host:port[,host:port…]`). Nothing connects until the first batch.
    pub fn new(bootstrap_servers: impl Into<String>, topic: impl Into<String>) -> Kafka {
        Kafka {
            topic: topic.into(),
            settings: vec![
                ("bootstrap.servers".into(), bootstrap_servers.into()),
                // The worker already batches, and `deliver` waits for the whole batch: a
                // longer linger (librdkafka's default is 5 ms) only adds to every batch.
                ("linger.ms".into(), "1".into()),
            ],
            delivery_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            limits: BatchLimits {
                max_events: 5000,
                max_bytes: 4 << 20,
                max_delay: Duration::from_millis(100),
            },
            producer: None,
            records: Records::default(),
        }
    }

    /// Sets any other librdkafka producer property (`security.protocol`, `sasl.username`,
    /// `compression.codec`, `linger.ms`, …; see librdkafka's `CONFIGURATION.md`). Values are
    /// never printed, so credentials may go here. The properties that make the delivery
    /// guarantee (`bootstrap.servers`, `enable.idempotence`, `acks`, `message.timeout.ms`)
    /// are the sink's own: setting one of them here is ignored with a warning.
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Kafka {
        let key = key.into();
        if OWNED.contains(&key.as_str()) {
            tracing::warn!(
                property = key.as_str(),
                "trackplan: Kafka::set ignores a property the sink sets itself"
            );
            return self;
        }
        self.settings.retain(|(k, _)| *k != key);
        self.settings.push((key, value.into()));
        self
    }

    /// How long librdkafka keeps trying to deliver a record before it reports it failed
    /// (`message.timeout.ms`; default 30 s). A batch whose records all time out is then
    /// retried under [`Kafka::retry_policy`], so an outage longer than this loses nothing.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Kafka {
        self.delivery_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How the worker retries a batch that could not be delivered (default: 1 s doubling to
    /// 60 s, 8 retries).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Kafka {
        self.retry = policy;
        self
    }

    /// How the worker batches (default: up to 5000 events, 4 MiB or 100 ms).
    pub fn batch_limits(mut self, limits: BatchLimits) -> Kafka {
        self.limits = limits;
        self
    }

    /// The topic records go to.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The librdkafka configuration: the application's settings, then the sink's own.
    fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("client.id", "trackplan");
        for (k, v) in &self.settings {
            c.set(k, v);
        }
        c.set("enable.idempotence", "true").set("acks", "all").set(
            "message.timeout.ms",
            self.delivery_timeout
                .as_millis()
                .min(i32::MAX as u128)
                .to_string(),
        );
        c
    }

    /// Creates the producer if there is none; `Err` says why it could not be.
    fn ensure_producer(&mut self) -> Result<(), String> {
        if self.producer.is_none() {
            let producer = self
                .config()
                .create_with_context(Reports::default())
                .map_err(|e| creation_failed(&e, &self.settings))?;
            self.producer = Some(producer);
        }
        Ok(())
    }

    /// Sends the `pending` records of the prepared batch, polls until each has a report
    /// and returns them by index (`None`: not sent this round, or no report in time).
    fn send_and_wait(&mut self, pending: &[usize]) -> Result<Vec<Option<Report>>, String> {
        self.ensure_producer()?;
        let deadline = self.wait_limit();
        let Some(producer) = &self.producer else {
            return Err("no Kafka producer".into());
        };
        let reports = producer.context();
        reports.expect(self.records.len());
        for &i in pending {
            loop {
                match self.records.send(producer, &self.topic, i) {
                    Ok(()) => break,
                    Err(KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)) => {
                        // librdkafka's queue is full: serve reports until there is room.
                        producer.poll(Duration::from_millis(5));
                    }
                    Err(e) => {
                        reports.file(i, reports::classify(&e));
                        break;
                    }
                }
            }
        }
        let started = Instant::now();
        while reports.received() < pending.len() {
            // `poll` serves events until its timeout has passed, not only until the first:
            // short calls, so the batch returns within a millisecond of its last report.
            producer.poll(Duration::from_millis(1));
            if started.elapsed() > deadline {
                // librdkafka reports every record by its message timeout; this only guards
                // against a report that never comes.
                producer.purge(PurgeConfig::default().queue().inflight());
                producer.poll(Duration::from_millis(100));
                break;
            }
        }
        let snapshot = reports.snapshot();
        if let Some((code, _)) = producer.client().fatal_error() {
            // An idempotent producer that lost its sequence (e.g. the broker lost its state)
            // cannot go on; the next attempt starts a new one, with a new producer id.
            tracing::warn!(
                error = ?code,
                "trackplan: the Kafka producer failed fatally; starting a new one"
            );
            self.producer = None;
        } else if snapshot
            .iter()
            .any(|r| matches!(r, Some(Report::Retryable(_))))
        {
            // Records that timed out leave an idempotent producer to re-establish its
            // sequence with the broker, which a restarted broker that lost its state may
            // never complete (Tansu 0.6 does not): the records sent again go through a new
            // producer, with a new producer id. None of its records is outstanding now.
            tracing::debug!("trackplan: records timed out; starting a new Kafka producer");
            self.producer = None;
        }
        Ok(snapshot)
    }

    /// Longest `send_and_wait` waits for reports: the message timeout plus slack.
    fn wait_limit(&self) -> Duration {
        self.delivery_timeout + Duration::from_secs(10)
    }
}

impl fmt::Debug for Kafka {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Setting names only: values may be credentials.
        f.debug_struct("Kafka")
            .field("topic", &self.topic)
            .field(
                "settings",
                &self
                    .settings
                    .iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("delivery_timeout", &self.delivery_timeout)
            .finish_non_exhaustive()
    }
}

/// Why the producer could not be created, naming the settings but none of their values
/// (librdkafka's message may quote a value, which may be a password).
fn creation_failed(e: &KafkaError, settings: &[(String, String)]) -> String {
    let names: Vec<&str> = settings.iter().map(|(k, _)| k.as_str()).collect();
    let code = e
        .rdkafka_error_code()
        .map_or_else(|| "invalid configuration".to_owned(), |c| format!("{c:?}"));
    format!(
        "the Kafka producer could not be created ({code}); check the settings {}",
        names.join(", ")
    )
}

impl Sink for Kafka {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::first_party("kafka")
    }

    fn limits(&self) -> BatchLimits {
        self.limits
    }

    fn retry_policy(&self) -> RetryPolicy {
        self.retry
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        self.records.prepare(batch);
        let mut outcomes: Vec<Option<Report>> = vec![None; batch.len()];
        let mut pending: Vec<usize> = (0..batch.len()).collect();
        let mut resends = 0;
        loop {
            let round = match self.send_and_wait(&pending) {
                Ok(round) => round,
                Err(reason) => return Outcome::Failed { reason },
            };
            for &i in &pending {
                outcomes[i] = round[i];
            }
            let mut acked = 0;
            let mut failed = Vec::new();
            let mut retry = Vec::new();
            let mut last = None;
            for (i, r) in outcomes.iter().enumerate() {
                match r {
                    Some(Report::Acked { .. }) => acked += 1,
                    Some(Report::Permanent(code)) => {
                        failed.push((i, format!("Kafka refused the record: {code:?}")))
                    }
                    Some(Report::Retryable(code)) => {
                        retry.push(i);
                        last = Some(format!("{code:?}"));
                    }
                    None => {
                        retry.push(i);
                        last.get_or_insert_with(|| "no delivery report in time".to_owned());
                    }
                }
            }
            if retry.is_empty() {
                return if failed.is_empty() {
                    Outcome::Delivered
                } else {
                    Outcome::Partial { failed }
                };
            }
            let reason = format!(
                "Kafka did not acknowledge {} record(s): {}",
                retry.len(),
                last.unwrap_or_default()
            );
            if acked == 0 && failed.is_empty() {
                // Nothing of the batch is on the topic: the worker retries it as a whole.
                return Outcome::Retry {
                    reason,
                    after: None,
                };
            }
            if resends >= self.retry.max_retries {
                // Some records of the batch are on the topic, so the worker must not retry
                // the whole batch (it would write them twice): the others were sent again
                // here under the same retry policy, and those still unacknowledged fail,
                // counted and logged.
                failed.extend(retry.into_iter().map(|i| (i, reason.clone())));
                failed.sort_unstable_by_key(|(i, _)| *i);
                return Outcome::Partial { failed };
            }
            resends += 1;
            std::thread::sleep(self.retry.backoff(resends));
            pending = retry;
        }
    }

    /// Every batch already waited for its delivery reports; this also waits for anything
    /// librdkafka still holds (nothing, unless a batch was abandoned at its deadline).
    fn flush(&mut self) -> std::io::Result<()> {
        match &self.producer {
            Some(p) => p
                .flush(self.wait_limit())
                .map_err(|e| std::io::Error::other(format!("Kafka flush: {e}"))),
            None => Ok(()),
        }
    }

    /// Writes a tombstone per subject; see [`ERASURE_LIMITS`] for what that erases.
    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        privacy::Privacy::new(
            self.settings.clone(),
            self.topic.clone(),
            self.delivery_timeout,
        )
        .erase(distinct_ids)
    }

    /// Reads the subjects' records back from the topic.
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        privacy::Privacy::new(
            self.settings.clone(),
            self.topic.clone(),
            self.delivery_timeout,
        )
        .retrieve(distinct_ids)
    }

    /// Tombstones and read-backs run on a thread of their own, with their own producer and
    /// consumer: reading a topic back takes as long as the topic is big.
    fn privacy(&mut self) -> Option<Box<dyn PrivacyApi>> {
        Some(Box::new(privacy::Privacy::new(
            self.settings.clone(),
            self.topic.clone(),
            self.delivery_timeout,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn a_kafka_sink_fits_kafka_and_custom_destinations_of_either_party_only() {
        let d = Kafka::new("127.0.0.1:9092", "events").declaration();
        assert_eq!(d, SinkDeclaration::first_party("kafka"));
        assert!(d.fits("kafka", false) && d.fits("kafka", true) && d.fits("custom", false));
        assert!(!d.fits("ndjson", false) && !d.fits("postgres", false));
    }

    #[test]
    fn debug_names_settings_but_never_their_values() {
        let k = Kafka::new("broker.internal:9092", "events")
            .set("sasl.username", "app")
            .set("sasl.password", "hunter2-secret")
            .set("acks", "1");
        let shown = format!("{k:?}");
        assert!(
            shown.contains("sasl.password") && shown.contains("events"),
            "{shown}"
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("broker.internal"),
            "{shown}"
        );
        // The sink's own guarantee stays: `acks` was ignored.
        let config = k.config();
        assert_eq!(config.get("acks"), Some("all"));
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        assert_eq!(config.get("message.timeout.ms"), Some("30000"));
        assert_eq!(
            config.get("bootstrap.servers"),
            Some("broker.internal:9092")
        );
    }

    #[test]
    fn a_producer_that_cannot_be_created_fails_the_batch_without_quoting_values() {
        let plan = fixture::plan("t")
            .purpose("analytics")
            .destination("k", "kafka")
            .event("Thing Happened", [])
            .build();
        let mut k = Kafka::new("127.0.0.1:9", "events").set("sasl.password.bogus", "s3cret-value");
        let e = Envelope {
            message: crate::Message::TRACK,
            event: "Thing Happened",
            insert_id: "00000000-0000-4000-8000-000000000001".into(),
            time_ms: 0,
            distinct_id: "d".into(),
            plan,
            purposes: crate::plan::PurposeSet::first(1),
            properties: "{}".into(),
        };
        match k.deliver(&[e]) {
            Outcome::Failed { reason } => {
                assert!(reason.contains("could not be created"), "{reason}");
                assert!(!reason.contains("s3cret"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn topic_config_takes_the_shortest_retention_of_the_destinations_purposes() {
        let plan = fixture::plan("t")
            .purpose("analytics")
            .destination("k", "kafka")
            .build();
        // The test plans declare no retention: nothing to set.
        let c = TopicConfig::for_destination(plan, "k");
        assert_eq!(
            c.map(|c| (c.retention_ms, c.to_string())),
            Some((None, String::new()))
        );
        assert_eq!(TopicConfig::for_destination(plan, "nope"), None);
    }
}
