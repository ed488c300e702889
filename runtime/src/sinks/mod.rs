//! The built-in sinks: [`Ndjson`] files, [`Stdout`] and in-[`Memory`] (see also
//! [`crate::testing::Recorder`]), and with the `http` feature `Mixpanel` and `Segment`
//! (Segment-compatible collectors, with opt-in `Regulations` for erasure), with the
//! `amplitude` feature `Amplitude`, with the `posthog` feature `PostHog`, with the `kafka`
//! feature `Kafka` (its helpers in `kafka`), and with the `postgres` feature `Postgres` (a
//! warehouse of our own; its tables' SQL, [`postgres_ddl`], is always here). Each implements
//! [`Sink`](crate::Sink), the trait custom destinations implement too.

#[cfg(feature = "amplitude")]
pub(crate) mod amplitude;
#[cfg(feature = "http")]
mod http_options;
#[cfg(feature = "kafka")]
pub mod kafka;
mod memory;
#[cfg(feature = "http")]
pub(crate) mod mixpanel;
mod ndjson;
mod postgres;
#[cfg(feature = "posthog")]
mod posthog;
#[cfg(feature = "http")]
mod privacy_call;
#[cfg(feature = "http")]
pub(crate) mod regulations;
#[cfg(feature = "http")]
pub(crate) mod segment;

#[cfg(feature = "amplitude")]
pub use amplitude::Amplitude;
#[cfg(feature = "kafka")]
pub use kafka::Kafka;
pub use memory::Memory;
#[cfg(feature = "http")]
pub use mixpanel::{
    Compliance, Mixpanel, PrivacyError, PrivacyKind, PrivacyRequest, PrivacyStatus,
};
pub(crate) use ndjson::write_ndjson_line;
pub use ndjson::{Ndjson, Stdout};
pub use postgres::{InvalidSchemaName, check_schema_name, postgres_ddl};
#[cfg(feature = "postgres")]
pub use postgres::{Postgres, PostgresError};
#[cfg(feature = "posthog")]
pub use posthog::PostHog;
#[cfg(feature = "http")]
pub use regulations::{Regulations, RudderStackRegulations, SegmentRegulations};
#[cfg(feature = "http")]
pub use segment::Segment;
