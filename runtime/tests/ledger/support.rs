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

/// CRC-32 (IEEE), as the frame uses: bitwise, so the tests do not share the runtime's code.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
