//! Run-time half of trackplan.
//!
//! Application code does not depend on this crate directly: it depends on the `trackplan` facade,
//! whose `plan!` macro generates event types and the static [`PlanInfo`] that this crate works
//! from. The runtime never parses a plan file: everything it needs is compiled in.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod completion;
mod consent;
mod event;
mod fit;
mod flush;
#[cfg(feature = "http")]
mod http;
mod id;
mod key;
mod lane;
mod pipeline;
mod plan;
mod queue;
mod retry;
mod scope;
mod sensitive;
mod sink;
pub mod sinks;
mod spool;
mod stats;
mod subject;
mod subject_request;
pub mod testing;
mod time;
mod tracker;
mod transform;
mod value;
mod worker;

pub use builder::{BuildError, Overflow, TrackerBuilder};
pub use completion::Completion;
pub use consent::Consent;
pub use event::{DeclaredFor, Destination, Event, Purpose, RoutableTo, Values};
pub use flush::{DestinationFlush, FlushError, FlushReport};
pub use key::{Key, KeyError, MIN_KEY_BYTES};
pub use plan::{
    Constraints, DestinationInfo, DestinationSet, EventInfo, Granularity, IdentityInfo, LegalBasis,
    PlanInfo, PropertyInfo, PurposeInfo, PurposeSet, Sensitivity, TransformInfo, ValueKind,
};
pub use scope::{SubjectScope, TrackerScope};
pub use sensitive::{Personal, Special};
pub use sink::{
    Access, BatchLimits, Envelope, Erasure, Outcome, RetryPolicy, Sink, SinkDeclaration,
};
pub use spool::{Spool, SpoolError, SyncPolicy};
pub use stats::{Counts, DestinationStats, Health, Stats};
pub use subject::Subject;
pub use subject_request::{AccessError, AccessReport, ForgetError, ForgetReport};
pub use time::{Iso8601, Timestamp, Timestamps};
pub use tracker::Tracker;
pub use value::{PropertyWriter, Value, ViolationPolicy};

/// Items used by generated code. Not part of the public API: no semver guarantees.
#[doc(hidden)]
pub mod __private {
    pub use crate::event::{Sealed, property};
    pub use crate::fit::{Enum, Fits, FitsScalar, ValuesOf, enum_key_hash};
    pub use crate::value::PropertyWriter;
}
