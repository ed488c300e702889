//! The built-in destinations.

#[cfg(feature = "http")]
mod mixpanel;
#[cfg(feature = "http")]
mod segment;

#[cfg(feature = "http")]
pub use mixpanel::{
    Compliance, Mixpanel, PrivacyError, PrivacyKind, PrivacyRequest, PrivacyStatus,
};
#[cfg(feature = "http")]
pub use segment::Segment;
