//! Run-time half of trackplan.
//!
//! Application code does not depend on this crate directly: it depends on the `trackplan` facade,
//! whose `plan!` macro generates event types and the static [`PlanInfo`] that this crate works
//! from. The runtime never parses a plan file: everything it needs is compiled in.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;
mod consent;
mod event;
mod fit;
#[cfg(test)]
mod fixture;
#[cfg(feature = "http")]
mod http;
mod id;
mod key;
mod plan;
mod queue;
mod sensitive;
mod sink;
pub mod sinks;
mod spool;
mod stats;
mod subject;
pub mod testing;
mod time;
mod tracker;
mod transform;
mod value;
mod worker;

pub use consent::Consent;
pub use event::{DeclaredFor, Destination, Event, Purpose, RoutableTo, Values};
pub use key::{Key, KeyError, MIN_KEY_BYTES};
pub use plan::{
    Constraints, DestinationInfo, DestinationSet, EventInfo, Granularity, IdentityInfo, LegalBasis,
    PlanInfo, PropertyInfo, PurposeInfo, PurposeSet, Sensitivity, TransformInfo, ValueKind,
};
pub use sensitive::{Personal, Special};
pub use sink::{Access, BatchLimits, Envelope, Erasure, Outcome, RetryPolicy, Sink};
pub use spool::{Spool, SpoolError, SyncPolicy};
pub use stats::{Counts, DestinationStats, Stats};
pub use subject::{Scope, Scoped, Subject};
pub use time::{Iso8601, Timestamp, Timestamps};
pub use tracker::{
    AccessError, AccessReport, BuildError, FlushError, ForgetError, ForgetReport, Overflow,
    Tracker, TrackerBuilder,
};
pub use value::{PropertyWriter, Value, ViolationPolicy};

/// Items used by generated code. Not part of the public API: no semver guarantees.
#[doc(hidden)]
pub mod __private {
    pub use crate::event::{Sealed, property};
    pub use crate::fit::{Enum, Fits, FitsScalar, ValuesOf, enum_key_hash};
    pub use crate::value::PropertyWriter;
}
