//! Property wire names destinations keep for themselves.

/// Property wire names that destinations reserve for their own fields.
pub const RESERVED_NAMES: &[&str] = &["time", "distinct_id", "$insert_id", "token"];

/// Prefixes of property wire names that destinations reserve (`$city`, `mp_lib`).
pub const RESERVED_PREFIXES: &[&str] = &["$", "mp_"];

/// Whether a property may not have this wire name: a destination would read it as one of its
/// own fields (a property named `distinct_id` would replace the pseudonymous id).
///
/// ```
/// assert!(trackplan_vocab::is_reserved_name("distinct_id"));
/// assert!(trackplan_vocab::is_reserved_name("$city"));
/// assert!(!trackplan_vocab::is_reserved_name("city"));
/// ```
pub fn is_reserved_name(name: &str) -> bool {
    RESERVED_NAMES.contains(&name) || RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Mixpanel's reserved profile properties that a plan may set deliberately: a user or group
/// trait may have one of these wire names, but only written out as its `name` (never taken
/// from an id, and never on an event property). Mixpanel shows them in its UI and uses
/// `$email`/`$phone` for cohort syncs; the others (`$distinct_id`, `$last_seen`, `$ip`, …)
/// Mixpanel sets itself and stay reserved.
pub const PROFILE_NAMES: &[&str] = &[
    "$name",
    "$first_name",
    "$last_name",
    "$email",
    "$phone",
    "$avatar",
    "$created",
    "$city",
    "$region",
    "$country_code",
    "$timezone",
    "$unsubscribed",
];

/// Whether a trait may be sent under this wire name when the plan writes it out as `name`:
/// one of [`PROFILE_NAMES`], or a name no destination reserves.
///
/// ```
/// assert!(trackplan_vocab::is_profile_name("$email"));
/// assert!(!trackplan_vocab::is_profile_name("$distinct_id"));
/// ```
pub fn is_profile_name(name: &str) -> bool {
    PROFILE_NAMES.contains(&name)
}
