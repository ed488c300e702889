//! Random identifiers: insert ids of events and distinct ids of anonymous subjects.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Formats 16 bytes as UUID version 4 text (36 characters of `[0-9a-f-]`), setting the
/// version and variant bits.
pub(crate) fn uuid_v4_text(mut bytes: [u8; 16]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
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
///
/// One SHA-256 gives 32 bytes, the material of two ids: sequence numbers `2k` and `2k + 1`
/// share a hash, and the last hash is kept, so consecutive events cost half a hash each.
///
/// A clone shares the secret (so it derives the same ids) but not the cache: the spooling
/// `track` path keeps one to write an event's id to disk before the worker derives it again.
#[derive(Clone)]
pub(crate) struct InsertIds {
    secret: Zeroizing<[u8; 32]>,
    last: Option<(u64, [u8; 32])>,
}

impl InsertIds {
    pub(crate) fn new() -> Result<Self, getrandom::Error> {
        let mut secret = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *secret)?;
        Ok(InsertIds { secret, last: None })
    }

    /// The id of event `seq`, reusing the last hash when `seq` shares it.
    pub(crate) fn id(&mut self, seq: u64) -> String {
        let pair = seq / 2;
        let digest = match self.last {
            Some((p, digest)) if p == pair => digest,
            _ => {
                let digest = self.digest(pair);
                self.last = Some((pair, digest));
                digest
            }
        };
        Self::text(&digest, seq)
    }

    /// The id of event `seq`, without the cache (for callers that share the generator).
    pub(crate) fn derive(&self, seq: u64) -> String {
        Self::text(&self.digest(seq / 2), seq)
    }

    fn digest(&self, pair: u64) -> [u8; 32] {
        Sha256::new()
            .chain_update(*self.secret)
            .chain_update(pair.to_le_bytes())
            .finalize()
            .into()
    }

    fn text(digest: &[u8; 32], seq: u64) -> String {
        let half = if seq.is_multiple_of(2) { 0 } else { 16 };
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[half..half + 16]);
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
        let mut ids = InsertIds::new().unwrap_or_else(|e| panic!("{e}"));
        let mut other = InsertIds::new().unwrap_or_else(|e| panic!("{e}"));
        let seven = ids.id(7);
        assert_eq!(ids.id(100), ids.id(100));
        assert_eq!(ids.id(7), seven, "the same after other ids were made");
        assert_ne!(ids.id(7), ids.id(8));
        assert_ne!(ids.id(7), other.id(7));
        let twin = ids.clone();
        assert!(
            (0..10).all(|s| twin.derive(s) == ids.id(s)),
            "a clone derives the same ids without the cache"
        );
        let all: std::collections::HashSet<String> = (0..1000).map(|s| ids.id(s)).collect();
        assert_eq!(all.len(), 1000);
        assert!(all.iter().all(|s| is_uuid_v4(s)));
    }
}
