//! The built-in sinks: [`Ndjson`] files, [`Stdout`] and in-[`Memory`] (see also
//! [`crate::testing::Recorder`]), and with the `http` feature `Mixpanel` and `Segment`
//! (Segment-compatible collectors), with the `kafka` feature `Kafka` (its
//! helpers in `kafka`). Each implements [`Sink`](crate::Sink), the trait custom
//! destinations implement too.

#[cfg(feature = "kafka")]
pub mod kafka;
mod memory;
#[cfg(feature = "http")]
pub(crate) mod mixpanel;
mod ndjson;
#[cfg(feature = "http")]
pub(crate) mod segment;

#[cfg(feature = "kafka")]
pub use kafka::Kafka;
pub use memory::Memory;
#[cfg(feature = "http")]
pub use mixpanel::{
    Compliance, Mixpanel, PrivacyError, PrivacyKind, PrivacyRequest, PrivacyStatus,
};
pub(crate) use ndjson::write_ndjson_line;
pub use ndjson::{Ndjson, Stdout};
#[cfg(feature = "http")]
pub use segment::Segment;
