//! Wrappers for personal and special-category values.

use std::fmt;

macro_rules! wrapper {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// It prints `[redacted]` in `Debug` and `Display`, has no `Serialize`, and its value is
        /// only ever written through the transform the plan declares.
        ///
        /// Nothing else reads it either: it implements neither `PartialEq`/`Eq`, `PartialOrd`/`Ord`
        /// nor `Hash`. Each would hand the raw value to code of the caller's choosing: a `Hasher`
        /// is given the value's bytes, and comparing against guesses (`== 0`, `== 1`, …) or
        /// ordering against bounds recovers the value in a few steps. So a wrapped value cannot
        /// be a `HashMap` key or compared; compare or key on the raw value before wrapping it.
        #[derive(Clone, Copy, Default)]
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
    ///
    /// `plan!` types every `personal` property with it, so a raw value cannot be put where the
    /// plan says personal data goes, and cannot come back out:
    ///
    /// ```
    /// # extern crate trackplan_runtime as trackplan;
    /// use trackplan::Personal;
    ///
    /// let email: Personal<String> = "ann@example.com".into();
    /// assert_eq!(format!("{email:?} {email}"), "[redacted] [redacted]");
    /// ```
    ///
    /// Comparing or hashing it does not compile, since each would reveal the value:
    ///
    /// ```compile_fail,E0369
    /// # extern crate trackplan_runtime as trackplan;
    /// let age = trackplan::Personal::new(34);
    /// assert!(age == trackplan::Personal::new(34));
    /// ```
    Personal
);
wrapper!(
    /// A special-category value (GDPR Art. 9/10, children's data), e.g. a health signal.
    Special
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The promise of the type, checked where the compiler can: none of the traits that hand
    /// the value to caller code is implemented (a compile-fail case in `tests/ui` shows the
    /// error a user sees).
    #[test]
    fn no_trait_reads_the_value() {
        trait Reads {
            const EQ: bool = false;
            const ORD: bool = false;
            const HASH: bool = false;
        }
        impl<T: ?Sized> Reads for T {}
        struct Probe<T>(T);
        // Inherent constants win over the blanket trait's only where their bound holds.
        #[allow(dead_code)]
        impl<T: PartialEq> Probe<T> {
            const EQ: bool = true;
        }
        #[allow(dead_code)]
        impl<T: PartialOrd> Probe<T> {
            const ORD: bool = true;
        }
        #[allow(dead_code)]
        impl<T: std::hash::Hash> Probe<T> {
            const HASH: bool = true;
        }
        let personal = [
            Probe::<Personal<u8>>::EQ,
            Probe::<Personal<u8>>::ORD,
            Probe::<Personal<u8>>::HASH,
        ];
        let special = [
            Probe::<Special<u8>>::EQ,
            Probe::<Special<u8>>::ORD,
            Probe::<Special<u8>>::HASH,
        ];
        assert_eq!(personal, [false; 3]);
        assert_eq!(special, [false; 3]);
        // The probe itself sees the traits where they exist.
        assert_eq!(
            [Probe::<u8>::EQ, Probe::<u8>::ORD, Probe::<u8>::HASH],
            [true; 3]
        );
    }

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
