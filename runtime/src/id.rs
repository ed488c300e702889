//! Random identifiers: insert ids of events and distinct ids of anonymous subjects.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Formats 16 bytes as UUID version 4 text (36 characters of `[0-9a-f-]`), setting the
/// version and variant bits.
pub(crate) fn uuid_v4_text(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut hex = String::with_capacity(32);
    crate::key::push_hex(&mut hex, &bytes);
    let mut out = String::with_capacity(36);
    for (i, range) in [0..8, 8..12, 12..16, 16..20, 20..32]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            out.push('-');
        }
        out.push_str(&hex[range]);
    }
    out
}

/// A fresh random UUID v4 from the operating system's generator.
pub(crate) fn random_uuid() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(uuid_v4_text(bytes))
}

/// Insert ids derived from an event's sequence number under a per-tracker random secret:
/// unpredictable and unique like random UUIDs, but computed in the worker (no system call on
/// the `track` path) and equal for one event in every destination.
pub(crate) struct InsertIds {
    secret: Zeroizing<[u8; 32]>,
}

impl InsertIds {
    pub(crate) fn new() -> Result<Self, getrandom::Error> {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *secret)?;
        Ok(InsertIds { secret })
    }

    pub(crate) fn id(&self, seq: u64) -> String {
        let digest = Sha256::new()
            .chain_update(*self.secret)
            .chain_update(seq.to_le_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        uuid_v4_text(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_uuid_v4(s: &str) -> bool {
        let b = s.as_bytes();
        s.len() == 36
            && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
            && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
            && b[14] == b'4'
            && matches!(b[19], b'8' | b'9' | b'a' | b'b')
    }

    #[test]
    fn uuid_text_has_version_and_variant() {
        assert_eq!(
            uuid_v4_text([0; 16]),
            "00000000-0000-4000-8000-000000000000"
        );
        assert_eq!(
            uuid_v4_text([0xff; 16]),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        let r = random_uuid().unwrap_or_default();
        assert!(is_uuid_v4(&r), "{r}");
    }

    #[test]
    fn insert_ids_are_stable_per_sequence_and_distinct() {
        let ids = InsertIds::new().unwrap_or_else(|e| panic!("{e}"));
        let other = InsertIds::new().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ids.id(7), ids.id(7));
        assert_ne!(ids.id(7), ids.id(8));
        assert_ne!(ids.id(7), other.id(7));
        let all: std::collections::HashSet<String> = (0..1000).map(|s| ids.id(s)).collect();
        assert_eq!(all.len(), 1000);
        assert!(all.iter().all(|s| is_uuid_v4(s)));
    }
}
