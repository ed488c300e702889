//! How a subject id becomes the distinct id destinations receive.

use crate::keyword::keywords;

keywords! {
    /// How a subject id becomes the distinct id sent to destinations.
    #[derive()]
    pub enum IdentityTransform {
        /// Keyed HMAC-SHA-256 with the tracker's secret key (the default).
        Hmac = "hmac",
        /// Sent as is (needs a justification).
        None = "none",
    }
}
