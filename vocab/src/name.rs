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
