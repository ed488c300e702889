//! How sensitive a property's value is.

use crate::keyword::keywords;

keywords! {
    /// How sensitive a value is; ordered from least to most.
    #[derive(PartialOrd, Ord)]
    pub enum Sensitivity {
        /// Not personal data, fine to publish.
        Public = "public",
        /// Not personal data, internal.
        Internal = "internal",
        /// Personal data (GDPR Art. 4).
        Personal = "personal",
        /// Special-category data (GDPR Art. 9/10, children's data).
        Special = "special",
    }
}

impl Sensitivity {
    /// Whether the value is about a person (`personal` or `special`).
    pub const fn is_personal(self) -> bool {
        matches!(self, Sensitivity::Personal | Sensitivity::Special)
    }
}
