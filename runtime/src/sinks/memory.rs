//! Envelopes kept in memory.

use std::sync::{Arc, Mutex, PoisonError};

use crate::retention::Pruned;
use crate::sink::{Access, Envelope, Erasure, Outcome, Sink, SinkDeclaration};
use crate::time::Timestamp;

/// Keeps delivered envelopes in memory. Clones share the same store: keep one clone, give the
/// other to the builder, read what arrived after `Tracker::flush`.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    store: Arc<Mutex<Vec<Envelope>>>,
}

impl Memory {
    /// An empty store.
    pub fn new() -> Memory {
        Memory::default()
    }

    /// A copy of what was delivered so far, in delivery order.
    pub fn envelopes(&self) -> Vec<Envelope> {
        self.store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Takes what was delivered so far, leaving the store empty.
    pub fn take(&self) -> Vec<Envelope> {
        std::mem::take(&mut *self.store.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// How many envelopes were delivered.
    pub fn len(&self) -> usize {
        self.store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing was delivered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Sink for Memory {
    fn declaration(&self) -> SinkDeclaration {
        SinkDeclaration::InProcess
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.extend_from_slice(batch);
        Outcome::Delivered
    }

    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.retain(|e| {
            !distinct_ids
                .iter()
                .any(|id| **id == *e.distinct_id || e.message.links(id))
        });
        Erasure::Erased
    }

    /// Drops the envelopes tracked before `before`.
    fn prune(&mut self, before: Timestamp) -> Pruned {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let len = store.len();
        store.retain(|e| e.time_ms >= before.unix_millis());
        Pruned::Removed {
            records: (len - store.len()) as u64,
            before,
        }
    }

    /// The subjects' envelopes, as NDJSON lines.
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let records = store
            .iter()
            .filter(|e| {
                distinct_ids
                    .iter()
                    .any(|id| **id == *e.distinct_id || e.message.links(id))
            })
            .map(|e| {
                let mut line = Vec::new();
                super::write_ndjson_line(e, &mut line);
                line.pop(); // the newline
                String::from_utf8_lossy(&line).into_owned()
            })
            .collect();
        Access::Records {
            records,
            source: None,
        }
    }
}
