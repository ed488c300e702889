//! The vocabulary shared by trackplan's crates.
//!
//! The plan model (`trackplan-model`), the code generator (`trackplan-codegen`) and the runtime
//! (`trackplan-runtime`) all speak about the same things: purposes, destinations, and the sets of
//! them an event is collected for or routed to. A rule of the domain is written here once, so
//! every side applies the same one. The crate has no dependencies and parses nothing.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod set;

pub use set::{DestinationSet, Indices, PurposeSet};

/// Most purposes, destinations or events' purposes a plan may declare: sets of them are one
/// `u64` bit set, so routing and consent checks on the `track` path are a few integer operations.
pub const MAX_ITEMS: usize = 64;
