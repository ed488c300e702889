//! The Kafka record of an envelope: key, value, timestamp and headers.

use std::ops::Range;
use std::sync::Arc;

use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord};

use super::Reports;
use crate::sink::Envelope;
use crate::sinks::write_ndjson_line;

/// Header with the plan's label (`shop@3`).
pub const HEADER_PLAN: &str = "trackplan-plan";
/// Header with the plan's content hash.
pub const HEADER_PLAN_HASH: &str = "trackplan-plan-hash";
/// Header with the event's purposes, comma-separated ids in plan order.
pub const HEADER_PURPOSES: &str = "trackplan-purposes";
/// Header with the message kind (`track`, `profile`, `join`, `group`, `link`).
pub const HEADER_KIND: &str = "trackplan-kind";

/// One batch's records, prepared once and sent (again) by index.
#[derive(Default)]
pub(crate) struct Records {
    /// Every record's value, back to back.
    values: Vec<u8>,
    items: Vec<Item>,
    /// Headers by (plan hash, purposes, kind): a batch has a handful of distinct ones.
    headers: Vec<((&'static str, u64, &'static str), OwnedHeaders)>,
}

struct Item {
    key: Arc<str>,
    value: Range<usize>,
    time_ms: i64,
    headers: usize,
}

impl Records {
    /// Prepares `batch`: each envelope's value is its NDJSON record (the same bytes the
    /// NDJSON sink writes, without the newline).
    pub(crate) fn prepare(&mut self, batch: &[Envelope]) {
        self.values.clear();
        self.items.clear();
        for e in batch {
            let start = self.values.len();
            write_ndjson_line(e, &mut self.values);
            if self.values.last() == Some(&b'\n') {
                self.values.pop();
            }
            let headers = self.headers_for(e);
            self.items.push(Item {
                key: Arc::clone(&e.distinct_id),
                value: start..self.values.len(),
                time_ms: e.time_ms,
                headers,
            });
        }
    }

    /// How many records are prepared.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Hands record `i` to librdkafka, which copies it; its delivery report is filed under `i`.
    pub(crate) fn send(
        &self,
        producer: &BaseProducer<Reports>,
        topic: &str,
        i: usize,
    ) -> Result<(), KafkaError> {
        let item = &self.items[i];
        let record = BaseRecord::with_opaque_to(topic, i)
            .key(item.key.as_bytes())
            .payload(&self.values[item.value.clone()])
            .timestamp(item.time_ms)
            .headers(self.headers[item.headers].1.clone());
        producer.send(record).map_err(|(e, _)| e)
    }

    fn headers_for(&mut self, e: &Envelope) -> usize {
        let id = (e.plan.hash, e.purposes.bits(), e.message.kind());
        if let Some(i) = self.headers.iter().position(|(k, _)| *k == id) {
            return i;
        }
        let purposes: Vec<&str> = e.plan.purpose_ids(e.purposes).collect();
        let purposes = purposes.join(",");
        let h = OwnedHeaders::new_with_capacity(4)
            .insert(Header {
                key: HEADER_PLAN,
                value: Some(e.plan.label),
            })
            .insert(Header {
                key: HEADER_PLAN_HASH,
                value: Some(e.plan.hash),
            })
            .insert(Header {
                key: HEADER_PURPOSES,
                value: Some(purposes.as_str()),
            })
            .insert(Header {
                key: HEADER_KIND,
                value: Some(e.message.kind()),
            });
        self.headers.push((id, h));
        self.headers.len() - 1
    }
}
