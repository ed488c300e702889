//! Limits on a property's value, checked when an event is tracked.

/// Value constraints of a property: the plan's `max_length` (strings) and `min`/`max` (numbers).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub struct Constraints {
    /// Longest allowed string, in characters.
    pub max_length: Option<u32>,
    /// Smallest allowed number.
    pub min: Option<f64>,
    /// Largest allowed number.
    pub max: Option<f64>,
}

impl Constraints {
    /// No limits.
    pub const NONE: Constraints = Constraints::new(None, None, None);

    /// Constraints with these limits.
    pub const fn new(max_length: Option<u32>, min: Option<f64>, max: Option<f64>) -> Constraints {
        Constraints {
            max_length,
            min,
            max,
        }
    }

    /// Whether no limit is set.
    pub const fn is_none(&self) -> bool {
        self.max_length.is_none() && self.min.is_none() && self.max.is_none()
    }
}
