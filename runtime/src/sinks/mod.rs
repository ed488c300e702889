//! The built-in sinks: [`Ndjson`] files, [`Stdout`] and in-[`Memory`] (see also
//! [`crate::testing::Recorder`]), with the `http` feature `Mixpanel` and `Segment`
//! (Segment-compatible collectors), and with the `postgres` feature `Postgres` (a warehouse of
//! our own; its tables' SQL, [`postgres_ddl`], is always here). Each implements [`Sink`](crate::Sink), the trait custom
//! destinations implement too.

mod memory;
#[cfg(feature = "http")]
pub(crate) mod mixpanel;
mod ndjson;
mod postgres;
#[cfg(feature = "http")]
pub(crate) mod segment;

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
#[cfg(feature = "http")]
pub use segment::Segment;
