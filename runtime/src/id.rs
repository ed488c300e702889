//! Random identifiers: insert ids of events and distinct ids of anonymous subjects.

use zeroize::{Zeroize, Zeroizing};

/// Formats 16 bytes as UUID version 4 text (36 characters of `[0-9a-f-]`), setting the
/// version and variant bits.
pub(crate) fn uuid_v4_text(bytes: [u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    write_uuid_v4(bytes, &mut out);
    out
}

/// Replaces the content of `out` with the UUID v4 text of `bytes` (reusing its allocation).
pub(crate) fn write_uuid_v4(mut bytes: [u8; 16], out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    /// Where the two hex digits of each byte go.
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = [b'-'; 36];
    for (b, at) in bytes.iter().zip(AT) {
        text[at] = DIGITS[usize::from(b >> 4)];
        text[at + 1] = DIGITS[usize::from(b & 0xf)];
    }
    out.clear();
    // Hex digits and dashes are ASCII: this never fails.
    if let Ok(text) = std::str::from_utf8(&text) {
        out.push_str(text);
    }
}

/// A fresh random UUID v4 from the operating system's generator.
pub(crate) fn random_uuid() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)?;
    Ok(uuid_v4_text(bytes))
}

/// The distinct id of an anonymous subject (`"anon-<UUID v4>"`), from `random` (a
/// [`random_uuid`] result). Without OS randomness there is no safe id for an anonymous
/// visitor: one derived from anything else would not be anonymous, and one shared by every
/// visitor would merge strangers' events downstream. So there is none: the caller gets the
/// error and decides (e.g. not to track this visitor).
pub(crate) fn anonymous_id(
    random: Result<String, getrandom::Error>,
) -> Result<String, NoRandomness> {
    match random {
        Ok(uuid) => Ok(format!("anon-{uuid}")),
        Err(e) => Err(NoRandomness(e)),
    }
}

/// The operating system gave no random bytes for an anonymous visitor's id
/// ([`Tracker::anonymous`](crate::Tracker::anonymous)). Nothing was tracked.
#[derive(Debug, thiserror::Error)]
#[error(
    "no random id for an anonymous visitor: the operating system's random number generator failed ({0}); \
     the visitor is not tracked rather than given an id shared with others"
)]
pub struct NoRandomness(getrandom::Error);

/// Insert ids derived from an event's sequence number under a per-tracker random secret:
/// unpredictable and unique like random UUIDs, but computed in the worker (no system call on
/// the `track` path) and equal for one event in every destination.
///
/// One SHA-256 gives 32 bytes, the material of two ids: sequence numbers `2k` and `2k + 1`
/// share a hash, and the last hash is kept, so consecutive events cost half a hash each.
/// The message, `secret ‖ k` (40 bytes), fits one block, so the hash is one call of the
/// compression function on a prepared, padded block: no hasher state to set up and finish.
///
/// A clone shares the secret (so it derives the same ids) but not the cache: the spooling
/// `track` path keeps one to write an event's id to disk before the worker derives it again.
#[derive(Clone)]
pub(crate) struct InsertIds {
    /// `secret ‖ k ‖ SHA-256 padding`; bytes 32..40 take `k` for each hash.
    block: Zeroizing<[u8; 64]>,
    last: Option<(u64, [u8; 32])>,
}

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Where `k` goes in the block.
const PAIR: std::ops::Range<usize> = 32..40;

/// SHA-256 of the one-block message in `block` (already padded).
fn sha256_block(block: &[u8; 64]) -> [u8; 32] {
    let mut state = SHA256_IV;
    sha2::block_api::compress256(&mut state, std::slice::from_ref(block));
    let mut digest = [0u8; 32];
    for (out, word) in digest.chunks_exact_mut(4).zip(state) {
        out.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

impl InsertIds {
    pub(crate) fn new() -> Result<Self, getrandom::Error> {
        let mut block = Zeroizing::new([0u8; 64]);
        getrandom::fill(&mut block[..32])?;
        // Padding of a 40-byte message: a 1 bit, zeros, the length in bits (big-endian).
        block[40] = 0x80;
        block[56..].copy_from_slice(&(40u64 * 8).to_be_bytes());
        Ok(InsertIds { block, last: None })
    }

    /// Writes the id of event `seq` into `out` (replacing its content), reusing the last hash
    /// when `seq` shares it.
    pub(crate) fn write_id(&mut self, seq: u64, out: &mut String) {
        let pair = seq / 2;
        let digest = match self.last {
            Some((p, digest)) if p == pair => digest,
            _ => {
                self.block[PAIR].copy_from_slice(&pair.to_le_bytes());
                let digest = sha256_block(&self.block);
                self.last = Some((pair, digest));
                digest
            }
        };
        write_uuid_v4(Self::half(&digest, seq), out);
    }

    /// The id of event `seq`, reusing the last hash when `seq` shares it.
    #[cfg(test)]
    pub(crate) fn id(&mut self, seq: u64) -> String {
        let mut out = String::new();
        self.write_id(seq, &mut out);
        out
    }

    /// The id of event `seq`, without the cache (for callers that share the generator).
    pub(crate) fn derive(&self, seq: u64) -> String {
        let mut block = *self.block;
        block[PAIR].copy_from_slice(&(seq / 2).to_le_bytes());
        let digest = sha256_block(&block);
        block.zeroize();
        uuid_v4_text(Self::half(&digest, seq))
    }

    /// The 16 bytes of `digest` that belong to `seq`.
    fn half(digest: &[u8; 32], seq: u64) -> [u8; 16] {
        let at = if seq.is_multiple_of(2) { 0 } else { 16 };
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[at..at + 16]);
        bytes
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
    fn anonymous_ids_are_random_or_an_error_never_a_shared_id() {
        let fresh = anonymous_id(random_uuid()).expect("the test machine has randomness");
        assert!(
            fresh.starts_with("anon-") && is_uuid_v4(&fresh[5..]),
            "{fresh}"
        );
        let other = anonymous_id(random_uuid()).expect("randomness");
        assert_ne!(fresh, other);
        let err = anonymous_id(Err(getrandom::Error::UNSUPPORTED)).unwrap_err();
        assert!(
            err.to_string().contains("random number generator failed"),
            "{err}"
        );
        assert!(anonymous_id(Err(getrandom::Error::UNEXPECTED)).is_err());
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
    fn the_one_block_hash_is_sha256_of_secret_and_pair() {
        use sha2::{Digest, Sha256};
        let ids = InsertIds::new().unwrap_or_else(|e| panic!("{e}"));
        for pair in [0u64, 1, 7, u64::MAX] {
            let mut block = *ids.block;
            block[PAIR].copy_from_slice(&pair.to_le_bytes());
            let expected: [u8; 32] = Sha256::new()
                .chain_update(&ids.block[..32])
                .chain_update(pair.to_le_bytes())
                .finalize()
                .into();
            assert_eq!(sha256_block(&block), expected);
        }
        // FIPS 180-2 B.1 ("abc"), through the same block function.
        let mut abc = [0u8; 64];
        abc[..3].copy_from_slice(b"abc");
        abc[3] = 0x80;
        abc[63] = 24;
        let hex: String = sha256_block(&abc)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
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
