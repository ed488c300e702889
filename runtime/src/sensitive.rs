//! Wrappers for personal and special-category values.

use std::fmt;

macro_rules! wrapper {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// It prints `[redacted]` in `Debug` and `Display`, has no `Serialize`, and its value is
        /// only ever written through the transform the plan declares.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name<T>(T);

        impl<T> $name<T> {
            /// Wraps a value.
            pub const fn new(value: T) -> Self {
                $name(value)
            }

            /// The wrapped value, for the code that writes it through its transform.
            pub(crate) fn expose(&self) -> &T {
                &self.0
            }
        }

        impl<T> From<T> for $name<T> {
            fn from(value: T) -> Self {
                $name(value)
            }
        }

        impl From<&str> for $name<String> {
            fn from(value: &str) -> Self {
                $name(value.to_owned())
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }
    };
}

wrapper!(
    /// A personal-data value (GDPR Art. 4), e.g. an e-mail address.
    Personal
);
wrapper!(
    /// A special-category value (GDPR Art. 9/10, children's data), e.g. a health signal.
    Special
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let p = Personal::new("alice@example.com".to_string());
        let s = Special::new(42);
        for text in [
            format!("{p:?}"),
            format!("{p}"),
            format!("{s:?}"),
            format!("{s:#?}"),
        ] {
            assert_eq!(text, "[redacted]");
        }
    }
}
