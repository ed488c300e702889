//! Helpers the ledger test crates share (`#[path]`-included by `ledger.rs` and
//! `ledger_format.rs`).

use trackplan_runtime::consent::{LedgerEntry, Preference};

/// Each purpose of `entry` as `(id, legal basis, preference, permitted)`, in plan order.
pub fn choices(entry: &LedgerEntry) -> Vec<(&str, &'static str, Preference, bool)> {
    entry
        .purposes
        .iter()
        .map(|p| {
            (
                p.purpose.as_str(),
                p.legal_basis.key(),
                p.preference,
                p.permitted,
            )
        })
        .collect()
}
