//! Run-time half of trackplan.
//!
//! Application code does not depend on this crate directly: it depends on the `trackplan` facade,
//! whose `plan!` macro generates event types and the static [`PlanInfo`](info::PlanInfo) that
//! this crate works from. The runtime never parses a plan file: everything it needs is compiled
//! in.
//!
//! The module layout is the facade's (`trackplan::info`, `trackplan::error`, …,
//! `trackplan::__private`): the facade re-exports these modules as they are. Code generated for
//! `::trackplan::` therefore also compiles in this crate's own tests after
//! `extern crate trackplan_runtime as trackplan;` — keep the two layouts the same.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;
mod builder;
#[cfg(feature = "cli-telemetry")]
pub mod cli_telemetry;
mod completion;
pub mod consent;
mod context;
pub mod crypt;
mod dispatch;
mod event;
mod fit;
#[cfg(test)]
mod fixture;
mod flush;
mod frame;
#[cfg(feature = "http")]
mod http;
mod id;
mod key;
mod lane;
mod message;
mod options;
mod pipeline;
mod plan;
mod privacy_api;
mod queue;
pub mod retention;
mod retry;
mod scope;
mod sensitive;
mod sink;
pub mod sinks;
pub mod spool;
pub mod stats;
mod subject;
mod subject_request;
mod tally;
pub mod testing;
pub mod time;
mod tracker;
mod transform;
mod unknown_value;
mod update;
mod value;
mod verify;
mod worker;

pub use builder::TrackerBuilder;
pub use completion::Completion;
pub use consent::Consent;
pub use context::ContextProperties;
pub use event::{DeclaredFor, Destination, Event, Purpose, RoutableTo, Values};
pub use key::Key;
pub use message::{GroupRef, Message, ProfileOp};
pub use options::TrackOptions;
pub use scope::{SubjectScope, TrackerScope};
pub use sensitive::{Personal, Special};
pub use sink::{Envelope, Outcome, Sink};
pub use subject::Subject;
pub use time::Timestamp;
pub use tracker::Tracker;
pub use update::{Group, GroupUpdate, ProfileUpdate};

/// What the runtime knows about a plan: the static [`PlanInfo`](info::PlanInfo) `plan!`
/// generates (`PLAN`), its purposes, destinations, events and properties, and the vocabulary
/// they are described in.
///
/// These types are read, not built: they are `#[non_exhaustive]`, only generated code makes
/// them, and [`TrackerBuilder::build`] refuses a plan whose parts disagree with each other.
pub mod info {
    pub use crate::plan::{
        Audience, Constraints, ContextInfo, DestinationInfo, DestinationSet, EventInfo,
        Granularity, GroupInfo, IdentityTransform, LegalBasis, PlanInfo, PropertyInfo, PurposeInfo,
        PurposeSet, Sensitivity, TraitInfo, TransformInfo, ValueKind,
    };
    pub use trackplan_vocab::{Keyword, MAX_ITEMS, route, routes};
}

/// Errors of building a tracker, flushing it, answering data subject requests, and of keys,
/// spools and anonymous ids.
pub mod error {
    pub use crate::builder::BuildError;
    pub use crate::consent::ConsentDataError;
    pub use crate::flush::FlushError;
    pub use crate::id::NoRandomness;
    pub use crate::key::KeyError;
    pub use crate::options::InvalidInsertId;
    pub use crate::spool::SpoolError;
    pub use crate::subject_request::{AccessError, ForgetError};
    pub use crate::unknown_value::UnknownValue;
    pub use crate::verify::Inconsistency;
}

/// How a tracker and its sinks are set up: queue overflow, invalid values, retries, batch sizes,
/// key length, and what a sink declares about itself.
pub mod config {
    pub use crate::builder::Overflow;
    pub use crate::key::MIN_KEY_BYTES;
    pub use crate::options::MAX_INSERT_ID;
    pub use crate::sink::{BatchLimits, RetryPolicy, SinkDeclaration};
    pub use crate::time::Timestamps;
    pub use crate::value::ViolationPolicy;
}

/// Data subject requests (GDPR Art. 15 access, Art. 17 erasure): what the tracker reports,
/// what a sink answers, and a destination's privacy API that answers apart from its sink.
pub mod requests {
    pub use crate::privacy_api::PrivacyApi;
    pub use crate::sink::{Access, Erasure};
    pub use crate::subject_request::{AccessReport, ForgetReport};
}

/// Items used by generated code. Not part of the public API: no semver guarantees.
///
/// Generated code names only paths in here (`::trackplan::__private::…`), so the public items
/// it needs are re-exported here too.
#[doc(hidden)]
pub mod __private {
    pub use crate::context::{ContextProperties, ContextWriter};
    pub use crate::event::{
        DeclaredFor, Destination, Event, Purpose, RoutableTo, Sealed, Values, WriteProperties,
    };
    pub use crate::fit::{Enum, Fits, FitsScalar, ValuesOf, enum_key_hash};
    pub use crate::message::ProfileOp;
    pub use crate::plan::{
        Constraints, ContextInfo, DestinationInfo, DestinationSet, EventInfo, Granularity,
        GroupInfo, IdentityTransform, LegalBasis, PlanInfo, PropertyInfo, PurposeInfo, PurposeSet,
        Sensitivity, TraitInfo, TransformInfo, ValueKind, constraints, context_info,
        destination_info, event_groups, event_info, group_info, marker, plan_info, plan_sections,
        property, purpose_info, purpose_marker, trait_info,
    };
    pub use crate::sensitive::{Personal, Special};
    pub use crate::time::Timestamp;
    pub use crate::unknown_value::UnknownValue;
    pub use crate::update::{Group, GroupUpdate, ProfileUpdate, TraitOp, TraitWriter};
    pub use crate::value::{PropertyWriter, Value};
}
