//! The built-in sinks: [`Ndjson`] files, [`Stdout`] and in-[`Memory`] (see also
//! [`crate::testing::Recorder`]), with the `http` feature `Mixpanel` and `Segment`
//! (Segment-compatible collectors), and with the `posthog` feature `PostHog`. Each implements
//! [`Sink`](crate::Sink), the trait custom destinations implement too.

mod memory;
#[cfg(feature = "http")]
pub(crate) mod mixpanel;
mod ndjson;
#[cfg(feature = "posthog")]
mod posthog;
#[cfg(feature = "http")]
pub(crate) mod segment;

pub use memory::Memory;
#[cfg(feature = "http")]
pub use mixpanel::{
    Compliance, Mixpanel, PrivacyError, PrivacyKind, PrivacyRequest, PrivacyStatus,
};
pub(crate) use ndjson::write_ndjson_line;
pub use ndjson::{Ndjson, Stdout};
#[cfg(feature = "posthog")]
pub use posthog::PostHog;
#[cfg(feature = "http")]
pub use segment::Segment;
