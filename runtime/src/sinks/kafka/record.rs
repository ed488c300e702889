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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::message::{Message, ProfileOp};
    use crate::plan::PurposeSet;

    fn envelope(plan: &'static crate::plan::PlanInfo, message: Message, n: i64) -> Envelope {
        Envelope {
            message,
            event: "Thing Happened",
            insert_id: format!("00000000-0000-4000-8000-{n:012}"),
            time_ms: 1_700_000_000_000 + n,
            distinct_id: format!("subject-{}", n % 2).into(),
            plan,
            purposes: PurposeSet::first(2),
            properties: format!(r#"{{"n":{n},"text":"a \"quoted\"\nline"}}"#).into(),
        }
    }

    #[test]
    fn values_are_the_ndjson_sinks_records_without_the_newline() {
        let plan = fixture::plan("t")
            .purpose("analytics")
            .purpose("support")
            .destination("k", "kafka")
            .event("Thing Happened", [])
            .build();
        let batch: Vec<Envelope> = (0..3)
            .map(|n| envelope(plan, Message::TRACK, n))
            .chain([envelope(plan, Message::Profile { op: ProfileOp::Set }, 3)])
            .collect();
        let mut records = Records::default();
        records.prepare(&batch);
        assert_eq!(records.len(), 4);
        for (e, item) in batch.iter().zip(&records.items) {
            let mut line = Vec::new();
            write_ndjson_line(e, &mut line);
            assert_eq!(line.pop(), Some(b'\n'));
            assert_eq!(&records.values[item.value.clone()], &line[..]);
            assert_eq!(&*item.key, &*e.distinct_id);
            assert_eq!(item.time_ms, e.time_ms);
        }
        assert_eq!(
            std::str::from_utf8(&records.values[records.items[0].value.clone()]).ok(),
            Some(
                r#"{"type":"track","event":"Thing Happened","time":1700000000000,"insert_id":"00000000-0000-4000-8000-000000000000","distinct_id":"subject-0","plan":"t@1","purposes":["analytics","support"],"properties":{"n":0,"text":"a \"quoted\"\nline"}}"#
            )
        );
        // One set of headers per plan, purposes and kind: the track events share one.
        assert_eq!(records.headers.len(), 2);
        assert_eq!(
            records.headers.iter().map(|(k, _)| k.2).collect::<Vec<_>>(),
            ["track", "profile"]
        );
        // Preparing again starts over.
        records.prepare(&batch[..1]);
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn headers_name_the_plan_its_hash_the_purposes_and_the_kind() {
        use rdkafka::message::Headers;
        let plan = fixture::plan("t")
            .purpose("analytics")
            .purpose("support")
            .destination("k", "kafka")
            .event("Thing Happened", [])
            .build();
        let mut records = Records::default();
        records.prepare(&[envelope(plan, Message::TRACK, 0)]);
        let h = &records.headers[0].1;
        let pairs: Vec<(String, Option<Vec<u8>>)> = h
            .iter()
            .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
            .collect();
        assert_eq!(
            pairs,
            [
                (HEADER_PLAN.to_owned(), Some(b"t@1".to_vec())),
                (
                    HEADER_PLAN_HASH.to_owned(),
                    Some(plan.hash.as_bytes().to_vec())
                ),
                (
                    HEADER_PURPOSES.to_owned(),
                    Some(b"analytics,support".to_vec())
                ),
                (HEADER_KIND.to_owned(), Some(b"track".to_vec())),
            ]
        );
    }
}
