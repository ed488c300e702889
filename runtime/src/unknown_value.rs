//! The error of parsing text as a generated enum (`"pro".parse::<PlanTier>()`).

use std::fmt;

/// Text that is not one of an enum property's wire values: what `FromStr` and
/// `TryFrom<&str>` of a generated enum return.
///
/// Its message names the enum and lists the values it accepts. It does not repeat the text
/// that was given, which usually comes from a request and may be anything a user typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownValue {
    enum_name: &'static str,
    allowed: &'static [&'static str],
}

impl UnknownValue {
    /// The error for enum `enum_name`, whose wire values are `allowed`. Generated code builds
    /// it; the values are the plan's, byte for byte.
    #[doc(hidden)]
    pub const fn new(enum_name: &'static str, allowed: &'static [&'static str]) -> Self {
        UnknownValue { enum_name, allowed }
    }

    /// The Rust name of the enum (`PlanTier`).
    pub fn enum_name(&self) -> &'static str {
        self.enum_name
    }

    /// The wire values the enum accepts, in plan order.
    pub fn allowed(&self) -> &'static [&'static str] {
        self.allowed
    }
}

impl fmt::Display for UnknownValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a value of `{}`; expected one of ", self.enum_name)?;
        for (i, v) in self.allowed.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v:?}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownValue {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_enum_and_every_value() {
        let e = UnknownValue::new("PlanTier", &["free", "pro plus"]);
        assert_eq!(
            e.to_string(),
            "not a value of `PlanTier`; expected one of \"free\", \"pro plus\""
        );
        assert_eq!(e.allowed(), ["free", "pro plus"]);
    }
}
