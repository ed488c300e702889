//! Test support: a sink that records what your instrumentation sends, with assertions.
//!
//! ```ignore
//! let recorder = trackplan::testing::Recorder::new();
//! let tracker = Tracker::builder(&PLAN)
//!     .key(test_key)
//!     .sink(destination::Warehouse, recorder.clone())
//!     .skip(destination::Mixpanel)
//!     .build()?;
//! checkout(&tracker, &cart);           // the code under test
//! tracker.flush()?;
//! let event = recorder.assert_tracked("Checkout Completed");
//! assert_eq!(event.property("Currency"), Some(&serde_json::json!("EUR")));
//! recorder.assert_not_tracked("Login Failed");
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use crate::sink::{Access, Envelope, Erasure, Outcome, Sink};

/// One event as a destination received it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Recorded {
    /// Wire name.
    pub event: String,
    /// Milliseconds since the epoch.
    pub time_ms: i64,
    /// Insert id.
    pub insert_id: String,
    /// Pseudonymous distinct id.
    pub distinct_id: String,
    /// `name@version` of the plan.
    pub plan: String,
    /// Purpose ids of the event.
    pub purposes: Vec<String>,
    /// The properties exactly as sent (transformed), parsed.
    pub properties: serde_json::Value,
}

impl Recorded {
    fn from_envelope(e: &Envelope) -> Recorded {
        Recorded {
            event: e.event.to_owned(),
            time_ms: e.time_ms,
            insert_id: e.insert_id.clone(),
            distinct_id: e.distinct_id.to_string(),
            plan: e.plan.label.to_owned(),
            purposes: e.plan.purpose_ids(e.purposes).map(str::to_owned).collect(),
            // The runtime only produces valid JSON objects; `Null` would show a bug loudly.
            properties: serde_json::from_str(&e.properties).unwrap_or(serde_json::Value::Null),
        }
    }

    /// A property by wire name.
    pub fn property(&self, name: &str) -> Option<&serde_json::Value> {
        self.properties.get(name)
    }
}

/// An in-memory sink with assertions. Clones share the record: give one to the builder, assert
/// on another after `Tracker::flush`.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    events: Arc<Mutex<Vec<Recorded>>>,
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Everything received so far, in delivery order.
    pub fn events(&self) -> Vec<Recorded> {
        self.lock().clone()
    }

    /// The events with wire name `event`.
    pub fn named(&self, event: &str) -> Vec<Recorded> {
        self.lock()
            .iter()
            .filter(|r| r.event == event)
            .cloned()
            .collect()
    }

    /// How many events with wire name `event` were received.
    pub fn count(&self, event: &str) -> usize {
        self.lock().iter().filter(|r| r.event == event).count()
    }

    /// Forgets everything recorded.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Panics unless an event named `event` was received; returns the last one.
    #[track_caller]
    pub fn assert_tracked(&self, event: &str) -> Recorded {
        match self.named(event).pop() {
            Some(r) => r,
            None => panic!(
                "expected event `{event}` to be tracked; received: {}",
                self.names()
            ),
        }
    }

    /// Panics if an event named `event` was received.
    #[track_caller]
    pub fn assert_not_tracked(&self, event: &str) {
        let n = self.count(event);
        assert!(
            n == 0,
            "expected event `{event}` not to be tracked, but it was, {n} time(s)"
        );
    }

    /// Panics unless exactly `times` events named `event` were received.
    #[track_caller]
    pub fn assert_tracked_times(&self, event: &str, times: usize) {
        let n = self.count(event);
        assert!(
            n == times,
            "expected event `{event}` {times} time(s), got {n}; received: {}",
            self.names()
        );
    }

    /// Panics unless the last `event` has property `name` equal to `value`.
    #[track_caller]
    pub fn assert_property(&self, event: &str, name: &str, value: serde_json::Value) {
        let r = self.assert_tracked(event);
        let got = r.property(name);
        assert!(
            got == Some(&value),
            "expected property `{name}` of `{event}` to be {value}, got {}",
            got.map_or("nothing".to_owned(), ToString::to_string)
        );
    }

    /// Panics if the last `event` has property `name`.
    #[track_caller]
    pub fn assert_no_property(&self, event: &str, name: &str) {
        let r = self.assert_tracked(event);
        assert!(
            r.property(name).is_none(),
            "expected `{event}` without property `{name}`, but it has one"
        );
    }

    fn names(&self) -> String {
        let names: Vec<String> = self
            .lock()
            .iter()
            .map(|r| format!("`{}`", r.event))
            .collect();
        if names.is_empty() {
            "nothing".into()
        } else {
            names.join(", ")
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Recorded>> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Sink for Recorder {
    fn declaration(&self) -> crate::SinkDeclaration {
        crate::SinkDeclaration::InProcess
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        self.lock()
            .extend(batch.iter().map(Recorded::from_envelope));
        Outcome::Delivered
    }

    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        self.lock()
            .retain(|r| !distinct_ids.contains(&r.distinct_id));
        Erasure::Erased
    }

    /// The subjects' events as JSON objects of the [`Recorded`] fields.
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        let records = self
            .lock()
            .iter()
            .filter(|r| distinct_ids.contains(&r.distinct_id))
            .map(|r| {
                serde_json::json!({
                    "event": r.event,
                    "time": r.time_ms,
                    "insert_id": r.insert_id,
                    "distinct_id": r.distinct_id,
                    "plan": r.plan,
                    "purposes": r.purposes,
                    "properties": r.properties,
                })
                .to_string()
            })
            .collect();
        Access::Records {
            records,
            source: None,
        }
    }
}
