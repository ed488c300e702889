//! [`TrackOptions`]: how one `track` call differs from "now, with a fresh insert id" — a
//! backfill's explicit event time and a replay's own insert id.

use crate::time::Timestamp;

/// Longest insert id destinations accept: Mixpanel's `$insert_id` is at most 36 characters
/// of `[A-Za-z0-9-]` (a UUID's text), which Segment's `messageId` (any string) accepts too.
pub const MAX_INSERT_ID: usize = 36;

/// Options of one [`Subject::track_with_options`](crate::Subject::track_with_options) call.
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// use trackplan::{Timestamp, TrackOptions};
///
/// let options = TrackOptions::new()
///     .at(Timestamp::from_unix_millis(1_764_547_200_000))
///     .insert_id("order-42-created")?;
/// assert_eq!(options.id(), Some("order-42-created"));
/// let refused = TrackOptions::new().insert_id("order #42").unwrap_err();
/// assert!(refused.to_string().contains("[A-Za-z0-9-]"));
/// # Ok::<(), trackplan::error::InvalidInsertId>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackOptions {
    time: Option<Timestamp>,
    insert_id: Option<String>,
}

impl TrackOptions {
    /// Now, with an insert id the tracker derives.
    pub fn new() -> TrackOptions {
        TrackOptions::default()
    }

    /// The event happened at `time` (a backfill), not now. Tracked as given: the tracker's
    /// [`Timestamps`](crate::config::Timestamps) setting applies to "now" only.
    pub fn at(mut self, time: Timestamp) -> TrackOptions {
        self.time = Some(time);
        self
    }

    /// The event's insert id, e.g. the primary key of the application's own record of it, so
    /// replaying the same record twice is deduplicated by the destinations (Mixpanel
    /// `$insert_id`, Segment `messageId`, the NDJSON `insert_id`). It must be 1 to
    /// [`MAX_INSERT_ID`] characters of `[A-Za-z0-9-]`, the rule of the strictest destination
    /// (Mixpanel); anything else is refused here, before it could be sent.
    pub fn insert_id(mut self, id: &str) -> Result<TrackOptions, InvalidInsertId> {
        let valid = !id.is_empty()
            && id.len() <= MAX_INSERT_ID
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            return Err(InvalidInsertId { len: id.len() });
        }
        self.insert_id = Some(id.to_owned());
        Ok(self)
    }

    /// The explicit event time, if any.
    pub fn time(&self) -> Option<Timestamp> {
        self.time
    }

    /// The caller's insert id, if any.
    pub fn id(&self) -> Option<&str> {
        self.insert_id.as_deref()
    }
}

/// An insert id destinations would refuse: see [`TrackOptions::insert_id`]. Its message gives
/// the rule and the length, never the id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "an insert id must be 1 to {MAX_INSERT_ID} characters of [A-Za-z0-9-] (Mixpanel's $insert_id rule, e.g. a UUID); this one has {len} bytes or other characters"
)]
pub struct InvalidInsertId {
    len: usize,
}
