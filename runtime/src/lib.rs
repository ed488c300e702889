//! Run-time half of trackplan.
//!
//! Application code does not depend on this crate directly: it depends on the `trackplan` facade,
//! whose `plan!` macro generates event types and the static [`PlanInfo`] that this crate works
//! from. The runtime never parses a plan file: everything it needs is compiled in.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod event;
#[cfg(feature = "http")]
mod http;
mod plan;
mod sensitive;
mod sink;
pub mod sinks;
mod spool;
mod time;
mod value;

pub use event::{DeclaredFor, Destination, Event, Purpose, RoutableTo, Values};
pub use plan::{
    Constraints, DestinationInfo, DestinationSet, EventInfo, Granularity, IdentityInfo, LegalBasis,
    PlanInfo, PropertyInfo, PurposeInfo, PurposeSet, Sensitivity, TransformInfo, ValueKind,
};
pub use sensitive::{Personal, Special};
pub use sink::{BatchLimits, Envelope, Outcome, Sink};
pub use spool::{Spool, SpoolError, SyncPolicy};
pub use time::Timestamp;
pub use value::{PropertyWriter, Value};

/// Items used by generated code. Not part of the public API: no semver guarantees.
#[doc(hidden)]
pub mod __private {
    pub use crate::event::Sealed;
    pub use crate::value::PropertyWriter;
}
