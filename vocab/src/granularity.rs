//! How far `coarsen` rounds a timestamp down.

use crate::keyword::keywords;

keywords! {
    /// Timestamp granularity for `coarsen`.
    #[derive(PartialOrd, Ord)]
    pub enum Granularity {
        /// Truncated to the hour.
        Hour = "hour",
        /// Truncated to the day (UTC).
        Day = "day",
        /// Truncated to the first day of the month (UTC).
        Month = "month",
    }
}
