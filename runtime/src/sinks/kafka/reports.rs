//! Delivery reports: what librdkafka says happened to each record of a batch, collected on the
//! worker's thread while it polls the producer, and how each error is classified.

use std::sync::Mutex;

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::producer::ProducerContext;

/// What became of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Report {
    /// The broker acknowledged it (`acks=all`: every in-sync replica has it), at this partition
    /// and offset.
    Acked { partition: i32, offset: i64 },
    /// It failed; trying again may succeed.
    Retryable(RDKafkaErrorCode),
    /// It failed; trying again will not help.
    Permanent(RDKafkaErrorCode),
}

/// The producer's context: it files each delivery report under the record's index in the
/// batch (the record's delivery opaque) and forwards librdkafka's logs to `tracing`.
///
/// The callbacks run inside `BaseProducer::poll`, which only the worker's thread calls, so the
/// mutex is never contended; it is there because librdkafka requires a `Sync` context.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    reports: Vec<Option<Report>>,
    received: usize,
}

impl Reports {
    /// Forgets the previous batch's reports and expects `n` records.
    pub(crate) fn expect(&self, n: usize) {
        let mut s = self.lock();
        s.reports.clear();
        s.reports.resize(n, None);
        s.received = 0;
    }

    /// Files a report for record `i` (also used for a record librdkafka refused to queue).
    pub(crate) fn file(&self, i: usize, report: Report) {
        let s = &mut *self.lock();
        if let Some(slot) = s.reports.get_mut(i) {
            if slot.is_none() {
                s.received += 1;
            }
            *slot = Some(report);
        }
    }

    /// How many of the expected records have a report.
    pub(crate) fn received(&self) -> usize {
        self.lock().received
    }

    /// The reports, by index (`None`: still outstanding).
    pub(crate) fn snapshot(&self) -> Vec<Option<Report>> {
        self.lock().reports.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        // A panic while holding this lock leaves plain data behind; the reports stay usable.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ClientContext for Reports {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        // librdkafka's logs name brokers, topics and error codes, never record contents.
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::warn!(facility = fac, "trackplan: librdkafka: {log_message}")
            }
            _ => tracing::debug!(facility = fac, "trackplan: librdkafka: {log_message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // Connection losses are reported here and retried by librdkafka; the records they
        // affect get their own delivery reports.
        tracing::debug!(error = %error, "trackplan: Kafka client error: {reason}");
    }
}

impl ProducerContext for Reports {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        let report = match result {
            Ok(m) => Report::Acked {
                partition: rdkafka::Message::partition(m),
                offset: rdkafka::Message::offset(m),
            },
            Err((e, _)) => classify(e),
        };
        self.file(index, report);
    }
}

/// Classifies a produce error: permanent when the record or the client's rights are at fault
/// (sending the same record again gets the same answer), retryable otherwise (connection
/// losses, timeouts, leader changes, a broker that restarted and lost the producer's state).
pub(crate) fn classify(e: &KafkaError) -> Report {
    let code = e.rdkafka_error_code().unwrap_or(RDKafkaErrorCode::Fail);
    if permanent(code) {
        Report::Permanent(code)
    } else {
        Report::Retryable(code)
    }
}

/// Errors that sending the same record again cannot cure.
pub(crate) fn permanent(code: RDKafkaErrorCode) -> bool {
    use RDKafkaErrorCode as C;
    matches!(
        code,
        C::MessageSizeTooLarge
            | C::InvalidMessageSize
            | C::InvalidMessage
            | C::InvalidRecord
            | C::InvalidTopic
            | C::TopicAuthorizationFailed
            | C::ClusterAuthorizationFailed
            | C::SaslAuthenticationFailed
            | C::Authentication
            | C::PolicyViolation
            | C::UnsupportedForMessageFormat
            | C::InvalidArgument
            | C::BadMessage
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_losses_and_timeouts_are_retried_oversized_records_are_not() {
        use RDKafkaErrorCode as C;
        for code in [
            C::MessageTimedOut,
            C::BrokerTransportFailure,
            C::AllBrokersDown,
            C::NotLeaderForPartition,
            C::UnknownTopicOrPartition,
            C::UnknownProducerId,
            C::OutOfOrderSequenceNumber,
            C::RequestTimedOut,
            C::Fatal,
        ] {
            assert!(!permanent(code), "{code:?} should be retried");
        }
        for code in [
            C::MessageSizeTooLarge,
            C::TopicAuthorizationFailed,
            C::InvalidRecord,
        ] {
            assert!(permanent(code), "{code:?} should fail for good");
        }
    }

    #[test]
    fn reports_are_filed_by_index_once_per_batch() {
        let r = Reports::default();
        r.expect(3);
        r.file(
            0,
            Report::Acked {
                partition: 0,
                offset: 7,
            },
        );
        r.file(2, Report::Retryable(RDKafkaErrorCode::MessageTimedOut));
        r.file(2, Report::Retryable(RDKafkaErrorCode::MessageTimedOut));
        r.file(
            9,
            Report::Acked {
                partition: 0,
                offset: 8,
            },
        ); // not of this batch: ignored
        assert_eq!(r.received(), 2);
        assert_eq!(
            r.snapshot(),
            [
                Some(Report::Acked {
                    partition: 0,
                    offset: 7
                }),
                None,
                Some(Report::Retryable(RDKafkaErrorCode::MessageTimedOut))
            ]
        );
        r.expect(1);
        assert_eq!((r.received(), r.snapshot()), (0, vec![None]));
    }
}
