//! How long a destination keeps what it receives, from its purposes' `retention_days`.

/// The retention of a destination, in days, from the `retention_days` of its purposes (`None`
/// where a purpose declares none): the shortest declared one, because a destination uses every
/// event it receives for each of its purposes (the routing rule, [`routes`](crate::routes)),
/// so each purpose's limit applies to every event it holds. `None` when no purpose declares
/// one.
///
/// ```
/// use trackplan_vocab::retention_days;
///
/// assert_eq!(retention_days([Some(395), None, Some(90)]), Some(90));
/// assert_eq!(retention_days([None]), None);
/// ```
pub fn retention_days(purposes: impl IntoIterator<Item = Option<u32>>) -> Option<u32> {
    purposes.into_iter().flatten().min()
}

/// `retention_days` as Kafka's `retention.ms` (milliseconds; records are expired by their
/// timestamp, which trackplan sets to the event's time).
pub const fn retention_ms(days: u32) -> u64 {
    days as u64 * 86_400_000
}
