//! The tracker's secret key and the keyed pseudonymization built on it (HMAC-SHA-256).

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted key: HMAC-SHA-256 gains nothing from longer keys, and anything shorter
/// than its output weakens it.
pub const MIN_KEY_BYTES: usize = 32;

/// Why a key could not be loaded. Messages never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is shorter than [`MIN_KEY_BYTES`].
    #[error(
        "the key has {len} bytes; trackplan needs at least {MIN_KEY_BYTES} random bytes \
         (e.g. `openssl rand -hex 32`)"
    )]
    TooShort {
        /// Bytes given.
        len: usize,
    },
    /// The hex text is not hex.
    #[error(
        "the key is not hexadecimal text (expected an even number of 0-9/a-f digits, \
         e.g. from `openssl rand -hex 32`)"
    )]
    InvalidHex,
    /// The environment variable is not set.
    #[error(
        "environment variable `{var}` is not set; set it to at least 64 hex digits \
         (e.g. `openssl rand -hex 32`)"
    )]
    MissingEnv {
        /// The variable.
        var: String,
    },
    /// The environment variable is not valid Unicode.
    #[error("environment variable `{var}` is not valid Unicode; it must hold hex digits")]
    NotUnicode {
        /// The variable.
        var: String,
    },
}

/// The tracker's secret key: pseudonymizes subject ids and `hmac` properties.
///
/// At least 32 bytes. Its `Debug` output shows only [`Key::id`], a short public fingerprint, so
/// logs show which key was used and when it rotated without revealing it. The keyed HMAC state
/// is zeroized when the key is dropped, and copies made while loading it are wiped too.
///
/// Load it from the environment or a secret store, never from source code:
///
/// ```
/// # extern crate trackplan_runtime as trackplan;
/// # fn main() -> Result<(), trackplan::error::KeyError> {
/// # // SAFETY of the example: set before any thread reads the environment.
/// # unsafe { std::env::set_var("ANALYTICS_KEY", "5c".repeat(32)) };
/// use trackplan::Key;
///
/// let key = Key::from_env("ANALYTICS_KEY")?;
/// // The distinct id sent for a subject: the key id, then the HMAC of the raw id.
/// let id = key.pseudonymize("user-42");
/// assert!(id.starts_with(&format!("{}:", key.id())));
/// assert!(!id.contains("user-42"));
/// // `Debug` shows the public fingerprint only.
/// assert_eq!(format!("{key:?}"), format!("Key {{ id: {:?}, .. }}", key.id()));
/// // Too short a key is refused with a message that holds no key material.
/// let short = Key::from_hex("00ff").unwrap_err();
/// assert!(short.to_string().contains("32"));
/// # Ok(()) }
/// ```
pub struct Key {
    mac: HmacSha256,
    id: String,
    /// The raw material, kept only to derive the encryption key (`crypt::SealKey::derive`).
    #[cfg(feature = "encryption")]
    material: Zeroizing<Vec<u8>>,
}

impl Key {
    /// A key from raw bytes (at least 32).
    pub fn from_bytes(bytes: impl AsRef<[u8]>) -> Result<Key, KeyError> {
        let bytes = bytes.as_ref();
        if bytes.len() < MIN_KEY_BYTES {
            return Err(KeyError::TooShort { len: bytes.len() });
        }
        // Any length is a valid HMAC key, so this cannot fail.
        let mac = HmacSha256::new_from_slice(bytes).map_err(|_| KeyError::TooShort { len: 0 })?;
        let fingerprint = Sha256::new()
            .chain_update(b"trackplan key id\0")
            .chain_update(bytes)
            .finalize();
        let mut id = String::with_capacity(8);
        push_hex(&mut id, &fingerprint[..4]);
        Ok(Key {
            mac,
            id,
            #[cfg(feature = "encryption")]
            material: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// The raw key material (for HKDF in `crypt::SealKey`; never leaves the crate).
    #[cfg(feature = "encryption")]
    pub(crate) fn material(&self) -> &[u8] {
        &self.material
    }

    /// A key from hex text (at least 64 digits; surrounding whitespace ignored).
    pub fn from_hex(hex: &str) -> Result<Key, KeyError> {
        let bytes = decode_hex(hex.trim()).ok_or(KeyError::InvalidHex)?;
        Key::from_bytes(&*bytes)
    }

    /// A key from an environment variable holding hex text (see [`Key::from_hex`]).
    pub fn from_env(var: &str) -> Result<Key, KeyError> {
        match std::env::var(var) {
            Ok(text) => Key::from_hex(&Zeroizing::new(text)),
            Err(std::env::VarError::NotPresent) => Err(KeyError::MissingEnv { var: var.into() }),
            Err(std::env::VarError::NotUnicode(_)) => Err(KeyError::NotUnicode { var: var.into() }),
        }
    }

    /// A short public fingerprint of the key (8 hex digits of a domain-separated SHA-256),
    /// safe to log and part of every distinct id, so a key rotation is visible downstream.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The distinct id of a subject: `"<key id>:<hex HMAC-SHA-256 of the id>"`.
    ///
    /// This is exactly what [`Tracker::subject`](crate::Tracker::subject) sends for plans with
    /// the `hmac` identity, so tools (`trackplan subject export|forget`) can find a subject's
    /// data downstream from the raw id and the key.
    pub fn pseudonymize(&self, subject_id: &str) -> String {
        let mut out = Vec::with_capacity(self.id.len() + 1 + 64);
        out.extend_from_slice(self.id.as_bytes());
        out.push(b':');
        self.write_hmac_hex(subject_id.as_bytes(), &mut out);
        // Only the ASCII key id, ':' and hex digits were written.
        String::from_utf8(out).unwrap_or_default()
    }

    /// Appends the hex HMAC-SHA-256 of `data` (64 digits).
    pub(crate) fn write_hmac_hex(&self, data: &[u8], out: &mut Vec<u8>) {
        // Cloning the keyed state skips re-hashing the key for every value.
        let tag = self.mac.clone().chain_update(data).finalize().into_bytes();
        for b in tag {
            out.push(HEX_DIGITS[usize::from(b >> 4)]);
            out.push(HEX_DIGITS[usize::from(b & 0xf)]);
        }
    }

    /// The raw HMAC-SHA-256 of `data`.
    #[cfg(test)]
    pub(crate) fn hmac(&self, data: &[u8]) -> [u8; 32] {
        self.mac
            .clone()
            .chain_update(data)
            .finalize()
            .into_bytes()
            .into()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// HMAC-SHA-256 with a key of any length; only for checking the construction against test
/// vectors whose keys are shorter than [`Key`] accepts.
#[cfg(test)]
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mac = HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("any key length"));
    mac.chain_update(data).finalize().into_bytes().into()
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        out.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(b & 0xf)]));
    }
}

fn decode_hex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let text = text.as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() / 2));
    for pair in text.chunks_exact(2) {
        out.push(nibble(pair[0])? << 4 | nibble(pair[1])?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        decode_hex(s).map(|z| z.to_vec()).unwrap_or_default()
    }

    fn hex(bytes: &[u8]) -> String {
        let mut s = String::new();
        push_hex(&mut s, bytes);
        s
    }

    // RFC 4231 §4, HMAC-SHA-256 outputs. Cases 1–4 and 6–7; case 5 tests truncated output,
    // which trackplan never uses.
    const CASE_1: (&str, &str, &str) = (
        "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
        "4869205468657265",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    );
    const CASE_2: (&str, &str, &str) = (
        "4a656665",
        "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );

    #[test]
    fn rfc4231_vectors_with_short_keys() {
        for (key, data, want) in [CASE_1, CASE_2] {
            assert_eq!(hex(&hmac_sha256(&unhex(key), &unhex(data))), want);
        }
        // Case 3: 20 bytes of 0xaa, 50 bytes of 0xdd.
        let got = hmac_sha256(&[0xaa; 20], &[0xdd; 50]);
        assert_eq!(
            hex(&got),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"
        );
        // Case 4: key 0x01..=0x19, 50 bytes of 0xcd.
        let key: Vec<u8> = (1..=0x19).collect();
        let got = hmac_sha256(&key, &[0xcd; 50]);
        assert_eq!(
            hex(&got),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"
        );
    }

    #[test]
    fn rfc4231_vectors_with_long_keys_through_key() {
        // Cases 6 and 7: a 131-byte key of 0xaa, longer than the SHA-256 block.
        let key = Key::from_bytes([0xaa; 131]).unwrap_or_else(|e| panic!("{e}"));
        let case6 = b"Test Using Larger Than Block-Size Key - Hash Key First";
        assert_eq!(
            hex(&key.hmac(case6)),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        let case7 = b"This is a test using a larger than block-size key and a larger than \
block-size data. The key needs to be hashed before being used by the HMAC algorithm.";
        assert_eq!(
            hex(&key.hmac(case7)),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"
        );
    }

    #[test]
    fn short_and_malformed_keys_are_rejected_without_echoing_them() {
        assert!(matches!(
            Key::from_bytes([7u8; 31]),
            Err(KeyError::TooShort { len: 31 })
        ));
        let short_hex = "ab".repeat(31);
        let err = Key::from_hex(&short_hex)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("31 bytes") && !err.contains(&short_hex),
            "{err}"
        );
        let bad = "zz".repeat(40);
        let err = Key::from_hex(&bad)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("not hexadecimal") && !err.contains(&bad),
            "{err}"
        );
        assert!(Key::from_hex("abc").is_err());
        let err = Key::from_env("TRACKPLAN_TEST_SURELY_UNSET_VARIABLE").err();
        assert!(matches!(err, Some(KeyError::MissingEnv { .. })));
    }

    #[test]
    fn debug_shows_only_the_id_and_ids_differ_between_keys() {
        let hex_key = "00112233445566778899aabbccddeeff".repeat(2);
        let key = Key::from_hex(&hex_key).unwrap_or_else(|e| panic!("{e}"));
        let debug = format!("{key:?}");
        assert!(
            debug.contains(key.id()) && !debug.contains(&hex_key[..16]),
            "{debug}"
        );
        assert_eq!(key.id().len(), 8);
        let other = Key::from_bytes([1u8; 32]).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(key.id(), other.id());
        // The same key from bytes and from hex is the same key.
        let same = Key::from_bytes(unhex(&hex_key)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.id(), same.id());
        assert_eq!(key.pseudonymize("user-42"), same.pseudonymize("user-42"));
    }

    #[test]
    fn pseudonymize_is_key_id_then_hmac_of_the_raw_id() {
        let key = Key::from_bytes([0x42; 32]).unwrap_or_else(|e| panic!("{e}"));
        let id = key.pseudonymize("user-42");
        let want = format!(
            "{}:{}",
            key.id(),
            hex(&hmac_sha256(&[0x42; 32], b"user-42"))
        );
        assert_eq!(id, want);
        assert!(!id.contains("user-42"));
        assert_eq!(id.len(), 8 + 1 + 64);
    }
}
