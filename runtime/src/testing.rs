//! Test support: a sink that records what your instrumentation sends, with assertions.
//!
//! ```
//! # extern crate trackplan_runtime as trackplan;
//! # trackplan_macros::plan!("tests/fixture/shop.toml");
//! # fn checkout(tracker: &trackplan::Tracker) {
//! #     tracker
//! #         .subject("user-42", trackplan::Consent::none().grant(purpose::ProductAnalytics))
//! #         .track(CheckoutCompleted {
//! #             revenue: 42.5,
//! #             currency: Currency::Eur,
//! #             item_count: 2,
//! #             product_ids: vec!["p-1".into(), "p-2".into()],
//! #             coupon_codes: None,
//! #             ordered_at: trackplan::Timestamp::from_unix_millis(1_764_547_200_000),
//! #         });
//! # }
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let test_key = trackplan::Key::from_hex(&"07".repeat(32))?;
//! let recorder = trackplan::testing::Recorder::for_plan(&PLAN);
//! let tracker = trackplan::Tracker::builder(&PLAN)
//!     .key(test_key)
//!     .record_all(&recorder) // every destination without a sink of its own
//!     .build()?;
//! checkout(&tracker); // the code under test
//! tracker.flush()?;
//! let event = recorder.assert_event::<CheckoutCompleted>();
//! assert_eq!(event.property("Currency"), Some(&"EUR".into()));
//! recorder.assert_no_event::<LoginFailed>();
//! # Ok(()) }
//! ```
//!
//! The typed assertions (`assert_event::<E>()`) name an event type, so a typo does not
//! compile. The ones that take a wire name (`assert_tracked("Login Failed")`) panic on a name
//! the plan does not have, once the recorder knows the plan: from [`Recorder::for_plan`], or
//! from the first event it receives. A misspelt `assert_not_tracked` can then no longer pass.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::builder::TrackerBuilder;
use crate::event::Event;
use crate::message::{Message, ProfileOp};
use crate::plan::PlanInfo;
use crate::sink::{Access, Envelope, Erasure, Outcome, Sink};

/// One event (or profile update, group membership, group update, identity link) as a
/// destination received it.
///
/// Its `Debug` shows the kind, event, plan, purposes and property *names*: the values (and
/// the distinct id, group ids, linked ids) are what a destination received, which can be
/// personal data, and `{:?}` ends up in logs and CI output.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Recorded {
    /// What it was: an event (`Message::Track`), a profile update, … (see [`Message`]).
    pub message: Message,
    /// Wire name; for other messages `$profile`, `$group`, `$join` or `$link`.
    pub event: String,
    /// Milliseconds since the epoch.
    pub time_ms: i64,
    /// Insert id.
    pub insert_id: String,
    /// Pseudonymous distinct id.
    pub distinct_id: String,
    /// `name@version` of the plan.
    pub plan: String,
    /// The destination that received it, when the recorder was attached with
    /// [`TrackerBuilder::record_all`]; `None` for a recorder given to one `.sink(…)`.
    pub destination: Option<&'static str>,
    /// Purpose ids of the event.
    pub purposes: Vec<String>,
    /// The properties exactly as sent (transformed), parsed: for a profile or group update
    /// its traits (for `unset`, an array of their names); `{}` for a membership or link.
    pub properties: serde_json::Value,
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .properties
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let op = match &self.message {
            Message::Profile { op } | Message::Group { op, .. } => Some(op.key()),
            _ => None,
        };
        f.debug_struct("Recorded")
            .field("kind", &self.message.kind())
            .field("op", &op)
            .field("event", &self.event)
            .field("time_ms", &self.time_ms)
            .field("insert_id", &self.insert_id)
            .field("distinct_id", &format_args!("[redacted]"))
            .field("plan", &self.plan)
            .field("destination", &self.destination)
            .field("purposes", &self.purposes)
            .field("properties", &names)
            .finish()
    }
}

impl Recorded {
    fn from_envelope(e: &Envelope, destination: Option<&'static str>) -> Recorded {
        Recorded {
            destination,
            message: e.message.clone(),
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

    /// A property (or, for an update, a trait) by wire name.
    pub fn property(&self, name: &str) -> Option<&serde_json::Value> {
        self.properties.get(name)
    }

    /// The message kind: `track`, `profile`, `join`, `group` or `link`.
    pub fn kind(&self) -> &'static str {
        self.message.kind()
    }
}

/// An in-memory sink with assertions. Clones share the record: give one to the builder, assert
/// on another after `Tracker::flush`.
///
/// Its `Debug` shows how many events of each name it holds, never their properties.
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// # trackplan_macros::plan!("tests/fixture/shop.toml");
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use trackplan::testing::Recorder;
/// use trackplan::{Consent, Key, Tracker};
///
/// // One recorder stands in for every destination of the plan.
/// let recorder = Recorder::for_plan(&PLAN);
/// let tracker = Tracker::builder(&PLAN)
///     .key(Key::from_hex(&"07".repeat(32))?)
///     .record_all(&recorder)
///     .build()?;
///
/// let visitor = tracker.subject("user-42", Consent::none().grant(purpose::ProductAnalytics));
/// visitor.track(PageViewed {
///     url: "https://shop.example/cart?coupon=X1".into(),
///     ip_address: trackplan::Personal::new("203.0.113.9".into()),
/// });
/// tracker.flush()?;
///
/// // Typed: a misspelt event is a compile error, not an assertion that passes.
/// let sent = recorder.assert_event::<PageViewed>();
/// assert_eq!(sent.property("URL"), Some(&"https://shop.example/cart".into()));
/// assert_eq!(sent.property("IP Address"), Some(&"203.0.113.0".into()));
/// // No advertising consent: the event for the ad network was never built.
/// recorder.assert_no_event::<ProductViewed>();
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Recorder {
    events: Arc<Mutex<Vec<Recorded>>>,
    /// The plan, once known: wire names given to the string assertions must be its events'.
    plan: Arc<OnceLock<&'static PlanInfo>>,
    /// The destination this clone is attached to (`record_all`).
    destination: Option<&'static str>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let events = self.lock();
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for r in events.iter() {
            match counts.iter_mut().find(|(name, _)| *name == r.event) {
                Some((_, n)) => *n += 1,
                None => counts.push((&r.event, 1)),
            }
        }
        f.debug_struct("Recorder")
            .field("events", &events.len())
            .field("by_name", &counts)
            .finish()
    }
}

impl Recorder {
    /// An empty recorder. It learns the plan from the first event it receives; until then the
    /// string assertions cannot check the names they are given ([`Recorder::for_plan`] can).
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// An empty recorder for `plan`: the string assertions panic on a wire name that is not
    /// one of the plan's events, from the start.
    pub fn for_plan(plan: &'static PlanInfo) -> Recorder {
        let recorder = Recorder::default();
        let _ = recorder.plan.set(plan);
        recorder
    }

    /// The events of type `E` received so far (by wire name and plan), in delivery order.
    pub fn events_of<E: Event>(&self) -> Vec<Recorded> {
        self.lock()
            .iter()
            .filter(|r| is_event::<E>(r))
            .cloned()
            .collect()
    }

    /// Panics unless an event of type `E` was received; returns the last one.
    #[track_caller]
    pub fn assert_event<E: Event>(&self) -> Recorded {
        match self.events_of::<E>().pop() {
            Some(r) => r,
            None => panic!(
                "expected event `{}` to be tracked; received: {}",
                E::INFO.name,
                self.names()
            ),
        }
    }

    /// Panics if an event of type `E` was received.
    #[track_caller]
    pub fn assert_no_event<E: Event>(&self) {
        let n = self.events_of::<E>().len();
        assert!(
            n == 0,
            "expected event `{}` not to be tracked, but it was, {n} time(s)",
            E::INFO.name
        );
    }

    /// Panics unless exactly `times` events of type `E` were received (once per destination
    /// a recorder attached with `record_all` stands for).
    #[track_caller]
    pub fn assert_event_times<E: Event>(&self, times: usize) {
        let n = self.events_of::<E>().len();
        assert!(
            n == times,
            "expected event `{}` {times} time(s), got {n}; received: {}",
            E::INFO.name,
            self.names()
        );
    }

    /// Panics when the recorder knows its plan and `event` is not the wire name of one of
    /// its events.
    #[track_caller]
    fn check_name(&self, event: &str) {
        let Some(plan) = self.plan.get() else {
            return;
        };
        if plan.events.iter().any(|e| e.name == event) {
            return;
        }
        let closest = plan
            .events
            .iter()
            .map(|e| (edit_distance(event, e.name), e.name))
            .min()
            .filter(|(d, name)| *d <= name.len().max(event.len()) / 3 + 1);
        match closest {
            Some((_, name)) => panic!(
                "plan {} has no event named `{event}`; did you mean `{name}`?",
                plan.label
            ),
            None => panic!(
                "plan {} has no event named `{event}` (assertions take wire names)",
                plan.label
            ),
        }
    }

    /// Everything received so far (events and the other messages), in delivery order.
    pub fn events(&self) -> Vec<Recorded> {
        self.lock().clone()
    }

    /// The messages of kind `kind` (`"track"`, `"profile"`, `"join"`, `"group"`, `"link"`)
    /// received so far, in delivery order.
    pub fn of_kind(&self, kind: &str) -> Vec<Recorded> {
        self.lock()
            .iter()
            .filter(|r| r.kind() == kind)
            .cloned()
            .collect()
    }

    /// The profile updates received so far, in delivery order.
    pub fn profile_updates(&self) -> Vec<Recorded> {
        self.of_kind("profile")
    }

    /// Panics unless a profile update with operation `op` set trait `name` (its wire name) to
    /// `value`, as sent (transformed); returns the last such update.
    #[track_caller]
    pub fn assert_trait(&self, op: ProfileOp, name: &str, value: serde_json::Value) -> Recorded {
        let updates = self.profile_updates();
        let hit = updates.iter().rev().find(|r| {
            matches!(r.message, Message::Profile { op: o } if o == op)
                && r.property(name) == Some(&value)
        });
        match hit {
            Some(r) => r.clone(),
            None => {
                let seen: Vec<String> = updates
                    .iter()
                    .filter(|r| r.property(name).is_some())
                    .map(|r| format!("{:?}", r.message))
                    .collect();
                panic!(
                    "expected a profile update `{op}` of trait `{name}` to {value}; updates of it: {}",
                    if seen.is_empty() {
                        "none".to_owned()
                    } else {
                        format!("{} (other values or operations)", seen.len())
                    }
                )
            }
        }
    }

    /// Panics if any profile update carried trait `name` (by wire name; `unset` included).
    #[track_caller]
    pub fn assert_no_trait(&self, name: &str) {
        let n = self
            .profile_updates()
            .iter()
            .filter(|r| {
                r.property(name).is_some()
                    || r.properties
                        .as_array()
                        .is_some_and(|names| names.iter().any(|n| n == name))
            })
            .count();
        assert!(
            n == 0,
            "expected trait `{name}` in no profile update, but {n} carried it"
        );
    }

    /// Panics unless an identity link from `anonymous_id` to `distinct_id` (both the
    /// pseudonymous ids, e.g. from `Subject::distinct_id`) was received; returns the last.
    #[track_caller]
    pub fn assert_linked(&self, anonymous_id: &str, distinct_id: &str) -> Recorded {
        let links = self.of_kind("link");
        let hit = links.iter().rev().find(|r| {
            r.distinct_id == distinct_id
                && matches!(&r.message, Message::Link { anonymous_id: a } if **a == *anonymous_id)
        });
        match hit {
            Some(r) => r.clone(),
            None => panic!(
                "expected the anonymous id to be linked to the distinct id; {} link(s) received, none between them",
                links.len()
            ),
        }
    }

    /// The events with wire name `event`.
    #[track_caller]
    pub fn named(&self, event: &str) -> Vec<Recorded> {
        self.check_name(event);
        self.lock()
            .iter()
            .filter(|r| r.event == event)
            .cloned()
            .collect()
    }

    /// How many events with wire name `event` were received.
    #[track_caller]
    pub fn count(&self, event: &str) -> usize {
        self.check_name(event);
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

/// Whether `r` is about one of `ids`: its distinct id, or the anonymous id a link names.
fn is_about(r: &Recorded, ids: &[String]) -> bool {
    ids.contains(&r.distinct_id) || ids.iter().any(|id| r.message.links(id))
}

/// Whether `r` is an event of type `E`.
fn is_event<E: Event>(r: &Recorded) -> bool {
    r.event == E::INFO.name && r.plan == E::PLAN.label
}

/// Levenshtein distance in characters, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

impl TrackerBuilder {
    /// Delivers every destination that has no sink of its own (and is not skipped) to a clone
    /// of `recorder`, which notes the destination in [`Recorded::destination`]: one line
    /// instead of a `.sink(…)` per destination in a test. The recorder learns the plan.
    pub fn record_all(self, recorder: &Recorder) -> Self {
        let plan = self.plan();
        let _ = recorder.plan.set(plan);
        let mut builder = self;
        for (i, d) in plan.destinations.iter().enumerate() {
            let mut clone = recorder.clone();
            clone.destination = Some(d.id);
            builder = builder.sink_if_unset(i, Box::new(clone));
        }
        builder
    }
}

impl Sink for Recorder {
    fn declaration(&self) -> crate::sink::SinkDeclaration {
        crate::sink::SinkDeclaration::InProcess
    }

    fn deliver(&mut self, batch: &[Envelope]) -> Outcome {
        if let Some(first) = batch.first() {
            let _ = self.plan.set(first.plan);
        }
        let destination = self.destination;
        self.lock().extend(
            batch
                .iter()
                .map(|e| Recorded::from_envelope(e, destination)),
        );
        Outcome::Delivered
    }

    fn erase(&mut self, distinct_ids: &[String]) -> Erasure {
        self.lock().retain(|r| !is_about(r, distinct_ids));
        Erasure::Erased
    }

    /// The subjects' events as JSON objects of the [`Recorded`] fields.
    fn retrieve(&mut self, distinct_ids: &[String]) -> Access {
        let records = self
            .lock()
            .iter()
            .filter(|r| is_about(r, distinct_ids))
            .map(|r| {
                serde_json::json!({
                    "type": r.kind(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(event: &str, properties: serde_json::Value) -> Recorded {
        Recorded {
            message: Message::TRACK,
            event: event.to_owned(),
            time_ms: 0,
            insert_id: "i-1".to_owned(),
            distinct_id: "alice@example.com".to_owned(),
            plan: "shop@3".to_owned(),
            destination: None,
            purposes: vec!["security".to_owned()],
            properties,
        }
    }

    #[test]
    fn debug_shows_names_and_counts_never_values() {
        let recorder = Recorder::new();
        recorder.lock().extend([
            recorded(
                "Login Failed",
                serde_json::json!({ "Email": "alice@example.com", "Reason": "password" }),
            ),
            recorded(
                "Login Failed",
                serde_json::json!({ "Email": "bob@example.com" }),
            ),
            recorded(
                "Page Viewed",
                serde_json::json!({ "Url": "https://x/?q=insulin" }),
            ),
        ]);
        let texts = [
            format!("{recorder:?}"),
            format!("{recorder:#?}"),
            format!("{:?}", recorder.events()),
            format!("{:#?}", recorder.events()),
        ];
        for text in &texts {
            for raw in [
                "alice@example.com",
                "bob@example.com",
                "password",
                "insulin",
            ] {
                assert!(!text.contains(raw), "{raw} in {text}");
            }
        }
        assert!(texts[0].contains("events: 3"), "{}", texts[0]);
        assert!(texts[0].contains("(\"Login Failed\", 2)"), "{}", texts[0]);
        assert!(
            texts[2].contains("\"Email\""),
            "property names stay: {}",
            texts[2]
        );
    }
}
